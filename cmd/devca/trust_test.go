package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// The trust scripts (testdata/script/trust_*.txtar) run devca against a fake
// system root and fake tools. The devca command that testscript runs is this
// test binary, so the hooks are set here from variables that only those
// scripts set.
func init() {
	if root := os.Getenv("DEVCA_TEST_SYSROOT"); root != "" {
		testOnlySysRoot = root
	}
	if euid, err := strconv.Atoi(os.Getenv("DEVCA_TEST_EUID")); err == nil {
		testOnlyEuid = euid
	}
	if tools := os.Getenv("DEVCA_TEST_HIDE_TOOLS"); tools != "" {
		testOnlyHiddenTools = strings.Split(tools, ",")
	}
}

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
