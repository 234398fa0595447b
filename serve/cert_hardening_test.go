package serve

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
)

// leafCert is LeafCertificate for tests whose CA home is writable: a
// certificate that was not cached there is an error.
func leafCert(a *ca.Authority, names ca.Names, now time.Time) (tls.Certificate, bool, error) {
	res, err := LeafCertificate(a, names, now)
	if err == nil {
		if werr := res.Wait(); werr != nil {
			err = fmt.Errorf("the certificate was not cached: %w", werr)
		}
	}
	return res.Cert, res.Reused, err
}

// TestLeafCertificateNotSaved: a CA home devca cannot write to still gives
// a certificate for this run, says why it was not cached, and writes
// nothing. The cases break the write the same way for root and other users
// (a file where the cache folder goes, a folder where the lock file goes).
func TestLeafCertificateNotSaved(t *testing.T) {
	base := names(t, "localhost", "127.0.0.1")
	pool := func(a *ca.Authority) *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(a.Cert)
		return p
	}
	t.Run("ok/cache folder cannot be made", func(t *testing.T) {
		a := newHome(t)
		blocker := filepath.Join(a.Dir, CertDir)
		if err := os.WriteFile(blocker, []byte("not a folder"), 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := LeafCertificate(a, base, time.Now())
		if err != nil || res.Reused || res.Wait() == nil {
			t.Fatalf("reused %v, not saved %v, %v", res.Reused, res.Wait(), err)
		}
		if !strings.Contains(res.Wait().Error(), "saving the serve certificate") {
			t.Errorf("Wait() = %v", res.Wait())
		}
		if _, err := res.Cert.Leaf.Verify(x509.VerifyOptions{Roots: pool(a), DNSName: "localhost"}); err != nil {
			t.Errorf("in-memory certificate does not verify: %v", err)
		}
		if data, _ := os.ReadFile(blocker); string(data) != "not a folder" {
			t.Errorf("the blocking file changed: %q", data)
		}
	})
	t.Run("ok/home cannot be locked", func(t *testing.T) {
		a := newHome(t)
		// A cached certificate from before the home became unwritable is
		// still used, and nothing is said about caching.
		c1, _, err := leafCert(a, base, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(a.Dir, ".lock")
		os.Remove(lock)
		if err := os.Mkdir(lock, 0o700); err != nil {
			t.Fatal(err)
		}
		res, err := LeafCertificate(a, base, time.Now())
		if err != nil || !res.Reused || res.NotSaved != nil || !res.Cert.Leaf.Equal(c1.Leaf) {
			t.Errorf("cached under a broken lock: reused %v, not saved %v, %v", res.Reused, res.NotSaved, err)
		}
		// A name the cache lacks: a new certificate in memory only.
		before, _ := os.ReadFile(filepath.Join(a.Dir, CertDir, CertFile))
		more := names(t, "localhost", "app.localhost")
		res, err = LeafCertificate(a, more, time.Now())
		if err != nil || res.Reused || res.NotSaved == nil || !strings.Contains(res.NotSaved.Error(), "locking") {
			t.Fatalf("new name under a broken lock: reused %v, not saved %v, %v", res.Reused, res.NotSaved, err)
		}
		if _, err := res.Cert.Leaf.Verify(x509.VerifyOptions{Roots: pool(a), DNSName: "app.localhost"}); err != nil {
			t.Errorf("in-memory certificate does not verify: %v", err)
		}
		if after, _ := os.ReadFile(filepath.Join(a.Dir, CertDir, CertFile)); string(after) != string(before) {
			t.Error("the cache was written without the lock")
		}
	})
	t.Run("fail/outside constraints", func(t *testing.T) {
		a := newHome(t)
		os.WriteFile(filepath.Join(a.Dir, CertDir), nil, 0o600)
		if _, err := LeafCertificate(a, names(t, "example.com"), time.Now()); err == nil {
			t.Error("issued a certificate for example.com")
		}
	})
}

// TestLoadKeyPairLimits: --cert-file and --key-file are read only when they
// are regular files, and only up to MaxKeyPairFileSize.
func TestLoadKeyPairLimits(t *testing.T) {
	a := newHome(t)
	leaf, err := a.Issue(ca.LeafRequest{Names: names(t, "localhost")})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, leaf.CertPEM, 0o644)
	os.WriteFile(keyFile, leaf.KeyPEM, 0o600)

	// A chain padded with comments up to the limit still loads.
	padded := filepath.Join(dir, "padded.pem")
	pad := strings.Repeat("# padding\n", (MaxKeyPairFileSize-len(leaf.CertPEM))/10)
	os.WriteFile(padded, append([]byte(pad), leaf.CertPEM...), 0o644)
	if _, err := LoadKeyPair(padded, keyFile); err != nil {
		t.Errorf("ok/at the limit: %v", err)
	}

	big := filepath.Join(dir, "big.pem")
	os.WriteFile(big, append(leaf.CertPEM, make([]byte, MaxKeyPairFileSize)...), 0o644)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"cert too large", big, keyFile, `reading certificate "` + big + `": the file is larger than 1 MiB`},
		{"key too large", certFile, big, `reading key "` + big + `": the file is larger than 1 MiB`},
		{"cert is a folder", dir, keyFile, "it is a folder, not a regular file"},
		{"missing", filepath.Join(dir, "missing"), keyFile, `reading certificate "` + filepath.Join(dir, "missing") + `": no such file`},
		{"device", "/dev/zero", keyFile, "it is a character device, not a regular file"},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			if tc.cert == "/dev/zero" && runtime.GOOS == "windows" {
				t.Skip("no /dev/zero")
			}
			_, err := LoadKeyPair(tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadKeyPair = %v, want %q", err, tc.want)
			}
		})
	}
}
