package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server limits, named so that the README can quote them.
const (
	// ReadHeaderTimeout bounds how long a client may take to send headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes keep-alive connections that stay unused.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds the size of request headers.
	MaxHeaderBytes = 64 << 10
	// ShutdownGrace is how long a graceful shutdown lets requests finish.
	ShutdownGrace = 5 * time.Second
)

// NewServer returns an http.Server for h with devca's timeouts and header
// limits. There is no write timeout, so large files and event streams are
// not cut; idle and header timeouts still free stuck connections. When h is
// a Handler, Shutdown ends its live-reload streams at once; close h after
// Shutdown returns.
func NewServer(h http.Handler, tlsConfig *tls.Config, errorLog io.Writer) *http.Server {
	if errorLog == nil {
		errorLog = io.Discard
	}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          log.New(&tlsNoiseFilter{w: errorLog}, "", 0),
	}
	if hh, ok := h.(*Handler); ok && hh.live != nil {
		// Event streams never end on their own; Shutdown would wait for
		// them until its deadline. Files stay open until Close, so requests
		// in flight finish.
		srv.RegisterOnShutdown(hh.live.close)
	}
	return srv
}

// tlsNoiseFilter drops "TLS handshake error" lines: browsers open and drop
// speculative connections all the time, and a client that does not trust
// the root yet fails every handshake, which the startup message covers.
type tlsNoiseFilter struct{ w io.Writer }

func (f *tlsNoiseFilter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "TLS handshake error") {
		return len(p), nil
	}
	return f.w.Write(p)
}

// Server runs devca's listeners until a context ends: the HTTPS listeners,
// and optionally a plain-HTTP listener that redirects to them and one that
// offers the root to phones. The caller opens the listeners (see [Listen])
// so that it can print the real addresses before Run starts.
type Server struct {
	// Handler answers the HTTPS requests on Listeners.
	Handler http.Handler
	// TLSConfig holds the certificate; see [TLSConfig].
	TLSConfig *tls.Config
	// Listeners are the HTTPS listeners; they share one port.
	Listeners []net.Listener
	// RedirectListener, when set, serves plain HTTP that redirects every
	// request to the same host and path over HTTPS on the port of
	// Listeners ([RedirectHandler]).
	RedirectListener net.Listener
	// RootPageListener, when set, serves RootPage over plain HTTP.
	RootPageListener net.Listener
	RootPage         http.Handler
	// ErrorLog receives the servers' own complaints (TLS handshake noise
	// is dropped); nil discards them.
	ErrorLog io.Writer
	// ShutdownGrace bounds how long requests in flight may take to finish
	// once the context ends; 0 means the package's [ShutdownGrace].
	ShutdownGrace time.Duration
	// OnShutdown, when set, is called once when the context ends, before
	// the graceful shutdown starts (to say so, or to restore the default
	// handling of a second Ctrl-C).
	OnShutdown func()
}

// Run serves every listener until ctx ends or one of them fails, then
// shuts all of them down gracefully: new connections are refused, and
// requests in flight get ShutdownGrace to finish before they are cut. It
// returns nil after ctx ended, or the first error a listener met. The
// listeners are closed when Run returns.
func (s *Server) Run(ctx context.Context) error {
	if len(s.Listeners) == 0 {
		s.closeListeners()
		return errors.New("serve: no HTTPS listener")
	}
	if s.RootPageListener != nil && s.RootPage == nil {
		s.closeListeners()
		return errors.New("serve: a root page listener without a root page")
	}
	httpsSrv := NewServer(s.Handler, s.TLSConfig, s.ErrorLog)
	servers := []*http.Server{httpsSrv}
	var serves []func() error
	for _, ln := range s.Listeners {
		serves = append(serves, func() error { return httpsSrv.ServeTLS(ln, "", "") })
	}
	plain := func(ln net.Listener, h http.Handler) {
		srv := NewServer(h, nil, s.ErrorLog)
		servers = append(servers, srv)
		serves = append(serves, func() error { return srv.Serve(ln) })
	}
	if s.RedirectListener != nil {
		plain(s.RedirectListener, RedirectHandler(Port(s.Listeners)))
	}
	if s.RootPageListener != nil {
		plain(s.RootPageListener, s.RootPage)
	}

	errc := make(chan error, len(serves))
	for _, serve := range serves {
		go func() { errc <- serve() }()
	}
	running := len(serves)
	var first error
	keep := func(err error) {
		if first == nil && err != nil && !errors.Is(err, http.ErrServerClosed) {
			first = err
		}
	}
	select {
	case <-ctx.Done():
		if s.OnShutdown != nil {
			s.OnShutdown()
		}
	case err := <-errc:
		running--
		keep(err)
	}
	grace := s.ShutdownGrace
	if grace <= 0 {
		grace = ShutdownGrace
	}
	shutdown(servers, grace)
	for ; running > 0; running-- {
		keep(<-errc)
	}
	return first
}

func (s *Server) closeListeners() {
	for _, ln := range append(s.Listeners[:len(s.Listeners):len(s.Listeners)], s.RedirectListener, s.RootPageListener) {
		if ln != nil {
			ln.Close()
		}
	}
}

// shutdown stops every server at once, letting requests in flight finish
// within grace before cutting them. The context of Run has ended by then,
// so the deadline starts from a fresh one.
func shutdown(servers []*http.Server, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			if err := s.Shutdown(ctx); err != nil {
				s.Close()
			}
		})
	}
	wg.Wait()
}

// RedirectHandler answers every request with a redirect (302 Found, so
// that browsers do not remember it past the development session) to the
// same host, path and query over HTTPS on httpsPort. A Host header that is
// missing or could not be a host name redirects to localhost, so the
// redirect never leads to another site.
func RedirectHandler(httpsPort int) http.Handler {
	port := strconv.Itoa(httpsPort)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, "/\\@") {
			host = "localhost"
		}
		target := "https://" + net.JoinHostPort(strings.Trim(host, "[]"), port) + r.URL.RequestURI()
		http.Redirect(w, r, target, http.StatusFound)
	})
}
