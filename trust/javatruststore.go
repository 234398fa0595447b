package trust

import (
	"crypto/x509"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// JavaTrustStore returns a PKCS#12 trust store holding only root, for Java
// programs started with -Djavax.net.ssl.trustStore=FILE, so that they trust
// devca without any change to the JDK. The entry's alias is the root's ID.
// password protects the file's integrity; Java's convention is "changeit".
//
// The file uses go-pkcs12's Modern encoder (AES-256-CBC, PBKDF2 with
// SHA-256), which Java reads since 8u301, 11.0.12 and 17. Note that such a
// trust store replaces the JDK's roots for that program rather than adding
// to them.
func JavaTrustStore(root *x509.Certificate, password string) ([]byte, error) {
	r := &Root{Cert: root}
	data, err := pkcs12.Modern.EncodeTrustStoreEntries([]pkcs12.TrustStoreEntry{{Cert: root, FriendlyName: r.ID()}}, password)
	if err != nil {
		return nil, fmt.Errorf("encoding Java trust store: %w", err)
	}
	return data, nil
}
