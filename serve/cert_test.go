package serve

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
)

func newHome(t *testing.T) *ca.Authority {
	t.Helper()
	cons, err := ca.DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.Create(filepath.Join(t.TempDir(), "home"), ca.CreateOptions{Constraints: cons})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func names(t *testing.T, in ...string) ca.Names {
	t.Helper()
	ns, _, err := ca.ParseNames(in)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestLeafCertificate(t *testing.T) {
	a := newHome(t)
	now := time.Now()
	base := names(t, "localhost", "127.0.0.1", "::1")

	c1, reused, err := leafCert(a, base, now)
	if err != nil || reused {
		t.Fatalf("first: reused %v, %v", reused, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.Cert)
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := c1.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("leaf does not verify for %s: %v", host, err)
		}
	}
	path := filepath.Join(a.Dir, CertDir, CertFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", fi, err)
	}

	ok := []struct {
		name  string
		names ca.Names
		now   time.Time
	}{
		{"same names", base, now},
		{"subset", names(t, "localhost"), now},
		{"later but not near expiry", base, now.Add(300 * 24 * time.Hour)},
	}
	for _, tc := range ok {
		t.Run("ok/reuse/"+tc.name, func(t *testing.T) {
			c, reused, err := leafCert(a, tc.names, tc.now)
			if err != nil || !reused || !c.Leaf.Equal(c1.Leaf) {
				t.Errorf("reused %v, %v", reused, err)
			}
		})
	}

	t.Run("ok/new name", func(t *testing.T) {
		c, reused, err := leafCert(a, names(t, "localhost", "app.localhost"), now)
		if err != nil || reused || c.Leaf.Equal(c1.Leaf) {
			t.Fatalf("reused %v, %v", reused, err)
		}
		// The cache now holds the new certificate.
		c2, reused, err := leafCert(a, names(t, "app.localhost"), now)
		if err != nil || !reused || !c2.Leaf.Equal(c.Leaf) {
			t.Errorf("second use: reused %v, %v", reused, err)
		}
	})
	t.Run("ok/near expiry", func(t *testing.T) {
		c, _, _ := leafCert(a, base, now)
		soon := c.Leaf.NotAfter.Add(-RenewBefore / 2)
		if _, reused, err := leafCert(a, base, soon); err != nil || reused {
			t.Errorf("near expiry: reused %v, %v", reused, err)
		}
	})
	t.Run("ok/other root", func(t *testing.T) {
		other := newHome(t)
		data, _ := os.ReadFile(path)
		os.MkdirAll(filepath.Join(other.Dir, CertDir), 0o700)
		os.WriteFile(filepath.Join(other.Dir, CertDir, CertFile), data, 0o600)
		c, reused, err := leafCert(other, base, now)
		if err != nil || reused {
			t.Fatalf("other root: reused %v, %v", reused, err)
		}
		p := x509.NewCertPool()
		p.AddCert(other.Cert)
		if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: p}); err != nil {
			t.Errorf("new leaf not from the other root: %v", err)
		}
	})
	t.Run("ok/unsafe cache mode", func(t *testing.T) {
		os.Chmod(path, 0o644)
		if _, reused, err := leafCert(a, base, now); err != nil || reused {
			t.Errorf("world-readable cache reused %v, %v", reused, err)
		}
	})
	t.Run("ok/garbage cache", func(t *testing.T) {
		os.WriteFile(path, []byte("not pem"), 0o600)
		if _, reused, err := leafCert(a, base, now); err != nil || reused {
			t.Errorf("garbage cache: reused %v, %v", reused, err)
		}
	})
	t.Run("fail/outside constraints", func(t *testing.T) {
		if _, _, err := leafCert(a, names(t, "example.com"), now); err == nil {
			t.Error("issued a certificate for example.com")
		}
	})
}

