package ca

import (
	"os/exec"
	"runtime"
	"testing"
)

// TestShellQuote pins which words stay bare and checks every quoted one
// with a real sh: what the shell reads back must be the word itself.
func TestShellQuote(t *testing.T) {
	for i, tc := range []struct{ in, want string }{
		{"/usr/bin/x", "/usr/bin/x"},
		{"/Users/u/Library/Application Support/devca", "'/Users/u/Library/Application Support/devca'"},
		{"x@y:1+", "x@y:1+"},
		{"C,,", "C,,"},
		{"sql:/h/.pki/db", "sql:/h/.pki/db"},
		{"-storepass=changeit", "-storepass=changeit"},
		{"user@host:%u+1.pem", "user@host:%u+1.pem"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"''", `''\'''\'''`},
		{"=certutil", "'=certutil'"},
		{"~/x", "'~/x'"},
		{"$HOME/x", "'$HOME/x'"},
		{"`id`", "'`id`'"},
		{"a*b?[c]{d}", "'a*b?[c]{d}'"},
		{"a;b|c&d>e<f", "'a;b|c&d>e<f'"},
		{`!x#y^z\`, `'!x#y^z\'`},
		{"two\nlines", "'two\nlines'"},
		{"tab\there", "'tab\there'"},
		{"/Users/é/root.pem", "'/Users/é/root.pem'"},
		{`C:\Users\me\root.pem`, `'C:\Users\me\root.pem'`},
	} {
		got := ShellQuote(tc.in)
		if got != tc.want {
			t.Errorf("Test %d: ShellQuote(%q) = %q, want %q", i, tc.in, got, tc.want)
		}
		if runtime.GOOS == "windows" {
			continue
		}
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+got).Output()
		if err != nil || string(out) != tc.in {
			t.Errorf("Test %d: sh read %s back as %q (%v), want %q", i, got, out, err, tc.in)
		}
	}
}
