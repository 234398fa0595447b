package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devca/devca/trust"
)

// TestStatusReportsCheckFailures runs 'devca status' in-process against a
// fake trust.StatusAll. A store that could not be checked fails the command
// with its error (exit 1) even when every store that was checked trusts the
// root, and the report still shows what could be checked.
func TestStatusReportsCheckFailures(t *testing.T) {
	work := t.TempDir()
	// HOME is the fake's business, but devca finds it before asking.
	vars := map[string]string{"DEVCA_HOME": filepath.Join(work, "cahome"), "HOME": filepath.Join(work, "userhome"),
		"DEVCA_KEY_STORAGE": "file", "USER": "tester"}
	runStatusWith := func(t *testing.T, fake func(context.Context, trust.Env, *x509.Certificate, []string) ([]trust.Result, error), args ...string) (code int, stdout, stderr string) {
		t.Helper()
		var out, errOut bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
			getenv: func(k string) string { return vars[k] }, args: append([]string{"devca"}, args...),
			hostname: func() (string, error) { return "box", nil }, statusAll: fake}
		code = e.exit(newApp(e).Run(e.args))
		return code, out.String(), errOut.String()
	}
	if code, _, stderr := runStatusWith(t, nil, "init", "--no-trust"); code != exitOK {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}

	trustedSystem := trust.Result{Store: trust.StoreSystem, Description: "Debian/Ubuntu system store", Present: true, Trusted: true,
		Locations: []trust.Location{{Path: "/etc/ssl/certs/ca-certificates.crt", Trusted: true}}}
	brokenNSS := trust.Result{Store: trust.StoreNSS, Description: "NSS databases", Present: true,
		Err: errors.New("checking NSS databases: certutil exited 1: SEC_ERROR_BAD_DATABASE")}
	for _, tc := range []struct {
		name     string
		results  []trust.Result
		err      error
		wantCode int
		// wantStdout must each appear in the text report; wantStderr in
		// stderr, line by line.
		wantStdout []string
		wantStderr []string
	}{
		{
			name: "ok/every-store-trusts", results: []trust.Result{trustedSystem}, wantCode: exitOK,
			wantStdout: []string{"system  "},
		},
		{
			// The stores could not even be listed: an empty report must not
			// pass as a trusted one.
			name: "fail/no-stores-checked", err: fmt.Errorf("installing trust on plan9: %w", trust.ErrUnsupported), wantCode: exitFailure,
			wantStdout: []string{"STORE"},
			wantStderr: []string{
				"devca: error: checking the trust stores: installing trust on plan9: not supported on this system",
				"devca: hint: install the root file from 'devca home' into your trust stores by hand",
			},
		},
		{
			// One check failed without a row of its own; the row that was
			// checked is still printed.
			name: "fail/error-beside-a-trusted-store", results: []trust.Result{trustedSystem}, err: errors.New("checking Java cacerts: keytool exited 1: boom"),
			wantCode:   exitFailure,
			wantStdout: []string{"system  "},
			wantStderr: []string{"devca: error: checking Java cacerts: keytool exited 1: boom"},
		},
		{
			name: "fail/store-check-error", results: []trust.Result{trustedSystem, brokenNSS}, err: brokenNSS.Err, wantCode: exitFailure,
			wantStdout: []string{"system  ", "nss  "},
			wantStderr: []string{
				"devca: error: checking NSS databases: certutil exited 1: SEC_ERROR_BAD_DATABASE",
				"devca: error: the root is not trusted by nss",
				"devca: hint: run 'devca install --stores nss'",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := func(context.Context, trust.Env, *x509.Certificate, []string) ([]trust.Result, error) {
				return tc.results, tc.err
			}
			code, stdout, stderr := runStatusWith(t, fake, "status")
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			lines := strings.Split(stderr, "\n")
			for _, w := range tc.wantStderr {
				if !containsLine(lines, w) {
					t.Errorf("stderr lacks the line %q:\n%s", w, stderr)
				}
			}
			if tc.wantCode == exitOK && stderr != "" {
				t.Errorf("stderr on success:\n%s", stderr)
			}

			// --json reports the same and exits the same way.
			code, stdout, _ = runStatusWith(t, fake, "status", "--json")
			var report statusReport
			if err := json.Unmarshal([]byte(stdout), &report); err != nil {
				t.Fatalf("--json printed no report: %v\n%s", err, stdout)
			}
			if code != tc.wantCode || len(report.Stores) != len(tc.results) {
				t.Errorf("--json: exit %d with %d stores, want exit %d with %d", code, len(report.Stores), tc.wantCode, len(tc.results))
			}
		})
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}
