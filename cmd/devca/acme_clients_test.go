package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/devca/devca/ca"
)

// The real ACME clients from Debian's packages (certbot, lego, Caddy)
// against devca acme. Each client runs with its own devca acme in a network
// namespace that has only loopback, and a mount namespace whose /etc/hosts
// maps the test names (app.test, www.app.test, caddy.test) to 127.0.0.1:
// nothing leaves the machine, no real name is looked up, and no client
// writes outside its test's temporary folder. devca acme resolves the names
// through that /etc/hosts (no test hook), and dns-01 TXT records come from a
// DNS server the test runs inside the namespace (acmeNS.serveDNS).

// acmeNS is a loopback-only network namespace with its own /etc/hosts,
// held open by a sleeping process; commands enter it with nsenter.
type acmeNS struct {
	pid  int
	dir  string // the test's temporary folder
	home string // devca's CA home
	root string // the CA's root certificate
	acme *serveProcess
	url  string // devca acme's directory URL
}

const acmeNSHosts = "127.0.0.1 localhost app.test www.app.test caddy.test\n::1 localhost\n"

// newACMENS makes the namespace, or skips (fails under CI=true) without
// root, unshare, nsenter, ip, openssl, curl or the tools named.
func newACMENS(t *testing.T, tools ...string) *acmeNS {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the ACME client tests need root for unshare under CI=true")
		}
		t.Skip("unshare --net --mount needs root")
	}
	for _, tool := range append([]string{"unshare", "nsenter", "ip", "openssl", "curl"}, tools...) {
		requireTool(t, tool)
	}
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(acmeNSHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	// unshare makes the new mount namespace's mounts private: the bind
	// mount is seen only inside it.
	holder := exec.Command("unshare", "--net", "--mount", "sh", "-c",
		`mount --bind "$1" /etc/hosts && ip link set lo up && echo ready && exec sleep 600`, "sh", hosts)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	holder.Stderr = &stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		holder.Process.Kill()
		holder.Wait()
	})
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		holder.Process.Kill()
		holder.Wait()
		t.Fatalf("making the namespace: %q %s", line, stderr.String())
	}
	home := filepath.Join(dir, "devca")
	return &acmeNS{pid: holder.Process.Pid, dir: dir, home: home, root: filepath.Join(home, ca.RootCertFile)}
}

// command returns name args... to run inside the namespace, in the test's
// folder, with env added to a minimal environment.
func (ns *acmeNS) command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--target", strconv.Itoa(ns.pid), "--net", "--mount", "--", name}, args...)...)
	cmd.Dir = ns.dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(ns.dir, "userhome"), "LANG=C.UTF-8"}, env...)
	return cmd
}

// run runs a command inside the namespace, failing the test when it fails,
// and returns its combined output.
func (ns *acmeNS) run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := ns.command(ctx, env, name, args...).CombinedOutput()
	if err != nil {
		msg := ""
		if ns.acme != nil {
			msg = "\ndevca acme's stderr:\n" + ns.acme.stderr.String()
		}
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, msg)
	}
	return string(out)
}

