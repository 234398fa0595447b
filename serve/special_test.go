//go:build linux

package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// specialTree makes a folder with a FIFO, a Unix socket and, as root, two
// device nodes, each also behind the names devca looks up on its own: a
// precompressed sibling, an index.html, a 404.html and a clean URL's page.
// It returns the paths of the FIFOs, which the caller must unblock (see
// unblockFIFOs) should a regression leave a request waiting in open(2).
func specialTree(t *testing.T) (dir string, fifos []string, devices bool) {
	t.Helper()
	dir = t.TempDir()
	writeTree(t, dir, map[string]string{
		"page.html":  "<p>page</p>",
		"sub/a.txt":  "a",
		"links/":     "",
		"plain.txt":  "plain",
		"empty-dir/": "",
	})
	for _, name := range []string{"fifo", "page.html.gz", "page.html.br", "sub/index.html", "about.html", "404.html"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatalf("mkfifo: %v", err)
		}
		fifos = append(fifos, p)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatalf("listening on a Unix socket: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	if os.Geteuid() == 0 {
		// 1,3 is /dev/null; 0,0 has no driver, so opening it fails (ENXIO),
		// which made the old code answer 500: a 404 shows it was not opened.
		for name, dev := range map[string]uint64{"null": unix.Mkdev(1, 3), "nodriver": unix.Mkdev(0, 0)} {
			if err := unix.Mknod(filepath.Join(dir, name), unix.S_IFCHR|0o666, int(dev)); err != nil {
				t.Fatalf("mknod: %v", err)
			}
		}
		devices = true
	} else if os.Getenv("CI") == "true" {
		t.Fatal("the device node cases need root, which CI has")
	}
	for link, target := range map[string]string{"links/to-fifo": "../fifo", "links/to-sock": "../sock", "links/to-null": "../null"} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(link))); err != nil {
			t.Fatal(err)
		}
	}
	return dir, fifos, devices
}

// unblockFIFOs opens each FIFO for reading and writing without blocking,
// which releases any request a regression left waiting in open(2), so that
// the test server can shut down and report the failure.
func unblockFIFOs(fifos []string) {
	for _, p := range fifos {
		if fd, err := unix.Open(p, unix.O_RDWR|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	}
}

// TestSpecialFiles: FIFOs, sockets and device nodes answer 404 at once,
// directly, through links and under every name devca opens on its own,
// and are left out of listings.
func TestSpecialFiles(t *testing.T) {
	dir, fifos, devices := specialTree(t)
	for _, cfg := range []Config{{Dir: dir}, {Dir: dir, LiveReload: true}} {
		h := newHandler(t, cfg)
		srv, client := startTLS(t, h)
		t.Cleanup(func() { unblockFIFOs(fifos) }) // runs before srv.Close
		get := func(target string, header ...string) (int, string, http.Header) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+target, nil)
			for _, kv := range header {
				k, v, _ := strings.Cut(kv, ":")
				req.Header.Set(k, strings.TrimSpace(v))
			}
			resp, err := client.Do(req)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("GET %s: no answer within 5s (blocked opening a special file?)", target)
			}
			if err != nil {
				t.Fatalf("GET %s: %v", target, err)
			}
			return resp.StatusCode, body(t, resp), resp.Header
		}
		notFound := []string{"/fifo", "/sock", "/links/to-fifo", "/links/to-sock", "/about", "/about.html", "/sub/index.html", "/page.html.gz"}
		if devices {
			notFound = append(notFound, "/null", "/nodriver", "/links/to-null")
		}
		for _, target := range notFound {
			if code, _, _ := get(target); code != http.StatusNotFound {
				t.Errorf("LiveReload=%v: GET %s = %d, want 404", cfg.LiveReload, target, code)
			}
		}
		// The page is served itself when its precompressed siblings are FIFOs.
		code, page, hdr := get("/page.html", "Accept-Encoding: br, gzip")
		if code != 200 || !strings.HasPrefix(page, "<p>page</p>") || hdr.Get("Content-Encoding") != "" {
			t.Errorf("GET /page.html = %d %q, Content-Encoding %q", code, page, hdr.Get("Content-Encoding"))
		}
		// A folder whose index.html is a FIFO gets its listing.
		if code, listing, _ := get("/sub/"); code != 200 || !strings.Contains(listing, `href="./a.txt"`) || strings.Contains(listing, "index.html") {
			t.Errorf("GET /sub/ = %d, listing %q", code, listing)
		}
		// A missing page with a FIFO 404.html gets the built-in 404.
		if code, _, _ := get("/missing"); code != http.StatusNotFound {
			t.Errorf("GET /missing = %d", code)
		}
		for _, target := range []string{"/", "/links/"} {
			_, listing, _ := get(target)
			for _, name := range []string{"fifo", "sock", "null", "nodriver", "page.html.gz", "about.html", "to-"} {
				if strings.Contains(listing, name) {
					t.Errorf("listing of %s shows %q", target, name)
				}
			}
			_, js, _ := get(target, "Accept: application/json")
			if strings.Contains(js, "fifo") || strings.Contains(js, "sock") || strings.Contains(js, "null") {
				t.Errorf("JSON listing of %s = %s", target, js)
			}
		}
		if code, page, _ := get("/plain.txt"); code != 200 || page != "plain" {
			t.Errorf("GET /plain.txt = %d %q", code, page)
		}
	}
}

// TestOpenRefusesSpecialFiles checks both openers on their own: the fast
// one (openat2 on Linux) and the careful one through os.Root.
func TestOpenRefusesSpecialFiles(t *testing.T) {
	dir, fifos, devices := specialTree(t)
	t.Cleanup(func() { unblockFIFOs(fifos) })
	h := newHandler(t, Config{Dir: dir})
	names := []string{"fifo", "sock", "page.html.gz"}
	if devices {
		names = append(names, "null", "nodriver")
	}
	for _, name := range names {
		done := make(chan error, 2)
		go func() {
			f, _, err := h.openReal(name)
			if f != nil {
				f.Close()
			}
			done <- err
		}()
		go func() {
			f, _, err := h.openRoot(name)
			if f != nil {
				f.Close()
			}
			done <- err
		}()
		for range 2 {
			select {
			case err := <-done:
				if !errors.Is(err, errNotRegular) {
					t.Errorf("opening %s: %v, want errNotRegular", name, err)
				}
			case <-time.After(5 * time.Second):
				unblockFIFOs(fifos)
				t.Fatalf("opening %s blocked", name)
			}
		}
	}
}
