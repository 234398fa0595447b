package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestIssueRefusesBadNames drives the devca binary with names that must
// never reach a certificate: each is refused with exit code 2, a message
// that names the input, and no file written.
func TestIssueRefusesBadNames(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if out, err := devcaCommand(t, home, t.TempDir(), "init", "--no-trust").CombinedOutput(); err != nil {
		t.Fatalf("devca init: %v\n%s", err, out)
	}
	long63 := strings.Repeat("a", 63)
	tests := []struct {
		name, arg, want string
	}{
		{"empty", "", `invalid name "": the name is empty`},
		{"space", "my app.test", "spaces"},
		{"leading space", " app.test", "spaces"},
		{"tab", "app\t.test", "spaces"},
		{"newline", "app.test\nevil.test", "spaces"},
		{"control char", "app\x01.test", "control"},
		{"double dot", "a..b", "empty label"},
		{"leading dot", ".app.test", "empty label"},
		{"two trailing dots", "app.test..", "empty label"},
		{"only dot", ".", "empty"},
		{"leading hyphen", "-bad.test", "hyphen"},
		{"trailing hyphen", "bad-.test", "hyphen"},
		{"hyphen last label", "app.-test", "hyphen"},
		{"label 64", strings.Repeat("a", 64) + ".test", "longer than 63"},
		{"name 254", strings.Repeat(long63+".", 3) + strings.Repeat("a", 58) + ".test", "longer than 253"},
		{"double wildcard", "*.*.test", "wildcard"},
		{"partial wildcard", "a*.test", "wildcard"},
		{"inner wildcard", "app.*.test", "wildcard"},
		{"bare wildcard", "*", "wildcard"},
		{"wildcard only dot", "*.", "empty"},
		{"ipv4 octet 256", "256.1.1.1", "all digits"},
		{"ipv4 three parts", "1.2.3", "all digits"},
		{"ipv4 five parts", "1.2.3.4.5", "all digits"},
		{"numeric", "12345", "all digits"},
		{"ipv6 zone", "fe80::1%eth0", `"fe80::1%eth0"`},
		{"ipv6 bad", "2001:db8:::1", `"2001:db8:::1"`},
		{"slash", "app/test", "not allowed"},
		{"colon", "app:8443", "not allowed"},
		{"exclamation", "app!.test", "not allowed"},
		{"percent", "app%2e.test", "not allowed"},
		{"backslash", `app\.test`, "not allowed"},
		{"quote", `app".test`, "not allowed"},
		{"invalid utf8", "app\xff.test", "UTF-8"},
		{"bad punycode", "xn--zz.test", "punycode"},
		{"email no local", "@app.test", "local part"},
		{"email no domain", "dev@", "local part"},
		{"email bad domain", "dev@-app.test", "domain after @"},
		{"email space local", "de v@app.test", "spaces"},
		{"email double dot", "de..v@app.test", "dots"},
		{"email bad char", "de(v@app.test", "not allowed"},
		{"uri no host", "spiffe:///path", "scheme and a host"},
		{"uri userinfo", "https://user:pw@app.test/", "user name"},
		{"uri bad host", "https://-app.test/", "host of the URI"},
		{"uri empty", "://", "scheme"},
		{"bidi mix", "\u05d0a.test", "internationalised"},
	}
	if len(tests) < 40 {
		t.Fatalf("the table must hold at least 40 bad names, has %d", len(tests))
	}
	for _, tc := range tests {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd := devcaCommand(t, home, dir, "issue", "--", tc.arg)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != exitUsage {
				t.Fatalf("devca issue %q: got %v, want exit status %d\nstderr: %s", tc.arg, err, exitUsage, stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), "devca: error: invalid name ") || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("devca issue %q: stderr = %q, want it to start with \"devca: error: invalid name\" and contain %q", tc.arg, stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files appeared: %v", entries)
			}
		})
	}
}

// devcaCommand prepares the devca binary (put on PATH by TestMain) to run in
// dir with the CA home home and a clean trust environment.
func devcaCommand(t testing.TB, home, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("devca", args...)
	cmd.Dir = dir
	env := []string{"DEVCA_HOME=" + home, "HOME=" + filepath.Join(home, "userhome"), "USER=tester", "DEVCA_KEY_STORAGE=file"}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DEVCA_HOME" || name == "HOME" || strings.HasPrefix(name, "DEVCA_") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	return cmd
}
