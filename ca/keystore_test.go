package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// memKeyring is an in-memory Keyring whose calls can be made to fail.
type memKeyring struct {
	mu      sync.Mutex
	entries map[string]string
	failSet error
	failGet error
}

func newMemKeyring() *memKeyring { return &memKeyring{entries: map[string]string{}} }

func (m *memKeyring) Get(service, account string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failGet != nil {
		return "", m.failGet
	}
	s, ok := m.entries[service+"/"+account]
	if !ok {
		return "", ErrKeyringNotFound
	}
	return s, nil
}

func (m *memKeyring) Set(service, account, secret string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSet != nil {
		return m.failSet
	}
	m.entries[service+"/"+account] = secret
	return nil
}

func (m *memKeyring) Delete(service, account string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[service+"/"+account]; !ok {
		return ErrKeyringNotFound
	}
	delete(m.entries, service+"/"+account)
	return nil
}

func (m *memKeyring) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func passphraseSecrets(kr Keyring, pass string) Secrets {
	return Secrets{Keyring: kr, Passphrase: func() ([]byte, error) { return []byte(pass), nil }}
}

// createWith creates a CA in dir with the given key storage.
func createWith(t *testing.T, dir string, storage KeyStorage, sec Secrets) *Authority {
	t.Helper()
	a, err := Create(dir, CreateOptions{Constraints: mustDefaultConstraints(t), User: "tester", Host: "box", KeyStorage: storage, Secrets: sec})
	if err != nil {
		t.Fatalf("Create with %s storage: %v", storage, err)
	}
	return a
}

func mustDefaultConstraints(t *testing.T) Constraints {
	t.Helper()
	c, err := DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// loadWith loads dir afresh, as a new devca process would.
func loadWith(t *testing.T, dir string, sec Secrets) *Authority {
	t.Helper()
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	a.secrets = sec
	return a
}

// checkNoPlainKey fails if any file under dir holds a PEM private key or the
// raw bytes of key.
func checkNoPlainKey(t *testing.T, dir string, key crypto.Signer) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := key.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte("PRIVATE KEY")) || bytes.Contains(data, der) || bytes.Contains(data, raw) {
			t.Errorf("%s holds the private key in the clear", path)
		}
		return nil
	})
}

func TestKeyStorageRoundTrip(t *testing.T) {
	for _, storage := range keyStorages {
		t.Run("ok/"+string(storage), func(t *testing.T) {
			kr := newMemKeyring()
			sec := passphraseSecrets(kr, "open sesame")
			dir := filepath.Join(t.TempDir(), "home")
			created := createWith(t, dir, storage, sec)
			if created.Meta.KeyStorage != storage {
				t.Fatalf("Meta.KeyStorage = %q", created.Meta.KeyStorage)
			}
			a := loadWith(t, dir, sec)
			key, err := a.Signer()
			if err != nil {
				t.Fatalf("Signer: %v", err)
			}
			if !publicKeysEqual(key.Public(), a.Cert.PublicKey) {
				t.Fatal("loaded key does not match the root")
			}
			leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")})
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(a.Cert)
			if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "app.test"}); err != nil {
				t.Errorf("leaf does not verify: %v", err)
			}
			wantKeyring := 0
			if storage == StorageKeyring {
				wantKeyring = 1
			}
			if kr.len() != wantKeyring {
				t.Errorf("keyring holds %d entries, want %d", kr.len(), wantKeyring)
			}
			if storage != StorageFile {
				checkNoPlainKey(t, dir, key)
				for _, s := range kr.entries {
					if len(s) != 64 {
						t.Errorf("keyring secret is %d characters, want 64 (hex of 32 bytes)", len(s))
					}
				}
			}
		})
	}
}

