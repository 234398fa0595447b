package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devca/devca/ca"
)

// requireTool returns the path of an external program the test needs. A
// missing tool skips the test on a developer machine but fails it under CI,
// where a skipped check would pass silently.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
	return p
}

// devcaBinary is the devca command that TestMain put on PATH: the test
// binary itself, so serve tests run the same code as the other end-to-end
// tests without a build of their own (or a binary left behind in /tmp).
func devcaBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("devca")
	if err != nil {
		t.Fatalf("devca is not on PATH (TestMain puts it there): %v", err)
	}
	return p
}

// syncBuffer collects a child's stderr while the test reads it, and tells
// waiters when more arrives.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed and replaced on every write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.buf.Write(p)
}

// waitFor waits until ok accepts the text so far, and returns it; after d
// it returns the text and false.
func (b *syncBuffer) waitFor(ok func(string) bool, d time.Duration) (string, bool) {
	deadline := time.After(d)
	for {
		b.mu.Lock()
		s := b.buf.String()
		if b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		if ok(s) {
			return s, true
		}
		select {
		case <-written:
		case <-deadline:
			return s, false
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serveProcess is a running "devca serve".
type serveProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan error
}

// port is the port of the URL devca serve printed.
func (p *serveProcess) port(t *testing.T) int {
	t.Helper()
	u, err := url.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port == 0 {
		t.Fatalf("devca serve printed %q, want a URL with the port it listens on", p.url)
	}
	return port
}

// waitStderr waits until the child has written want to stderr.
func (p *serveProcess) waitStderr(t *testing.T, want string) {
	t.Helper()
	if log, ok := p.stderr.waitFor(func(s string) bool { return strings.Contains(s, want) }, 30*time.Second); !ok {
		t.Fatalf("devca serve did not write %q within 30s; stderr:\n%s", want, log)
	}
}

// startServe runs "devca serve args..." with home as DEVCA_HOME and waits
// for the URL it prints. Tests pass --addr localhost:0 and read the port
// from the URL: a port picked by the test and bound by the child could be
// taken by then.
func startServe(t *testing.T, home string, args ...string) *serveProcess {
	t.Helper()
	return startServeEnv(t, []string{"DEVCA_HOME=" + home, "SSL_CERT_FILE=", "SSL_CERT_DIR="}, args...)
}

// startServeEnv is startServe with the child's extra environment spelled
// out.
func startServeEnv(t *testing.T, env []string, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(devcaBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return startServeCmd(t, cmd)
}

// startServeCmd starts cmd, a prepared "devca serve", and waits for the URL
// it prints.
func startServeCmd(t *testing.T, cmd *exec.Cmd) *serveProcess {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "https://") {
			t.Fatalf("devca serve printed %q, want a URL; stderr:\n%s", line, p.stderr.String())
		}
		p.url = line
	case <-time.After(30 * time.Second):
		t.Fatalf("devca serve printed no URL within 30s; stderr:\n%s", p.stderr.String())
	}
	return p
}

// stop sends SIGTERM and checks for a clean exit.
func (p *serveProcess) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
}

// wait waits for a clean exit after a signal.
func (p *serveProcess) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("devca serve exited with %v; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("devca serve still running 15s after SIGTERM")
	}
}

