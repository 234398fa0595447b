package serve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestListingHTML(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"b.txt":              "b",
		"A.txt":              "a",
		"a<b>.txt":           "x",
		`q"uote.txt`:         "x",
		"what?.txt":          "x",
		"hash#.txt":          "x",
		"co:lon.txt":         "x",
		"100%.txt":           "x",
		"ünï.txt":            "x",
		"zdir/":              "",
		"Adir/inner.txt":     "x",
		".env":               "SECRET=1",
		".git/config":        "x",
		"big.bin":            strings.Repeat("x", 1536),
		"Adir/deeper/x.txt":  "x",
		"link-to-b":          "->b.txt",
		"link-out-of-root":   "->../outside.txt",
		"link-to-dotfile":    "->.env",
		"Adir/deeper/y.html": "<p>y</p>",
	})
	h := newHandler(t, Config{Dir: dir})
	resp := do(t, h, "GET", "/")
	page := body(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("GET / = %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !strings.Contains(resp.Header.Get("Vary"), "Accept") {
		t.Errorf("Vary = %q, want Accept", resp.Header.Get("Vary"))
	}
	for _, want := range []string{
		`href="./a%3Cb%3E.txt"`, `a&lt;b&gt;.txt`,
		`href="./q%22uote.txt"`, `q&#34;uote.txt`,
		`href="./what%3F.txt"`, `href="./hash%23.txt"`, `href="./co:lon.txt"`,
		`href="./100%25.txt"`, `href="./%C3%BCn%C3%AF.txt"`, `ünï.txt`,
		`href="./zdir/"`, `href="./link-to-b"`, "1.5 KiB",
		`<meta name="viewport"`, "prefers-color-scheme: dark",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("listing lacks %s", want)
		}
	}
	for _, hidden := range []string{".env", ".git", "link-out-of-root", "link-to-dotfile", "<b>"} {
		if strings.Contains(page, hidden) {
			t.Errorf("listing shows %q", hidden)
		}
	}
	// Folders first, then names without regard to case.
	order := regexp.MustCompile(`href="\./([^"]+)"`).FindAllStringSubmatch(page, -1)
	var got []string
	for _, m := range order {
		got = append(got, m[1])
	}
	want := []string{"Adir/", "zdir/", "100%25.txt", "A.txt", "a%3Cb%3E.txt", "b.txt", "big.bin", "co:lon.txt", "hash%23.txt", "link-to-b", "q%22uote.txt", "what%3F.txt", "%C3%BCn%C3%AF.txt"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order:\n got %v\nwant %v", got, want)
	}

	// A sub-folder has breadcrumbs and a parent link.
	page = body(t, do(t, h, "GET", "/Adir/deeper/"))
	for _, want := range []string{`href="/Adir/"`, `href="/Adir/deeper/"`, `href="../"`, `href="./y.html"`} {
		if !strings.Contains(page, want) {
			t.Errorf("sub-folder listing lacks %s", want)
		}
	}
}

func TestListingJSON(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"b.txt": "bb", "a/": "", ".hidden": "x", "x?.txt": "x"})
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	os.Chtimes(filepath.Join(dir, "b.txt"), mtime, mtime)
	h := newHandler(t, Config{Dir: dir})
	resp := do(t, h, "GET", "/", "Accept: application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var entries []listingEntry
	if err := json.Unmarshal([]byte(body(t, resp)), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("entries = %+v", entries)
	}
	if e := entries[0]; e.Name != "a" || !e.IsDir || e.URL != "./a/" {
		t.Errorf("entries[0] = %+v", e)
	}
	if e := entries[1]; e.Name != "b.txt" || e.IsDir || e.Size != 2 || e.URL != "./b.txt" || !e.Modified.Equal(mtime) {
		t.Errorf("entries[1] = %+v", e)
	}
	if e := entries[2]; e.URL != "./x%3F.txt" {
		t.Errorf("entries[2] = %+v", e)
	}
	// A browser's Accept header gets HTML.
	resp = do(t, h, "GET", "/", "Accept: text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("browser Accept got %q", ct)
	}
}

