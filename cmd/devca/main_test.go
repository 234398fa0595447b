package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

var updateScripts = flag.Bool("update", false, "rewrite testscript golden output")

// How the tests run the command line: one way for everything that can run
// in a child process. TestMain registers this test binary as the "devca"
// command, and testscript copies it onto PATH under that name, so
//
//   - scripts (testdata/script/*.txtar, run by TestScript) say 'exec devca',
//   - Go tests build the command with devcaCommand (badinput_test.go), which
//     runs that same devca from PATH with a CA home and a clean environment.
//
// Either way the child is the real command line with the real exit code,
// output and signals, as a user runs it, and no test builds a binary of its
// own. Only a test that needs a fake inside the process (a getenv map, a
// cancelled context, a port handed over) calls run() in-process.
//
// The test hooks of install.go and serve.go (fake system root, effective
// user id, hidden tools, no LAN) are set by setTestHooks, which runs only
// in this test binary: in the test process before the tests, and in every
// child that runs as the registered devca command. Scripts choose them with
// the DEVCA_TEST_* variables below; the devca a user runs never reads them.
//
// Fake tools (sudo, update-ca-certificates, chromium) are Go functions in
// fakeTools, dispatched here by the name the binary was run under; a script
// puts one on its PATH with 'faketool NAME', never with a shell script.
func TestMain(m *testing.M) {
	if fake, ok := fakeTools[filepath.Base(os.Args[0])]; ok {
		os.Exit(fake(os.Args[1:]))
	}
	testscript.Main(hookedM{m}, map[string]func(){
		"devca": func() {
			setTestHooks(os.Getenv)
			os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
		},
	})
}

// hookedM sets the test hooks in the test process itself, for the tests
// that call devca's functions in-process.
type hookedM struct{ m *testing.M }

func (h hookedM) Run() int {
	setTestHooks(os.Getenv)
	// The long tests here mostly wait for child processes (devca, Wine,
	// Chromium, openssl), so more of them at once than the machine has
	// cores keeps it busy; go test's default is GOMAXPROCS, two on a small
	// machine. An explicit -parallel still wins: m.Run parses the flags
	// after this.
	if f := flag.Lookup("test.parallel"); f != nil && f.Value.String() == f.DefValue {
		f.Value.Set(strconv.Itoa(max(4, runtime.GOMAXPROCS(0))))
	}
	return h.m.Run()
}

// setTestHooks sets install.go's and serve.go's test hooks from getenv.
//
// By default no test may change this machine's trust stores: the system
// root is a folder that does not exist and the JDK is hidden, so a test that
// runs 'devca init' without --no-trust touches at most an NSS database in
// its own HOME. Tests that mean to change the real stores set
// DEVCA_TEST_REAL_TRUST=1 (see trust_e2e_test.go). The trust scripts
// (testdata/script/trust_*.txtar) set DEVCA_TEST_SYSROOT to a fake root,
// DEVCA_TEST_EUID to act as another user and DEVCA_TEST_HIDE_TOOLS to hide
// installed tools; DEVCA_TEST_NO_LAN=1 makes serve find no LAN address, as
// on a machine with no network; DEVCA_TEST_ACME_LOOPBACK=1 makes devca acme
// resolve every name to 127.0.0.1 when it validates (see newValidator).
func setTestHooks(getenv func(string) string) {
	if getenv("DEVCA_TEST_REAL_TRUST") != "1" {
		testOnlyHiddenTools = []string{"java", "keytool"}
		testOnlySysRoot = getenv("DEVCA_TEST_SYSROOT")
		if testOnlySysRoot == "" {
			testOnlySysRoot = filepath.Join(os.TempDir(), "devca-test-empty-system-root")
			testOnlyHiddenTools = append(testOnlyHiddenTools, "sudo")
		}
	}
	if euid, err := strconv.Atoi(getenv("DEVCA_TEST_EUID")); err == nil {
		testOnlyEuid = euid
	}
	if tools := getenv("DEVCA_TEST_HIDE_TOOLS"); tools != "" {
		testOnlyHiddenTools = append(testOnlyHiddenTools, strings.Split(tools, ",")...)
	}
	testOnlyNoLAN = getenv("DEVCA_TEST_NO_LAN") == "1"
	testOnlyACMELoopback = getenv("DEVCA_TEST_ACME_LOOPBACK") == "1"
	testOnlyIntermediateRenewal, _ = time.ParseDuration(getenv("DEVCA_TEST_INTERMEDIATE_RENEWAL"))
}

