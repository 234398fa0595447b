package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// ImportedRoot is an existing root certificate with its private key, to adopt as a
// CA with [Import].
type ImportedRoot struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// From says where the root came from ("mkcert CAROOT /path", "PKCS#12
	// file /path"); Import records it in Meta.ImportedFrom.
	From string
}

// mkcert's file names in its CAROOT.
const (
	mkcertCertFile = "rootCA.pem"
	mkcertKeyFile  = "rootCA-key.pem"
)

// MkcertCAROOT returns the folder mkcert keeps its CA in, as `mkcert -CAROOT`
// prints it: $CAROOT, else "mkcert" in the per-user data folder of goos.
func MkcertCAROOT(getenv func(string) string, goos string) (string, error) {
	if dir := getenv("CAROOT"); dir != "" {
		return dir, nil
	}
	switch goos {
	case "windows":
		if dir := getenv("LocalAppData"); dir != "" {
			return filepath.Join(dir, "mkcert"), nil
		}
	case "darwin", "ios":
		if home := getenv("HOME"); home != "" {
			return filepath.Join(home, "Library", "Application Support", "mkcert"), nil
		}
	default:
		// As in DefaultHome: the XDG Base Directory Specification calls
		// a relative XDG_DATA_HOME invalid, to be ignored.
		if dir := getenv("XDG_DATA_HOME"); filepath.IsAbs(dir) {
			return filepath.Join(dir, "mkcert"), nil
		}
		if home := getenv("HOME"); home != "" {
			return filepath.Join(home, ".local", "share", "mkcert"), nil
		}
	}
	return "", errors.New("cannot find mkcert's CA folder: neither CAROOT nor HOME is set")
}

// ReadMkcertCA reads the root and key mkcert keeps in dir (its CAROOT). It
// only reads: the files are left as they are.
func ReadMkcertCA(dir string) (*ImportedRoot, error) {
	certPath := filepath.Join(dir, mkcertCertFile)
	certPEM, err := ReadInputFile(certPath, MaxInputFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading mkcert CA: %q has no %s", dir, mkcertCertFile)
		}
		return nil, fmt.Errorf("reading mkcert root %q: %w", certPath, err)
	}
	cert, err := parseSingleCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("reading mkcert root %q: %w", certPath, err)
	}
	keyPath := filepath.Join(dir, mkcertKeyFile)
	keyPEM, err := ReadInputFile(keyPath, MaxInputFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading mkcert CA: %q has no %s, so mkcert's root cannot sign there either", dir, mkcertKeyFile)
		}
		return nil, fmt.Errorf("reading mkcert key %q: %w", keyPath, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("reading mkcert key %q: %w", keyPath, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return &ImportedRoot{Cert: cert, Key: key, From: "mkcert CAROOT " + abs}, nil
}

// DecodeP12 reads a root and its key from a PKCS#12 file, as [ExportP12]
// writes them. A wrong password returns an error wrapping
// [pkcs12.ErrIncorrectPassword].
func DecodeP12(data []byte, password string) (*ImportedRoot, error) {
	priv, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, fmt.Errorf("decoding PKCS#12: %w", err)
	}
	key, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("decoding PKCS#12: unsupported private key type %T", priv)
	}
	// The key's certificate normally comes first; accept it anywhere.
	for _, c := range append([]*x509.Certificate{cert}, chain...) {
		if c != nil && publicKeysEqual(c.PublicKey, key.Public()) {
			if !c.IsCA || !c.BasicConstraintsValid {
				return nil, fmt.Errorf("decoding PKCS#12: its certificate %q is not a CA certificate", c.Subject.CommonName)
			}
			return &ImportedRoot{Cert: c, Key: key}, nil
		}
	}
	return nil, errors.New("decoding PKCS#12: no certificate in it matches its private key")
}

// ErrIncorrectPassword is returned, wrapped, by DecodeP12 for a wrong password.
var ErrIncorrectPassword = pkcs12.ErrIncorrectPassword

// check refuses roots devca cannot sign with.
func (r *ImportedRoot) check(now time.Time) error {
	c := r.Cert
	if !c.BasicConstraintsValid || !c.IsCA {
		return fmt.Errorf("%q is not a CA certificate", c.Subject.CommonName)
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%q may not sign certificates (its key usage lacks certSign)", c.Subject.CommonName)
	}
	if err := checkPublicKey(c.PublicKey); err != nil {
		return fmt.Errorf("root %q: %w", c.Subject.CommonName, err)
	}
	if !publicKeysEqual(c.PublicKey, r.Key.Public()) {
		return fmt.Errorf("the private key does not belong to the root %q", c.Subject.CommonName)
	}
	if now.After(c.NotAfter) {
		return fmt.Errorf("the root %q expired on %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.DateOnly))
	}
	return nil
}

// ImportOptions say how Import stores the adopted root's key.
type ImportOptions struct {
	// KeyStorage and Secrets are as in CreateOptions.
	KeyStorage KeyStorage
	Secrets    Secrets
	// Now defaults to time.Now.
	Now func() time.Time
}

// Import makes the CA home dir hold an existing root and its key, with the
// key in the chosen storage. Like [Create] it refuses with ErrExists when dir
// already holds a root. The root is taken as it is: one made by another tool
// usually has no name constraints.
func Import(dir string, root *ImportedRoot, opts ImportOptions) (*Authority, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	now := opts.Now()
	if err := root.check(now); err != nil {
		return nil, fmt.Errorf("importing root: %w", err)
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
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Cert.Raw})
	meta := Meta{Version: 1, Created: now.UTC().Truncate(time.Second), Fingerprint: Fingerprint(root.Cert), ImportedFrom: root.From}
	meta, err = finishHome(dir, root.Cert, certPEM, root.Key, meta, opts.KeyStorage, opts.Secrets)
	if err != nil {
		return nil, err
	}
	a := &Authority{Dir: dir, Cert: root.Cert, CertPEM: certPEM, Meta: meta, secrets: opts.Secrets, now: time.Now, rand: rand.Reader}
	a.keyOnce.Do(func() { a.key = root.Key })
	return a, nil
}

// exportIterations is the PBKDF2 count of an exported CA file. Its password
// is chosen by a person and the file travels between machines, so it gets far
// more than go-pkcs12's default 2048 (OWASP's 2023 advice for
// PBKDF2-HMAC-SHA-256 is 600,000); reading it takes well under a second.
const exportIterations = 600_000

// ExportP12 returns the root certificate and its private key as a PKCS#12
// file encrypted with password (PBES2, PBKDF2-HMAC-SHA-256, AES-256-CBC),
// for [DecodeP12] or any other tool on another machine. An empty password
// is refused; see ExportP12Unencrypted.
func (a *Authority) ExportP12(password string) ([]byte, error) {
	if password == "" {
		return nil, errors.New("exporting the CA: the password is empty")
	}
	return a.exportP12(pkcs12.Modern.WithIterations(exportIterations), password)
}

// ExportP12Unencrypted returns the root and its key as a PKCS#12 file with no
// encryption at all. Anyone who reads the file can sign certificates this
// CA's users trust.
func (a *Authority) ExportP12Unencrypted() ([]byte, error) {
	return a.exportP12(pkcs12.Passwordless, "")
}

func (a *Authority) exportP12(enc *pkcs12.Encoder, password string) ([]byte, error) {
	if a.issuer != nil {
		return nil, ErrNoRootKey
	}
	key, err := a.Signer()
	if err != nil {
		return nil, err
	}
	data, err := enc.Encode(key, a.Cert, nil, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12: %w", err)
	}
	return data, nil
}
