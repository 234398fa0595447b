package serve

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
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

	mu       sync.Mutex
	clients  map[chan string]struct{}
	perAddr  map[string]int // open streams by remote address
	lastWarn time.Time      // when a refused stream was last logged
	closed   bool
	done     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

// skipWatch names folders that are never watched: they are large, change
// without the page changing, or both.
var skipWatch = map[string]bool{"node_modules": true}

func newLiveReload(dir string, dotfiles bool, logger *log.Logger) (*liveReload, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("starting live reload: %w", err)
	}
	lr := &liveReload{watcher: w, dotfiles: dotfiles, log: logger, clients: map[chan string]struct{}{}, perAddr: map[string]int{}, done: make(chan struct{})}
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

// Event-stream limits, named so that the README can quote them. Each open
// page holds one stream for as long as it is open; the limits keep a flood
// of streams from holding memory and goroutines without end.
const (
	// MaxEventStreams bounds the live-reload event streams open at once.
	MaxEventStreams = 256
	// MaxEventStreamsPerAddr bounds those from one remote address, so
	// that one client cannot take them all.
	MaxEventStreamsPerAddr = 64
)

// subscribe registers a page from addr. It fails with the status to
// answer: 503 when closed or full, 429 when addr has its share.
func (lr *liveReload) subscribe(addr string) (chan string, int) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	switch {
	case lr.closed:
		return nil, http.StatusServiceUnavailable
	case len(lr.clients) >= MaxEventStreams:
		lr.warnLocked("refusing a live-reload stream from %s: %d streams are open, the most devca keeps", addr, MaxEventStreams)
		return nil, http.StatusServiceUnavailable
	case lr.perAddr[addr] >= MaxEventStreamsPerAddr:
		lr.warnLocked("refusing a live-reload stream from %s: it has %d open, the most devca keeps per address", addr, MaxEventStreamsPerAddr)
		return nil, http.StatusTooManyRequests
	}
	c := make(chan string, 1)
	lr.clients[c] = struct{}{}
	lr.perAddr[addr]++
	return c, 0
}

// warnLocked logs a refused stream, at most once every ten seconds: a flood
// would otherwise flood the log too.
func (lr *liveReload) warnLocked(format string, args ...any) {
	if now := time.Now(); now.Sub(lr.lastWarn) >= 10*time.Second {
		lr.lastWarn = now
		lr.log.Printf(format, args...)
	}
}

func (lr *liveReload) unsubscribe(c chan string, addr string) {
	lr.mu.Lock()
	delete(lr.clients, c)
	if lr.perAddr[addr]--; lr.perAddr[addr] <= 0 {
		delete(lr.perAddr, addr)
	}
	lr.mu.Unlock()
}

// streams returns how many event streams are open, for tests.
func (lr *liveReload) streams() (total, addrs int) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return len(lr.clients), len(lr.perAddr)
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
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	c, status := lr.subscribe(addr)
	if status != 0 {
		// EventSource gives up on an error status rather than retrying in a
		// loop; reloading the page after closing others tries again.
		w.Header().Set("Retry-After", "10")
		http.Error(w, "devca: too many live-reload streams are open; close some pages and reload", status)
		return
	}
	defer lr.unsubscribe(c, addr)
	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// retry: how soon the browser reconnects after the server restarts.
	if !sendEvent(rc, w, "retry: 500\n: devca live reload\n\n") {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		var msg string
		select {
		case event := <-c:
			msg = "event: " + event + "\ndata: " + event + "\n\n"
		case <-tick.C:
			msg = ": ping\n\n"
		case <-r.Context().Done():
			return
		case <-lr.done:
			return
		}
		if !sendEvent(rc, w, msg) {
			return
		}
	}
}

// sendTimeout bounds one write to an event stream. A client that vanished
// without closing its connection (a laptop closed, a network gone) is
// found at the next keep-alive, instead of holding its stream while TCP
// retries for many minutes.
const sendTimeout = 10 * time.Second

// sendEvent writes msg and flushes it within sendTimeout, reporting whether
// the stream is still alive. The deadline is lifted after the write: on
// HTTP/2 a deadline that passes resets the stream even when idle.
func sendEvent(rc *http.ResponseController, w io.Writer, msg string) bool {
	rc.SetWriteDeadline(time.Now().Add(sendTimeout))
	if _, err := io.WriteString(w, msg); err != nil {
		return false
	}
	if err := rc.Flush(); err != nil {
		return false
	}
	rc.SetWriteDeadline(time.Time{})
	return true
}
