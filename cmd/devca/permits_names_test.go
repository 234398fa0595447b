package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runDevca runs the devca binary and returns its exit code and output.
func runDevca(t *testing.T, home, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := devcaCommand(t, home, dir, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("devca %q: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// initHome returns a CA home holding a new default CA.
func initHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	if code, _, stderr := runDevca(t, home, t.TempDir(), "init", "--no-trust"); code != 0 {
		t.Fatalf("devca init: exit %d\n%s", code, stderr)
	}
	return home
}

// --days is read in decimal: the flag package's base prefixes (0x10, 0o20,
// 010, 1_0) are usage errors or plain decimal, never another number.
func TestDaysDecimalOnly(t *testing.T) {
	home := initHome(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"hex", []string{"issue", "--days", "0x10", "app.test"}},
		{"hex with =", []string{"issue", "--days=0x10", "app.test"}},
		{"hex after the name", []string{"issue", "app.test", "--days", "0x10"}},
		{"octal prefix", []string{"issue", "--days", "0o20", "app.test"}},
		{"underscore", []string{"issue", "--days", "1_0", "app.test"}},
		{"sign", []string{"sign", "--days", "0x10", "x.csr"}},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := runDevca(t, home, dir, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, "for flag --days: not a whole number in decimal digits\n") {
				t.Errorf("exit %d, stderr %q; want exit %d and a decimal-only message", code, stderr, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout = %q", stdout)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files appeared: %v", entries)
			}
		})
	}
	t.Run("ok/leading zero is decimal", func(t *testing.T) {
		code, stdout, stderr := runDevca(t, home, t.TempDir(), "issue", "--days", "010", "--json", "ten.test")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var res issueResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		if got := time.Until(res.NotAfter).Hours() / 24; got < 9 || got > 10 {
			t.Errorf("--days 010 gave a certificate valid %.1f more days, want 10", got)
		}
	})
}
