package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/devca/devca/ca"
)

// holdPorts keeps n consecutive loopback ports busy for the test and
// returns the first. The kernel picks the first one, so parallel tests and
// other programs do not collide with it.
func holdPorts(t *testing.T, host string, n int) int {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		lns := []net.Listener{first}
		port := first.Addr().(*net.TCPAddr).Port
		for p := port + 1; p < port+n && p <= 65535; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			t.Cleanup(func() {
				for _, ln := range lns {
					ln.Close()
				}
			})
			return port
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("found no %d consecutive free ports", n)
	return 0
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

func TestListen(t *testing.T) {
	for _, tc := range []struct {
		name     string
		host     string
		hold     int // consecutive ports held busy before Listen; 0 for none
		port     func(held int) int
		fallback int
		// want describes the outcome: the port Listen must get (relative
		// to the held one), or the error.
		wantPort func(held, got int) bool
		wantErr  func(held int) string
		busy     *BusyPortError // the fields to compare, with Port/Last relative to held
	}{
		{name: "ok/kernel port", host: "127.0.0.1", port: func(int) int { return 0 },
			wantPort: func(_, got int) bool { return got != 0 }},
		{name: "ok/localhost kernel port", host: "localhost", port: func(int) int { return 0 },
			wantPort: func(_, got int) bool { return got != 0 }},
		{name: "ok/busy port falls back", host: "127.0.0.1", hold: 1, port: func(h int) int { return h }, fallback: 20,
			wantPort: func(held, got int) bool { return got > held && got <= held+20 }},
		{name: "ok/localhost busy falls back", host: "localhost", hold: 2, port: func(h int) int { return h }, fallback: 20,
			wantPort: func(held, got int) bool { return got > held+1 && got <= held+20 }},
		{name: "fail/busy port without fallback", host: "127.0.0.1", hold: 1, port: func(h int) int { return h },
			wantErr: func(h int) string { return fmt.Sprintf("port %d is busy on 127.0.0.1", h) }, busy: &BusyPortError{Host: "127.0.0.1"}},
		{name: "fail/busy localhost without fallback", host: "localhost", hold: 1, port: func(h int) int { return h },
			wantErr: func(h int) string { return fmt.Sprintf("port %d is busy on localhost", h) }, busy: &BusyPortError{Host: "localhost"}},
		{name: "fail/every fallback busy", host: "127.0.0.1", hold: 3, port: func(h int) int { return h }, fallback: 2,
			wantErr: func(h int) string { return fmt.Sprintf("ports %d to %d are busy", h, h+2) }, busy: &BusyPortError{Host: "127.0.0.1", Last: 2}},
		{name: "fail/not an address", host: "256.0.0.1", port: func(int) int { return 8443 },
			wantErr: func(int) string { return "listening on 256.0.0.1:8443: " }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := 0
			if tc.hold > 0 {
				h := tc.host
				if h == "localhost" {
					h = "127.0.0.1"
				}
				held = holdPorts(t, h, tc.hold)
			}
			lns, err := Listen(tc.host, tc.port(held), tc.fallback)
			if tc.wantErr != nil {
				if err == nil {
					closeAll(lns)
					t.Fatalf("Listen succeeded on port %d, want an error", Port(lns))
				}
				if want := tc.wantErr(held); !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error = %q, want %q", err, want)
				}
				var busy *BusyPortError
				if gotBusy := errors.As(err, &busy); gotBusy != (tc.busy != nil) {
					t.Fatalf("error %v: a *BusyPortError = %v, want %v", err, gotBusy, tc.busy != nil)
				}
				if tc.busy == nil {
					return
				}
				if !errors.Is(err, syscall.EADDRINUSE) {
					t.Errorf("errors.Is(%v, EADDRINUSE) = false", err)
				}
				if busy.Host != tc.busy.Host || busy.Port != held || busy.Last != held+tc.busy.Last {
					t.Errorf("BusyPortError = %+v, want host %q, port %d, last %d", busy, tc.busy.Host, held, held+tc.busy.Last)
				}
				switch {
				case tc.fallback > 0 && busy.Free != 0:
					t.Errorf("Free = %d after trying the fallback ports, want none", busy.Free)
				case tc.fallback == 0 && (busy.Free <= held || busy.Free > held+suggestTries):
					t.Errorf("Free = %d, want a port after %d", busy.Free, held)
				case tc.fallback == 0:
					// The suggestion is a port Listen then gets.
					lns, err := Listen(tc.host, busy.Free, 0)
					if err != nil {
						t.Errorf("the suggested port %d: %v", busy.Free, err)
					}
					closeAll(lns)
				}
				return
			}
			if err != nil {
				t.Fatalf("Listen: %v", err)
			}
			defer closeAll(lns)
			got := Port(lns)
			if !tc.wantPort(held, got) {
				t.Errorf("got port %d (held %d)", got, held)
			}
			for _, ln := range lns {
				if p := ln.Addr().(*net.TCPAddr).Port; p != got {
					t.Errorf("listener %s is not on port %d", ln.Addr(), got)
				}
			}
			if tc.host == "localhost" && lns[0].Addr().(*net.TCPAddr).IP.String() != "127.0.0.1" {
				t.Errorf("first localhost listener is %s, want 127.0.0.1", lns[0].Addr())
			}
		})
	}
}

