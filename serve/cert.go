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
	"sync"
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

// CachedLeaf is the certificate LeafCertificate returns.
type CachedLeaf struct {
	Cert tls.Certificate
	// Reused says the certificate came from the cache.
	Reused bool
	// NotSaved, when not nil, says why a newly issued certificate could
	// not be cached (a read-only CA home): it serves this run only, and the
	// next start issues another.
	NotSaved error
	// saved waits for the cache write of a newly issued certificate; nil
	// when there is none.
	saved func() error
}

// Wait waits until a newly issued certificate is cached, if its write is
// under way, and says why the certificate is not cached: NotSaved, or the
// write's error (a full disk). Nil means it is cached, or came from the
// cache. Wait may be called any number of times.
func (c CachedLeaf) Wait() error {
	if c.NotSaved != nil {
		return c.NotSaved
	}
	if c.saved != nil {
		return c.saved()
	}
	return nil
}

// LeafCertificate returns a certificate for names from the cache in the CA
// home, or issues and caches a new one when the cached one is missing,
// unreadable, not issued by a's root, expires within RenewBefore, or lacks
// one of names.
//
// The check and the replacement happen under the CA home's lock, so two
// devca serve processes starting together issue one certificate, not two.
// The cache only saves work: when the home cannot be locked or written, a
// valid cached certificate is still used, or a new one is issued and kept
// in memory, and NotSaved says so.
func LeafCertificate(a *ca.Authority, names ca.Names, now time.Time) (CachedLeaf, error) {
	// The cache is written in the background, still under the CA lock (so
	// two serves starting together issue one certificate): writing it
	// fsyncs twice, and the server need not wait for that to answer.
	type issued struct {
		res CachedLeaf
		err error
	}
	ready := make(chan issued, 1)
	saved := make(chan error, 1)
	locked := make(chan struct{})
	go func() {
		err := a.WithLock(func() error {
			close(locked)
			res, data, err := leafCertificateLocked(a, names, now)
			if err != nil || res.Reused {
				ready <- issued{res, err}
				return nil
			}
			res.saved = sync.OnceValue(func() error { return <-saved })
			ready <- issued{res, nil}
			saved <- saveLeaf(a, data)
			return nil
		})
		if err != nil {
			// Locking failed, so fn never ran.
			ready <- issued{err: err}
		}
	}()
	got := <-ready
	select {
	case <-locked:
		return got.res, got.err
	default:
	}
	// Without the lock nothing is written: another devca may be replacing
	// the file.
	lockErr := got.err
	res, _, err := leafCertificateLocked(a, names, now)
	if err == nil && !res.Reused {
		res.NotSaved = lockErr
	}
	return res, err
}
func leafCertificateLocked(a *ca.Authority, names ca.Names, now time.Time) (CachedLeaf, []byte, error) {
	path := filepath.Join(a.Dir, CertDir, CertFile)
	if c, err := loadCached(path, a.Cert, names, now); err == nil {
		return CachedLeaf{Cert: c, Reused: true}, nil, nil
	}
	leaf, err := a.Issue(ca.LeafRequest{Names: names})
	if err != nil {
		return CachedLeaf{}, nil, fmt.Errorf("issuing the serve certificate: %w", err)
	}
	cert, err := leaf.TLSCertificate()
	if err != nil {
		return CachedLeaf{}, nil, fmt.Errorf("issuing the serve certificate: %w", err)
	}
	return CachedLeaf{Cert: cert}, slices.Concat(leaf.CertPEM, leaf.KeyPEM), nil
}

// saveLeaf writes a newly issued serve certificate and its key to the cache.
// The caller holds the CA lock.
func saveLeaf(a *ca.Authority, data []byte) error {
	path := filepath.Join(a.Dir, CertDir, CertFile)
	if err := os.MkdirAll(filepath.Dir(path), ca.DirPerm); err != nil {
		return fmt.Errorf("saving the serve certificate: %w", err)
	}
	if err := ca.WriteFileAtomic(path, data, ca.KeyPerm); err != nil {
		return fmt.Errorf("saving the serve certificate: %w", err)
	}
	return nil
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

// MaxKeyPairFileSize bounds what LoadKeyPair reads from each file: a
// certificate chain or a key is a few kilobytes, and a larger file is a
// mistake (a wrong path, a device) that must not fill memory.
const MaxKeyPairFileSize = 1 << 20

// LoadKeyPair reads a certificate the user already has (--cert-file and
// --key-file) and checks that the key belongs to it. Each must be a regular
// file of at most MaxKeyPairFileSize bytes.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := ca.ReadInputFile(certFile, MaxKeyPairFileSize)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading certificate %q: %w", certFile, err)
	}
	keyPEM, err := ca.ReadInputFile(keyFile, MaxKeyPairFileSize)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading key %q: %w", keyFile, err)
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
