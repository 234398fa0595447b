package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/devca/devca/ca"
)

// Concurrent 'devca init' runs on a fresh home: one creates the CA, and every
// other ends as a run after it would, reporting that CA with exit 0 (issue
// 9, item 11).
func TestConcurrentInit(t *testing.T) {
	home, dir := filepath.Join(t.TempDir(), "home"), t.TempDir()
	const n = 10
	type result struct {
		stdout, stderr string
		err            error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := devcaCommand(t, home, dir, "init", "--no-trust")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			<-start
			err := cmd.Run()
			results[i] = result{stdout.String(), stderr.String(), err}
		}()
	}
	close(start)
	wg.Wait()

	auth, err := ca.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	fp := ca.Fingerprint(auth.Cert)
	created := 0
	for i, r := range results {
		if r.err != nil {
			t.Errorf("init %d: %v\n%s", i, r.err, r.stderr)
			continue
		}
		if strings.Contains(r.stdout, "created a new root CA") {
			created++
		} else if !strings.Contains(r.stdout, "a CA already exists") {
			t.Errorf("init %d neither created nor reported the CA:\n%s%s", i, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, fp) {
			t.Errorf("init %d does not name the CA's fingerprint %s:\n%s", i, fp, r.stdout)
		}
	}
	if created != 1 {
		t.Errorf("%d runs say they created the CA, want 1", created)
	}
}

// 'init --new' with standard input that is a character device but not a
// terminal (/dev/null, as under cron or 'ssh host cmd < /dev/null') must not
// prompt: it is a usage error that says to pass --yes, and the CA stays.
func TestInitNewWithoutTerminal(t *testing.T) {
	home, dir := filepath.Join(t.TempDir(), "home"), t.TempDir()
	mustRun(t, devcaCommand(t, home, dir, "init", "--no-trust"))
	before, err := os.ReadFile(filepath.Join(home, ca.RootCertFile))
	if err != nil {
		t.Fatal(err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd := devcaCommand(t, home, dir, "init", "--new", "--no-trust")
	cmd.Stdin = null
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitUsage {
		t.Errorf("init --new < %s: %v, want exit %d\n%s", os.DevNull, err, exitUsage, stderr.String())
	}
	for _, want := range []string{
		"devca: error: replacing the CA needs confirmation: pass --yes\n",
		"devca: hint: standard input is not a terminal",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "type yes") {
		t.Errorf("init --new prompted without a terminal:\n%s", stderr.String())
	}
	after, err := os.ReadFile(filepath.Join(home, ca.RootCertFile))
	if err != nil || !bytes.Equal(after, before) {
		t.Errorf("the CA changed: %v", err)
	}
}
