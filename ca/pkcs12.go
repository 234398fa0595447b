package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"unicode/utf8"

	"software.sslmate.com/src/go-pkcs12"
)

// DefaultP12Password is the PKCS#12 password when none is given: "changeit"
// is what Java's keytool and most Java documentation assume.
const DefaultP12Password = "changeit"

// CheckP12Password reports whether password can protect a PKCS#12 file.
// The format stores passwords as UCS-2 (RFC 7292, appendix B.1), so
// characters outside Unicode's Basic Multilingual Plane, such as most emoji,
// cannot be encoded; bytes that are not UTF-8 would be silently replaced, and
// a NUL would end the password early for other tools. Callers check before
// anything is signed or written.
func CheckP12Password(password string) error {
	if !utf8.ValidString(password) {
		return errors.New("the PKCS#12 password is not valid UTF-8 text")
	}
	for _, r := range password {
		switch {
		case r == 0:
			return errors.New("the PKCS#12 password contains a NUL character")
		case r > 0xFFFF:
			return fmt.Errorf("the PKCS#12 password contains %q (U+%04X), which the PKCS#12 format cannot encode: it allows only characters of Unicode's Basic Multilingual Plane", r, r)
		}
	}
	return nil
}

// encodeP12 bundles a leaf, its key and the chain up to the root into a password-protected
// PKCS#12 file. Modern encryption (AES-256-CBC, PBKDF2) is the default;
// legacy asks for 3DES and SHA-1, which macOS Keychain before 15, older
// Windows and Android need.
func encodeP12(leaf *Leaf, chain []*x509.Certificate, password string, legacy bool) ([]byte, error) {
	if leaf.Key == nil {
		return nil, errors.New("a PKCS#12 file needs the private key, which devca does not have for a signed request")
	}
	if err := CheckP12Password(password); err != nil {
		return nil, err
	}
	enc := pkcs12.Modern
	if legacy {
		enc = pkcs12.LegacyDES
	}
	data, err := enc.Encode(leaf.Key, leaf.Cert, chain, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12: %w", err)
	}
	return data, nil
}

// p12LeafFingerprint opens a PKCS#12 file devca wrote and returns the
// fingerprint of the certificate in it, so that renew can tell whether a
// file recorded before devca kept digests still holds what devca wrote.
func p12LeafFingerprint(data []byte, password string) (string, error) {
	_, cert, _, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return "", fmt.Errorf("opening PKCS#12: %w", err)
	}
	return Fingerprint(cert), nil
}
