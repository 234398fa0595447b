package trust

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/gofrs/flock"

	"github.com/devca/devca/ca"
)

// InstallRecordFile is the name of the install record in the CA home: the
// list of [Installation]s that 'devca uninstall' removes. (The ca package
// keeps its own record of issued certificates; this one is only about trust
// stores.)
const InstallRecordFile = "trust.json"

// Installation is one certificate devca added to one location of a store,
// as kept in the install record.
type Installation struct {
	Store string `json:"store"`
	// Location is the database, file or store the certificate went into,
	// such as "sql:/home/u/.pki/nssdb" or "/etc/ssl/certs/java/cacerts".
	Location string `json:"location"`
	// Name is the NSS nickname, Java alias or file name, when the store
	// names its entries.
	Name string `json:"name,omitempty"`
	// SHA256 is the lowercase hex SHA-256 of the certificate (the record's
	// format, not [ca.Fingerprint]'s) and Cert its DER bytes, so
	// uninstall can remove exactly this certificate even when the CA home
	// no longer has it.
	SHA256 string `json:"sha256"`
	Cert   []byte `json:"cert"`
	// Changed reports whether the operation that returned the installation
	// changed the store; it is not recorded.
	Changed bool `json:"-"`
}

// IsFor reports whether the installation is of cert.
func (e Installation) IsFor(cert *x509.Certificate) bool {
	return e.SHA256 == sha256Hex(cert.Raw)
}

func (e Installation) key() string {
	return e.Store + "\x00" + e.Location + "\x00" + e.Name + "\x00" + e.SHA256
}

// entryFor returns the installation of root at location.
func entryFor(store string, root *Root, location, name string, changed bool) Installation {
	return Installation{Store: store, Location: location, Name: name, SHA256: sha256Hex(root.Cert.Raw), Cert: root.Cert.Raw, Changed: changed}
}

// lockRecord takes an exclusive lock on the record in dir, so that two devca
// processes installing or uninstalling at once do not lose each other's
// entries or change the same store together.
func lockRecord(dir string) (unlock func(), err error) {
	l := flock.New(filepath.Join(dir, ".trust.lock"))
	if err := l.Lock(); err != nil {
		return nil, fmt.Errorf("locking install record: %w", err)
	}
	return func() { l.Unlock() }, nil
}

type record struct {
	Version int            `json:"version"`
	Entries []Installation `json:"entries"`
	dirty   bool
}

func loadRecord(dir string) (*record, error) {
	path := filepath.Join(dir, InstallRecordFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &record{Version: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading install record: %w", err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading install record %q: %w", path, err)
	}
	if r.Version != 1 {
		return nil, fmt.Errorf("reading install record %q: unknown version %d", path, r.Version)
	}
	return &r, nil
}

func (r *record) add(e Installation) {
	for _, old := range r.Entries {
		if old.key() == e.key() {
			return
		}
	}
	e.Changed = false
	r.Entries = append(r.Entries, e)
	r.dirty = true
}

func (r *record) remove(e Installation) {
	n := len(r.Entries)
	r.Entries = slices.DeleteFunc(r.Entries, func(old Installation) bool { return old.key() == e.key() })
	r.dirty = r.dirty || len(r.Entries) != n
}

func (r *record) forStore(store string) []Installation {
	var out []Installation
	for _, e := range r.Entries {
		if e.Store == store {
			out = append(out, e)
		}
	}
	return out
}

// save writes the record atomically if it changed. The record names only
// public certificates and paths, but it decides what uninstall deletes, so
// it is kept private to the user like the rest of the CA home.
func (r *record) save(dir string) error {
	if !r.dirty {
		return nil
	}
	if r.Entries == nil {
		r.Entries = []Installation{}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding install record: %w", err)
	}
	if err := ca.WriteFileAtomic(filepath.Join(dir, InstallRecordFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving install record: %w", err)
	}
	r.dirty = false
	return nil
}

// Recorded returns the installations in the install record in dir: every place
// devca installed a root into and has not removed it from since.
func Recorded(dir string) ([]Installation, error) {
	rec, err := loadRecord(dir)
	if err != nil {
		return nil, err
	}
	return rec.Entries, nil
}
