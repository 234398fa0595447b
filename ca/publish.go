package ca

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// outputFile is one file written when a certificate is published.
type outputFile struct {
	Path string
	Data []byte
	Perm fs.FileMode
}

// journal lists the renames a publication still has to make. It is written
// before the first rename and removed after the last, so a crash in between
// is finished by the next devca process (see recoverPending).
type journal struct {
	Renames [][2]string `json:"renames"` // temporary file, final path
	// Issued is the record entry that names the files, so that a crash
	// during (or before) the record's append still ends with the files
	// recorded: files devca wrote but did not record could never be
	// renewed or re-issued over.
	Issued *Issued `json:"entry,omitempty"`
}

const pendingPrefix = "pending-"

// publish writes files and adds entry to the record as one unit that
// survives crashes and concurrent devca processes. Every file is first
// written and synced under a temporary name next to its final path; then,
// under the CA home's lock, a journal of the renames is saved, the record is
// updated and the files are renamed into place. A process killed at any point
// leaves either nothing visible or a journal that the next Load completes, so
// a certificate never sits next to a key that is not its own.
func (a *Authority) publish(files []outputFile, entry Issued) error {
	j := journal{Issued: &entry}
	cleanup := func() {
		for _, r := range j.Renames {
			os.Remove(r[0])
		}
	}
	for _, f := range files {
		tmp, err := writeTemp(f)
		if err != nil {
			cleanup()
			return err
		}
		j.Renames = append(j.Renames, [2]string{tmp, f.Path})
	}
	unlock, err := lockHome(a.Dir)
	if err != nil {
		cleanup()
		return err
	}
	defer unlock()
	journalPath, err := saveJournal(a.Dir, j)
	if err != nil {
		cleanup()
		return err
	}
	if err := a.addEntryLocked(entry); err != nil {
		os.Remove(journalPath)
		cleanup()
		return err
	}
	if err := applyRenames(j); err != nil {
		// The record already names these files; leave the journal so the
		// next devca process retries the renames.
		return fmt.Errorf("moving the new files into place: %w", err)
	}
	if err := os.Remove(journalPath); err != nil {
		return fmt.Errorf("removing journal: %w", err)
	}
	return nil
}

// writeTemp writes f's data to a synced temporary file in f's folder, with
// f's permissions set before any data lands (CreateTemp makes it 0600).
func writeTemp(f outputFile) (string, error) {
	dir, base := filepath.Split(f.Path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("writing %q: %w", f.Path, err)
	}
	err = tmp.Chmod(f.Perm)
	if err != nil && runtime.GOOS == "windows" {
		err = nil
	}
	if err == nil {
		_, err = tmp.Write(f.Data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("writing %q: %w", f.Path, err)
	}
	return tmp.Name(), nil
}

func saveJournal(dir string, j journal) (string, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("naming journal: %w", err)
	}
	path := filepath.Join(dir, pendingPrefix+hex.EncodeToString(id[:])+".json")
	data, err := json.Marshal(j)
	if err != nil {
		return "", fmt.Errorf("encoding journal: %w", err)
	}
	if err := WriteFileAtomic(path, data, KeyPerm); err != nil {
		return "", fmt.Errorf("saving journal: %w", err)
	}
	return path, nil
}

// applyRenames moves each temporary file over its final path. A temporary
// file that is already gone was renamed before a crash.
func applyRenames(j journal) error {
	dirs := map[string]bool{}
	for _, r := range j.Renames {
		if err := os.Rename(r[0], r[1]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		dirs[filepath.Dir(r[1])] = true
	}
	for d := range dirs {
		syncDir(d)
	}
	return nil
}

// recoverPending finishes publications that a crash interrupted. It costs
// one directory read when there is nothing to do.
func recoverPending(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading CA home: %w", err)
	}
	found := false
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), pendingPrefix) && strings.HasSuffix(e.Name(), ".json") {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	unlock, err := lockHome(dir)
	if err != nil {
		return err
	}
	defer unlock()
	paths, err := filepath.Glob(filepath.Join(dir, pendingPrefix+"*.json"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // finished by another process meanwhile
		}
		if err != nil {
			return fmt.Errorf("reading journal %q: %w", p, err)
		}
		var j journal
		if err := json.Unmarshal(data, &j); err != nil {
			return fmt.Errorf("reading journal %q: %w", p, err)
		}
		if err := applyRenames(j); err != nil {
			return fmt.Errorf("finishing an interrupted write (journal %q): %w", p, err)
		}
		if j.Issued != nil {
			if err := ensureRecorded(dir, *j.Issued); err != nil {
				return fmt.Errorf("finishing an interrupted write (journal %q): %w", p, err)
			}
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing journal %q: %w", p, err)
		}
	}
	return nil
}

// ensureRecorded appends e to the record of the locked home dir unless an
// entry with its serial is there already. The entry, when there, is usually
// the last one: the record is searched from its end.
func ensureRecorded(dir string, e Issued) error {
	have := false
	if _, err := searchRecord(filepath.Join(dir, recordFile), []string{e.Serial}, func(_ int64, r Issued) bool {
		have = r.Serial == e.Serial
		return !have
	}); err != nil {
		return err
	}
	if have {
		return nil
	}
	return appendRecord(dir, e)
}
