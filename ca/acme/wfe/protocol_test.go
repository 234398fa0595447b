package wfe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

// ecClient returns an x/crypto/acme client with a new ECDSA account, and a rawClient
// signing as the same account.
func ecClient(t *testing.T, ctx context.Context, ts *testServer) (*acme.Client, *rawClient) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &acme.Client{Key: key, DirectoryURL: ts.URL + pathDirectory, HTTPClient: ts.Client()}
	acct, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return c, &rawClient{t: t, ts: ts, key: key, kid: acct.URI}
}

// validate orders names and answers each pending authorization's challenge of type typ;
// it returns the order once ready.
func validate(t *testing.T, ctx context.Context, c *acme.Client, typ string, names ...string) *acme.Order {
	t.Helper()
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		t.Fatalf("AuthorizeOrder: %v", err)
	}
	for _, u := range o.AuthzURLs {
		z, err := c.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if z.Status == acme.StatusPending {
			accept(t, ctx, c, z, typ)
			if _, err := c.WaitAuthorization(ctx, u); err != nil {
				t.Fatalf("WaitAuthorization: %v", err)
			}
		}
	}
	if o, err = c.WaitOrder(ctx, o.URI); err != nil {
		t.Fatalf("WaitOrder: %v", err)
	}
	return o
}

