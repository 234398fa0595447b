package serve

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// BenchmarkFile compares one in-memory GET of a 1 KiB file through the
// Handler with net/http's FileServer, the floor bench/serve.sh measures
// over the network.
func BenchmarkFile(b *testing.B) {
	dir := b.TempDir()
	writeTree(b, dir, map[string]string{"1k.bin": strings.Repeat("x", 1024), "sub/deeper/1k.bin": strings.Repeat("x", 1024)})
	h := newHandler(b, Config{Dir: dir})
	for _, bc := range []struct {
		name   string
		h      http.Handler
		target string
	}{
		{"devca", h, "/1k.bin"},
		{"devca/nested", h, "/sub/deeper/1k.bin"},
		{"nethttp", http.FileServer(http.Dir(dir)), "/1k.bin"},
		{"nethttp/root", http.FileServerFS(mustRootFS(b, dir)), "/1k.bin"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", bc.target, nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
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
