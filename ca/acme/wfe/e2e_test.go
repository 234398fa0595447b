package wfe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca/acme/wire"
)

func newClient(t *testing.T, ts *testServer) *acme.Client {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &acme.Client{Key: key, DirectoryURL: ts.URL + pathDirectory, HTTPClient: ts.Client()}
}

func newCSR(t *testing.T, names ...string) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr, key
}

// obtain drives golang.org/x/crypto/acme's flow, as cert-manager does: order, accept one
// challenge per authorization, wait, finalize, and download.
func obtain(t *testing.T, ctx context.Context, c *acme.Client, names ...string) (*acme.Order, [][]byte, string, *ecdsa.PrivateKey) {
	t.Helper()
	o := validate(t, ctx, c, "http-01", names...)
	csr, key := newCSR(t, names...)
	der, certURL, err := c.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		t.Fatalf("CreateOrderCert: %v", err)
	}
	return o, der, certURL, key
}

func accept(t *testing.T, ctx context.Context, c *acme.Client, z *acme.Authorization, typ string) {
	t.Helper()
	for _, ch := range z.Challenges {
		if ch.Type == typ {
			if _, err := c.Accept(ctx, ch); err != nil {
				t.Fatalf("Accept: %v", err)
			}
			return
		}
	}
	t.Fatalf("no %s challenge in %+v", typ, z.Challenges)
}

func TestXCryptoACMEFlow(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newClient(t, ts)
	acct, err := c.Register(ctx, &acme.Account{Contact: []string{"mailto:dev@example.test"}}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if acct.Status != acme.StatusValid || acct.URI == "" {
		t.Fatalf("account %+v", acct)
	}

	o, der, certURL, certKey := obtain(t, ctx, c, "a.test", "b.test")
	if len(der) != 2 {
		t.Fatalf("chain of %d certificates, want leaf and root", len(der))
	}
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ts.issuer.root)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "b.test"}); err != nil {
		t.Fatalf("leaf does not verify: %v", err)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life != 7*24*time.Hour {
		t.Errorf("lifetime %s, want the default profile's 7 days", life)
	}
	// Polling the order URL from Location shows it valid with the certificate.
	if got, err := c.GetOrder(ctx, o.URI); err != nil || got.Status != acme.StatusValid || got.CertURL != certURL {
		t.Fatalf("GetOrder = %+v, %v", got, err)
	}
	if again, err := c.FetchCert(ctx, certURL, true); err != nil || len(again) != 2 {
		t.Fatalf("FetchCert = %d certs, %v", len(again), err)
	}

	// Renewal information: a window two thirds into the lifetime.
	ri := getJSON[wire.RenewalInfo](t, ts, ts.URL+pathRenewalInfo+certID(leaf), http.StatusOK)
	if want := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) * 2 / 3); !ri.SuggestedWindow.Start.Equal(want) {
		t.Errorf("renewal window starts %s, want %s", ri.SuggestedWindow.Start, want)
	}

	// Revocation signed with the certificate's own key, not the account's.
	if err := c.RevokeCert(ctx, certKey, der[0], acme.CRLReasonSuperseded); err != nil {
		t.Fatalf("RevokeCert: %v", err)
	}
	crl := fetchCRL(t, ts)
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 ||
		crl.RevokedCertificateEntries[0].ReasonCode != int(acme.CRLReasonSuperseded) {
		t.Fatalf("CRL entries %+v", crl.RevokedCertificateEntries)
	}
	if ri := getJSON[wire.RenewalInfo](t, ts, ts.URL+pathRenewalInfo+certID(leaf), http.StatusOK); ri.SuggestedWindow.End.After(time.Now()) {
		t.Errorf("a revoked certificate's window ends in the future: %+v", ri.SuggestedWindow)
	}
}

func fetchCRL(t *testing.T, ts *testServer) *x509.RevocationList {
	t.Helper()
	resp, err := ts.Client().Get(ts.URL + pathCRL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/pkix-crl" {
		t.Fatalf("CRL content type %q", ct)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ts.issuer.root); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	return crl
}

