package ca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/gofrs/flock"
)

// File names inside a CA home. Tools and scripts rely on RootCertFile.
const (
	RootCertFile = "rootCA.pem"
	RootKeyFile  = "rootCA-key.pem"
	MetaFile     = "ca.json"
	RecordFile   = "issued.jsonl"
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
			Fix: fmt.Sprintf("run 'chmod 700 %s'", shellQuote(dir))}
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
			Fix: fmt.Sprintf("replace the link with the key file itself, or check who planted it (ls -l %s)", shellQuote(path))}
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file", path)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return &InsecurePermissionsError{Path: path, Mode: fi.Mode(), Reason: "the private key is accessible by group or others",
			Fix: fmt.Sprintf("run 'chmod 600 %s'", shellQuote(path))}
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
	tmp, err := writeTemp(OutputFile{Path: path, Data: data, Perm: perm})
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

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '.' || r == '_' || r == '-' || r == '+' || r == ':' || r == '@') {
			safe = false
			break
		}
	}
	if safe && s != "" {
		return s
	}
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
		} else {
			out += string(r)
		}
	}
	return out + "'"
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
