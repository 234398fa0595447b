package serve

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Secrets planted around the served folder. No response may contain any of
// them, whatever the request path.
const (
	outsideSecret = "TOP-SECRET-OUTSIDE-7f3a"
	dotSecret     = "DOT-SECRET-ENV-91c2"
	gitSecret     = "GIT-SECRET-CONFIG-44be"
)

// attackTree lays out a folder with a secret beside it, dotfiles inside it
// and symbolic links that try to reach both, and returns the site folder.
func attackTree(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	writeTree(t, base, map[string]string{
		"secret.txt":             outsideSecret,
		"site-private/key.pem":   outsideSecret,
		"site/ok.txt":            "public",
		"site/sub/page.txt":      "sub page",
		"site/.env":              dotSecret,
		"site/.git/config":       gitSecret,
		"site/sub/.hidden/x.txt": dotSecret,
		"site/link-out":          "->../secret.txt",
		"site/dir-out":           "->..",
		"site/dir-out-sibling":   "->../site-private",
		"site/sub/deep-out":      "->../../secret.txt",
		"site/link-dot":          "->.env",
		"site/link-git":          "->.git/config",
		"site/link-git-dir":      "->.git",
		"site/sub/chain":         "->../link-dot",
		"site/sub/loop":          "->loop",
		"site/link-ok":           "->ok.txt",
		"site/sub/up-ok":         "->../ok.txt",
	})
	// An absolute link straight at the secret.
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(base, "site", "abs-link")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(base, "site")
}