func getJSON[T any](t *testing.T, ts *testServer, url string, status int) T {
	t.Helper()
	var v T
	resp, err := ts.Client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, b, status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFailedValidationTurnsInvalidAtOnce(t *testing.T) {
	ts := newTestServer(t)
	ts.validator.fail["bad.test"] = wire.ConnectionProblem("connecting to bad.test:80: connection refused")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := newClient(t, ts)
	if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatal(err)
	}
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs("bad.test"))
	if err != nil {
		t.Fatal(err)
	}
	z, err := c.GetAuthorization(ctx, o.AuthzURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	accept(t, ctx, c, z, "http-01")
	for {
		z, err = c.GetAuthorization(ctx, z.URI)
		if err != nil {
			t.Fatal(err)
		}
		if z.Status != acme.StatusPending || time.Since(start) > time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if z.Status != acme.StatusInvalid {
		t.Fatalf("authorization is %s a second after a failed validation, want invalid", z.Status)
	}
	i := slices.IndexFunc(z.Challenges, func(ch *acme.Challenge) bool { return ch.Type == "http-01" })
	ch := z.Challenges[i]
	if ae, ok := errors.AsType[*acme.Error](ch.Error); ch.Status != acme.StatusInvalid || !ok || ae.ProblemType != wire.ErrorNS+"connection" {
		t.Fatalf("challenge %s with error %v, want invalid with a connection problem", ch.Status, ch.Error)
	}
	if _, err := c.WaitOrder(ctx, o.URI); err == nil {
		t.Fatal("WaitOrder succeeded for an order with an invalid authorization")
	}
	if got, _ := c.GetOrder(ctx, o.URI); got.Status != acme.StatusInvalid {
		t.Fatalf("order is %s, want invalid", got.Status)
	}
}

func TestRestartKeepsState(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newClient(t, ts)
	acct, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatal(err)
	}
	o, der, certURL, _ := obtain(t, ctx, c, "keep.test")
	pending, err := c.AuthorizeOrder(ctx, acme.DomainIDs("later.test"))
	if err != nil {
		t.Fatal(err)
	}

	ts.stop(t)
	ts.start(t)
	// The client's nonces died with the server; x/crypto/acme retries badNonce by itself.
	if got, err := c.GetReg(ctx, ""); err != nil || got.URI != acct.URI {
		t.Fatalf("account after restart: %+v, %v", got, err)
	}
	if got, err := c.GetOrder(ctx, o.URI); err != nil || got.Status != acme.StatusValid || got.CertURL != certURL {
		t.Fatalf("order after restart: %+v, %v", got, err)
	}
	if got, err := c.FetchCert(ctx, certURL, false); err != nil || string(got[0]) != string(der[0]) {
		t.Fatalf("certificate after restart: %v", err)
	}
	if got, err := c.GetOrder(ctx, pending.URI); err != nil || got.Status != acme.StatusPending {
		t.Fatalf("pending order after restart: %+v, %v", got, err)
	}
	if err := c.RevokeCert(ctx, nil, der[0], acme.CRLReasonUnspecified); err != nil {
		t.Fatal(err)
	}
	ts.stop(t)
	ts.start(t)
	if crl := fetchCRL(t, ts); len(crl.RevokedCertificateEntries) != 1 {
		t.Fatalf("revocation lost across restart: %+v", crl.RevokedCertificateEntries)
	}
}

// TestChallengeAnswersWithOutcome: a validation that finishes quickly is
// answered in the challenge's own response, valid or invalid, so a client
// need not sleep a Retry-After second before its first poll.
func TestChallengeAnswersWithOutcome(t *testing.T) {
	ts := newTestServer(t)
	ts.validator.mu.Lock()
	ts.validator.fail = map[string]error{"bad.test": errors.New("connection refused")}
	ts.validator.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newClient(t, ts)
	if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("Register: %v", err)
	}
	for _, tc := range []struct{ name, want string }{
		{"good.test", acme.StatusValid},
		{"bad.test", acme.StatusInvalid},
	} {
		o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(tc.name))
		if err != nil {
			t.Fatalf("AuthorizeOrder(%s): %v", tc.name, err)
		}
		z, err := c.GetAuthorization(ctx, o.AuthzURLs[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range z.Challenges {
			if ch.Type != "http-01" {
				continue
			}
			got, err := c.Accept(ctx, ch)
			if err != nil {
				t.Fatalf("Accept(%s): %v", tc.name, err)
			}
			if got.Status != tc.want {
				t.Errorf("%s: the challenge's response says %q, want %q at once", tc.name, got.Status, tc.want)
			}
		}
	}
}
