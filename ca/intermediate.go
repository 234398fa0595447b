package ca

// # Intermediate CAs
//
// A server that signs for a team should not hold the root's key: a stolen
// disk would give away a key that every teammate trusts for ten years.
// [Authority.IssueIntermediate] makes an intermediate CA instead, with its
// own key, valid for days (DefaultIntermediateLifetime), held to the root's
// name constraints or narrower, and allowed to sign leaves only (path length
// 0). An Authority backed by one ([Authority.WithIntermediate] in the same
// process, [LoadIntermediate] from a folder written by [WriteIntermediate])
// signs leaves and CRLs as the root-backed one does; [Authority.Chain] then
// holds the intermediate and the root.

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// File names of an exported intermediate CA (see [WriteIntermediate]); the
// folder also holds the root certificate as [RootCertFile], and never its key.
const (
	IntermediateCertFile = "intermediate.pem"
	IntermediateKeyFile  = "intermediate-key.pem"
)

// Intermediate lifetimes: short, so that a copied key soon signs nothing
// any client accepts, and renewed long before they run out.
const (
	DefaultIntermediateLifetime = 30 * 24 * time.Hour
	MaxIntermediateLifetime     = 365 * 24 * time.Hour
	minIntermediateLifetime     = time.Hour
)

// ErrNoRootKey means an operation needs the root's key and the Authority
// signs with an intermediate CA, which holds none.
var ErrNoRootKey = errors.New("this CA signs with an intermediate and holds no root key")

// PathLenZeroError means the root has a path length of zero: it may sign
// leaf certificates only, so no client would accept an intermediate it
// signed. devca made such roots before it issued intermediates; they keep
// signing leaves directly.
type PathLenZeroError struct {
	// Fingerprint is the root's SHA-256 fingerprint.
	Fingerprint string
}

func (e *PathLenZeroError) Error() string {
	return "the root has a path length of zero (made by an earlier devca): it signs leaf certificates only, and clients would refuse an intermediate CA it signed"
}

// IntermediateRequest describes the intermediate CA IssueIntermediate makes.
type IntermediateRequest struct {
	// Lifetime is how long it is valid; 0 means DefaultIntermediateLifetime.
	// It never outlives the root.
	Lifetime time.Duration
	// Permit, when not empty, narrows the root's name constraints to these
	// domains and CIDR ranges, each within the root's (see
	// [Constraints.Narrow]); empty copies the root's.
	Permit []string
}

// Intermediate is an intermediate CA certificate with its private key.
type Intermediate struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte
}

