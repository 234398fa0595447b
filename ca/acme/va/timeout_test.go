package va

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// slack is how much longer than its timeout a validation may take here:
// the race detector and a busy machine slow the last steps down.
const slack = 1500 * time.Millisecond

// TestNeverBlocksPastTimeout checks that each kind of validation gives up
// on time against peers that stall in every way they can.
func TestNeverBlocksPastTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	hangPort := hangListener(t)
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		flusher := w.(http.Flusher)
		switch r.Host[:len("xxxx")] {
		case "head": // the header, then nothing
			w.WriteHeader(http.StatusOK)
			flusher.Flush()
			<-r.Context().Done()
		case "drip": // a byte at a time, never the end
			w.WriteHeader(http.StatusOK)
			for {
				fmt.Fprint(w, " ")
				flusher.Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}))
	t.Cleanup(stall.Close)
	stallPort := stall.Listener.Addr().(*net.TCPAddr).Port
	silentDNS := startDNS(t, zone{silent: true})
	names := lookupMap(map[string][]string{"hang.test": {"127.0.0.1"}, "head.test": {"127.0.0.1"}, "drip.test": {"127.0.0.1"}})
	// Lookups that ignore their context and return only at the end.
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	deafIP := func(context.Context, string, string) ([]netip.Addr, error) {
		<-release
		return nil, errors.New("released")
	}
	deafTXT := func(context.Context, string) ([]string, error) {
		<-release
		return nil, errors.New("released")
	}

	for _, tc := range []struct {
		name     string
		cfg      Config
		kind, id string
		wantType string
	}{
		{"http-01/no answer", Config{HTTPPort: hangPort, LookupNetIP: names}, HTTP01, "hang.test", TypeConnection},
		{"http-01/header and no body", Config{HTTPPort: stallPort, LookupNetIP: names}, HTTP01, "head.test", TypeConnection},
		{"http-01/body a byte at a time", Config{HTTPPort: stallPort, LookupNetIP: names}, HTTP01, "drip.test", TypeConnection},
		{"http-01/silent DNS server", Config{DNSServer: silentDNS}, HTTP01, "hang.test", TypeDNS},
		{"tls-alpn-01/no handshake", Config{TLSPort: hangPort, LookupNetIP: names}, TLSALPN01, "hang.test", TypeConnection},
		{"tls-alpn-01/silent DNS server", Config{DNSServer: silentDNS}, TLSALPN01, "hang.test", TypeDNS},
		{"dns-01/silent DNS server", Config{DNSServer: silentDNS}, DNS01, "hang.test", TypeDNS},
		{"http-01/lookup deaf to its context", Config{LookupNetIP: deafIP}, HTTP01, "hang.test", TypeDNS},
		{"tls-alpn-01/lookup deaf to its context", Config{LookupNetIP: deafIP}, TLSALPN01, "hang.test", TypeDNS},
		{"dns-01/lookup deaf to its context", Config{LookupTXT: deafTXT}, DNS01, "hang.test", TypeDNS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Timeout = timeout
			a := newAuthority(t, tc.cfg)
			start := time.Now()
			err := a.Validate(context.Background(), tc.kind, tc.id, testToken, testKeyAuth)
			if took := time.Since(start); took > timeout+slack {
				t.Errorf("Validate took %s, want at most %s", took, timeout+slack)
			}
			checkResult(t, err, tc.wantType, "timed out after")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false", err)
			}
		})
	}
}

// TestCancel checks that canceling the context stops a validation long
// before its timeout, and says so.
func TestCancel(t *testing.T) {
	hangPort := hangListener(t)
	silentDNS := startDNS(t, zone{silent: true})
	names := lookupMap(map[string][]string{"hang.test": {"127.0.0.1"}})
	for _, tc := range []struct {
		kind string
		cfg  Config
	}{
		{HTTP01, Config{HTTPPort: hangPort, LookupNetIP: names}},
		{TLSALPN01, Config{TLSPort: hangPort, LookupNetIP: names}},
		{DNS01, Config{DNSServer: silentDNS}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Timeout = time.Minute
			a := newAuthority(t, tc.cfg)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			err := a.Validate(ctx, tc.kind, "hang.test", testToken, testKeyAuth)
			if took := time.Since(start); took > 200*time.Millisecond+slack {
				t.Errorf("Validate took %s after a cancel at 200ms", took)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Validate: %v, want an *Error wrapping context.Canceled", err)
			}
			checkResult(t, err, e.Type, "validation canceled")
		})
	}
}
