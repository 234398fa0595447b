package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust/trusttest"
)

// serveTokenPage serves a page holding token over TLS with the given
// certificate chain on 127.0.0.1 and returns the port.
func serveTokenPage(t *testing.T, chain [][]byte, key *ecdsa.PrivateKey, token string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html><html><body><p id=token>"+token+"</p></body></html>")
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: key}}},
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// runOutputWithin is runWithin that returns what cmd wrote.
func runOutputWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := runWithin(t, cmd, d)
	return stdout.String(), stderr.String(), err
}

// TestACMEIntermediateClients serves a certificate from devca acme
// --intermediate, with the leaf and the intermediate as a server sends
// them, to headless Chromium and to Java, each trusting only the devca
// root: Chromium through an NSS database in its own HOME, Java through a
// PKCS#12 trust store. Neither looks a name up: Chromium maps app.test with
// --host-resolver-rules, Java reads a hosts file of the test's
// (jdk.net.hosts.file).
func TestACMEIntermediateClients(t *testing.T) {
	t.Parallel()
	chromium := requireTool(t, "chromium")
	certutil := requireTool(t, "certutil")
	java := requireTool(t, "java")
	keytool := requireTool(t, "keytool")

	home := t.TempDir()
	resp := startHTTP01Responder(t)
	cmd := devcaCommand(t, home, home, "acme", "--addr", "127.0.0.1:0", "--intermediate", "--http-port", strconv.Itoa(resp.port))
	cmd.Env = append(cmd.Env, "DEVCA_TEST_ACME_LOOPBACK=1")
	p := startServeCmd(t, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	chain, key := obtainChain(ctx, t, registeredClient(t, ctx, home, p), resp, "app.test")
	p.stop(t)
	rootFile := filepath.Join(home, ca.RootCertFile)
	checkIntermediateChain(t, chain, key, rootFile, "app.test")
	if t.Failed() {
		return
	}

	b := make([]byte, 12)
	rand.Read(b)
	token := "devca-token-" + hex.EncodeToString(b)
	// As a server sends it: the leaf and the intermediate, not the root.
	port := serveTokenPage(t, chain[:2], key, token)
	url := "https://app.test:" + port + "/"

	t.Run("chromium", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name  string
			home  string
			trust bool
		}{
			{"root in NSS db", trustingHome(t, certutil, rootFile), true},
			{"no root", t.TempDir(), false},
		} {
			cmd := chromiumCommand(chromium, c.home, "--host-resolver-rules=MAP app.test 127.0.0.1, MAP * ~NOTFOUND", "--dump-dom", url)
			dom, stderr, err := runOutputWithin(t, cmd, 45*time.Second)
			if err != nil {
				t.Fatalf("chromium (%s): %v\n%s", c.name, err, stderr)
			}
			if got := strings.Contains(dom, token); got != c.trust {
				t.Errorf("chromium (%s): page shown %v, want %v\n%s", c.name, got, c.trust, dom[:min(len(dom), 2000)])
			}
		}
	})

	t.Run("java", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		store := filepath.Join(work, "ts.p12")
		if out, err := exec.Command(keytool, "-importcert", "-noprompt", "-storetype", "PKCS12", "-keystore", store,
			"-storepass", "changeit", "-alias", "devca", "-file", rootFile).CombinedOutput(); err != nil {
			t.Fatalf("keytool -importcert: %v\n%s", err, out)
		}
		hosts := filepath.Join(work, "hosts")
		if err := os.WriteFile(hosts, []byte("127.0.0.1 app.test\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(work, "Client.java")
		if err := os.WriteFile(src, []byte(trusttest.JavaClient), 0o644); err != nil {
			t.Fatal(err)
		}
		// -XX:-UsePerfData and java.io.tmpdir: nothing in /tmp.
		cmd := exec.Command(java, "-XX:-UsePerfData", "-Djava.io.tmpdir="+work, "-Djavax.net.ssl.trustStore="+store, "-Djavax.net.ssl.trustStorePassword=changeit",
			"-Djavax.net.ssl.trustStoreType=PKCS12", "-Djdk.net.hosts.file="+hosts, src, url)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "HOME="+work)
		out, stderr, err := runOutputWithin(t, cmd, 45*time.Second)
		if err != nil || !strings.Contains(out, token) {
			t.Errorf("java with the root in its trust store: %v\n%s%s", err, out, stderr)
		}
	})
}
