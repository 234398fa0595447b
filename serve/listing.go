package serve

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed listing.html
var listingHTML string

// listingTemplate is parsed on first use, not at start-up, which every
// devca command pays; html/template escapes every field by context, so a
// file named `<script>` or `"onload=` stays text.
var listingTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("listing").Funcs(template.FuncMap{
		"size": humanSize,
	}).Parse(listingHTML))
})

// Entry is one item of a directory listing, as the JSON form sends it.
type Entry struct {
	// Name is the file name, and URL its escaped link relative to the
	// listed folder (a folder's URL ends in "/").
	Name string `json:"name"`
	URL  string `json:"url"`
	// IsDir is true for folders; Size is in bytes and zero for folders.
	IsDir    bool      `json:"is_dir"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	// IsSymlink is true for a symbolic link; its target is not revealed.
	IsSymlink bool `json:"is_symlink,omitempty"`
}

// crumb is one link of the breadcrumb trail.
type crumb struct {
	Name string
	URL  string
}

type listingPage struct {
	Path       string
	RootName   string
	Crumbs     []crumb
	Entries    []Entry
	Files      int
	Folders    int
	TotalSize  int64
	LiveReload bool
	Events     string
}

// serveListing answers a folder without index.html with a listing: JSON when
// the client prefers application/json, HTML otherwise.
func (h *Handler) serveListing(w http.ResponseWriter, r *http.Request, real string) {
	entries, err := h.readListing(real)
	if err != nil {
		h.errorPage(w, r, statusOrServerError(h, r, err))
		return
	}
	hdr := w.Header()
	hdr.Add("Vary", "Accept")
	if prefersJSON(r) {
		hdr.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(entries)
		}
		return
	}
	page := listingPage{Path: r.URL.Path, RootName: filepath.Base(h.cfg.Dir), Crumbs: breadcrumbs(r.URL.Path), Entries: entries, LiveReload: h.live != nil, Events: EventsPath}
	for _, e := range entries {
		if e.IsDir {
			page.Folders++
		} else {
			page.Files++
			page.TotalSize += e.Size
		}
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	var out http.ResponseWriter = w
	if acceptsEncoding(r, "gzip") && len(entries) > 8 {
		hdr.Add("Vary", "Accept-Encoding")
		gw := newGzipWriter(w)
		defer gw.Close()
		out = gw
	}
	out.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if err := listingTemplate().Execute(out, page); err != nil {
		h.errorLog.Printf("rendering the listing of %q: %v", r.URL.Path, err)
	}
}

// readListing reads a folder's entries, drops hidden ones and links that
// lead out of the root or to hidden files, and sorts folders first, then by
// name without regard to case.
func (h *Handler) readListing(real string) ([]Entry, error) {
	f, err := h.root.Open(real)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if !h.cfg.Dotfiles && strings.HasPrefix(name, ".") {
			continue
		}
		rel := path.Join(real, name)
		if h.denied(rel) {
			continue
		}
		e := Entry{Name: name}
		var fi fs.FileInfo
		if de.Type()&fs.ModeSymlink != 0 {
			e.IsSymlink = true
			target, err := resolve(h.dir, rel, h.cfg.Dotfiles)
			if err != nil || h.denied(target) {
				continue
			}
			if fi, err = h.root.Stat(target); err != nil {
				continue
			}
		} else if fi, err = de.Info(); err != nil {
			continue
		}
		e.IsDir = fi.IsDir()
		e.Modified = fi.ModTime().UTC().Truncate(time.Second)
		link := "./" + name
		if e.IsDir {
			link += "/"
		} else {
			e.Size = fi.Size()
		}
		e.URL = (&url.URL{Path: link}).EscapedPath()
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		if a.IsDir != b.IsDir {
			if a.IsDir {
				return -1
			}
			return 1
		}
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return entries, nil
}

// breadcrumbs splits a folder URL path into links, the root first.
func breadcrumbs(urlPath string) []crumb {
	crumbs := []crumb{{Name: "/", URL: "/"}}
	acc := "/"
	for seg := range strings.SplitSeq(strings.Trim(urlPath, "/"), "/") {
		if seg == "" {
			continue
		}
		acc += seg + "/"
		crumbs = append(crumbs, crumb{Name: seg, URL: (&url.URL{Path: acc}).EscapedPath()})
	}
	return crumbs
}

// prefersJSON reports whether the Accept header asks for JSON before HTML.
func prefersJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return false
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json":
			return true
		case "text/html", "application/xhtml+xml", "*/*", "text/*":
			return false
		}
	}
	return false
}

// humanSize formats a byte count with binary units: 512 B, 1.5 KiB, 10 MiB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	units := "KMGTPE"[exp : exp+1]
	if v >= 10 {
		return fmt.Sprintf("%.0f %siB", v, units)
	}
	return fmt.Sprintf("%.1f %siB", v, units)
}
