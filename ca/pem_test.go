package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKeys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]crypto.Signer{"ecdsa-p256": p256, "ecdsa-p384": p384, "rsa-2048": rsaKey, "ed25519": edKey}
}

func TestKeyPEMRoundTrip(t *testing.T) {
	for name, key := range testKeys(t) {
		t.Run("ok/pkcs8 "+name, func(t *testing.T) {
			data, err := marshalKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(data)
			if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
				t.Fatalf("marshalKeyPEM wrote %q, want one PKCS#8 PRIVATE KEY block", data)
			}
			got, err := parseKeyPEM(data)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(got.Public(), key.Public()) {
				t.Error("round trip changed the key")
			}
		})
	}

	keys := testKeys(t)
	ecKey := keys["ecdsa-p256"].(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := keys["rsa-2048"].(*rsa.PrivateKey)
	cert := newTestCA(t, ECDSAP256).CertPEM
	for _, tc := range []struct {
		name string
		data []byte
		want crypto.PublicKey
	}{
		{"ok/pkcs1 rsa", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey.Public()},
		{"ok/sec1 ec", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ecKey.Public()},
		{"ok/after a certificate and text", append(append([]byte("junk\n"), cert...), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...), ecKey.Public()},
		{"ok/openssl ec parameters block first", append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...), ecKey.Public()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKeyPEM(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(got.Public(), tc.want) {
				t.Error("parsed a different key")
			}
		})
	}

	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519DER, err := x509.MarshalPKCS8PrivateKey(x25519)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"fail/empty", nil, "no PEM private key"},
		{"fail/certificate only", cert, "no PEM private key"},
		{"fail/encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), "encrypted"},
		{"fail/bad pkcs8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), "PRIVATE KEY"},
		{"fail/bad pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: sec1}), "RSA PRIVATE KEY"},
		{"fail/sec1 labelled pkcs8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: sec1}), "PRIVATE KEY"},
		{"fail/x25519 cannot sign", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: x25519DER}), "unsupported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseKeyPEM(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestParseCertsPEM(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")})
	if err != nil {
		t.Fatal(err)
	}
	chain := append(append(append([]byte("# bundle\n"), leaf.CertPEM...), leaf.KeyPEM...), a.CertPEM...)
	certs, err := ParseCertsPEM(chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(leaf.Cert) || !certs[1].Equal(a.Cert) {
		t.Errorf("ParseCertsPEM returned %d certificates, want leaf then root", len(certs))
	}
	if _, err := parseSingleCertPEM(chain); err == nil {
		t.Error("parseSingleCertPEM accepted two certificates")
	}
	if c, err := parseSingleCertPEM(a.CertPEM); err != nil || !c.Equal(a.Cert) {
		t.Errorf("parseSingleCertPEM = %v", err)
	}
	for name, data := range map[string][]byte{
		"fail/empty":      nil,
		"fail/key only":   leaf.KeyPEM,
		"fail/bad DER":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}),
		"fail/truncated":  a.CertPEM[:len(a.CertPEM)/2],
		"fail/plain text": []byte("hello"),
	} {
		t.Run(name, func(t *testing.T) {
			if certs, err := ParseCertsPEM(data); err == nil {
				t.Errorf("ParseCertsPEM returned %d certificates, want an error", len(certs))
			}
		})
	}
}

// Fingerprint shows what openssl shows, so people can compare them.
func TestFingerprintMatchesOpenSSL(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	fp := Fingerprint(a.Cert)
	if len(fp) != 32*3-1 || strings.ToUpper(fp) != fp {
		t.Errorf("Fingerprint = %q, want 32 upper-case hex bytes separated by colons", fp)
	}
	path := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(path, a.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runTool(t, "openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha256")
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "="+fp) {
		t.Errorf("openssl says %q, devca says %s", out, fp)
	}
}

func TestCheckPublicKey(t *testing.T) {
	keys := testKeys(t)
	for name, key := range keys {
		t.Run("ok/"+name, func(t *testing.T) {
			if err := checkPublicKey(key.Public()); err != nil {
				t.Error(err)
			}
		})
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	for name, pub := range map[string]crypto.PublicKey{
		"fail/p224":    p224.Public(),
		"fail/rsa1024": rsa1024.Public(),
		"fail/x25519":  x25519.Public(),
		"fail/nil":     nil,
	} {
		t.Run(name, func(t *testing.T) {
			if err := checkPublicKey(pub); err == nil {
				t.Error("accepted")
			}
		})
	}
	if got := describeKey(keys["rsa-2048"].Public()); got != "RSA 2048" {
		t.Errorf("describeKey = %q", got)
	}
	if got := describeKey(keys["ecdsa-p384"].Public()); got != "ECDSA P-384" {
		t.Errorf("describeKey = %q", got)
	}
	if got := describeKey(keys["ed25519"].Public()); got != "Ed25519" {
		t.Errorf("describeKey = %q", got)
	}
}
