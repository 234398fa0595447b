package main

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOutputPrefixesLiveInErrorsGo keeps the output rules of errors.go true:
// no other non-test source of devca spells a "devca: " prefix, or the
// "hint: ", "warning: " or "error: " that a helper would put after it. A
// hand-written prefix is how a message drifts from the format (a missing
// "error:", a hint printed as a note), so each line must go through
// env.exit, warnf, hintf, notef or warningWriter instead.
func TestOutputPrefixesLiveInErrorsGo(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	fset := token.NewFileSet()
	for _, name := range files {
		if name == "errors.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: %v", fset.Position(lit.Pos()), err)
			}
			if bad := handWrittenPrefix(s); bad != "" {
				t.Errorf("%s: %s spells the output prefix %q; print through the helpers in errors.go", fset.Position(lit.Pos()), lit.Value, bad)
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("checked only %d files; is the test running in cmd/devca?", checked)
	}
}

// handWrittenPrefix returns the output prefix that s spells by hand, or "".
func handWrittenPrefix(s string) string {
	for _, p := range []string{errorPrefix, hintPrefix, warningPrefix} {
		if strings.Contains(s, p) {
			return p
		}
	}
	for _, p := range []string{notePrefix, "error: ", "hint: ", "warning: "} {
		if strings.HasPrefix(s, p) {
			return p
		}
	}
	return ""
}

func TestHandWrittenPrefix(t *testing.T) {
	for i, tc := range []struct {
		in, want string
	}{
		{"devca: error: unknown command %q\n", errorPrefix},
		{"devca: hint: %s\n", hintPrefix},
		{"devca: warning: ", warningPrefix},
		{"%s\ndevca: hint: again", hintPrefix},
		{"devca: replacing the CA %q", notePrefix},
		{"hint: run 'devca init' to trust it", "hint: "},
		{"warning: x", "warning: "},
		{"error: x", "error: "},
		{"# devca: trust the devca root in runtimes that ignore the system store\n", ""},
		{"run 'devca help' for usage", ""},
		{"unknown command %q", ""},
	} {
		if got := handWrittenPrefix(tc.in); got != tc.want {
			t.Errorf("Test %d: handWrittenPrefix(%q) = %q, want %q", i, tc.in, got, tc.want)
		}
	}
}

// TestOutputHelpers pins the format each helper prints.
func TestOutputHelpers(t *testing.T) {
	var stderr bytes.Buffer
	e := &env{stderr: &stderr}
	e.warnf("cert %q expires", "a.pem")
	e.hintf("run %s", "'devca renew'")
	e.notef("listening on %d", 8443)
	if _, err := e.warningWriter().Write([]byte("upstream down\nagain\n")); err != nil {
		t.Fatal(err)
	}
	code := e.exit(withHints(errors.New("reading \"x\": boom\nsecond line"), "fix it"))
	want := `devca: warning: cert "a.pem" expires
devca: hint: run 'devca renew'
devca: listening on 8443
devca: warning: upstream down
devca: warning: again
devca: error: reading "x": boom
devca: error: second line
devca: hint: fix it
`
	if stderr.String() != want || code != exitFailure {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", code, stderr.String(), want)
	}
}
