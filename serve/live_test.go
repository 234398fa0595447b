package serve

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInjectLiveReload(t *testing.T) {
	for i, tc := range []struct{ in, want string }{
		{"<html><body><p>x</p></body></html>", "<html><body><p>x</p>" + string(liveScript) + "</body></html>"},
		{"<P>x</P></BODY>", "<P>x</P>" + string(liveScript) + "</BODY>"},
		{"<p>fragment</p>", "<p>fragment</p>" + string(liveScript)},
	} {
		if got := string(injectLiveReload([]byte(tc.in))); got != tc.want {
			t.Errorf("Test %d: got %q", i, got)
		}
	}
}

func TestLiveReload(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "<body><h1>v1</h1></body>", "sub/page.txt": "x", "list/a.txt": "a"})
	h := newHandler(t, Config{Dir: dir, LiveReload: true})

	// Pages get the script; other files stay untouched.
	page := body(t, do(t, h, "GET", "/"))
	if !strings.Contains(page, EventsPath) || !strings.HasPrefix(page, "<body><h1>v1</h1><script>") {
		t.Errorf("index = %q", page)
	}
	if got := body(t, do(t, h, "GET", "/sub/page.txt")); got != "x" {
		t.Errorf("text file = %q", got)
	}
	if got := body(t, do(t, h, "GET", "/list/")); !strings.Contains(got, `new EventSource("\/.devca\/events")`) && !strings.Contains(got, `new EventSource("/.devca/events")`) {
		t.Errorf("listing lacks the script: %q", got)
	}

	srv, client := startTLS(t, h)
	resp, err := client.Get(srv.URL + EventsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			events <- sc.Text()
		}
		close(events)
	}()
	// waitForWithin reports whether the event line want arrives within d.
	waitForWithin := func(want string, d time.Duration) bool {
		t.Helper()
		deadline := time.After(d)
		for {
			select {
			case line, ok := <-events:
				if !ok {
					t.Fatalf("stream ended before %q", want)
				}
				if line == want {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	waitFor := func(want string) {
		t.Helper()
		if !waitForWithin(want, 10*time.Second) {
			t.Fatalf("no %q within 10s", want)
		}
	}
	waitFor(": devca live reload")

	// A change in a sub-folder, and in a folder made after startup.
	os.WriteFile(filepath.Join(dir, "sub", "page.txt"), []byte("y"), 0o644)
	waitFor("event: reload")
	os.Mkdir(filepath.Join(dir, "new"), 0o755)
	waitFor("event: reload")
	// Only a stylesheet changed: the page swaps its stylesheets instead.
	// The watcher adds the new folder in its own time, and a change made
	// before that goes unseen: write again until an event says it has.
	for i := 0; ; i++ {
		os.WriteFile(filepath.Join(dir, "new", "x.css"), []byte(fmt.Sprintf("a{/*%d*/}", i)), 0o644)
		if waitForWithin("event: css", 100*time.Millisecond) {
			break
		}
		if i == 100 {
			t.Fatal("no css event for a stylesheet in a folder made after startup")
		}
	}
	// A stylesheet and a page in one burst: a full reload.
	os.WriteFile(filepath.Join(dir, "new", "x.css"), []byte("b{}"), 0o644)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<body>v2</body>"), 0o644)
	waitFor("event: reload")

	// Closing the handler ends the stream, so shutdown is not held up.
	h.Close()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("event stream still open after Close")
		}
	}
}

func TestLiveReloadOff(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "<body>x</body>"})
	h := newHandler(t, Config{Dir: dir})
	if got := body(t, do(t, h, "GET", "/")); got != "<body>x</body>" {
		t.Errorf("page changed without live reload: %q", got)
	}
	if resp := do(t, h, "GET", EventsPath); resp.StatusCode != http.StatusNotFound {
		t.Errorf("events without live reload = %d", resp.StatusCode)
	}
	_ = httptest.NewRecorder
}

// TestShutdownEndsEventStreams: a graceful Shutdown is not held up by open
// live-reload streams, and files stay servable until Close.
func TestShutdownEndsEventStreams(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "a"})
	h := newHandler(t, Config{Dir: dir, LiveReload: true})
	srv := NewServer(h, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	resp, err := http.Get("http://" + ln.Addr().String() + EventsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	bufio.NewReader(resp.Body).ReadString('\n') // the stream is open

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (an event stream kept it waiting)", err)
	}
	if got := body(t, do(t, h, "GET", "/a.txt")); got != "a" {
		t.Errorf("after Shutdown, before Close: %q", got)
	}
}

func TestBroadcastCoalesces(t *testing.T) {
	lr := &liveReload{clients: map[chan string]struct{}{}, perAddr: map[string]int{}}
	c, _ := lr.subscribe("192.0.2.1")
	for i, tc := range []struct {
		events []string
		want   string
	}{
		{[]string{eventCSS}, eventCSS},
		{[]string{eventCSS, eventCSS}, eventCSS},
		{[]string{eventCSS, eventReload}, eventReload},
		{[]string{eventReload, eventCSS}, eventReload},
		{[]string{eventReload, eventReload}, eventReload},
	} {
		for _, e := range tc.events {
			lr.broadcast(e)
		}
		if got := <-c; got != tc.want {
			t.Errorf("Test %d: %v gave %q, want %q", i, tc.events, got, tc.want)
		}
		select {
		case extra := <-c:
			t.Errorf("Test %d: a second event %q", i, extra)
		default:
		}
	}
}
