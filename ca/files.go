package ca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gofrs/flock"
)

// File names inside a CA home. Tools and scripts rely on RootCertFile.
const (
	RootCertFile = "rootCA.pem"
	RootKeyFile  = "rootCA-key.pem"
	metaFile     = "ca.json"
	recordFile   = "issued.jsonl"
	lockFile     = ".lock"
)

// Permissions devca gives what it writes.
const (
	DirPerm  fs.FileMode = 0o700
	KeyPerm  fs.FileMode = 0o600
	CertPerm fs.FileMode = 0o644
)

// DefaultHome returns the CA home folder: $DEVCA_HOME when set, otherwise the
// per-user data folder of the operating system goos.
func DefaultHome(getenv func(string) string, goos string) (string, error) {
	if dir := getenv("DEVCA_HOME"); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("resolving DEVCA_HOME %q: %w", dir, err)
		}
		return abs, nil
	}
	switch goos {
	case "windows":
		if dir := getenv("LocalAppData"); dir != "" {
			return filepath.Join(dir, "devca"), nil
		}
		return "", errors.New("neither DEVCA_HOME nor LocalAppData is set")
	case "darwin", "ios":
		if home := getenv("HOME"); home != "" {
			return filepath.Join(home, "Library", "Application Support", "devca"), nil
		}
	default:
		// XDG Base Directory Specification: relative values are invalid
		// and must be ignored.
		if dir := getenv("XDG_DATA_HOME"); filepath.IsAbs(dir) {
			return filepath.Join(dir, "devca"), nil
		}
		if home := getenv("HOME"); home != "" {
			return filepath.Join(home, ".local", "share", "devca"), nil
		}
	}
	return "", errors.New("neither DEVCA_HOME nor HOME is set")
}

// InsecurePermissionsError reports a CA home or key file that other users
// could change or read. Fix is the command that repairs it.
type InsecurePermissionsError struct {
	Path   string
	Mode   fs.FileMode
	Reason string
	Fix    string
}

func (e *InsecurePermissionsError) Error() string {
	return fmt.Sprintf("refusing to use %q: %s (mode %04o)", e.Path, e.Reason, e.Mode.Perm())
}

// checkHomeDir refuses a home folder that others can write to: whoever can
// replace files there can swap the root or the key, as ssh refuses a
// group-writable ~/.ssh.
func checkHomeDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%q is not a folder", dir)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &InsecurePermissionsError{Path: dir, Mode: fi.Mode(), Reason: "the CA home is writable by group or others",
			Fix: fmt.Sprintf("run 'chmod 700 %s'", ShellQuote(dir))}
	}
	return nil
}

// checkKeyFile refuses a key file that is a symbolic link, not a regular
// file, or readable by others.
func checkKeyFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &InsecurePermissionsError{Path: path, Mode: fi.Mode(), Reason: "the key file is a symbolic link, which could point anywhere",
			Fix: fmt.Sprintf("replace the link with the key file itself, or check who planted it (ls -l %s)", ShellQuote(path))}
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file", path)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return &InsecurePermissionsError{Path: path, Mode: fi.Mode(), Reason: "the private key is accessible by group or others",
			Fix: fmt.Sprintf("run 'chmod 600 %s'", ShellQuote(path))}
	}
	return nil
}

// ensureHome creates the CA home with mode 0700 if it does not exist.
func ensureHome(dir string) error {
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return fmt.Errorf("creating CA home %q: %w", dir, err)
	}
	return checkHomeDir(dir)
}