// IssueIntermediate signs a new intermediate CA with the root: a fresh
// ECDSA P-256 key, CA:TRUE with path length 0, key usage certSign, cRLSign
// and digitalSignature, and the root's name constraints (or req.Permit's).
// It is added to the CA home's record. A root with path length 0 is refused
// with a *PathLenZeroError, and an Authority that is itself backed by an
// intermediate with ErrNoRootKey.
func (a *Authority) IssueIntermediate(req IntermediateRequest) (*Intermediate, error) {
	if a.issuer != nil {
		return nil, ErrNoRootKey
	}
	root := a.Cert
	if root.MaxPathLenZero || (root.MaxPathLen == 0 && root.BasicConstraintsValid) {
		return nil, &PathLenZeroError{Fingerprint: Fingerprint(root)}
	}
	if root.KeyUsage != 0 && root.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("the root certificate lacks the certSign key usage, so no client would accept an intermediate it signed")
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = DefaultIntermediateLifetime
	}
	if lifetime < minIntermediateLifetime || lifetime > MaxIntermediateLifetime {
		return nil, fmt.Errorf("an intermediate CA lifetime of %s is outside 1h to %d days", lifetime, MaxIntermediateLifetime/(24*time.Hour))
	}
	cons := constraintsOf(root)
	if len(req.Permit) > 0 {
		var err error
		if cons, err = cons.Narrow(req.Permit); err != nil {
			return nil, err
		}
	}
	now := a.now()
	if !now.Before(root.NotAfter) {
		return nil, fmt.Errorf("the root certificate expired on %s", root.NotAfter.UTC().Format(time.DateOnly))
	}
	signer, err := a.Signer()
	if err != nil {
		return nil, err
	}
	key, err := generateKey(ECDSAP256, a.rand)
	if err != nil {
		return nil, fmt.Errorf("generating intermediate CA key: %w", err)
	}
	serial, err := randomSerial(a.rand)
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	notBefore, notAfter := now.Add(-backdate), now.Add(lifetime)
	notBefore = latest(notBefore, root.NotBefore)
	if notAfter.After(root.NotAfter) {
		notAfter = root.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   truncate("devca intermediate "+now.UTC().Format("2006-01-02 15:04"), 64),
			Organization: []string{"devca development CA"},
			// Unique per intermediate, as for roots: stores that file
			// certificates by subject (NSS) keep each one apart.
			SerialNumber: serial.Text(16)[:16],
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Path length 0: it signs leaves, never another CA.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		SubjectKeyId:   skid,
	}
	cons.apply(tmpl)
	// Exclusions of an adopted root carry over as they are.
	tmpl.ExcludedDNSDomains = append(tmpl.ExcludedDNSDomains, root.ExcludedDNSDomains...)
	tmpl.ExcludedEmailAddresses = append(tmpl.ExcludedEmailAddresses, root.ExcludedEmailAddresses...)
	tmpl.ExcludedURIDomains = append(tmpl.ExcludedURIDomains, root.ExcludedURIDomains...)
	for _, r := range root.ExcludedIPRanges {
		if !slices.ContainsFunc(tmpl.ExcludedIPRanges, func(x *net.IPNet) bool { return x.String() == r.String() }) {
			tmpl.ExcludedIPRanges = append(tmpl.ExcludedIPRanges, r)
		}
	}
	// RFC 5280 4.2.1.10: name constraints are critical.
	tmpl.PermittedDNSDomainsCritical = cons.Constrained() || len(tmpl.ExcludedDNSDomains) > 0 || len(tmpl.ExcludedIPRanges) > 0
	der, err := x509.CreateCertificate(a.rand, tmpl, root, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("signing intermediate CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing new intermediate CA certificate: %w", err)
	}
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		return nil, err
	}
	in := &Intermediate{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: key, KeyPEM: keyPEM}
	// The record lists certificates by names; an intermediate's "names"
	// are what it may certify, marked so that nobody takes it for a leaf.
	// It has no CertFile: renew re-issues only leaves.
	if err := a.addEntry(Issued{
		Serial:      cert.SerialNumber.Text(16),
		Names:       []string{"intermediate CA for " + cons.String()},
		NotBefore:   cert.NotBefore.UTC(),
		NotAfter:    cert.NotAfter.UTC(),
		IssuedAt:    now.UTC().Truncate(time.Second),
		Fingerprint: Fingerprint(cert),
		KeyType:     string(ECDSAP256),
	}); err != nil {
		return nil, fmt.Errorf("recording intermediate CA: %w", err)
	}
	return in, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// WithIntermediate returns an Authority that signs leaves and CRLs with in,
// an intermediate issued by a's root, and records them in a's home. It
// holds no root key: IssueIntermediate, MoveKey and the PKCS#12 exports
// return ErrNoRootKey.
func (a *Authority) WithIntermediate(in *Intermediate) (*Authority, error) {
	if err := checkIntermediate(a.Cert, in.Cert, in.Key); err != nil {
		return nil, err
	}
	b := &Authority{Dir: a.Dir, Cert: a.Cert, CertPEM: a.CertPEM, Meta: a.Meta, issuer: in.Cert, now: a.now, rand: a.rand}
	b.keyOnce.Do(func() { b.key = in.Key })
	return b, nil
}

// checkIntermediate checks that inter is a CA certificate the root signed
// and that key is its key.
func checkIntermediate(root, inter *x509.Certificate, key crypto.Signer) error {
	if !inter.IsCA || !inter.BasicConstraintsValid {
		return errors.New("the intermediate certificate is not a CA certificate")
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return fmt.Errorf("the intermediate CA was not issued by the root %s: %w", Fingerprint(root), err)
	}
	if !publicKeysEqual(key.Public(), inter.PublicKey) {
		return errors.New("the intermediate CA key does not belong to its certificate")
	}
	return nil
}

