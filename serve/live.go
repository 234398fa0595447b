package serve

import (
	"bytes"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// maxInjectSize bounds the HTML pages that get the live-reload script; a
// bigger page is sent as it is rather than read into memory.
const maxInjectSize = 16 << 20

// debounce gathers the burst of events an editor or build tool makes when it
// saves (write, chmod, rename) into one reload.
const debounce = 75 * time.Millisecond

// liveScript is added to HTML pages. It reconnects on its own (EventSource
// does), reloads the page on a "reload" event, and on a "css" event (only
// stylesheets changed) reloads just the stylesheets, so the page keeps its
// scroll position and state.
var liveScript = []byte(`<script>(function () {
var es = new EventSource("` + EventsPath + `");
es.addEventListener("reload", function () { location.reload(); });
es.addEventListener("css", function () {
  document.querySelectorAll('link[rel~="stylesheet"]').forEach(function (l) {
    var u = new URL(l.href, location.href); u.searchParams.set("devca", Date.now()); l.href = u.href;
  });
});
})();</script>`)

// Events a page receives.
const (
	eventReload = "reload"
	eventCSS    = "css"
)

// injectLiveReload puts the script before </body>, or at the end of a page
// without one.
func injectLiveReload(page []byte) []byte {
	out := make([]byte, 0, len(page)+len(liveScript))
	if i := bytes.LastIndex(bytes.ToLower(page), []byte("</body>")); i >= 0 {
		out = append(out, page[:i]...)
		out = append(out, liveScript...)
		return append(out, page[i:]...)
	}
	out = append(out, page...)
	return append(out, liveScript...)
}

// liveReload watches a folder tree and tells every connected page when
// something in it changes.
type liveReload struct {
	watcher  *fsnotify.Watcher
	dotfiles bool
	log      *log.Logger

	mu      sync.Mutex
	clients map[chan string]struct{}
	closed  bool
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// skipWatch names folders that are never watched: they are large, change
// without the page changing, or both.
var skipWatch = map[string]bool{"node_modules": true}

func newLiveReload(dir string, dotfiles bool, logger *log.Logger) (*liveReload, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("starting live reload: %w", err)
	}
	lr := &liveReload{watcher: w, dotfiles: dotfiles, log: logger, clients: map[chan string]struct{}{}, done: make(chan struct{})}
	if err := lr.addTree(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("starting live reload: %w", err)
	}
	lr.wg.Add(1)
	go lr.loop()
	return lr, nil
}

// addTree watches dir and every folder below it, except hidden folders
// (unless dotfiles are served) and skipWatch. fsnotify does not follow
// symbolic links, so a link cannot make it watch outside the tree.
func (lr *liveReload) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // a folder that vanished or cannot be read
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && (skipWatch[d.Name()] || (!lr.dotfiles && strings.HasPrefix(d.Name(), "."))) {
			return filepath.SkipDir
		}
		if err := lr.watcher.Add(p); err != nil {
			if p == dir {
				return err
			}
			lr.log.Printf("live reload cannot watch %q: %v", p, err)
		}
		return nil
	})
}

func (lr *liveReload) loop() {
	defer lr.wg.Done()
	var timer *time.Timer
	var fire <-chan time.Time
	onlyCSS := true // every change in this burst was a stylesheet
	for {
		select {
		case ev, ok := <-lr.watcher.Events:
			if !ok {
				return
			}
			if lr.ignored(ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
					lr.addTree(ev.Name)
				}
			}
			if !strings.EqualFold(filepath.Ext(ev.Name), ".css") {
				onlyCSS = false
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
				fire = timer.C
			}
		case <-fire:
			timer, fire = nil, nil
			if onlyCSS {
				lr.broadcast(eventCSS)
			} else {
				lr.broadcast(eventReload)
			}
			onlyCSS = true
		case err, ok := <-lr.watcher.Errors:
			if !ok {
				return
			}
			lr.log.Printf("live reload: %v", err)
		case <-lr.done:
			return
		}
	}
}

// ignored drops events for hidden files (editor swap files, .git) when
// dotfiles are hidden, and for editor backup files ending in "~".
func (lr *liveReload) ignored(name string) bool {
	base := filepath.Base(name)
	return (!lr.dotfiles && strings.HasPrefix(base, ".")) || strings.HasSuffix(base, "~")
}

// broadcast tells every page about a change. A page has room for one
// pending event; a reload replaces a pending css event, which it includes.
func (lr *liveReload) broadcast(event string) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for c := range lr.clients {
		select {
		case c <- event:
		default:
			if event == eventReload {
				select {
				case <-c:
				default:
				}
				c <- event // only broadcast sends, under lr.mu: there is room
			}
		}
	}
}

func (lr *liveReload) subscribe() (chan string, bool) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.closed {
		return nil, false
	}
	c := make(chan string, 1)
	lr.clients[c] = struct{}{}
	return c, true
}

func (lr *liveReload) unsubscribe(c chan string) {
	lr.mu.Lock()
	delete(lr.clients, c)
	lr.mu.Unlock()
}

// close stops the watcher and ends every event stream.
func (lr *liveReload) close() {
	lr.once.Do(func() {
		lr.mu.Lock()
		lr.closed = true
		lr.mu.Unlock()
		close(lr.done)
		lr.watcher.Close()
		lr.wg.Wait()
	})
}

// keepAlive is how often an idle event stream sends a comment, so proxies
// and the idle timeout do not cut it.
const keepAlive = 30 * time.Second

// serveEvents streams server-sent events: "event: reload" on each change,
// or "event: css" when only stylesheets changed.
func (lr *liveReload) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	c, ok := lr.subscribe()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	defer lr.unsubscribe(c)
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// retry: how soon the browser reconnects after the server restarts.
	fmt.Fprint(w, "retry: 500\n: devca live reload\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case event := <-c:
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, event)
		case <-tick.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-r.Context().Done():
			return
		case <-lr.done:
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
