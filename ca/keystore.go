package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// KeyStorage says how a CA home keeps its root key.
//
// Keyring and passphrase storage keep the key in a PKCS#12 file in the home
// (go-pkcs12's modern encoder: PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC,
// HMAC-SHA-256 integrity). Its password is the hex form of 32 bytes that are
// never on disk: a random secret in the operating system's keyring, or the
// scrypt hash of the user's passphrase. PKCS#12 is a reviewed, standard
// container (RFC 7292, RFC 8018) that openssl reads, so a user who fetches the
// secret can always get the key back without devca; the MAC tells a wrong
// secret apart from a damaged file.
type KeyStorage string

// The key storages devca offers.
const (
	// StorageKeyring encrypts the key with a random secret held in the
	// operating system's keyring (see [Keyring]).
	StorageKeyring KeyStorage = "keyring"
	// StoragePassphrase encrypts the key with a passphrase the user types
	// on every signing operation.
	StoragePassphrase KeyStorage = "passphrase"
	// StorageFile keeps the key as an unencrypted PKCS#8 PEM file with mode
	// 0600, as mkcert does.
	StorageFile KeyStorage = "file"
)

// keyStorages lists every key storage, strongest first.
var keyStorages = []KeyStorage{StorageKeyring, StoragePassphrase, StorageFile}

// ParseKeyStorage turns a user's spelling into a KeyStorage.
func ParseKeyStorage(s string) (KeyStorage, error) {
	for _, ks := range keyStorages {
		if strings.EqualFold(s, string(ks)) {
			return ks, nil
		}
	}
	return "", fmt.Errorf("unknown key storage %q (choose keyring, passphrase or file)", s)
}

// KeyringService is the keyring service name under which devca keeps its
// secrets.
const KeyringService = "devca"

// ErrWrongPassphrase means the passphrase does not decrypt the root key.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// ErrNoPassphrase means the key needs a passphrase and Secrets has no way to
// ask for one.
var ErrNoPassphrase = errors.New("the root key is protected by a passphrase and none was given")

// Secrets supplies what keyring and passphrase storage need to read or write
// the root key. The zero value uses the operating system's keyring with
// [DefaultKeyringTimeout] and cannot get a passphrase.
type Secrets struct {
	// Keyring holds the secrets of keyring storage; nil means
	// NewSystemKeyring(SystemKeyringOptions{}).
	Keyring Keyring
	// Passphrase returns the passphrase of passphrase storage. It is called
	// once per loaded key when reading, and once when writing a key with a
	// new passphrase (callers that prompt should ask twice then).
	Passphrase func() ([]byte, error)
	// Attempts is how many times a wrong passphrase may be given before
	// reading fails with ErrWrongPassphrase; values below 1 mean 1. Callers
	// that prompt a person may allow a few, as sudo does.
	Attempts int
}

func (s Secrets) keyring() Keyring {
	if s.Keyring == nil {
		return NewSystemKeyring(SystemKeyringOptions{})
	}
	return s.Keyring
}

func (s Secrets) passphrase() ([]byte, error) {
	if s.Passphrase == nil {
		return nil, ErrNoPassphrase
	}
	p, err := s.Passphrase()
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("the passphrase is empty")
	}
	return p, nil
}

// KeyringSecretMissingError reports a keyring that answers but holds no secret
// for this CA home: the home was copied or moved from elsewhere (the secret
// belongs to the path it was made in), or the entry was deleted.
type KeyringSecretMissingError struct {
	Home string
	// CreatedIn is the home path the secret was stored for.
	CreatedIn string
	Account   string
	// Err is the keyring's own not-found error.
	Err error
}

func (e *KeyringSecretMissingError) Unwrap() error { return e.Err }

