package serve

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// The benchmarks report, besides ns/op, "cpu-ns/op": the process's CPU
// time per operation (user and system, from getrusage). On a shared
// machine wall time swings with everyone else's load; CPU time swings far
// less, and it is what bench/serve-cpu.sh compares over the network.

// BenchmarkFile compares one in-memory GET of a 1 KiB file through the
// Handler with net/http's FileServer, the floor bench/serve-cpu.sh measures
// over the network.
func BenchmarkFile(b *testing.B) {
	dir := b.TempDir()
	writeTree(b, dir, map[string]string{
		"1k.bin": strings.Repeat("x", 1024), "sub/deeper/1k.bin": strings.Repeat("x", 1024),
		"notes.txt": strings.Repeat("x", 1024), "README": strings.Repeat("x", 1024),
	})
	h := newHandler(b, Config{Dir: dir})
	logged := newHandler(b, Config{Dir: dir, AccessLog: io.Discard})
	// The files were just written; a real site's have settled, and their
	// key-sniff verdicts are remembered (see keyVerdicts).
	defer func(d time.Duration) { keyVerdictSettle = d }(keyVerdictSettle)
	keyVerdictSettle = 0
	for _, bc := range []struct {
		name   string
		h      http.Handler
		target string
	}{
		{"devca", h, "/1k.bin"},
		{"devca/nested", h, "/sub/deeper/1k.bin"},
		// Names whose first 4 KiB are read to look for a private key.
		{"devca/sniffed-txt", h, "/notes.txt"},
		{"devca/sniffed-noext", h, "/README"},
		{"devca/accesslog", logged, "/1k.bin"},
		{"nethttp", http.FileServer(http.Dir(dir)), "/1k.bin"},
		{"nethttp/root", http.FileServerFS(mustRootFS(b, dir)), "/1k.bin"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", bc.target, nil)
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkFixedCosts measures the checks every request pays for on its
// own, so that a regression in one shows by name.
func BenchmarkFixedCosts(b *testing.B) {
	dir := b.TempDir()
	writeTree(b, dir, map[string]string{"1k.bin": strings.Repeat("x", 1024), "notes.txt": strings.Repeat("x", 1024)})
	h := newHandler(b, Config{Dir: dir})
	b.Run("cleanPath", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cleanPath("/assets/js/app.min.js", "/assets/js/app.min.js", false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cleanPath/unclean", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cleanPath("/assets//js/./app.min.js", "/assets//js/./app.min.js", false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keyName", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if keyName("App.Min.JS") || keySniffName("App.Min.JS") {
				b.Fatal("a script taken for a key")
			}
		}
	})
	for _, bc := range []struct {
		name   string
		settle time.Duration
	}{{"1k.bin", 0}, {"notes.txt", 0}, {"notes.txt", time.Hour}} {
		// open is the fast opener's fstatat, openat2 and fstat, the
		// special-file checks, and the key checks: for notes.txt a
		// remembered verdict, or with settle a 4 KiB read every time, as
		// for a file changed in the last seconds.
		name := "open/" + bc.name
		if bc.settle > 0 {
			name += "/just-changed"
		}
		b.Run(name, func(b *testing.B) {
			defer func(d time.Duration) { keyVerdictSettle = d }(keyVerdictSettle)
			keyVerdictSettle = bc.settle
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				f, _, _, err := h.open(bc.name)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
			cpu.report(b)
		})
	}
	b.Run("accessLogLine", func(b *testing.B) {
		lh := newHandler(b, Config{Dir: dir, AccessLog: io.Discard})
		r := httptest.NewRequest("GET", "/assets/app.js?v=3", nil)
		rec := &recorder{status: 200, bytes: 1024}
		start := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			lh.logRequest(r, rec, start)
		}
	})
}

// cpuClock reads the process's CPU time at the start of a benchmark.
type cpuClock struct{ start time.Duration }

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
}

func mustRootFS(b *testing.B, dir string) fs.FS {
	root, err := os.OpenRoot(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { root.Close() })
	return root.FS()
}