// WriteFileAtomic writes data to path so that readers see either the old
// content or the new, never a mix: it writes a temporary file in the same
// folder, syncs it, renames it over path and syncs the folder.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(outputFile{Path: path, Data: data, Perm: perm})
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("renaming into %q: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a rename durable. Folders cannot be synced on Windows, and a
// failure only weakens durability after power loss, so errors are ignored.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// lockHome takes the CA home's exclusive lock, which serialises every
// read-modify-write of shared state between devca processes.
func lockHome(dir string) (unlock func(), err error) {
	l := flock.New(filepath.Join(dir, lockFile))
	if err := l.Lock(); err != nil {
		return nil, fmt.Errorf("locking CA home %q: %w", dir, err)
	}
	return func() { l.Unlock() }, nil
}

// shellSafe are the bytes a word may hold and still be pasted into sh,
// bash, zsh or fish unquoted: none of these shells globs, expands or splits
// on any of them. Everything else, every non-ASCII byte included, is quoted.
const shellSafe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=@,%"

// ShellQuote quotes s for a POSIX shell when it needs quoting, so that the
// commands devca shows in hints ("run 'chmod 600 …'", "run as root: …")
// read naturally and still paste safely. A word that starts with "=" is
// quoted too: zsh, the macOS default shell, expands "=name" to the path of
// the command name.
func ShellQuote(s string) string {
	if s != "" && s[0] != '=' && strings.Trim(s, shellSafe) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WithLock runs fn while holding the CA home's lock, for read-modify-write
// cycles of state kept in the home outside this package (such as the serve
// certificate cache), so that concurrent devca processes take turns.
func (a *Authority) WithLock(fn func() error) error {
	unlock, err := lockHome(a.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

// IncompleteError reports a CA home that holds parts of a CA (its key, an
// encrypted key or ca.json) but no root certificate: the certificate was
// lost or deleted, or an earlier Create was interrupted. Nothing is created
// over such a home, because that would replace the key and, for passphrase
// storage, its salt and key id.
type IncompleteError struct {
	Dir string
	// Files are the names in Dir that belong to the missing root.
	Files []string
	// Fingerprint is the root's fingerprint as ca.json records it, if it
	// can be read.
	Fingerprint string
}

func (e *IncompleteError) Error() string {
	quoted := make([]string, len(e.Files))
	for i, f := range e.Files {
		quoted[i] = fmt.Sprintf("%q", f)
	}
	return fmt.Sprintf("the CA home %q holds %s but not the root certificate %q", e.Dir, strings.Join(quoted, ", "), RootCertFile)
}

// RootFiles returns the names of the files in the CA home dir that belong to
// its root: the certificate, the key in any storage (also copies that an
// interrupted key move left behind), ca.json, and unfinished temporary copies
// of these. The record of issued certificates is not among them: it outlives
// a root, so that 'renew --all' can re-issue from it.
func RootFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading CA home: %w", err)
	}
	var names []string
	for _, e := range entries {
		if base, _ := rootFileBase(e.Name()); base != "" {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// rootFileBase returns the root file that name is, or is a temporary copy
// of (see writeTemp), and "" for other names.
func rootFileBase(name string) (base string, temporary bool) {
	base = name
	if rest, ok := strings.CutPrefix(name, "."); ok {
		if base, _, temporary = strings.Cut(rest, ".tmp-"); !temporary {
			return "", false
		}
	}
	if base == RootCertFile || base == RootKeyFile || base == metaFile || validKeyFileName(base) {
		return base, temporary
	}
	return "", false
}

// rootParts returns the names of the key and metadata files in dir, the
// parts of a CA besides its certificate (temporary copies not included).
func rootParts(dir string) []string {
	names, err := RootFiles(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		if base, temp := rootFileBase(n); !temp && base != RootCertFile {
			out = append(out, n)
		}
	}
	return out
}

func newIncompleteError(dir string, files []string) *IncompleteError {
	e := &IncompleteError{Dir: dir, Files: files}
	if m, err := readMeta(dir); err == nil {
		e.Fingerprint = m.Fingerprint
	}
	return e
}

// checkIncomplete returns an *IncompleteError when dir has no root
// certificate but holds its key or metadata. A Create in progress writes
// those first, under the home's lock, so it waits for the lock and looks
// again before calling the home incomplete; it returns nil when the home
// holds no part of a CA, or a whole one by then. The caller must not hold
// the lock.
func checkIncomplete(dir string) error {
	files := rootParts(dir)
	if len(files) == 0 {
		return nil
	}
	if unlock, err := lockHome(dir); err == nil {
		unlock()
		if _, err := os.Lstat(filepath.Join(dir, RootCertFile)); err == nil {
			return nil
		}
		if files = rootParts(dir); len(files) == 0 {
			return nil
		}
	}
	return newIncompleteError(dir, files)
}

// checkEmptyHome is what Create and Import check, under the home's lock,
// before they write a new CA into dir: ErrExists when it holds a root
// certificate, an *IncompleteError when it holds other parts of a CA.
func checkEmptyHome(dir string) error {
	if _, err := os.Lstat(filepath.Join(dir, RootCertFile)); err == nil {
		return fmt.Errorf("%w in %q", ErrExists, dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking for an existing root: %w", err)
	}
	if files := rootParts(dir); len(files) > 0 {
		return newIncompleteError(dir, files)
	}
	return nil
}