func TestRedirectHandler(t *testing.T) {
	for i, tc := range []struct {
		host, target, want string
	}{
		{"localhost:8080", "/page?x=1", "https://localhost:8443/page?x=1"},
		{"127.0.0.1:80", "/", "https://127.0.0.1:8443/"},
		{"[::1]:8080", "/a%20b", "https://[::1]:8443/a%20b"},
		{"app.test", "/x", "https://app.test:8443/x"},
		{"", "/x", "https://localhost:8443/x"},
		// A Host that is no host name cannot send the browser elsewhere.
		{"evil.test/@x", "/", "https://localhost:8443/"},
		{`evil.test\x`, "/", "https://localhost:8443/"},
		{"user@evil.test", "/", "https://localhost:8443/"},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		RedirectHandler(8443).ServeHTTP(w, r)
		if w.Code != http.StatusFound || w.Header().Get("Location") != tc.want {
			t.Errorf("Test %d: Host %q %s: %d %q, want 302 %q", i, tc.host, tc.target, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
}

// runServer starts s.Run in the background; the returned function waits
// for its result. The test ends it by cancelling ctx, and a Run that is
// still going when the test ends is an error.
func runServer(t *testing.T, ctx context.Context, s *Server) (wait func() error) {
	t.Helper()
	var err error
	done := make(chan struct{})
	go func() {
		err = s.Run(ctx)
		close(done)
	}()
	wait = func() error {
		select {
		case <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
	t.Cleanup(func() { wait() })
	return wait
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestServerRun serves every kind of listener at once: HTTPS, the redirect
// to it and the root page, each answering on its own port.
func TestServerRun(t *testing.T) {
	auth, leaf, pool := authority(t)
	rootPage, err := RootPage(auth.CertPEM, ca.Fingerprint(auth.Cert))
	if err != nil {
		t.Fatal(err)
	}
	httpsLn, redirectLn, rootLn := listenLoopback(t), listenLoopback(t), listenLoopback(t)
	httpsPort := Port([]net.Listener{httpsLn})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wait := runServer(t, ctx, &Server{
		Handler:          http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "https %s %s", r.Proto, r.URL.Path) }),
		TLSConfig:        TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf, nil }),
		Listeners:        []net.Listener{httpsLn},
		RedirectListener: redirectLn,
		RootPageListener: rootLn,
		RootPage:         rootPage,
	})
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 10 * time.Second,
	}
	defer client.CloseIdleConnections()

	for _, tc := range []struct {
		name, url      string
		status         int
		body, location string
	}{
		{"https", fmt.Sprintf("https://127.0.0.1:%d/hello", httpsPort), 200, "https HTTP/2.0 /hello", ""},
		{"redirect", fmt.Sprintf("http://%s/page?x=1", redirectLn.Addr()), http.StatusFound, "", fmt.Sprintf("https://127.0.0.1:%d/page?x=1", httpsPort)},
		{"root page", fmt.Sprintf("http://%s/", rootLn.Addr()), 200, "Trust the devca root", ""},
		{"root download", fmt.Sprintf("http://%s/devca-root.crt", rootLn.Addr()), 200, string(auth.Cert.Raw), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) || resp.Header.Get("Location") != tc.location {
				t.Errorf("GET %s = %d %q Location %q, want %d %q Location %q", tc.url, resp.StatusCode, b[:min(len(b), 80)], resp.Header.Get("Location"), tc.status, tc.body, tc.location)
			}
		})
	}
	// Following the redirect reaches the HTTPS listener.
	resp, err := (&http.Client{Transport: client.Transport, Timeout: 10 * time.Second}).Get(fmt.Sprintf("http://%s/followed", redirectLn.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "https HTTP/2.0 /followed" {
		t.Errorf("after the redirect: %q", b)
	}

	client.CloseIdleConnections()
	cancel()
	if err := wait(); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	for _, ln := range []net.Listener{httpsLn, redirectLn, rootLn} {
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Run returned", ln.Addr())
		}
	}
}

