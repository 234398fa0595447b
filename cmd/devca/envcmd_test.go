package main

import (
	"os/exec"
	"runtime"
	"testing"
)

// TestFormatEnvShRoundTrip evals 'devca env's sh output in a real sh: every
// value, whatever it holds, must come back byte for byte, and nothing in it
// may run.
func TestFormatEnvShRoundTrip(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX sh on Windows")
	}
	for i, value := range []string{
		"/home/u/.local/share/devca/rootCA.pem",
		"/Users/me/Library/Application Support/devca/rootCA.pem",
		`/home/o'neil/a b\c/rootCA.pem`,
		"/tmp/$(touch pwned)/`id`/$HOME/*.pem",
		"/tmp/two\nlines/'';!#~=x",
		"",
	} {
		script := formatEnv("sh", []envVar{{"NODE_EXTRA_CA_CERTS", value, "Node.js"}}) + `printf '%s' "$NODE_EXTRA_CA_CERTS"`
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Dir = t.TempDir()
		out, err := cmd.Output()
		if err != nil || string(out) != value {
			t.Errorf("Test %d: sh read back %q (%v), want %q\nscript:\n%s", i, out, err, value, script)
		}
		if matches, _ := exec.Command("ls", "-A", cmd.Dir).Output(); len(matches) != 0 {
			t.Errorf("Test %d: the value ran a command: %s", i, matches)
		}
	}
}
