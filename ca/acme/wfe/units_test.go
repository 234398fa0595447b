package wfe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca/acme/wire"
)

func TestNormalizeIdentifiers(t *testing.T) {
	dns := func(v string) wire.Identifier { return wire.Identifier{Type: wire.IdentifierDNS, Value: v} }
	ip := func(v string) wire.Identifier { return wire.Identifier{Type: wire.IdentifierIP, Value: v} }
	for _, tc := range []struct {
		name string
		in   wire.Identifier
		want string // normalized value, or the problem type
	}{
		{"ok/lowercased", dns("WWW.Example.TEST"), "www.example.test"},
		{"ok/single label", dns("localhost"), "localhost"},
		{"ok/wildcard", dns("*.example.test"), "*.example.test"},
		{"ok/punycode", dns("xn--bcher-kva.test"), "xn--bcher-kva.test"},
		{"ok/ipv4", ip("127.0.0.1"), "127.0.0.1"},
		{"ok/ipv6", ip("::1"), "::1"},
		{"fail/trailing dot", dns("a.test."), "rejectedIdentifier"},
		{"fail/inner wildcard", dns("a.*.test"), "rejectedIdentifier"},
		{"fail/wildcard on a TLD", dns("*.test"), "rejectedIdentifier"},
		{"fail/unicode", dns("bücher.test"), "rejectedIdentifier"},
		{"fail/hyphen", dns("-a.test"), "rejectedIdentifier"},
		{"fail/empty label", dns("a..test"), "rejectedIdentifier"},
		{"fail/ip as dns", dns("10.0.0.1"), "rejectedIdentifier"},
		{"fail/long label", dns(strings.Repeat("a", 64) + ".test"), "rejectedIdentifier"},
		{"fail/not an ip", ip("localhost"), "malformed"},
		{"fail/ipv6 not canonical", ip("0:0::1"), "malformed"},
		{"fail/ipv6 zone", ip("fe80::1%eth0"), "malformed"},
		{"fail/email", wire.Identifier{Type: "email", Value: "a@b.test"}, "unsupportedIdentifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalizeIdentifiers([]wire.Identifier{tc.in})
			if strings.HasPrefix(tc.name, "ok/") {
				if err != nil || got[0].Value != tc.want {
					t.Fatalf("got %v, %v; want %q", got, err, tc.want)
				}
				return
			}
			p, ok := wire.AsProblem(err)
			if !ok || p.Type != wire.ErrorNS+tc.want || len(p.Subproblems) != 1 || p.Subproblems[0].Identifier.Value != tc.in.Value {
				t.Fatalf("got %v, want %s naming %q", err, tc.want, tc.in.Value)
			}
		})
	}
}

func TestValidityRequest(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	w := &WFE{cfg: Config{Profiles: DefaultProfiles()}}
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	for _, tc := range []struct {
		name      string
		req       wire.OrderRequest
		profile   string
		wantError string
	}{
		{"ok/nothing asked", wire.OrderRequest{}, "default", ""},
		{"ok/within the lifetime", wire.OrderRequest{NotBefore: at(0), NotAfter: at(7 * 24 * time.Hour)}, "default", ""},
		{"ok/notAfter only", wire.OrderRequest{NotAfter: at(time.Hour)}, "shortlived", ""},
		{"ok/a little in the past", wire.OrderRequest{NotBefore: at(-30 * time.Minute)}, "default", ""},
		{"fail/beyond the lifetime", wire.OrderRequest{NotAfter: at(25 * time.Hour)}, "shortlived", `profile "shortlived" issues for at most 24h0m0s`},
		{"fail/notAfter before notBefore", wire.OrderRequest{NotBefore: at(time.Hour), NotAfter: at(0)}, "default", "not after notBefore"},
		{"fail/far past", wire.OrderRequest{NotBefore: at(-48 * time.Hour)}, "default", "in the past"},
		{"fail/far future", wire.OrderRequest{NotBefore: at(30 * 24 * time.Hour)}, "default", "in the future"},
		{"fail/not RFC 3339", wire.OrderRequest{NotAfter: "tomorrow"}, "default", `notAfter "tomorrow"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := w.validityRequest(tc.req, tc.profile, now)
			if tc.wantError == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantError) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantError)
			}
		})
	}
}

func csrBase64(t testing.TB, tmpl *x509.CertificateRequest) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(der)
}

func TestCheckCSR(t *testing.T) {
	ids := []wire.Identifier{{Type: wire.IdentifierDNS, Value: "a.test"}, {Type: wire.IdentifierIP, Value: "10.0.0.1"}}
	for _, tc := range []struct {
		name    string
		tmpl    *x509.CertificateRequest
		wantErr string
	}{
		{"ok/same names", &x509.CertificateRequest{DNSNames: []string{"A.test"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}, ""},
		{"ok/common name among them", &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.test"}, DNSNames: []string{"a.test"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1").To4()}}, ""},
		{"fail/missing", &x509.CertificateRequest{DNSNames: []string{"a.test"}}, "missing [10.0.0.1]"},
		{"fail/extra", &x509.CertificateRequest{DNSNames: []string{"a.test", "b.test"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}, "not in the order [b.test]"},
		{"fail/extra common name", &x509.CertificateRequest{Subject: pkix.Name{CommonName: "c.test"}, DNSNames: []string{"a.test"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}, "[c.test]"},
		{"fail/email", &x509.CertificateRequest{DNSNames: []string{"a.test"}, EmailAddresses: []string{"a@a.test"}}, "email or URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr, err := parseCSR(csrBase64(t, tc.tmpl))
			if err != nil {
				t.Fatal(err)
			}
			dns, ips, err := checkCSRNames(csr, ids)
			if tc.wantErr == "" {
				if err != nil || len(dns) != 1 || len(ips) != 1 {
					t.Fatalf("got %v %v %v", dns, ips, err)
				}
				return
			}
			if p, ok := wire.AsProblem(err); !ok || p.Type != wire.ErrorNS+"badCSR" || !strings.Contains(p.Detail, tc.wantErr) {
				t.Fatalf("got %v, want badCSR containing %q", err, tc.wantErr)
			}
		})
	}
	for _, bad := range []string{"!!", "AAAA", csrBase64(t, &x509.CertificateRequest{})[:40]} {
		if _, err := parseCSR(bad); err == nil {
			t.Errorf("parseCSR(%q) accepted it", bad)
		}
	}
}

// FuzzCSR checks that no finalize csr field makes the server panic, and that an accepted
// CSR asks for exactly the order's names. Seeds: testdata/fuzz/FuzzCSR.
func FuzzCSR(f *testing.F) {
	f.Add(csrBase64(f, &x509.CertificateRequest{DNSNames: []string{"a.test"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}))
	ids := []wire.Identifier{{Type: wire.IdentifierDNS, Value: "a.test"}, {Type: wire.IdentifierIP, Value: "10.0.0.1"}}
	f.Fuzz(func(t *testing.T, b64 string) {
		csr, err := parseCSR(b64)
		if err != nil {
			if p, ok := wire.AsProblem(err); !ok || p.Type != wire.ErrorNS+"badCSR" {
				t.Fatalf("parseCSR error %v is not badCSR", err)
			}
			return
		}
		dns, ips, err := checkCSRNames(csr, ids)
		if err == nil && (len(dns) != 1 || len(ips) != 1) {
			t.Fatalf("accepted names %v %v", dns, ips)
		}
	})
}