// fakeTools stand in for system tools in the trust scripts. Each works only
// inside a script's fake system root ($DEVCA_TEST_SYSROOT) and logs its
// calls in $WORK, where the script checks them.
var fakeTools = map[string]func(args []string) int{
	"update-ca-certificates": fakeUpdateCACertificates,
	"sudo":                   fakeSudo,
	"chromium":               func([]string) int { return 0 },
}

// fakeUpdateCACertificates rebuilds the fake root's bundle from its local
// anchors, like the real command, and appends its command line to
// $WORK/calls.log. FAKE_FAIL=1 makes it fail as a broken store would.
func fakeUpdateCACertificates(args []string) int {
	appendLine(filepath.Join(os.Getenv("WORK"), "calls.log"), "update-ca-certificates "+strings.Join(args, " "))
	if os.Getenv("FAKE_FAIL") != "" {
		fmt.Fprintln(os.Stderr, "E: cannot write /etc/ssl/certs")
		return 1
	}
	root := os.Getenv("DEVCA_TEST_SYSROOT")
	if root == "" {
		// Never rebuild the real system store.
		fmt.Fprintln(os.Stderr, "fake update-ca-certificates: DEVCA_TEST_SYSROOT is not set")
		return 1
	}
	anchors, err := filepath.Glob(filepath.Join(root, "usr", "local", "share", "ca-certificates", "*.crt"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var bundle bytes.Buffer
	for _, f := range anchors {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		bundle.Write(data)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "ssl", "certs", "ca-certificates.crt"), bundle.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fakeSudo appends its command line to $WORK/sudo.log and runs what follows
// "--", as sudo would as root.
func fakeSudo(args []string) int {
	appendLine(filepath.Join(os.Getenv("WORK"), "sudo.log"), "sudo "+strings.Join(args, " "))
	for i, a := range args {
		if a != "--" || i+1 == len(args) {
			continue
		}
		path, err := exec.LookPath(args[i+1])
		if err == nil {
			err = syscall.Exec(path, args[i+1:], os.Environ())
		}
		fmt.Fprintln(os.Stderr, "fake sudo:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "fake sudo: no -- before the command")
	return 1
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintln(f, line)
	f.Close()
}

// cmdFakeTool puts fake tools on the script's PATH, in $WORK/bin: links to
// this test binary under the tool's name, which TestMain dispatches to
// fakeTools.
//
//	faketool NAME...
func cmdFakeTool(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: faketool NAME...")
	}
	self, err := os.Executable()
	ts.Check(err)
	bin := ts.MkAbs("bin")
	ts.Check(os.MkdirAll(bin, 0o755))
	for _, name := range args {
		if fakeTools[name] == nil {
			ts.Fatalf("faketool: no fake %q (see fakeTools)", name)
		}
		ts.Check(os.Symlink(self, filepath.Join(bin, name)))
	}
	if dir := filepath.SplitList(ts.Getenv("PATH")); len(dir) == 0 || dir[0] != bin {
		ts.Setenv("PATH", bin+string(filepath.ListSeparator)+ts.Getenv("PATH"))
	}
}

// trustOverrides are variables that change which roots clients trust; tests
// clear them so that results reflect devca's files only.
var trustOverrides = []string{
	"SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
	"NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "JAVA_TOOL_OPTIONS", "DEVCA_P12_PASSWORD",
}

func TestScript(t *testing.T) {
	t.Parallel()
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
			"faketool":    cmdFakeTool,
		},
	})
}