// startACME runs devca acme inside the namespace on 127.0.0.1:14000 with
// args, and waits for its directory URL.
func (ns *acmeNS) startACME(t *testing.T, args ...string) {
	t.Helper()
	cmd := devcaCommand(t, ns.home, ns.dir, append([]string{"acme", "--addr", "127.0.0.1:14000"}, args...)...)
	// nsenter execs devca directly (no fork without --pid), so the test's
	// SIGTERM reaches it; the path keeps "devca" as the program name.
	cmd.Args = append([]string{"nsenter", "--target", strconv.Itoa(ns.pid), "--net", "--mount", "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path, _ = exec.LookPath("nsenter")
	ns.acme = startServeCmd(t, cmd)
	ns.url = ns.acme.url
	if ns.url != "https://127.0.0.1:14000/directory" {
		t.Fatalf("devca acme printed %q first, want its directory URL", ns.url)
	}
}

// inNetNS runs fn on an OS thread that has joined the namespace's network
// namespace: sockets fn makes belong to it. The thread goes back to the
// test's namespace after fn, or ends with its goroutine when it cannot.
func (ns *acmeNS) inNetNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", ns.pid))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("joining the namespace: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			// The thread stays locked and exits with this goroutine.
			errc <- fmt.Errorf("leaving the namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// serveDNS answers DNS queries on 127.0.0.1:53 inside the namespace: A
// 127.0.0.1 for every name, and for TXT the lines of the file named after
// the query (without the final dot) in the returned folder, where the
// clients' hook scripts write their dns-01 records.
func (ns *acmeNS) serveDNS(t *testing.T) string {
	t.Helper()
	zone := filepath.Join(ns.dir, "zone")
	if err := os.Mkdir(zone, 0o755); err != nil {
		t.Fatal(err)
	}
	var conn net.PacketConn
	if err := ns.inNetNS(func() (err error) {
		conn, err = net.ListenPacket("udp", "127.0.0.1:53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if answer, err := dnsAnswer(buf[:n], zone); err == nil {
				conn.WriteTo(answer, from)
			}
		}
	}()
	return zone
}

// dnsAnswer answers one query from the files in zone.
func dnsAnswer(query []byte, zone string) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
	switch q.Type {
	case dnsmessage.TypeA:
		if err := b.AResource(rh, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, err
		}
	case dnsmessage.TypeSOA, dnsmessage.TypeNS:
		// app.test is a zone with itself as its name server, so that
		// lego's propagation check finds the authoritative server (it
		// asks for the TXT record there too).
		if strings.ToLower(q.Name.String()) != "app.test." {
			break
		}
		if q.Type == dnsmessage.TypeNS {
			if err := b.NSResource(rh, dnsmessage.NSResource{NS: q.Name}); err != nil {
				return nil, err
			}
			break
		}
		if err := b.SOAResource(rh, dnsmessage.SOAResource{NS: q.Name, MBox: dnsmessage.MustNewName("hostmaster.app.test."),
			Serial: 1, Refresh: 60, Retry: 60, Expire: 600, MinTTL: 0}); err != nil {
			return nil, err
		}
	case dnsmessage.TypeTXT:
		name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
		data, _ := os.ReadFile(filepath.Join(zone, filepath.Base(name)))
		for _, v := range strings.Fields(string(data)) {
			if err := b.TXTResource(rh, dnsmessage.TXTResource{TXT: []string{v}}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// writeScript writes an executable script into the test's folder.
func (ns *acmeNS) writeScript(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(ns.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkCert checks that the first certificate in certFile is for names
// (the first one is the subject the client asked for first), verifies
// against the root with openssl, and that curl, trusting only the root,
// accepts it served with keyFile at each name. It returns the serial.
func (ns *acmeNS) checkCert(t *testing.T, certFile, keyFile string, names ...string) string {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("no PEM in %s", certFile)
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(leaf.DNSNames, " ")
	for _, n := range names {
		if !strings.Contains(" "+got+" ", " "+n+" ") {
			t.Errorf("%s names %q, want %q among them", certFile, got, n)
		}
	}
	leafFile := filepath.Join(ns.dir, "leaf.pem")
	if err := os.WriteFile(leafFile, pem.EncodeToMemory(block), 0o644); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(names[0], "*.")
	if out, err := exec.Command("openssl", "verify", "-CAfile", ns.root, "-purpose", "sslserver", "-verify_hostname", host, leafFile).CombinedOutput(); err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl verify %s for %s: %v\n%s", certFile, host, err, out)
	}
	if keyFile == "" {
		return leaf.SerialNumber.Text(16)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if err := ns.inNetNS(func() (err error) {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "served "+r.Host) }), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, n := range names {
		if strings.HasPrefix(n, "*.") {
			n = "www" + n[1:]
		}
		u := fmt.Sprintf("https://%s:%d/", n, port)
		if out := ns.run(t, nil, "curl", "-sS", "--cacert", ns.root, "--capath", filepath.Join(ns.dir, "no-such-dir"), u); !strings.Contains(out, "served "+n) {
			t.Errorf("curl %s: %q", u, out)
		}
	}
	return leaf.SerialNumber.Text(16)
}

// checkRevoked fetches devca acme's CRL with curl and checks that it lists
// serial with the reason keyCompromise (1), as the clients asked, and that
// openssl verify -crl_check refuses certFile.
func (ns *acmeNS) checkRevoked(t *testing.T, certFile, serial string) {
	t.Helper()
	der := filepath.Join(ns.dir, "crl.der")
	ns.run(t, nil, "curl", "-sS", "--fail", "--cacert", ns.root, "-o", der, strings.TrimSuffix(ns.url, "/directory")+"/crl")
	data, err := os.ReadFile(der)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		t.Fatalf("the CRL: %v", err)
	}
	reason := -1
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Text(16) == serial {
			reason = e.ReasonCode
		}
	}
	if reason != 1 {
		t.Errorf("the CRL lists the revoked serial %s with reason %d, want 1 (keyCompromise; -1: not listed)", serial, reason)
	}
	crlFile := filepath.Join(ns.dir, "crl.pem")
	if err := os.WriteFile(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: data}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "verify", "-crl_check", "-CAfile", ns.root, "-CRLfile", crlFile, certFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "certificate revoked") {
		t.Errorf("openssl verify -crl_check of the revoked %s: %v\n%s", certFile, err, out)
	}
}

// certbot's dns-01 hooks write and remove the TXT record in DNS_DIR, the
// folder the namespace's DNS server answers from.
const (
	certbotAuthHook    = "#!/bin/sh\nprintf '%s\\n' \"$CERTBOT_VALIDATION\" >>\"$DNS_DIR/_acme-challenge.$CERTBOT_DOMAIN\"\n"
	certbotCleanupHook = "#!/bin/sh\nrm -f \"$DNS_DIR/_acme-challenge.$CERTBOT_DOMAIN\"\n"
	// legoExecScript is lego's exec provider: "present|cleanup FQDN VALUE".
	legoExecScript = "#!/bin/sh\nname=${2%.}\ncase $1 in\npresent) printf '%s\\n' \"$3\" >>\"$DNS_DIR/$name\" ;;\ncleanup) rm -f \"$DNS_DIR/$name\" ;;\nesac\n"
)

// TestACMECertbot obtains, renews and revokes with certbot: http-01 with
// its standalone server, and dns-01 (app.test and *.app.test) through its
// manual hooks.
func TestACMECertbot(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"http-01", "dns-01"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ns := newACMENS(t, "certbot")
			names := []string{"app.test"}
			var env, args []string
			if mode == "http-01" {
				ns.startACME(t, "--http-port", "5002")
				args = []string{"--standalone", "--http-01-port", "5002"}
			} else {
				zone := ns.serveDNS(t)
				ns.startACME(t, "--dns-server", "127.0.0.1:53")
				names = append(names, "*.app.test")
				env = []string{"DNS_DIR=" + zone}
				args = []string{"--manual", "--preferred-challenges", "dns",
					"--manual-auth-hook", ns.writeScript(t, "auth-hook", certbotAuthHook),
					"--manual-cleanup-hook", ns.writeScript(t, "cleanup-hook", certbotCleanupHook)}
			}
			env = append(env, "REQUESTS_CA_BUNDLE="+ns.root)
			common := []string{"--server", ns.url, "--non-interactive",
				"--config-dir", filepath.Join(ns.dir, "config"), "--work-dir", filepath.Join(ns.dir, "work"), "--logs-dir", filepath.Join(ns.dir, "logs")}
			certonly := append([]string{"certonly"}, common...)
			certonly = append(certonly, "--agree-tos", "--email", "dev@app.test", "--no-eff-email")
			certonly = append(certonly, args...)
			for _, n := range names {
				certonly = append(certonly, "-d", n)
			}
			ns.run(t, env, "certbot", certonly...)
			live := filepath.Join(ns.dir, "config", "live", "app.test")
			cert, key := filepath.Join(live, "cert.pem"), filepath.Join(live, "privkey.pem")
			first := ns.checkCert(t, filepath.Join(live, "fullchain.pem"), key, names...)

			ns.run(t, env, "certbot", append([]string{"renew", "--force-renewal", "--no-random-sleep-on-renew"}, common...)...)
			renewed := ns.checkCert(t, filepath.Join(live, "fullchain.pem"), key, names...)
			if renewed == first {
				t.Errorf("certbot renew --force-renewal kept serial %s", first)
			}

			ns.run(t, env, "certbot", append([]string{"revoke", "--cert-path", cert, "--reason", "keycompromise", "--no-delete-after-revoke"}, common...)...)
			ns.checkRevoked(t, cert, renewed)
			ns.acme.stop(t)
		})
	}
}

// TestACMELego obtains, renews and revokes with lego (Debian's 4.9):
// http-01, tls-alpn-01, and dns-01 (app.test and *.app.test) through its
// exec provider.
func TestACMELego(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"http-01", "tls-alpn-01", "dns-01"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ns := newACMENS(t, "lego")
			names := []string{"app.test"}
			var env, args []string
			switch mode {
			case "http-01":
				ns.startACME(t, "--http-port", "5002")
				args = []string{"--http", "--http.port", ":5002"}
			case "tls-alpn-01":
				ns.startACME(t, "--tls-port", "5001")
				args = []string{"--tls", "--tls.port", ":5001"}
			case "dns-01":
				zone := ns.serveDNS(t)
				ns.startACME(t, "--dns-server", "127.0.0.1:53")
				names = append(names, "*.app.test")
				env = []string{"DNS_DIR=" + zone, "EXEC_PATH=" + ns.writeScript(t, "lego-exec", legoExecScript)}
				// lego checks that the record is on the zone's name server
				// before it answers the challenge; the exec provider
				// waits a minute between names unless told otherwise.
				env = append(env, "EXEC_POLLING_INTERVAL=1", "EXEC_PROPAGATION_TIMEOUT=30", "EXEC_SEQUENCE_INTERVAL=1")
				args = []string{"--dns", "exec", "--dns.resolvers", "127.0.0.1:53"}
			}
			env = append(env, "LEGO_CA_CERTIFICATES="+ns.root)
			common := []string{"--server", ns.url, "--accept-tos", "--email", "dev@app.test", "--path", filepath.Join(ns.dir, "lego")}
			common = append(common, args...)
			for _, n := range names {
				common = append(common, "--domains", n)
			}
			ns.run(t, env, "lego", append(common, "run")...)
			certs := filepath.Join(ns.dir, "lego", "certificates")
			cert, key := filepath.Join(certs, "app.test.crt"), filepath.Join(certs, "app.test.key")
			first := ns.checkCert(t, cert, key, names...)

			// The certificate lives 7 days: --days 30 renews it now.
			ns.run(t, env, "lego", append(common, "renew", "--days", "30", "--no-random-sleep")...)
			renewed := ns.checkCert(t, cert, key, names...)
			if renewed == first {
				t.Errorf("lego renew --days 30 kept serial %s", first)
			}

			ns.run(t, env, "lego", append(common, "revoke", "--keep", "--reason", "1")...)
			ns.checkRevoked(t, cert, renewed)
			ns.acme.stop(t)
		})
	}
}

