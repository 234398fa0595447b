package caissuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/ca/acme/wfe"
	"github.com/devca/devca/ca/acme/wire"
)

// newTestCA creates a devca CA with the default name constraints in the test's folder.
func newTestCA(t testing.TB) *ca.Authority {
	t.Helper()
	cons, err := ca.DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.Create(filepath.Join(t.TempDir(), "ca"), ca.CreateOptions{Constraints: cons, User: "tester", Host: "box"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newCSR(t testing.TB, dnsNames []string, ips []net.IP) *x509.CertificateRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: dnsNames, IPAddresses: ips}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func TestCheckNames(t *testing.T) {
	is := New(newTestCA(t))
	for _, tc := range []struct {
		name    string
		names   []string
		refused []string // names refused, each as a *wfe.NameError
		reason  string
	}{
		{"ok/dev names", []string{"app.test", "*.app.test", "localhost", "127.0.0.1", "::1", "10.1.2.3"}, nil, ""},
		{"fail/public name", []string{"app.test", "example.com"}, []string{"example.com"}, "name constraints"},
		{"fail/public address", []string{"8.8.8.8"}, []string{"8.8.8.8"}, "name constraints"},
		{"fail/each one named", []string{"example.com", "app.test", "example.org"}, []string{"example.com", "example.org"}, "name constraints"},
		{"fail/what devca issue refuses", []string{"app..test"}, []string{"app..test"}, "empty label"},
		{"fail/all-digit last label", []string{"app.123"}, []string{"app.123"}, "all digits"},
		{"fail/email", []string{"dev@app.test"}, []string{"dev@app.test"}, "email"},
		{"fail/not canonical", []string{"APP.test"}, []string{"APP.test"}, "write it as app.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := is.CheckNames(tc.names)
			var refused []string
			for _, e := range unjoin(err) {
				var ne *wfe.NameError
				if !errors.As(e, &ne) {
					t.Fatalf("error %v is not a *wfe.NameError", e)
				}
				if !strings.Contains(ne.Err.Error(), tc.reason) {
					t.Errorf("%s refused for %q, want a reason about %q", ne.Name, ne.Err, tc.reason)
				}
				refused = append(refused, ne.Name)
			}
			if !slices.Equal(refused, tc.refused) {
				t.Fatalf("refused %q, want %q (error %v)", refused, tc.refused, err)
			}
		})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestIssue(t *testing.T) {
	a := newTestCA(t)
	is := New(a)
	ctx := context.Background()
	nb := time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		name      string
		dns       []string
		ips       []net.IP
		nb, na    time.Time
		wantErr   string
		wantProbl string // ACME problem type, when the error is one
	}{
		{"ok/seven days", []string{"app.test", "www.app.test"}, nil, nb, nb.Add(7 * 24 * time.Hour), "", ""},
		{"ok/an address for a day", nil, []net.IP{net.ParseIP("127.0.0.1")}, nb, nb.Add(24 * time.Hour), "", ""},
		{"ok/starts tomorrow", []string{"app.test"}, nil, nb.Add(24 * time.Hour), nb.Add(48 * time.Hour), "", ""},
		{"fail/outside the constraints", []string{"example.com"}, nil, nb, nb.Add(time.Hour), "name constraints", "urn:ietf:params:acme:error:rejectedIdentifier"},
		{"fail/name not in the request", []string{"other.test"}, nil, nb, nb.Add(time.Hour), "does not ask for", ""},
		{"fail/longer than allowed", []string{"app.test"}, nil, nb, nb.Add((ca.MaxLeafDays + 1) * 24 * time.Hour), "825 days", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csrNames := tc.dns
			if strings.HasPrefix(tc.name, "fail/") && tc.wantProbl == "" {
				csrNames = []string{"app.test"}
			}
			csr := newCSR(t, csrNames, tc.ips)
			chain, err := is.Issue(ctx, wfe.IssueRequest{CSR: csr, DNSNames: tc.dns, IPAddresses: tc.ips, NotBefore: tc.nb, NotAfter: tc.na})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Issue = %v, want an error about %q", err, tc.wantErr)
				}
				if p, ok := wire.AsProblem(err); tc.wantProbl != "" && (!ok || p.Type != tc.wantProbl) {
					t.Errorf("error %v is not a %s problem", err, tc.wantProbl)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != 2 || !slices.Equal(chain[1], a.Cert.Raw) {
				t.Fatalf("chain of %d certificates, want the leaf then the root", len(chain))
			}
			leaf, err := x509.ParseCertificate(chain[0])
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(a.Cert)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: tc.nb.Add(time.Minute)}); err != nil {
				t.Fatalf("leaf does not verify against the root: %v", err)
			}
			if !leaf.NotBefore.Equal(tc.nb.Truncate(time.Second)) || !leaf.NotAfter.Equal(tc.na.Truncate(time.Second)) {
				t.Errorf("valid %v to %v, want %v to %v", leaf.NotBefore, leaf.NotAfter, tc.nb, tc.na)
			}
			if !slices.Equal(leaf.DNSNames, tc.dns) || len(leaf.IPAddresses) != len(tc.ips) {
				t.Errorf("names %v %v, want %v %v", leaf.DNSNames, leaf.IPAddresses, tc.dns, tc.ips)
			}
			if len(leaf.CRLDistributionPoints) != 0 {
				t.Errorf("leaf names CRL distribution points %v", leaf.CRLDistributionPoints)
			}
			rec, ok, err := a.Lookup(leaf.SerialNumber.Text(16))
			if err != nil || !ok {
				t.Fatalf("the CA's record has no entry for the leaf (%v)", err)
			}
			if rec.CertFile != "" || rec.Fingerprint != ca.Fingerprint(leaf) {
				t.Errorf("record entry %+v", rec)
			}
		})
	}
}

