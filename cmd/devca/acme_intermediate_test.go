package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca"
)

// obtainChain runs a whole order for names and returns the chain and the
// certificate's key.
func obtainChain(ctx context.Context, t *testing.T, c *acme.Client, resp *http01Responder, names ...string) ([][]byte, *ecdsa.PrivateKey) {
	t.Helper()
	order, err := authorize(ctx, c, resp, names...)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	chain, _, err := c.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		t.Fatalf("CreateOrderCert: %v", err)
	}
	return chain, key
}

// checkIntermediateChain checks that chain is a leaf for name, an intermediate
// CA (path length 0) and the root in rootFile, and that it verifies with Go,
// openssl (-untrusted) and curl against a TLS server serving it.
func checkIntermediateChain(t *testing.T, chain [][]byte, key *ecdsa.PrivateKey, rootFile, name string) *x509.Certificate {
	t.Helper()
	rootPEM, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.ParseCertsPEM(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 || string(chain[2]) != string(root[0].Raw) {
		t.Fatalf("chain of %d certificates, want the leaf, the intermediate and the root", len(chain))
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		t.Fatal(err)
	}
	inter, err := x509.ParseCertificate(chain[1])
	if err != nil {
		t.Fatal(err)
	}
	if !inter.IsCA || !inter.MaxPathLenZero || inter.Equal(root[0]) {
		t.Fatalf("second certificate %q is not an intermediate CA with path length 0", inter.Subject)
	}
	// Go
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root[0])
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: name}); err != nil {
		t.Errorf("Go: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err == nil {
		t.Error("Go verified the leaf without the intermediate")
	}
	dir := t.TempDir()
	leafFile, chainFile := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "chain.pem")
	var all []byte
	for _, der := range chain {
		all = append(all, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chainFile, all, 0o644); err != nil {
		t.Fatal(err)
	}
	// openssl
	if openssl := requireTool(t, "openssl"); openssl != "" {
		out, err := exec.Command(openssl, "verify", "-CAfile", rootFile, "-untrusted", chainFile, leafFile).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK") {
			t.Errorf("openssl verify -untrusted chain: %v\n%s", err, out)
		}
		out, err = exec.Command(openssl, "verify", "-CAfile", rootFile, leafFile).CombinedOutput()
		if err == nil {
			t.Errorf("openssl verified the leaf without the intermediate:\n%s", out)
		}
	}
	// curl, against a TLS server that serves the chain as issued
	if curl := requireTool(t, "curl"); curl != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "served through the intermediate") }),
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: key}}},
			ReadHeaderTimeout: 5 * time.Second}
		go srv.ServeTLS(ln, "", "")
		defer srv.Close()
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		// --resolve: curl looks nothing up.
		out, err := exec.Command(curl, "-sS", "--max-time", "20", "--cacert", rootFile, "--resolve", name+":"+port+":127.0.0.1",
			"https://"+name+":"+port+"/").CombinedOutput()
		if err != nil || string(out) != "served through the intermediate" {
			t.Errorf("curl --cacert root: %v\n%s", err, out)
		}
	}
	return inter
}

