// Package serve is devca's HTTPS development server: it serves a folder, or
// proxies a plain-HTTP development server, behind a certificate from the
// devca CA.
//
// # Serving files
//
// [New] returns an [http.Handler] for a [Config]. Folders are answered with
// their index.html or a directory listing (HTML, or JSON when the client asks
// for application/json). With [Config.SPA] unknown paths get the root
// index.html; a 404.html at the root is used for pages that do not exist; a
// path without an extension also finds the ".html" file of that name ("clean
// URLs"). Files are sent with [http.ServeContent], so ranges, ETags and
// conditional requests work; responses carry "Cache-Control: no-cache" so an
// edit shows on the next load. Text is gzip-compressed on the fly, and a
// precompressed ".br" or ".gz" sibling is sent instead when the client
// accepts it.
//
// # Security
//
// Every file is opened through an [os.Root], so no path and no symbolic link
// reaches outside the folder. Request paths holding "..", backslashes, NUL
// bytes or encoded slashes are refused before any lookup. Dotfiles and
// dot-folders (".git", ".env") are hidden, also through symbolic links,
// unless [Config.Dotfiles] is set. [Config.Deny] keeps the CA home and key
// files out of reach even inside the folder. Clients never see error text: a
// failure is a status code and a fixed page.
//
// # Live reload and proxying
//
// With [Config.LiveReload] the folder is watched and every HTML page served
// gets a small script that reloads it on change, through server-sent events
// at [EventsPath]; when only stylesheets changed, it reloads just those. With [Config.Proxy] requests that match no file go to a
// plain-HTTP upstream, WebSocket upgrades included.
package serve

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EventsPath is where a page loaded with live reload listens for changes.
// The leading dot keeps it apart from any file a site would serve, since
// dot-paths are hidden by default.
const EventsPath = "/.devca/events"

var (
	noCache = []string{"no-cache"}
	nosniff = []string{"nosniff"}
)

// ErrDeniedDir is returned by New when the folder to serve lies inside one
// of [Config.Deny], such as the CA home.
var ErrDeniedDir = errors.New("refusing to serve a folder that holds private keys")

// Config says what a Handler serves and how.
type Config struct {
	// Dir is the folder to serve. Empty means no files: every request goes
	// to Proxy.
	Dir string
	// NoListing turns directory listings off; a folder without index.html
	// is then a 404.
	NoListing bool
	// SPA answers unknown paths with the root index.html, for single-page
	// applications that route in the browser.
	SPA bool
	// Dotfiles serves files and folders whose names start with ".".
	Dotfiles bool
	// CORS allows every origin to read responses and answers preflight
	// requests.
	CORS bool
	// Headers are added to every response; they win over devca's defaults.
	// New refuses any that [CheckHeader] refuses.
	Headers http.Header
	// LiveReload watches Dir and reloads open HTML pages when it changes.
	LiveReload bool
	// Proxy is a plain-HTTP upstream for requests that match no file.
	Proxy *url.URL
	// AccessLog receives one line per request; nil means no log. Under
	// load lines come in batches, at most 20 ms late, one write each;
	// writes never overlap.
	AccessLog io.Writer
	// ErrorLog receives problems the client is not told about in detail
	// (upstream errors, failed reads), one line per write without a
	// prefix, so the caller can add its own; nil means AccessLog.
	ErrorLog io.Writer
	// Now is the clock for log lines; nil means time.Now.
	Now func() time.Time
	// Deny names files and folders that are never served, whatever the
	// other settings: devca passes the CA home and any key file, so that a
	// CA home inside the served folder cannot leak its keys. New refuses a
	// Dir inside a denied folder.
	Deny []string
	// RecordedKeys are the key and PKCS#12 files devca's record says it
	// wrote, as absolute paths. They are never served or listed, whatever
	// ServeKeys says; unlike Deny they name files, not folders.
	RecordedKeys []string
	// ServeKeys serves files that look like private keys: by name
	// ("*-key.pem", "*.key", "*.p12", "*.pfx") or, for ".pem", ".crt",
	// ".cer", ".p8", ".txt" and extension-less files, by a PEM private key
	// block in their first 4 KiB. Without it they are hidden like dotfiles.
	ServeKeys bool
}

// Handler serves a Config. Close it to stop live reload and end open event
// streams, which would otherwise keep a graceful shutdown waiting.
type Handler struct {
	cfg            Config
	root           *os.Root
	dir            string // absolute path of cfg.Dir, for resolve
	fast           *fastOpener
	headers        http.Header
	proxy          http.Handler
	live           *liveReload
	deny           []string        // slash paths relative to Dir, see Config.Deny
	recorded       map[string]bool // slash paths relative to Dir, see Config.RecordedKeys
	recordedInodes map[inode]bool  // the same files by inode, for hard links
	keys           keyVerdicts     // what the key sniff found, see hiddenKey
	log            accessLog
	errorLog       *log.Logger
	closeOnce      sync.Once
}