// artifactDir is where end-to-end tests leave files for a person to look
// at: $DEVCA_ARTIFACTS when set, else a folder removed after the test, so a
// plain run leaves nothing behind.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("DEVCA_ARTIFACTS")
	if dir == "" {
		t.Log("set DEVCA_ARTIFACTS=FOLDER to keep the screenshots")
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// listingSite makes a folder whose listing exercises escaping and sorting.
func listingSite(t *testing.T) string {
	site := filepath.Join(t.TempDir(), "my-site")
	for name, content := range map[string]string{
		"index-not-here.txt": "no index.html, so a listing",
		"notes <draft>.md":   "# notes",
		"what?.txt":          "?",
		"style.css":          strings.Repeat("body { margin: 0 }\n", 200),
		"docs/guide.html":    "<h1>guide</h1>",
		"assets/logo.svg":    `<svg xmlns="http://www.w3.org/2000/svg"/>`,
		".env":               "SECRET=do-not-serve",
	} {
		p := filepath.Join(site, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return site
}

// TestServeEndToEnd runs the built devca serve in a fresh CA home and talks
// to it with curl over HTTP/1.1 and HTTP/2, then shuts it down with
// SIGTERM.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl")
	home := filepath.Join(t.TempDir(), "cahome")
	site := listingSite(t)
	p := startServe(t, home, "--addr", "localhost:0", site)
	port := p.port(t)
	if want := fmt.Sprintf("https://localhost:%d/", port); p.url != want {
		t.Errorf("URL = %q, want %q", p.url, want)
	}
	root := filepath.Join(home, "rootCA.pem")
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("serve did not create the CA: %v", err)
	}
	for _, want := range []string{"created a CA in", "no trust store was changed", "issued a certificate for localhost, 127.0.0.1, ::1"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
		}
	}

	for _, tc := range []struct {
		name, flag, version string
		url                 string
	}{
		{"http1.1", "--http1.1", "1.1", p.url},
		{"http2", "--http2", "2", p.url},
		{"ipv4", "--http2", "2", fmt.Sprintf("https://127.0.0.1:%d/", port)},
	} {
		t.Run("curl/"+tc.name, func(t *testing.T) {
			out, err := exec.Command(curl, "--silent", "--show-error", "--fail", "--max-time", "20",
				"--cacert", root, tc.flag, "--write-out", "\n%{http_version} %{http_code}", tc.url).CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.HasSuffix(s, "\n"+tc.version+" 200") {
				t.Errorf("curl %s ended %q, want HTTP/%s 200", tc.flag, s[max(0, len(s)-20):], tc.version)
			}
			for _, want := range []string{`href="./what%3F.txt"`, "notes &lt;draft&gt;.md", `href="./docs/"`} {
				if !strings.Contains(s, want) {
					t.Errorf("listing lacks %s", want)
				}
			}
			if strings.Contains(s, ".env") {
				t.Errorf("listing shows .env")
			}
		})
	}
	t.Run("curl/gzip and 304", func(t *testing.T) {
		out, err := exec.Command(curl, "-sS", "--cacert", root, "--compressed", "-D", "-", "-o", "/dev/null", p.url+"style.css").CombinedOutput()
		if err != nil || !strings.Contains(strings.ToLower(string(out)), "content-encoding: gzip") {
			t.Errorf("no gzip: %v\n%s", err, out)
		}
		out, _ = exec.Command(curl, "-sS", "--cacert", root, "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT", p.url+"style.css").CombinedOutput()
		if string(out) != "304" {
			t.Errorf("If-Modified-Since = %s", out)
		}
	})
	t.Run("curl/untrusted without the root", func(t *testing.T) {
		out, err := exec.Command(curl, "-sS", "--max-time", "20", "--capath", t.TempDir(), "--cacert", "/dev/null", p.url).CombinedOutput()
		if err == nil {
			t.Errorf("curl trusted the certificate without the root: %s", out)
		}
	})
	t.Run("curl/dotfile and traversal", func(t *testing.T) {
		for target, want := range map[string]string{"/.env": "404", "/%2e%2e/%2e%2e/etc/passwd": "400", "/..%2f..%2fetc%2fpasswd": "400"} {
			out, _ := exec.Command(curl, "-sS", "--path-as-is", "--cacert", root, "-o", "/dev/null", "-w", "%{http_code}", strings.TrimSuffix(p.url, "/")+target).CombinedOutput()
			if string(out) != want {
				t.Errorf("GET %s = %s, want %s", target, out, want)
			}
		}
	})

	p.stop(t)
	log := p.stderr.String()
	for _, want := range []string{" GET / 200 ", " GET /style.css 200 ", " GET /.env 404 ", "shutting down", "not trusted on this machine", "run 'devca init' to trust it"} {
		if !strings.Contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "TLS handshake error") {
		t.Errorf("handshake noise in the log:\n%s", log)
	}

	// A second start reuses the cached certificate and says nothing new.
	p = startServe(t, home, "--quiet", "--addr", "localhost:0", site)
	if strings.Contains(p.stderr.String(), "issued a certificate") || strings.Contains(p.stderr.String(), "created a CA") {
		t.Errorf("second start issued again:\n%s", p.stderr.String())
	}
	p.stop(t)
}

