package ca

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
	"testing"
)

// TestSignCSRHostileCorpus covers requests built to trick a signer: each is
// refused with a clear error or signed as an ordinary leaf for permitted
// names, never with what it asked for beyond its names and key.
func TestSignCSRHostileCorpus(t *testing.T) {
	auth := newTestCA(t, ECDSAP256)
	marshal := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type basicConstraints struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	bcOID := asn1.ObjectIdentifier{2, 5, 29, 19}
	sanOID := asn1.ObjectIdentifier{2, 5, 29, 17}
	ekuOID := asn1.ObjectIdentifier{2, 5, 29, 37}
	dnsSAN := func(name string) []byte {
		return marshal([]asn1.RawValue{{Tag: 2, Class: asn1.ClassContextSpecific, Bytes: []byte(name)}})
	}
	huge := make([]string, 5000)
	for i := range huge {
		huge[i] = fmt.Sprintf("h%d.app.test", i)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)

	tests := []struct {
		name    string
		der     func() []byte
		wantErr string // empty: must be signed as an ordinary leaf
	}{
		{"ok/CA:TRUE with path length 10", func() []byte {
			return newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"app.test"},
				ExtraExtensions: []pkix.Extension{{Id: bcOID, Critical: true, Value: marshal(basicConstraints{true, 10})}}})
		}, ""},
		{"ok/path length without CA", func() []byte {
			return newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"app.test"},
				ExtraExtensions: []pkix.Extension{{Id: bcOID, Value: marshal(basicConstraints{false, 3})}}})
		}, ""},
		{"ok/codeSigning and anyExtendedKeyUsage requested", func() []byte {
			return newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"app.test"},
				ExtraExtensions: []pkix.Extension{{Id: ekuOID, Value: marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 3}, {2, 5, 29, 37, 0}})}}})
		}, ""},
		{"ok/ed25519 key", func() []byte {
			return newCSR(t, edKey, &x509.CertificateRequest{DNSNames: []string{"app.test"}})
		}, ""},
		{"fail/duplicated SAN extension smuggling a second name", func() []byte {
			return newCSR(t, nil, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{
				{Id: sanOID, Value: dnsSAN("app.test")}, {Id: sanOID, Value: dnsSAN("www.example.com")}}})
		}, "duplicate"},
		{"fail/duplicated basicConstraints", func() []byte {
			bc := pkix.Extension{Id: bcOID, Critical: true, Value: marshal(basicConstraints{true, 0})}
			return newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"app.test"}, ExtraExtensions: []pkix.Extension{bc, bc}})
		}, "duplicate"},
		{"fail/5000 names", func() []byte {
			return newCSR(t, nil, &x509.CertificateRequest{DNSNames: huge})
		}, "at most 100"},
		{"fail/names outside the constraints", func() []byte {
			return newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"app.test", "accounts.google.com"}})
		}, "outside the root's name constraints"},
		{"fail/wildcard for a whole public suffix", func() []byte {
			return newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"*.com"}})
		}, "outside the root's name constraints"},
		{"fail/broken signature", func() []byte {
			der := newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"app.test"}})
			der[len(der)-5] ^= 0xff
			return der
		}, "signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			csr, err := ParseCSR(tc.der())
			var leaf *Leaf
			if err == nil {
				leaf, _, err = signCSR(auth, csr, 0, false)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SignCSR: %v", err)
			}
			c := leaf.Cert
			if c.IsCA || c.MaxPathLen > 0 || c.KeyUsage&x509.KeyUsageCertSign != 0 {
				t.Errorf("leaf IsCA=%v MaxPathLen=%d KeyUsage=%v", c.IsCA, c.MaxPathLen, c.KeyUsage)
			}
			if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || len(c.UnknownExtKeyUsage) != 0 {
				t.Errorf("leaf EKU = %v %v, want serverAuth only", c.ExtKeyUsage, c.UnknownExtKeyUsage)
			}
		})
	}
}
