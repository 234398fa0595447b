package serve

import (
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// minCompressSize is the smallest body worth compressing: below about a
// kilobyte the gzip header and the lost sendfile path cost more than the
// bytes saved.
const minCompressSize = 1024

// isCompressible reports whether a content type is text-like enough for
// gzip to pay off. Images, video, archives and fonts are already compressed.
func isCompressible(ctype string) bool {
	ctype, _, _ = strings.Cut(ctype, ";")
	ctype = strings.TrimSpace(strings.ToLower(ctype))
	if strings.HasPrefix(ctype, "text/") && ctype != "text/event-stream" {
		return true
	}
	switch ctype {
	case "application/javascript", "application/json", "application/xml", "application/wasm",
		"application/manifest+json", "application/ld+json", "application/rss+xml", "application/atom+xml",
		"application/xhtml+xml", "image/svg+xml", "application/x-javascript":
		return true
	}
	return strings.HasSuffix(ctype, "+json") || strings.HasSuffix(ctype, "+xml")
}

// acceptsEncoding reports whether the request's Accept-Encoding allows enc
// (a q=0 entry refuses it).
func acceptsEncoding(r *http.Request, enc string) bool {
	for _, ae := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(ae, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(name), enc) {
				continue
			}
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						q = f
					}
				}
			}
			return q > 0
		}
	}
	return false
}

var gzipPool = sync.Pool{New: func() any {
	// Level 5 compresses text nearly as well as the default 6 at a
	// noticeably lower cost per request.
	gz, _ := gzip.NewWriterLevel(io.Discard, 5)
	return gz
}}

// gzipWriter compresses a response body. It decides at WriteHeader: only a
// full 200 or 404 response without an encoding of its own is compressed, so
// 304s, 206 ranges and redirects pass through untouched.
type gzipWriter struct {
	http.ResponseWriter
	gz      *gzip.Writer
	decided bool
}

func newGzipWriter(w http.ResponseWriter) *gzipWriter {
	return &gzipWriter{ResponseWriter: w}
}

func (g *gzipWriter) WriteHeader(code int) {
	if !g.decided {
		g.decided = true
		hdr := g.Header()
		if (code == http.StatusOK || code == http.StatusNotFound) && hdr.Get("Content-Encoding") == "" && hdr.Get("Content-Range") == "" {
			hdr.Del("Content-Length")
			hdr.Set("Content-Encoding", "gzip")
			gz := gzipPool.Get().(*gzip.Writer)
			gz.Reset(g.ResponseWriter)
			g.gz = gz
		}
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if !g.decided {
		g.WriteHeader(http.StatusOK)
	}
	if g.gz != nil {
		return g.gz.Write(p)
	}
	return g.ResponseWriter.Write(p)
}

// Close ends the gzip stream and returns the compressor to the pool.
func (g *gzipWriter) Close() error {
	if g.gz == nil {
		return nil
	}
	err := g.gz.Close()
	g.gz.Reset(io.Discard)
	gzipPool.Put(g.gz)
	g.gz = nil
	return err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }
