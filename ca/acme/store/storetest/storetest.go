// Package storetest holds the behaviour every [store.Store] implementation must show, as
// one test suite: the bbolt store runs it, and a PostgreSQL store (issue 11) runs the same.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

// Run runs the suite; newStore returns an empty store that the test may close.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"accounts", testAccounts},
		{"orders", testOrders},
		{"authorizations", testAuthorizations},
		{"valid authorizations", testValidAuthorizations},
		{"order finalization", testOrderFinalization},
		{"certificates", testCertificates},
		{"external account keys", testEABKeys},
		{"external account binding is exclusive", testEABBindOnce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := &store.Account{ID: "a1", Status: wire.StatusValid, Key: []byte(`{"kty":"x"}`), KeyThumbprint: "tp1", Contact: []string{"mailto:a@example.test"}, CreatedAt: now}
	must(t, s.CreateAccount(ctx, a))
	wantErr(t, s.CreateAccount(ctx, &store.Account{ID: "a2", KeyThumbprint: "tp1"}), store.ErrKeyInUse)
	must(t, s.CreateAccount(ctx, &store.Account{ID: "a3", KeyThumbprint: "tp3"}))

	got, err := s.AccountByKey(ctx, "tp1")
	must(t, err)
	if got.ID != "a1" || !slices.Equal(got.Contact, a.Contact) || !got.CreatedAt.Equal(now) {
		t.Fatalf("AccountByKey = %+v", got)
	}
	_, err = s.Account(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.AccountByKey(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	// Key rollover moves the index; a key of another account is refused.
	got.KeyThumbprint = "tp3"
	wantErr(t, s.UpdateAccount(ctx, got), store.ErrKeyInUse)
	got, _ = s.Account(ctx, "a1")
	got.KeyThumbprint = "tp2"
	must(t, s.UpdateAccount(ctx, got))
	_, err = s.AccountByKey(ctx, "tp1")
	wantErr(t, err, store.ErrNotFound)
	byNew, err := s.AccountByKey(ctx, "tp2")
	must(t, err)
	if byNew.ID != "a1" || byNew.Version != got.Version {
		t.Fatalf("after rollover: %+v, version %d", byNew, got.Version)
	}

	// A stale copy cannot overwrite a newer one.
	stale := *byNew
	byNew.Status = wire.StatusDeactivated
	must(t, s.UpdateAccount(ctx, byNew))
	stale.Contact = nil
	wantErr(t, s.UpdateAccount(ctx, &stale), store.ErrConflict)
	final, _ := s.Account(ctx, "a1")
	if final.Status != wire.StatusDeactivated || len(final.Contact) != 1 {
		t.Fatalf("final account %+v", final)
	}
	wantErr(t, s.UpdateAccount(ctx, &store.Account{ID: "nope"}), store.ErrNotFound)
}

func newOrder(id, account string, authzIDs ...string) (*store.Order, []*store.Authorization) {
	o := &store.Order{ID: id, AccountID: account, Status: wire.StatusPending, Expires: now.Add(time.Hour), AuthorizationIDs: authzIDs, CreatedAt: now}
	var azs []*store.Authorization
	for _, az := range authzIDs {
		o.Identifiers = append(o.Identifiers, wire.Identifier{Type: wire.IdentifierDNS, Value: az + ".test"})
		azs = append(azs, &store.Authorization{ID: az, AccountID: account, Status: wire.StatusPending,
			Identifier: wire.Identifier{Type: wire.IdentifierDNS, Value: az + ".test"}, Expires: now.Add(time.Hour),
			Challenges: []store.Challenge{{ID: "c1", Type: wire.ChallengeHTTP01, Token: "tok", Status: wire.StatusPending}}})
	}
	return o, azs
}

func testOrders(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, id := range []string{"o3", "o1", "o2"} {
		o, azs := newOrder(id, "acct", id+"-z1", id+"-z2")
		if i == 1 {
			o.AccountID = "other"
		}
		must(t, s.CreateOrder(ctx, o, azs))
	}
	ids, err := s.OrderIDs(ctx, "acct")
	must(t, err)
	if !slices.Equal(ids, []string{"o3", "o2"}) {
		t.Fatalf("OrderIDs = %v, want creation order [o3 o2]", ids)
	}
	if ids, _ := s.OrderIDs(ctx, "acc"); len(ids) != 0 {
		t.Fatalf("a prefix of an account ID lists %v", ids)
	}
	o, err := s.Order(ctx, "o1")
	must(t, err)
	if o.AccountID != "other" || len(o.AuthorizationIDs) != 2 || o.Identifiers[0].Value != "o1-z1.test" {
		t.Fatalf("Order = %+v", o)
	}
	// Creating an order whose authorization ID exists changes nothing.
	dup, azs := newOrder("o4", "acct", "o1-z1")
	if err := s.CreateOrder(ctx, dup, azs); err == nil {
		t.Fatal("an existing authorization ID was accepted")
	}
	_, err = s.Order(ctx, "o4")
	wantErr(t, err, store.ErrNotFound)

	stale := *o
	o.Status = wire.StatusReady
	o.Error = wire.MalformedProblem("x")
	must(t, s.UpdateOrder(ctx, o))
	wantErr(t, s.UpdateOrder(ctx, &stale), store.ErrConflict)
	o, _ = s.Order(ctx, "o1")
	if o.Status != wire.StatusReady || o.Error == nil || o.Error.Detail != "x" {
		t.Fatalf("updated order %+v", o)
	}
}

func testAuthorizations(t *testing.T, s store.Store) {
	ctx := context.Background()
	o, azs := newOrder("o1", "acct", "z1")
	must(t, s.CreateOrder(ctx, o, azs))
	az, err := s.Authorization(ctx, "z1")
	must(t, err)
	az.Status = wire.StatusInvalid
	az.Challenges[0].Status = wire.StatusInvalid
	az.Challenges[0].Error = wire.ConnectionProblem("refused")
	must(t, s.UpdateAuthorization(ctx, az))
	got, err := s.Authorization(ctx, "z1")
	must(t, err)
	if got.Status != wire.StatusInvalid || got.Challenges[0].Status != wire.StatusInvalid || got.Challenges[0].Error.Detail != "refused" {
		t.Fatalf("authorization %+v", got)
	}
	_, err = s.Authorization(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
}

func testCertificates(t *testing.T, s store.Store) {
	ctx := context.Background()
	o1, azs := newOrder("o1", "acct", "z1")
	must(t, s.CreateOrder(ctx, o1, azs))
	o1.Status = wire.StatusValid
	o1.CertificateSerial = "0a"
	c1 := &store.Certificate{Serial: "0a", AccountID: "acct", OrderID: "o1", Chain: [][]byte{{1, 2}}, NotBefore: now, NotAfter: now.Add(time.Hour)}
	must(t, s.CreateCertificate(ctx, c1, o1))
	if o, _ := s.Order(ctx, "o1"); o.Status != wire.StatusValid || o.CertificateSerial != "0a" {
		t.Fatalf("order after issuance %+v", o)
	}

	// The replacing order marks the old certificate.
	o2, azs := newOrder("o2", "acct", "z2")
	o2.ReplacesSerial = "0a"
	must(t, s.CreateOrder(ctx, o2, azs))
	o2.Status = wire.StatusValid
	c2 := &store.Certificate{Serial: "0b", AccountID: "acct", OrderID: "o2"}
	must(t, s.CreateCertificate(ctx, c2, o2))
	old, err := s.Certificate(ctx, "0a")
	must(t, err)
	if old.ReplacedBy != "o2" {
		t.Fatalf("replaced certificate %+v", old)
	}

	// A stale order makes the whole issuance fail, certificate included.
	stale := *o1
	stale.Version--
	wantErr(t, s.CreateCertificate(ctx, &store.Certificate{Serial: "0c"}, &stale), store.ErrConflict)
	_, err = s.Certificate(ctx, "0c")
	wantErr(t, err, store.ErrNotFound)

	if revoked, _ := s.RevokedCertificates(ctx); len(revoked) != 0 {
		t.Fatalf("revoked before any revocation: %v", revoked)
	}
	old.Revoked, old.RevokedAt, old.Reason = true, now, 4
	must(t, s.UpdateCertificate(ctx, old))
	revoked, err := s.RevokedCertificates(ctx)
	must(t, err)
	if len(revoked) != 1 || revoked[0].Serial != "0a" || revoked[0].Reason != 4 || !revoked[0].RevokedAt.Equal(now) {
		t.Fatalf("RevokedCertificates = %+v", revoked)
	}
}

func testValidAuthorizations(t *testing.T, s store.Store) {
	ctx := context.Background()
	dns := func(v string) wire.Identifier { return wire.Identifier{Type: wire.IdentifierDNS, Value: v} }
	authz := func(id, account, value string, status string, wildcard bool, expires time.Time) *store.Authorization {
		return &store.Authorization{ID: id, AccountID: account, Status: status, Identifier: dns(value), Wildcard: wildcard,
			Expires: expires, Challenges: []store.Challenge{{ID: "c", Type: wire.ChallengeDNS01, Token: "t", Status: status}}}
	}
	later := now.Add(time.Hour)
	azs := []*store.Authorization{
		authz("valid", "acct", "a.test", wire.StatusValid, false, later),
		authz("wild", "acct", "a.test", wire.StatusValid, true, later),
		authz("pending", "acct", "a.test", wire.StatusPending, false, later),
		authz("expiring", "acct", "a.test", wire.StatusValid, false, now),
		authz("other-account", "acct2", "a.test", wire.StatusValid, false, later),
		authz("other-name", "acct", "b.a.test", wire.StatusValid, false, later),
		{ID: "ip", AccountID: "acct", Status: wire.StatusValid, Identifier: wire.Identifier{Type: wire.IdentifierIP, Value: "a.test"}, Expires: later},
	}
	o := &store.Order{ID: "o1", AccountID: "acct", Status: wire.StatusPending, Expires: later, CreatedAt: now}
	for _, az := range azs {
		o.AuthorizationIDs = append(o.AuthorizationIDs, az.ID)
	}
	must(t, s.CreateOrder(ctx, o, azs))
	ids := func(azs []*store.Authorization, err error) []string {
		t.Helper()
		must(t, err)
		var out []string
		for _, az := range azs {
			out = append(out, az.ID)
		}
		slices.Sort(out)
		return out
	}
	if got := ids(s.ValidAuthorizations(ctx, "acct", dns("a.test"), now)); !slices.Equal(got, []string{"valid", "wild"}) {
		t.Fatalf("ValidAuthorizations(acct, a.test) = %v, want [valid wild]", got)
	}
	if got := ids(s.ValidAuthorizations(ctx, "acct", dns("a.test"), later)); len(got) != 0 {
		t.Fatalf("authorizations expiring at the given time are returned: %v", got)
	}
	if got := ids(s.ValidAuthorizations(ctx, "acct", dns("test"), now)); len(got) != 0 {
		t.Fatalf("a suffix of the identifier matches: %v", got)
	}
	if got := ids(s.ValidAuthorizations(ctx, "acc", dns("a.test"), now)); len(got) != 0 {
		t.Fatalf("a prefix of the account ID matches: %v", got)
	}
	// The status that counts is the stored one, after updates.
	az, err := s.Authorization(ctx, "pending")
	must(t, err)
	az.Status = wire.StatusValid
	must(t, s.UpdateAuthorization(ctx, az))
	az, err = s.Authorization(ctx, "valid")
	must(t, err)
	az.Status = wire.StatusDeactivated
	must(t, s.UpdateAuthorization(ctx, az))
	if got := ids(s.ValidAuthorizations(ctx, "acct", dns("a.test"), now)); !slices.Equal(got, []string{"pending", "wild"}) {
		t.Fatalf("after updates: %v, want [pending wild]", got)
	}
}

// testOrderFinalization checks the fields finalize stores, and that a certificate and
// its order are written together or not at all.
func testOrderFinalization(t *testing.T, s store.Store) {
	ctx := context.Background()
	o, azs := newOrder("o1", "acct", "z1")
	must(t, s.CreateOrder(ctx, o, azs))
	o.Status, o.CSR, o.ProcessingSince = wire.StatusProcessing, []byte{0x30, 1, 2}, now
	must(t, s.UpdateOrder(ctx, o))
	got, err := s.Order(ctx, "o1")
	must(t, err)
	if got.Status != wire.StatusProcessing || string(got.CSR) != string(o.CSR) || !got.ProcessingSince.Equal(now) {
		t.Fatalf("order after finalize began: %+v", got)
	}
	// Two attempts that read the same version: the first to record wins, the second
	// records nothing.
	first, second := *got, *got
	first.Status, first.CertificateSerial = wire.StatusValid, "01"
	must(t, s.CreateCertificate(ctx, &store.Certificate{Serial: "01", AccountID: "acct", OrderID: "o1"}, &first))
	second.Status, second.CertificateSerial = wire.StatusValid, "02"
	wantErr(t, s.CreateCertificate(ctx, &store.Certificate{Serial: "02", AccountID: "acct", OrderID: "o1"}, &second), store.ErrConflict)
	_, err = s.Certificate(ctx, "02")
	wantErr(t, err, store.ErrNotFound)
	if got, _ := s.Order(ctx, "o1"); got.CertificateSerial != "01" {
		t.Fatalf("order records certificate %q, want 01", got.CertificateSerial)
	}
}

func testEABKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	ks, err := s.ListEABKeys(ctx)
	must(t, err)
	if len(ks) != 0 {
		t.Fatalf("ListEABKeys of an empty store = %v", ks)
	}
	k1 := &store.EABKey{KID: "kid-b", Key: []byte("0123456789abcdef0123456789abcdef"), Note: "ci runners", CreatedAt: now}
	must(t, s.CreateEABKey(ctx, k1))
	wantErr(t, s.CreateEABKey(ctx, &store.EABKey{KID: "kid-b", Key: []byte("x"), CreatedAt: now}), store.ErrConflict)
	must(t, s.CreateEABKey(ctx, &store.EABKey{KID: "kid-a", Key: []byte("k2"), CreatedAt: now.Add(time.Second)}))

	got, err := s.EABKey(ctx, "kid-b")
	must(t, err)
	if got.KID != "kid-b" || string(got.Key) != string(k1.Key) || got.Note != "ci runners" || !got.CreatedAt.Equal(now) ||
		got.AccountID != "" || !got.BoundAt.IsZero() || got.Revoked() {
		t.Fatalf("EABKey = %+v", got)
	}
	_, err = s.EABKey(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)

	// Oldest first, whatever the key IDs.
	ks, err = s.ListEABKeys(ctx)
	must(t, err)
	if len(ks) != 2 || ks[0].KID != "kid-b" || ks[1].KID != "kid-a" {
		t.Fatalf("ListEABKeys = %+v, want kid-b then kid-a", ks)
	}

	// Binding: an account created with the key takes it, and it shows who.
	must(t, s.CreateAccount(ctx, &store.Account{ID: "a1", KeyThumbprint: "tp1", EABKeyID: "kid-b", CreatedAt: now}))
	got, err = s.EABKey(ctx, "kid-b")
	must(t, err)
	if got.AccountID != "a1" || got.BoundAt.IsZero() {
		t.Fatalf("after binding, EABKey = %+v, want AccountID a1 and BoundAt set", got)
	}
	a, err := s.Account(ctx, "a1")
	must(t, err)
	if a.EABKeyID != "kid-b" {
		t.Fatalf("Account.EABKeyID = %q, want kid-b", a.EABKeyID)
	}
	// A bound key binds no second account, and the refusal adds nothing.
	wantErr(t, s.CreateAccount(ctx, &store.Account{ID: "a2", KeyThumbprint: "tp2", EABKeyID: "kid-b"}), store.ErrEABKeyUnusable)
	_, err = s.Account(ctx, "a2")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.AccountByKey(ctx, "tp2")
	wantErr(t, err, store.ErrNotFound)
	// Nor does an unknown key.
	wantErr(t, s.CreateAccount(ctx, &store.Account{ID: "a3", KeyThumbprint: "tp3", EABKeyID: "unknown"}), store.ErrEABKeyUnusable)
	_, err = s.AccountByKey(ctx, "tp3")
	wantErr(t, err, store.ErrNotFound)

	// A revoked key binds nothing; revoking again keeps the first time.
	must(t, s.RevokeEABKey(ctx, "kid-a", now.Add(time.Hour)))
	must(t, s.RevokeEABKey(ctx, "kid-a", now.Add(2*time.Hour)))
	wantErr(t, s.RevokeEABKey(ctx, "nope", now), store.ErrNotFound)
	got, err = s.EABKey(ctx, "kid-a")
	must(t, err)
	if !got.Revoked() || !got.RevokedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("after revocation, EABKey = %+v, want RevokedAt %s", got, now.Add(time.Hour))
	}
	wantErr(t, s.CreateAccount(ctx, &store.Account{ID: "a4", KeyThumbprint: "tp4", EABKeyID: "kid-a"}), store.ErrEABKeyUnusable)
	_, err = s.AccountByKey(ctx, "tp4")
	wantErr(t, err, store.ErrNotFound)

	// An account key in use is still ErrKeyInUse, and leaves the EAB key unbound.
	must(t, s.CreateEABKey(ctx, &store.EABKey{KID: "kid-c", Key: []byte("k3"), CreatedAt: now.Add(2 * time.Second)}))
	wantErr(t, s.CreateAccount(ctx, &store.Account{ID: "a5", KeyThumbprint: "tp1", EABKeyID: "kid-c"}), store.ErrKeyInUse)
	got, err = s.EABKey(ctx, "kid-c")
	must(t, err)
	if got.AccountID != "" {
		t.Fatalf("a refused account bound the key: %+v", got)
	}
}

// testEABBindOnce races accounts for one key: exactly one gets it.
func testEABBindOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	must(t, s.CreateEABKey(ctx, &store.EABKey{KID: "kid", Key: []byte("k"), CreatedAt: now}))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateAccount(ctx, &store.Account{ID: fmt.Sprintf("a%d", i), KeyThumbprint: fmt.Sprintf("tp%d", i), EABKeyID: "kid"})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("accounts a%d and a%d both bound the key", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, store.ErrEABKeyUnusable):
			t.Fatalf("a%d: %v, want ErrEABKeyUnusable", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no account bound the key")
	}
	k, err := s.EABKey(ctx, "kid")
	must(t, err)
	if k.AccountID != fmt.Sprintf("a%d", won) {
		t.Fatalf("the key names account %q, but a%d won", k.AccountID, won)
	}
}
