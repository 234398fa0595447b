package ca

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
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
	// CertSHA256, KeySHA256 and P12SHA256 are digests of the files as
	// written (see ContentSHA256), so that renew replaces a file only while
	// it is unchanged. Records written before devca kept them
	// lack them.
	CertSHA256 string `json:"cert_sha256,omitempty"`
	KeySHA256  string `json:"key_sha256,omitempty"`
	P12SHA256  string `json:"p12_sha256,omitempty"`
	// ReplacedBy is the serial of a later certificate written to the same
	// file (a renewal or re-issue). It is derived when reading the record.
	ReplacedBy string `json:"replaced_by,omitempty"`
}

// Current reports whether no later certificate was written over this one's
// files.
func (e Entry) Current() bool { return e.ReplacedBy == "" }

// The record is a log of JSON lines, one per issued certificate, only ever
// appended to: adding an entry costs the same however long the record grows,
// and a process killed mid-write can at worst leave an unterminated last
// line, which readers ignore. Whether an entry was replaced is not stored but
// derived: a later entry for the same certificate file replaces it.

// Entries returns every recorded certificate, oldest first, with ReplacedBy
// filled in.
func (a *Authority) Entries() ([]Entry, error) {
	path := filepath.Join(a.Dir, RecordFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the certificate record: %w", err)
	}
	var entries []Entry
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			break // torn last write: never acknowledged to anyone
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("reading the certificate record %q, line %d: %w", path, n, err)
		}
		e.ReplacedBy = ""
		entries = append(entries, e)
	}
	latest := map[string]int{}
	for i := len(entries) - 1; i >= 0; i-- {
		f := entries[i].CertFile
		if f == "" {
			continue
		}
		if j, ok := latest[f]; ok {
			entries[i].ReplacedBy = entries[j].Serial
		} else {
			latest[f] = i
		}
	}
	return entries, nil
}

// AddEntry appends e to the record under the CA home's lock.
func (a *Authority) AddEntry(e Entry) error {
	unlock, err := lockHome(a.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return a.addEntryLocked(e)
}

// addEntryLocked is AddEntry for callers that hold the home's lock.
func (a *Authority) addEntryLocked(e Entry) error {
	e.ReplacedBy = ""
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding the certificate record: %w", err)
	}
	path := filepath.Join(a.Dir, RecordFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, KeyPerm)
	if err != nil {
		return fmt.Errorf("opening the certificate record: %w", err)
	}
	defer f.Close()
	// After a torn write, start on a fresh line so the new entry is whole.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte("\n"), line...)
		}
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing the certificate record: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the certificate record: %w", err)
	}
	return nil
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
	files, err := a.WrittenFiles()
	return files[path], err
}

// WrittenFiles returns every file path the record says devca wrote, so that
// a command checking several outputs reads the record once.
func (a *Authority) WrittenFiles() (map[string]bool, error) {
	entries, err := a.Entries()
	if err != nil {
		return nil, err
	}
	files := map[string]bool{}
	for _, e := range entries {
		for _, p := range []string{e.CertFile, e.KeyFile, e.P12File} {
			if p != "" {
				files[p] = true
			}
		}
	}
	return files, nil
}

// ContentSHA256 is the digest the record keeps of a written file: the
// SHA-256 of its contents in lower-case hex.
func ContentSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// SetDigests records the digest of each of files that e names as its
// certificate, key or PKCS#12 file.
func (e *Entry) SetDigests(files []OutputFile) {
	for _, f := range files {
		switch f.Path {
		case "":
		case e.CertFile:
			e.CertSHA256 = ContentSHA256(f.Data)
		case e.KeyFile:
			e.KeySHA256 = ContentSHA256(f.Data)
		case e.P12File:
			e.P12SHA256 = ContentSHA256(f.Data)
		}
	}
}

// KeyMatchesCert reports whether keyPEM holds the private key of cert. It
// tells whether a key file recorded before devca kept digests still holds
// the key devca wrote.
func KeyMatchesCert(keyPEM []byte, cert *x509.Certificate) bool {
	key, err := parseKeyPEM(keyPEM)
	return err == nil && publicKeysEqual(key.Public(), cert.PublicKey)
}
