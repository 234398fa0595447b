package serve

import (
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The request path was made cheaper for issue 13 (one pass in cleanPath,
// no copies in the name checks, key-sniff verdicts kept per file version).
// These tests pin that the shortcuts answer exactly what the long way did.

// TestCleanPathMatchesClean checks cleanPath's shortcut for paths that are
// already clean against path.Clean, for every accepted path.
func TestCleanPathMatchesClean(t *testing.T) {
	for i, p := range []string{
		"/", "//", "/.", "/./", "/a", "/a/", "/a//", "/a/.", "/a/./b", "/a//b", "//a", "/a/b/c.txt",
		"/a/b/", "/a.b/c", "/x/.", "/x/./", "/%41", "/a b/c", "/é/ü.txt", "/a/b/./", "/...x", "/a...",
	} {
		got, err := cleanPath(p, p, false)
		if err != nil {
			continue
		}
		want := strings.TrimPrefix(path.Clean(p), "/")
		if want == "" {
			want = "."
		}
		if got != want {
			t.Errorf("Test %d: cleanPath(%q) = %q, path.Clean says %q", i, p, got, want)
		}
	}
	for i, tc := range []struct {
		raw  string
		want bool
	}{
		{"/a%2fb", true}, {"/a%2Fb", true}, {"/a%5cb", true}, {"/a%5Cb", true}, {"/a%00", true},
		{"/a%20b", false}, {"/a%2", false}, {"/a%", false}, {"/%25%32%66", false}, {"/a%2e%2e", false}, {"/%%2f", true},
	} {
		if got := hasEncodedSeparator(tc.raw); got != tc.want {
			t.Errorf("Test %d: hasEncodedSeparator(%q) = %v", i, tc.raw, got)
		}
	}
}

func TestIsDeviceName(t *testing.T) {
	for i, tc := range []struct {
		seg  string
		want bool
	}{
		{"CON", true}, {"con", true}, {"Con.txt", true}, {"nul ", true}, {"NUL .x", true}, {"aux.tar.gz", true},
		{"prn", true}, {"COM1", true}, {"com9.log", true}, {"LPT0", true}, {"lpt¹", true}, {"COM³.txt", true},
		{"conin$", true}, {"CONOUT$.log", true},
		{"console", false}, {"com10", false}, {"comx", false}, {"lpt", false}, {"com", false}, {"icon", false},
		{"nul1", false}, {"conin", false}, {"lpt⁴", false}, {"", false}, {"a.con", false},
	} {
		if got := isDeviceName(tc.seg); got != tc.want {
			t.Errorf("Test %d: isDeviceName(%q) = %v", i, tc.seg, got)
		}
	}
}

// TestKeyNameUnicode: the ASCII comparisons must not miss a name that
// strings.ToLower turns into a key name (the Kelvin sign lowers to "k").
func TestKeyNameUnicode(t *testing.T) {
	for _, name := range []string{"site.\u212aey", "SITE.\u212aEY", "\u212aey.pem", "ÄPP-KEY.PEM", "Id_Ed25519"} {
		if !keyName(name) {
			t.Errorf("keyName(%q) = false", name)
		}
	}
	if !keySniffName("Notes.TXT") || !keySniffName("README") || keySniffName("app.js") {
		t.Errorf("keySniffName is wrong about case or extensions")
	}
}

// TestKeyVerdictsFollowChanges: a text file found free of keys and then
// rewritten with a key, at the same size, is hidden from the next request,
// whether it changed within the settle time (read every time) or after it
// (the remembered verdict is dropped because the change time moved).
func TestKeyVerdictsFollowChanges(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("verdicts are remembered on Linux only")
	}
	plain := strings.Repeat("x", len(pemKey))
	for _, settle := range []time.Duration{0, time.Hour} {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"notes.txt": plain})
		h := newHandler(t, Config{Dir: dir})
		old := keyVerdictSettle
		keyVerdictSettle = settle
		for range 2 { // the second request is answered from the table
			if resp := do(t, h, "GET", "/notes.txt"); resp.StatusCode != 200 {
				t.Fatalf("settle %v: plain notes.txt = %d", settle, resp.StatusCode)
			}
		}
		if remembered := len(h.keys.m) == 1; remembered != (settle == 0) {
			t.Fatalf("settle %v: verdicts remembered: %v", settle, h.keys.m)
		}
		// Change times move in clock ticks of a few milliseconds.
		time.Sleep(30 * time.Millisecond)
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte(pemKey), 0o644); err != nil {
			t.Fatal(err)
		}
		if resp := do(t, h, "GET", "/notes.txt"); resp.StatusCode != 404 {
			t.Errorf("settle %v: notes.txt holding a key = %d, want 404", settle, resp.StatusCode)
		}
		keyVerdictSettle = old
	}
}

// TestKeyVerdictsRecentFilesAlwaysRead: within the settle time nothing is
// remembered, so a rewrite within one clock tick cannot slip through.
func TestKeyVerdictsRecentFilesAlwaysRead(t *testing.T) {
	dir := t.TempDir()
	plain := strings.Repeat("x", len(pemKey))
	writeTree(t, dir, map[string]string{"notes.txt": plain})
	h := newHandler(t, Config{Dir: dir})
	if resp := do(t, h, "GET", "/notes.txt"); resp.StatusCode != 200 {
		t.Fatalf("plain notes.txt = %d", resp.StatusCode)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte(pemKey), 0o644); err != nil {
		t.Fatal(err)
	}
	if resp := do(t, h, "GET", "/notes.txt"); resp.StatusCode != 404 {
		t.Errorf("notes.txt rewritten with a key at once = %d, want 404", resp.StatusCode)
	}
	if len(h.keys.m) != 0 {
		t.Errorf("a file changed just now was remembered: %v", h.keys.m)
	}
}

// TestAccessLogBatches: past the first lines of a window, lines wait and
// are written together, in order, within about logWindow, and Close
// writes whatever still waits.
func TestAccessLogBatches(t *testing.T) {
	var w countingWriter
	l := &accessLog{w: &w}
	const n = logBurst + 40
	start := time.Now()
	for i := range n {
		l.write([]byte(strconv.Itoa(i) + "\n"))
	}
	quick := time.Since(start) < logWindow // else a new window began
	w.mu.Lock()
	writes, got := w.writes, w.buf.String()
	w.mu.Unlock()
	if quick && (writes != logBurst || strings.Count(got, "\n") != logBurst) {
		t.Errorf("right away: %d writes of %d lines, want the first %d alone", writes, strings.Count(got, "\n"), logBurst)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		writes, got = w.writes, w.buf.String()
		w.mu.Unlock()
		if strings.Count(got, "\n") == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var want strings.Builder
	for i := range n {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	if got != want.String() || quick && writes > logBurst+2 {
		t.Errorf("after the window: %d writes, lines %q", writes, got)
	}

	// Close flushes a handler's waiting lines at once.
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "x"})
	var buf countingWriter
	h, err := New(Config{Dir: dir, AccessLog: &buf})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		do(t, h, "GET", "/a.txt")
	}
	h.Close()
	buf.mu.Lock()
	defer buf.mu.Unlock()
	if c := strings.Count(buf.buf.String(), " GET /a.txt 200 "); c != n {
		t.Errorf("after Close: %d of %d lines", c, n)
	}
}

type countingWriter struct {
	mu     sync.Mutex
	buf    strings.Builder
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}