// trustingHome returns a HOME whose NSS database (~/.pki/nssdb, which
// Chromium on Linux reads) trusts the root in rootFile, and nothing else
// on the machine changes.
func trustingHome(t *testing.T, certutil, rootFile string) string {
	t.Helper()
	userHome := t.TempDir()
	nssdb := "sql:" + filepath.Join(userHome, ".pki", "nssdb")
	os.MkdirAll(filepath.Join(userHome, ".pki", "nssdb"), 0o700)
	for _, args := range [][]string{
		{"-d", nssdb, "-N", "--empty-password"},
		{"-d", nssdb, "-A", "-n", "devca test root", "-t", "C,,", "-i", rootFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return userHome
}

// chromiumCommand is headless Chromium with the test flags, in userHome.
func chromiumCommand(chromium, userHome string, args ...string) *exec.Cmd {
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + filepath.Join(userHome, "profile")}
	cmd := exec.Command(chromium, append(base, args...)...)
	// Chromium keeps shared memory files in TMPDIR (--disable-dev-shm-usage)
	// and leaves some behind; userHome is removed after the test.
	tmp := filepath.Join(userHome, "tmp")
	os.MkdirAll(tmp, 0o700)
	cmd.Env = append(os.Environ(), "HOME="+userHome, "TMPDIR="+tmp)
	return cmd
}

// TestServeChromium loads the listing in headless Chromium, which trusts
// the devca root only through an NSS database in its own HOME: no system
// trust store changes and no --ignore-certificate-errors. It saves a
// screenshot for a person to look at and checks the DOM.
func TestServeChromium(t *testing.T) {
	t.Parallel()
	chromium := requireTool(t, "chromium")
	certutil := requireTool(t, "certutil")
	home := filepath.Join(t.TempDir(), "cahome")
	site := listingSite(t)
	p := startServe(t, home, "--quiet", "--addr", "localhost:0", site)
	defer p.stop(t)

	userHome := trustingHome(t, certutil, filepath.Join(home, "rootCA.pem"))
	browser := func(args ...string) string {
		t.Helper()
		stdout, stderr, err := runOutputWithin(t, chromiumCommand(chromium, userHome, args...), 90*time.Second)
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr)
		}
		return stdout
	}

	dom := browser("--dump-dom", p.url)
	for _, want := range []string{"my-site", `href="./what%3F.txt"`, "notes &lt;draft&gt;.md", `href="./docs/"`, "style.css", "3.7 KiB"} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %s (a certificate error page instead?)\n%s", want, dom[:min(len(dom), 2000)])
		}
	}
	if strings.Contains(dom, "ERR_CERT") || strings.Contains(dom, "Your connection is not private") {
		t.Fatalf("Chromium did not trust the devca certificate")
	}

	dir := artifactDir(t)
	for _, shot := range []struct{ file, size, extra string }{
		{"serve-listing.png", "1000,640", "--blink-settings=preferredColorScheme=1"},
		{"serve-listing-phone.png", "390,760", "--blink-settings=preferredColorScheme=1"},
		{"serve-listing-dark.png", "1000,640", "--blink-settings=preferredColorScheme=0"},
	} {
		path := filepath.Join(dir, shot.file)
		os.Remove(path)
		browser("--window-size="+shot.size, "--hide-scrollbars", shot.extra, "--screenshot="+path, p.url)
		fi, err := os.Stat(path)
		if err != nil || fi.Size() < 2000 {
			t.Fatalf("no screenshot at %s: %v", path, err)
		}
		t.Logf("screenshot of the listing: %s", path)
	}
}

// TestServeBusyAddr: a busy --addr is an error that names a free port, and
// nothing else happens (no CA is created).
func TestServeBusyAddr(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	home := filepath.Join(t.TempDir(), "cahome")
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if k == "DEVCA_HOME" {
			return home
		}
		return ""
	}
	code := run([]string{"devca", "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port), t.TempDir()}, strings.NewReader(""), &stdout, &stderr, getenv)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if want := fmt.Sprintf("devca: error: port %d is busy on 127.0.0.1\n", port); !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("stderr = %q, want %q first", stderr.String(), want)
	}
	if !strings.Contains(stderr.String(), "devca: hint: stop the program using it, or use --addr 127.0.0.1:") {
		t.Errorf("no free-port hint: %q", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q", stdout.String())
	}
	if _, err := os.Stat(home); err == nil {
		t.Errorf("a failed serve created the CA home")
	}
}

// TestServeDefaultPortBusy: without --addr a busy 8443 moves to the next
// free port, and says so.
func TestServeDefaultPortBusy(t *testing.T) {
	if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", defaultServePort)); err == nil {
		defer ln.Close()
	} // else something already holds it, which is just as busy
	p := startServe(t, filepath.Join(t.TempDir(), "cahome"), "--quiet", t.TempDir())
	defer p.stop(t)
	if p.url == fmt.Sprintf("https://localhost:%d/", defaultServePort) {
		t.Fatalf("served on the busy port: %s", p.url)
	}
	if !strings.Contains(p.stderr.String(), fmt.Sprintf("devca: warning: port %d is busy; using", defaultServePort)) {
		t.Errorf("no warning about the busy port:\n%s", p.stderr.String())
	}
}

