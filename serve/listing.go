package serve

import (
	"container/heap"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// listingEntry is one item of a directory listing, as the JSON form sends
// it. It is unexported: the JSON field names are the contract, and no
// caller outside serve needs the Go type.
type listingEntry struct {
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
	Entries    []listingEntry
	Files      int
	Folders    int
	TotalSize  int64
	Omitted    int // entries beyond MaxListing, not shown
	Max        int
	LiveReload bool
	Events     string
}

// serveListing answers a folder without index.html with a listing: JSON when
// the client prefers application/json, HTML otherwise.
func (h *Handler) serveListing(w http.ResponseWriter, r *http.Request, real string) {
	entries, omitted, err := h.readListing(real)
	if err != nil {
		h.errorPage(w, r, statusOrServerError(h, r, err))
		return
	}
	hdr := w.Header()
	hdr.Add("Vary", "Accept")
	if omitted > 0 {
		// The JSON form stays a plain array; this says it is not all.
		hdr.Set("Devca-Listing-Omitted", strconv.Itoa(omitted))
	}
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
	page := listingPage{Path: r.URL.Path, RootName: filepath.Base(h.cfg.Dir), Crumbs: breadcrumbs(r.URL.Path), Entries: entries,
		Omitted: omitted, Max: MaxListing, LiveReload: h.live != nil, Events: EventsPath}
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

// MaxListing is the most entries a folder listing shows. A folder with
// more is read in full (names and types only, which the directory itself
// holds) to find the first MaxListing in listing order, and the page says
// how many it leaves out: a listing of 50,000 files would be a 15 MB page
// that no one reads, built again for every request.
const MaxListing = 1000

// listItem is a folder entry that passed the cheap checks, kept while the
// folder is read: only MaxListing of them are held at once.
type listItem struct {
	de     fs.DirEntry
	lower  string      // the name in lower case, for sorting
	isDir  bool        // a folder, or a link to one
	target string      // a link's resolved name, "" for other entries
	fi     fs.FileInfo // a link's target's FileInfo
}

// compareItems orders a listing: folders first, then names without regard
// to case, then names as they are.
func compareItems(a, b *listItem) int {
	if a.isDir != b.isDir {
		if a.isDir {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.lower, b.lower); c != 0 {
		return c
	}
	return strings.Compare(a.de.Name(), b.de.Name())
}

// lastItems is a heap whose top is the entry that comes last in listing
// order, so that keeping the first MaxListing entries of a stream costs
// one comparison for most of them.
type lastItems []*listItem

func (l lastItems) Len() int           { return len(l) }
func (l lastItems) Less(i, j int) bool { return compareItems(l[i], l[j]) > 0 }
func (l lastItems) Swap(i, j int)      { l[i], l[j] = l[j], l[i] }
func (l *lastItems) Push(x any)        { *l = append(*l, x.(*listItem)) }
func (l *lastItems) Pop() any {
	old := *l
	x := old[len(old)-1]
	*l = old[:len(old)-1]
	return x
}

// readListing reads a folder's entries, drops hidden ones, key files,
// FIFOs, sockets and devices, and links that lead out of the root or to
// hidden files, and returns the first MaxListing in listing order with the
// number of entries left out.
func (h *Handler) readListing(real string) ([]listingEntry, int, error) {
	// Through os.Root, not the fast opener: the entries' Info looks them
	// up by the folder's name, which only os.Root's files carry in full.
	f, fi, err := h.openRoot(real)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if !fi.IsDir() {
		return nil, 0, &fs.PathError{Op: "readdir", Path: real, Err: syscall.ENOTDIR}
	}
	var kept lastItems
	total := 0
	for {
		des, err := f.ReadDir(256)
		for _, de := range des {
			it, ok := h.listable(real, de)
			if !ok {
				continue
			}
			total++
			if len(kept) < MaxListing {
				heap.Push(&kept, it)
			} else if compareItems(it, kept[0]) < 0 {
				kept[0] = it
				heap.Fix(&kept, 0)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	slices.SortFunc(kept, compareItems)
	entries := make([]listingEntry, 0, len(kept))
	for _, it := range kept {
		if e, ok := h.listEntry(real, it); ok {
			entries = append(entries, e)
		} else {
			total--
		}
	}
	return entries, total - len(entries), nil
}

// listable applies the checks that need no more than the entry's name and
// type (and, for a link, its target): the folder gives those for free, so
// they run on every entry of a large folder.
func (h *Handler) listable(real string, de fs.DirEntry) (*listItem, bool) {
	name := de.Name()
	if !h.cfg.Dotfiles && strings.HasPrefix(name, ".") {
		return nil, false
	}
	rel := path.Join(real, name)
	if h.denied(rel) {
		return nil, false
	}
	it := &listItem{de: de, lower: strings.ToLower(name)}
	switch typ := de.Type(); {
	case typ&fs.ModeSymlink != 0:
		target, err := resolve(h.dir, rel, h.cfg.Dotfiles)
		if err != nil || h.denied(target) {
			return nil, false
		}
		if it.fi, err = h.root.Stat(target); err != nil || !servable(it.fi) {
			return nil, false
		}
		it.target, it.isDir = target, it.fi.IsDir()
	case typ.IsDir():
		it.isDir = true
	case !typ.IsRegular():
		return nil, false // a FIFO, socket or device: nothing to link to
	}
	if !it.isDir && !h.cfg.ServeKeys && (keyName(name) || (it.target != "" && keyName(path.Base(it.target)))) {
		return nil, false
	}
	return it, true
}

// listEntry makes the listingEntry for an item that will be shown, reading
// what costs a system call: its FileInfo, and for a name a PEM key could
// hide behind, its first bytes.
func (h *Handler) listEntry(real string, it *listItem) (listingEntry, bool) {
	name := it.de.Name()
	e := listingEntry{Name: name, IsSymlink: it.target != ""}
	fi, file := it.fi, it.target
	if fi == nil {
		var err error
		if fi, err = it.de.Info(); err != nil || !servable(fi) {
			return listingEntry{}, false
		}
		file = path.Join(real, name)
	}
	if fi.Mode().IsRegular() && h.isRecordedKey(fi) {
		return listingEntry{}, false
	}
	if fi.Mode().IsRegular() && !h.cfg.ServeKeys && (keySniffName(name) || keySniffName(path.Base(file))) {
		if f, _, err := h.openReal(file); err == nil {
			key := sniffKey(f)
			f.Close()
			if key {
				return listingEntry{}, false
			}
		}
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
	return e, true
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
