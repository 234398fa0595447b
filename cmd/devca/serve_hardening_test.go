package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeRefusesAtStartup: command lines that would loop, break HTTP or
// read the wrong kind of file are refused before devca serves anything
// and before it creates a CA, with a message that says what and why.
func TestServeRefusesAtStartup(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "site"), 0o755)
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), 200_000), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "key.pem"), []byte("not read"), 0o600)
	fifo := ""
	if mkfifo, err := exec.LookPath("mkfifo"); err == nil {
		fifo = filepath.Join(dir, "fifo.pem")
		if out, err := exec.Command(mkfifo, fifo).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v\n%s", err, out)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		// Item 8: headers that break the protocol or that net/http drops.
		{"header/connection", []string{"--header", "Connection: close", "site"}, exitUsage,
			[]string{`devca: error: invalid --header "Connection: close": it is a hop-by-hop header`, "HTTP/2 forbids it"}},
		{"header/upgrade", []string{"--header", "Upgrade: h2c", "site"}, exitUsage, []string{`"Upgrade: h2c": it is a hop-by-hop header`}},
		{"header/keep-alive", []string{"--header", "keep-alive: timeout=5", "site"}, exitUsage, []string{"hop-by-hop"}},
		{"header/proxy-connection", []string{"--header", "Proxy-Connection: close", "site"}, exitUsage, []string{"hop-by-hop"}},
		{"header/te", []string{"--header", "TE: trailers", "site"}, exitUsage, []string{"hop-by-hop"}},
		{"header/trailer", []string{"--header", "Trailer: X-Sum", "site"}, exitUsage, []string{"hop-by-hop"}},
		{"header/proxy-authenticate", []string{"--header", "Proxy-Authenticate: Basic", "site"}, exitUsage, []string{"hop-by-hop"}},
		{"header/content-length", []string{"--header", "Content-Length: 5", "site"}, exitUsage, []string{`"Content-Length: 5": it frames the body`}},
		{"header/transfer-encoding", []string{"--header", "Transfer-Encoding: chunked", "site"}, exitUsage, []string{"it frames the body"}},
		{"header/content-encoding", []string{"--header", "Content-Encoding: gzip", "site"}, exitUsage, []string{"decode bodies wrongly"}},
		{"header/pseudo", []string{"--header", ":status: 200", "site"}, exitUsage, []string{`":status: 200": pseudo-headers`}},
		{"header/space in name", []string{"--header", "X Frame: DENY", "site"}, exitUsage, []string{"a header name is one word"}},
		{"header/non-ascii name", []string{"--header", "X-Naïve: 1", "site"}, exitUsage, []string{"a header name is one word"}},
		{"header/control character", []string{"--header", "X-A: a\x01b", "site"}, exitUsage, []string{"control character"}},
		{"header/escape", []string{"--header", "X-A: \x1b[31mred", "site"}, exitUsage, []string{"control character"}},
		{"header/line break", []string{"--header", "X-A: a\r\nSet-Cookie: x=y", "site"}, exitUsage, []string{"control character"}},
		{"header/hint", []string{"--header", "Connection: close", "site"}, exitUsage, []string{"devca: hint: --header adds an end-to-end header"}},

		// Item 11: --live-reload has nothing to watch with --proxy alone.
		{"live-reload/proxy only", []string{"--live-reload", "--proxy", "http://localhost:3000"}, exitUsage,
			[]string{"devca: error: --live-reload watches the served FOLDER, and --proxy without a FOLDER serves none", "devca: hint: the dev server behind --proxy reloads its own pages"}},

		// Item 6: --cert-file and --key-file are small regular files.
		{"cert-file/device", []string{"--addr", "127.0.0.1:0", "--cert-file", "/dev/zero", "--key-file", "key.pem", "site"}, exitFailure,
			[]string{`devca: error: reading certificate "/dev/zero": it is a character device, not a regular file`, "devca: hint: check --cert-file and --key-file"}},
		{"cert-file/too large", []string{"--addr", "127.0.0.1:0", "--cert-file", "big.pem", "--key-file", "key.pem", "site"}, exitFailure,
			[]string{`devca: error: reading certificate "big.pem": the file is larger than 1 MiB`}},
		{"key-file/too large", []string{"--addr", "127.0.0.1:0", "--cert-file", "big.pem", "--key-file", "big.pem", "site"}, exitFailure, []string{"larger than 1 MiB"}},
		{"key-file/folder", []string{"--addr", "127.0.0.1:0", "--cert-file", "key.pem", "--key-file", "site"}, exitFailure, []string{`devca: error: reading key "site": it is a folder, not a regular file`}},
		{"cert-file/fifo", []string{"--addr", "127.0.0.1:0", "--cert-file", "fifo.pem", "--key-file", "key.pem", "site"}, exitFailure,
			[]string{`devca: error: reading certificate "fifo.pem": it is a named pipe (FIFO), not a regular file`}},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "fifo") && fifo == "" {
				requireTool(t, "mkfifo")
			}
			home := filepath.Join(t.TempDir(), "cahome")
			var stdout, stderr bytes.Buffer
			cmd := devcaCommand(t, home, dir, append([]string{"serve"}, tc.args...)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := runWithin(t, cmd, 30*time.Second)
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != tc.code {
				t.Fatalf("devca serve %q: %v, want exit status %d\nstderr:\n%s", tc.args, err, tc.code, stderr.String())
			}
			stderrHas(t, stderr.String(), tc.want...)
			if !strings.HasPrefix(stderr.String(), "devca: error: ") {
				t.Errorf("stderr does not start with the error:\n%s", stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if _, err := os.Stat(home); err == nil {
				t.Errorf("the CA home was created")
			}
		})
	}
}

