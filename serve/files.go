package serve

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// serveFiles answers a GET or HEAD from the folder, falling back to the
// proxy, the SPA index, 404.html or a plain 404 page, in that order.
func (h *Handler) serveFiles(w http.ResponseWriter, r *http.Request) {
	name, err := cleanPath(r.URL.Path, r.URL.EscapedPath(), h.cfg.Dotfiles)
	if err != nil {
		h.notFound(w, r, err)
		return
	}
	f, fi, real, err := h.open(name)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			// A missing file may have a clean-URL page: /about -> about.html.
			if alt, ok := h.cleanURL(name); ok {
				h.serveFile(w, r, alt, http.StatusOK)
				return
			}
		}
		h.notFound(w, r, err)
		return
	}
	defer f.Close()
	if fi.IsDir() {
		f.Close()
		h.serveDir(w, r, real)
		return
	}
	if h.redirectFile(w, r) {
		return
	}
	// The common case, a file that is neither a live-reloaded page nor
	// compressible text, is sent from here: every frame between the
	// handler and http.ServeContent counts (see the note below).
	if ctype := mime.TypeByExtension(path.Ext(real)); ctype != "" && !isCompressible(ctype) && fi.Mode().IsRegular() {
		hdr := w.Header()
		hdr.Set("Content-Type", ctype)
		hdr.Set("ETag", fileETag(fi.ModTime(), fi.Size()))
		http.ServeContent(w, r, real, fi.ModTime(), &sizedFile{f: f, size: fi.Size()})
		return
	}
	h.serveOpenFile(w, r, real, f, fi, http.StatusOK)
}

// sizedFile lets http.ServeContent learn a file's size without system
// calls: it seeks to the end and back to find it, which sizedFile answers
// from the size already known and only passes on to the file when a read
// needs another offset (a range request). net/http's own FileServer avoids
// those two lseek calls the same way, through its internal size hook.
type sizedFile struct {
	f    servedFile
	size int64
	pos  int64 // where the next Read starts
	off  int64 // the file's real offset
}

func (s *sizedFile) Read(p []byte) (int, error) {
	if s.pos != s.off {
		if _, err := s.f.Seek(s.pos, io.SeekStart); err != nil {
			return 0, err
		}
		s.off = s.pos
	}
	n, err := s.f.Read(p)
	s.off += int64(n)
	s.pos = s.off
	return n, err
}

func (s *sizedFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errors.New("sizedFile.Seek: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("sizedFile.Seek: negative position")
	}
	s.pos = offset
	return offset, nil
}

// redirectFile sends a file's non-canonical URLs to the canonical one and
// reports whether it did: a file asked for as a folder goes to the file, so
// relative links on the page resolve as they would when deployed, and
// ".../index.html" goes to its folder.
func (h *Handler) redirectFile(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case strings.HasSuffix(r.URL.Path, "/"):
		localRedirect(w, r, "../"+path.Base(strings.TrimSuffix(r.URL.Path, "/")))
	case strings.HasSuffix(r.URL.Path, "/index.html"):
		localRedirect(w, r, "./")
	default:
		return false
	}
	return true
}

// cleanURL finds name+".html" for an extension-less name.
func (h *Handler) cleanURL(name string) (string, bool) {
	if name == "." || path.Ext(name) != "" {
		return "", false
	}
	return h.regularFile(name + ".html")
}

// regularFile resolves name, a clean name devca chose (index.html, 404.html,
// a clean URL's page), with the same link and dotfile rules as a request
// path, and reports whether it is a regular file.
func (h *Handler) regularFile(name string) (string, bool) {
	real, err := resolve(h.dir, name, h.cfg.Dotfiles)
	if err != nil || h.denied(real) {
		return "", false
	}
	if fi, err := h.root.Stat(real); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return real, true
}

// serveDir answers a folder: redirect to the slash form, then index.html,
// then the listing.
func (h *Handler) serveDir(w http.ResponseWriter, r *http.Request, real string) {
	if !strings.HasSuffix(r.URL.Path, "/") {
		localRedirect(w, r, "./"+path.Base(r.URL.Path)+"/")
		return
	}
	if index, ok := h.regularFile(path.Join(real, "index.html")); ok {
		h.serveFile(w, r, index, http.StatusOK)
		return
	}
	if h.proxy != nil {
		h.forward(w, r)
		return
	}
	if h.cfg.NoListing {
		h.notFound(w, r, fs.ErrNotExist)
		return
	}
	h.serveListing(w, r, real)
}