// rawGet sends target exactly as written in the request line, so that no
// client library cleans or re-encodes it, and returns status and body.
func rawGet(t *testing.T, addr, target string, tlsCfg *tls.Config) (int, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, tlsCfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: reading response: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTraversal is modelled on net/http's TestServeFile_DotDot: attack paths
// sent raw over TLS to a real server, each with the status it must get, and
// none may return a byte of a secret.
func TestTraversal(t *testing.T) {
	site := attackTree(t)
	srv, _ := startTLS(t, newHandler(t, Config{Dir: site}))
	_, _, pool := authority(t)
	addr := strings.TrimPrefix(srv.URL, "https://")
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}

	for i, tc := range []struct {
		target string
		status int
	}{
		// Plain and encoded dot-dot.
		{"/../secret.txt", 400},
		{"/../../../../../../etc/passwd", 400},
		{"/sub/../../secret.txt", 400},
		{"/%2e%2e/secret.txt", 400},
		{"/%2E%2E/secret.txt", 400},
		{"/.%2e/secret.txt", 400},
		{"/%2e./secret.txt", 400},
		{"/sub/%2e%2e/%2e%2e/secret.txt", 400},
		{"/..%2fsecret.txt", 400},
		{"/%2e%2e%2fsecret.txt", 400},
		{"/%2e%2e%2Fsecret.txt", 400},
		{"/.%2e", 400},
		// Double encoding names a literal "%2e%2e" file, which is absent.
		{"/%252e%252e/secret.txt", 404},
		{"/%252e%252e%252fsecret.txt", 404},
		{"/..%252fsecret.txt", 404},
		// Backslashes, raw and encoded.
		{`/..\secret.txt`, 400},
		{`/sub\..\..\secret.txt`, 400},
		{"/..%5csecret.txt", 400},
		{"/%2e%2e%5csecret.txt", 400},
		{"/..%5C..%5Csecret.txt", 400},
		// NUL and control bytes.
		{"/%00", 400},
		{"/ok.txt%00.html", 400},
		{"/..%00/secret.txt", 400},
		{"/ok.txt%0d%0aX-Injected:%201", 400},
		// Absolute and drive paths.
		{"//etc/passwd", 404},
		{"/%2f%2fetc%2fpasswd", 400},
		{"/etc/passwd", 404},
		{"http://localhost/../secret.txt", 400},
		{"/C:/Windows/win.ini", 400},
		{"/c:%5cwindows%5cwin.ini", 400},
		// Windows name tricks: streams, short names, trailing dots.
		{"/ok.txt::$DATA", 400},
		{"/SECRET~1.TXT", 400},
		{"/ok.txt.", 400},
		{"/ok.txt%20", 400},
		// Reserved device names, with any extension (issue 12); names
		// that only start like one are ordinary.
		{"/NUL", 400},
		{"/con.txt", 400},
		{"/sub/COM1.log", 400},
		{"/lpt9", 400},
		{"/aux.tar.gz", 400},
		{"/CONOUT$", 400},
		{"/nul%20.txt", 400},
		{"/COM%C2%B9", 400},
		{"/CONFIG.txt", 404},
		{"/COM10", 404},
		{"/nullable.txt", 404},
		// Overlong UTF-8 and other decoders' slashes are just names here.
		{"/..%c0%afsecret.txt", 404},
		{"/..%e0%80%afsecret.txt", 404},
		{"/..;/secret.txt", 404},
		{"/%u002e%u002e/secret.txt", 400},
		// Symbolic links out of the root.
		{"/link-out", 404},
		{"/abs-link", 404},
		{"/dir-out/secret.txt", 404},
		{"/dir-out/", 404},
		{"/dir-out-sibling/key.pem", 404},
		{"/sub/deep-out", 404},
		{"/sub/loop", 404},
		// Dotfiles, directly, encoded, and through links.
		{"/.env", 404},
		{"/%2eenv", 404},
		{"/.git/config", 404},
		{"/.git/", 404},
		{"/.git", 404},
		{"/sub/.hidden/x.txt", 404},
		{"/link-dot", 404},
		{"/link-git", 404},
		{"/link-git-dir/config", 404},
		{"/sub/chain", 404},
		// Links that stay inside and lead to public files work.
		{"/link-ok", 200},
		{"/sub/up-ok", 200},
		{"/ok.txt", 200},
	} {
		status, got := rawGet(t, addr, tc.target, tlsCfg)
		if status != tc.status {
			t.Errorf("Test %d: GET %s = %d, want %d", i, tc.target, status, tc.status)
		}
		for _, secret := range []string{outsideSecret, dotSecret, gitSecret} {
			if strings.Contains(got, secret) {
				t.Errorf("Test %d: GET %s returned the secret %q", i, tc.target, secret)
			}
		}
		// Error pages never echo the request or an error's text.
		if status >= 400 && (strings.Contains(got, "secret") || strings.Contains(got, "escapes") || strings.Contains(got, "passwd")) {
			t.Errorf("Test %d: GET %s error page leaks detail: %q", i, tc.target, got)
		}
	}
}

// TestTraversalDotfilesServed checks that --dotfiles shows dotfiles but
// still confines: links out of the root and ".." stay refused.
func TestTraversalDotfilesServed(t *testing.T) {
	site := attackTree(t)
	h := newHandler(t, Config{Dir: site, Dotfiles: true})
	for i, tc := range []struct {
		target string
		status int
		body   string
	}{
		{"/.env", 200, dotSecret},
		{"/link-dot", 200, dotSecret},
		{"/.git/config", 200, gitSecret},
		{"/link-out", 404, ""},
		{"/abs-link", 404, ""},
		{"/dir-out/secret.txt", 404, ""},
		{"/../secret.txt", 400, ""},
	} {
		resp := do(t, h, "GET", tc.target)
		got := body(t, resp)
		if resp.StatusCode != tc.status || (tc.body != "" && got != tc.body) {
			t.Errorf("Test %d: GET %s = %d %q", i, tc.target, resp.StatusCode, got)
		}
		if strings.Contains(got, outsideSecret) {
			t.Errorf("Test %d: GET %s returned the outside secret", i, tc.target)
		}
	}
	if page := body(t, do(t, h, "GET", "/")); !strings.Contains(page, ".env") || strings.Contains(page, "link-out") {
		t.Errorf("listing with dotfiles: %s", page)
	}
}

