package ca

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

func fakeBusEnv(key string) string {
	if key == "DBUS_SESSION_BUS_ADDRESS" {
		return "unix:path=/nonexistent/devca-test-bus"
	}
	return ""
}

// TestSystemKeyringMock runs the go-keyring wrapper against go-keyring's own
// mock provider.
func TestSystemKeyringMock(t *testing.T) {
	keyring.MockInit()
	kr := NewSystemKeyring(SystemKeyringOptions{Getenv: fakeBusEnv, GOOS: "linux"})
	if _, err := kr.Get(KeyringService, "a"); !errors.Is(err, ErrKeyringNotFound) {
		t.Fatalf("Get of a missing entry: %v, want ErrKeyringNotFound", err)
	}
	if err := ProbeKeyring(kr); err != nil {
		t.Fatalf("ProbeKeyring: %v", err)
	}
	if err := kr.Set(KeyringService, "a", "secret"); err != nil {
		t.Fatal(err)
	}
	if s, err := kr.Get(KeyringService, "a"); err != nil || s != "secret" {
		t.Fatalf("Get = %q, %v", s, err)
	}
	if err := kr.Delete(KeyringService, "a"); err != nil {
		t.Fatal(err)
	}
	if err := kr.Delete(KeyringService, "a"); !errors.Is(err, ErrKeyringNotFound) {
		t.Fatalf("second Delete: %v", err)
	}

	keyring.MockInitWithError(errors.New("access denied"))
	err := ProbeKeyring(kr)
	var ke *KeyringError
	if !errors.As(err, &ke) || ke.Op != "get" || ke.Name != "Secret Service keyring" {
		t.Fatalf("ProbeKeyring with a failing keyring: %v", err)
	}
	keyring.MockInit()
}

func TestSystemKeyringTimeout(t *testing.T) {
	k := &systemKeyring{opts: SystemKeyringOptions{Timeout: 100 * time.Millisecond, Getenv: fakeBusEnv, GOOS: "linux"}}
	release := make(chan struct{})
	defer close(release)
	start := time.Now()
	err := k.call("get", func() error { <-release; return nil })
	if !errors.Is(err, ErrKeyringTimeout) {
		t.Fatalf("call: %v, want ErrKeyringTimeout", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("gave up after %s, want about 100ms", d)
	}
}

func TestSystemKeyringNoSessionBus(t *testing.T) {
	if _, err := os.Stat(filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "bus")); err == nil {
		t.Skip("this machine has a systemd user bus, which godbus finds without the variable")
	}
	k := NewSystemKeyring(SystemKeyringOptions{Getenv: func(string) string { return "" }, GOOS: "linux"})
	if _, err := k.Get(KeyringService, "x"); !errors.Is(err, ErrNoSessionBus) {
		t.Fatalf("Get without a bus: %v, want ErrNoSessionBus", err)
	}
	// macOS and Windows keyrings need no bus.
	for _, goos := range []string{"darwin", "windows"} {
		k := &systemKeyring{opts: SystemKeyringOptions{Getenv: func(string) string { return "" }, GOOS: goos}}
		if err := k.preflight(); err != nil {
			t.Errorf("%s: preflight: %v", goos, err)
		}
	}
}

func TestKeyringName(t *testing.T) {
	for goos, want := range map[string]string{"darwin": "macOS Keychain", "windows": "Windows Credential Manager", "linux": "Secret Service keyring", "freebsd": "Secret Service keyring"} {
		if got := KeyringName(goos); got != want {
			t.Errorf("KeyringName(%q) = %q, want %q", goos, got, want)
		}
	}
}