// notFound answers a path that names no servable file. Bad paths get 400
// straight away; other misses go to the proxy, the SPA index or 404.html.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		h.errorLog.Printf("serving %s %s: %v", r.Method, r.URL.EscapedPath(), err)
	}
	if status != http.StatusNotFound {
		h.errorPage(w, r, status)
		return
	}
	if h.proxy != nil {
		h.forward(w, r)
		return
	}
	if h.cfg.SPA && wantsPage(r) {
		if index, ok := h.regularFile("index.html"); ok {
			h.serveFile(w, r, index, http.StatusOK)
			return
		}
	}
	if page, ok := h.regularFile("404.html"); ok {
		h.serveFile(w, r, page, http.StatusNotFound)
		return
	}
	h.errorPage(w, r, http.StatusNotFound)
}

// wantsPage tells a browser navigation (or anything asking for HTML, or a
// path without an extension) from a request for a missing asset, which
// should stay a 404 in SPA mode instead of receiving index.html.
func wantsPage(r *http.Request) bool {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		return true
	}
	return path.Ext(r.URL.Path) == ""
}

// serveFile sends the file real (resolved, relative to the root) with the
// given status. For status 200 it goes through http.ServeContent (ranges,
// conditional requests); other statuses (404.html) send the body as is.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, real string, status int) {
	f, fi, err := h.openReal(real)
	if err != nil {
		h.errorPage(w, r, statusOrServerError(h, r, err))
		return
	}
	defer f.Close()
	h.serveOpenFile(w, r, real, f, fi, status)
}

// serveOpenFile sends f, opened from real, whose FileInfo is fi.
func (h *Handler) serveOpenFile(w http.ResponseWriter, r *http.Request, real string, f servedFile, fi fs.FileInfo, status int) {
	if !fi.Mode().IsRegular() {
		// Devices, sockets and pipes are not pages.
		h.errorPage(w, r, http.StatusNotFound)
		return
	}
	hdr := w.Header()
	ctype := mime.TypeByExtension(path.Ext(real))
	if ctype == "" {
		ctype = sniff(f)
	}
	hdr.Set("Content-Type", ctype)
	modtime := fi.ModTime()
	etag := etagPrefix(modtime, fi.Size())

	if h.live != nil && isHTML(ctype) && fi.Size() <= maxInjectSize {
		h.serveInjected(w, r, real, f, modtime, etag, status, ctype)
		return
	}
	// Only text-like files are worth precompressing; skipping the sibling
	// lookups for the rest saves two failed opens per request.
	if status == http.StatusOK && isCompressible(ctype) && h.servePrecompressed(w, r, real) {
		return
	}
	hdr.Set("ETag", etag+`"`)
	if status == http.StatusOK && !isCompressible(ctype) {
		// The common case, called directly: see the note below.
		http.ServeContent(w, r, real, modtime, &sizedFile{f: f, size: fi.Size()})
		return
	}
	h.sendContent(w, r, status, real, modtime, &sizedFile{f: f, size: fi.Size()}, fi.Size(), ctype)
}

// The functions on the path of every request are kept small and split off
// the rare branches: HTTP/2 runs each request on a fresh goroutine, and a
// deep chain of large frames made the runtime grow that goroutine's stack
// on every request, which cost about a tenth of HTTP/2 throughput.

// serveInjected sends a live-reloaded HTML page, read whole, with the
// reload script added.
func (h *Handler) serveInjected(w http.ResponseWriter, r *http.Request, real string, f servedFile, modtime time.Time, etag string, status int, ctype string) {
	body, err := io.ReadAll(f)
	if err != nil {
		h.errorPage(w, r, statusOrServerError(h, r, err))
		return
	}
	body = injectLiveReload(body)
	w.Header().Set("ETag", etag+`-lr"`)
	h.sendContent(w, r, status, real, modtime, bytes.NewReader(body), int64(len(body)), ctype)
}

// servePrecompressed sends the ".br" or ".gz" sibling of real if there is
// one the client accepts, and reports whether it did.
func (h *Handler) servePrecompressed(w http.ResponseWriter, r *http.Request, real string) bool {
	enc, pf, pfi := h.precompressed(r, real)
	if pf == nil {
		return false
	}
	defer pf.Close()
	hdr := w.Header()
	hdr.Add("Vary", "Accept-Encoding")
	hdr.Set("Content-Encoding", enc)
	hdr.Set("ETag", etagPrefix(pfi.ModTime(), pfi.Size())+"-"+enc+`"`)
	http.ServeContent(w, r, real, pfi.ModTime(), pf)
	return true
}

