package wfe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devca/devca/ca/acme/store/boltstore"
)

// fakeIssuer is a throwaway in-memory CA made with crypto/x509. It refuses names under
// "forbidden.test", as name constraints would.
type fakeIssuer struct {
	root *x509.Certificate
	key  *ecdsa.PrivateKey
	fail bool // Issue fails
}

func newFakeIssuer(t testing.TB) *fakeIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake ACME test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeIssuer{root: root, key: key}
}

func (f *fakeIssuer) CheckNames(names []string) error {
	var errs []error
	for _, n := range names {
		if strings.HasSuffix(n, "forbidden.test") {
			errs = append(errs, &NameError{Name: n, Err: errors.New("outside the root's name constraints")})
		}
	}
	return errors.Join(errs...)
}

func (f *fakeIssuer) Issue(_ context.Context, req IssueRequest) ([][]byte, error) {
	if f.fail {
		return nil, errors.New("signer offline")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, DNSNames: req.DNSNames, IPAddresses: req.IPAddresses,
		NotBefore: req.NotBefore, NotAfter: req.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, CRLDistributionPoints: []string{req.CRLURL}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.root, req.CSR.PublicKey, f.key)
	if err != nil {
		return nil, err
	}
	return [][]byte{der, f.root.Raw}, nil
}

func (f *fakeIssuer) SignCRL(_ context.Context, req CRLRequest) ([]byte, error) {
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: req.Number, ThisUpdate: req.ThisUpdate,
		NextUpdate: req.NextUpdate, RevokedCertificateEntries: req.Entries}, f.root, f.key)
}

// fakeValidator succeeds unless the identifier has an error set; it records each call.
type fakeValidator struct {
	mu    sync.Mutex
	fail  map[string]error
	calls []string
}

func (v *fakeValidator) Validate(_ context.Context, kind, identifier, token, keyAuthorization string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls = append(v.calls, kind+" "+identifier)
	if !strings.HasPrefix(keyAuthorization, token+".") {
		return errors.New("key authorization does not start with the token")
	}
	return v.fail[identifier]
}

func (v *fakeValidator) callList() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.calls)
}

// testServer is a WFE over httptest TLS with a bbolt store in the test's directory.
type testServer struct {
	*httptest.Server
	wfe       *WFE
	issuer    *fakeIssuer
	validator *fakeValidator
	dbPath    string
	configure func(*Config) // adjusts the WFE's configuration; may be nil
	handler   http.Handler
	mu        sync.Mutex
}

func newTestServer(t *testing.T) *testServer { return newTestServerWith(t, nil) }

// newTestServerWith is newTestServer with configure applied to every WFE it starts.
func newTestServerWith(t *testing.T, configure func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{issuer: newFakeIssuer(t), validator: &fakeValidator{fail: map[string]error{}},
		dbPath: filepath.Join(t.TempDir(), "acme.db"), configure: configure}
	ts.Server = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		h := ts.handler
		ts.mu.Unlock()
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(ts.Close)
	ts.start(t)
	return ts
}

// start opens the store and a fresh WFE on it, as a restarted server would.
func (ts *testServer) start(t *testing.T) {
	t.Helper()
	st, err := boltstore.Open(ts.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{BaseURL: ts.URL, Store: st, Issuer: ts.issuer, Validator: ts.validator}
	if ts.configure != nil {
		ts.configure(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	ts.wfe, ts.handler = w, w
	ts.mu.Unlock()
	t.Cleanup(func() { ts.stop(t) })
}

// stop closes the WFE and its store; calling it twice is harmless.
func (ts *testServer) stop(t *testing.T) {
	ts.mu.Lock()
	w := ts.wfe
	ts.wfe = nil
	ts.mu.Unlock()
	if w == nil {
		return
	}
	w.Close()
	if err := w.cfg.Store.Close(); err != nil {
		t.Error(err)
	}
}