func TestNoListing(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a", "sub/index.html": "sub index"})
	h := newHandler(t, Config{Dir: dir, NoListing: true})
	if resp := do(t, h, "GET", "/"); resp.StatusCode != 404 {
		t.Errorf("GET / = %d, want 404", resp.StatusCode)
	}
	if got := body(t, do(t, h, "GET", "/sub/")); got != "sub index" {
		t.Errorf("GET /sub/ = %q", got)
	}
}

func TestIndexAndRedirects(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "<h1>home</h1>", "docs/index.html": "docs", "docs/a.txt": "a", "c:d/": "", "sp ace/": ""})
	h := newHandler(t, Config{Dir: dir})
	for i, tc := range []struct {
		target, location string
		status           int
		body             string
	}{
		{target: "/", status: 200, body: "<h1>home</h1>"},
		{target: "/docs/", status: 200, body: "docs"},
		{target: "/docs", status: 302, location: "./docs/"},
		{target: "/docs?x=1", status: 302, location: "./docs/?x=1"},
		{target: "/docs/index.html", status: 302, location: "./"},
		{target: "/docs/a.txt/", status: 302, location: "../a.txt"},
		{target: "/c:d", status: 400},
		{target: "/sp%20ace", status: 302, location: "./sp%20ace/"},
		{target: "//docs", status: 302, location: "./docs/"},
	} {
		resp := do(t, h, "GET", tc.target)
		got := body(t, resp)
		if resp.StatusCode != tc.status {
			t.Errorf("Test %d: GET %s = %d, want %d", i, tc.target, resp.StatusCode, tc.status)
		}
		if loc := resp.Header.Get("Location"); loc != tc.location {
			t.Errorf("Test %d: GET %s Location = %q, want %q", i, tc.target, loc, tc.location)
		}
		if tc.body != "" && got != tc.body {
			t.Errorf("Test %d: GET %s body = %q", i, tc.target, got)
		}
	}
}

func TestSPA(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "app shell", "app.js": "js", "404.html": "custom 404"})
	h := newHandler(t, Config{Dir: dir, SPA: true})
	for i, tc := range []struct {
		target, accept string
		status         int
		body           string
	}{
		{"/", "", 200, "app shell"},
		{"/users/42", "", 200, "app shell"},
		{"/users/42.json", "text/html", 200, "app shell"},
		{"/app.js", "", 200, "js"},
		{"/missing.js", "*/*", 404, "custom 404"},
		{"/.env", "text/html", 200, "app shell"},
		{"/../x", "text/html", 400, ""},
	} {
		var hdr []string
		if tc.accept != "" {
			hdr = append(hdr, "Accept: "+tc.accept)
		}
		resp := do(t, h, "GET", tc.target, hdr...)
		got := body(t, resp)
		if resp.StatusCode != tc.status || (tc.body != "" && got != tc.body) {
			t.Errorf("Test %d: GET %s = %d %q, want %d %q", i, tc.target, resp.StatusCode, got, tc.status, tc.body)
		}
	}
}

func TestNotFoundPage(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"404.html": "<p>custom not found</p>"})
	h := newHandler(t, Config{Dir: dir})
	resp := do(t, h, "GET", "/nope")
	if got := body(t, resp); resp.StatusCode != 404 || got != "<p>custom not found</p>" {
		t.Errorf("GET /nope = %d %q", resp.StatusCode, got)
	}
	if resp.Header.Get("ETag") != "" {
		t.Errorf("404 page has an ETag")
	}
	// Without 404.html: a fixed page that repeats nothing from the request.
	h = newHandler(t, Config{Dir: t.TempDir()})
	resp = do(t, h, "GET", "/%3Cscript%3Ealert(1)%3C/script%3E")
	got := body(t, resp)
	if resp.StatusCode != 404 || strings.Contains(got, "script") || !strings.Contains(got, "404 Not Found") {
		t.Errorf("default 404 = %d %q", resp.StatusCode, got)
	}
}