// TestCleanPath checks the invariants the fuzz target relies on, with
// readable cases.
func TestCleanPath(t *testing.T) {
	for i, tc := range []struct {
		path, raw string
		dotfiles  bool
		want      string
		err       error
	}{
		{path: "/", want: "."},
		{path: "/a/b.txt", want: "a/b.txt"},
		{path: "//a//b/", want: "a/b"},
		{path: "/a/./b", want: "a/b"},
		{path: "/a/../b", err: errBadPath},
		{path: "/.env", err: errHidden},
		{path: "/.env", dotfiles: true, want: ".env"},
		{path: "/a/.git/config", err: errHidden},
		{path: "a", err: errBadPath},
		{path: "/a\\b", err: errBadPath},
		{path: "/a\x00", err: errBadPath},
		{path: "/a/b", raw: "/a%2Fb", err: errBadPath},
		{path: "/a:b", err: errBadPath},
	} {
		raw := tc.raw
		if raw == "" {
			raw = tc.path
		}
		got, err := cleanPath(tc.path, raw, tc.dotfiles)
		if got != tc.want || err != tc.err {
			t.Errorf("Test %d: cleanPath(%q) = %q, %v; want %q, %v", i, tc.path, got, err, tc.want, tc.err)
		}
	}
}

// FuzzServePath sends arbitrary request paths through a handler over a tree
// with secrets around it. The handler must never panic, never return a
// secret, and cleanPath must only produce local, visible names. Seeds live
// in testdata/fuzz/FuzzServePath, so a plain "go test" runs them.
func FuzzServePath(f *testing.F) {
	site := attackTree(f)
	// A denied folder inside the site, as a CA home would be.
	writeTree(f, site, map[string]string{"cahome/rootCA-key.pem": outsideSecret, "link-cahome": "->cahome"})
	h, err := New(Config{Dir: site, Deny: []string{filepath.Join(site, "cahome")}})
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	f.Add("/ok.txt")
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Path == "" {
			return
		}
		if name, err := cleanPath(u.Path, u.EscapedPath(), false); err == nil {
			if !fs.ValidPath(name) {
				t.Fatalf("cleanPath(%q) = %q, not a valid local name", u.Path, name)
			}
			for seg := range strings.SplitSeq(name, "/") {
				if seg == ".." || (len(seg) > 1 && seg[0] == '.') {
					t.Fatalf("cleanPath(%q) = %q, holds %q", u.Path, name, seg)
				}
			}
			if real, err := resolve(h.dir, name, false); err == nil {
				if !fs.ValidPath(real) || strings.HasPrefix(real, ".") && real != "." {
					t.Fatalf("resolve(%q) = %q", name, real)
				}
			}
		}
		r := &http.Request{Method: "GET", URL: u, Header: http.Header{"Accept-Encoding": {"gzip"}}, RequestURI: target, Host: "localhost"}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Body.String()
		for _, secret := range []string{outsideSecret, dotSecret, gitSecret} {
			if strings.Contains(got, secret) {
				t.Fatalf("GET %q (%d) returned a secret", target, w.Code)
			}
		}
	})
}

// TestOpen checks that the fast opener (openat2 on Linux) and the careful
// path agree: names without links open as themselves, links are resolved
// and checked, and nothing else gets through.
func TestOpen(t *testing.T) {
	site := attackTree(t)
	h := newHandler(t, Config{Dir: site})
	for i, tc := range []struct {
		name, real string
		err        error
	}{
		{name: "ok.txt", real: "ok.txt"},
		{name: "sub/page.txt", real: "sub/page.txt"},
		{name: ".", real: "."},
		{name: "link-ok", real: "ok.txt"},
		{name: "sub/up-ok", real: "ok.txt"},
		{name: "missing", err: fs.ErrNotExist},
		{name: "ok.txt/x", err: fs.ErrNotExist},
		{name: "link-dot", err: errHidden},
		{name: "sub/chain", err: errHidden},
		{name: "link-out", err: errEscapes},
		{name: "dir-out/secret.txt", err: errEscapes},
		{name: "abs-link", err: errEscapes},
		{name: "sub/loop", err: errEscapes},
	} {
		f, _, real, err := h.open(tc.name)
		if f != nil {
			f.Close()
		}
		if real != tc.real || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("Test %d: open(%q) = %q, %v; want %q, %v", i, tc.name, real, err, tc.real, tc.err)
		}
	}
}