// TestACMEIntermediate runs devca acme --intermediate: certificates come
// through an intermediate CA, which is renewed while the server runs.
func TestACMEIntermediate(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	resp := startHTTP01Responder(t)
	cmd := devcaCommand(t, home, home, "acme", "--addr", "127.0.0.1:0", "--intermediate", "--http-port", strconv.Itoa(resp.port))
	cmd.Env = append(cmd.Env, "DEVCA_TEST_ACME_LOOPBACK=1", "DEVCA_TEST_INTERMEDIATE_RENEWAL=3s")
	p := startServeCmd(t, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := registeredClient(t, ctx, home, p) // the server's own certificate is signed by the intermediate
	rootFile := filepath.Join(home, ca.RootCertFile)
	chain, key := obtainChain(ctx, t, c, resp, "app.test")
	first := checkIntermediateChain(t, chain, key, rootFile, "app.test")

	p.waitStderr(t, "now signing with a new intermediate CA")
	chain, key = obtainChain(ctx, t, c, resp, "app.test")
	second := checkIntermediateChain(t, chain, key, rootFile, "app.test")
	if second.Equal(first) {
		t.Error("the certificate after renewal came through the first intermediate")
	}
	if life := first.NotAfter.Sub(first.NotBefore); life < ca.DefaultIntermediateLifetime {
		t.Errorf("intermediate valid for %s, want at least %s", life, ca.DefaultIntermediateLifetime)
	}
	p.stop(t)
	out, err := devcaCommand(t, home, home, "list", "--all").CombinedOutput()
	if err != nil || strings.Count(string(out), "intermediate CA for") < 2 {
		t.Errorf("devca list shows fewer than two intermediates (%v):\n%s", err, out)
	}
}

// TestACMECaDir exports an intermediate with devca intermediate issue and runs
// devca acme --ca-dir on it, with no root key on the "server".
func TestACMECaDir(t *testing.T) {
	t.Parallel()
	rootHome := t.TempDir()
	if out, err := devcaCommand(t, rootHome, rootHome, "init", "--no-trust").CombinedOutput(); err != nil {
		t.Fatalf("devca init: %v\n%s", err, out)
	}
	export := filepath.Join(t.TempDir(), "team-ca")
	out, err := devcaCommand(t, rootHome, rootHome, "intermediate", "issue", "--out", export, "--days", "10", "--permit", "team.test", "--permit", "127.0.0.1").Output()
	if err != nil || strings.TrimSpace(string(out)) != export {
		t.Fatalf("devca intermediate issue: %v, printed %q", err, out)
	}
	// The server machine: a copy of the folder, and a CA home of its own that stays empty.
	serverDir := filepath.Join(t.TempDir(), "ca")
	if err := os.CopyFS(serverDir, os.DirFS(export)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(serverDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(serverDir, ca.IntermediateKeyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(serverDir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "intermediate-key.pem intermediate.pem rootCA.pem" {
		t.Fatalf("exported folder holds %q", names)
	}
	serverHome := filepath.Join(t.TempDir(), "home")
	resp := startHTTP01Responder(t)
	cmd := devcaCommand(t, serverHome, t.TempDir(), "acme", "--addr", "127.0.0.1:0", "--ca-dir", serverDir, "--http-port", strconv.Itoa(resp.port))
	cmd.Env = append(cmd.Env, "DEVCA_TEST_ACME_LOOPBACK=1")
	p := startServeCmd(t, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := registeredClient(t, ctx, serverDir, p)
	chain, key := obtainChain(ctx, t, c, resp, "app.team.test")
	checkIntermediateChain(t, chain, key, filepath.Join(serverDir, ca.RootCertFile), "app.team.test")

	// Narrowed to team.test: another development name is refused at newOrder.
	if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs("app.other.test")); err == nil || !strings.Contains(err.Error(), "app.other.test") {
		t.Errorf("order for app.other.test: %v, want it refused", err)
	}
	p.stop(t)
	for _, f := range []string{filepath.Join(serverDir, ca.RootKeyFile), filepath.Join(serverHome, ca.RootKeyFile), filepath.Join(serverHome, ca.RootCertFile)} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists on the server (%v)", f, err)
		}
	}
}

// writeOldRoot writes a CA home as devca made it before intermediates: a root
// with path length 0 and its key in a file.
func writeOldRoot(t *testing.T, home string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "devca root old"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ca.RootCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ca.RootKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestIntermediateOldRoot: a root with path length 0 cannot sign an
// intermediate; devca says so and how to move on, and devca acme without
// --intermediate still signs with it directly.
func TestIntermediateOldRoot(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	writeOldRoot(t, home)
	export := filepath.Join(t.TempDir(), "team-ca")
	for _, args := range [][]string{
		{"intermediate", "issue", "--out", export},
		{"acme", "--addr", "127.0.0.1:0", "--intermediate"},
	} {
		out, err := devcaCommand(t, home, home, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitFailure ||
			!strings.Contains(string(out), "devca: error: issuing an intermediate CA: the root has a path length of zero") ||
			!strings.Contains(string(out), "devca: hint: run 'devca init --new'") {
			t.Errorf("devca %s: %v, want exit 1 with a message and a hint:\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(export); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused export made %q (%v)", export, err)
	}
	resp := startHTTP01Responder(t)
	p := startACME(t, home, "--http-port", strconv.Itoa(resp.port))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	chain, _ := obtainChain(ctx, t, registeredClient(t, ctx, home, p), resp, "app.test")
	if len(chain) != 2 {
		t.Errorf("chain of %d certificates from the old root, want the leaf and the root", len(chain))
	}
}

// TestIntermediateUsage: usage errors exit 2 and write nothing.
func TestIntermediateUsage(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if out, err := devcaCommand(t, home, home, "init", "--no-trust").CombinedOutput(); err != nil {
		t.Fatalf("devca init: %v\n%s", err, out)
	}
	export := filepath.Join(t.TempDir(), "out")
	for _, args := range [][]string{
		{"intermediate", "issue", "--out", export, "--permit", "example.com"},
		{"intermediate", "issue", "--out", export, "--permit", "team.test", "--permit", "8.8.8.8"},
		{"intermediate", "issue", "--out", export, "--days", "0"},
		{"intermediate", "issue", "--out", export, "--days", "400"},
		{"intermediate", "issue", "--out", export, "extra"},
		{"intermediate", "issue"},
		{"acme", "--intermediate", "--ca-dir", export},
		{"acme", "--intermediate", "--lifetime", "200d"},
	} {
		out, err := devcaCommand(t, home, home, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
			t.Errorf("devca %s: %v, want exit 2:\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(export); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a usage error made %q (%v)", export, err)
	}
	if out, _ := devcaCommand(t, home, home, "list", "--all").CombinedOutput(); strings.Contains(string(out), "intermediate") {
		t.Errorf("a usage error recorded an intermediate:\n%s", out)
	}
}