// TestServeRefusesProxyLoop: an upstream that is one of devca's own
// listening addresses is refused at start (exit 2, what and why, what to
// do). It runs the same listen and check as runServe in-process, on ports
// the system chooses: the upstream must name the port devca got, which a
// child process would print only after the check. Runtime loops through
// another server are TestServeProxyLoopBetweenServers.
func TestServeRefusesProxyLoop(t *testing.T) {
	ipv6 := true
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		ipv6 = false
	} else {
		ln.Close()
	}
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherPort := other.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		name     string
		host     string
		lan      bool
		redirect string // --redirect-http; the upstream then names its port
		proxy    string // the upstream, %d being devca's port
		want     []string
	}{
		{name: "same address", host: "localhost", proxy: "http://localhost:%d",
			want: []string{`devca: error: invalid --proxy "http://localhost:%d": the upstream is this server's own address, so requests would loop: it listens on 127.0.0.1:%d`,
				"devca: hint: point --proxy at the development server's own port"}},
		{name: "127.0.0.1 for localhost", host: "localhost", proxy: "http://127.0.0.1:%d/app", want: []string{"requests would loop"}},
		{name: "localhost for 127.0.0.1", host: "127.0.0.1", proxy: "http://localhost:%d", want: []string{"requests would loop"}},
		{name: "0.0.0.0 upstream", host: "localhost", proxy: "http://0.0.0.0:%d", want: []string{"requests would loop"}},
		{name: "all interfaces", host: "0.0.0.0", proxy: "http://localhost:%d", want: []string{"requests would loop"}},
		{name: "lan", host: "", lan: true, proxy: "http://127.0.0.1:%d", want: []string{"requests would loop"}},
		{name: "https", host: "localhost", proxy: "https://localhost:%d", want: []string{"requests would loop"}},
		{name: "redirect listener", host: "localhost", redirect: "localhost:0", proxy: "http://127.0.0.1:%d",
			want: []string{"requests would loop: it listens on 127.0.0.1:%d"}},
		{name: "ipv6", host: "::1", proxy: "http://[::1]:%d", want: []string{"it listens on [::1]:%d"}},
		{name: "ipv6 all interfaces", host: "::", proxy: "http://127.0.0.1:%d", want: []string{"it listens on [::]:%d"}},
		{name: "another port", host: "localhost", proxy: fmt.Sprintf("http://127.0.0.1:%d", otherPort)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.name, "ipv6") && !ipv6 {
				t.Skip("no IPv6 loopback on this machine")
			}
			var stderr bytes.Buffer
			e := &env{stdout: io.Discard, stderr: &stderr}
			o := &serveOptions{host: tc.host, port: 0, addrGiven: true, lan: tc.lan, redirectHTTP: tc.redirect}
			lns, err := listen(e, o)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, ln := range lns {
					ln.Close()
				}
			}()
			port := lns[0].Addr().(*net.TCPAddr).Port
			if tc.redirect != "" {
				rl, err := net.Listen("tcp", tc.redirect)
				if err != nil {
					t.Fatal(err)
				}
				lns = append(lns, rl)
				port = rl.Addr().(*net.TCPAddr).Port
			}
			proxy := tc.proxy
			if strings.Contains(proxy, "%d") {
				proxy = fmt.Sprintf(proxy, port)
			}
			if o.proxy, err = url.Parse(proxy); err != nil {
				t.Fatal(err)
			}
			code := e.exit(checkProxyLoop(o, lns))
			if len(tc.want) == 0 {
				if code != exitOK {
					t.Errorf("--proxy %s: exit %d, want 0\n%s", proxy, code, stderr.String())
				}
				return
			}
			if code != exitUsage {
				t.Errorf("--proxy %s: exit %d, want %d", proxy, code, exitUsage)
			}
			var wants []string
			for _, w := range tc.want {
				wants = append(wants, strings.ReplaceAll(w, "%d", fmt.Sprint(port)))
			}
			stderrHas(t, stderr.String(), wants...)
		})
	}
}

