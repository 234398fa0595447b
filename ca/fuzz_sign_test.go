package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"path/filepath"
	"testing"
)

// FuzzSignCSR feeds untrusted requests through the whole signing path of a
// name-constrained CA. Whatever the request says, the result is either an
// error or an ordinary leaf: not a CA, only names the constraints permit,
// and verifiable against the root.
func FuzzSignCSR(f *testing.F) {
	cons, err := DefaultConstraints(nil)
	if err != nil {
		f.Fatal(err)
	}
	auth, err := Create(filepath.Join(f.TempDir(), "ca"), CreateOptions{Constraints: cons})
	if err != nil {
		f.Fatal(err)
	}
	bc, _ := asn1.Marshal(struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}{true, 5})
	for _, tmpl := range []*x509.CertificateRequest{
		{DNSNames: []string{"app.test", "*.app.test"}},
		{Subject: pkix.Name{CommonName: "cn.test"}},
		{DNSNames: []string{"example.com"}},
		{DNSNames: []string{"ca.test"}, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bc}}},
	} {
		f.Add(newCSR(f, nil, tmpl))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			return
		}
		leaf, _, err := signCSR(auth, csr, 0, false)
		if err != nil {
			return
		}
		if leaf.Cert.IsCA || leaf.Cert.MaxPathLen > 0 {
			t.Fatalf("signed a CA certificate: IsCA=%v MaxPathLen=%d", leaf.Cert.IsCA, leaf.Cert.MaxPathLen)
		}
		if leaf.Cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
			t.Fatalf("signed a leaf with key usage %v", leaf.Cert.KeyUsage)
		}
		pool := x509.NewCertPool()
		pool.AddCert(auth.Cert)
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("signed leaf does not verify: %v", err)
		}
	})
}

// FuzzParsePEM checks that the PEM readers used on imported and on-disk
// files never panic, whatever the bytes.
func FuzzParsePEM(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyPEM, _ := marshalKeyPEM(key)
	f.Add(keyPEM)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0x00}}))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{0x30, 0x00}}))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := parseKeyPEM(data); err == nil && k == nil {
			t.Fatal("parseKeyPEM returned neither a key nor an error")
		}
		if certs, err := ParseCertsPEM(data); err == nil && len(certs) == 0 {
			t.Fatal("ParseCertsPEM returned no certificate and no error")
		}
	})
}

// FuzzDecodeP12 checks that importing an untrusted PKCS#12 file never
// panics, and that whatever it accepts is a CA whose key matches.
func FuzzDecodeP12(f *testing.F) {
	auth, err := Create(filepath.Join(f.TempDir(), "ca"), CreateOptions{})
	if err != nil {
		f.Fatal(err)
	}
	p12, err := auth.ExportP12("pw")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p12, "pw")
	f.Add(p12, "wrong")
	f.Add([]byte{0x30, 0x80}, "")
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		root, err := DecodeP12(data, password)
		if err != nil {
			return
		}
		if !root.Cert.IsCA {
			t.Fatal("DecodeP12 accepted a certificate that is not a CA")
		}
		if !publicKeysEqual(root.Key.Public(), root.Cert.PublicKey) {
			t.Fatal("DecodeP12 accepted a key that does not belong to the root")
		}
	})
}
