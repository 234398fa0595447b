package trust

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust/trusttest"
)

// The end-to-end test installs a devca root into this machine's real
// system store, a real NSS database in a temporary HOME and the real JDK
// cacerts, and checks with real clients (curl, headless Chromium, a Java
// HTTPS client) that trust appears after install and disappears after
// uninstall, leaving every store as it was. It changes the system, so it
// runs only when asked: DEVCA_E2E_SYSTEM=1, as .ci/run sets in a step of its own.

// trustOverrideVars change which roots clients trust; the clients run
// without them so that "trusted" means what the stores say.
var trustOverrideVars = []string{
	"SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
	"GIT_SSL_CAINFO", "DENO_CERT", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS",
	"NSS_DEFAULT_DB_TYPE", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY",
}

func e2eEnabled(t *testing.T) {
	t.Helper()
	trusttest.Enabled(t)
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("sudo"); err != nil {
			e2eMissing(t, "root or sudo (the system store needs it)")
		}
	}
}

func e2eMissing(t *testing.T, what string) {
	t.Helper()
	trusttest.Missing(t, what)
}

func e2eTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		e2eMissing(t, name)
	}
	return p
}

// clientEnv is the environment for client processes: this process's, with
// HOME replaced and every trust override removed.
func clientEnv(home string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || slices.Contains(trustOverrideVars, k) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+home)
}

func runClient(ctx context.Context, home, dir string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = clientEnv(home)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// storeSnapshot sums what each store trusts. Content is summed rather than
// file bytes where a tool rewrites the file: NSS databases are SQLite files
// that change on every open, and Debian's ca-certificates-java rewrites
// cacerts as a whole.
func storeSnapshot(t *testing.T, home, cacerts string) map[string]string {
	t.Helper()
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:8]) }
	snap := map[string]string{}
	bundle, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal(err)
	}
	snap["system bundle"] = sum(bundle)
	for _, dir := range []string{"/usr/local/share/ca-certificates", "/etc/ssl/certs"} {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join(dir, e.Name())); err != nil {
				// A dangling link another tool left; update-ca-certificates
				// may clean it up at any run.
				continue
			}
			target, _ := os.Readlink(filepath.Join(dir, e.Name()))
			names = append(names, e.Name()+" -> "+target)
		}
		snap["system "+dir] = sum([]byte(strings.Join(names, "\n")))
	}
	for _, db := range []string{filepath.Join(home, ".pki", "nssdb"), filepath.Join(home, ".mozilla", "firefox", "e2e.default")} {
		out, err := exec.Command("certutil", "-L", "-d", "sql:"+db).CombinedOutput()
		if err != nil {
			t.Fatalf("listing %s: %v: %s", db, err, out)
		}
		snap["nss "+db] = sum(out)
	}
	out, err := exec.Command("keytool", "-list", "-keystore", cacerts, "-storepass", defaultStorePass).CombinedOutput()
	if err != nil {
		t.Fatalf("listing %s: %v: %s", cacerts, err, out)
	}
	lines := strings.Split(string(out), "\n")
	sort.Strings(lines)
	snap["java "+cacerts] = sum([]byte(strings.Join(lines, "\n")))
	return snap
}

