package ca

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/zalando/go-keyring"
)

// Keyring is the small part of an operating system keyring devca uses: one
// secret string per service and account. [NewSystemKeyring] returns the real
// one; tests pass an in-memory map or go-keyring's mock.
type Keyring interface {
	Get(service, account string) (string, error)
	Set(service, account, secret string) error
	Delete(service, account string) error
}

// ErrKeyringNotFound is returned by a Keyring's Get and Delete when the
// entry does not exist.
var ErrKeyringNotFound = errors.New("secret not found in keyring")

// ErrKeyringTimeout means the keyring did not answer in time. On Linux this
// is typically a locked collection waiting for an unlock prompt that nobody
// can see.
var ErrKeyringTimeout = errors.New("the keyring did not answer")

// ErrNoSessionBus means there is no D-Bus session bus, so no Secret Service
// keyring can be reached.
var ErrNoSessionBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)")

// DefaultKeyringTimeout bounds every keyring call: go-keyring blocks for as
// long as the keyring does, and a Secret Service waiting for an unlock prompt
// on a headless machine never returns.
const DefaultKeyringTimeout = 5 * time.Second

// KeyringError reports a failed call to the system keyring. Name says which
// keyring it was, for messages and hints.
type KeyringError struct {
	Op   string // "get", "set" or "delete"
	Name string
	Err  error
}

func (e *KeyringError) Error() string {
	return fmt.Sprintf("%s: %v", e.Name, e.Err)
}

func (e *KeyringError) Unwrap() error { return e.Err }

// SystemKeyringOptions configure [NewSystemKeyring].
type SystemKeyringOptions struct {
	// Timeout bounds each call; zero means DefaultKeyringTimeout.
	Timeout time.Duration
	// Getenv and GOOS default to os.Getenv and runtime.GOOS. They decide
	// whether a D-Bus session bus can exist before go-keyring is asked,
	// which would otherwise start a new bus with dbus-launch.
	Getenv func(string) string
	GOOS   string
}

// NewSystemKeyring returns the operating system's keyring (macOS Keychain,
// Windows Credential Manager, Secret Service elsewhere) through
// github.com/zalando/go-keyring, with a timeout on every call.
func NewSystemKeyring(opts SystemKeyringOptions) Keyring {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultKeyringTimeout
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.GOOS == "" {
		opts.GOOS = runtime.GOOS
	}
	return &systemKeyring{opts: opts}
}

// KeyringName names the keyring devca uses on goos, for messages.
func KeyringName(goos string) string {
	switch goos {
	case "darwin", "ios":
		return "macOS Keychain"
	case "windows":
		return "Windows Credential Manager"
	}
	return "Secret Service keyring"
}

type systemKeyring struct {
	opts SystemKeyringOptions
}

func (k *systemKeyring) Get(service, account string) (string, error) {
	var secret string
	err := k.call("get", func() error {
		var err error
		secret, err = keyring.Get(service, account)
		return err
	})
	return secret, err
}

func (k *systemKeyring) Set(service, account, secret string) error {
	return k.call("set", func() error { return keyring.Set(service, account, secret) })
}

func (k *systemKeyring) Delete(service, account string) error {
	return k.call("delete", func() error { return keyring.Delete(service, account) })
}

// call runs f in a goroutine and gives up after the timeout. A goroutine
// left blocked in a keyring call cannot be stopped; it ends with the
// process, which is short-lived.
func (k *systemKeyring) call(op string, f func() error) error {
	if err := k.preflight(); err != nil {
		return &KeyringError{Op: op, Name: KeyringName(k.opts.GOOS), Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(k.opts.Timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if errors.Is(err, keyring.ErrNotFound) {
			return ErrKeyringNotFound
		}
		if err != nil {
			return &KeyringError{Op: op, Name: KeyringName(k.opts.GOOS), Err: err}
		}
		return nil
	case <-timer.C:
		return &KeyringError{Op: op, Name: KeyringName(k.opts.GOOS), Err: fmt.Errorf("%w within %s", ErrKeyringTimeout, k.opts.Timeout)}
	}
}

// preflight refuses a Secret Service call that cannot succeed: without a
// session bus address, godbus runs dbus-launch, which starts a stray bus
// daemon with no keyring behind it.
func (k *systemKeyring) preflight() error {
	switch k.opts.GOOS {
	case "darwin", "ios", "windows":
		return nil
	}
	if addr := k.opts.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && addr != "autolaunch:" {
		return nil
	}
	// godbus also finds a systemd user bus at /run/user/UID/bus.
	if fi, err := os.Stat(filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "bus")); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return nil
	}
	return ErrNoSessionBus
}

// ProbeKeyring reports whether kr answers, by looking up an entry that does
// not exist. It returns nil when the keyring works.
func ProbeKeyring(kr Keyring) error {
	_, err := kr.Get(KeyringService, "probe")
	if err == nil || errors.Is(err, ErrKeyringNotFound) {
		return nil
	}
	return err
}