func TestLoadKeyPair(t *testing.T) {
	a := newHome(t)
	leaf, err := a.Issue(ca.LeafRequest{Names: names(t, "localhost")})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, leaf.CertPEM, 0o644)
	os.WriteFile(keyFile, leaf.KeyPEM, 0o600)
	if _, err := LoadKeyPair(certFile, keyFile); err != nil {
		t.Errorf("ok: %v", err)
	}
	other, _ := a.Issue(ca.LeafRequest{Names: names(t, "localhost")})
	os.WriteFile(keyFile, other.KeyPEM, 0o600)
	if _, err := LoadKeyPair(certFile, keyFile); err == nil {
		t.Error("fail/mismatched key: loaded")
	}
	if _, err := LoadKeyPair(filepath.Join(dir, "missing"), keyFile); err == nil {
		t.Error("fail/missing file: loaded")
	}
}

// TestSystemTrusts runs SystemTrusts in child processes of this test binary
// whose system store is a bundle holding one root (SSL_CERT_FILE, with an
// empty SSL_CERT_DIR; Go reads the system roots once per process): it must
// report that root trusted and another root not, so that a SystemTrusts
// that always answered false (or true) fails.
func TestSystemTrusts(t *testing.T) {
	trusted, _, _ := authority(t)
	untrusted := newHome(t)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(bundle, trusted.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		root []byte
		want string
	}{
		{"ok/root in the store", trusted.CertPEM, "trusted"},
		{"fail/root not in the store", untrusted.CertPEM, "not trusted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rootFile := filepath.Join(t.TempDir(), "root.pem")
			if err := os.WriteFile(rootFile, tc.root, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestSystemTrustsChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+bundle, "SSL_CERT_DIR="+t.TempDir(), systemTrustsChildRoot+"="+rootFile)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if got := regexp.MustCompile(`(?m)^system store: (.*)$`).FindSubmatch(out); got == nil || string(got[1]) != tc.want {
				t.Errorf("SystemTrusts in the child: %q, want %q\n%s", got, tc.want, out)
			}
		})
	}
	// This machine's own store has never seen a fresh root.
	if SystemTrusts(untrusted.Cert) {
		t.Error("a fresh root is trusted by this machine's store")
	}
}

// systemTrustsChildRoot names the root file TestSystemTrustsChild checks.
const systemTrustsChildRoot = "DEVCA_TEST_SYSTEM_TRUSTS_ROOT"

// TestSystemTrustsChild is TestSystemTrusts's child process: it prints
// whether SystemTrusts trusts the root in $DEVCA_TEST_SYSTEM_TRUSTS_ROOT.
func TestSystemTrustsChild(t *testing.T) {
	file := os.Getenv(systemTrustsChildRoot)
	if file == "" {
		t.Skip("run by TestSystemTrusts")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ca.ParseCertsPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	answer := "not trusted"
	if SystemTrusts(certs[0]) {
		answer = "trusted"
	}
	fmt.Printf("system store: %s\n", answer)
}

func TestRootPage(t *testing.T) {
	a := newHome(t)
	h, err := RootPage(a.CertPEM, ca.Fingerprint(a.Cert))
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, do(t, h, "GET", "/"))
	fp := ca.Fingerprint(a.Cert)
	for _, want := range []string{"iPhone", "Android", "Certificate Trust Settings", `href="/devca-root.crt"`, fp[:23]} {
		if !strings.Contains(page, want) {
			t.Errorf("root page lacks %q", want)
		}
	}
	resp := do(t, h, "GET", "/devca-root.crt")
	der := body(t, resp)
	if resp.Header.Get("Content-Type") != "application/x-x509-ca-cert" {
		t.Errorf("crt Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	if c, err := x509.ParseCertificate([]byte(der)); err != nil || !c.Equal(a.Cert) {
		t.Errorf("crt is not the root: %v", err)
	}
	if got := body(t, do(t, h, "GET", "/devca-root.pem")); got != string(a.CertPEM) {
		t.Errorf("pem = %q", got)
	}
	if resp := do(t, h, "GET", "/rootCA-key.pem"); resp.StatusCode != 404 {
		t.Errorf("other paths = %d", resp.StatusCode)
	}
	if _, err := RootPage([]byte("junk"), ""); err == nil {
		t.Error("RootPage accepted junk")
	}
}
