package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExportImportP12(t *testing.T) {
	src := createWith(t, filepath.Join(t.TempDir(), "src"), StorageFile, Secrets{})
	data, err := src.ExportP12("team password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeP12(data, "wrong"); !errors.Is(err, ErrIncorrectPassword) {
		t.Fatalf("DecodeP12 with a wrong password: %v", err)
	}
	root, err := DecodeP12(data, "team password")
	if err != nil {
		t.Fatal(err)
	}
	root.From = "PKCS#12 file test.p12"
	kr := newMemKeyring()
	dir := filepath.Join(t.TempDir(), "dst")
	dst, err := Import(dir, root, ImportOptions{KeyStorage: StorageKeyring, Secrets: Secrets{Keyring: kr}})
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(dst.Cert) != Fingerprint(src.Cert) || dst.Meta.ImportedFrom != "PKCS#12 file test.p12" {
		t.Errorf("imported %s from %q", Fingerprint(dst.Cert), dst.Meta.ImportedFrom)
	}
	loaded := loadWith(t, dir, Secrets{Keyring: kr})
	if _, err := loaded.Issue(LeafRequest{Names: mustNames(t, "app.test")}); err != nil {
		t.Errorf("Issue from the imported CA: %v", err)
	}
	if !loaded.Constraints().Constrained() {
		t.Error("a devca root lost its name constraints on import")
	}
	if _, err := Import(dir, root, ImportOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("second Import: %v, want ErrExists", err)
	}

	// A leaf's PKCS#12 (from 'devca issue --p12') is not a CA to import.
	leaf, err := src.Issue(LeafRequest{Names: mustNames(t, "leaf.test")})
	if err != nil {
		t.Fatal(err)
	}
	leafP12, err := encodeP12(leaf, []*x509.Certificate{src.Cert}, "changeit", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeP12(leafP12, "changeit"); err == nil || !strings.Contains(err.Error(), "is not a CA certificate") {
		t.Errorf("DecodeP12 of a leaf: %v", err)
	}

	if _, err := src.ExportP12(""); err == nil {
		t.Error("ExportP12 accepted an empty password")
	}
	plain, err := src.ExportP12Unencrypted()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeP12(plain, ""); err != nil {
		t.Errorf("DecodeP12 of an unencrypted export: %v", err)
	}
}

// writeMkcertLike writes a CAROOT the way mkcert does: rootCA.pem and a
// PKCS#8 rootCA-key.pem with mode 0400, and a root without name constraints.
func writeMkcertLike(t *testing.T, dir string, tmpl *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, "rootCA.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, "rootCA-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o400)
}

