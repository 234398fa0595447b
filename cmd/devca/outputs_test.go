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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
)

func TestParseWindowBounds(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"30d", 30 * 24 * time.Hour, ""},
		{"36500d", maxWindowDays * 24 * time.Hour, ""},
		{"36501d", 0, "too long"},
		{"106752d", 0, "too long"}, // where a time.Duration overflows
		{"876000h", maxWindowDays * 24 * time.Hour, ""},
		{"876001h", 0, "too long"},
		{"2562047h", 0, "too long"},
		{"99999999999999999999d", 0, "invalid duration"},
	} {
		got, err := parseWindow(tc.in)
		var usage *usageError
		if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &usage)) ||
			tc.wantErr == "" && (err != nil || got != tc.want) {
			t.Errorf("parseWindow(%q) = %v, %v; want %v, usage error containing %q", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestRenewRecordsWithoutDigests: records written before devca kept file
// digests still renew while their files hold what devca wrote (the same
// certificate, its key, a PKCS#12 file opening to it), and are refused once
// a key or PKCS#12 file was replaced.
func TestRenewRecordsWithoutDigests(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	mustRun(t, devcaCommand(t, home, dir, "init", "--no-trust"))
	issueOld := func(name string) {
		t.Helper()
		mustRun(t, devcaCommand(t, home, dir, "issue", name, "--p12", "--force"))
		stripDigests(t, filepath.Join(home, "issued.jsonl")) // the CA home's record
	}
	renew := func(name string, extra ...string) (string, error) {
		cmd := devcaCommand(t, home, dir, append([]string{"renew", name}, extra...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	issueOld("old.test")
	if out, err := renew("old.test"); err != nil {
		t.Fatalf("renewing an unchanged old record: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		name    string
		change  func(t *testing.T)
		extra   []string
		wantErr string
	}{
		{"key replaced", func(t *testing.T) {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
			if err := os.WriteFile(filepath.Join(dir, "old.test-key.pem"), keyPEM, 0o600); err != nil {
				t.Fatal(err)
			}
		}, nil, `no longer holds the key devca wrote there`},
		{"p12 replaced", func(t *testing.T) {
			replaceFile(t, filepath.Join(home, ca.RootCertFile), filepath.Join(dir, "old.test.p12"))
		}, nil, `cannot tell whether`},
		{"p12 password differs", func(*testing.T) {}, []string{"--p12-password", "other"}, `cannot tell whether`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issueOld("old.test")
			tc.change(t)
			before := readAll(t, dir, "old.test.pem", "old.test-key.pem", "old.test.p12")
			out, err := renew("old.test", tc.extra...)
			if err == nil || !strings.Contains(out, tc.wantErr) {
				t.Fatalf("renew = %v\n%s\nwant failure containing %q", err, out, tc.wantErr)
			}
			if after := readAll(t, dir, "old.test.pem", "old.test-key.pem", "old.test.p12"); after != before {
				t.Error("a refused renewal changed the files")
			}
		})
	}
}

// stripDigests rewrites a record as devca wrote it before it kept digests.
func stripDigests(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "cert_sha256")
		delete(m, "key_sha256")
		delete(m, "p12_sha256")
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, b...), '\n')
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func replaceFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// readAll concatenates files, to tell whether any of them changed.
func readAll(t *testing.T, dir string, names ...string) string {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}
