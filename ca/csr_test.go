package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func newCSR(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCSR(t *testing.T) {
	der := newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"app.test"}})
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	for name, data := range map[string][]byte{
		"ok/der":            der,
		"ok/pem":            pemData,
		"ok/new pem header": pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der}),
		"ok/pem after text": append([]byte("Subject: app\n"), pemData...),
	} {
		t.Run(name, func(t *testing.T) {
			csr, err := ParseCSR(data)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(csr.DNSNames, []string{"app.test"}) {
				t.Errorf("DNSNames = %q", csr.DNSNames)
			}
		})
	}

	badSig := append([]byte(nil), der...)
	badSig[len(badSig)-1] ^= 0x01
	otherCSR, err := x509.ParseCertificateRequest(newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"app.test"}}))
	if err != nil {
		t.Fatal(err)
	}
	// The request signed by one key but carrying another's public key.
	parsed, _ := x509.ParseCertificateRequest(der)
	swapped := mustMarshal(t, struct {
		Raw       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: otherCSR.RawTBSCertificateRequest}, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, asn1.BitString{Bytes: parsed.Signature, BitLength: 8 * len(parsed.Signature)}})
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"fail/bad signature", badSig, "signature"},
		{"fail/signature of another request", swapped, "signature"},
		{"fail/certificate instead", newTestCA(t, ECDSAP256).CertPEM, "CERTIFICATE"},
		{"fail/damaged pem", pemData[:len(pemData)/2], "damaged"},
		{"fail/empty", nil, "decoding"},
		{"fail/junk", []byte("junk"), "decoding"},
		{"fail/truncated der", der[:len(der)-10], "decoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCSR(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// A CSR gets only its names and key signed: a request for CA:TRUE, for
// certSign or for name constraints of its own yields an ordinary leaf.
func TestSignCSRIgnoresRequestedExtensions(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	bc := mustMarshal(t, struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}{true, 5})
	ku := mustMarshal(t, asn1.BitString{Bytes: []byte{0x06}, BitLength: 7}) // keyCertSign|cRLSign
	nc := mustMarshal(t, struct {
		Permitted []asn1.RawValue `asn1:"optional,tag:0"`
	}{[]asn1.RawValue{{FullBytes: mustMarshal(t, struct {
		Base asn1.RawValue
	}{asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("example.com")}})}}})
	exts := []pkix.Extension{
		{Id: oidBasicConstraints, Critical: true, Value: bc},
		{Id: oidKeyUsage, Critical: true, Value: ku},
		{Id: oidNameConstraints, Critical: true, Value: nc},
		{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}},
		{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{0x05, 0x00}},
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der := newCSR(t, key, &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "evil root", Organization: []string{"Evil"}},
		DNSNames:        []string{"app.test"},
		ExtraExtensions: exts,
	})
	csr, err := ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	ignored := IgnoredExtensions(csr.Extensions)
	for _, want := range []string{"basicConstraints", "keyUsage", "nameConstraints", "TLS feature (must-staple)", "1.2.3.4"} {
		if !slices.Contains(ignored, want) {
			t.Errorf("IgnoredExtensions = %q, want %q in it", ignored, want)
		}
	}
	if slices.ContainsFunc(ignored, func(s string) bool { return strings.Contains(s, "2.5.29.17") || strings.Contains(s, "subjectAlt") }) {
		t.Errorf("IgnoredExtensions lists the honoured SAN extension: %q", ignored)
	}

	leaf, warnings, err := signCSR(a, csr, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q", warnings)
	}
	c := leaf.Cert
	checkLeafProfile(t, a, c)
	if c.IsCA || c.MaxPathLen > 0 {
		t.Errorf("signed CSR is a CA: IsCA %v, MaxPathLen %d", c.IsCA, c.MaxPathLen)
	}
	if c.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Error("signed CSR may sign certificates")
	}
	if len(c.PermittedDNSDomains) != 0 {
		t.Error("signed CSR carries its own name constraints")
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{1, 2, 3, 4}) || e.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}) {
			t.Errorf("requested extension %v was copied", e.Id)
		}
	}
	if c.Subject.CommonName != "app.test" || len(c.Subject.Organization) != 1 || c.Subject.Organization[0] == "Evil" {
		t.Errorf("subject %q was taken from the request", c.Subject)
	}
	if !publicKeysEqual(key.Public(), c.PublicKey) {
		t.Error("the certificate does not certify the request's key")
	}
	if leaf.Key != nil || leaf.KeyPEM != nil {
		t.Error("a signed CSR's leaf carries a key")
	}
	verifyLeaf(t, a, leaf, x509.VerifyOptions{DNSName: "app.test"})
}