// TestServeProxyAndRedirect runs the binary as a TLS proxy in front of a
// plain-HTTP upstream, with a plain-HTTP redirect listener.
func TestServeProxyAndRedirect(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream %s proto=%s", r.URL.Path, r.Header.Get("X-Forwarded-Proto"))
	}))
	defer upstream.Close()
	home := filepath.Join(t.TempDir(), "cahome")
	p := startServe(t, home, "--addr", "localhost:0", "--proxy", upstream.URL,
		"--redirect-http", "127.0.0.1:0", "--header", "X-Dev: yes")
	defer p.stop(t)
	port := p.port(t)
	// The note comes before the URL on stdout, but stderr is copied by
	// another goroutine.
	p.waitStderr(t, "devca: redirecting plain HTTP on 127.0.0.1:")
	m := regexp.MustCompile(`devca: redirecting plain HTTP on (127\.0\.0\.1:[0-9]+) to HTTPS\n`).FindStringSubmatch(p.stderr.String())
	if m == nil || strings.HasSuffix(m[1], ":0") {
		t.Fatalf("no redirect address in stderr:\n%s", p.stderr.String())
	}
	redirectAddr := m[1]

	rootPEM, err := os.ReadFile(filepath.Join(home, "rootCA.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
		Timeout:   10 * time.Second,
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(p.url + "api/users")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "upstream /api/users proto=https" || resp.Header.Get("X-Dev") != "yes" || resp.ProtoMajor != 2 {
		t.Errorf("proxied = %s %q X-Dev %q", resp.Proto, b, resp.Header.Get("X-Dev"))
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err = noFollow.Get("http://" + redirectAddr + "/page?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := fmt.Sprintf("https://127.0.0.1:%d/page?x=1", port); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("redirect = %d %q, want %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	// Following it lands on the proxied page, trusted.
	resp, err = client.Get("http://" + redirectAddr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "upstream /x proto=https" {
		t.Errorf("after redirect: %q", b)
	}
}

// TestServeGracefulShutdown: SIGTERM while a request is in flight lets it
// finish, then exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		fmt.Fprint(w, "slow answer")
	}))
	defer upstream.Close()
	defer func() {
		select {
		case release <- struct{}{}: // should the test end early
		default:
		}
	}()
	home := filepath.Join(t.TempDir(), "cahome")
	p := startServe(t, home, "--quiet", "--addr", "localhost:0", "--proxy", upstream.URL)

	rootPEM, _ := os.ReadFile(filepath.Join(home, "rootCA.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 20 * time.Second}
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := client.Get(p.url + "slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{string(b), err}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	// The answer comes only once the shutdown is under way: devca has said
	// so and accepts no more connections.
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitStderr(t, "devca: shutting down")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port(t)))
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("devca still accepts connections 10s after SIGTERM")
		}
	}
	release <- struct{}{}
	p.wait(t) // exit status 0
	r := <-got
	if r.err != nil || r.body != "slow answer" {
		t.Errorf("in-flight request during shutdown: %q, %v", r.body, r.err)
	}
}

func TestServeURLs(t *testing.T) {
	lan := []net.IP{net.ParseIP("192.168.1.20"), net.ParseIP("fd00::5")}
	for i, tc := range []struct {
		o    serveOptions
		lan  []net.IP
		want string
	}{
		{serveOptions{host: "localhost"}, nil, "https://localhost:8443/"},
		{serveOptions{host: "127.0.0.1"}, nil, "https://127.0.0.1:8443/"},
		{serveOptions{host: "::1"}, nil, "https://[::1]:8443/"},
		{serveOptions{host: "0.0.0.0"}, nil, "https://localhost:8443/"},
		{serveOptions{host: "localhost", names: []string{"app.localhost", "*.app.localhost", "app.localhost"}}, nil, "https://localhost:8443/ https://app.localhost:8443/"},
		{serveOptions{host: ""}, lan, "https://localhost:8443/ https://192.168.1.20:8443/ https://[fd00::5]:8443/"},
	} {
		if got := strings.Join(serveURLs(&tc.o, 8443, tc.lan), " "); got != tc.want {
			t.Errorf("Test %d: %q, want %q", i, got, tc.want)
		}
	}
}

