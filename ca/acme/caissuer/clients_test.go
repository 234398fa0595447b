package caissuer

// Two independent client libraries obtain certificates from the ACME front end wired to a
// real devca CA through this package: lego (github.com/go-acme/lego/v5, the library behind
// the lego command and Traefik) and acmez (github.com/mholt/acmez/v3, what Caddy uses),
// the latter with profiles, ARI and replaces. Each proves an IP identifier with http-01
// against a loopback responder, checked by the real validation authority (package va), so
// no name has to resolve.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"
	"github.com/mholt/acmez/v3"
	acmezacme "github.com/mholt/acmez/v3/acme"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/ca/acme/store/boltstore"
	"github.com/devca/devca/ca/acme/va"
	"github.com/devca/devca/ca/acme/wfe"
)

// challengeResponder serves http-01 key authorizations on a loopback port.
type challengeResponder struct {
	*httptest.Server
	mu   sync.Mutex
	keys map[string]string
}

func newChallengeResponder(t *testing.T) *challengeResponder {
	r := &challengeResponder{keys: map[string]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		ka, ok := r.keys[strings.TrimPrefix(req.URL.Path, "/.well-known/acme-challenge/")]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		io.WriteString(w, ka)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *challengeResponder) present(token, keyAuth string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[token] = keyAuth
}

func (r *challengeResponder) port() string {
	_, port, _ := net.SplitHostPort(r.Listener.Addr().String())
	return port
}

// acmeServer is the front end over TLS, with a devca CA in the test's folder behind it.
type acmeServer struct {
	*httptest.Server
	auth      *ca.Authority
	responder *challengeResponder
}

func newACMEServer(t *testing.T) *acmeServer {
	t.Helper()
	s := &acmeServer{auth: newTestCA(t), responder: newChallengeResponder(t)}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "acme.db"))
	if err != nil {
		t.Fatal(err)
	}
	var front *wfe.WFE
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { front.ServeHTTP(w, r) }))
	port, err := strconv.Atoi(s.responder.port())
	if err != nil {
		t.Fatal(err)
	}
	validator, err := va.New(va.Config{HTTPPort: port})
	if err != nil {
		t.Fatal(err)
	}
	front, err = wfe.New(wfe.Config{BaseURL: s.URL, Store: st, Issuer: New(s.auth), Validator: validator})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		front.Close()
		st.Close()
	})
	return s
}

// verifyLeaf checks that the first certificate of a PEM chain verifies against the CA's
// root for 127.0.0.1, and returns it.
func (s *acmeServer) verifyLeaf(t *testing.T, chainPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(chainPEM)
	if block == nil {
		t.Fatalf("no PEM certificate in %q", chainPEM)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(s.auth.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("the leaf does not verify against the devca root: %v", err)
	}
	if _, ok, err := s.auth.Lookup(leaf.SerialNumber.Text(16)); err != nil || !ok {
		t.Errorf("the leaf is not in the CA's record (%v)", err)
	}
	return leaf
}

// legoUser is lego's registration.User.
type legoUser struct {
	key crypto.Signer
	reg *legoacme.ExtendedAccount
}

func (u *legoUser) GetEmail() string                           { return "dev@app.test" }
func (u *legoUser) GetRegistration() *legoacme.ExtendedAccount { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.Signer               { return u.key }

// legoHTTP01 is a lego challenge provider that puts the key authorization on the responder.
type legoHTTP01 struct{ r *challengeResponder }

func (p legoHTTP01) Present(_ context.Context, _, token, keyAuth string) error {
	p.r.present(token, keyAuth)
	return nil
}
func (p legoHTTP01) CleanUp(context.Context, string, string, string) error { return nil }

func TestLego(t *testing.T) {
	s := newACMEServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	user := &legoUser{key: key}
	cfg := lego.NewConfig(user)
	cfg.CADirURL = s.URL + "/directory"
	cfg.HTTPClient = s.Client()
	client, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Challenge.SetHTTP01Provider(legoHTTP01{s.responder}); err != nil {
		t.Fatal(err)
	}
	if user.reg, err = client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	res, err := client.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{"127.0.0.1"}, Bundle: true, KeyType: certcrypto.EC256})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	leaf := s.verifyLeaf(t, res.Certificate)
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life != wfe.DefaultProfiles()[wfe.DefaultProfileName].Lifetime {
		t.Errorf("lifetime %s, want the default profile's", life)
	}

	ri, err := client.Certificate.GetRenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatalf("GetRenewalInfo: %v", err)
	}
	if w := ri.SuggestedWindow; !w.Start.After(leaf.NotBefore) || !w.End.Before(leaf.NotAfter) || !w.Start.Before(w.End) {
		t.Errorf("renewal window %v to %v is not inside the validity %v to %v", w.Start, w.End, leaf.NotBefore, leaf.NotAfter)
	}

	if err := client.Certificate.Revoke(ctx, res.Certificate); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	ri, err = client.Certificate.GetRenewalInfo(ctx, leaf)
	if err != nil || ri.SuggestedWindow.End.After(time.Now().Add(time.Minute)) {
		t.Errorf("after revocation the renewal window ends %v (%v), want now", ri, err)
	}
}

