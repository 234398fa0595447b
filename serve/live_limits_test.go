package serve

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventClient is an event stream served in memory, ended by cancel.
type eventClient struct {
	cancel context.CancelFunc
	done   chan int // the status, once ServeHTTP returns
}

func openStream(h http.Handler, addr string) *eventClient {
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", EventsPath, nil).WithContext(ctx)
	r.RemoteAddr = addr
	c := &eventClient{cancel: cancel, done: make(chan int, 1)}
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		c.done <- w.Code
	}()
	return c
}

// waitStreams waits until lr holds total streams from addrs addresses.
func waitStreams(t *testing.T, lr *liveReload, total, addrs int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gotTotal, gotAddrs := lr.streams()
		if gotTotal == total && gotAddrs == addrs {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d streams from %d addresses, want %d from %d", gotTotal, gotAddrs, total, addrs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEventStreamLimits: one address gets at most MaxEventStreamsPerAddr
// streams (429 beyond), the server at most MaxEventStreams (503 beyond),
// and streams that end give their place back.
func TestEventStreamLimits(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "<p>x</p>"})
	var errLog strings.Builder
	var logMu sync.Mutex
	h := newHandler(t, Config{Dir: dir, LiveReload: true, ErrorLog: writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return errLog.Write(p)
	})})
	var open []*eventClient
	defer func() {
		for _, c := range open {
			c.cancel()
		}
	}()
	refused := func(addr string, want int) {
		t.Helper()
		c := openStream(h, addr)
		select {
		case code := <-c.done:
			if code != want {
				t.Errorf("stream %d from %s: status %d, want %d", len(open)+1, addr, code, want)
			}
		case <-time.After(5 * time.Second):
			c.cancel()
			t.Fatalf("stream %d from %s was accepted, want %d", len(open)+1, addr, want)
		}
	}

	for range MaxEventStreamsPerAddr {
		open = append(open, openStream(h, "192.0.2.1:1000"))
	}
	waitStreams(t, h.live, MaxEventStreamsPerAddr, 1)
	refused("192.0.2.1:2000", http.StatusTooManyRequests)

	for i := 2; len(open) < MaxEventStreams; i++ {
		for range min(MaxEventStreamsPerAddr, MaxEventStreams-len(open)) {
			open = append(open, openStream(h, fmt.Sprintf("[2001:db8::%d]:1000", i)))
		}
	}
	addrs := 1 + (MaxEventStreams-MaxEventStreamsPerAddr+MaxEventStreamsPerAddr-1)/MaxEventStreamsPerAddr
	waitStreams(t, h.live, MaxEventStreams, addrs)
	refused("198.51.100.7:1000", http.StatusServiceUnavailable)
	logMu.Lock()
	if !strings.Contains(errLog.String(), "refusing a live-reload stream from 192.0.2.1") {
		t.Errorf("error log: %q", errLog.String())
	}
	logMu.Unlock()

	// Streams that end leave nothing behind, and their places are free.
	for _, c := range open {
		c.cancel()
		if code := <-c.done; code != http.StatusOK {
			t.Errorf("an accepted stream answered %d", code)
		}
	}
	open = nil
	waitStreams(t, h.live, 0, 0)
	open = append(open, openStream(h, "198.51.100.7:1000"))
	waitStreams(t, h.live, 1, 1)
}

// TestEventStreamsOverTLSEnd: streams over real connections that close
// are let go.
func TestEventStreamsOverTLSEnd(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "<p>x</p>"})
	h := newHandler(t, Config{Dir: dir, LiveReload: true})
	srv, client := startTLS(t, h)
	var bodies []func() error
	for range 20 {
		resp, err := client.Get(srv.URL + EventsPath)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body.Close)
	}
	waitStreams(t, h.live, 20, 1)
	for _, closeBody := range bodies {
		closeBody()
	}
	client.CloseIdleConnections()
	waitStreams(t, h.live, 0, 0)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
