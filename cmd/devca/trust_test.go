package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The devca command that testscript runs is this test binary, so the trust
// hooks are set here, in every devca process a test starts and in the test
// process itself.
//
// By default no test may change this machine's trust stores: the system
// root is an empty folder and the JDK is hidden, so a test that runs
// 'devca init' without --no-trust touches at most an NSS database in its
// own HOME. Tests that mean to change the real stores set
// DEVCA_TEST_REAL_TRUST=1 (see trust_e2e_test.go). The trust scripts
// (testdata/script/trust_*.txtar) set DEVCA_TEST_SYSROOT to a fake root with
// fake tools.
func init() {
	if os.Getenv("DEVCA_TEST_REAL_TRUST") != "1" {
		testOnlyHiddenTools = []string{"java", "keytool"}
		testOnlySysRoot = os.Getenv("DEVCA_TEST_SYSROOT")
		if testOnlySysRoot == "" {
			testOnlySysRoot = filepath.Join(os.TempDir(), "devca-test-empty-system-root")
			testOnlyHiddenTools = append(testOnlyHiddenTools, "sudo")
		}
	}
	if euid, err := strconv.Atoi(os.Getenv("DEVCA_TEST_EUID")); err == nil {
		testOnlyEuid = euid
	}
	if tools := os.Getenv("DEVCA_TEST_HIDE_TOOLS"); tools != "" {
		testOnlyHiddenTools = append(testOnlyHiddenTools, strings.Split(tools, ",")...)
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
