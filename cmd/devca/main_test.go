package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var updateScripts = flag.Bool("update", false, "rewrite testscript golden output")

// TestMain lets the test binary act as the devca command: testscript copies
// it onto PATH as "devca", so both scripts and Go tests run the real command
// line in a child process, the way a user does.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"devca": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
	})
}

// trustOverrides are variables that change which roots clients trust; tests
// clear them so that results reflect devca's files only.
var trustOverrides = []string{
	"SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
	"NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "JAVA_TOOL_OPTIONS", "DEVCA_P12_PASSWORD",
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		UpdateScripts:       *updateScripts,
		RequireExplicitExec: true,
		Setup: func(ts *testscript.Env) error {
			ts.Setenv("DEVCA_HOME", filepath.Join(ts.WorkDir, "cahome"))
			ts.Setenv("HOME", filepath.Join(ts.WorkDir, "userhome"))
			ts.Setenv("USER", "tester")
			// Tests that are not about key storage never touch a keyring
			// the machine may have; the key storage tests choose their own.
			ts.Setenv("DEVCA_KEY_STORAGE", "file")
			for _, v := range trustOverrides {
				ts.Setenv(v, "")
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if tool, ok := strings.CutPrefix(cond, "tool:"); ok {
				_, err := exec.LookPath(tool)
				if err != nil && os.Getenv("CI") == "true" {
					// Under CI every tool must be installed: a skipped check
					// would pass silently.
					return false, err
				}
				return err == nil, nil
			}
			return false, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"tlsprobe":    cmdTLSProbe,
			"certcheck":   cmdCertCheck,
			"serve-start": cmdServeStart,
			"serve-stop":  cmdServeStop,
		},
	})
}