func TestE2ESystemStores(t *testing.T) {
	e2eEnabled(t)
	for _, tool := range []string{"update-ca-certificates", "certutil", "keytool", "java", "curl", "chromium"} {
		e2eTool(t, tool)
	}
	if detectDistro(Env{}) == nil || detectDistro(Env{}).name != "Debian/Ubuntu" {
		e2eMissing(t, "a Debian or Ubuntu system store")
	}
	trusttest.Lock(t)
	ctx := context.Background()
	base := t.TempDir()
	home := filepath.Join(base, "home")
	cahome := filepath.Join(base, "cahome")
	work := filepath.Join(base, "work")
	for _, d := range []string{home, work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	// A real devca CA with its default name constraints, and a leaf for
	// localhost: clients must accept a constrained root.
	cons, err := ca.DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Create(cahome, ca.CreateOptions{Constraints: cons, User: "e2e", Host: "trust-test"})
	if err != nil {
		t.Fatal(err)
	}
	names, _, err := ca.ParseNames([]string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := auth.Issue(ca.LeafRequest{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	tlsCert, err := leaf.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	token := "devca-e2e-" + rand.Text()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<html><body><p id=token>%s</p></body></html>\n", token)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{tlsCert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "https://localhost:" + port + "/"

	// NSS databases exist before devca runs, as after a first browser
	// start, so that their content can be compared before and after.
	ffProfile := filepath.Join(home, ".mozilla", "firefox", "e2e.default")
	for _, db := range []string{filepath.Join(home, ".pki", "nssdb"), ffProfile} {
		os.MkdirAll(db, 0o700)
		if out, err := exec.Command("certutil", "-N", "-d", "sql:"+db, "--empty-password").CombinedOutput(); err != nil {
			t.Fatalf("creating %s: %v: %s", db, err, out)
		}
	}
	os.WriteFile(filepath.Join(home, ".mozilla", "firefox", "profiles.ini"), []byte("[Profile0]\nName=e2e\nIsRelative=1\nPath=e2e.default\n"), 0o644)
	if err := os.WriteFile(filepath.Join(work, "Client.java"), []byte(trusttest.JavaClient), 0o644); err != nil {
		t.Fatal(err)
	}

	getenv := func(k string) string {
		if k == "HOME" {
			return home
		}
		return os.Getenv(k)
	}
	env, err := DefaultEnv(getenv, &ExecRunner{Euid: os.Geteuid(), BeforeSudo: func(c Cmd) { t.Logf("sudo to %s", c.Why) }})
	if err != nil {
		t.Fatal(err)
	}
	javaPath, _ := exec.LookPath("java")
	javaReal, _ := filepath.EvalSymlinks(javaPath)
	cacerts, err := filepath.EvalSymlinks(filepath.Join(filepath.Dir(filepath.Dir(javaReal)), "lib", "security", "cacerts"))
	if err != nil {
		e2eMissing(t, "the cacerts of "+javaReal)
	}
	stores := []string{StoreSystem, StoreNSS, StoreJava}
	root := &Root{Cert: auth.Cert}

	// Whatever happens below, leave no devca root behind: uninstall from
	// the record, then remove by hand anything still there.
	t.Cleanup(func() {
		if _, err := UninstallAll(ctx, env, auth.Cert, cahome, stores); err != nil {
			t.Logf("cleanup uninstall: %v", err)
		}
		anchor := filepath.Join("/usr/local/share/ca-certificates", root.FileName())
		if _, err := os.Stat(anchor); err == nil {
			t.Errorf("cleanup: %s was left behind; removing it", anchor)
			os.Remove(anchor)
			exec.Command("update-ca-certificates", "--fresh").Run()
		}
		for _, alias := range []string{root.ID(), "debian:" + strings.TrimSuffix(root.FileName(), ".crt") + ".pem"} {
			if exec.Command("keytool", "-list", "-alias", alias, "-keystore", cacerts, "-storepass", defaultStorePass).Run() == nil {
				t.Errorf("cleanup: alias %q was left in %s; deleting it", alias, cacerts)
				exec.Command("keytool", "-delete", "-alias", alias, "-keystore", cacerts, "-storepass", defaultStorePass).Run()
			}
		}
		bundle, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
		if containsDER(bundle, auth.Cert.Raw) {
			t.Errorf("cleanup: the system bundle still holds the test root")
		}
	})

	// clients reports which real clients trust the server now.
	clients := func(stage string) map[string]bool {
		t.Helper()
		got := map[string]bool{}
		out, err := runClient(ctx, home, work, "curl", "--silent", "--show-error", "--max-time", "20", url)
		got["curl"] = err == nil && strings.Contains(out, token)
		t.Logf("%s: curl: %v %.200s", stage, err, out)
		out, err = runClient(ctx, home, work, "chromium", "--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--no-first-run", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+filepath.Join(base, "chromium-"+strings.ReplaceAll(stage, " ", "-")), "--dump-dom", url)
		got["chromium"] = err == nil && strings.Contains(out, token)
		t.Logf("%s: chromium: %v (token seen: %v)", stage, err, got["chromium"])
		out, err = runClient(ctx, home, work, "java", "Client.java", url)
		got["java"] = err == nil && strings.Contains(out, token)
		t.Logf("%s: java: %v %.300s", stage, err, out)
		out, err = runClient(ctx, home, work, "certutil", "-L", "-d", "sql:"+filepath.Join(home, ".pki", "nssdb"))
		got["certutil -L"] = err == nil && strings.Contains(out, root.ID())
		// Any alias counts: on Debian, update-ca-certificates' Java hook adds
		// the root that the system store got under an alias of its own, and
		// devca then leaves Java alone (it adds only what is not trusted yet).
		out, err = runClient(ctx, home, work, "keytool", "-list", "-keystore", cacerts, "-storepass", defaultStorePass)
		got["keytool -list"] = err == nil && strings.Contains(out, ca.Fingerprint(auth.Cert))
		return got
	}
	// status reports what StatusAll says, by store, as devca status --json
	// would print it.
	status := func() map[string]bool {
		t.Helper()
		res, err := StatusAll(ctx, env, auth.Cert, stores)
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		js, _ := json.Marshal(res)
		t.Logf("status: %s", js)
		got := map[string]bool{}
		for _, r := range res {
			got[r.Store] = r.Trusted
		}
		return got
	}
	expect := func(stage string, want bool) {
		t.Helper()
		for client, ok := range clients(stage) {
			if ok != want {
				t.Errorf("%s: %s trusts the server: %v, want %v", stage, client, ok, want)
			}
		}
		for store, ok := range status() {
			if ok != want {
				t.Errorf("%s: status says %s trusted=%v, want %v", stage, store, ok, want)
			}
		}
	}

	before := storeSnapshot(t, home, cacerts)
	expect("before install", false)

	res, err := InstallAll(ctx, env, auth.Cert, filepath.Join(cahome, ca.RootCertFile), cahome, stores)
	for _, r := range res {
		t.Logf("install %s: trusted=%v changed=%v locations=%+v err=%v", r.Store, r.Trusted, r.Changed, r.Locations, r.Err)
	}
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	expect("after install", true)

	res, err = InstallAll(ctx, env, auth.Cert, filepath.Join(cahome, ca.RootCertFile), cahome, stores)
	if err != nil {
		t.Fatalf("second install: %v", err)
	}
	for _, r := range res {
		if r.Changed {
			t.Errorf("second install changed %s", r.Store)
		}
	}

	res, err = UninstallAll(ctx, env, auth.Cert, cahome, stores)
	for _, r := range res {
		t.Logf("uninstall %s: trusted=%v changed=%v err=%v", r.Store, r.Trusted, r.Changed, r.Err)
	}
	if err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	expect("after uninstall", false)

	after := storeSnapshot(t, home, cacerts)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s differs after uninstall: before %s, after %s", k, v, after[k])
		}
	}
	res, err = UninstallAll(ctx, env, auth.Cert, cahome, stores)
	if err != nil {
		t.Fatalf("second uninstall: %v", err)
	}
	for _, r := range res {
		if r.Changed {
			t.Errorf("second uninstall changed %s", r.Store)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(cahome, InstallRecordFile)); bytes.Contains(data, []byte(`"store"`)) {
		t.Errorf("record not empty after uninstall:\n%s", data)
	}
}
