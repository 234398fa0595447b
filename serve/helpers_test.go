package serve

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devca/devca/ca"
)

// TestMain removes the shared test CA after the tests, so a run leaves no
// key behind in the temporary folder.
func TestMain(m *testing.M) {
	code := m.Run()
	if testCA.dir != "" {
		os.RemoveAll(testCA.dir)
	}
	os.Exit(code)
}

// testCA is one devca CA shared by the tests of this package: creating a
// root and a leaf per test would only make the suite slower.
var testCA struct {
	once sync.Once
	dir  string // removed by TestMain: it holds the test root's key
	auth *ca.Authority
	leaf tls.Certificate
	pool *x509.CertPool
	err  error
}

// authority returns a real devca root with the default name constraints and
// a leaf for localhost, 127.0.0.1 and ::1.
func authority(t testing.TB) (*ca.Authority, tls.Certificate, *x509.CertPool) {
	t.Helper()
	testCA.once.Do(func() {
		dir, err := os.MkdirTemp("", "devca-serve-test-")
		if err != nil {
			testCA.err = err
			return
		}
		testCA.dir = dir
		home := filepath.Join(dir, "home")
		cons, err := ca.DefaultConstraints(nil)
		if err != nil {
			testCA.err = err
			return
		}
		a, err := ca.Create(home, ca.CreateOptions{Constraints: cons, User: "test", Host: "serve"})
		if err != nil {
			testCA.err = err
			return
		}
		names, _, err := ca.ParseNames([]string{"localhost", "127.0.0.1", "::1"})
		if err != nil {
			testCA.err = err
			return
		}
		leaf, err := a.Issue(ca.LeafRequest{Names: names})
		if err != nil {
			testCA.err = err
			return
		}
		testCA.leaf, testCA.err = leaf.TLSCertificate()
		testCA.auth = a
		testCA.pool = x509.NewCertPool()
		testCA.pool.AddCert(a.Cert)
	})
	if testCA.err != nil {
		t.Fatalf("creating test CA: %v", testCA.err)
	}
	return testCA.auth, testCA.leaf, testCA.pool
}

// startTLS serves h over HTTPS with the test leaf, HTTP/2 enabled, and
// returns the server and a client that trusts only the test root.
func startTLS(t testing.TB, h http.Handler) (*httptest.Server, *http.Client) {
	t.Helper()
	_, leaf, pool := authority(t)
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.TLS = TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &leaf, nil })
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "localhost"},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	t.Cleanup(client.CloseIdleConnections)
	return srv, client
}

// writeTree creates files from a map of slash paths to contents. A path
// ending in "/" is a folder; a content starting with "->" makes a symbolic
// link to the rest.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newHandler returns a Handler for cfg and closes it when the test ends.
func newHandler(t testing.TB, cfg Config) *Handler {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// do runs one request through h in memory. header is "Name: value" lines.
func do(t testing.TB, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for _, kv := range header {
		k, v, _ := strings.Cut(kv, ":")
		r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}
