package ca

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Entry is one issued certificate in the CA home's record.
type Entry struct {
	Serial      string    `json:"serial"`
	Names       []string  `json:"names"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	IssuedAt    time.Time `json:"issued_at"`
	Fingerprint string    `json:"fingerprint"`
	KeyType     string    `json:"key_type,omitempty"`
	Client      bool      `json:"client,omitempty"`
	// Days is the validity asked for (0 for the maximum), reused by renew.
	Days      int    `json:"days,omitempty"`
	CertFile  string `json:"cert_file,omitempty"`
	KeyFile   string `json:"key_file,omitempty"`
	P12File   string `json:"p12_file,omitempty"`
	P12Legacy bool   `json:"p12_legacy,omitempty"`
	FullChain bool   `json:"fullchain,omitempty"`
	// CSRFile is set for signed requests: renew re-signs the same request.
	CSRFile string `json:"csr_file,omitempty"`
	// ReplacedBy is the serial of the certificate that renewed this one.
	ReplacedBy string `json:"replaced_by,omitempty"`
}

// Current reports whether the entry has not been replaced by a renewal.
func (e Entry) Current() bool { return e.ReplacedBy == "" }

// record is the on-disk form of the issued-certificate record.
type record struct {
	Version int     `json:"version"`
	Entries []Entry `json:"certificates"`
}

// Entries returns every recorded certificate, oldest first.
func (a *Authority) Entries() ([]Entry, error) {
	r, err := readRecord(a.Dir)
	if err != nil {
		return nil, err
	}
	return r.Entries, nil
}

// UpdateRecord runs change on the record under the CA home's lock and saves
// the result atomically, so concurrent devca processes never lose an entry.
func (a *Authority) UpdateRecord(change func([]Entry) ([]Entry, error)) error {
	unlock, err := lockHome(a.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return a.updateRecordLocked(change)
}

// updateRecordLocked is UpdateRecord for callers that hold the home's lock.
func (a *Authority) updateRecordLocked(change func([]Entry) ([]Entry, error)) error {
	r, err := readRecord(a.Dir)
	if err != nil {
		return err
	}
	entries, err := change(r.Entries)
	if err != nil {
		return err
	}
	r.Version, r.Entries = 1, entries
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the certificate record: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(a.Dir, RecordFile), append(data, '\n'), KeyPerm); err != nil {
		return fmt.Errorf("saving the certificate record: %w", err)
	}
	return nil
}

// AddEntry appends e to the record.
func (a *Authority) AddEntry(e Entry) error {
	return a.UpdateRecord(func(entries []Entry) ([]Entry, error) {
		return append(entries, e), nil
	})
}

func readRecord(dir string) (record, error) {
	path := filepath.Join(dir, RecordFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return record{Version: 1}, nil
	}
	if err != nil {
		return record{}, fmt.Errorf("reading the certificate record: %w", err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return record{}, fmt.Errorf("reading the certificate record %q: %w", path, err)
	}
	return r, nil
}

// NewEntry describes a freshly issued leaf for the record; the caller fills
// in where its files went.
func NewEntry(leaf *Leaf, names Names, issuedAt time.Time) Entry {
	return Entry{
		Serial:      leaf.Cert.SerialNumber.Text(16),
		Names:       names.Values(),
		NotBefore:   leaf.Cert.NotBefore.UTC(),
		NotAfter:    leaf.Cert.NotAfter.UTC(),
		IssuedAt:    issuedAt.UTC().Truncate(time.Second),
		Fingerprint: Fingerprint(leaf.Cert),
		KeyType:     string(keyTypeOf(leaf.Cert.PublicKey)),
	}
}

// WroteFile reports whether the record says devca wrote path, so that
// callers can overwrite it without destroying someone else's file.
func (a *Authority) WroteFile(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	entries, err := a.Entries()
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.CertFile == path || e.KeyFile == path || e.P12File == path {
			return true, nil
		}
	}
	return false, nil
}