func (e *KeyringSecretMissingError) Error() string {
	if e.CreatedIn != "" && e.CreatedIn != e.Home {
		return fmt.Sprintf("the keyring has no secret for the CA home %q (service %q, account %q): the home was copied or moved from %q, and its keyring secret stays tied to that folder",
			e.Home, KeyringService, e.Account, e.CreatedIn)
	}
	return fmt.Sprintf("the keyring has no secret for the CA home %q (service %q, account %q): it was deleted, or this is another user's or machine's keyring",
		e.Home, KeyringService, e.Account)
}

// keyFiles returns the files in the home that hold the key, for retiring or
// removing a CA.
func (m Meta) keyFiles() []string {
	st, err := storeOf(m.KeyStorage)
	if err != nil {
		return nil
	}
	return st.files(m)
}

// validKeyFileName reports whether name is one devca gives encrypted keys:
// a plain name in the home, so that an edited ca.json cannot point devca at
// (or make it delete) a file elsewhere.
func validKeyFileName(name string) bool {
	return strings.HasPrefix(name, "rootCA-key.") && strings.HasSuffix(name, ".p12") &&
		name == filepath.Base(name) && !strings.ContainsAny(name, `/\:`)
}

// KeyringAccount returns the keyring account that holds the secret of the
// root key under keyring storage (service [KeyringService]), or "" under
// another storage. With it and the encrypted file, the key can be recovered
// without devca, for example with secret-tool and openssl.
func (a *Authority) KeyringAccount() string {
	if a.Meta.KeyStorage != StorageKeyring {
		return ""
	}
	return keyringAccount(canonicalHome(a.Dir), a.Meta.Fingerprint, a.Meta.KeyID)
}

// canonicalHome returns the path that names a CA home in the keyring: the
// absolute path with symbolic links resolved, so that two spellings of one
// folder share a secret and two folders never do.
func canonicalHome(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

// keyringAccount is the keyring account of one generation of a CA home's
// secret. It hashes the home path, the root's fingerprint and the generation
// so that two homes, two CAs and two writes never share an entry.
func keyringAccount(home, fingerprint, keyID string) string {
	sum := sha256.Sum256([]byte(home + "\x00" + fingerprint + "\x00" + keyID))
	return "root-key:" + hex.EncodeToString(sum[:])
}

// newKeyID returns a fresh generation name for a stored key.
func newKeyID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating key id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// storageEncoder writes the encrypted key files. Their password is always a
// 256-bit random or scrypt-derived key, never a person's passphrase, so
// PBKDF2 iterations would add no strength (go-pkcs12's documentation says
// as much: with a high-entropy password the count does not matter) and only
// slow down every signing: one iteration unlocks in about 0.4 ms instead of
// 1.2 ms. The algorithms stay those of the modern encoder.
func storageEncoder() *pkcs12.Encoder { return pkcs12.Modern.WithIterations(1) }

// saveKey stores key for the root cert in the CA home dir using storage to,
// and returns meta updated to describe where it went. It writes only new
// names (a fresh key id for the encrypted file and the keyring account), so
// whatever fails, the key described by the old meta stays readable; the
// caller switches to the returned meta by writing it.
func saveKey(dir string, key crypto.Signer, cert *x509.Certificate, meta Meta, to KeyStorage, sec Secrets) (Meta, error) {
	st, err := storeOf(to)
	if err != nil {
		return Meta{}, err
	}
	out := meta
	out.KeyStorage = to
	out.KeyFile, out.KeyID, out.KeyringHome, out.KDF = "", "", "", nil
	return st.store(dir, key, cert, out, sec)
}

// discard removes the key copy m describes (its files and keyring entry).
// It is used on a copy that is no longer, or never became, the one in use;
// errors are returned for reporting only.
func (m Meta) discard(dir string, sec Secrets) error {
	var errs []error
	for _, name := range m.keyFiles() {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing %q: %w", name, err))
		}
	}
	if st, err := storeOf(m.KeyStorage); err == nil {
		errs = append(errs, st.forget(dir, m, sec))
	}
	return errors.Join(errs...)
}

