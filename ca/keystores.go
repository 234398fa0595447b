package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"software.sslmate.com/src/go-pkcs12"
)

// keyStore is one KeyStorage: how the root key is written, read, found and
// removed, and how that is said to a person. Every place that depends on the
// storage asks storeOf instead of switching on the kind.
type keyStore interface {
	// store writes key into the home dir under new names and returns out
	// (meta with its key fields filled in); the caller switches to it by
	// writing the metadata.
	store(dir string, key crypto.Signer, cert *x509.Certificate, out Meta, sec Secrets) (Meta, error)
	// load reads the key meta describes.
	load(dir string, meta Meta, sec Secrets) (crypto.Signer, error)
	// files names the files in the home holding the key meta describes.
	files(meta Meta) []string
	// forget removes what besides files holds the key (a keyring entry).
	forget(dir string, meta Meta, sec Secrets) error
	// describe says where the key is kept, in words.
	describe(dir string, meta Meta) string
}

// storeOf returns the keyStore of storage k.
func storeOf(k KeyStorage) (keyStore, error) {
	switch k {
	case StorageFile:
		return fileStore{}, nil
	case StorageKeyring:
		return keyringStore{}, nil
	case StoragePassphrase:
		return passphraseStore{}, nil
	}
	return nil, fmt.Errorf("unknown key storage %q", k)
}

// fileStore keeps the key as plain PKCS#8 PEM, mode 0600.
type fileStore struct{}

func (fileStore) store(dir string, key crypto.Signer, _ *x509.Certificate, out Meta, _ Secrets) (Meta, error) {
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		return Meta{}, err
	}
	if err := WriteFileAtomic(filepath.Join(dir, RootKeyFile), keyPEM, KeyPerm); err != nil {
		return Meta{}, fmt.Errorf("saving root key: %w", err)
	}
	return out, nil
}

func (fileStore) load(dir string, _ Meta, _ Secrets) (crypto.Signer, error) {
	path := filepath.Join(dir, RootKeyFile)
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	key, err := parseKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("reading root key %q: %w", path, err)
	}
	return key, nil
}

func (fileStore) files(Meta) []string                { return []string{RootKeyFile} }
func (fileStore) forget(string, Meta, Secrets) error { return nil }
func (fileStore) describe(dir string, _ Meta) string {
	return "stored unencrypted in " + filepath.Join(dir, RootKeyFile) + " (mode 0600)"
}

// keyringStore encrypts the key with a random secret held in the keyring.
type keyringStore struct{}

func (keyringStore) store(dir string, key crypto.Signer, cert *x509.Certificate, out Meta, sec Secrets) (Meta, error) {
	out, err := newKeyGeneration(out)
	if err != nil {
		return Meta{}, err
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return Meta{}, fmt.Errorf("generating keyring secret: %w", err)
	}
	password := hex.EncodeToString(secret[:])
	out.KeyringHome = canonicalHome(dir)
	account := keyringAccount(out.KeyringHome, out.Fingerprint, out.KeyID)
	if err := sec.keyring().Set(KeyringService, account, password); err != nil {
		return Meta{}, fmt.Errorf("saving the root key's secret in the keyring: %w", err)
	}
	return writeEncryptedKey(dir, key, cert, out, sec, password)
}

func (keyringStore) load(dir string, meta Meta, sec Secrets) (crypto.Signer, error) {
	path, data, err := readEncryptedKey(dir, meta)
	if err != nil {
		return nil, err
	}
	home := canonicalHome(dir)
	account := keyringAccount(home, meta.Fingerprint, meta.KeyID)
	password, err := sec.keyring().Get(KeyringService, account)
	if errors.Is(err, ErrKeyringNotFound) {
		return nil, fmt.Errorf("reading root key: %w", &KeyringSecretMissingError{Home: home, CreatedIn: meta.KeyringHome, Account: account, Err: err})
	}
	if err != nil {
		return nil, fmt.Errorf("reading root key's secret from the keyring: %w", err)
	}
	key, err := decodeEncryptedKey(path, data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, fmt.Errorf("reading root key %q: the keyring's secret does not decrypt it (the file or the keyring entry was replaced)", path)
	}
	return key, err
}

func (keyringStore) files(meta Meta) []string { return encryptedKeyFiles(meta) }

func (keyringStore) forget(dir string, meta Meta, sec Secrets) error {
	if meta.KeyID == "" {
		return nil
	}
	account := keyringAccount(canonicalHome(dir), meta.Fingerprint, meta.KeyID)
	if err := sec.keyring().Delete(KeyringService, account); err != nil && !errors.Is(err, ErrKeyringNotFound) {
		return fmt.Errorf("deleting keyring entry %q: %w", account, err)
	}
	return nil
}

func (keyringStore) describe(dir string, meta Meta) string {
	return "encrypted in " + filepath.Join(dir, meta.KeyFile) + " with a secret in the " + KeyringName(runtime.GOOS) + " (keyring storage)"
}

// passphraseStore encrypts the key with the scrypt hash of a passphrase.
type passphraseStore struct{}