func TestWrongPassphrase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	createWith(t, dir, StoragePassphrase, passphraseSecrets(nil, "right"))
	a := loadWith(t, dir, passphraseSecrets(nil, "wrong"))
	if _, err := a.Signer(); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Signer with a wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	a = loadWith(t, dir, Secrets{})
	if _, err := a.Signer(); !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("Signer without a passphrase: %v, want ErrNoPassphrase", err)
	}
}

func TestMoveKeyKeepsRoot(t *testing.T) {
	kr := newMemKeyring()
	dir := filepath.Join(t.TempDir(), "home")
	a := createWith(t, dir, StorageFile, Secrets{Keyring: kr})
	rootPEM, _ := os.ReadFile(filepath.Join(dir, RootCertFile))
	steps := []struct {
		to   KeyStorage
		pass string
	}{
		{StorageKeyring, ""},
		{StoragePassphrase, "first"},
		{StoragePassphrase, "second"},
		{StorageKeyring, ""},
		{StorageKeyring, ""},
		{StorageFile, ""},
		{StoragePassphrase, "third"},
	}
	pass := ""
	for i, st := range steps {
		cur := loadWith(t, dir, passphraseSecrets(kr, pass))
		if _, err := cur.MoveKey(st.to, passphraseSecrets(kr, st.pass)); err != nil {
			t.Fatalf("step %d: MoveKey(%s): %v", i, st.to, err)
		}
		pass = st.pass
		next := loadWith(t, dir, passphraseSecrets(kr, pass))
		key, err := next.Signer()
		if err != nil {
			t.Fatalf("step %d: Signer after moving to %s: %v", i, st.to, err)
		}
		if !publicKeysEqual(key.Public(), a.Cert.PublicKey) {
			t.Fatalf("step %d: key changed", i)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, RootCertFile)); !bytes.Equal(got, rootPEM) {
			t.Fatalf("step %d: rootCA.pem changed", i)
		}
		keyFiles, _ := filepath.Glob(filepath.Join(dir, "rootCA-key*"))
		if len(keyFiles) != 1 {
			t.Errorf("step %d: key files %v, want one", i, keyFiles)
		}
		wantEntries := 0
		if st.to == StorageKeyring {
			wantEntries = 1
		}
		if kr.len() != wantEntries {
			t.Errorf("step %d: keyring holds %d entries, want %d", i, kr.len(), wantEntries)
		}
		if st.to != StorageFile {
			checkNoPlainKey(t, dir, key)
		}
	}
}

// TestMoveKeyFailureKeepsOldKey: a keyring that refuses the new secret, or
// a wrong current passphrase, leaves the CA exactly as it was.
func TestMoveKeyFailureKeepsOldKey(t *testing.T) {
	t.Run("fail/keyring set", func(t *testing.T) {
		kr := newMemKeyring()
		dir := filepath.Join(t.TempDir(), "home")
		createWith(t, dir, StorageKeyring, Secrets{Keyring: kr})
		before := snapshot(t, dir)
		kr.failSet = errors.New("collection is locked")
		a := loadWith(t, dir, Secrets{Keyring: kr})
		_, err := a.MoveKey(StorageKeyring, Secrets{Keyring: kr})
		if err == nil || !strings.Contains(err.Error(), "collection is locked") || !strings.Contains(err.Error(), "the key stays in keyring storage") {
			t.Fatalf("MoveKey: %v", err)
		}
		if after := snapshot(t, dir); after != before {
			t.Errorf("home changed:\n%s\n---\n%s", before, after)
		}
		kr.failSet = nil
		if _, err := loadWith(t, dir, Secrets{Keyring: kr}).Signer(); err != nil {
			t.Errorf("old key unreadable after a failed move: %v", err)
		}
		if kr.len() != 1 {
			t.Errorf("keyring holds %d entries, want 1", kr.len())
		}
	})
	t.Run("fail/wrong passphrase", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "home")
		createWith(t, dir, StoragePassphrase, passphraseSecrets(nil, "right"))
		before := snapshot(t, dir)
		a := loadWith(t, dir, passphraseSecrets(nil, "wrong"))
		if _, err := a.MoveKey(StorageFile, Secrets{}); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("MoveKey: %v, want ErrWrongPassphrase", err)
		}
		if after := snapshot(t, dir); after != before {
			t.Errorf("home changed:\n%s\n---\n%s", before, after)
		}
	})
}