// TestSpecialPagesThroughLinks: index.html, 404.html and clean-URL pages
// that are links to dotfiles or out of the root are not served either.
func TestSpecialPagesThroughLinks(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, map[string]string{
		"outside.html":        outsideSecret,
		"site/.env":           dotSecret,
		"site/index.html":     "->.env",
		"site/404.html":       "->../outside.html",
		"site/about.html":     "->.env",
		"site/sub/index.html": "->../../outside.html",
		"site/app.js":         strings.Repeat("x", 2000),
		"site/app.js.br":      "->.env",
		"site/app.js.gz":      "->../outside.html",
	})
	h := newHandler(t, Config{Dir: filepath.Join(base, "site"), SPA: true})
	for _, target := range []string{"/", "/missing", "/about", "/sub/", "/app/route", "/app.js"} {
		got := body(t, do(t, h, "GET", target, "Accept: text/html", "Accept-Encoding: gzip, br"))
		if strings.Contains(got, outsideSecret) || strings.Contains(got, dotSecret) {
			t.Errorf("GET %s returned a secret", target)
		}
	}
}

// TestDeny: a CA home inside the served folder is never served, not
// directly, not through a link, not in a listing, not with --dotfiles.
func TestDeny(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, map[string]string{
		"site/ok.txt":                 "ok",
		"site/cahome/rootCA-key.pem":  outsideSecret,
		"site/cahome/serve/serve.pem": outsideSecret,
		"site/keys/own-key.pem":       outsideSecret,
		"site/keys/public.txt":        "public",
		"site/link-home":              "->cahome",
		"site/link-key":               "->cahome/rootCA-key.pem",
	})
	site := filepath.Join(base, "site")
	for _, dotfiles := range []bool{false, true} {
		h := newHandler(t, Config{Dir: site, Dotfiles: dotfiles, SPA: true,
			Deny: []string{filepath.Join(site, "cahome"), filepath.Join(site, "keys", "own-key.pem"), filepath.Join(base, "elsewhere")}})
		for _, target := range []string{"/cahome/rootCA-key.pem", "/cahome/", "/cahome/serve/serve.pem", "/link-home/rootCA-key.pem", "/link-key", "/keys/own-key.pem"} {
			resp := do(t, h, "GET", target)
			if got := body(t, resp); resp.StatusCode != 404 || strings.Contains(got, outsideSecret) {
				t.Errorf("dotfiles=%v: GET %s = %d", dotfiles, target, resp.StatusCode)
			}
		}
		if got := body(t, do(t, h, "GET", "/keys/public.txt")); got != "public" {
			t.Errorf("a file beside a denied one: %q", got)
		}
		page := body(t, do(t, h, "GET", "/", "Accept: application/json"))
		for _, hidden := range []string{"cahome", "link-home", "link-key"} {
			if strings.Contains(page, `"`+hidden+`"`) {
				t.Errorf("listing shows %s", hidden)
			}
		}
		if page := body(t, do(t, h, "GET", "/keys/", "Accept: application/json")); strings.Contains(page, "own-key") {
			t.Errorf("listing shows own-key.pem")
		}
	}
	// Serving the CA home itself, or a folder inside it, is refused.
	for _, dir := range []string{filepath.Join(site, "cahome"), filepath.Join(site, "cahome", "serve")} {
		if h, err := New(Config{Dir: dir, Deny: []string{filepath.Join(site, "cahome")}}); err == nil {
			h.Close()
			t.Errorf("New served %s, inside the denied CA home", dir)
		}
	}
}
