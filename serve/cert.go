package serve

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devca/devca/ca"
)

// CertDir is the folder of a CA home where devca serve keeps its own
// certificate, and CertFile the file there: the certificate and its key in
// one PEM file, so that one atomic write replaces both.
const (
	CertDir  = "serve"
	CertFile = "serve.pem"
)

// RenewBefore is how long before expiry a cached serve certificate is
// replaced by a new one.
const RenewBefore = 30 * 24 * time.Hour

// LeafCertificate returns a certificate for names from the cache in the CA
// home, or issues and caches a new one when the cached one is missing,
// unreadable, not issued by a's root, expires within RenewBefore, or lacks
// one of names. reused reports whether the cached certificate was used.
//
// The check and the replacement happen under the CA home's lock, so two
// devca serve processes starting together issue one certificate, not two.
func LeafCertificate(a *ca.Authority, names ca.Names, now time.Time) (cert tls.Certificate, reused bool, err error) {
	err = a.WithLock(func() error {
		cert, reused, err = leafCertificateLocked(a, names, now)
		return err
	})
	return cert, reused, err
}

func leafCertificateLocked(a *ca.Authority, names ca.Names, now time.Time) (cert tls.Certificate, reused bool, err error) {
	path := filepath.Join(a.Dir, CertDir, CertFile)
	if c, err := loadCached(path, a.Cert, names, now); err == nil {
		return c, true, nil
	}
	leaf, err := a.Issue(ca.LeafRequest{Names: names})
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("issuing the serve certificate: %w", err)
	}
	cert, err = leaf.TLSCertificate()
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("issuing the serve certificate: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), ca.DirPerm); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("saving the serve certificate: %w", err)
	}
	data := slices.Concat(leaf.CertPEM, leaf.KeyPEM)
	if err := ca.WriteFileAtomic(path, data, ca.KeyPerm); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("saving the serve certificate: %w", err)
	}
	return cert, false, nil
}

// errStale says a cached certificate cannot be reused; the caller issues a
// new one, so the reason is never shown.
var errStale = errors.New("cached certificate cannot be reused")

func loadCached(path string, root *x509.Certificate, names ca.Names, now time.Time) (tls.Certificate, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return tls.Certificate{}, err
	}
	// Like the CA key, the serve key must be a private regular file.
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return tls.Certificate{}, errStale
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, err
	}
	var certPEM, keyPEM []byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		enc := pem.EncodeToMemory(b)
		if b.Type == "CERTIFICATE" {
			certPEM = append(certPEM, enc...)
		} else if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			keyPEM = enc
		}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := c.Leaf
	if now.Add(RenewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return tls.Certificate{}, errStale
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return tls.Certificate{}, errStale
	}
	for _, n := range names {
		if !covers(leaf, n) {
			return tls.Certificate{}, errStale
		}
	}
	return c, nil
}

// covers reports whether leaf lists n among its names exactly.
func covers(leaf *x509.Certificate, n ca.Name) bool {
	switch n.Kind {
	case ca.IPAddress:
		ip := net.IP(n.IP.AsSlice())
		return slices.ContainsFunc(leaf.IPAddresses, ip.Equal)
	case ca.DNSName:
		return slices.Contains(leaf.DNSNames, n.Value)
	}
	return false
}

// LoadKeyPair reads a certificate the user already has (--cert-file and
// --key-file) and checks that the key belongs to it.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading key: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading %q and %q: %w", certFile, keyFile, err)
	}
	return c, nil
}

// SystemTrusts reports whether the system's trust store, as Go reads it,
// trusts root: whether browsers and tools on this machine will accept
// certificates it issues without a warning (Firefox, with its own store,
// may still differ).
func SystemTrusts(root *x509.Certificate) bool {
	_, err := root.Verify(x509.VerifyOptions{})
	return err == nil
}