// snapshot describes every file in dir by name, mode and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, _ := d.Info()
		data, _ := os.ReadFile(path)
		b.WriteString(path + " " + info.Mode().String() + " " + string(data) + "\n")
		return nil
	})
	return b.String()
}

// TestKeyringAccounts: two homes never share a keyring entry, and a copied
// home reports where its secret belongs.
func TestKeyringAccounts(t *testing.T) {
	kr := newMemKeyring()
	base := t.TempDir()
	one, two := filepath.Join(base, "one"), filepath.Join(base, "two")
	a1 := createWith(t, one, StorageKeyring, Secrets{Keyring: kr})
	a2 := createWith(t, two, StorageKeyring, Secrets{Keyring: kr})
	acc1 := keyringAccount(canonicalHome(one), a1.Meta.Fingerprint, a1.Meta.KeyID)
	acc2 := keyringAccount(canonicalHome(two), a2.Meta.Fingerprint, a2.Meta.KeyID)
	if acc1 == acc2 || kr.len() != 2 {
		t.Fatalf("accounts %q and %q, %d entries", acc1, acc2, kr.len())
	}
	if !strings.HasPrefix(acc1, "root-key:") {
		t.Errorf("account %q", acc1)
	}

	copied := filepath.Join(base, "copied")
	if err := os.Mkdir(copied, DirPerm); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(one)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(one, e.Name()))
		info, _ := e.Info()
		os.WriteFile(filepath.Join(copied, e.Name()), data, info.Mode().Perm())
	}
	_, err := loadWith(t, copied, Secrets{Keyring: kr}).Signer()
	var missing *KeyringSecretMissingError
	if !errors.As(err, &missing) || !errors.Is(err, ErrKeyringNotFound) {
		t.Fatalf("Signer of a copied home: %v, want KeyringSecretMissingError", err)
	}
	if missing.CreatedIn != canonicalHome(one) || !strings.Contains(err.Error(), "copied or moved from") {
		t.Errorf("error %q, CreatedIn %q", err, missing.CreatedIn)
	}

	// A symlink to the home is the same home.
	link := filepath.Join(base, "link")
	if err := os.Symlink(one, link); err != nil {
		t.Skip(err)
	}
	if _, err := loadWith(t, link, Secrets{Keyring: kr}).Signer(); err != nil {
		t.Errorf("Signer through a symlink to the home: %v", err)
	}
}

func TestKeyringErrorsPassThrough(t *testing.T) {
	kr := newMemKeyring()
	dir := filepath.Join(t.TempDir(), "home")
	createWith(t, dir, StorageKeyring, Secrets{Keyring: kr})
	kr.failGet = &KeyringError{Op: "get", Name: "Secret Service keyring", Err: ErrKeyringTimeout}
	_, err := loadWith(t, dir, Secrets{Keyring: kr}).Signer()
	var ke *KeyringError
	if !errors.As(err, &ke) || !errors.Is(err, ErrKeyringTimeout) {
		t.Fatalf("Signer: %v", err)
	}
}

func TestCreateKeyringFailureLeavesNoCA(t *testing.T) {
	kr := newMemKeyring()
	kr.failSet = errors.New("no keyring")
	dir := filepath.Join(t.TempDir(), "home")
	if _, err := Create(dir, CreateOptions{KeyStorage: StorageKeyring, Secrets: Secrets{Keyring: kr}}); err == nil {
		t.Fatal("Create succeeded without a keyring")
	}
	if _, err := Load(dir); !errors.Is(err, ErrNoCA) {
		t.Errorf("Load after a failed Create: %v, want ErrNoCA", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "rootCA*")); len(files) != 0 {
		t.Errorf("left behind: %v", files)
	}
}

