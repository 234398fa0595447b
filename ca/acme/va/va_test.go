package va

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// The server core's interface, which *Authority must keep satisfying.
var _ interface {
	Validate(ctx context.Context, kind, identifier, token, keyAuthorization string) error
} = (*Authority)(nil)

// A token and key authorization shaped like real ones (RFC 8555 §8.1).
const (
	testToken   = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	testKeyAuth = testToken + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
)

// lookupMap resolves the names of m, and no other, to their addresses.
func lookupMap(m map[string][]string) func(context.Context, string, string) ([]netip.Addr, error) {
	return func(_ context.Context, _, host string) ([]netip.Addr, error) {
		ss, ok := m[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var addrs []netip.Addr
		for _, s := range ss {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		return addrs, nil
	}
}

// newAuthority is New(cfg) that fails the test on error.
func newAuthority(t *testing.T, cfg Config) *Authority {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkResult checks that err is nil when wantType is empty, and otherwise
// an *Error of wantType whose detail holds each of wantDetail.
func checkResult(t *testing.T, err error, wantType string, wantDetail ...string) *Error {
	t.Helper()
	if wantType == "" {
		if err != nil {
			t.Fatalf("Validate: %v, want success", err)
		}
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate: %v (%T), want an *Error of type %s", err, err, wantType)
	}
	t.Logf("%s", e)
	if e.Type != wantType {
		t.Errorf("Validate: type %s, want %s (detail: %s)", e.Type, wantType, e.Detail)
	}
	for _, w := range wantDetail {
		if !strings.Contains(e.Detail, w) {
			t.Errorf("Validate: detail %q, want it to contain %q", e.Detail, w)
		}
	}
	if e.Error() != e.Type+": "+e.Detail {
		t.Errorf("Error() = %q, want the type and the detail", e.Error())
	}
	return e
}

// hangListener accepts TCP connections on 127.0.0.1 and never answers
// them; it returns the port. Cleanup closes it and its connections.
func hangListener(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	serve(t, ln, func(c net.Conn) {
		<-done
		c.Close()
	})
	t.Cleanup(func() { close(done) }) // runs before serve's, which waits
	return ln.Addr().(*net.TCPAddr).Port
}

// serve hands each connection ln accepts to handle, in a goroutine. It
// returns at once; Cleanup closes ln and waits for the handlers.
func serve(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
}

// closedPort returns a loopback port that refuses connections.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(*testing.T, *Authority)
	}{
		{name: "ok/defaults", check: func(t *testing.T, a *Authority) {
			if a.httpPort != 80 || a.tlsPort != 443 || a.timeout != DefaultTimeout {
				t.Errorf("ports %d, %d and timeout %s, want 80, 443 and %s", a.httpPort, a.tlsPort, a.timeout, DefaultTimeout)
			}
			if a.ipResolver != "the system resolver" || a.txtResolver != "the system resolver" {
				t.Errorf("resolvers %q and %q, want the system resolver", a.ipResolver, a.txtResolver)
			}
		}},
		{name: "ok/ports and timeout", cfg: Config{HTTPPort: 5002, TLSPort: 5001, Timeout: time.Second}, check: func(t *testing.T, a *Authority) {
			if a.httpPort != 5002 || a.tlsPort != 5001 || a.timeout != time.Second {
				t.Errorf("ports %d, %d and timeout %s, want 5002, 5001 and 1s", a.httpPort, a.tlsPort, a.timeout)
			}
		}},
		{name: "ok/dns server with port", cfg: Config{DNSServer: "127.0.0.1:5353"}, check: wantResolver("127.0.0.1:5353")},
		{name: "ok/dns server without port", cfg: Config{DNSServer: "127.0.0.1"}, check: wantResolver("127.0.0.1:53")},
		{name: "ok/dns server IPv6 without port", cfg: Config{DNSServer: "::1"}, check: wantResolver("[::1]:53")},
		{name: "ok/dns server IPv6 with port", cfg: Config{DNSServer: "[::1]:5353"}, check: wantResolver("[::1]:5353")},
		{name: "ok/dns server name", cfg: Config{DNSServer: "resolver.test"}, check: wantResolver("resolver.test:53")},
		{name: "ok/lookup seams", cfg: Config{DNSServer: "127.0.0.1", LookupNetIP: lookupMap(nil), LookupTXT: func(context.Context, string) ([]string, error) { return nil, nil }}, check: func(t *testing.T, a *Authority) {
			if a.ipResolver != "Config.LookupNetIP" || a.txtResolver != "Config.LookupTXT" {
				t.Errorf("resolvers %q and %q, want the seams", a.ipResolver, a.txtResolver)
			}
		}},
		{name: "fail/negative port", cfg: Config{HTTPPort: -1}, wantErr: "HTTP port -1 is not between 1 and 65535"},
		{name: "fail/port too large", cfg: Config{TLSPort: 65536}, wantErr: "TLS port 65536 is not between 1 and 65535"},
		{name: "fail/dns server port 0", cfg: Config{DNSServer: "127.0.0.1:0"}, wantErr: `DNS server "127.0.0.1:0" is not host:port`},
		{name: "fail/dns server port name", cfg: Config{DNSServer: "127.0.0.1:domain"}, wantErr: "is not host:port"},
		{name: "fail/dns server garbage", cfg: Config{DNSServer: "not a server"}, wantErr: `DNS server "not a server" is not host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			tc.check(t, a)
		})
	}
}

func wantResolver(want string) func(*testing.T, *Authority) {
	return func(t *testing.T, a *Authority) {
		if a.ipResolver != want || a.txtResolver != want {
			t.Errorf("resolvers %q and %q, want %q", a.ipResolver, a.txtResolver, want)
		}
	}
}

// TestMalformed checks the requests refused before any traffic: the
// lookups fail the test if they are called.
func TestMalformed(t *testing.T) {
	a := newAuthority(t, Config{
		LookupNetIP: func(_ context.Context, _, host string) ([]netip.Addr, error) {
			t.Errorf("resolved %q", host)
			return nil, errors.New("unexpected")
		},
		LookupTXT: func(_ context.Context, name string) ([]string, error) {
			t.Errorf("looked up %q", name)
			return nil, errors.New("unexpected")
		},
	})
	for _, tc := range []struct {
		name                     string
		kind, id, token, keyAuth string
		wantDetail               string
	}{
		{"unknown kind", "http-02", "a.test", testToken, testKeyAuth, `unknown challenge type "http-02"`},
		{"empty token", HTTP01, "a.test", "", "." + "thumb", "token is empty"},
		{"token with a slash", HTTP01, "a.test", "a/../b", "a/../b.thumb", "outside base64url"},
		{"key authorization of another token", HTTP01, "a.test", testToken, "other.thumb", "is not the token"},
		{"key authorization without thumbprint", HTTP01, "a.test", testToken, testToken + ".", "is not the token"},
		{"wildcard with http-01", HTTP01, "*.a.test", testToken, testKeyAuth, "can only be validated with dns-01"},
		{"wildcard with tls-alpn-01", TLSALPN01, "*.a.test", testToken, testKeyAuth, "can only be validated with dns-01"},
		{"IP with dns-01", DNS01, "127.0.0.1", testToken, testKeyAuth, "cannot be validated with dns-01"},
		{"IP with a zone", HTTP01, "fe80::1%eth0", testToken, testKeyAuth, "has a zone"},
		{"empty identifier", HTTP01, "", testToken, testKeyAuth, "empty name"},
		{"empty label", TLSALPN01, "a..test", testToken, testKeyAuth, `label "" is empty`},
		{"URL characters", HTTP01, "a.test/x?y", testToken, testKeyAuth, `has the character '/'`},
		{"port in identifier", HTTP01, "a.test:8080", testToken, testKeyAuth, `has the character ':'`},
		{"long label", DNS01, strings.Repeat("a", 64) + ".test", testToken, testKeyAuth, "longer than 63"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Validate(context.Background(), tc.kind, tc.id, tc.token, tc.keyAuth)
			checkResult(t, err, TypeMalformed, tc.wantDetail)
		})
	}
}

func TestReverseName(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1", "1.0.0.127.in-addr.arpa"},
		{"192.0.2.10", "10.2.0.192.in-addr.arpa"},
		// RFC 3596 §2.5's example.
		{"4321:0:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa"},
		{"::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"},
	} {
		if got := reverseName(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("reverseName(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

func TestURLHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
		want string
	}{
		{"a.test", 80, "a.test"},
		{"a.test", 5002, "a.test:5002"},
		{"127.0.0.1", 80, "127.0.0.1"},
		{"::1", 80, "[::1]"},
		{"2001:db8::1", 8080, "[2001:db8::1]:8080"},
	} {
		if got := urlHost(tc.host, tc.port, 80); got != tc.want {
			t.Errorf("urlHost(%q, %d) = %q, want %q", tc.host, tc.port, got, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	long := strings.Repeat("é", 70) // 140 bytes
	got := quote([]byte(long))
	if !strings.HasSuffix(got, "… (140 bytes)") || strings.Contains(got, `\x`) {
		t.Errorf("quote cut a rune or lost the length: %s", got)
	}
	if got := quoteAll([]string{"a", "b", "c"}, 2); got != `"a", "b", and 1 more` {
		t.Errorf("quoteAll = %s", got)
	}
}