// etagPrefix returns the start of an ETag from a file's modification
// time and size, without the closing quote so that callers can add a
// variant: `"<mtime ns hex>-<size hex>`. ETags are strong as far as HTTP
// goes (ranges need that); a file rewritten within the same nanosecond with
// the same size is the accepted blind spot, as in most file servers.
func etagPrefix(mod time.Time, size int64) string {
	return string(appendETag(make([]byte, 0, 40), mod, size))
}

// fileETag is etagPrefix with its closing quote, made in one allocation for
// the common case of a file sent as it is.
func fileETag(mod time.Time, size int64) string {
	return string(append(appendETag(make([]byte, 0, 40), mod, size), '"'))
}

func appendETag(b []byte, mod time.Time, size int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, mod.UnixNano(), 16)
	b = append(b, '-')
	return strconv.AppendInt(b, size, 16)
}

// statusOrServerError maps an open error to a status, logging errors the
// client is not told about.
func statusOrServerError(h *Handler, r *http.Request, err error) int {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		h.errorLog.Printf("serving %s %s: %v", r.Method, r.URL.EscapedPath(), err)
	}
	return status
}

// sendContent sends content, compressing it with gzip when that is worth
// it, and through http.ServeContent when status is 200.
func (h *Handler) sendContent(w http.ResponseWriter, r *http.Request, status int, name string, modtime time.Time, content io.ReadSeeker, size int64, ctype string) {
	if size >= minCompressSize && isCompressible(ctype) {
		h.sendCompressible(w, r, status, name, modtime, content, size)
		return
	}
	if status == http.StatusOK {
		http.ServeContent(w, r, name, modtime, content)
		return
	}
	sendWithStatus(w, r, status, content, size)
}

// sendCompressible sends text, gzip-compressed when the client accepts it.
// Ranges address bytes of the identity body, so a range request is answered
// uncompressed.
func (h *Handler) sendCompressible(w http.ResponseWriter, r *http.Request, status int, name string, modtime time.Time, content io.ReadSeeker, size int64) {
	w.Header().Add("Vary", "Accept-Encoding")
	if r.Header.Get("Range") == "" && acceptsEncoding(r, "gzip") {
		if etag := w.Header().Get("ETag"); etag != "" {
			w.Header().Set("ETag", strings.TrimSuffix(etag, `"`)+`-gzip"`)
		}
		gw := newGzipWriter(w)
		defer gw.Close()
		w = gw
	}
	if status == http.StatusOK {
		http.ServeContent(w, r, name, modtime, content)
		return
	}
	sendWithStatus(w, r, status, content, size)
}

// sendWithStatus sends a page with a status other than 200 (404.html):
// no ETag and no ranges, which belong to the resource, not the error.
func sendWithStatus(w http.ResponseWriter, r *http.Request, status int, content io.Reader, size int64) {
	hdr := w.Header()
	hdr.Del("ETag")
	if _, ok := w.(*gzipWriter); !ok {
		hdr.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.Copy(w, content)
	}
}

// precompressed opens the ".br" or ".gz" sibling of real when the client
// accepts that encoding and the sibling is a regular file, preferring br.
func (h *Handler) precompressed(r *http.Request, real string) (string, servedFile, fs.FileInfo) {
	ae := r.Header.Get("Accept-Encoding")
	if ae == "" {
		return "", nil, nil
	}
	for _, c := range []struct{ enc, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !acceptsEncoding(r, c.enc) {
			continue
		}
		// h.open applies the link, dotfile and key rules to the sibling
		// too, and never opens a FIFO or device named like one.
		f, fi, _, err := h.open(real + c.ext)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		return c.enc, f, fi
	}
	return "", nil, nil
}

// sniff guesses a content type from the first 512 bytes, then rewinds.
func sniff(f io.ReadSeeker) string {
	var buf [512]byte
	n, _ := io.ReadFull(f, buf[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "application/octet-stream"
	}
	return http.DetectContentType(buf[:n])
}

func isHTML(ctype string) bool {
	return strings.HasPrefix(ctype, "text/html")
}

// localRedirect sends a redirect to rel, a relative path ("./x/", "../x")
// that is escaped here, keeping the query string like net/http's. Relative
// targets cannot turn into "//evil.example" open redirects, and the "./"
// prefix keeps a name with a colon from reading as a URL scheme. It uses 302
// rather than 301: a browser caches a permanent redirect, and during
// development a file may become a folder at any moment.
func localRedirect(w http.ResponseWriter, r *http.Request, rel string) {
	target := (&url.URL{Path: rel}).EscapedPath()
	if q := r.URL.RawQuery; q != "" {
		target += "?" + q
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}