func (passphraseStore) store(dir string, key crypto.Signer, cert *x509.Certificate, out Meta, sec Secrets) (Meta, error) {
	out, err := newKeyGeneration(out)
	if err != nil {
		return Meta{}, err
	}
	pass, err := sec.passphrase()
	if err != nil {
		return Meta{}, fmt.Errorf("protecting the root key: %w", err)
	}
	kdf, err := newKDFParams()
	if err != nil {
		return Meta{}, err
	}
	password, err := kdf.derive(pass)
	if err != nil {
		return Meta{}, err
	}
	out.KDF = &kdf
	return writeEncryptedKey(dir, key, cert, out, sec, password)
}

func (passphraseStore) load(dir string, meta Meta, sec Secrets) (crypto.Signer, error) {
	path, data, err := readEncryptedKey(dir, meta)
	if err != nil {
		return nil, err
	}
	if meta.KDF == nil {
		return nil, fmt.Errorf("reading root key: %q lacks the passphrase parameters", filepath.Join(dir, metaFile))
	}
	// Checked before the passphrase is asked for: a prompt that can only
	// fail afterwards wastes the user's time.
	if err := meta.KDF.check(); err != nil {
		return nil, fmt.Errorf("reading root key: the passphrase parameters in %q: %w", filepath.Join(dir, metaFile), err)
	}
	for attempt := 1; ; attempt++ {
		pass, err := sec.passphrase()
		if err != nil {
			return nil, fmt.Errorf("reading root key (passphrase storage): %w", err)
		}
		password, err := meta.KDF.derive(pass)
		if err != nil {
			return nil, err
		}
		key, err := decodeEncryptedKey(path, data, password)
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			if attempt < sec.Attempts {
				continue
			}
			return nil, fmt.Errorf("reading root key %q: %w", path, ErrWrongPassphrase)
		}
		return key, err
	}
}

func (passphraseStore) files(meta Meta) []string           { return encryptedKeyFiles(meta) }
func (passphraseStore) forget(string, Meta, Secrets) error { return nil }
func (passphraseStore) describe(dir string, meta Meta) string {
	return "encrypted in " + filepath.Join(dir, meta.KeyFile) + " with your passphrase (passphrase storage)"
}

// newKeyGeneration gives out a fresh key id and encrypted file name, so that
// a new copy never overwrites the copy in use.
func newKeyGeneration(out Meta) (Meta, error) {
	id, err := newKeyID()
	if err != nil {
		return Meta{}, err
	}
	out.KeyID = id
	out.KeyFile = "rootCA-key." + id + ".p12"
	return out, nil
}

// writeEncryptedKey writes key and cert as the PKCS#12 file out names,
// encrypted with password; on failure it removes what out's storage stored.
func writeEncryptedKey(dir string, key crypto.Signer, cert *x509.Certificate, out Meta, sec Secrets, password string) (Meta, error) {
	data, err := storageEncoder().Encode(key, cert, nil, password)
	if err != nil {
		return Meta{}, fmt.Errorf("encrypting root key: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, out.KeyFile), data, KeyPerm); err != nil {
		out.discard(dir, sec)
		return Meta{}, fmt.Errorf("saving encrypted root key: %w", err)
	}
	return out, nil
}

// encryptedKeyFiles is files for keyring and passphrase storage: the
// encrypted file, when ca.json names a valid one.
func encryptedKeyFiles(meta Meta) []string {
	if validKeyFileName(meta.KeyFile) {
		return []string{meta.KeyFile}
	}
	return nil
}

// readEncryptedKey reads the encrypted key file meta names.
func readEncryptedKey(dir string, meta Meta) (string, []byte, error) {
	if !validKeyFileName(meta.KeyFile) {
		return "", nil, fmt.Errorf("reading root key: %q names no valid key file (%q)", filepath.Join(dir, metaFile), meta.KeyFile)
	}
	path := filepath.Join(dir, meta.KeyFile)
	data, err := readKeyFile(path)
	return path, data, err
}

// readKeyFile reads a key file after checking that it is private.
func readKeyFile(path string) ([]byte, error) {
	if err := checkKeyFile(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading root key: %q is missing, so this CA cannot issue certificates", path)
		}
		return nil, fmt.Errorf("reading root key: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading root key: %w", err)
	}
	return data, nil
}

// decodeEncryptedKey opens the PKCS#12 data read from path with password.
// A wrong password returns an error matching pkcs12.ErrIncorrectPassword.
func decodeEncryptedKey(path string, data []byte, password string) (crypto.Signer, error) {
	priv, cert, err := pkcs12.Decode(data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading root key %q: %w", path, err)
	}
	key, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("reading root key %q: unsupported private key type %T", path, priv)
	}
	if cert != nil && !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("reading root key %q: the key and certificate inside do not match", path)
	}
	return key, nil
}

// KeyStorageDescription says where the root key is kept, in words: the
// storage and the file that holds the key.
func (a *Authority) KeyStorageDescription() string {
	st, err := storeOf(a.Meta.KeyStorage)
	if err != nil {
		return string(a.Meta.KeyStorage)
	}
	return st.describe(a.Dir, a.Meta)
}
