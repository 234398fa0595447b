package ca

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/netip"
	"testing"
	"unicode/utf8"
)

// FuzzParseName checks that name parsing never panics, that what it accepts
// fits in a certificate, and that a canonical Value is a fixed point: parsing
// it again gives the same name, so a recorded name renews to the same
// certificate. Seeds in testdata/fuzz/FuzzParseName run with plain go test.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"localhost", "*.app.test", "bücher.test", "[::1]", "::ffff:10.0.0.1", "dev@app.test",
		"spiffe://app.test/api", "https://APP.test:8443/x?y=1#z", "a..b", "fe80::1%eth0", "xn--bcher-kva.test",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			var ne *NameError
			if !errors.As(err, &ne) || ne.Input != s {
				t.Fatalf("ParseName(%q) err = %v, want a *NameError naming the input", s, err)
			}
			return
		}
		if n.Value == "" || !utf8.ValidString(n.Value) {
			t.Fatalf("ParseName(%q) = %q", s, n.Value)
		}
		switch n.Kind {
		case DNSName:
			if len(n.Value) > maxNameLen {
				t.Fatalf("ParseName(%q) = %d bytes, over %d", s, len(n.Value), maxNameLen)
			}
			for i := 0; i < len(n.Value); i++ {
				if n.Value[i] >= utf8.RuneSelf {
					t.Fatalf("ParseName(%q) = %q, not ASCII", s, n.Value)
				}
			}
			if _, err := netip.ParseAddr(n.Value); err == nil {
				t.Fatalf("ParseName(%q) = DNS name %q that is an IP address", s, n.Value)
			}
		case IPAddress:
			if !n.IP.IsValid() || n.IP.Zone() != "" || n.IP.Is4In6() || n.IP.String() != n.Value {
				t.Fatalf("ParseName(%q) = IP %q (%v)", s, n.Value, n.IP)
			}
		case EmailAddress:
		case URIName:
			if n.URI == nil || n.URI.Host == "" || n.URI.User != nil {
				t.Fatalf("ParseName(%q) = URI %q (%#v)", s, n.Value, n.URI)
			}
		default:
			t.Fatalf("ParseName(%q) has kind %d", s, n.Kind)
		}
		again, err := ParseName(n.Value)
		if err != nil {
			t.Fatalf("ParseName(%q) = %q, which does not parse again: %v", s, n.Value, err)
		}
		if again.Kind != n.Kind || again.Value != n.Value {
			t.Fatalf("ParseName(%q) = %s %q, but that parses as %s %q", s, n.Kind, n.Value, again.Kind, again.Value)
		}
	})
}

// FuzzParseCSR checks that reading untrusted requests never panics, and
// that CSRNames on whatever parses never panics either.
func FuzzParseCSR(f *testing.F) {
	der := newCSR(f, nil, &x509.CertificateRequest{DNSNames: []string{"app.test"}})
	f.Add(der)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{0x30, 0x82, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			return
		}
		CSRNames(csr)
		IgnoredExtensions(csr.Extensions)
	})
}