// New checks cfg and returns a Handler for it. It opens cfg.Dir, which must
// be a folder, and starts watching it when live reload is on.
func New(cfg Config) (*Handler, error) {
	if cfg.Dir == "" && cfg.Proxy == nil {
		return nil, errors.New("nothing to serve: set a folder or a proxy upstream")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, headers: http.Header{}}
	h.log.w = cfg.AccessLog
	for k, vs := range cfg.Headers {
		for _, v := range vs {
			if err := CheckHeader(k, v); err != nil {
				return nil, err
			}
		}
		h.headers[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	errOut := cfg.ErrorLog
	if errOut == nil {
		errOut = cfg.AccessLog
	}
	if errOut == nil {
		errOut = io.Discard
	}
	h.errorLog = log.New(errOut, "", 0)
	if cfg.Dir != "" {
		fi, err := os.Stat(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("opening folder to serve: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("opening folder to serve: %q is not a folder", cfg.Dir)
		}
		if h.dir, err = filepath.Abs(cfg.Dir); err != nil {
			return nil, fmt.Errorf("opening folder to serve: %w", err)
		}
		if h.root, err = os.OpenRoot(h.dir); err != nil {
			return nil, fmt.Errorf("opening folder to serve: %w", err)
		}
		if h.deny, err = denyList(h.dir, cfg.Deny); err != nil {
			h.root.Close()
			return nil, err
		}
		h.recorded = recordedKeys(h.dir, cfg.RecordedKeys)
		h.recordedInodes = recordedInodes(cfg.RecordedKeys)
		h.fast = newFastOpener(h.dir)
	}
	if cfg.Proxy != nil {
		p, err := newProxy(cfg.Proxy, h.errorLog, h.proxyHeaders)
		if err != nil {
			h.Close()
			return nil, err
		}
		h.proxy = p
	}
	if cfg.LiveReload && h.root != nil {
		lr, err := newLiveReload(cfg.Dir, cfg.Dotfiles, h.errorLog)
		if err != nil {
			h.Close()
			return nil, err
		}
		h.live = lr
	}
	return h, nil
}

// denyList turns Config.Deny into paths relative to dir, with links
// resolved on both sides, keeping those inside dir. It fails when dir itself
// lies inside a denied folder.
func denyList(dir string, deny []string) ([]string, error) {
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("opening folder to serve: %w", err)
	}
	var out []string
	for _, d := range deny {
		real, err := realPath(d)
		if err != nil {
			return nil, fmt.Errorf("resolving %q: %w", d, err)
		}
		if rel, err := filepath.Rel(real, realDir); err == nil && filepath.IsLocal(rel) {
			return nil, fmt.Errorf("%w: %q is inside %q", ErrDeniedDir, dir, d)
		}
		if rel, err := filepath.Rel(realDir, real); err == nil && filepath.IsLocal(rel) {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out, nil
}

// realPath makes p absolute and resolves its links when it exists.
func realPath(p string) (string, error) {
	real, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(real); err == nil {
		real = r
	}
	return real, nil
}

// denied reports whether real, a resolved slash path relative to the
// served folder, is or lies inside a denied path, or is a recorded key.
func (h *Handler) denied(real string) bool {
	if h.recorded[real] {
		return true
	}
	for _, d := range h.deny {
		if real == d || strings.HasPrefix(real, d+"/") {
			return true
		}
	}
	return false
}

// Close writes access-log lines still waiting, stops watching the folder,
// ends event streams and releases the folder. Requests after Close fail.
// Calling Close again does nothing.
func (h *Handler) Close() error {
	var err error
	h.closeOnce.Do(func() {
		if h.cfg.AccessLog != nil {
			h.log.flush()
		}
		if h.live != nil {
			h.live.close()
		}
		h.fast.close()
		if h.root != nil {
			err = h.root.Close()
		}
	})
	return err
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.AccessLog != nil {
		if _, logged := w.(*recorder); !logged {
			h.serveLogged(w, r)
			return
		}
	}
	// Direct map writes with shared, never-modified values: these two
	// headers go on every response, so they should cost no allocation.
	hdr := w.Header()
	hdr["Cache-Control"] = noCache
	hdr["X-Content-Type-Options"] = nosniff
	if h.cfg.CORS && h.cors(w, r) {
		return
	}
	if len(h.headers) > 0 {
		h.applyHeaders(hdr)
	}
	switch {
	case h.live != nil && r.URL.Path == EventsPath:
		h.live.serveEvents(w, r)
	case h.root == nil:
		h.forward(w, r)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		h.serveFiles(w, r)
	case h.proxy != nil:
		h.forward(w, r)
	default:
		h.methodNotAllowed(w, r)
	}
}

// serveLogged answers a request through the access-log recorder and
// writes its log line (see accessLog for when it is written). Recorders are reused: net/http forbids using a
// ResponseWriter after ServeHTTP returns, so none is still held then.
func (h *Handler) serveLogged(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	rec := recorderPool.Get().(*recorder)
	*rec = recorder{ResponseWriter: w}
	h.ServeHTTP(rec, r)
	h.logRequest(r, rec, start)
	*rec = recorder{}
	recorderPool.Put(rec)
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

// methodNotAllowed answers a method other than GET and HEAD on files.
func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD, OPTIONS")
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.errorPage(w, r, http.StatusMethodNotAllowed)
}

// cors adds the CORS header and answers a preflight request, reporting
// whether it did.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		hdr.Set("Access-Control-Allow-Headers", rh)
	}
	hdr.Set("Access-Control-Max-Age", "600")
	h.applyHeaders(hdr)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// applyHeaders adds the configured headers, replacing devca's defaults of
// the same name.
//
// It is never inlined: its map iterator would otherwise sit in ServeHTTP's
// frame on every request, see the note on frames in files.go.
//
//go:noinline
func (h *Handler) applyHeaders(hdr http.Header) {
	for k, vs := range h.headers {
		hdr[k] = append([]string(nil), vs...)
	}
}

// logRequest writes one access-log line: time, method, path, status, bytes
// and duration. The path is quoted when it holds anything but printable
// ASCII, so a request cannot forge log lines or send terminal escapes.
//
// The line is built by appending into a reused buffer rather than with
// fmt, and written in batches under load (see accessLog): the log is on
// by default, and should cost little more than --quiet.
func (h *Handler) logRequest(r *http.Request, rec *recorder, start time.Time) {
	end := h.cfg.Now()
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	bp := logBufPool.Get().(*[]byte)
	b := end.AppendFormat((*bp)[:0], "2006-01-02T15:04:05.000Z07:00")
	b = append(b, ' ')
	b = appendLogField(b, r.Method, "")
	b = append(b, ' ')
	b = appendLogField(b, r.URL.EscapedPath(), r.URL.RawQuery)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, rec.bytes, 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, float64(end.Sub(start))/float64(time.Millisecond), 'f', 3, 64)
	b = append(b, "ms\n"...)
	h.log.write(b)
	if cap(b) <= 4<<10 { // a huge request line is not kept around
		*bp = b
		logBufPool.Put(bp)
	}
}

var logBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// appendLogField appends s, followed by "?" and query when query is not
// empty, quoted as Go would (%q) when it holds anything but printable
// ASCII.
func appendLogField(b []byte, s, query string) []byte {
	if printableASCII(s) && printableASCII(query) {
		b = append(b, s...)
		if query != "" {
			b = append(b, '?')
			b = append(b, query...)
		}
		return b
	}
	if query != "" {
		s += "?" + query
	}
	return strconv.AppendQuote(b, s)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '"' {
			return false
		}
	}
	return true
}

// recorder remembers the status and body size for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the sendfile path of the underlying writer.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection over (WebSocket upgrades through the proxy)
// and logs the request as 101 Switching Protocols, which the proxy writes
// on the connection itself.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

// Flush is needed by httputil.ReverseProxy, which flushes through an
// http.Flusher assertion rather than a ResponseController.
func (r *recorder) Flush() {
	http.NewResponseController(r.ResponseWriter).Flush()
}

// errorPage writes a short fixed page for status. It never includes error
// text, paths or anything else the request did not already hold.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int) {
	hdr := w.Header()
	for _, k := range []string{"Content-Encoding", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges"} {
		hdr.Del(k)
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	text := http.StatusText(status)
	fmt.Fprintf(w, "<!doctype html>\n<meta charset=utf-8><meta name=viewport content=\"width=device-width\">\n"+
		"<title>%d %s</title>\n<h1>%d %s</h1>\n", status, text, status, text)
}

// TLSConfig returns the TLS settings devca serves with: TLS 1.2 or newer,
// forward-secret AEAD cipher suites only, HTTP/2 and HTTP/1.1 by ALPN, and
// the certificate getCert returns.
func TLSConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// TLS 1.2 is limited to forward-secret AEAD suites: Go's defaults
		// still include CBC suites, which scanners rate "average" (Lucky13).
		// Every browser of the last ten years has one of these. TLS 1.3
		// suites are not configurable and all AEAD.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: getCert,
	}
}
