package va

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTP01HeaderLimit checks the bound on an http-01 response's header: a
// peer cannot make a validation hold an unbounded header in memory.
func TestHTTP01HeaderLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size := map[string]int{"small.test": 8 << 10, "big.test": maxHeader + 1024}[strings.Split(r.Host, ":")[0]]
		w.Header().Set("X-Padding", strings.Repeat("a", size))
		fmt.Fprint(w, testKeyAuth)
	}))
	t.Cleanup(srv.Close)
	a := newAuthority(t, Config{HTTPPort: srv.Listener.Addr().(*net.TCPAddr).Port,
		LookupNetIP: lookupMap(map[string][]string{"small.test": {"127.0.0.1"}, "big.test": {"127.0.0.1"}})})
	checkResult(t, a.Validate(context.Background(), "http-01", "small.test", testToken, testKeyAuth), "")
	checkResult(t, a.Validate(context.Background(), "http-01", "big.test", testToken, testKeyAuth), TypeConnection, "headers exceeded 65536 bytes")
}