// TestServerRunShutdown: when the context ends, a request in flight
// finishes (within the grace period) or is cut (after it), and Run
// returns nil either way.
func TestServerRunShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		grace    time.Duration
		finishes bool // the handler returns on its own once shutdown began
	}{
		{"ok/in-flight request completes", 10 * time.Second, true},
		{"ok/request past the grace is cut", 50 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, leaf, pool := authority(t)
			arrived := make(chan struct{})
			shuttingDown := make(chan struct{})
			handlerDone := make(chan struct{})
			ln := listenLoopback(t)
			addr := ln.Addr().String()
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(handlerDone)
				close(arrived)
				w.Write([]byte("started "))
				http.NewResponseController(w).Flush()
				if tc.finishes {
					// Finish only once the server has stopped accepting:
					// the shutdown is under way and waits for this request.
					<-shuttingDown
					for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
						c, err := net.Dial("tcp", addr)
						if err != nil {
							break
						}
						c.Close()
					}
				} else {
					<-r.Context().Done() // only a cut connection ends it
				}
				w.Write([]byte("finished"))
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var onShutdown atomic.Int32
			wait := runServer(t, ctx, &Server{
				Handler:       h,
				TLSConfig:     TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf, nil }),
				Listeners:     []net.Listener{ln},
				ShutdownGrace: tc.grace,
				OnShutdown: func() {
					onShutdown.Add(1)
					close(shuttingDown)
				},
			})
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 20 * time.Second}
			defer client.CloseIdleConnections()
			type result struct {
				body string
				err  error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := client.Get(fmt.Sprintf("https://localhost:%d/", Port([]net.Listener{ln})))
				if err != nil {
					got <- result{err: err}
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- result{string(b), err}
			}()
			<-arrived
			start := time.Now()
			cancel()
			if err := wait(); err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
			if n := onShutdown.Load(); n != 1 {
				t.Errorf("OnShutdown called %d times, want 1", n)
			}
			r := <-got
			<-handlerDone
			switch {
			case tc.finishes && (r.err != nil || r.body != "started finished"):
				t.Errorf("in-flight request: %q, %v; want it to complete", r.body, r.err)
			case !tc.finishes && r.err == nil:
				t.Errorf("a request past the grace period completed: %q", r.body)
			case !tc.finishes && time.Since(start) > 5*time.Second:
				t.Errorf("Run took %v with a %v grace", time.Since(start), tc.grace)
			}
		})
	}
}

// failingListener accepts nothing: Accept fails with err.
type failingListener struct {
	net.Listener
	err error
}

func (l *failingListener) Accept() (net.Conn, error) { return nil, l.err }

