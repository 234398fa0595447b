// Package ca is devca's certificate authority: it creates and loads a root
// CA in a folder (the CA home) and issues leaf certificates from it.
//
// # The CA home
//
// One folder holds one CA: the root certificate [RootCertFile], its private
// key, a small metadata file and the record of issued certificates. The
// folder is 0700 and keys are 0600; [Load] refuses a home or key that others
// could change or read. The root certificate is written last, so a home is
// either without a CA or holds a complete one, whatever interrupts [Create].
// A home with a key or metadata but no root certificate (a lost certificate,
// or an interrupted Create) is an [IncompleteError]: nothing overwrites it.
//
// # Key storage
//
// The root key is kept in one of three [KeyStorage] kinds: [StorageKeyring]
// (a PKCS#12 file encrypted with a random secret held in the operating
// system's [Keyring]), [StoragePassphrase] (the same file, its password derived
// from a passphrase with scrypt) or [StorageFile] (plain PKCS#8 PEM, mode
// 0600). [Secrets] (see [WithSecrets]) supplies the keyring and the passphrase; [Authority.MoveKey]
// moves a key between storages without changing the root, and [Import]
// adopts a root made elsewhere, such as mkcert's ([ReadMkcertCA]) or one
// written by [Authority.ExportP12].
//
// # Name constraints
//
// By default a root carries a critical name constraints extension that
// permits only development names (the default permitted domains and
// ranges, see [DefaultConstraints]). A leaked devca key therefore cannot impersonate
// real websites. [Authority.Issue] checks names against the constraints
// before signing, so a refused name never produces a certificate.
//
// # Leaf certificates
//
// Leaves last at most 825 days, the limit Apple platforms enforce for TLS
// server certificates (https://support.apple.com/en-us/103769), and never
// outlive the root.
package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrNoCA means the home holds no CA yet.
var ErrNoCA = errors.New("no CA found")

// ErrExists means Create found a CA already in the home.
var ErrExists = errors.New("a CA already exists")

// rootLifetime is how long a new root is valid: long enough that nobody has
// to re-trust it during a project, short enough to be retired eventually.
const rootLifetime = 10 * 365 * 24 * time.Hour