func TestCleanURLs(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"about.html": "about page", "blog/post.html": "post", "blog/index.html": "blog", "x.y.html": "xy"})
	h := newHandler(t, Config{Dir: dir})
	for target, want := range map[string]string{"/about": "about page", "/blog/post": "post", "/blog/": "blog", "/about.html": "about page"} {
		resp := do(t, h, "GET", target)
		if got := body(t, resp); resp.StatusCode != 200 || got != want {
			t.Errorf("GET %s = %d %q, want %q", target, resp.StatusCode, got, want)
		}
	}
	if resp := do(t, h, "GET", "/x.y"); resp.StatusCode != 404 {
		t.Errorf("GET /x.y = %d: a name with an extension must not find x.y.html", resp.StatusCode)
	}
}

func TestRangesAndConditional(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"data.bin": "0123456789abcdef"})
	h := newHandler(t, Config{Dir: dir})

	resp := do(t, h, "GET", "/data.bin", "Range: bytes=2-5")
	if got := body(t, resp); resp.StatusCode != 206 || got != "2345" || resp.Header.Get("Content-Range") != "bytes 2-5/16" {
		t.Errorf("range = %d %q %q", resp.StatusCode, got, resp.Header.Get("Content-Range"))
	}
	resp = do(t, h, "GET", "/data.bin", "Range: bytes=100-")
	if resp.StatusCode != 416 {
		t.Errorf("unsatisfiable range = %d", resp.StatusCode)
	}

	resp = do(t, h, "GET", "/data.bin")
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if etag == "" || lastMod == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("missing validators: ETag %q Last-Modified %q", etag, lastMod)
	}
	if resp := do(t, h, "GET", "/data.bin", "If-None-Match: "+etag); resp.StatusCode != 304 || body(t, resp) != "" {
		t.Errorf("If-None-Match = %d", resp.StatusCode)
	}
	if resp := do(t, h, "GET", "/data.bin", "If-Modified-Since: "+lastMod); resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since = %d", resp.StatusCode)
	}
	if resp := do(t, h, "GET", "/data.bin", `If-None-Match: "other"`); resp.StatusCode != 200 {
		t.Errorf("stale If-None-Match = %d", resp.StatusCode)
	}
	if resp := do(t, h, "GET", "/data.bin", "Range: bytes=0-1", "If-Range: "+etag); resp.StatusCode != 206 {
		t.Errorf("If-Range = %d", resp.StatusCode)
	}
	// An edit changes the ETag, so the browser sees it at once.
	later := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(dir, "data.bin"), later, later)
	if resp := do(t, h, "GET", "/data.bin", "If-None-Match: "+etag); resp.StatusCode != 200 {
		t.Errorf("If-None-Match after edit = %d", resp.StatusCode)
	}
	if resp := do(t, h, "HEAD", "/data.bin"); resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "16" || body(t, resp) != "" {
		t.Errorf("HEAD = %d %q", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
}

func gunzip(t *testing.T, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return string(b)
}

func TestCompression(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("body { color: red; }\n", 200)
	writeTree(t, dir, map[string]string{
		"style.css":  text,
		"small.css":  "a{}",
		"photo.jpg":  strings.Repeat("\xff", 4096),
		"app.js":     "identity js",
		"app.js.br":  "brotli bytes",
		"app.js.gz":  "gzip bytes",
		"only.js":    "identity only",
		"only.js.gz": "gzip only",
	})
	h := newHandler(t, Config{Dir: dir})

	resp := do(t, h, "GET", "/style.css", "Accept-Encoding: gzip, deflate, br")
	got := body(t, resp)
	if resp.Header.Get("Content-Encoding") != "gzip" || gunzip(t, got) != text {
		t.Fatalf("style.css: encoding %q", resp.Header.Get("Content-Encoding"))
	}
	if len(got) >= len(text)/4 || resp.Header.Get("Content-Length") != "" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("style.css: %d compressed bytes, Content-Length %q, Vary %q", len(got), resp.Header.Get("Content-Length"), resp.Header.Get("Vary"))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("style.css Content-Type = %q", ct)
	}
	gzETag := resp.Header.Get("ETag")
	if resp := do(t, h, "GET", "/style.css", "Accept-Encoding: gzip", "If-None-Match: "+gzETag); resp.StatusCode != 304 || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("304 of gzip variant = %d %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	if resp := do(t, h, "GET", "/style.css"); resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("ETag") == gzETag || body(t, resp) != text {
		t.Errorf("no Accept-Encoding: encoding %q, same ETag %v", resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag") == gzETag)
	}
	if resp := do(t, h, "GET", "/style.css", "Accept-Encoding: gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got %q", resp.Header.Get("Content-Encoding"))
	}
	// Ranges address the identity bytes.
	if resp := do(t, h, "GET", "/style.css", "Accept-Encoding: gzip", "Range: bytes=0-3"); resp.StatusCode != 206 || body(t, resp) != "body" {
		t.Errorf("range with gzip = %d", resp.StatusCode)
	}
	for _, name := range []string{"/small.css", "/photo.jpg"} {
		if resp := do(t, h, "GET", name, "Accept-Encoding: gzip"); resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s compressed", name)
		}
	}

	// Precompressed siblings: br first, then gzip, else identity.
	for i, tc := range []struct{ target, ae, enc, body string }{
		{"/app.js", "gzip, br", "br", "brotli bytes"},
		{"/app.js", "gzip", "gzip", "gzip bytes"},
		{"/app.js", "br;q=0, gzip", "gzip", "gzip bytes"},
		{"/app.js", "", "", "identity js"},
		{"/only.js", "br, gzip", "gzip", "gzip only"},
	} {
		var hdr []string
		if tc.ae != "" {
			hdr = append(hdr, "Accept-Encoding: "+tc.ae)
		}
		resp := do(t, h, "GET", tc.target, hdr...)
		got := body(t, resp)
		if resp.Header.Get("Content-Encoding") != tc.enc || got != tc.body {
			t.Errorf("Test %d: %s with %q = %q %q", i, tc.target, tc.ae, resp.Header.Get("Content-Encoding"), got)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
			t.Errorf("Test %d: Content-Type = %q", i, ct)
		}
	}
}