// acmezHTTP01 is an acmez solver that puts the key authorization on the responder.
type acmezHTTP01 struct{ r *challengeResponder }

func (p acmezHTTP01) Present(_ context.Context, ch acmezacme.Challenge) error {
	p.r.present(ch.Token, ch.KeyAuthorization)
	return nil
}
func (p acmezHTTP01) CleanUp(context.Context, acmezacme.Challenge) error { return nil }

func TestAcmez(t *testing.T) {
	s := newACMEServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := acmez.Client{
		Client:           &acmezacme.Client{Directory: s.URL + "/directory", HTTPClient: s.Client(), PollInterval: 100 * time.Millisecond},
		ChallengeSolvers: map[string]acmez.Solver{acmezacme.ChallengeTypeHTTP01: acmezHTTP01{s.responder}},
	}
	accountKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	account, err := client.NewAccount(ctx, acmezacme.Account{Contact: []string{"mailto:dev@app.test"}, TermsOfServiceAgreed: true, PrivateKey: accountKey})
	if err != nil {
		t.Fatalf("NewAccount: %v", err)
	}
	dir, err := client.GetDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dir.Meta.Profiles[wfe.ShortLivedProfileName]; !ok {
		t.Fatalf("the directory announces profiles %v, want %q among them", dir.Meta.Profiles, wfe.ShortLivedProfileName)
	}

	obtain := func(replaces *x509.Certificate) ([]acmezacme.Certificate, error) {
		certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := acmez.NewCSR(certKey, []string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		params, err := acmez.OrderParametersFromCSR(account, csr)
		if err != nil {
			t.Fatal(err)
		}
		params.Profile, params.Replaces = wfe.ShortLivedProfileName, replaces
		return client.ObtainCertificate(ctx, params)
	}
	certs, err := obtain(nil)
	if err != nil {
		t.Fatalf("ObtainCertificate: %v", err)
	}
	leaf := s.verifyLeaf(t, certs[0].ChainPEM)
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life != 24*time.Hour {
		t.Errorf("lifetime %s, want the shortlived profile's day", life)
	}

	ri, err := client.GetRenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatalf("GetRenewalInfo: %v", err)
	}
	// The window starts two thirds into the lifetime and lasts a sixth of it.
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if want := leaf.NotBefore.Add(life * 2 / 3); !ri.SuggestedWindow.Start.Equal(want) || !ri.SuggestedWindow.End.Equal(want.Add(life/6)) {
		t.Errorf("renewal window %v to %v, want %v for %v", ri.SuggestedWindow.Start, ri.SuggestedWindow.End, want, life/6)
	}

	// A renewal names the certificate it replaces; a second order replacing the
	// same certificate is refused (acmez then retries without replaces, so the
	// refusal is checked on a bare newOrder).
	renewed, err := obtain(leaf)
	if err != nil {
		t.Fatalf("ObtainCertificate replacing the first: %v", err)
	}
	s.verifyLeaf(t, renewed[0].ChainPEM)
	certID, err := acmezacme.ARIUniqueIdentifier(leaf)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.NewOrder(ctx, account, acmezacme.Order{Identifiers: []acmezacme.Identifier{{Type: "ip", Value: "127.0.0.1"}}, Replaces: certID})
	var p acmezacme.Problem
	if !errors.As(err, &p) || p.Type != acmezacme.ProblemTypeAlreadyReplaced {
		t.Errorf("replacing the same certificate twice = %v, want alreadyReplaced", err)
	}

	if err := client.RevokeCertificate(ctx, account, leaf, nil, 4); err != nil {
		t.Fatalf("RevokeCertificate: %v", err)
	}
}
