package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
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

// tooManyNames is one name more than a certificate may carry.
func tooManyNames() []string {
	many := make([]string, ca.MaxNames+1)
	for i := range many {
		many[i] = fmt.Sprintf("h%d.test", i)
	}
	return many
}

// A permit that covers public names is a usage error (exit 2) that writes
// nothing: not into a fresh CA home, and not over an existing CA with --new.
func TestInitRefusesPublicPermits(t *testing.T) {
	existing := initHome(t)
	rootBefore, err := os.ReadFile(filepath.Join(existing, ca.RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, permit := range []string{"com", ".com", "co.uk", "github.io", "dev", "0.0.0.0/0", "::/0", "8.0.0.0/8", "2000::/3", "8.8.8.8"} {
		t.Run("fail/"+permit, func(t *testing.T) {
			fresh := filepath.Join(t.TempDir(), "cahome")
			code, stdout, stderr := runDevca(t, fresh, t.TempDir(), "init", "--no-trust", "--permit", permit)
			if code != exitUsage || !strings.Contains(stderr, "devca: error: --permit "+permit+" would let the root certify public names") {
				t.Errorf("exit %d, stderr %q; want exit %d refusing --permit %s", code, stderr, exitUsage, permit)
			}
			if stdout != "" {
				t.Errorf("stdout = %q", stdout)
			}
			if _, err := os.Lstat(fresh); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the CA home was created: %v", err)
			}

			code, _, stderr = runDevca(t, existing, t.TempDir(), "init", "--new", "--yes", "--no-trust", "--permit", permit)
			if code != exitUsage {
				t.Errorf("init --new: exit %d, want %d\n%s", code, exitUsage, stderr)
			}
			if after, _ := os.ReadFile(filepath.Join(existing, ca.RootCertFile)); !bytes.Equal(after, rootBefore) {
				t.Error("init --new replaced the CA although the permit was refused")
			}
			if _, err := os.Lstat(filepath.Join(existing, "retired")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the old CA was retired although the permit was refused: %v", err)
			}
		})
	}

	t.Run("ok/with --permit-public, and a warning", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), "cahome")
		code, _, stderr := runDevca(t, home, t.TempDir(), "init", "--no-trust", "--permit", "co.uk", "--permit", "0.0.0.0/0", "--permit-public")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "devca: warning: the new root may certify public names (co.uk, 0.0.0.0/0)") {
			t.Errorf("stderr = %q, want the public-names warning", stderr)
		}
	})
}

// Inputs that are not names at all are usage errors with exit code 2.
func TestIssueUsageErrorsExitTwo(t *testing.T) {
	home := initHome(t)
	many := tooManyNames()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ipv6 zone", []string{"issue", "fe80::1%eth0"}, "%eth0 is an IPv6 zone"},
		{"cidr", []string{"issue", "10.0.0.0/8"}, "10.0.0.0/8 is an address range (CIDR), not an address"},
		{"101 names", append([]string{"issue"}, many...), "101 names given; a certificate carries at most 100"},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := runDevca(t, home, dir, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q", stdout)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files appeared: %v", entries)
			}
		})
	}
}

// sign refuses a request for more names than issue accepts, with the same
// message.
func TestSignNameCapMatchesIssue(t *testing.T) {
	home := initHome(t)
	many := tooManyNames()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: many}, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "many.csr"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, issueErr := runDevca(t, home, t.TempDir(), append([]string{"issue"}, many...)...)
	code, _, signErr := runDevca(t, home, dir, "sign", "many.csr")
	want := "101 names given; a certificate carries at most 100 (huge certificates break TLS handshakes): split them over several certificates\n"
	if !strings.HasSuffix(strings.SplitN(issueErr, "\n", 2)[0]+"\n", want) || !strings.Contains(signErr, `reading request "many.csr": `+want) {
		t.Errorf("issue says %q, sign says %q; want both to end %q", issueErr, signErr, want)
	}
	if code == 0 {
		t.Error("sign succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files appeared: %v", entries)
	}
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
