package ca

import (
	"crypto/x509"
	"errors"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// DefaultP12Password is the PKCS#12 password when none is given: "changeit"
// is what Java's keytool and most Java documentation assume.
const DefaultP12Password = "changeit"

// EncodeP12 bundles a leaf, its key and the root into a password-protected
// PKCS#12 file. Modern encryption (AES-256-CBC, PBKDF2) is the default;
// legacy asks for 3DES and SHA-1, which macOS Keychain before 15, older
// Windows and Android need.
func EncodeP12(leaf *Leaf, root *x509.Certificate, password string, legacy bool) ([]byte, error) {
	if leaf.Key == nil {
		return nil, errors.New("a PKCS#12 file needs the private key, which devca does not have for a signed request")
	}
	enc := pkcs12.Modern
	if legacy {
		enc = pkcs12.LegacyDES
	}
	data, err := enc.Encode(leaf.Key, leaf.Cert, []*x509.Certificate{root}, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12: %w", err)
	}
	return data, nil
}
