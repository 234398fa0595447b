// Package systest holds helpers for the end-to-end tests that change this
// machine's real trust stores. Those tests live in several packages, and go
// test runs packages in parallel; [Lock] makes them take turns, so that one
// test's update-ca-certificates or keytool run never races another's.
package systest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gofrs/flock"
)

// Enabled skips t unless the caller asked for tests that change the real
// system: DEVCA_E2E_SYSTEM=1, or CI=true as set by .ci/run.
func Enabled(t testing.TB) {
	t.Helper()
	if os.Getenv("DEVCA_E2E_SYSTEM") != "1" && os.Getenv("CI") != "true" {
		t.Skip("changes the real system trust store; set DEVCA_E2E_SYSTEM=1 (or CI=true) to run")
	}
}

// Missing skips t for a missing tool or facility, except under CI=true,
// where .ci/run installs everything and a skip would pass silently.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true", what)
	}
	t.Skipf("%s not available", what)
}

// Lock takes the machine-wide lock of the system trust tests until t ends.
func Lock(t testing.TB) {
	t.Helper()
	l := flock.New(filepath.Join(os.TempDir(), "devca-system-trust-test.lock"))
	if err := l.Lock(); err != nil {
		t.Fatalf("locking the system trust tests: %v", err)
	}
	t.Cleanup(func() { l.Unlock() })
}
