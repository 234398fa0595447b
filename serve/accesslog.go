package serve

import (
	"io"
	"sync"
	"time"
)

// Access-log batching. A write system call per line is most of what the
// access log costs; under load devca writes lines in batches instead,
// while a developer clicking through a site (or a test) still sees each
// line at once: the first logBurst lines of every logWindow are written
// as they come, later ones wait at most logWindow, and order is kept.
const (
	logWindow = 20 * time.Millisecond
	logBurst  = 16
	// maxLogBatch flushes a batch early, so a burst of long request
	// lines does not grow the buffer without bound.
	maxLogBatch = 32 << 10
)

type accessLog struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	window  time.Time // start of the current window
	lines   int       // lines in the current window
	pending bool      // a flush is scheduled
}

// write logs one line, whole, now or within logWindow.
func (l *accessLog) write(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.window) >= logWindow {
		l.window, l.lines = now, 0
	}
	l.lines++
	if l.lines <= logBurst && len(l.buf) == 0 {
		l.w.Write(line)
		return
	}
	l.buf = append(l.buf, line...)
	if len(l.buf) >= maxLogBatch {
		l.flushLocked()
		return
	}
	if !l.pending {
		l.pending = true
		time.AfterFunc(logWindow, l.flush)
	}
}

// flush writes the lines waiting, if any.
func (l *accessLog) flush() {
	l.mu.Lock()
	l.pending = false
	l.flushLocked()
	l.mu.Unlock()
}

func (l *accessLog) flushLocked() {
	if len(l.buf) == 0 {
		return
	}
	l.w.Write(l.buf)
	if cap(l.buf) > maxLogBatch*2 {
		l.buf = nil
		return
	}
	l.buf = l.buf[:0]
}
