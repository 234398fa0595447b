package wfe

import (
	"context"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca/acme/wire"
)

// heldIssuer is a fakeIssuer whose Issue calls wait until released, as a CA that a crash
// interrupts in the middle of signing.
type heldIssuer struct {
	*fakeIssuer
	entered chan struct{}
	release chan struct{}
}

func (h *heldIssuer) Issue(ctx context.Context, req IssueRequest) ([][]byte, error) {
	h.entered <- struct{}{}
	<-h.release
	return h.fakeIssuer.Issue(ctx, req)
}

// TestInterruptedIssuanceResumes stands for a server killed while its Issuer signs: the
// order is stored processing and its server never comes back. Another front end on the
// same store (the restarted server) takes the order over once IssuanceTimeout has passed,
// and the client polling it gets a certificate. When the first attempt finishes after
// all, it records nothing: the order keeps one certificate.
func TestInterruptedIssuanceResumes(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := newClient(t, ts)
	if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatal(err)
	}
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs("crash.test"))
	if err != nil {
		t.Fatal(err)
	}
	z, err := c.GetAuthorization(ctx, o.AuthzURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	accept(t, ctx, c, z, "http-01")
	if o, err = c.WaitOrder(ctx, o.URI); err != nil {
		t.Fatal(err)
	}

	// The first server signs only when released.
	crashed := ts.wfe
	held := &heldIssuer{fakeIssuer: ts.issuer, entered: make(chan struct{}, 1), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(held.release) }) }
	t.Cleanup(release) // before the test server closes, which waits for the held request
	crashed.cfg.Issuer = held
	csr, _ := newCSR(t, "crash.test")
	type result struct {
		der [][]byte
		err error
	}
	first := make(chan result, 1)
	go func() {
		der, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csr, false)
		first <- result{der, err}
	}()
	<-held.entered

	// The restarted server: same store, a short issuance bound.
	restarted, err := New(Config{BaseURL: ts.URL, Store: crashed.cfg.Store, Issuer: ts.issuer, Validator: ts.validator,
		IssuanceTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.wfe, ts.handler = restarted, restarted
	ts.mu.Unlock()
	poller := &acme.Client{Key: c.Key, DirectoryURL: c.DirectoryURL, HTTPClient: ts.Client()}
	got, err := poller.WaitOrder(ctx, o.URI)
	if err != nil || got.Status != acme.StatusValid || got.CertURL == "" {
		t.Fatalf("the interrupted order: %+v, %v; want it valid with a certificate", got, err)
	}
	der, err := poller.FetchCert(ctx, got.CertURL, false)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil || leaf.DNSNames[0] != "crash.test" {
		t.Fatalf("certificate %v, %v", leaf, err)
	}

	// The first attempt signs after all: its certificate is not recorded, and its client
	// gets the order's one certificate.
	release()
	r := <-first
	crashed.Close()
	if r.err != nil {
		t.Fatalf("the first finalize: %v", r.err)
	}
	if string(r.der[0]) != string(der[0]) {
		t.Error("the first finalize returned another certificate than the order's")
	}
	stored, err := restarted.cfg.Store.Order(ctx, o.URI[len(ts.URL+pathOrder):])
	if err != nil || stored.Status != wire.StatusValid || stored.CertificateSerial != serialHex(leaf) {
		t.Fatalf("stored order %+v, %v; want valid with %s", stored, err, serialHex(leaf))
	}
}