// WriteIntermediate writes in to dir for another machine: the certificate
// as IntermediateCertFile, the key as IntermediateKeyFile (0600) and the
// root certificate, for the chain, as RootCertFile; dir is created 0700.
// Files of an earlier intermediate are replaced, so renewing is writing
// again. A CA home (a folder holding a root key or CA metadata) is refused:
// the point is a folder without the root key.
func (a *Authority) WriteIntermediate(dir string, in *Intermediate) error {
	if err := checkIntermediate(a.Cert, in.Cert, in.Key); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return fmt.Errorf("creating %q: %w", dir, err)
	}
	if err := checkHomeDir(dir); err != nil {
		return err
	}
	for _, f := range []string{RootKeyFile, metaFile} {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("%q holds a CA's %s: an intermediate goes to a folder of its own, without the root key", dir, f)
		}
	}
	if abs, err := filepath.Abs(dir); err == nil && abs == a.Dir {
		return fmt.Errorf("%q is the CA home: an intermediate goes to a folder of its own", dir)
	}
	// The key first: a reader that finds the new certificate finds its key.
	// LoadIntermediate refuses a key and certificate that do not match.
	for _, f := range []struct {
		name string
		data []byte
		perm fs.FileMode
	}{
		{IntermediateKeyFile, in.KeyPEM, KeyPerm},
		{IntermediateCertFile, in.CertPEM, CertPerm},
		{RootCertFile, a.CertPEM, CertPerm},
	} {
		if err := WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("writing intermediate CA: %w", err)
		}
	}
	return nil
}

// LoadIntermediate opens a folder written by WriteIntermediate: an
// Authority that signs with the intermediate, holds no root key, and keeps
// its record in dir. The folder must not be writable by others and the key
// readable by its owner only, as for a CA home; an expired intermediate, or
// one the root in the folder did not sign, is refused.
func LoadIntermediate(dir string, opts ...Option) (*Authority, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening intermediate CA %q: %w", dir, err)
	}
	dir = abs
	if err := checkHomeDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("opening intermediate CA: %w", err)
		}
		return nil, err
	}
	read := func(name string) ([]byte, error) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("opening intermediate CA: %w", err)
		}
		return data, nil
	}
	rootPEM, err := read(RootCertFile)
	if err != nil {
		return nil, err
	}
	root, err := parseSingleCertPEM(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("reading root certificate in %q: %w", dir, err)
	}
	interPEM, err := read(IntermediateCertFile)
	if err != nil {
		return nil, err
	}
	inter, err := parseSingleCertPEM(interPEM)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", filepath.Join(dir, IntermediateCertFile), err)
	}
	keyPath := filepath.Join(dir, IntermediateKeyFile)
	if err := checkKeyFile(keyPath); err != nil {
		return nil, fmt.Errorf("opening intermediate CA: %w", err)
	}
	keyPEM, err := read(IntermediateKeyFile)
	if err != nil {
		return nil, err
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", keyPath, err)
	}
	if err := checkIntermediate(root, inter, key); err != nil {
		return nil, fmt.Errorf("opening intermediate CA in %q: %w", dir, err)
	}
	if err := recoverPending(dir); err != nil {
		return nil, err
	}
	a := &Authority{Dir: dir, Cert: root, CertPEM: rootPEM, Meta: Meta{Version: 1, KeyStorage: StorageFile, Fingerprint: Fingerprint(root)},
		issuer: inter, now: time.Now, rand: rand.Reader}
	for _, o := range opts {
		o(a)
	}
	if now := a.now(); !now.Before(inter.NotAfter) {
		return nil, fmt.Errorf("the intermediate CA in %q expired on %s", dir, inter.NotAfter.UTC().Format(time.RFC3339))
	}
	a.keyOnce.Do(func() { a.key = key })
	return a, nil
}

// Intermediate returns the intermediate CA certificate the Authority signs
// with, or nil when it signs with the root.
func (a *Authority) Intermediate() *x509.Certificate { return a.issuer }

// chainCerts is Chain, parsed.
func (a *Authority) chainCerts() []*x509.Certificate {
	if a.issuer != nil {
		return []*x509.Certificate{a.issuer, a.Cert}
	}
	return []*x509.Certificate{a.Cert}
}