func TestParseKeyStorage(t *testing.T) {
	for _, s := range []string{"keyring", "Passphrase", "FILE"} {
		if _, err := ParseKeyStorage(s); err != nil {
			t.Errorf("ok/%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "keychain", "plain"} {
		if _, err := ParseKeyStorage(s); err == nil {
			t.Errorf("fail/%q: accepted", s)
		}
	}
}

func TestKDFParamsBounds(t *testing.T) {
	good, err := newKDFParams()
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []func(*KDFParams){
		func(k *KDFParams) { k.LogN = 40 },
		func(k *KDFParams) { k.LogN = 4 },
		func(k *KDFParams) { k.R = 0 },
		func(k *KDFParams) { k.P = 1000 },
		func(k *KDFParams) { k.Salt = "zz" },
		func(k *KDFParams) { k.Salt = "00" },
		func(k *KDFParams) { k.Algorithm = "md5" },
	} {
		k := good
		tc(&k)
		if _, err := k.derive([]byte("x")); err == nil {
			t.Errorf("Test %d: %+v accepted", i, k)
		}
	}
}

func TestKeyFileNameFromMetaIsConfined(t *testing.T) {
	for _, name := range []string{"", "../rootCA-key.x.p12", "rootCA-key.x.p12/../../etc", "ca.json", "rootCA.pem", `rootCA-key.a\b.p12`, "/tmp/rootCA-key.x.p12"} {
		m := Meta{KeyStorage: StorageKeyring, KeyFile: name}
		if files := m.keyFiles(); len(files) != 0 {
			t.Errorf("fail/%q: keyFiles = %v", name, files)
		}
		if _, err := loadStoredKey(t.TempDir(), m, Secrets{Keyring: newMemKeyring()}); err == nil || !strings.Contains(err.Error(), "names no valid key file") {
			t.Errorf("fail/%q: loadStoredKey: %v", name, err)
		}
	}
	if files := (Meta{KeyStorage: StoragePassphrase, KeyFile: "rootCA-key.0123456789abcdef.p12"}).keyFiles(); len(files) != 1 {
		t.Errorf("ok: keyFiles = %v", files)
	}
}

func TestPassphraseAttempts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	createWith(t, dir, StoragePassphrase, passphraseSecrets(nil, "right"))
	answers := []string{"wrong", "right"}
	asked := 0
	sec := Secrets{Attempts: 2, Passphrase: func() ([]byte, error) {
		asked++
		return []byte(answers[asked-1]), nil
	}}
	if _, err := loadWith(t, dir, sec).Signer(); err != nil || asked != 2 {
		t.Fatalf("Signer after a typo: %v (asked %d times)", err, asked)
	}
	asked, answers = 0, []string{"wrong", "wrong"}
	if _, err := loadWith(t, dir, sec).Signer(); !errors.Is(err, ErrWrongPassphrase) || asked != 2 {
		t.Fatalf("Signer after two wrong answers: %v (asked %d times)", err, asked)
	}
}

// TestSignerFollowsAMove: a devca that loaded the CA just before another
// one moved the key still finds it.
func TestSignerFollowsAMove(t *testing.T) {
	kr := newMemKeyring()
	dir := filepath.Join(t.TempDir(), "home")
	createWith(t, dir, StorageKeyring, Secrets{Keyring: kr})
	early := loadWith(t, dir, Secrets{Keyring: kr})
	mover := loadWith(t, dir, Secrets{Keyring: kr})
	if _, err := mover.MoveKey(StorageKeyring, Secrets{Keyring: kr}); err != nil {
		t.Fatal(err)
	}
	if _, err := early.Signer(); err != nil {
		t.Fatalf("Signer after another process moved the key: %v", err)
	}
}
