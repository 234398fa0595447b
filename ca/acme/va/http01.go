package va

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unicode"
)

const (
	// maxBody bounds how much of an http-01 response is read. A key
	// authorization is under 100 bytes; Boulder reads at most 128 KiB too.
	maxBody = 128 << 10
	// maxHeader bounds the response header of an http-01 response.
	maxHeader = 64 << 10
	// maxRedirects is how many redirects http-01 follows, as Boulder does.
	maxRedirects = 10
	// userAgent names the validation in the responder's logs.
	userAgent = "devca-acme-va (+https://github.com/devca/devca)"
)

// http01 is one http-01 validation in progress: what it fetched and where
// it connected, for the detail of an error. Redirects and dials update it
// from the client's goroutines.
type http01 struct {
	a     *Authority
	start time.Time
	first *url.URL

	mu      sync.Mutex
	current *url.URL // the URL being fetched
	hops    int      // redirects followed
	addr    string   // the address of the last connection
	// phaseType and phase say what the dialer is doing (see
	// Authority.dial); both are empty when it is not dialing.
	phaseType, phase string
}

// validateHTTP01 fetches the challenge URL and compares the body with
// keyAuth (RFC 8555 §8.3).
func (a *Authority) validateHTTP01(ctx context.Context, id identifier, token, keyAuth string) error {
	first := &url.URL{
		Scheme: "http",
		Host:   urlHost(id.host(), a.httpPort, 80),
		Path:   "/.well-known/acme-challenge/" + token,
	}
	v := &http01{a: a, start: time.Now(), first: first, current: first}
	transport := &http.Transport{
		Proxy:                  nil, // never through the proxy of the environment
		DialContext:            v.dial,
		DialTLSContext:         v.dialTLS,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxHeader,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, CheckRedirect: v.checkRedirect}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, first.String(), nil)
	if err != nil {
		return &Error{Type: TypeMalformed, Detail: fmt.Sprintf("building the request for %s: %v", first, err), URL: first.String(), Err: err}
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	resp, err := client.Do(req)
	if err != nil {
		return v.failed(ctx, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxQuoted+1))
		return v.errorf(TypeUnauthorized, nil, "status %s (want 200 OK), body %s", resp.Status, quoteHead(head))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		cause, _ := stopped(ctx, v.start, err)
		return v.errorf(TypeConnection, cause, "reading the body")
	}
	if len(body) > maxBody {
		return v.errorf(TypeIncorrectResponse, nil, "the body is larger than %d KiB (want the key authorization %q), it starts %s", maxBody>>10, keyAuth, quoteHead(body))
	}
	// RFC 8555 §8.3: "The server SHOULD ignore whitespace characters at
	// the end of the body."
	got := bytes.TrimRightFunc(body, unicode.IsSpace)
	if subtle.ConstantTimeCompare(got, []byte(keyAuth)) != 1 {
		return v.errorf(TypeIncorrectResponse, nil, "the body is %s, want the key authorization %q", quote(got), keyAuth)
	}
	return nil
}