// Meta is what the CA home records about its CA besides the certificate.
type Meta struct {
	Version     int        `json:"version"`
	Created     time.Time  `json:"created"`
	KeyStorage  KeyStorage `json:"key_storage"`
	Fingerprint string     `json:"fingerprint"`
	// ImportedFrom names where an adopted root came from, if anywhere.
	ImportedFrom string `json:"imported_from,omitempty"`

	// KeyFile is the encrypted key's file name in the home (keyring and
	// passphrase storage), and KeyID the random generation it was written
	// under: every write of the key uses a new one, so a new copy never
	// overwrites the copy in use.
	KeyFile string `json:"key_file,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	// KeyringHome is the home path the keyring secret was stored for.
	KeyringHome string `json:"keyring_home,omitempty"`
	// KDF holds the scrypt parameters of passphrase storage.
	KDF *KDFParams `json:"kdf,omitempty"`
}

// Authority is a loaded CA.
type Authority struct {
	// Dir is the CA home.
	Dir string
	// Cert is the root certificate and CertPEM its PEM encoding.
	Cert    *x509.Certificate
	CertPEM []byte
	Meta    Meta

	// secrets unlocks a key kept in keyring or passphrase storage.
	secrets Secrets

	// issuer is the intermediate CA this Authority signs with, nil when it
	// signs with the root (see WithIntermediate and LoadIntermediate); key
	// is then the intermediate's key.
	issuer *x509.Certificate

	keyOnce sync.Once
	key     crypto.Signer
	keyErr  error

	// recordWarnings are damaged record lines not reported yet, and
	// recordSeen every line reported already (see RecordWarnings).
	recordMu       sync.Mutex
	recordWarnings []RecordWarning
	recordSeen     map[string]bool

	now  func() time.Time
	rand io.Reader
}

// CreateOptions says what kind of root Create makes.
type CreateOptions struct {
	KeyType KeyType
	// Constraints limit the names the root may certify; the zero value
	// means unconstrained. Use DefaultConstraints for the safe default.
	Constraints Constraints
	// User and Host go into the root's name, so that people can tell two
	// machines' roots apart in a trust store.
	User, Host string
	// KeyStorage says how the root key is kept; empty means StorageFile.
	// Secrets supplies the keyring or the passphrase it needs.
	KeyStorage KeyStorage
	Secrets    Secrets
	// Now and Rand default to time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// Create makes a new root CA in dir and returns it. It refuses with ErrExists
// when dir already holds a root certificate, and with an *IncompleteError
// when it holds the key or metadata of a root whose certificate is missing.
func Create(dir string, opts CreateOptions) (*Authority, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	kt := opts.KeyType
	if kt == "" {
		kt = DefaultKeyType
	}
	if err := ensureHome(dir); err != nil {
		return nil, err
	}
	unlock, err := lockHome(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	if err := checkEmptyHome(dir); err != nil {
		return nil, err
	}

	key, err := generateKey(kt, opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("generating %s root key: %w", kt, err)
	}
	now := opts.Now()
	tmpl, err := rootTemplate(key.Public(), opts, now)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(opts.Rand, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("signing root certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing new root certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	// Key and metadata first, the certificate last: rootCA.pem marks a
	// complete CA, so an interrupted Create leaves no usable CA rather than
	// half of one (the next Create refuses the parts as an IncompleteError
	// rather than guess whether they are a lost CA's).
	meta := Meta{Version: 1, Created: now.UTC().Truncate(time.Second), Fingerprint: Fingerprint(cert)}
	meta, err = finishHome(dir, cert, certPEM, key, meta, opts.KeyStorage, opts.Secrets)
	if err != nil {
		return nil, err
	}
	a := &Authority{Dir: dir, Cert: cert, CertPEM: certPEM, Meta: meta, secrets: opts.Secrets, now: opts.Now, rand: opts.Rand}
	a.keyOnce.Do(func() { a.key = key })
	return a, nil
}

func rootTemplate(pub crypto.PublicKey, opts CreateOptions, now time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial(opts.Rand)
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	who := userAtHost(opts.User, opts.Host)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			// iOS and some Java versions refuse roots without a common name.
			CommonName:         truncate("devca root "+who+" "+now.UTC().Format("2006-01-02"), 64),
			Organization:       []string{"devca development CA"},
			OrganizationalUnit: []string{truncate(who, 64)},
			// Two roots of one machine must never share a subject: NSS
			// files every certificate of a subject under one nickname, so
			// a new root would take the old one's place there. Part of
			// the random serial keeps each subject unique.
			SerialNumber: serial.Text(16)[:16],
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(rootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Path length 1: the root may sign one level of intermediate CAs
		// (see [Authority.IssueIntermediate]), which sign only leaves.
		// Roots made before devca issued intermediates have path length 0.
		MaxPathLen:   1,
		SubjectKeyId: skid,
	}
	opts.Constraints.apply(tmpl)
	return tmpl, nil
}

func userAtHost(user, host string) string {
	if user == "" {
		user = "unknown"
	}
	if host == "" {
		host = "unknown"
	}
	return user + "@" + host
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// randomSerial returns a random positive 128-bit serial number. CA/Browser
// Forum rules ask for at least 64 bits of randomness; 128 makes collisions
// between any two devca certificates practically impossible.
func randomSerial(r io.Reader) (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(r, limit)
		if err != nil {
			return nil, fmt.Errorf("generating serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// Option configures a loaded CA (see [Load]).
type Option func(*Authority)

// WithSecrets unlocks a root key kept in keyring or passphrase storage: the
// keyring to use and how to get the passphrase. Without it, Load uses the
// system keyring and cannot get a passphrase.
func WithSecrets(s Secrets) Option { return func(a *Authority) { a.secrets = s } }

// WithClock sets the clock certificates are issued by; the default is
// time.Now.
func WithClock(now func() time.Time) Option { return func(a *Authority) { a.now = now } }

// WithRand sets the randomness of keys and serial numbers; the default is
// crypto/rand.
func WithRand(r io.Reader) Option { return func(a *Authority) { a.rand = r } }

// Load opens the CA in dir. It checks the folder's and key file's
// permissions and that the root is a CA certificate; the key itself is read
// on first use, so commands that only show the root need no secret.
func Load(dir string, opts ...Option) (*Authority, error) {
	if err := checkHomeDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w in %q", ErrNoCA, dir)
		}
		return nil, fmt.Errorf("opening CA home: %w", err)
	}
	certPath := filepath.Join(dir, RootCertFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		// Without its certificate, a key or ca.json is not no CA but the
		// rest of one, which nothing may overwrite.
		if err := checkIncomplete(dir); err != nil {
			return nil, err
		}
		// checkIncomplete may have waited for a Create to finish.
		certPEM, err = os.ReadFile(certPath)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %q", ErrNoCA, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading root certificate: %w", err)
	}
	cert, err := parseSingleCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("reading root certificate %q: %w", certPath, err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("reading root certificate %q: it is not a CA certificate", certPath)
	}
	meta, err := readMeta(dir)
	if err != nil {
		return nil, err
	}
	if err := recoverPending(dir); err != nil {
		return nil, err
	}
	if meta.Fingerprint != "" && meta.Fingerprint != Fingerprint(cert) {
		return nil, fmt.Errorf("root certificate %q is not the one this CA home created (fingerprint %s, recorded %s): it was replaced", certPath, Fingerprint(cert), meta.Fingerprint)
	}
	a := &Authority{Dir: dir, Cert: cert, CertPEM: certPEM, Meta: meta, now: time.Now, rand: rand.Reader}
	for _, o := range opts {
		o(a)
	}
	if meta.KeyStorage == StorageFile {
		if err := checkKeyFile(filepath.Join(dir, RootKeyFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return a, nil
}

// Signer returns the root's private key, reading it on first use. It fails
// when the key does not belong to the root certificate.
func (a *Authority) Signer() (crypto.Signer, error) {
	a.keyOnce.Do(func() {
		a.key, a.keyErr = a.loadKey()
	})
	return a.key, a.keyErr
}

func (a *Authority) loadKey() (crypto.Signer, error) {
	key, err := loadCurrentKey(a.Dir, a.Meta, a.secrets)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(key.Public(), a.Cert.PublicKey) {
		return nil, fmt.Errorf("reading root key: the key in %q does not belong to the root certificate in %q, so devca will not sign with it", filepath.Join(a.Dir, strings.Join(a.Meta.keyFiles(), ", ")), filepath.Join(a.Dir, RootCertFile))
	}
	return key, nil
}

// Constraints returns the names the Authority may certify: the root's, or
// an intermediate's, which are the root's or narrower.
func (a *Authority) Constraints() Constraints { return constraintsOf(a.IssuerCert()) }

// IssuerCert returns the certificate leaves and CRLs are signed under: the
// intermediate of an Authority backed by one, otherwise the root.
func (a *Authority) IssuerCert() *x509.Certificate {
	if a.issuer != nil {
		return a.issuer
	}
	return a.Cert
}

// Chain returns the certificates (DER) that follow a leaf up to and
// including the root: the intermediate and the root, or the root alone.
func (a *Authority) Chain() [][]byte {
	if a.issuer != nil {
		return [][]byte{a.issuer.Raw, a.Cert.Raw}
	}
	return [][]byte{a.Cert.Raw}
}

// chainPEM is Chain in PEM.
func (a *Authority) chainPEM() []byte {
	if a.issuer != nil {
		return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.issuer.Raw}), a.CertPEM...)
	}
	return a.CertPEM
}

// KeyDescription names the root's key type ("ECDSA P-256").
func (a *Authority) KeyDescription() string { return describeKey(a.Cert.PublicKey) }

func writeMeta(dir string, m Meta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding CA metadata: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, metaFile), append(data, '\n'), CertPerm); err != nil {
		return fmt.Errorf("saving CA metadata: %w", err)
	}
	return nil
}

// readMeta reads the metadata file. A home without one (made by hand, or by
// copying an mkcert CAROOT) is treated as a plain key file.
func readMeta(dir string) (Meta, error) {
	path := filepath.Join(dir, metaFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{Version: 1, KeyStorage: StorageFile}, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("reading CA metadata: %w", err)
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return Meta{}, fmt.Errorf("reading CA metadata %q: %w", path, err)
	}
	if m.KeyStorage == "" {
		m.KeyStorage = StorageFile
	}
	return m, nil
}
