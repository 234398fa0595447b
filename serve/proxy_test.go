package serve

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
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
	time.Sleep(100 * time.Millisecond)
	for _, want := range []string{" GET /static.txt 200 ", " POST /static.txt 200 ", " GET /echo 101 "} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("access log lacks %q:\n%s", want, log.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
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
