package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust/trusttest"
)

// TestTrustE2E runs the real devca command line against this machine's real
// trust stores (issue 4): after 'devca init' curl, headless Chromium and
// a Java client trust a server with a devca leaf, and 'devca status --json'
// says so; after 'devca uninstall' none of them does, and status agrees. It
// changes the system, so it runs only with DEVCA_E2E_SYSTEM=1 (a .ci/run step),
// and takes the same machine-wide lock as the trust package's end-to-end
// test so that the two never change the stores at once.
func TestTrustE2E(t *testing.T) {
	t.Parallel()
	trusttest.Enabled(t)
	if os.Geteuid() != 0 {
		requireTool(t, "sudo")
	}
	for _, tool := range []string{"update-ca-certificates", "certutil", "keytool", "java", "curl", "chromium"} {
		requireTool(t, tool)
	}
	trusttest.Lock(t)

	base := t.TempDir()
	home := filepath.Join(base, "cahome")
	userHome := filepath.Join(home, "userhome") // HOME of devcaCommand
	work := filepath.Join(base, "work")
	os.MkdirAll(work, 0o700)
	const stores = "system,nss,java"
	devca := func(args ...string) (string, error) {
		t.Helper()
		cmd := devcaCommand(t, home, work, args...)
		cmd.Env = append(cmd.Env, "DEVCA_TEST_REAL_TRUST=1")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		t.Logf("devca %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		return stdout.String(), err
	}
	if _, err := devca("init", "--no-trust"); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(userHome, 0o700)
	// Whatever happens, take the root out of every store again.
	t.Cleanup(func() {
		devca("uninstall", "--stores", stores)
		entries, _ := os.ReadDir("/usr/local/share/ca-certificates")
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "devca-root-") {
				if auth, err := ca.Load(home); err == nil && strings.Contains(e.Name(), strings.ToLower(strings.ReplaceAll(ca.Fingerprint(auth.Cert), ":", ""))) {
					t.Errorf("cleanup: %s left behind; removing it", e.Name())
					os.Remove(filepath.Join("/usr/local/share/ca-certificates", e.Name()))
					exec.Command("update-ca-certificates", "--fresh").Run()
				}
			}
		}
	})

	auth, err := ca.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	names, _, err := ca.ParseNames([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := auth.Issue(ca.LeafRequest{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := leaf.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	token := "devca-cli-e2e-" + rand.Text()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<html><body><p>%s</p></body></html>\n", token)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "https://localhost:" + port + "/"
	os.WriteFile(filepath.Join(work, "Client.java"), []byte(`public class Client {
    public static void main(String[] args) throws Exception {
        var c = java.net.http.HttpClient.newHttpClient();
        var r = c.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(args[0])).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        System.out.println(r.body());
    }
}
`), 0o644)

	// client runs a client with the user's HOME and no trust overrides.
	client := func(name string, args ...string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = work
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			if k != "HOME" && !slices.Contains(trustOverrides, k) && k != "JDK_JAVA_OPTIONS" && k != "_JAVA_OPTIONS" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "HOME="+userHome)
		out, err := cmd.CombinedOutput()
		return err == nil && strings.Contains(string(out), token)
	}
	check := func(stage string, want bool) {
		t.Helper()
		out, err := devca("status", "--json", "--stores", stores)
		if (err == nil) != want {
			t.Errorf("%s: devca status exit error %v, want success=%v", stage, err, want)
		}
		var report statusReport
		if err := json.Unmarshal([]byte(out), &report); err != nil {
			t.Fatalf("%s: status --json: %v\n%s", stage, err, out)
		}
		status := map[string]bool{}
		for _, s := range report.Stores {
			status[s.Store] = s.Present && s.Trusted
		}
		seen := map[string]bool{
			"system": client("curl", "--silent", "--show-error", "--max-time", "20", url),
			"nss": client("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
				"--no-first-run", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+filepath.Join(base, "chromium-"+strings.ReplaceAll(stage, " ", "-")), "--dump-dom", url),
			"java": client("java", "Client.java", url),
		}
		for store, ok := range seen {
			if ok != want || status[store] != ok {
				t.Errorf("%s: %s: clients trust the server: %v, status says trusted: %v, want %v", stage, store, ok, status[store], want)
			}
		}
		if report.Trusted != want {
			t.Errorf("%s: status trusted=%v, want %v", stage, report.Trusted, want)
		}
	}

	check("before init", false)
	// init on the existing CA only installs it into the stores.
	if _, err := devca("init", "--stores", stores); err != nil {
		t.Fatalf("init: %v", err)
	}
	check("after init", true)
	out, err := devca("install", "--stores", stores)
	if err != nil || strings.Count(out, "already trusted") != 3 {
		t.Errorf("second install: %v\n%s", err, out)
	}
	if _, err := devca("uninstall", "--stores", stores); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	check("after uninstall", false)
}
