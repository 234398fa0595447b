package ca

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// Issued is one issued certificate in the CA home's record.
type Issued struct {
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
	// written (see contentSHA256), so that renew replaces a file only while
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
func (e Issued) Current() bool { return e.ReplacedBy == "" }

// The record is a log of JSON lines, one per issued certificate, only ever
// appended to: adding an entry costs the same however long the record grows.
// Whether an entry was replaced is not stored but derived: a later entry for
// the same certificate file replaces it. See recordio.go for how damaged
// lines are handled.

// Record returns every recorded certificate, oldest first, with ReplacedBy
// filled in. Lines it cannot read are skipped; [Authority.RecordWarnings]
// describes them.
func (a *Authority) Record() ([]Issued, error) {
	entries, warnings, err := readRecord(filepath.Join(a.Dir, recordFile))
	if err != nil {
		return nil, err
	}
	a.noteRecordWarnings(warnings)
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

// Lookup returns the recorded certificate with serial (lower-case hex, as
// in [Issued.Serial]), with ReplacedBy filled in, and false when the record
// has none. It reads the record backwards from its end and decodes only the
// lines that name serial or the certificate's file, so looking up a recent
// certificate costs the same however long the record grows.
func (a *Authority) Lookup(serial string) (Issued, bool, error) {
	path := filepath.Join(a.Dir, recordFile)
	var found Issued
	at := int64(-1)
	ws, err := searchRecord(path, []string{serial}, func(off int64, e Issued) bool {
		if e.Serial != serial {
			return true
		}
		found, at = e, off
		return false
	})
	a.noteRecordWarnings(ws)
	if err != nil || at < 0 {
		return Issued{}, false, err
	}
	if found.CertFile == "" {
		return found, true, nil
	}
	// The latest later entry for the same file replaced it.
	ws, err = searchRecord(path, []string{found.CertFile}, func(off int64, e Issued) bool {
		if off <= at {
			return false
		}
		if e.CertFile == found.CertFile {
			found.ReplacedBy = e.Serial
			return false
		}
		return true
	})
	a.noteRecordWarnings(ws)
	if err != nil {
		return Issued{}, false, err
	}
	return found, true, nil
}

// noteRecordWarnings keeps the warnings not reported yet, so that a command
// reading the record several times reports each damaged line once.
func (a *Authority) noteRecordWarnings(ws []RecordWarning) {
	a.recordMu.Lock()
	defer a.recordMu.Unlock()
	for _, w := range ws {
		key := fmt.Sprintf("%s:%d", w.File, w.Line)
		if a.recordSeen[key] {
			continue
		}
		if a.recordSeen == nil {
			a.recordSeen = map[string]bool{}
		}
		a.recordSeen[key] = true
		a.recordWarnings = append(a.recordWarnings, w)
	}
}

// RecordWarnings returns the damaged record lines that reading the record
// skipped since the last call, for the caller to show: the package itself
// never prints.
func (a *Authority) RecordWarnings() []RecordWarning {
	a.recordMu.Lock()
	defer a.recordMu.Unlock()
	ws := a.recordWarnings
	a.recordWarnings = nil
	return ws
}

// addEntry appends e to the record under the CA home's lock.
func (a *Authority) addEntry(e Issued) error {
	unlock, err := lockHome(a.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return a.addEntryLocked(e)
}

// addEntryLocked is addEntry for callers that hold the home's lock.
func (a *Authority) addEntryLocked(e Issued) error { return appendRecord(a.Dir, e) }

// newIssued describes a freshly issued leaf for the record; the caller fills
// in where its files went.
func newIssued(leaf *Leaf, names Names, issuedAt time.Time) Issued {
	return Issued{
		Serial:      leaf.Cert.SerialNumber.Text(16),
		Names:       names.Values(),
		NotBefore:   leaf.Cert.NotBefore.UTC(),
		NotAfter:    leaf.Cert.NotAfter.UTC(),
		IssuedAt:    issuedAt.UTC().Truncate(time.Second),
		Fingerprint: Fingerprint(leaf.Cert),
		KeyType:     string(keyTypeOf(leaf.Cert.PublicKey)),
	}
}

// WrittenFiles returns every file path the record says devca wrote. A
// caller that checks given paths uses [Authority.Wrote], which reads less.
func (a *Authority) WrittenFiles() (map[string]bool, error) {
	entries, err := a.Record()
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

// Wrote reports which of paths the record names as a certificate, key or
// PKCS#12 file devca wrote: the answer [Authority.WrittenFiles] gives for
// them. It reads the record backwards from its end, decoding only the lines
// that name one of paths, and stops once every path is found, so re-issuing
// over recent files costs the same however long the record grows. When a
// path is not found, the caller is about to refuse to write it: Wrote then
// reads the whole record as WrittenFiles does, so that the warnings about
// damaged lines (one may be the entry that named the path) come with the
// refusal.
func (a *Authority) Wrote(paths ...string) (map[string]bool, error) {
	wrote := map[string]bool{}
	var want []string
	for _, p := range paths {
		if p != "" && !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	if len(want) == 0 {
		return wrote, nil
	}
	ws, err := searchRecord(filepath.Join(a.Dir, recordFile), want, func(_ int64, e Issued) bool {
		for _, p := range []string{e.CertFile, e.KeyFile, e.P12File} {
			if p != "" && slices.Contains(want, p) {
				wrote[p] = true
			}
		}
		return len(wrote) < len(want)
	})
	a.noteRecordWarnings(ws)
	if err != nil {
		return nil, err
	}
	if len(wrote) < len(want) {
		all, err := a.WrittenFiles()
		if err != nil {
			return nil, err
		}
		for _, p := range want {
			if all[p] {
				wrote[p] = true
			}
		}
	}
	return wrote, nil
}

// contentSHA256 is the digest the record keeps of a written file: the
// SHA-256 of its contents in lower-case hex.
func contentSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// setDigests records the digest of each of files that e names as its
// certificate, key or PKCS#12 file.
func (e *Issued) setDigests(files []outputFile) {
	for _, f := range files {
		switch f.Path {
		case "":
		case e.CertFile:
			e.CertSHA256 = contentSHA256(f.Data)
		case e.KeyFile:
			e.KeySHA256 = contentSHA256(f.Data)
		case e.P12File:
			e.P12SHA256 = contentSHA256(f.Data)
		}
	}
}

// keyMatchesCert reports whether keyPEM holds the private key of cert. It
// tells whether a key file recorded before devca kept digests still holds
// the key devca wrote.
func keyMatchesCert(keyPEM []byte, cert *x509.Certificate) bool {
	key, err := parseKeyPEM(keyPEM)
	return err == nil && publicKeysEqual(key.Public(), cert.PublicKey)
}