// TestServerRunErrors: a listener that fails ends Run with its error and
// shuts the other listeners down; a Server with nothing to serve says so.
func TestServerRunErrors(t *testing.T) {
	boom := errors.New("accept: boom")
	_, leaf, _ := authority(t)
	tlsConf := TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf, nil })
	for _, tc := range []struct {
		name    string
		server  func(good net.Listener) *Server
		want    error
		wantMsg string
	}{
		{"fail/https listener", func(good net.Listener) *Server {
			return &Server{Handler: http.NotFoundHandler(), TLSConfig: tlsConf,
				Listeners: []net.Listener{good, &failingListener{Listener: listenLoopback(t), err: boom}}}
		}, boom, ""},
		{"fail/redirect listener", func(good net.Listener) *Server {
			return &Server{Handler: http.NotFoundHandler(), TLSConfig: tlsConf, Listeners: []net.Listener{good},
				RedirectListener: &failingListener{Listener: listenLoopback(t), err: boom}}
		}, boom, ""},
		{"fail/root page listener", func(good net.Listener) *Server {
			return &Server{Handler: http.NotFoundHandler(), TLSConfig: tlsConf, Listeners: []net.Listener{good},
				RootPageListener: &failingListener{Listener: listenLoopback(t), err: boom}, RootPage: http.NotFoundHandler()}
		}, boom, ""},
		{"fail/no https listener", func(good net.Listener) *Server {
			return &Server{Handler: http.NotFoundHandler(), TLSConfig: tlsConf, RedirectListener: good}
		}, nil, "serve: no HTTPS listener"},
		{"fail/root page listener without a page", func(good net.Listener) *Server {
			return &Server{Handler: http.NotFoundHandler(), TLSConfig: tlsConf, Listeners: []net.Listener{listenLoopback(t)}, RootPageListener: good}
		}, nil, "serve: a root page listener without a root page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := listenLoopback(t)
			var onShutdown atomic.Int32
			s := tc.server(good)
			s.OnShutdown = func() { onShutdown.Add(1) }
			errc := make(chan error, 1)
			go func() { errc <- s.Run(context.Background()) }()
			var err error
			select {
			case err = <-errc:
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return after a listener failed")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Run = %v, want %v", err, tc.want)
			}
			if tc.wantMsg != "" && (err == nil || err.Error() != tc.wantMsg) {
				t.Errorf("Run = %v, want %q", err, tc.wantMsg)
			}
			if n := onShutdown.Load(); n != 0 {
				t.Errorf("OnShutdown called %d times for a failure, want 0 (it is for the context ending)", n)
			}
			if c, err := net.DialTimeout("tcp", good.Addr().String(), 5*time.Second); err == nil {
				c.Close()
				t.Errorf("the working listener %s still accepts after Run returned", good.Addr())
			}
		})
	}
}

func TestLANAddresses(t *testing.T) {
	ipnet := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	for i, tc := range []struct {
		addrs []net.Addr
		err   error
		want  string
	}{
		{nil, nil, ""},
		{nil, errors.New("no interfaces"), ""},
		{[]net.Addr{ipnet("127.0.0.1/8"), ipnet("::1/128")}, nil, ""},
		{[]net.Addr{ipnet("192.168.1.20/24"), ipnet("10.0.0.5/8"), ipnet("172.16.3.4/12"), ipnet("fd00::5/64")}, nil,
			"192.168.1.20 10.0.0.5 172.16.3.4 fd00::5"},
		// Link-local and public addresses are not on the LAN for a phone;
		// addresses that are not IPNets are skipped.
		{[]net.Addr{ipnet("169.254.1.1/16"), ipnet("fe80::1/64"), ipnet("8.8.8.8/32"), ipnet("2001:db8::1/64"),
			&net.TCPAddr{IP: net.ParseIP("192.168.1.9")}, ipnet("192.168.1.21/24")}, nil, "192.168.1.21"},
	} {
		got := LANAddresses(func() ([]net.Addr, error) { return tc.addrs, tc.err })
		var s []string
		for _, ip := range got {
			s = append(s, ip.String())
		}
		if strings.Join(s, " ") != tc.want {
			t.Errorf("Test %d: %q, want %q", i, strings.Join(s, " "), tc.want)
		}
	}
}

// TestCheckProxyListeners checks the start-up loop check against real
// listeners; TestCheckUpstream covers the address rules.
func TestCheckProxyListeners(t *testing.T) {
	ln := listenLoopback(t)
	defer ln.Close()
	port := Port([]net.Listener{ln})
	all, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	allPort := Port([]net.Listener{all})
	lanOnly := func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.ParseIP("192.168.77.5"), Mask: net.CIDRMask(24, 32)}}, nil
	}
	for i, tc := range []struct {
		upstream string
		lns      []net.Listener
		loop     bool
	}{
		{fmt.Sprintf("http://127.0.0.1:%d/", port), []net.Listener{ln}, true},
		{fmt.Sprintf("http://localhost:%d/", port), []net.Listener{nil, ln}, true},
		{fmt.Sprintf("http://127.0.0.1:%d/", port+1), []net.Listener{ln}, false},
		{fmt.Sprintf("http://127.0.0.1:%d/", port), nil, false},
		// On all interfaces, this machine's LAN address is devca too.
		{fmt.Sprintf("http://192.168.77.5:%d/", allPort), []net.Listener{all}, true},
		{fmt.Sprintf("http://192.168.77.6:%d/", allPort), []net.Listener{all}, false},
	} {
		u, err := url.Parse(tc.upstream)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckProxyListeners(context.Background(), u, tc.lns, lanOnly)
		if got := errors.Is(err, ErrProxyLoop); got != tc.loop {
			t.Errorf("Test %d: %s: %v, want a loop: %v", i, tc.upstream, err, tc.loop)
		}
	}
}
