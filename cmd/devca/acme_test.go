package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca"
)

// http01Responder answers http-01 challenges on a loopback port the test
// passes to devca acme as --http-port.
type http01Responder struct {
	port  int
	mu    sync.Mutex
	token map[string]string
}

func startHTTP01Responder(t *testing.T) *http01Responder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &http01Responder{port: ln.Addr().(*net.TCPAddr).Port, token: map[string]string{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		body, ok := r.token[strings.TrimPrefix(req.URL.Path, "/.well-known/acme-challenge/")]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		io.WriteString(w, body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *http01Responder) set(token, keyAuth string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.token[token] = keyAuth
}

// startACME runs "devca acme --addr 127.0.0.1:0 args..." with home as the CA
// home and returns it with the directory URL it printed first.
func startACME(t *testing.T, home string, args ...string) *serveProcess {
	t.Helper()
	cmd := devcaCommand(t, home, home, append([]string{"acme", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(cmd.Env, "DEVCA_TEST_ACME_LOOPBACK=1")
	p := startServeCmd(t, cmd)
	if !strings.HasSuffix(p.url, "/directory") {
		t.Fatalf("devca acme printed %q first, want the directory URL", p.url)
	}
	return p
}

// rootClient is an HTTP client that trusts only the root in home.
func rootClient(t *testing.T, home string) (*http.Client, *x509.CertPool) {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(home, ca.RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in rootCA.pem")
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, pool
}

// TestACMEEndToEnd drives golang.org/x/crypto/acme, as cert-manager does,
// against the real command: account, order for app.test and 127.0.0.1, http-01,
// finalize, download, verify with Go and openssl, revoke, the CRL, and a
// restart that keeps the account and the certificate.
func TestACMEEndToEnd(t *testing.T) {
	t.Parallel()
	openssl := ""
	if p, err := exec.LookPath("openssl"); err == nil {
		openssl = p
	} else {
		requireTool(t, "openssl") // fails under CI, skips only the openssl checks otherwise
	}
	home := t.TempDir()
	resp := startHTTP01Responder(t)
	p := startACME(t, home, "--http-port", strconv.Itoa(resp.port), "--lifetime", "3d")
	httpClient, roots := rootClient(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	accountKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c := &acme.Client{Key: accountKey, DirectoryURL: p.url, HTTPClient: httpClient}
	acct, err := c.Register(ctx, &acme.Account{Contact: []string{"mailto:dev@app.test"}}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("Register: %v\nstderr:\n%s", err, p.stderr)
	}

	order, err := c.AuthorizeOrder(ctx, append(acme.DomainIDs("app.test"), acme.IPIDs("127.0.0.1")...))
	if err != nil {
		t.Fatalf("AuthorizeOrder: %v", err)
	}
	for _, u := range order.AuthzURLs {
		z, err := c.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var ch *acme.Challenge
		for _, x := range z.Challenges {
			if x.Type == "http-01" {
				ch = x
			}
		}
		if ch == nil {
			t.Fatalf("no http-01 challenge in %+v", z.Challenges)
		}
		keyAuth, err := c.HTTP01ChallengeResponse(ch.Token)
		if err != nil {
			t.Fatal(err)
		}
		resp.set(ch.Token, keyAuth)
		if _, err := c.Accept(ctx, ch); err != nil {
			t.Fatalf("Accept: %v", err)
		}
		if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
			t.Fatalf("WaitAuthorization: %v\nstderr:\n%s", err, p.stderr)
		}
	}
	if order, err = c.WaitOrder(ctx, order.URI); err != nil {
		t.Fatalf("WaitOrder: %v", err)
	}
	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"app.test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}, certKey)
	if err != nil {
		t.Fatal(err)
	}
	chain, certURL, err := c.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		t.Fatalf("CreateOrderCert: %v\nstderr:\n%s", err, p.stderr)
	}
	if len(chain) != 2 {
		t.Fatalf("chain of %d certificates, want the leaf and the root", len(chain))
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots}); err != nil {
		t.Fatalf("the leaf does not verify against rootCA.pem: %v", err)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life != 3*24*time.Hour {
		t.Errorf("lifetime %s, want --lifetime's 3 days", life)
	}
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "app.test" {
		t.Errorf("leaf names %v %v, want exactly app.test and 127.0.0.1", leaf.DNSNames, leaf.IPAddresses)
	}
	rootFile := filepath.Join(home, ca.RootCertFile)
	leafFile := filepath.Join(home, "leaf.pem")
	if err := os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(home, "crl.pem")
	fetchCRL := func() {
		t.Helper()
		r, err := httpClient.Get(strings.TrimSuffix(p.url, "/directory") + "/crl")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		der, err := io.ReadAll(r.Body)
		if err != nil || r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/pkix-crl" {
			t.Fatalf("GET /crl: %s %q, %v", r.Status, r.Header.Get("Content-Type"), err)
		}
		if err := os.WriteFile(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runOpenSSL := func(wantOK bool, want string, args ...string) {
		t.Helper()
		if openssl == "" {
			return
		}
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if (err == nil) != wantOK || !strings.Contains(string(out), want) {
			t.Errorf("openssl %s: %v, want success %v and %q in:\n%s", strings.Join(args, " "), err, wantOK, want, out)
		}
	}
	// curl --crlfile checks the served certificate against the CRL, as a
	// developer would with the CRL devca acme serves.
	curlWithCRL := func(wantOK bool) {
		t.Helper()
		curl := requireTool(t, "curl")
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: certKey}}}
		srv.StartTLS()
		defer srv.Close()
		out, err := exec.Command(curl, "--silent", "--show-error", "--max-time", "20", "--cacert", rootFile, "--crlfile", crlFile, srv.URL).CombinedOutput()
		if wantOK && (err != nil || string(out) != "ok") || !wantOK && (err == nil || !strings.Contains(strings.ToLower(string(out)), "revoked")) {
			t.Errorf("curl --crlfile: %v, want success %v:\n%s", err, wantOK, out)
		}
	}
	runOpenSSL(true, "OK", "verify", "-CAfile", rootFile, leafFile)
	fetchCRL()
	curlWithCRL(true)
	runOpenSSL(true, "verify OK", "crl", "-in", crlFile, "-CAfile", rootFile, "-noout")
	runOpenSSL(true, "OK", "verify", "-crl_check", "-CAfile", rootFile, "-CRLfile", crlFile, leafFile)

	if err := c.RevokeCert(ctx, nil, chain[0], acme.CRLReasonKeyCompromise); err != nil {
		t.Fatalf("RevokeCert: %v", err)
	}
	fetchCRL()
	runOpenSSL(true, "verify OK", "crl", "-in", crlFile, "-CAfile", rootFile, "-noout")
	runOpenSSL(true, strings.ToUpper(leaf.SerialNumber.Text(16)), "crl", "-in", crlFile, "-noout", "-text")
	runOpenSSL(false, "certificate revoked", "verify", "-crl_check", "-CAfile", rootFile, "-CRLfile", crlFile, leafFile)
	curlWithCRL(false)

	// SIGTERM stops it cleanly; the store and the CA's record keep what
	// happened.
	p.stop(t)
	if fi, err := os.Stat(filepath.Join(home, "acme.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("acme.db: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	auth, err := ca.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	if rec, ok, err := auth.Lookup(leaf.SerialNumber.Text(16)); err != nil || !ok || rec.CertFile != "" {
		t.Errorf("the CA's record has %+v, %v, %v for the ACME certificate", rec, ok, err)
	}

	p2 := startACME(t, home, "--http-port", strconv.Itoa(resp.port))
	c2 := &acme.Client{Key: accountKey, DirectoryURL: p2.url, HTTPClient: httpClient}
	acct2, err := c2.GetReg(ctx, "")
	if err != nil {
		t.Fatalf("the account is gone after a restart: %v", err)
	}
	oldBase, newBase := strings.TrimSuffix(p.url, "/directory"), strings.TrimSuffix(p2.url, "/directory")
	if acct2.URI != strings.Replace(acct.URI, oldBase, newBase, 1) {
		t.Errorf("account %q after the restart, want %q on the new address", acct2.URI, acct.URI)
	}
	again, err := c2.FetchCert(ctx, strings.Replace(certURL, oldBase, newBase, 1), true)
	if err != nil || len(again) != 2 || string(again[0]) != string(chain[0]) {
		t.Fatalf("the certificate is gone after a restart: %v", err)
	}
	// The revocation survived too: the new server's CRL lists the serial.
	r, err := httpClient.Get(newBase + "/crl")
	if err != nil {
		t.Fatal(err)
	}
	der, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 ||
		crl.RevokedCertificateEntries[0].ReasonCode != int(acme.CRLReasonKeyCompromise) {
		t.Errorf("CRL after the restart lists %+v, want the revoked leaf", crl.RevokedCertificateEntries)
	}
	p2.stop(t)
}

// registeredClient returns an x/crypto/acme client with a new ECDSA account
// on the server p, trusting the root in home.
func registeredClient(t *testing.T, ctx context.Context, home string, p *serveProcess) *acme.Client {
	t.Helper()
	httpClient, _ := rootClient(t, home)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &acme.Client{Key: key, DirectoryURL: p.url, HTTPClient: httpClient}
	if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return c
}

// TestACMERefusesOutsideConstraints checks that newOrder names each refused
// identifier, as the root's name constraints require.
func TestACMERefusesOutsideConstraints(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	p := startACME(t, home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := registeredClient(t, ctx, home, p)
	_, err := c.AuthorizeOrder(ctx, acme.DomainIDs("app.test", "example.com", "example.org"))
	var ae *acme.Error
	if !errors.As(err, &ae) || ae.ProblemType != "urn:ietf:params:acme:error:rejectedIdentifier" ||
		!strings.Contains(ae.Detail, "example.com") || !strings.Contains(ae.Detail, "example.org") || strings.Contains(ae.Detail, `"app.test"`) {
		t.Fatalf("AuthorizeOrder = %v, want rejectedIdentifier naming example.com and example.org only", err)
	}
	p.stop(t)
}

// TestACMEFailedValidation checks that a challenge nobody answers turns the
// challenge and the authorization invalid with the reason, within seconds.
func TestACMEFailedValidation(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	resp := startHTTP01Responder(t)
	p := startACME(t, home, "--http-port", strconv.Itoa(resp.port))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := registeredClient(t, ctx, home, p)
	order, err := c.AuthorizeOrder(ctx, acme.DomainIDs("nobody.test"))
	if err != nil {
		t.Fatal(err)
	}
	z, err := c.GetAuthorization(ctx, order.AuthzURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range z.Challenges {
		if ch.Type == "http-01" {
			if _, err := c.Accept(ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	_, err = c.WaitAuthorization(ctx, z.URI)
	var ae *acme.AuthorizationError
	if !errors.As(err, &ae) || len(ae.Errors) == 0 || !strings.Contains(ae.Error(), "acme-challenge") {
		t.Fatalf("WaitAuthorization = %v, want the authorization invalid with the URL tried", err)
	}
	// A 404 offers no answer: the validation authority's unauthorized type
	// reaches the client as it is.
	var pe *acme.Error
	if !errors.As(ae.Errors[0], &pe) || pe.ProblemType != "urn:ietf:params:acme:error:unauthorized" {
		t.Errorf("challenge error %v, want an unauthorized problem", ae.Errors[0])
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the failure took %s to show", d)
	}
	p.stop(t)
}

// TestACMEUsageExitCode checks that flag mistakes exit 2 and leave no CA
// home behind (the messages are in testdata/script/acme_usage.txtar).
func TestACMEUsageExitCode(t *testing.T) {
	for _, args := range [][]string{{"--addr", "nope"}, {"--lifetime", "soon"}, {"--no-such-flag"}} {
		home := filepath.Join(t.TempDir(), "home")
		cmd := devcaCommand(t, home, t.TempDir(), append([]string{"acme"}, args...)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
			t.Errorf("devca acme %v: %v, want exit 2:\n%s", args, err, out)
		}
		if _, err := os.Stat(home); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("devca acme %v made the CA home (%v)", args, err)
		}
	}
}

// TestACMEBusyAddr checks that a busy --addr fails before a CA is made.
func TestACMEBusyAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	home := filepath.Join(t.TempDir(), "home")
	out, err := devcaCommand(t, home, t.TempDir(), "acme", "--addr", ln.Addr().String()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "devca: error: port ") || !strings.Contains(string(out), "devca: hint: ") {
		t.Fatalf("devca acme on a busy port: %v\n%s", err, out)
	}
	if _, err := os.Stat(home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed start made the CA home (%v)", err)
	}
}

// TestACMEExternalURL checks that every URL the server hands out derives
// from --external-url, and that its certificate names that host.
func TestACMEExternalURL(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	p := startACME(t, home, "--external-url", "https://acme.test:14443/")
	if p.url != "https://acme.test:14443/directory" {
		t.Fatalf("devca acme printed %q, want the directory under --external-url", p.url)
	}
	httpClient, _ := rootClient(t, home)
	p.waitStderr(t, "devca: listening on ")
	addr, _, _ := strings.Cut(strings.SplitN(p.stderr.String(), "devca: listening on ", 2)[1], " ")
	addr = strings.TrimSpace(strings.SplitN(addr, "\n", 2)[0])
	real := "https://" + addr + "/directory"
	tr := httpClient.Transport.(*http.Transport)
	tr.TLSClientConfig.ServerName = "acme.test"
	r, err := httpClient.Get(real)
	if err != nil {
		t.Fatalf("GET %s as acme.test: %v", real, err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, field := range []string{"newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo"} {
		if !strings.Contains(string(body), `"`+field+`":"https://acme.test:14443/`) {
			t.Errorf("directory %s does not derive %s from --external-url", body, field)
		}
	}
	p.stop(t)
}
