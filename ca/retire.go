package ca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RetiredDir is the folder of a CA home that Retire moves old roots into.
const RetiredDir = "retired"

// Retire moves every file of the CA home's root (certificate, key in any
// storage, ca.json, unfinished copies of these; see [RootFiles]) into a
// dated folder under [RetiredDir], so that nothing is ever deleted and the
// old root can still be removed from trust stores later. It works on a
// complete home and on an incomplete one (see [IncompleteError]) alike, and
// returns the folder. issuedBy names further files or folders in the home
// that hold certificates the old root issued (such as serve's cache); they
// move along. The record of issued certificates stays: it outlives a root.
//
// Retire holds the CA home's lock, so no other devca reads half a CA.
func Retire(dir string, issuedBy ...string) (string, error) {
	unlock, err := lockHome(dir)
	if err != nil {
		return "", fmt.Errorf("retiring the old CA: %w", err)
	}
	defer unlock()
	fp := "incomplete"
	if hex := strings.ReplaceAll(retiringFingerprint(dir), ":", ""); len(hex) >= 16 {
		fp = strings.ToLower(hex[:16])
	}
	dest := filepath.Join(dir, RetiredDir, time.Now().UTC().Format("20060102T150405Z")+"-"+fp)
	names, err := RootFiles(dir)
	if err != nil {
		return "", fmt.Errorf("retiring the old CA: %w", err)
	}
	if err := os.MkdirAll(dest, DirPerm); err != nil {
		return "", fmt.Errorf("retiring the old CA: %w", err)
	}
	// Copy the key and metadata first and move the certificate after them:
	// whenever this stops, either the home still holds the whole old CA, or
	// it holds no certificate (then it is incomplete, and retiring again
	// moves the rest) and the retired folder holds all of it.
	var copied []string
	for _, name := range names {
		if name == RootCertFile {
			continue
		}
		if err := copyFile(filepath.Join(dir, name), filepath.Join(dest, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("retiring the old CA: %w", err)
		}
		copied = append(copied, name)
	}
	if err := os.Rename(filepath.Join(dir, RootCertFile), filepath.Join(dest, RootCertFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("retiring the old CA: %w", err)
	}
	for _, name := range copied {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("retiring the old CA: %w", err)
		}
	}
	for _, name := range issuedBy {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(dest, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("retiring the old CA: %w", err)
		}
	}
	return dest, nil
}

// retiringFingerprint names the root being retired: its certificate's
// fingerprint, else what ca.json records, else "".
func retiringFingerprint(dir string) string {
	if data, err := os.ReadFile(filepath.Join(dir, RootCertFile)); err == nil {
		if cert, err := parseSingleCertPEM(data); err == nil {
			return Fingerprint(cert)
		}
	}
	if m, err := readMeta(dir); err == nil {
		return m.Fingerprint
	}
	return ""
}

// copyFile copies src to dst keeping src's permission bits.
func copyFile(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return WriteFileAtomic(dst, data, fi.Mode().Perm())
}

// LoadOrCreate loads the CA in dir, or creates one when the home holds none
// (created says which). create is called only then, so that choosing a key
// storage (probing a keyring, asking for a passphrase) costs nothing when a
// CA exists. Only the root certificate's absence means "none": a home with
// other parts of a CA fails to load with an [IncompleteError] rather than
// being created over. Should another process create the CA meanwhile, it is
// loaded.
func LoadOrCreate(dir string, create func() (CreateOptions, error), opts ...Option) (a *Authority, created bool, err error) {
	if _, err := os.Lstat(filepath.Join(dir, RootCertFile)); !errors.Is(err, fs.ErrNotExist) {
		a, err := Load(dir, opts...)
		return a, false, err
	}
	co, err := create()
	if err != nil {
		return nil, false, err
	}
	a, err = Create(dir, co)
	if errors.Is(err, ErrExists) {
		a, err := Load(dir, opts...)
		return a, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("creating a CA in %q: %w", dir, err)
	}
	return a, true, nil
}