// TestACMECaddy runs Caddy 2.6 with devca acme as its CA (acme_ca, and the
// root as acme_ca_root): it obtains a certificate for caddy.test on its own
// and serves it, and curl trusting only the root accepts it.
func TestACMECaddy(t *testing.T) {
	t.Parallel()
	ns := newACMENS(t, "caddy")
	// Caddy listens on 80 and 443 inside the namespace, where devca acme
	// validates by default.
	ns.startACME(t)
	data := filepath.Join(ns.dir, "caddy-data")
	caddyfile := filepath.Join(ns.dir, "Caddyfile")
	config := fmt.Sprintf(`{
	admin off
	acme_ca %s
	acme_ca_root %s
	email dev@app.test
	storage file_system %s
}

caddy.test {
	respond "hello from caddy"
}
`, ns.url, ns.root, data)
	if err := os.WriteFile(caddyfile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caddy := ns.command(ctx, []string{"XDG_DATA_HOME=" + data, "XDG_CONFIG_HOME=" + filepath.Join(ns.dir, "caddy-config")},
		"caddy", "run", "--config", caddyfile, "--adapter", "caddyfile")
	logs := &syncBuffer{}
	caddy.Stdout, caddy.Stderr = logs, logs
	if err := caddy.Start(); err != nil {
		t.Fatal(err)
	}
	defer caddy.Wait()
	defer cancel()

	var out []byte
	deadline := time.Now().Add(45 * time.Second)
	for {
		var err error
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		out, err = ns.command(cctx, nil, "curl", "-sS", "--cacert", ns.root, "--capath", filepath.Join(ns.dir, "no-such-dir"), "https://caddy.test/").CombinedOutput()
		ccancel()
		if err == nil && string(out) == "hello from caddy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("curl https://caddy.test/: %v %s\ncaddy's log:\n%s\ndevca acme's stderr:\n%s", err, out, logs.String(), ns.acme.stderr.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	files, _ := filepath.Glob(filepath.Join(data, "certificates", "*", "caddy.test", "caddy.test.crt"))
	if len(files) != 1 {
		t.Fatalf("Caddy's certificate for caddy.test: found %v", files)
	}
	ns.checkCert(t, files[0], "", "caddy.test")
	cancel()
	ns.acme.stop(t)
}