// loadStoredKey reads the root key of the home dir under meta's storage.
func loadStoredKey(dir string, meta Meta, sec Secrets) (crypto.Signer, error) {
	st, err := storeOf(meta.KeyStorage)
	if err != nil {
		return nil, fmt.Errorf("unknown key storage %q in %q", meta.KeyStorage, filepath.Join(dir, metaFile))
	}
	return st.load(dir, meta, sec)
}

// loadCurrentKey reads the key meta describes. When that fails because
// another devca moved the key since meta was read (ca.json now names another
// copy of the same root's key), it reads the new copy instead.
func loadCurrentKey(dir string, meta Meta, sec Secrets) (crypto.Signer, error) {
	key, err := loadStoredKey(dir, meta, sec)
	if err == nil {
		return key, nil
	}
	now, rerr := readMeta(dir)
	if rerr != nil || now.Fingerprint != meta.Fingerprint || now.KeyStorage == meta.KeyStorage && now.KeyID == meta.KeyID {
		return nil, err
	}
	return loadStoredKey(dir, now, sec)
}

// MoveKey stores the root key under the storage to, with the secrets sec
// (a new passphrase, or the keyring to use), and removes the old copy. The
// root certificate does not change. It reads the current key with
// the secrets it was loaded with first, writes the new copy under new names, switches the
// metadata, and only then deletes the old copy: whatever fails before the
// switch, the old key stays in use. Warnings describe old copies that could
// not be removed.
func (a *Authority) MoveKey(to KeyStorage, sec Secrets) (warnings []string, err error) {
	if a.issuer != nil {
		return nil, ErrNoRootKey
	}
	key, err := a.Signer()
	if err != nil {
		return nil, err
	}
	unlock, err := lockHome(a.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	current, err := readMeta(a.Dir)
	if err != nil {
		return nil, err
	}
	if current.Fingerprint != "" && current.Fingerprint != a.Meta.Fingerprint || current.KeyStorage != a.Meta.KeyStorage || current.KeyID != a.Meta.KeyID {
		return nil, errors.New("moving root key: another devca changed the key storage meanwhile; run the command again")
	}
	if to == StorageFile && current.KeyStorage == StorageFile {
		return nil, nil
	}
	if current.Fingerprint == "" {
		current.Fingerprint = Fingerprint(a.Cert)
	}
	next, err := saveKey(a.Dir, key, a.Cert, current, to, sec)
	if err != nil {
		return nil, fmt.Errorf("moving root key to %s storage (the key stays in %s storage): %w", to, current.KeyStorage, err)
	}
	if err := writeMeta(a.Dir, next); err != nil {
		next.discard(a.Dir, sec)
		return nil, fmt.Errorf("moving root key to %s storage (the key stays in %s storage): %w", to, current.KeyStorage, err)
	}
	a.Meta = next
	if err := current.discard(a.Dir, a.secrets); err != nil {
		warnings = append(warnings, fmt.Sprintf("the old copy of the root key was not fully removed: %v", err))
	}
	return warnings, nil
}

// finishHome writes a new CA into the locked home dir: the key in storage
// (file when empty), then the metadata, then the certificate. rootCA.pem
// marks a complete CA, so an interrupted write leaves no CA rather than half
// of one. A write that fails removes what it wrote, so that no parts of a CA
// that never existed are left to block the next attempt.
func finishHome(dir string, cert *x509.Certificate, certPEM []byte, key crypto.Signer, meta Meta, storage KeyStorage, sec Secrets) (Meta, error) {
	if storage == "" {
		storage = StorageFile
	}
	meta, err := saveKey(dir, key, cert, meta, storage, sec)
	if err != nil {
		return Meta{}, err
	}
	if err := writeMeta(dir, meta); err != nil {
		meta.discard(dir, sec)
		return Meta{}, err
	}
	if err := WriteFileAtomic(filepath.Join(dir, RootCertFile), certPEM, CertPerm); err != nil {
		meta.discard(dir, sec)
		os.Remove(filepath.Join(dir, metaFile))
		return Meta{}, fmt.Errorf("saving root certificate: %w", err)
	}
	return meta, nil
}