// TestServeProxyLoopBetweenServers: two devca servers proxying to each
// other form a loop the start-up check cannot see (each upstream is the
// other's port), so the hop header must stop it. Server a's upstream is a
// relay the test holds open, so a can start before b exists; the relay
// then forwards to b, whose upstream is a.
func TestServeProxyLoopBetweenServers(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	home := filepath.Join(work, "cahome")
	if out, err := devcaCommand(t, home, work, "init", "--no-trust").CombinedOutput(); err != nil {
		t.Fatalf("devca init: %v\n%s", err, out)
	}
	root := filepath.Join(home, "rootCA.pem")
	relay, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	relayURL := "https://" + relay.Addr().String()

	// Each server trusts the devca root for its HTTPS upstream.
	start := func(upstream string) *serveProcess {
		cmd := devcaCommand(t, home, work, "serve", "--addr", "localhost:0", "--proxy", upstream)
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+root, "SSL_CERT_DIR=")
		return startServeCmd(t, cmd)
	}
	a := start(relayURL)
	b := start(a.url)
	bAddr := fmt.Sprintf("127.0.0.1:%d", b.port(t))
	go func() {
		for {
			in, err := relay.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", bAddr)
				if err != nil {
					return
				}
				defer out.Close()
				go io.Copy(out, in)
				io.Copy(in, out)
			}()
		}
	}()

	rootPEM, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(a.url + "api?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	if resp.StatusCode != http.StatusLoopDetected {
		t.Errorf("status %d, want 508", resp.StatusCode)
	}
	for _, want := range []string{"The proxy leads back to devca", "<code>" + relayURL + "</code>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the 508 page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(string(page), "s3cret") {
		t.Errorf("the 508 page shows the query:\n%s", page)
	}

	a.stop(t)
	b.stop(t)
	stderrHas(t, a.stderr.String(), "devca: warning: proxying GET /api to "+relayURL+": the request came back to this server, so the upstream leads to devca itself (a proxy loop)",
		" GET /api?token=s3cret 508 ")
	stderrHas(t, b.stderr.String(), " GET /api?token=s3cret 508 ")
}

// withoutRootPowers returns cmd changed to run without the capabilities
// that let root read and write any file, so that file modes bind it as
// they bind every other user. For other users it returns cmd as it is.
func withoutRootPowers(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		return cmd
	}
	setpriv := requireTool(t, "setpriv")
	c := exec.Command(setpriv, append([]string{"--bounding-set=-dac_override,-dac_read_search,-fowner", "--"}, cmd.Args...)...)
	c.Dir, c.Env = cmd.Dir, cmd.Env
	return c
}

// treeState lists every path under dir with its size, to show that a
// command changed nothing.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
			return nil
		}
		fi, _ := d.Info()
		fmt.Fprintf(&b, "%s %v %d\n", p, fi.Mode(), fi.Size())
		return nil
	})
	return b.String()
}

