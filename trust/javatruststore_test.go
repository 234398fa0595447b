package trust

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust/trusttest"
)

func TestJavaTrustStoreDecodes(t *testing.T) {
	cert := newTestCert(t, "devca root test")
	data, err := JavaTrustStore(cert, "changeit")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pkcs12.DecodeTrustStore(data, "changeit")
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || !certs[0].Equal(cert) {
		t.Errorf("trust store holds %d certificates, want exactly the root", len(certs))
	}
	if _, err := pkcs12.DecodeTrustStore(data, "wrong"); err == nil {
		t.Errorf("decoded with a wrong password")
	}
}

// TestJavaTrustStoreWithRealJava checks that keytool lists the trust store
// and that a Java HTTPS client started with it trusts a devca leaf, without
// touching any system store.
func TestJavaTrustStoreWithRealJava(t *testing.T) {
	for _, tool := range []string{"java", "keytool"} {
		if _, err := exec.LookPath(tool); err != nil {
			trusttest.Missing(t, tool)
		}
	}
	dir := t.TempDir()
	auth, err := ca.Create(filepath.Join(dir, "cahome"), ca.CreateOptions{User: "java", Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	names, _, _ := ca.ParseNames([]string{"localhost"})
	leaf, err := auth.Issue(ca.LeafRequest{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := leaf.TLSCertificate()
	token := rand.Text()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, token) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	data, err := JavaTrustStore(auth.Cert, "changeit")
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "devca-truststore.p12")
	if err := os.WriteFile(store, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("keytool", "-list", "-keystore", store, "-storepass", "changeit").CombinedOutput()
	if err != nil || !strings.Contains(string(out), (&Root{Cert: auth.Cert}).ID()+",") || !strings.Contains(string(out), "trustedCertEntry") {
		t.Fatalf("keytool -list: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "Client.java"), []byte(trusttest.JavaClient), 0o644)
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "java", args...)
		cmd.Dir = dir
		cmd.Env = clientEnv(dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("-Djavax.net.ssl.trustStore="+store, "-Djavax.net.ssl.trustStorePassword=changeit", "Client.java", url); err != nil || !strings.Contains(out, token) {
		t.Errorf("java with the trust store: %v\n%s", err, out)
	}
	// The system trust tests may add roots to the JDK meanwhile; wait for
	// them before checking that the JDK alone does not trust this root.
	trusttest.Lock(t)
	if out, err := run("Client.java", url); err == nil || strings.Contains(out, token) {
		t.Errorf("java without the trust store connected; the JDK already trusts this root?\n%s", out)
	}
}