// An order the CA would have to cut short, because the root expires first, is refused
// rather than issued for less than it asked.
func TestIssueNotPastTheRoot(t *testing.T) {
	cons, err := ca.DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ca")
	// A root made ten years less two days ago expires in two days.
	made := time.Now().Add(-10*365*24*time.Hour + 48*time.Hour)
	if _, err := ca.Create(dir, ca.CreateOptions{Constraints: cons, Now: func() time.Time { return made }}); err != nil {
		t.Fatal(err)
	}
	a, err := ca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Now()
	_, err = New(a).Issue(context.Background(), wfe.IssueRequest{CSR: newCSR(t, []string{"app.test"}, nil),
		DNSNames: []string{"app.test"}, NotBefore: nb, NotAfter: nb.Add(7 * 24 * time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "beyond the root") {
		t.Fatalf("Issue = %v, want a refusal naming the root's validity", err)
	}
	if rec, err := a.Record(); err != nil || len(rec) != 0 {
		t.Errorf("a refused issuance was recorded: %v, %v", rec, err)
	}
}

func TestSignCRL(t *testing.T) {
	a := newTestCA(t)
	now := time.Now()
	der, err := New(a).SignCRL(context.Background(), wfe.CRLRequest{Number: big.NewInt(now.UnixMilli()), ThisUpdate: now,
		NextUpdate: now.Add(time.Hour), Entries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(42), RevocationTime: now, ReasonCode: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(a.Cert); err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Int64() != 42 {
		t.Errorf("entries %+v", crl.RevokedCertificateEntries)
	}
}

// Backed by an intermediate CA, the Issuer returns the leaf, the intermediate and the
// root; Replace switches to a renewed intermediate for the next order; an order past the
// intermediate's end is refused.
func TestIssueThroughIntermediate(t *testing.T) {
	a := newTestCA(t)
	ctx := context.Background()
	auth := func() *ca.Authority {
		t.Helper()
		in, err := a.IssueIntermediate(ca.IntermediateRequest{Lifetime: 10 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		b, err := a.WithIntermediate(in)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first, second := auth(), auth()
	is := New(first)
	nb := time.Now().Add(-time.Minute)
	for _, b := range []*ca.Authority{first, second} {
		is.Replace(b)
		chain, err := is.Issue(ctx, wfe.IssueRequest{CSR: newCSR(t, []string{"app.test"}, nil), DNSNames: []string{"app.test"}, NotBefore: nb, NotAfter: nb.Add(7 * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(chain) != 3 || !slices.Equal(chain[1], b.Intermediate().Raw) || !slices.Equal(chain[2], a.Cert.Raw) {
			t.Fatalf("chain of %d certificates, want the leaf, this intermediate and the root", len(chain))
		}
		leaf, err := x509.ParseCertificate(chain[0])
		if err != nil {
			t.Fatal(err)
		}
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(a.Cert)
		inters.AddCert(b.Intermediate())
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: "app.test"}); err != nil {
			t.Errorf("leaf does not verify through the intermediate: %v", err)
		}
	}
	_, err := is.Issue(ctx, wfe.IssueRequest{CSR: newCSR(t, []string{"app.test"}, nil), DNSNames: []string{"app.test"}, NotBefore: nb, NotAfter: nb.Add(11 * 24 * time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "beyond the intermediate CA's") {
		t.Errorf("Issue past the intermediate's end: %v", err)
	}
}
