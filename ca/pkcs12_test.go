package ca

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

func TestEncodeP12(t *testing.T) {
	for _, kt := range []KeyType{ECDSAP256, RSA2048} {
		a := newTestCA(t, kt)
		leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test", "127.0.0.1"), KeyType: kt})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name     string
			legacy   bool
			password string
		}{
			{"modern", false, DefaultP12Password},
			{"legacy", true, DefaultP12Password},
			{"modern other password", false, "s3cret pässword"},
			{"legacy empty password", true, ""},
		} {
			t.Run("ok/"+string(kt)+"/"+tc.name, func(t *testing.T) {
				data, err := encodeP12(leaf, []*x509.Certificate{a.Cert}, tc.password, tc.legacy)
				if err != nil {
					t.Fatal(err)
				}
				key, cert, cas, err := pkcs12.DecodeChain(data, tc.password)
				if err != nil {
					t.Fatalf("DecodeChain: %v", err)
				}
				if !cert.Equal(leaf.Cert) {
					t.Error("the PKCS#12 holds another certificate")
				}
				if len(cas) != 1 || !cas[0].Equal(a.Cert) {
					t.Errorf("the PKCS#12 holds %d CA certificates, want the root", len(cas))
				}
				if !publicKeysEqual(leaf.Cert.PublicKey, publicOf(key)) {
					t.Error("the PKCS#12 holds another key")
				}
				if _, _, _, err := pkcs12.DecodeChain(data, tc.password+"x"); err == nil {
					t.Error("DecodeChain accepted a wrong password")
				}
			})
		}
	}

	t.Run("fail/signed request has no key", func(t *testing.T) {
		a := newTestCA(t, ECDSAP256)
		leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := encodeP12(&Leaf{Cert: leaf.Cert, CertPEM: leaf.CertPEM}, []*x509.Certificate{a.Cert}, DefaultP12Password, false); err == nil {
			t.Error("EncodeP12 without a key succeeded")
		}
	})
}

func publicOf(key any) crypto.PublicKey {
	if s, ok := key.(crypto.Signer); ok {
		return s.Public()
	}
	return nil
}

// openssl reads both encodings with the default password: OpenSSL 3 needs
// no legacy provider for LegacyDES (3DES), only for RC2.
func TestEncodeP12OpenSSL(t *testing.T) {
	requireTool(t, "openssl")
	a := newTestCA(t, ECDSAP256)
	leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		legacy bool
	}{{"ok/modern", false}, {"ok/legacy", true}} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := encodeP12(leaf, []*x509.Certificate{a.Cert}, DefaultP12Password, tc.legacy)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "f.p12")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runTool(t, "openssl", "pkcs12", "-in", path, "-passin", "pass:"+DefaultP12Password, "-nokeys")
			if err != nil {
				t.Fatalf("openssl pkcs12: %v\n%s", err, out)
			}
			certs, err := ParseCertsPEM(out)
			if err != nil {
				t.Fatalf("openssl printed no certificates: %v\n%s", err, out)
			}
			if len(certs) != 2 || !certs[0].Equal(leaf.Cert) && !certs[1].Equal(leaf.Cert) {
				t.Errorf("openssl found %d certificates, want the leaf and the root", len(certs))
			}
			out, err = runTool(t, "openssl", "pkcs12", "-in", path, "-passin", "pass:wrong", "-nokeys")
			if err == nil || !strings.Contains(string(out), "verify") {
				t.Errorf("openssl accepted a wrong password: %v\n%s", err, out)
			}
		})
	}
}