// TestServeCertFile serves a certificate the user already has: no CA is
// created and the served leaf is that one.
func TestServeCertFile(t *testing.T) {
	t.Parallel()
	other := filepath.Join(t.TempDir(), "othercahome")
	cons, _ := ca.DefaultConstraints(nil)
	auth, err := ca.Create(other, ca.CreateOptions{Constraints: cons})
	if err != nil {
		t.Fatal(err)
	}
	names, _, _ := ca.ParseNames([]string{"localhost", "127.0.0.1"})
	leaf, err := auth.Issue(ca.LeafRequest{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "mine.pem"), filepath.Join(dir, "mine-key.pem")
	os.WriteFile(certFile, leaf.CertPEM, 0o644)
	os.WriteFile(keyFile, leaf.KeyPEM, 0o600)

	home := filepath.Join(t.TempDir(), "cahome")
	p := startServe(t, home, "--quiet", "--addr", "localhost:0", "--cert-file", certFile, "--key-file", keyFile, dir)
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port(t)), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	served := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	p.stop(t)
	if !served.Equal(leaf.Cert) {
		t.Errorf("served %v, want the --cert-file certificate", served.Subject)
	}
	if _, err := os.Stat(home); err == nil {
		t.Errorf("--cert-file created a CA home")
	}
	if !strings.Contains(p.stderr.String(), "does not trust the certificate in the --cert-file") {
		t.Errorf("no trust warning:\n%s", p.stderr.String())
	}
}

func TestQRLines(t *testing.T) {
	qr, err := qrLines("http://192.168.1.20:8444/")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(qr, "\n"), "\n")
	width := len([]rune(lines[0]))
	if len(lines) < 10 || width < 21 {
		t.Fatalf("QR code is %d x %d cells", width, len(lines))
	}
	for i, l := range lines {
		if n := len([]rune(l)); n != width {
			t.Errorf("line %d is %d cells wide, want %d", i, n, width)
		}
		if strings.Trim(l, " █▀▄") != "" {
			t.Errorf("line %d has other characters: %q", i, l)
		}
	}
}

// TestServeNeverServesKeys: a CA home inside the served folder stays
// private, and serving the CA home itself is refused.
func TestServeNeverServesKeys(t *testing.T) {
	t.Parallel()
	curl := requireTool(t, "curl")
	site := t.TempDir()
	os.WriteFile(filepath.Join(site, "index.html"), []byte("<h1>site</h1>"), 0o644)
	home := filepath.Join(site, "cahome")
	p := startServe(t, home, "--quiet", "--dotfiles", "--addr", "localhost:0", site)
	root := filepath.Join(home, "rootCA.pem")
	for _, path := range []string{"cahome/rootCA-key.pem", "cahome/rootCA.pem", "cahome/serve/serve.pem", "cahome/"} {
		out, _ := exec.Command(curl, "-sS", "--cacert", root, "-o", "/dev/null", "-w", "%{http_code}", p.url+path).CombinedOutput()
		if string(out) != "404" {
			t.Errorf("GET /%s = %s, want 404", path, out)
		}
	}
	p.stop(t)

	var stderr bytes.Buffer
	getenv := func(k string) string {
		if k == "DEVCA_HOME" {
			return home
		}
		return ""
	}
	code := run([]string{"devca", "serve", "--addr", "127.0.0.1:0", home}, strings.NewReader(""), io.Discard, &stderr, getenv)
	if code != 1 || !strings.Contains(stderr.String(), "devca: error: refusing to serve a folder that holds private keys") || !strings.Contains(stderr.String(), "devca: hint: serve a folder outside the CA home") {
		t.Errorf("serving the CA home: exit %d, stderr %q", code, stderr.String())
	}
}