func mkcertTemplate(now time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "mkcert root@box", Organization: []string{"mkcert development CA"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
}

func TestReadMkcertCA(t *testing.T) {
	now := time.Now()
	t.Run("ok/adopt", func(t *testing.T) {
		caroot := t.TempDir()
		writeMkcertLike(t, caroot, mkcertTemplate(now))
		before, _ := os.ReadFile(filepath.Join(caroot, "rootCA-key.pem"))
		root, err := ReadMkcertCA(caroot)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(root.From, "mkcert CAROOT ") {
			t.Errorf("From = %q", root.From)
		}
		dir := filepath.Join(t.TempDir(), "home")
		a, err := Import(dir, root, ImportOptions{KeyStorage: StoragePassphrase, Secrets: passphraseSecrets(nil, "pw")})
		if err != nil {
			t.Fatal(err)
		}
		if a.Constraints().Constrained() {
			t.Error("the mkcert root gained constraints")
		}
		after, _ := os.ReadFile(filepath.Join(caroot, "rootCA-key.pem"))
		if string(before) != string(after) {
			t.Error("mkcert's key file changed")
		}
		// An unconstrained root certifies any name.
		leaf, err := loadWith(t, dir, passphraseSecrets(nil, "pw")).Issue(LeafRequest{Names: mustNames(t, "www.example.com")})
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(root.Cert)
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "www.example.com"}); err != nil {
			t.Error(err)
		}
	})
	t.Run("fail/no key", func(t *testing.T) {
		caroot := t.TempDir()
		writeMkcertLike(t, caroot, mkcertTemplate(now))
		os.Remove(filepath.Join(caroot, "rootCA-key.pem"))
		if _, err := ReadMkcertCA(caroot); err == nil || !strings.Contains(err.Error(), "has no rootCA-key.pem") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("fail/empty folder", func(t *testing.T) {
		if _, err := ReadMkcertCA(t.TempDir()); err == nil || !strings.Contains(err.Error(), "has no rootCA.pem") {
			t.Errorf("err = %v", err)
		}
	})
	for name, edit := range map[string]func(*x509.Certificate){
		"not a CA": func(c *x509.Certificate) {
			c.IsCA, c.MaxPathLenZero, c.KeyUsage = false, false, x509.KeyUsageDigitalSignature
		},
		"expired": func(c *x509.Certificate) {
			c.NotBefore = now.Add(-48 * time.Hour)
			c.NotAfter = now.Add(-24 * time.Hour)
		},
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			caroot := t.TempDir()
			tmpl := mkcertTemplate(now)
			edit(tmpl)
			writeMkcertLike(t, caroot, tmpl)
			root, err := ReadMkcertCA(caroot)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "home")
			if _, err := Import(dir, root, ImportOptions{}); err == nil {
				t.Fatal("Import accepted it")
			}
			if _, err := os.Stat(filepath.Join(dir, RootCertFile)); err == nil {
				t.Error("a refused import wrote a root")
			}
		})
	}
	t.Run("fail/key of another root", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		writeMkcertLike(t, a, mkcertTemplate(now))
		writeMkcertLike(t, b, mkcertTemplate(now))
		ra, _ := ReadMkcertCA(a)
		rb, _ := ReadMkcertCA(b)
		ra.Key = rb.Key
		if _, err := Import(filepath.Join(t.TempDir(), "home"), ra, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "does not belong") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestMkcertCAROOT(t *testing.T) {
	for i, tc := range []struct {
		env  map[string]string
		goos string
		want string
	}{
		{map[string]string{"CAROOT": "/ca", "HOME": "/h"}, "linux", "/ca"},
		{map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, "linux", "/x/mkcert"},
		// Relative values are invalid under the XDG spec and ignored.
		{map[string]string{"XDG_DATA_HOME": "x", "HOME": "/h"}, "linux", "/h/.local/share/mkcert"},
		{map[string]string{"XDG_DATA_HOME": "./x", "HOME": "/h"}, "linux", "/h/.local/share/mkcert"},
		{map[string]string{"HOME": "/h"}, "linux", "/h/.local/share/mkcert"},
		{map[string]string{"HOME": "/h"}, "darwin", "/h/Library/Application Support/mkcert"},
		{map[string]string{"LocalAppData": `C:\Users\u\AppData\Local`}, "windows", filepath.Join(`C:\Users\u\AppData\Local`, "mkcert")},
	} {
		got, err := MkcertCAROOT(func(k string) string { return tc.env[k] }, tc.goos)
		if err != nil || got != tc.want {
			t.Errorf("Test %d: got %q, %v; want %q", i, got, err, tc.want)
		}
	}
	if _, err := MkcertCAROOT(func(string) string { return "" }, "linux"); err == nil {
		t.Error("no HOME: want an error")
	}
}

// TestDataHomesAgree checks that devca's home and mkcert's CAROOT come from
// the same per-user data folder, whatever XDG_DATA_HOME holds: they once
// disagreed on a relative value, which the XDG spec says to ignore.
func TestDataHomesAgree(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"absolute XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, "/x"},
		{"relative XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": "x", "HOME": "/h"}, "/h/.local/share"},
		{"dot XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": ".", "HOME": "/h"}, "/h/.local/share"},
		{"empty XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": "", "HOME": "/h"}, "/h/.local/share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			home, err := DefaultHome(getenv, "linux")
			if err != nil {
				t.Fatal(err)
			}
			caroot, err := MkcertCAROOT(getenv, "linux")
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(home) != tc.want || filepath.Dir(caroot) != tc.want {
				t.Errorf("DefaultHome = %q, MkcertCAROOT = %q; want both in %q", home, caroot, tc.want)
			}
		})
	}
}