func TestHeaders(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a"})
	h := newHandler(t, Config{Dir: dir, Headers: http.Header{
		"x-frame-options": {"DENY"},
		"Cache-Control":   {"max-age=60"},
	}})
	resp := do(t, h, "GET", "/a.txt")
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "max-age=60" {
		t.Errorf("Cache-Control = %q, the configured header must win", got)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	h = newHandler(t, Config{Dir: dir})
	for _, target := range []string{"/a.txt", "/", "/missing"} {
		if got := do(t, h, "GET", target).Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s Cache-Control = %q, want no-cache", target, got)
		}
	}
	if resp := do(t, h, "POST", "/a.txt"); resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Errorf("POST = %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestCORS(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"data.json": `{"a":1}`})
	h := newHandler(t, Config{Dir: dir, CORS: true})
	resp := do(t, h, "GET", "/data.json", "Origin: https://app.localhost:5173")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Allow-Origin = %q", got)
	}
	resp = do(t, h, "OPTIONS", "/data.json", "Origin: https://x.test", "Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: content-type, x-token")
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type, x-token" {
		t.Errorf("preflight = %d %v", resp.StatusCode, resp.Header)
	}
	h = newHandler(t, Config{Dir: dir})
	if got := do(t, h, "GET", "/data.json", "Origin: https://x.test").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS off: Allow-Origin = %q", got)
	}
}

