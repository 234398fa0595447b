//go:build linux

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServeSpecialFiles runs the real devca serve over a folder holding a
// FIFO, a Unix socket and (as root) device nodes: each answers 404 at
// once, a page whose precompressed sibling is a FIFO is served, the
// listing leaves them out, and the server still shuts down cleanly.
func TestServeSpecialFiles(t *testing.T) {
	t.Parallel()
	site := t.TempDir()
	for name, content := range map[string]string{"page.html": "<p>page</p>", "plain.txt": "plain"} {
		if err := os.WriteFile(filepath.Join(site, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var fifos []string
	for _, name := range []string{"fifo", "page.html.gz"} {
		p := filepath.Join(site, name)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatalf("mkfifo: %v", err)
		}
		fifos = append(fifos, p)
	}
	// Should a regression leave serve blocked in open(2), this releases it
	// so that the test ends with its failure instead of hanging.
	t.Cleanup(func() {
		for _, p := range fifos {
			if fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
				syscall.Close(fd)
			}
		}
	})
	ln, err := net.Listen("unix", filepath.Join(site, "sock"))
	if err != nil {
		t.Fatalf("listening on a Unix socket: %v", err)
	}
	defer ln.Close()
	special := []string{"fifo", "page.html.gz", "sock"}
	switch {
	case os.Geteuid() == 0:
		// /dev/null's numbers (1,3), and 0,0, which has no driver: opening
		// it fails, so a 404 rather than a 500 shows it was not opened.
		for name, dev := range map[string]int{"null": 1<<8 | 3, "nodriver": 0} {
			if err := syscall.Mknod(filepath.Join(site, name), syscall.S_IFCHR|0o666, dev); err != nil {
				t.Fatalf("mknod: %v", err)
			}
			special = append(special, name)
		}
	case os.Getenv("CI") == "true":
		t.Fatal("the device node cases need root, which CI has")
	default:
		t.Log("not root: no device nodes")
	}

	curl := requireTool(t, "curl")
	home := filepath.Join(t.TempDir(), "home")
	p := startServe(t, home, "--quiet", "--addr", "localhost:0", site)
	root := filepath.Join(home, "rootCA.pem")
	// get answers the status and body; --max-time turns a request blocked
	// in the server into a failure instead of a hang.
	get := func(path string, args ...string) (string, string) {
		t.Helper()
		args = append([]string{"-sS", "--max-time", "5", "--cacert", root, "-w", "\n%{http_code}"}, args...)
		out, err := exec.Command(curl, append(args, p.url+path)...).CombinedOutput()
		if err != nil {
			t.Fatalf("GET /%s: %v: %s", path, err, out)
		}
		i := strings.LastIndex(string(out), "\n")
		return string(out[i+1:]), string(out[:i])
	}
	for _, name := range special {
		if code, _ := get(name); code != "404" {
			t.Errorf("GET /%s = %s, want 404", name, code)
		}
	}
	// --compressed asks for gzip: the FIFO named page.html.gz must not be
	// what answers.
	if code, page := get("page.html", "--compressed"); code != "200" || page != "<p>page</p>" {
		t.Errorf("GET /page.html = %s %q", code, page)
	}
	_, listing := get("")
	if !strings.Contains(listing, `href="./plain.txt"`) {
		t.Errorf("listing lacks plain.txt")
	}
	for _, name := range special {
		if strings.Contains(listing, `"./`+name+`"`) {
			t.Errorf("listing links %s", name)
		}
	}
	p.stop(t)
}
