package main

import (
	"context"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust"
)

func TestEnvShell(t *testing.T) {
	for i, tc := range []struct {
		flag, shell, goos, want string
		wantErr                 bool
	}{
		{"", "/bin/bash", "linux", "sh", false},
		{"", "/usr/bin/zsh", "darwin", "sh", false},
		{"", "/usr/bin/fish", "linux", "fish", false},
		{"", "", "windows", "powershell", false},
		{"", "", "linux", "sh", false},
		{"", "/opt/pwsh", "linux", "powershell", false},
		{"", "/bin/tcsh", "linux", "sh", false},
		{"PowerShell.exe", "/bin/bash", "linux", "powershell", false},
		{"tcsh", "", "linux", "", true},
	} {
		got, err := envShell(tc.flag, tc.shell, tc.goos)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Test %d: envShell(%q, %q, %q) = %q, %v", i, tc.flag, tc.shell, tc.goos, got, err)
		}
	}
}

func TestFormatEnvQuotes(t *testing.T) {
	vars := []envVar{{"NODE_EXTRA_CA_CERTS", `/home/o'neil/a b\c/rootCA.pem`, "Node.js"}}
	for shell, want := range map[string]string{
		"sh":         `export NODE_EXTRA_CA_CERTS='/home/o'\''neil/a b\c/rootCA.pem'  # Node.js`,
		"fish":       `set -gx NODE_EXTRA_CA_CERTS '/home/o\'neil/a b\\c/rootCA.pem'; # Node.js`,
		"powershell": `$env:NODE_EXTRA_CA_CERTS = '/home/o''neil/a b\c/rootCA.pem'  # Node.js`,
	} {
		got := formatEnv(shell, vars)
		if !strings.Contains(got, want+"\n") {
			t.Errorf("%s:\n%s\nwant line\n%s", shell, got, want)
		}
	}
}

// TestUninstallRootKeepsTheNewRoot is what init does when it replaces a CA:
// the new root is installed, the old one removed, in an NSS database of a
// temporary HOME (the system store is an empty folder in tests).
func TestUninstallRootKeepsTheNewRoot(t *testing.T) {
	t.Parallel()
	requireTool(t, "certutil")
	home := t.TempDir()
	cahome := filepath.Join(home, "cahome")
	nssdb := filepath.Join(home, ".pki", "nssdb")
	os.MkdirAll(nssdb, 0o700)
	if out, err := exec.Command("certutil", "-N", "-d", "sql:"+nssdb, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	vars := map[string]string{"HOME": home}
	var stdout, stderr strings.Builder
	e := &env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	tenv, err := e.trustEnv()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var roots []*x509.Certificate
	for _, name := range []string{"old", "new"} {
		auth, err := ca.Create(filepath.Join(cahome, name), ca.CreateOptions{User: name, Host: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := trust.InstallAll(ctx, tenv, auth.Cert, filepath.Join(auth.Dir, ca.RootCertFile), cahome, []string{trust.StoreNSS}); err != nil {
			t.Fatal(err)
		}
		roots = append(roots, auth.Cert)
	}
	if err := uninstallRoot(e, cahome, roots[0], []string{trust.StoreNSS}); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "removed") {
		t.Errorf("output %q, want a removed line", stdout.String())
	}
	for i, want := range []bool{false, true} {
		res, err := trust.StatusAll(ctx, tenv, roots[i], []string{trust.StoreNSS})
		if err != nil || res[0].Trusted != want {
			t.Errorf("root %d: trusted=%v (%v), want %v", i, res[0].Trusted, err, want)
		}
	}
}