func problemType(err error) string {
	if ae, ok := errors.AsType[*acme.Error](err); ok {
		return strings.TrimPrefix(ae.ProblemType, wire.ErrorNS)
	}
	return fmt.Sprint(err)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestAuthorizationReuse checks that a new order for identifiers the account validated
// reuses those authorizations (RFC 8555 §7.1.4), as clients expect when they renew: the
// order is ready at once and nothing is validated again. A wildcard is not covered by
// the name's authorization, and a deactivated authorization is not reused.
func TestAuthorizationReuse(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	c, _ := ecClient(t, ctx, ts)
	first := validate(t, ctx, c, "http-01", "r.test")
	calls := len(ts.validator.callList())

	again, err := c.AuthorizeOrder(ctx, acme.DomainIDs("r.test"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != acme.StatusReady || !slices.Equal(again.AuthzURLs, first.AuthzURLs) {
		t.Fatalf("second order for r.test: %s with %v, want ready with the first order's %v", again.Status, again.AuthzURLs, first.AuthzURLs)
	}
	z, err := c.GetAuthorization(ctx, first.AuthzURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !again.Expires.After(time.Now()) || again.Expires.After(z.Expires) {
		t.Errorf("the order expires %s, after its authorization (%s)", again.Expires, z.Expires)
	}
	csr, _ := newCSR(t, "r.test")
	if _, _, err := c.CreateOrderCert(ctx, again.FinalizeURL, csr, false); err != nil {
		t.Fatalf("finalizing the order with the reused authorization: %v", err)
	}

	mixed, err := c.AuthorizeOrder(ctx, acme.DomainIDs("r.test", "s.test"))
	if err != nil {
		t.Fatal(err)
	}
	if mixed.Status != acme.StatusPending || mixed.AuthzURLs[0] != first.AuthzURLs[0] || mixed.AuthzURLs[1] == first.AuthzURLs[0] {
		t.Fatalf("order for r.test and s.test: %s with %v", mixed.Status, mixed.AuthzURLs)
	}
	wild, err := c.AuthorizeOrder(ctx, acme.DomainIDs("*.r.test"))
	if err != nil {
		t.Fatal(err)
	}
	if wild.Status != acme.StatusPending || wild.AuthzURLs[0] == first.AuthzURLs[0] {
		t.Fatalf("the wildcard order reuses r.test's authorization: %s %v", wild.Status, wild.AuthzURLs)
	}
	if got := len(ts.validator.callList()); got != calls {
		t.Errorf("%d validations after the first order, want none", got-calls)
	}

	// Another account gets its own authorization.
	other, _ := ecClient(t, ctx, ts)
	if o, err := other.AuthorizeOrder(ctx, acme.DomainIDs("r.test")); err != nil || o.Status != acme.StatusPending || o.AuthzURLs[0] == first.AuthzURLs[0] {
		t.Fatalf("another account's order: %+v, %v", o, err)
	}

	if err := c.RevokeAuthorization(ctx, first.AuthzURLs[0]); err != nil {
		t.Fatal(err)
	}
	after, err := c.AuthorizeOrder(ctx, acme.DomainIDs("r.test"))
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != acme.StatusPending || after.AuthzURLs[0] == first.AuthzURLs[0] {
		t.Fatalf("a deactivated authorization was reused: %s %v", after.Status, after.AuthzURLs)
	}
}

// TestAuthorizationReuseNeedsTimeLeft checks that an authorization with less than half an
// order's lifetime left is not reused.
func TestAuthorizationReuseNeedsTimeLeft(t *testing.T) {
	now := time.Now()
	ts := newTestServerWith(t, func(c *Config) { c.Now = func() time.Time { return now } })
	ctx := testContext(t)
	c, _ := ecClient(t, ctx, ts)
	first := validate(t, ctx, c, "http-01", "r.test")
	now = now.Add(defaultOrderLifetime/2 + time.Minute)
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs("r.test"))
	if err != nil {
		t.Fatal(err)
	}
	if o.AuthzURLs[0] == first.AuthzURLs[0] {
		t.Fatal("an authorization with less than half an order's lifetime left was reused")
	}
}

// TestRevokeWithAuthorizations checks RFC 8555 §7.6: an account other than the one that
// ordered a certificate may revoke it once it holds valid authorizations for all its
// names, and not before.
func TestRevokeWithAuthorizations(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	alice, _ := ecClient(t, ctx, ts)
	o := validate(t, ctx, alice, "dns-01", "shared.test", "*.wild.test")
	csr, _ := newCSR(t, "shared.test", "*.wild.test")
	der, _, err := alice.CreateOrderCert(ctx, o.FinalizeURL, csr, false)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := ecClient(t, ctx, ts)

	revoke := func() error { return bob.RevokeCert(ctx, nil, der[0], acme.CRLReasonCessationOfOperation) }
	if err := revoke(); problemType(err) != "unauthorized" {
		t.Fatalf("revocation by an account without authorizations = %v, want unauthorized", err)
	}
	validate(t, ctx, bob, "http-01", "shared.test")
	err = revoke()
	if problemType(err) != "unauthorized" || !strings.Contains(err.Error(), "*.wild.test") {
		t.Fatalf("revocation with one name of two = %v, want unauthorized naming *.wild.test", err)
	}
	// wild.test's own authorization does not cover the wildcard.
	validate(t, ctx, bob, "http-01", "wild.test")
	if err := revoke(); problemType(err) != "unauthorized" {
		t.Fatalf("revocation with wild.test for *.wild.test = %v, want unauthorized", err)
	}
	validate(t, ctx, bob, "dns-01", "*.wild.test")
	if err := revoke(); err != nil {
		t.Fatalf("revocation with authorizations for every name: %v", err)
	}
	crl := fetchCRL(t, ts)
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].ReasonCode != int(acme.CRLReasonCessationOfOperation) {
		t.Fatalf("CRL entries %+v", crl.RevokedCertificateEntries)
	}
}

// TestOrdersListPages checks that the account's orders list comes in pages of bounded
// size linked with rel="next", oldest first, and refuses another account and a bad
// cursor.
func TestOrdersListPages(t *testing.T) {
	ts := newTestServer(t)
	ts.wfe.ordersPerPage = 2
	ctx := testContext(t)
	c, rc := ecClient(t, ctx, ts)
	var want []string
	for i := range 5 {
		o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(fmt.Sprintf("p%d.test", i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, o.URI)
	}
	_, body := rc.post(rc.kid, "", http.StatusOK)
	var acct wire.Account
	if err := json.Unmarshal(body, &acct); err != nil {
		t.Fatal(err)
	}
	var got []string
	pages := 0
	for next := acct.Orders; next != ""; pages++ {
		resp, body := rc.post(next, "", http.StatusOK)
		var list wire.OrdersList
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Orders) > 2 {
			t.Fatalf("page of %d orders, want at most 2", len(list.Orders))
		}
		got = append(got, list.Orders...)
		next = ""
		for _, l := range resp.Header.Values("Link") {
			if u, ok := strings.CutSuffix(l, `>;rel="next"`); ok {
				next = strings.TrimPrefix(u, "<")
			}
		}
		if pages > 5 {
			t.Fatal("the next links do not end")
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages listing %v, want 3 pages listing %v", pages, got, want)
	}
	rc.post(acct.Orders+"?cursor=x", "", http.StatusBadRequest)
	_, other := ecClient(t, ctx, ts)
	other.post(acct.Orders, "", http.StatusForbidden)
}

// TestExternalAccountBinding checks newAccount when the server requires external account
// binding (RFC 8555 §7.3.4) with keys kept in the store: the directory says so, a missing,
// unknown or wrongly signed binding is refused and creates nothing, a key binds one
// account (also after a restart), and a revoked key binds none.
func TestExternalAccountBinding(t *testing.T) {
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	ts := newTestServerWith(t, func(c *Config) { c.RequireExternalAccountBinding = true })
	ctx := testContext(t)
	st := func() store.Store { return ts.wfe.cfg.Store }
	for _, kid := range []string{"kid-1", "kid-2", "kid-3"} {
		if err := st().CreateEABKey(ctx, &store.EABKey{KID: kid, Key: hmacKey, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := (&acme.Client{DirectoryURL: ts.URL + pathDirectory, HTTPClient: ts.Client()}).Discover(ctx)
	if err != nil || !dir.ExternalAccountRequired {
		t.Fatalf("directory meta externalAccountRequired = %v (%v), want true", dir.ExternalAccountRequired, err)
	}
	register := func(eab *acme.ExternalAccountBinding) (*acme.Client, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		c := &acme.Client{Key: key, DirectoryURL: ts.URL + pathDirectory, HTTPClient: ts.Client()}
		_, err = c.Register(ctx, &acme.Account{ExternalAccountBinding: eab}, acme.AcceptTOS)
		return c, err
	}
	refused := func(name string, eab *acme.ExternalAccountBinding, want string) {
		t.Helper()
		c, err := register(eab)
		if got := problemType(err); got != want {
			t.Errorf("%s: Register = %v, want %s", name, err, want)
		}
		if _, err := c.GetReg(ctx, ""); !errors.Is(err, acme.ErrNoAccount) {
			t.Errorf("%s: an account exists after the refusal (%v)", name, err)
		}
	}
	refused("missing", nil, "externalAccountRequired")
	refused("unknown kid", &acme.ExternalAccountBinding{KID: "kid-9", Key: hmacKey}, "unauthorized")
	refused("wrong MAC", &acme.ExternalAccountBinding{KID: "kid-1", Key: []byte("another key, of the same length.")}, "unauthorized")

	c, err := register(&acme.ExternalAccountBinding{KID: "kid-1", Key: hmacKey})
	if err != nil {
		t.Fatalf("Register with the right binding: %v", err)
	}
	if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs("eab.test")); err != nil {
		t.Fatalf("the bound account cannot order: %v", err)
	}
	if k, err := st().EABKey(ctx, "kid-1"); err != nil || k.AccountID == "" {
		t.Fatalf("kid-1 after binding: %+v, %v; want it bound", k, err)
	}
	// The same account key again gets its account back, binding or not.
	if _, err := c.Register(ctx, &acme.Account{ExternalAccountBinding: &acme.ExternalAccountBinding{KID: "kid-1", Key: hmacKey}}, acme.AcceptTOS); !errors.Is(err, acme.ErrAccountAlreadyExists) {
		t.Errorf("registering the bound account's key again: %v, want its account", err)
	}
	refused("second account on kid-1", &acme.ExternalAccountBinding{KID: "kid-1", Key: hmacKey}, "unauthorized")
	ts.stop(t)
	ts.start(t)
	refused("second account on kid-1 after a restart", &acme.ExternalAccountBinding{KID: "kid-1", Key: hmacKey}, "unauthorized")

	if err := st().RevokeEABKey(ctx, "kid-2", time.Now()); err != nil {
		t.Fatal(err)
	}
	refused("revoked kid-2", &acme.ExternalAccountBinding{KID: "kid-2", Key: hmacKey}, "unauthorized")
	if _, err := register(&acme.ExternalAccountBinding{KID: "kid-3", Key: hmacKey}); err != nil {
		t.Fatalf("an unused key after a restart: %v", err)
	}
}

// TestExternalAccountBindingRace sends newAccount for one key from many account keys at
// once: exactly one account is created.
func TestExternalAccountBindingRace(t *testing.T) {
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	ts := newTestServerWith(t, func(c *Config) { c.RequireExternalAccountBinding = true })
	ctx := testContext(t)
	if err := ts.wfe.cfg.Store.CreateEABKey(ctx, &store.EABKey{KID: "kid", Key: hmacKey, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				errs[i] = err
				return
			}
			c := &acme.Client{Key: key, DirectoryURL: ts.URL + pathDirectory, HTTPClient: ts.Client()}
			_, errs[i] = c.Register(ctx, &acme.Account{ExternalAccountBinding: &acme.ExternalAccountBinding{KID: "kid", Key: hmacKey}}, acme.AcceptTOS)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case problemType(err) != "unauthorized":
			t.Errorf("Register: %v, want success or unauthorized", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d accounts bound one key, want 1", ok)
	}
}

// TestExternalAccountBindingNotRequired checks that a server without the requirement says
// so in its directory and ignores a binding it is sent (RFC 8555 §7.3.4).
func TestExternalAccountBindingNotRequired(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	dir, err := (&acme.Client{DirectoryURL: ts.URL + pathDirectory, HTTPClient: ts.Client()}).Discover(ctx)
	if err != nil || dir.ExternalAccountRequired {
		t.Fatalf("directory meta externalAccountRequired = %v (%v), want false", dir.ExternalAccountRequired, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &acme.Client{Key: key, DirectoryURL: ts.URL + pathDirectory, HTTPClient: ts.Client()}
	if _, err := c.Register(ctx, &acme.Account{ExternalAccountBinding: &acme.ExternalAccountBinding{KID: "nobody", Key: []byte("k")}}, acme.AcceptTOS); err != nil {
		t.Fatalf("Register with an unneeded binding: %v", err)
	}
}

// TestKeyChangeToKeyInUse checks RFC 8555 §7.3.5: a roll-over to a key that another
// account has is refused with 409 and that account's URL in Location, and changes
// nothing.
func TestKeyChangeToKeyInUse(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	a, ra := ecClient(t, ctx, ts)
	b, rb := ecClient(t, ctx, ts)
	err := a.AccountKeyRollover(ctx, b.Key)
	ae, ok := errors.AsType[*acme.Error](err)
	if !ok || ae.StatusCode != http.StatusConflict || ae.Header.Get("Location") != rb.kid {
		t.Fatalf("AccountKeyRollover to another account's key = %v (Location %q), want 409 with Location %s", err, ae.Header.Get("Location"), rb.kid)
	}
	if got, err := a.GetReg(ctx, ""); err != nil || got.URI != ra.kid {
		t.Fatalf("the account by its own key: %+v, %v", got, err)
	}
	if got, err := b.GetReg(ctx, ""); err != nil || got.URI != rb.kid {
		t.Fatalf("the other account by its key: %+v, %v", got, err)
	}
}

// TestReplaces checks RFC 9773 §5 end to end: an order that replaces a certificate is
// issued and marks it replaced; another order replacing it is refused with
// alreadyReplaced.
func TestReplaces(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	c, rc := ecClient(t, ctx, ts)
	_, der, _, _ := obtain(t, ctx, c, "renew.test")
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil {
		t.Fatal(err)
	}
	payload := fmt.Sprintf(`{"identifiers":[{"type":"dns","value":"renew.test"}],"replaces":%q}`, certID(leaf))
	resp, body := rc.post(ts.URL+pathNewOrder, payload, http.StatusCreated)
	var o wire.Order
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	if o.Replaces != certID(leaf) || o.Status != wire.StatusReady {
		t.Fatalf("replacing order %s", body)
	}
	csr, _ := newCSR(t, "renew.test")
	renewed, _, err := c.CreateOrderCert(ctx, o.Finalize, csr, false)
	if err != nil {
		t.Fatalf("finalizing the replacing order: %v", err)
	}
	if string(renewed[0]) == string(der[0]) {
		t.Fatal("the replacing order returned the old certificate")
	}
	_, body = rc.post(ts.URL+pathNewOrder, payload, http.StatusConflict)
	if p := decodeProblem(t, body); p.Type != wire.ErrorNS+"alreadyReplaced" || !strings.Contains(p.Detail, resp.Header.Get("Location")) {
		t.Fatalf("second replacing order: %s, want alreadyReplaced naming %s", body, resp.Header.Get("Location"))
	}
}

func decodeProblem(t *testing.T, body []byte) *wire.Problem {
	t.Helper()
	var p wire.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem document: %s", body)
	}
	return &p
}

// TestWildcardDNS01Only checks a wildcard order end to end: its authorization is for the
// base name, marked wildcard, offers dns-01 alone, and the certificate names the
// wildcard.
func TestWildcardDNS01Only(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	c, _ := ecClient(t, ctx, ts)
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs("*.w.test"))
	if err != nil {
		t.Fatal(err)
	}
	z, err := c.GetAuthorization(ctx, o.AuthzURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	if z.Identifier.Value != "w.test" || !z.Wildcard || len(z.Challenges) != 1 || z.Challenges[0].Type != "dns-01" {
		t.Fatalf("wildcard authorization %+v with challenges %+v, want w.test, wildcard, dns-01 only", z, z.Challenges[0])
	}
	accept(t, ctx, c, z, "dns-01")
	if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ts.validator.callList(), "dns-01 w.test") {
		t.Errorf("validations %v, want dns-01 of w.test", ts.validator.callList())
	}
	csr, _ := newCSR(t, "*.w.test")
	der, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csr, false)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil || !slices.Equal(leaf.DNSNames, []string{"*.w.test"}) {
		t.Fatalf("certificate names %v, %v", leaf.DNSNames, err)
	}
}

// TestCertificateHasOneChain checks what the package documents: the certificate comes
// as one chain, leaf then root, with no rel="alternate" link.
func TestCertificateHasOneChain(t *testing.T) {
	ts := newTestServer(t)
	ctx := testContext(t)
	c, rc := ecClient(t, ctx, ts)
	_, _, certURL, _ := obtain(t, ctx, c, "chain.test")
	resp, body := rc.post(certURL, "", http.StatusOK)
	if n := strings.Count(string(body), "BEGIN CERTIFICATE"); n != 2 {
		t.Errorf("chain of %d certificates, want leaf and root", n)
	}
	for _, l := range resp.Header.Values("Link") {
		if strings.Contains(l, `rel="alternate"`) {
			t.Errorf("alternate chain offered: %s", l)
		}
	}
}
