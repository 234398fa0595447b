package trust

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Env is everything the trust package reads or changes outside its
// arguments. Nothing is probed at package load time: callers build an Env,
// usually with [DefaultEnv], and tests build one around a temporary folder
// and a fake [Runner].
type Env struct {
	// GOOS selects the stores and command lines, so that Linux tests can
	// exercise the macOS and Windows code paths.
	GOOS string
	// Root prefixes every system path (/etc, /usr, /Library, /proc); empty
	// means the real root.
	Root string
	// Home is the user's home folder, where NSS databases and Firefox
	// profiles live.
	Home string
	// Getenv reads environment variables such as JAVA_HOME and
	// XDG_CONFIG_HOME.
	Getenv func(string) string
	// LookPath finds programs on PATH.
	LookPath func(string) (string, error)
	// EvalSymlinks resolves symbolic links, used to find the JDK behind
	// /usr/bin/java.
	EvalSymlinks func(string) (string, error)
	// Runner runs external commands.
	Runner Runner
	// Writable reports whether the current user may change the file at
	// path; a false answer makes the change a privileged command.
	Writable func(path string) bool
	// TempDir holds short-lived copies of certificates that commands read
	// from a file; empty means os.TempDir().
	TempDir string
	// WindowsRoot is the current user's Root certificate store on Windows.
	// It is set by DefaultEnv on Windows and nil elsewhere.
	WindowsRoot CertStore
	// Interactive reports whether a dialog this process shows can reach a
	// user; Windows confirms each change of the user's Root store in one.
	// Nil means yes. DefaultEnv sets it on Windows.
	Interactive func() bool
	// DialogTimeout bounds the wait for the user to answer such a dialog;
	// zero means DefaultDialogTimeout.
	DialogTimeout time.Duration
}

// CertStore is a certificate store addressed by exact DER bytes, such as the
// Windows current user Root store. It has two views: the store the user's
// programs read, which on Windows includes the local machine's Root store
// and group policy roots, and the user's own part of it, the only part
// devca changes.
type CertStore interface {
	// Trusts reports whether the store, including what it includes from
	// elsewhere, holds exactly this certificate.
	Trusts(der []byte) (bool, error)
	// Contains reports whether the user's own part of the store holds
	// exactly this certificate.
	Contains(der []byte) (bool, error)
	// Add adds the certificate to the user's own part; adding one that is
	// present is not an error.
	Add(der []byte) error
	// Delete removes exactly this certificate from the user's own part,
	// never another one with the same subject or serial, and never one
	// that only an included store holds; deleting one that is absent is not
	// an error.
	Delete(der []byte) error
	// All returns every certificate the user's programs read from the
	// store.
	All() ([][]byte, error)
}

// DefaultEnv returns the Env of the running process. getenv is usually
// os.Getenv; runner is usually an *ExecRunner. It returns ErrUnsupported on
// systems devca cannot install trust on.
func DefaultEnv(getenv func(string) string, runner Runner) (Env, error) {
	home := getenv("HOME")
	if home == "" && runtime.GOOS == "windows" {
		home = getenv("USERPROFILE")
	}
	if home == "" {
		return Env{}, errors.New("finding the home folder: HOME is not set")
	}
	e := Env{
		GOOS:         runtime.GOOS,
		Home:         home,
		Getenv:       getenv,
		LookPath:     exec.LookPath,
		EvalSymlinks: filepath.EvalSymlinks,
		Runner:       runner,
		Writable:     writable,
	}
	if err := platformDefaults(&e); err != nil {
		return Env{}, err
	}
	return e, nil
}

// path returns the system path p (written with forward slashes, as on Unix)
// under e.Root.
func (e Env) path(p string) string {
	if e.Root == "" {
		return filepath.FromSlash(p)
	}
	return filepath.Join(e.Root, filepath.FromSlash(p))
}

func (e Env) getenv(key string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(key)
}

func (e Env) lookPath(name string) (string, error) {
	if e.LookPath == nil {
		return exec.LookPath(name)
	}
	return e.LookPath(name)
}

func (e Env) hasTool(name string) bool {
	_, err := e.lookPath(name)
	return err == nil
}

func (e Env) writable(path string) bool {
	if e.Writable == nil {
		return writable(path)
	}
	return e.Writable(path)
}

func (e Env) evalSymlinks(path string) (string, error) {
	if e.EvalSymlinks == nil {
		return filepath.EvalSymlinks(path)
	}
	return e.EvalSymlinks(path)
}

// withCertFile writes der as PEM to a temporary file, calls f with its path
// and removes the file again.
func (e Env) withCertFile(der []byte, f func(path string) error) error {
	tmp, err := os.CreateTemp(e.TempDir, "devca-root-*.pem")
	if err != nil {
		return fmt.Errorf("writing temporary certificate file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Readable by root through sudo and by tools running as the user.
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("writing temporary certificate file: %w", err)
	}
	return f(tmp.Name())
}

// writable opens path for writing without truncating or changing it.
func writable(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// readFileIfExists returns nil, nil for a missing file.
func readFileIfExists(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// osRelease reads the ID and ID_LIKE fields of /etc/os-release.
func (e Env) osRelease() (id string, like []string) {
	data, err := os.ReadFile(e.path("/etc/os-release"))
	if err != nil {
		data, _ = os.ReadFile(e.path("/usr/lib/os-release"))
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = strings.ToLower(v)
		case "ID_LIKE":
			like = strings.Fields(strings.ToLower(v))
		}
	}
	return id, like
}
