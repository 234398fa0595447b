package trust

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/devca/devca/ca"
)

// Root is a devca root certificate as the stores see it: the certificate,
// its PEM encoding, a file holding that PEM (commands such as certutil and
// keytool read the root from a file) and the names derived from its
// fingerprint.
type Root struct {
	Cert *x509.Certificate
	PEM  []byte
	// File is a PEM file holding exactly Cert, readable by root and by the
	// user; command lines shown to the user refer to it.
	File string
}

// NewRoot returns the Root for cert. file must hold cert in PEM form; when
// file is empty or holds another certificate, NewRoot writes cert to
// "devca-root-<fingerprint>.pem" in dir and uses that.
func NewRoot(cert *x509.Certificate, file, dir string) (*Root, error) {
	r := &Root{Cert: cert, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}
	if file != "" {
		if data, err := os.ReadFile(file); err == nil && containsCert(data, cert) {
			r.File = file
			return r, nil
		}
	}
	r.File = filepath.Join(dir, "devca-root-"+r.sha256Hex()[:16]+".pem")
	if data, err := os.ReadFile(r.File); err == nil && bytes.Equal(data, r.PEM) {
		return r, nil
	}
	if err := ca.WriteFileAtomic(r.File, r.PEM, 0o644); err != nil {
		return nil, fmt.Errorf("saving a copy of the root for the trust stores: %w", err)
	}
	return r, nil
}

// sha256Hex returns the lowercase hex SHA-256 of the certificate.
func (r *Root) sha256Hex() string { return sha256Hex(r.Cert.Raw) }

// ID is the name devca gives the root in every store that names its
// entries: the NSS nickname and the Java alias. It carries the fingerprint,
// so two devca roots never collide and uninstall finds exactly this one.
func (r *Root) ID() string { return "devca-root-" + r.sha256Hex()[:16] }

// FileName is the name of the root in anchor folders such as
// /usr/local/share/ca-certificates; update-ca-certificates only reads
// files ending in .crt.
func (r *Root) FileName() string { return "devca-root-" + r.sha256Hex() + ".crt" }

// sha256Hex is the lowercase hex SHA-256 of der, without separators. The
// install record, the root's file names and its NSS nickname and Java alias
// use it; it is deliberately not [ca.Fingerprint]'s colon-separated
// uppercase form, which is for people to compare, because those names are
// already on users' disks and in their stores.
func sha256Hex(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// sha1Thumbprint is the uppercase hex SHA-1 of der, the "thumbprint" that
// Windows and the macOS security tool use to name one exact certificate.
func sha1Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// containsCert reports whether the PEM data holds cert, byte for byte.
func containsCert(data []byte, cert *x509.Certificate) bool {
	return containsDER(data, cert.Raw)
}

func containsDER(data, der []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" && bytes.Equal(b.Bytes, der) {
			return true
		}
	}
}

// firstCertDER returns the first certificate in PEM data.
func firstCertDER(data []byte) ([]byte, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}
