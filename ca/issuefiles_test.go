package ca

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIssueToFilesAndRenew: an issued certificate's files and record entry
// land together, Renew replaces them in place, and Renew refuses once a file
// was changed, writing nothing.
func TestIssueToFilesAndRenew(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	dir := t.TempDir()
	out := Files{CertFile: filepath.Join(dir, "app.pem"), KeyFile: filepath.Join(dir, "app-key.pem"), FullChain: true}
	is, err := a.IssueToFiles(LeafRequest{Names: mustNames(t, "app.test", "127.0.0.1"), Days: 30}, out)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out.CertFile); string(got) != string(is.CertPEM) || !strings.HasSuffix(string(got), string(a.CertPEM)) {
		t.Fatal("certificate file is not the leaf followed by the root")
	}
	if is.Days != 30 || is.CertSHA256 == "" || is.KeySHA256 == "" || strings.Join(is.Names, ",") != "app.test,127.0.0.1" {
		t.Fatalf("entry %+v", is.Issued)
	}
	renewed, err := a.Renew(is.Issued, "")
	if err != nil {
		t.Fatal(err)
	}
	if found, ok, err := a.Lookup(is.Serial); err != nil || !ok || found.ReplacedBy != renewed.Serial {
		t.Fatalf("Lookup(old) = %+v, %v, %v; want replaced by %s", found, ok, err, renewed.Serial)
	}
	if err := os.WriteFile(out.KeyFile, []byte("mine now"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(out.CertFile)
	_, err = a.Renew(renewed.Issued, "")
	var changed *FileChangedError
	if !errors.As(err, &changed) || changed.Path != out.KeyFile || changed.What != "key" {
		t.Fatalf("Renew after the key changed = %v, want a FileChangedError for the key", err)
	}
	if after, _ := os.ReadFile(out.CertFile); string(after) != string(before) {
		t.Error("a refused renewal rewrote the certificate")
	}
}

func TestSignCSRRequestChecks(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	csr := parseTestCSR(t, "app.test", "www.app.test")
	tomorrow := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name    string
		req     CSRRequest
		out     Files
		wantErr string // empty: signed
	}{
		{"ok/all names", CSRRequest{CSR: csr}, Files{}, ""},
		{"ok/validated subset", CSRRequest{CSR: csr, Names: mustNames(t, "app.test")}, Files{}, ""},
		{"ok/a day", CSRRequest{CSR: csr, Lifetime: 24 * time.Hour}, Files{}, ""},
		{"ok/starts tomorrow", CSRRequest{CSR: csr, Lifetime: time.Hour, NotBefore: tomorrow}, Files{}, ""},
		{"fail/start without lifetime", CSRRequest{CSR: csr, NotBefore: tomorrow}, Files{}, "needs a lifetime"},
		{"fail/starts after the root", CSRRequest{CSR: csr, Lifetime: time.Hour, NotBefore: a.Cert.NotAfter}, Files{}, "before the root expires"},
		{"fail/name not asked for", CSRRequest{CSR: csr, Names: mustNames(t, "other.test")}, Files{}, "does not ask for"},
		{"fail/lifetime too long", CSRRequest{CSR: csr, Lifetime: (MaxLeafDays + 1) * 24 * time.Hour}, Files{}, "validity"},
		{"fail/lifetime and days", CSRRequest{CSR: csr, Lifetime: time.Hour, Days: 1}, Files{}, "validity"},
		{"fail/key file", CSRRequest{CSR: csr}, Files{KeyFile: filepath.Join(t.TempDir(), "k.pem")}, "private key stays"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is, err := a.SignCSR(tc.req, tc.out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("SignCSR = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.req.Names
			if want == nil {
				want = mustNames(t, "app.test", "www.app.test")
			}
			if strings.Join(is.Leaf.Cert.DNSNames, ",") != strings.Join(want.Values(), ",") {
				t.Errorf("certified %v, want %v", is.Leaf.Cert.DNSNames, want.Values())
			}
			if tc.req.Lifetime != 0 && is.Leaf.Cert.NotAfter.Sub(is.Leaf.Cert.NotBefore) != tc.req.Lifetime {
				t.Errorf("lifetime %v, want %v", is.Leaf.Cert.NotAfter.Sub(is.Leaf.Cert.NotBefore), tc.req.Lifetime)
			}
			if !tc.req.NotBefore.IsZero() && !is.Leaf.Cert.NotBefore.Equal(tc.req.NotBefore) {
				t.Errorf("valid from %v, want %v", is.Leaf.Cert.NotBefore, tc.req.NotBefore)
			}
		})
	}
}

// parseTestCSR returns a parsed request for DNS names with a fresh key.
func parseTestCSR(t *testing.T, dnsNames ...string) *x509.CertificateRequest {
	t.Helper()
	csr, err := ParseCSR(newCSR(t, nil, &x509.CertificateRequest{DNSNames: dnsNames}))
	if err != nil {
		t.Fatal(err)
	}
	return csr
}