func TestAccessLog(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "hello"})
	var buf bytes.Buffer
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := newHandler(t, Config{Dir: dir, AccessLog: &buf, Now: func() time.Time { return clock }})
	do(t, h, "GET", "/a.txt")
	do(t, h, "GET", "/nope%0Ainjected?q=1")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log = %q", buf.String())
	}
	if want := "2026-01-02T03:04:05.000Z GET /a.txt 200 5 0.000ms"; lines[0] != want {
		t.Errorf("line = %q, want %q", lines[0], want)
	}
	if !strings.Contains(lines[1], " 400 ") && !strings.Contains(lines[1], " 404 ") {
		t.Errorf("line = %q", lines[1])
	}
}

func TestHTTP2AndTLS(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "over h2"})
	srv, client := startTLS(t, newHandler(t, Config{Dir: dir}))
	u, _ := url.Parse(srv.URL)
	resp, err := client.Get("https://localhost:" + u.Port() + "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); resp.ProtoMajor != 2 || got != "over h2" {
		t.Errorf("got %s %q", resp.Proto, got)
	}
	if v := resp.TLS.Version; v < 0x0303 {
		t.Errorf("TLS version %x", v)
	}
	if len(resp.TLS.VerifiedChains) == 0 {
		t.Errorf("chain not verified against the devca root")
	}
}

func TestNewErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for i, cfg := range []Config{
		{},
		{Dir: filepath.Join(t.TempDir(), "missing")},
		{Dir: file},
		{Proxy: &url.URL{Scheme: "ftp", Host: "x"}},
		{Proxy: &url.URL{Scheme: "http"}},
	} {
		if h, err := New(cfg); err == nil {
			h.Close()
			t.Errorf("Test %d: New(%+v) succeeded", i, cfg)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 10 << 20: "10 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func ExampleNew() {
	h, err := New(Config{Dir: ".", SPA: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	srv := NewServer(h, TLSConfig(nil), nil)
	_ = srv // srv.ServeTLS(listener, "", "") with a certificate in TLSConfig
	fmt.Println(srv.ReadHeaderTimeout)
	// Output: 10s
}

func TestServerLimits(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a"})
	_, leaf, pool := authority(t)
	srv := NewServer(newHandler(t, Config{Dir: dir}), TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf, nil }), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	addr := ln.Addr().String()

	t.Run("fail/TLS 1.1", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Error("a TLS 1.1 handshake succeeded")
		}
	})
	t.Run("ok/TLS 1.2 and 1.3", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: v, MaxVersion: v})
			if err != nil {
				t.Errorf("TLS %x: %v", v, err)
				continue
			}
			conn.Close()
		}
	})
	t.Run("fail/huge headers", func(t *testing.T) {
		status, _ := rawGetHeader(t, addr, pool, "X-Big: "+strings.Repeat("a", 2*MaxHeaderBytes))
		if status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", status)
		}
	})
}

// rawGetHeader sends GET /a.txt with one extra header line over TLS.
func rawGetHeader(t *testing.T, addr string, pool *x509.CertPool, line string) (int, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go fmt.Fprintf(conn, "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n%s\r\n\r\n", line)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSizedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &sizedFile{f: f, size: 10}
	read := func(n int) string {
		b := make([]byte, n)
		m, _ := io.ReadFull(s, b)
		return string(b[:m])
	}
	if end, _ := s.Seek(0, io.SeekEnd); end != 10 {
		t.Errorf("SeekEnd = %d", end)
	}
	s.Seek(0, io.SeekStart)
	if got := read(3); got != "012" {
		t.Errorf("read = %q", got)
	}
	s.Seek(7, io.SeekStart)
	if got := read(10); got != "789" {
		t.Errorf("read after seek = %q", got)
	}
	s.Seek(-4, io.SeekEnd)
	s.Seek(1, io.SeekCurrent)
	if got := read(2); got != "78" {
		t.Errorf("read after relative seeks = %q", got)
	}
	if _, err := s.Seek(-1, io.SeekStart); err == nil {
		t.Error("negative seek accepted")
	}
}