// TestServeChromiumLiveReload opens a page in Chromium with --live-reload,
// edits the file, and watches the access log for the browser's reload: the
// injected script and the event stream work in a real browser over HTTPS.
func TestServeChromiumLiveReload(t *testing.T) {
	t.Parallel()
	chromium := requireTool(t, "chromium")
	certutil := requireTool(t, "certutil")
	home := filepath.Join(t.TempDir(), "cahome")
	site := t.TempDir()
	page := filepath.Join(site, "index.html")
	os.WriteFile(page, []byte(`<html><head><link rel="stylesheet" href="style.css"></head><body><h1>v1</h1></body></html>`), 0o644)
	css := filepath.Join(site, "style.css")
	os.WriteFile(css, []byte("h1 { color: red }"), 0o644)
	p := startServe(t, home, "--live-reload", "--addr", "localhost:0", site)
	defer p.stop(t)
	userHome := trustingHome(t, certutil, filepath.Join(home, "rootCA.pem"))

	// --virtual-time-budget keeps the page open; the open event stream
	// keeps it from ever finishing, so the test ends Chromium itself.
	cmd := chromiumCommand(chromium, userHome, "--virtual-time-budget=60000", "--dump-dom", p.url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// SIGTERM lets Chromium take its helper processes down with it.
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	waitLog := func(what string, count int) {
		t.Helper()
		if log, ok := p.stderr.waitFor(func(s string) bool { return strings.Count(s, what) >= count }, 45*time.Second); !ok {
			t.Fatalf("no %d x %q in the access log within 45s:\n%s", count, what, log)
		}
	}
	waitLog(" GET / 200 ", 1)
	// The event stream is logged only when it ends, so the test cannot see
	// when the page has subscribed: it edits the page every second until
	// the browser reloads it.
	deadline := time.Now().Add(45 * time.Second)
	for i := 2; strings.Count(p.stderr.String(), " GET / 200 ") < 2; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("Chromium did not reload the page within 45s:\n%s", p.stderr.String())
		}
		os.WriteFile(page, []byte(fmt.Sprintf(`<html><head><link rel="stylesheet" href="style.css"></head><body><h1>v%d</h1></body></html>`, i)), 0o644)
		time.Sleep(time.Second)
	}

	// A stylesheet edit reloads the stylesheet alone, not the page.
	time.Sleep(500 * time.Millisecond)
	pages := strings.Count(p.stderr.String(), " GET / 200 ")
	deadline = time.Now().Add(45 * time.Second)
	for i := 0; !strings.Contains(p.stderr.String(), " GET /style.css?devca="); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("Chromium did not reload the stylesheet within 45s:\n%s", p.stderr.String())
		}
		os.WriteFile(css, []byte(fmt.Sprintf("h1 { color: red; margin: %dpx }", i)), 0o644)
		time.Sleep(time.Second)
	}
	if n := strings.Count(p.stderr.String(), " GET / 200 "); n != pages {
		t.Errorf("a stylesheet edit reloaded the page (%d loads, want %d):\n%s", n, pages, p.stderr.String())
	}
}

// TestServeReportsTrustedRoot: when the system trust store (here
// SSL_CERT_FILE, which Go reads on Linux) holds the root, serve says so and
// gives no hint.
func TestServeReportsTrustedRoot(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("SSL_CERT_FILE replaces the system roots only on Linux and BSDs")
	}
	home := filepath.Join(t.TempDir(), "cahome")
	var stderr bytes.Buffer
	getenv := func(k string) string {
		if k == "DEVCA_HOME" {
			return home
		}
		return ""
	}
	if code := run([]string{"devca", "init", "--no-trust"}, strings.NewReader(""), io.Discard, &stderr, getenv); code != 0 {
		t.Fatalf("init: %d %s", code, stderr.String())
	}
	p := startServeEnv(t, []string{"DEVCA_HOME=" + home, "SSL_CERT_FILE=" + filepath.Join(home, "rootCA.pem"), "SSL_CERT_DIR=" + t.TempDir()},
		"--quiet", "--addr", "localhost:0", t.TempDir())
	p.stop(t)
	if !strings.Contains(p.stderr.String(), "devca: the root CA is trusted on this machine") || strings.Contains(p.stderr.String(), "hint") {
		t.Errorf("stderr:\n%s", p.stderr.String())
	}
}

// TestServeWarningsFormat: problems met while serving (here an upstream
// that is down) reach stderr as devca warnings; the client gets the 502 page.
func TestServeWarningsFormat(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	home := filepath.Join(t.TempDir(), "cahome")
	p := startServe(t, home, "--quiet", "--addr", "localhost:0", "--proxy", down)
	rootPEM, _ := os.ReadFile(filepath.Join(home, "rootCA.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := client.Get(p.url + "api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	p.stop(t)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	if want := "devca: warning: proxying GET /api to " + down + ": "; !strings.Contains(p.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
	}
}