func TestSignCSR(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	var many []string
	for i := range MaxNames + 1 {
		many = append(many, fmt.Sprintf("h%d.app.test", i))
	}

	for _, tc := range []struct {
		name   string
		key    crypto.Signer
		tmpl   x509.CertificateRequest
		client bool
		days   int
		want   []string // SANs as ParseNames values
		ku     x509.KeyUsage
	}{
		{name: "ok/every SAN kind", tmpl: x509.CertificateRequest{
			DNSNames: []string{"App.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
			EmailAddresses: []string{"dev@app.test"}, URIs: []*url.URL{mustURL("spiffe://app.test/api")},
		}, want: []string{"app.test", "127.0.0.1", "::1", "dev@app.test", "spiffe://app.test/api"}},
		{name: "ok/cn only", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "legacy.test"}}, want: []string{"legacy.test"}},
		{name: "ok/cn ignored when SANs exist", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}, DNSNames: []string{"app.test"}}, want: []string{"app.test"}},
		{name: "ok/duplicates dropped", tmpl: x509.CertificateRequest{DNSNames: []string{"app.test", "APP.test"}}, want: []string{"app.test"}},
		{name: "ok/rsa key", key: rsa2048, tmpl: x509.CertificateRequest{DNSNames: []string{"app.test"}}, want: []string{"app.test"}},
		{name: "ok/client and days", tmpl: x509.CertificateRequest{DNSNames: []string{"app.test"}}, client: true, days: 7, want: []string{"app.test"}},
		{name: "ok/exactly the maximum of names", tmpl: x509.CertificateRequest{DNSNames: many[:MaxNames]}, want: many[:MaxNames]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := tc.tmpl
			csr, err := ParseCSR(newCSR(t, tc.key, &tmpl))
			if err != nil {
				t.Fatal(err)
			}
			leaf, _, err := signCSR(a, csr, tc.days, tc.client)
			if err != nil {
				t.Fatal(err)
			}
			c := leaf.Cert
			checkLeafProfile(t, a, c)
			var got []string
			got = append(got, c.DNSNames...)
			for _, ip := range c.IPAddresses {
				got = append(got, ip.String())
			}
			got = append(got, c.EmailAddresses...)
			for _, u := range c.URIs {
				got = append(got, u.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("SANs = %q, want %q", got, tc.want)
			}
			if tc.client != slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
				t.Errorf("ExtKeyUsage = %v, client %v", c.ExtKeyUsage, tc.client)
			}
			if tc.days != 0 && c.NotAfter.Sub(c.NotBefore).Hours() != float64(24*tc.days) {
				t.Errorf("validity %v, want %d days", c.NotAfter.Sub(c.NotBefore), tc.days)
			}
		})
	}

	for _, tc := range []struct {
		name string
		key  crypto.Signer
		tmpl x509.CertificateRequest
		want string
		as   any
	}{
		{name: "fail/outside constraints", tmpl: x509.CertificateRequest{DNSNames: []string{"app.test", "www.example.com"}}, as: new(*ConstraintError)},
		{name: "fail/ip outside constraints", tmpl: x509.CertificateRequest{IPAddresses: []net.IP{net.ParseIP("8.8.8.8")}}, as: new(*ConstraintError)},
		{name: "fail/cn outside constraints", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}}, as: new(*ConstraintError)},
		{name: "fail/bad SAN", tmpl: x509.CertificateRequest{DNSNames: []string{"*.*.test"}}, as: new(*NameError)},
		{name: "fail/bad cn", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "my laptop"}}, as: new(*NameError)},
		{name: "fail/no names", tmpl: x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"x"}}}, want: "no host"},
		{name: "fail/too many names", tmpl: x509.CertificateRequest{DNSNames: many}, want: "at most 100"},
		{name: "fail/rsa-1024 key", key: rsa1024, tmpl: x509.CertificateRequest{DNSNames: []string{"app.test"}}, want: "1024 bits"},
		{name: "fail/p224 key", key: p224, tmpl: x509.CertificateRequest{DNSNames: []string{"app.test"}}, want: "P-224"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := tc.tmpl
			csr, err := ParseCSR(newCSR(t, tc.key, &tmpl))
			if err != nil {
				t.Fatal(err)
			}
			leaf, _, err := signCSR(a, csr, 0, false)
			if err == nil {
				t.Fatalf("SignCSR issued %v", leaf.Cert.DNSNames)
			}
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("err = %v (%T), want %T", err, err, tc.as)
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// signCSR signs csr with no output files, as the older SignCSR did, and
// returns the leaf and the name warnings.
func signCSR(a *Authority, csr *x509.CertificateRequest, days int, client bool) (*Leaf, []string, error) {
	is, err := a.SignCSR(CSRRequest{CSR: csr, Days: days, Client: client}, Files{})
	if err != nil {
		return nil, nil, err
	}
	return is.Leaf, is.Warnings, nil
}