// TestServeUnreadableFolder: a folder devca cannot read is refused before
// a CA or a certificate is made, so the bad input changes nothing.
func TestServeUnreadableFolder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode os.FileMode
		init bool
	}{
		{"no permissions, fresh home", 0o000, false},
		{"no permissions, existing CA", 0o000, true},
		{"read but no search", 0o600, true},
		{"search but no read", 0o300, true},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			work := t.TempDir()
			home := filepath.Join(work, "cahome")
			if tc.init {
				if out, err := devcaCommand(t, home, work, "init", "--no-trust").CombinedOutput(); err != nil {
					t.Fatalf("devca init: %v\n%s", err, out)
				}
			}
			site := filepath.Join(work, "locked")
			os.Mkdir(site, 0o755)
			os.WriteFile(filepath.Join(site, "index.html"), []byte("<h1>hi</h1>"), 0o644)
			if err := os.Chmod(site, tc.mode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(site, 0o755) })
			before := treeState(t, home)

			var stdout, stderr bytes.Buffer
			cmd := withoutRootPowers(t, devcaCommand(t, home, work, "serve", "--addr", "127.0.0.1:0", "locked"))
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := runWithin(t, cmd, 30*time.Second)
			if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != exitFailure {
				t.Fatalf("devca serve locked: %v, want exit status 1\nstderr:\n%s", err, stderr.String())
			}
			stderrHas(t, stderr.String(), `devca: error: reading folder "locked": permission denied`, "devca: hint: make it readable (chmod u+rx), or serve another folder")
			if strings.Contains(stderr.String(), "issued a certificate") || strings.Contains(stderr.String(), "created a CA") {
				t.Errorf("devca made a CA or a certificate first:\n%s", stderr.String())
			}
			if after := treeState(t, home); after != before {
				t.Errorf("the CA home changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// runWithin runs cmd and ends it when it takes longer than d: SIGTERM
// (which lets Chromium take its helpers down), then SIGKILL.
func runWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		t.Fatalf("%q still running after %v", cmd.Args, d)
		return nil
	}
}

// TestServeReadOnlyHome: with a CA home devca cannot write to, serve still
// starts with a certificate from the CA kept in memory, warns that it was
// not cached, and writes nothing.
func TestServeReadOnlyHome(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	home := filepath.Join(work, "cahome")
	if out, err := devcaCommand(t, home, work, "init", "--no-trust").CombinedOutput(); err != nil {
		t.Fatalf("devca init: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(work, "index.html"), []byte("<h1>read-only home</h1>"), 0o644)
	var dirs []string
	filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for _, d := range dirs {
		if err := os.Chmod(d, 0o500); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			os.Chmod(d, 0o700)
		}
	})
	before := treeState(t, home)

	cmd := withoutRootPowers(t, devcaCommand(t, home, work, "serve", "--addr", "127.0.0.1:0", "."))
	p := startServeCmd(t, cmd)
	// The cache is written after the server starts answering, so the
	// warning about it may follow the URL.
	p.waitStderr(t, "it lives in memory for this run")
	log := p.stderr.String()
	stderrHas(t, log, "devca: issued a certificate for localhost, 127.0.0.1, ::1",
		"devca: warning: the certificate is not cached in the CA home (saving the serve certificate: ",
		"permission denied): it lives in memory for this run, and the next start issues another")
	rootPEM, err := os.ReadFile(filepath.Join(home, "rootCA.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(p.url)
	if err != nil {
		t.Fatalf("GET %s with the devca root: %v\nstderr:\n%s", p.url, err, p.stderr.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "read-only home") {
		t.Errorf("GET / = %d %q", resp.StatusCode, body)
	}
	p.stop(t)
	if after := treeState(t, home); after != before {
		t.Errorf("the read-only CA home changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestServeLANWithoutAddress: --lan on a machine with no LAN address says
// so plainly, with what to do, instead of printing an empty list.
func TestServeLANWithoutAddress(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	home := filepath.Join(work, "cahome")
	os.WriteFile(filepath.Join(work, "index.html"), []byte("hi"), 0o644)
	cmd := devcaCommand(t, home, work, "serve", "--lan", "--addr", ":0", ".")
	cmd.Env = append(cmd.Env, "DEVCA_TEST_NO_LAN=1")
	p := startServeCmd(t, cmd)
	p.stop(t)
	log := p.stderr.String()
	stderrHas(t, log, "devca: warning: --lan found no LAN address: no network interface of this machine has a private address",
		"devca: hint: connect this machine to a Wi-Fi or wired network and start 'devca serve --lan' again")
	if strings.Contains(log, "phones on this network can get the root CA at") {
		t.Errorf("an empty list of addresses for phones:\n%s", log)
	}
}

// stderrHas reports each of wants that the output of a command lacks.
func stderrHas(t *testing.T, stderr string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
