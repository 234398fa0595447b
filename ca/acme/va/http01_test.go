package va

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// challengeHandler answers http-01 by the request's host name: each
// host.test behaves as its name says.
func challengeHandler(httpPort, tlsPort, otherPort int) http.Handler {
	path := "/.well-known/acme-challenge/" + testToken
	at := func(scheme, host string, port int) string {
		return fmt.Sprintf("%s://%s:%d%s", scheme, host, port, path)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		switch host {
		case "ok.test", "fallback.test", "127.0.0.1", "::1":
			fmt.Fprint(w, testKeyAuth)
		case "trailing.test":
			fmt.Fprint(w, testKeyAuth+" \r\n\t\n")
		case "leading.test":
			fmt.Fprint(w, " "+testKeyAuth)
		case "wrong.test":
			fmt.Fprint(w, "nope")
		case "huge.test":
			fmt.Fprint(w, testKeyAuth+strings.Repeat(" ", 200<<10))
		case "redirect.test":
			http.Redirect(w, r, at("http", "ok.test", httpPort), http.StatusFound)
		case "redirect-not-tls.test": // to the plain server's port, configured as the TLS port
			http.Redirect(w, r, at("https", "ok.test", httpPort), http.StatusFound)
		case "redirect-https.test":
			http.Redirect(w, r, at("https", "ok.test", tlsPort), http.StatusMovedPermanently)
		case "redirect-port.test":
			http.Redirect(w, r, at("http", "ok.test", otherPort), http.StatusFound)
		case "redirect-scheme.test":
			http.Redirect(w, r, "ftp://ok.test"+path, http.StatusFound)
		case "redirect-host.test":
			w.Header().Set("Location", "http://bad_host!:"+strconv.Itoa(httpPort)+path)
			w.WriteHeader(http.StatusFound)
		case "redirect-user.test":
			http.Redirect(w, r, "http://user:password@ok.test:"+strconv.Itoa(httpPort)+path, http.StatusFound)
		case "redirect-loop.test":
			http.Redirect(w, r, at("http", "redirect-loop.test", httpPort), http.StatusFound)
		case "error.test":
			http.Error(w, "the challenge store is down", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	})
}

func TestHTTP01(t *testing.T) {
	hangPort := hangListener(t)
	refusedPort := closedPort(t)

	// The plain server and the https one that redirects go to share a
	// handler that needs both ports, known once the listeners exist.
	srv := httptest.NewUnstartedServer(nil)
	tlsSrv := httptest.NewUnstartedServer(nil)
	httpPort := srv.Listener.Addr().(*net.TCPAddr).Port
	tlsPort := tlsSrv.Listener.Addr().(*net.TCPAddr).Port
	srv.Config.Handler = challengeHandler(httpPort, tlsPort, hangPort)
	tlsSrv.Config.Handler = srv.Config.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	names := map[string][]string{"fallback.test": {"127.0.0.2", "127.0.0.1"}}
	for _, n := range []string{"ok", "trailing", "leading", "wrong", "huge", "missing", "error", "redirect", "redirect-https", "redirect-port", "redirect-scheme", "redirect-host", "redirect-user", "redirect-not-tls", "redirect-loop", "hang", "refused"} {
		names[n+".test"] = []string{"127.0.0.1"}
	}
	urlFor := func(host string, port int) string {
		return fmt.Sprintf("http://%s:%d/.well-known/acme-challenge/%s", host, port, testToken)
	}
	self := "127.0.0.1:" + strconv.Itoa(httpPort)

	for _, tc := range []struct {
		name       string
		id         string
		port       int // HTTPPort when not the server's
		tlsPort    int // TLSPort when not the https server's
		wantType   string
		wantDetail []string
		wantURL    string
	}{
		{name: "ok/body", id: "ok.test"},
		{name: "ok/trailing whitespace", id: "trailing.test"},
		{name: "ok/IPv4 address", id: "127.0.0.1"},
		{name: "ok/second address after a refused one", id: "fallback.test"},
		{name: "ok/redirect to the configured port", id: "redirect.test"},
		{name: "ok/redirect to https on the configured TLS port", id: "redirect-https.test"},
		{
			name: "fail/leading whitespace", id: "leading.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{`the body is " ` + testKeyAuth + `"`},
		},
		{
			name: "fail/wrong body", id: "wrong.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{"fetching " + urlFor("wrong.test", httpPort), "from " + self, `the body is "nope", want the key authorization "` + testKeyAuth + `"`},
			wantURL:    urlFor("wrong.test", httpPort),
		},
		{
			name: "fail/404", id: "missing.test", wantType: TypeUnauthorized,
			wantDetail: []string{"status 404 Not Found (want 200 OK)", `body "404 page not found\n"`},
		},
		{
			name: "fail/500 with a body", id: "error.test", wantType: TypeUnauthorized,
			wantDetail: []string{"status 500 Internal Server Error", "the challenge store is down"},
		},
		{
			name: "fail/huge body", id: "huge.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{"the body is larger than 128 KiB", `it starts "` + testKeyAuth + "   "},
		},
		{
			name: "fail/redirect to another port", id: "redirect-port.test", wantType: TypeConnection,
			wantDetail: []string{"fetching " + urlFor("redirect-port.test", httpPort) + " from " + self + ": refusing to follow the redirect to " + urlFor("ok.test", hangPort), fmt.Sprintf("http redirects may only go to port 80 or %d", httpPort)},
			wantURL:    urlFor("redirect-port.test", httpPort),
		},
		{
			name: "fail/redirect to ftp", id: "redirect-scheme.test", wantType: TypeConnection,
			wantDetail: []string{"the scheme is not http or https"},
		},
		{
			name: "fail/redirect to a bad host", id: "redirect-host.test", wantType: TypeConnection,
			wantDetail: []string{`refusing to follow the redirect to http://bad_host!:`, "the host is not a DNS name or an IP address"},
		},
		{
			name: "fail/redirect with user information", id: "redirect-user.test", wantType: TypeConnection,
			wantDetail: []string{"the URL has user information"},
		},
		{
			name: "fail/redirect to https on a plain HTTP port", id: "redirect-not-tls.test", tlsPort: httpPort, wantType: TypeTLS,
			wantDetail: []string{"fetching " + strings.Replace(urlFor("ok.test", httpPort), "http:", "https:", 1) + " (after 1 redirects from ", "from " + self + ": TLS handshake: "},
		},
		{
			name: "fail/redirect loop", id: "redirect-loop.test", wantType: TypeConnection,
			wantDetail: []string{"(after 10 redirects from " + urlFor("redirect-loop.test", httpPort), "stopped after 10 redirects"},
		},
		{
			name: "fail/timeout", id: "hang.test", port: hangPort, wantType: TypeConnection,
			wantDetail: []string{"from 127.0.0.1:" + strconv.Itoa(hangPort) + ": no complete response: timed out after 2"},
		},
		{
			name: "fail/connection refused", id: "refused.test", port: refusedPort, wantType: TypeConnection,
			wantDetail: []string{fmt.Sprintf("connecting to refused.test port %d: 127.0.0.1:%d: connect: connection refused", refusedPort, refusedPort)},
		},
		{
			name: "fail/unknown name", id: "unknown.test", wantType: TypeDNS,
			wantDetail: []string{"resolving unknown.test through Config.LookupNetIP: no such host"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := httpPort
			if tc.port != 0 {
				port = tc.port
			}
			tp := tlsPort
			if tc.tlsPort != 0 {
				tp = tc.tlsPort
			}
			a := newAuthority(t, Config{HTTPPort: port, TLSPort: tp, Timeout: 2 * time.Second, LookupNetIP: lookupMap(names)})
			e := checkResult(t, a.Validate(context.Background(), HTTP01, tc.id, testToken, testKeyAuth), tc.wantType, tc.wantDetail...)
			if e != nil && tc.wantURL != "" && e.URL != tc.wantURL {
				t.Errorf("URL %q, want %q", e.URL, tc.wantURL)
			}
		})
	}
}

// TestHTTP01IPv6 validates an IPv6 address, which the URL brackets.
func TestHTTP01IPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("skipping: no IPv6 loopback: %v", err)
	}
	hosts := make(chan string, 1)
	srv := &httptest.Server{
		Listener: ln,
		Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hosts <- r.Host
			challengeHandler(0, 0, 0).ServeHTTP(w, r)
		})},
	}
	srv.Start()
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	a := newAuthority(t, Config{HTTPPort: port})
	checkResult(t, a.Validate(context.Background(), HTTP01, "::1", testToken, testKeyAuth), "")
	if seen, want := <-hosts, "[::1]:"+strconv.Itoa(port); seen != want {
		t.Errorf("Host header %q, want %q", seen, want)
	}
}

// TestHTTP01DefaultPort checks the URL on port 80: without a port, so the
// Host header is the bare name.
func TestHTTP01DefaultPort(t *testing.T) {
	a := newAuthority(t, Config{LookupNetIP: lookupMap(nil)})
	e := checkResult(t, a.Validate(context.Background(), HTTP01, "example.test", testToken, testKeyAuth), TypeDNS)
	if want := "http://example.test/.well-known/acme-challenge/" + testToken; e.URL != want {
		t.Errorf("URL %q, want %q", e.URL, want)
	}
	if _, err := url.Parse(e.URL); err != nil {
		t.Error(err)
	}
}
