package serve

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// upstream is a plain-HTTP development server: /echo is a WebSocket echo,
// everything else reports what the proxy sent.
func upstream(t *testing.T) *url.URL {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/echo", websocket.Handler(func(ws *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(ws, &msg) == nil {
			if websocket.Message.Send(ws, "echo: "+msg) != nil {
				return
			}
		}
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method,
			"path":   r.URL.RequestURI(),
			"host":   r.Host,
			"xff":    r.Header.Get("X-Forwarded-For"),
			"xfp":    r.Header.Get("X-Forwarded-Proto"),
			"xfh":    r.Header.Get("X-Forwarded-Host"),
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func TestProxy(t *testing.T) {
	up := upstream(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"static.txt": "from disk", "app/index.html": "app index"})
	var log syncBuffer
	srv, client := startTLS(t, newHandler(t, Config{Dir: dir, Proxy: up, AccessLog: &log}))
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader("x"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode, body(t, resp)
	}
	if status, got := get("GET", "/static.txt"); status != 200 || got != "from disk" {
		t.Errorf("file = %d %q", status, got)
	}
	if status, got := get("GET", "/app/"); status != 200 || got != "app index" {
		t.Errorf("folder with index = %d %q", status, got)
	}
	for _, tc := range []struct{ method, path string }{{"GET", "/api/users?id=7"}, {"POST", "/static.txt"}, {"GET", "/"}, {"GET", "/.env"}} {
		status, got := get(tc.method, tc.path)
		var seen map[string]string
		if err := json.Unmarshal([]byte(got), &seen); err != nil || status != 200 {
			t.Fatalf("%s %s = %d %q", tc.method, tc.path, status, got)
		}
		if seen["method"] != tc.method || seen["path"] != tc.path || seen["xfp"] != "https" ||
			seen["xff"] != "127.0.0.1" || !strings.HasPrefix(seen["xfh"], "localhost:") || seen["host"] != up.Host {
			t.Errorf("%s %s: upstream saw %v", tc.method, tc.path, seen)
		}
	}

	// A WebSocket through the TLS proxy to the plain upstream.
	_, _, pool := authority(t)
	wsURL := strings.Replace(base, "https://", "wss://", 1) + "/echo"
	cfg, err := websocket.NewConfig(wsURL, base)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TlsConfig = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("WebSocket through proxy: %v", err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(5 * time.Second))
	for _, msg := range []string{"hello", "second message"} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var reply string
		if err := websocket.Message.Receive(ws, &reply); err != nil {
			t.Fatal(err)
		}
		if reply != "echo: "+msg {
			t.Errorf("reply = %q", reply)
		}
	}
	ws.Close()
	// The access log wraps the response writer; upgrades still reach the
	// connection through it, and every request got a line.
	// The upgraded request's line is written when its handler returns,
	// after the client saw the close: wait for the lines, not for a time.
	wants := []string{" GET /static.txt 200 ", " POST /static.txt 200 ", " GET /echo 101 "}
	log.waitUntil(5*time.Second, func(s string) bool {
		for _, want := range wants {
			if !strings.Contains(s, want) {
				return false
			}
		}
		return true
	})
	for _, want := range wants {
		if !strings.Contains(log.String(), want) {
			t.Errorf("access log lacks %q:\n%s", want, log.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	written chan struct{} // closed and replaced on every Write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

// waitUntil waits until done reports true for the buffer's contents, checking
// after every Write, or until d has passed.
func (s *syncBuffer) waitUntil(d time.Duration, done func(string) bool) {
	timeout := time.After(d)
	for {
		s.mu.Lock()
		if done(s.b.String()) {
			s.mu.Unlock()
			return
		}
		if s.written == nil {
			s.written = make(chan struct{})
		}
		written := s.written
		s.mu.Unlock()
		select {
		case <-written:
		case <-timeout:
			return
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProxyOnly(t *testing.T) {
	up := upstream(t)
	h := newHandler(t, Config{Proxy: up})
	resp := do(t, h, "GET", "/anything")
	if got := body(t, resp); resp.StatusCode != 200 || !strings.Contains(got, `"/anything"`) {
		t.Errorf("proxy only = %d %q", resp.StatusCode, got)
	}
}

func TestProxyDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	var log strings.Builder
	h := newHandler(t, Config{Proxy: &url.URL{Scheme: "http", Host: addr}, ErrorLog: &log})
	resp := do(t, h, "GET", "/page")
	got := body(t, resp)
	if resp.StatusCode != 502 || !strings.Contains(got, "not answering") || !strings.Contains(got, addr) {
		t.Errorf("upstream down = %d %q", resp.StatusCode, got)
	}
	if strings.Contains(got, "refused") || strings.Contains(got, "dial") {
		t.Errorf("502 page shows the error: %q", got)
	}
	if !strings.Contains(log.String(), "refused") {
		t.Errorf("error log = %q, want the dial error", log.String())
	}
	// The raw bytes of a 502 over a real server are a complete response.
	srv := httptest.NewServer(h)
	defer srv.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	r, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || r.StatusCode != 502 {
		t.Errorf("raw 502: %v %v", r, err)
	}
}

func TestProxyHeaders(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cached.js" {
			w.Header().Set("Cache-Control", "max-age=31536000, immutable")
			w.Header().Set("Access-Control-Allow-Origin", "https://app.test")
			w.Header().Set("X-Dev", "from upstream")
		}
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	h := newHandler(t, Config{Dir: t.TempDir(), Proxy: u, CORS: true, Headers: http.Header{"X-Dev": {"yes"}}})

	resp := do(t, h, "GET", "/cached.js")
	if got := resp.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "https://app.test" {
		t.Errorf("Allow-Origin = %q, want the upstream's only", got)
	}
	if got := resp.Header.Values("Cache-Control"); len(got) != 1 || got[0] != "max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q, want the upstream's only", got)
	}
	if got := resp.Header.Values("X-Dev"); len(got) != 1 || got[0] != "yes" {
		t.Errorf("X-Dev = %q, the configured header must win", got)
	}
	resp = do(t, h, "GET", "/plain")
	if got := resp.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "*" {
		t.Errorf("Allow-Origin = %q, want *", got)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("nosniff = %q", got)
	}
}

// TestProxyLoop points a devca proxy at a second listener of the same
// handler: the request comes back carrying this server's hop id, so the
// second pass answers 508 at once and the client sees 508, not a request
// that loops until memory runs out.
func TestProxyLoop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	h := newHandler(t, Config{Proxy: &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/base"}, AccessLog: &log})
	second := httptest.NewUnstartedServer(h)
	second.Listener.Close()
	second.Listener = ln
	second.Start()
	defer second.Close()
	first, client := startTLS(t, h)

	for _, target := range []string{first.URL + "/page?x=1", second.URL + "/page"} {
		c := client
		if strings.HasPrefix(target, "http://") {
			c = http.DefaultClient
		}
		done := make(chan struct{})
		var resp *http.Response
		var err error
		go func() {
			defer close(done)
			resp, err = c.Get(target)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("GET %s: no answer within 10s (a loop?)", target)
		}
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		got := body(t, resp)
		if resp.StatusCode != http.StatusLoopDetected || !strings.Contains(got, "leads back to devca") || !strings.Contains(got, ln.Addr().String()) {
			t.Errorf("GET %s = %d %q, want 508", target, resp.StatusCode, got)
		}
	}
	if n := strings.Count(log.String(), " 508 "); n != 4 {
		t.Errorf("access log has %d lines with 508, want two per request (the client's and the one that came back):\n%s", n, log.String())
	}
	if !strings.Contains(log.String(), "proxy loop") {
		t.Errorf("the error log does not name the loop:\n%s", log.String())
	}
}

// TestProxyHopHeader: every forwarded request carries this server's hop
// id, and ids of other devca servers pass through, so chains still work.
func TestProxyHopHeader(t *testing.T) {
	seen := make(chan []string, 2)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Values(HopHeader)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	h := newHandler(t, Config{Proxy: u})
	if resp := do(t, h, "GET", "/"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	own := <-seen
	if len(own) != 1 || len(own[0]) < 20 {
		t.Fatalf("upstream saw %s %q, want one random id", HopHeader, own)
	}
	if resp := do(t, h, "GET", "/", HopHeader+": other-devca, another"); resp.StatusCode != 200 {
		t.Fatalf("a request through other devca servers = %d", resp.StatusCode)
	}
	if got := <-seen; len(got) != 2 || got[0] != "other-devca, another" || got[1] != own[0] {
		t.Errorf("upstream saw %q, want the earlier ids and this server's", got)
	}
	if resp := do(t, h, "GET", "/", HopHeader+": x, "+own[0]); resp.StatusCode != http.StatusLoopDetected {
		t.Errorf("own id in a list = %d, want 508", resp.StatusCode)
	}
	if other := newHandler(t, Config{Proxy: u}); other.proxy.(*proxy).hop == own[0] {
		t.Error("two servers share a hop id")
	}
}

// TestProxyErrorPageHidesSecrets: the 502 page names the upstream by
// scheme, host, port and path; never its user name, password or query.
func TestProxyErrorPageHidesSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	u, _ := url.Parse("http://alice:hunter2@" + addr + "/app?token=s3cret#frag")
	var log strings.Builder
	h := newHandler(t, Config{Proxy: u, ErrorLog: &log})
	resp := do(t, h, "GET", "/page")
	got := body(t, resp)
	if resp.StatusCode != 502 || !strings.Contains(got, "<code>http://"+addr+"/app</code>") {
		t.Errorf("502 page = %d %q", resp.StatusCode, got)
	}
	for _, secret := range []string{"alice", "hunter2", "token", "s3cret", "frag"} {
		if strings.Contains(got, secret) || strings.Contains(log.String(), secret) {
			t.Errorf("%q shown:\npage: %s\nlog: %s", secret, got, log.String())
		}
	}
	for in, want := range map[string]string{
		"http://localhost":             "http://localhost:80",
		"https://u@dev.test/x?y=1":     "https://dev.test:443/x",
		"http://[::1]:3000/base/?q#f":  "http://[::1]:3000/base/",
		"http://127.0.0.1:5173/a%20b/": "http://127.0.0.1:5173/a%20b/",
	} {
		u, _ := url.Parse(in)
		if got := UpstreamDisplay(u); got != want {
			t.Errorf("UpstreamDisplay(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCheckUpstream(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	localhost := []net.Addr{tcp("127.0.0.1:8443"), tcp("[::1]:8443")}
	all4 := []net.Addr{tcp("0.0.0.0:8443")}
	all6 := []net.Addr{tcp("[::]:8443")}
	local := []netip.Addr{netip.MustParseAddr("192.168.1.20"), netip.MustParseAddr("fe80::1")}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "localhost":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, nil
		case "mybox.lan":
			return []netip.Addr{netip.MustParseAddr("192.168.1.20")}, nil
		case "other.lan":
			return []netip.Addr{netip.MustParseAddr("192.168.1.99")}, nil
		}
		return nil, errors.New("no such host")
	}
	for _, tc := range []struct {
		upstream string
		lns      []net.Addr
		loop     bool
	}{
		{"http://localhost:8443", localhost, true},
		{"http://127.0.0.1:8443/app?x", localhost, true},
		{"https://[::1]:8443", localhost, true},
		{"http://0.0.0.0:8443", localhost, true},
		{"http://[::]:8443", localhost, true},
		{"http://127.0.0.2:8443", all4, true},
		{"http://localhost:8443", all4, true},
		{"http://localhost:8443", all6, true},
		{"http://192.168.1.20:8443", all6, true},
		{"http://[::ffff:127.0.0.1]:8443", localhost, true},
		{"http://[fe80::1%25eth0]:8443", all6, true},
		{"http://mybox.lan:8443", all4, true},
		{"http://localhost:80", []net.Addr{tcp("127.0.0.1:80")}, true},
		{"https://localhost", []net.Addr{tcp("[::1]:443")}, true},

		{"http://localhost:3000", localhost, false},
		{"http://localhost:8443", []net.Addr{tcp("192.168.1.20:8443")}, false},
		{"http://192.168.1.20:8443", localhost, false},
		{"http://other.lan:8443", all4, false},
		{"http://unknown.test:8443", all4, false},
		{"http://10.0.0.7:8443", all6, false},
		{"https://localhost", []net.Addr{tcp("127.0.0.1:80")}, false},
	} {
		name := "ok/"
		if tc.loop {
			name = "fail/"
		}
		t.Run(name+tc.upstream+" on "+tc.lns[0].String(), func(t *testing.T) {
			u, err := url.Parse(tc.upstream)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckUpstream(context.Background(), u, tc.lns, local, lookup)
			if got := errors.Is(err, ErrProxyLoop); got != tc.loop {
				t.Errorf("CheckUpstream = %v, want a loop: %v", err, tc.loop)
			}
		})
	}
}