// urlHost is host as a URL authority: bracketed when it is an IPv6
// address, with port unless it is the scheme's default.
func urlHost(host string, port, defaultPort int) string {
	if port == defaultPort {
		if addr, err := netip.ParseAddr(host); err == nil && addr.Is6() {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// dial is the transport's dialer: it connects through Authority.dial and
// remembers the address.
func (v *http01) dial(ctx context.Context, _, hostport string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("splitting %q: %w", hostport, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("port of %q: %w", hostport, err)
	}
	conn, err := v.a.dial(ctx, v.start, host, port, func(typ, doing string) {
		v.mu.Lock()
		v.phaseType, v.phase = typ, doing
		v.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.addr = conn.RemoteAddr().String()
	v.mu.Unlock()
	return conn, nil
}

// dialTLS is the transport's dialer for https, after a redirect: it
// connects with dial and shakes hands itself, so that a failed handshake
// is an *Error of type tls (http.Transport reports some of them in its
// own words, such as "server gave HTTP response to HTTPS client").
func (v *http01) dialTLS(ctx context.Context, network, hostport string) (net.Conn, error) {
	conn, err := v.dial(ctx, network, hostport)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(hostport) // dial checked it
	tc := tls.Client(conn, &tls.Config{
		ServerName: host,
		NextProtos: []string{"http/1.1"},
		// The certificate is not checked, as Boulder does not: the site
		// may not have a trusted certificate yet (it is asking for one),
		// and what proves control is the body, not the connection.
		InsecureSkipVerify: true,
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		if _, ok := stopped(ctx, v.start, err); ok {
			return nil, err // failed says it timed out
		}
		return nil, &Error{Type: TypeTLS, Detail: "TLS handshake: " + err.Error(), Addr: conn.RemoteAddr().String(), Err: err}
	}
	return tc, nil
}

// checkRedirect follows a redirect only to http on port 80 or the
// configured HTTP port, or to https on port 443 or the configured TLS
// port, at a DNS name or an IP address, at most maxRedirects times. RFC
// 8555 §8.3 says to follow redirects; the limits are Boulder's, with the
// configured ports added for development setups.
func (v *http01) checkRedirect(req *http.Request, via []*http.Request) error {
	u := req.URL
	refuse := func(format string, args ...any) error {
		return &Error{Type: TypeConnection, Detail: fmt.Sprintf("refusing to follow the redirect to %s: ", u.Redacted()) + fmt.Sprintf(format, args...)}
	}
	if len(via) > maxRedirects {
		return refuse("stopped after %d redirects", maxRedirects)
	}
	var allowed []int
	switch u.Scheme {
	case "http":
		allowed = []int{80, v.a.httpPort}
	case "https":
		allowed = []int{443, v.a.tlsPort}
	default:
		return refuse("the scheme is not http or https")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || (n != allowed[0] && n != allowed[1]) {
			return refuse("%s redirects may only go to port %s", u.Scheme, portList(allowed))
		}
	}
	if u.User != nil {
		return refuse("the URL has user information")
	}
	if _, err := parseIdentifier(HTTP01, u.Hostname()); err != nil {
		return refuse("the host is not a DNS name or an IP address")
	}
	v.mu.Lock()
	v.current, v.hops, v.addr = u, len(via), ""
	v.mu.Unlock()
	return nil
}

// portList lists the distinct ports of ps as "80" or "80 or 5002".
func portList(ps []int) string {
	if ps[0] == ps[1] {
		return strconv.Itoa(ps[0])
	}
	return fmt.Sprintf("%d or %d", ps[0], ps[1])
}

// where says what was fetched from where, for an error's detail.
func (v *http01) where() (current *url.URL, addr, s string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s = "fetching " + v.current.String()
	if v.hops > 0 {
		s += fmt.Sprintf(" (after %d redirects from %s)", v.hops, v.first)
	}
	if v.addr != "" {
		s += " from " + v.addr
	}
	return v.current, v.addr, s
}

// errorf returns an *Error whose detail starts with where, then format.
func (v *http01) errorf(typ string, cause error, format string, args ...any) *Error {
	current, addr, where := v.where()
	e := newError(typ, cause, where+": "+format, args...)
	e.URL, e.Addr = current.String(), addr
	return e
}

// failed turns an error of http.Client.Do into an *Error.
func (v *http01) failed(ctx context.Context, err error) *Error {
	var e *Error
	if errors.As(err, &e) { // a dial or redirect failure, already described
		current, addr, where := v.where()
		if addr == "" {
			addr = e.Addr
		}
		return &Error{Type: e.Type, Detail: where + ": " + e.Detail, URL: current.String(), Addr: addr, Err: e.Err}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its text repeats the method and URL
	}
	if cause, ok := stopped(ctx, v.start, err); ok {
		v.mu.Lock()
		typ, doing := v.phaseType, v.phase
		v.mu.Unlock()
		if doing != "" { // the client gave up before the dialer did
			return v.errorf(typ, cause, "%s", doing)
		}
		return v.errorf(TypeConnection, cause, "no complete response")
	}
	return v.errorf(TypeConnection, err, "no response")
}
