package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/serve"
)

// defaultServePort is where devca serve listens unless told otherwise; when
// it is busy (and --addr was not given) the next free port up to
// defaultServePort+portTries is used, and the user is told.
const (
	defaultServePort = 8443
	portTries        = 20
)

func newServeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve a folder (or proxy a dev server) over HTTPS with a trusted certificate",
		ArgsUsage: "[FOLDER]",
		UsageText: "devca serve                           serve . on https://localhost:8443\n" +
			"devca serve ./dist --spa --live-reload\n" +
			"devca serve --proxy http://localhost:3000\n" +
			"devca serve ./public --proxy http://localhost:3000   files first, the rest proxied\n" +
			"devca serve --lan --name app.localhost                phones on the LAN too",
		Description: "serve uses the CA in the CA home, creating one if there is none (without touching\n" +
			"trust stores; 'devca init' trusts it). It issues its own certificate for localhost,\n" +
			"127.0.0.1, ::1, the listen host and every --name, keeps it in the CA home and reuses it.\n" +
			"It never serves anything outside FOLDER, and hides dotfiles unless --dotfiles.\n" +
			"Key and .p12 files devca wrote are never served; other files that look like private\n" +
			"keys (*-key.pem, *.key, *.p12, *.pfx, PEM private keys) are hidden unless --serve-keys.\n" +
			"One access-log line per request goes to stderr unless --quiet. Stop it with Ctrl-C.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "listen on `HOST:PORT` (default localhost:8443)"},
			&cli.BoolFlag{Name: "lan", Usage: "listen on all interfaces, certify this machine's LAN addresses, and offer the root to phones over plain HTTP on the next port"},
			&cli.StringSliceFlag{Name: "name", Usage: "also certify `NAME` (repeatable), e.g. app.localhost"},
			&cli.StringFlag{Name: "cert-file", Usage: "serve this certificate `FILE` instead of issuing one (needs --key-file)"},
			&cli.StringFlag{Name: "key-file", Usage: "private key `FILE` for --cert-file"},
			&cli.StringFlag{Name: "proxy", Usage: "forward requests that match no file to `URL`, a plain-HTTP dev server"},
			&cli.BoolFlag{Name: "spa", Usage: "answer unknown paths with index.html (single-page apps)"},
			&cli.BoolFlag{Name: "no-list", Usage: "do not list folders that have no index.html"},
			&cli.BoolFlag{Name: "dotfiles", Usage: "serve files and folders whose names start with a dot (.env, .git)"},
			&cli.BoolFlag{Name: "serve-keys", Usage: "serve files that look like private keys (key files devca wrote stay hidden)"},
			&cli.BoolFlag{Name: "live-reload", Usage: "reload open pages when a file in the folder changes"},
			&cli.StringSliceFlag{Name: "header", Usage: "add `'NAME: VALUE'` to every response (repeatable)"},
			&cli.BoolFlag{Name: "cors", Usage: "allow every origin (Access-Control-Allow-Origin: *)"},
			&cli.StringFlag{Name: "redirect-http", Usage: "also listen for plain HTTP on `ADDR` and redirect it to HTTPS"},
			&cli.BoolFlag{Name: "open", Usage: "open the page in the default browser"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no access log"},
		},
		Action: func(c *cli.Context) error { return runServe(c, e) },
	}
}

// serveOptions is the checked command line of devca serve.
type serveOptions struct {
	dir               string
	host              string // listen host; "" for all interfaces
	port              int
	addrGiven         bool
	lan               bool
	names             []string
	certFile, keyFile string
	proxy             *url.URL
	headers           http.Header
	redirectHTTP      string
	open, quiet       bool
}

func parseServeOptions(c *cli.Context, e *env) (*serveOptions, error) {
	args, err := positionalArgs(c, e.args)
	if err != nil {
		return nil, err
	}
	o := &serveOptions{host: "localhost", port: defaultServePort, lan: c.Bool("lan"), names: c.StringSlice("name"),
		certFile: c.String("cert-file"), keyFile: c.String("key-file"), redirectHTTP: c.String("redirect-http"),
		open: c.Bool("open"), quiet: c.Bool("quiet"), headers: http.Header{}}
	switch len(args) {
	case 0:
		if c.String("proxy") == "" {
			o.dir = "."
		}
	case 1:
		o.dir = args[0]
	default:
		return nil, usageErrorf("serve takes one folder, got %d arguments", len(args))
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, usageErrorf("--cert-file and --key-file go together")
	}
	if o.certFile != "" && len(o.names) > 0 {
		return nil, usageErrorf("--name and --cert-file cannot be used together: the names are those of the certificate file")
	}
	if addr := c.String("addr"); addr != "" {
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, &usageError{err: withHints(fmt.Errorf("invalid --addr %q: %w", addr, err), "use HOST:PORT, for example localhost:8443 or :8443")}
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 0 || port > 65535 {
			return nil, usageErrorf("invalid --addr %q: the port must be a number from 0 to 65535", addr)
		}
		if o.lan && host != "" && !isUnspecified(host) {
			return nil, usageErrorf("--lan listens on all interfaces, so --addr can only choose the port: use --addr :%d", port)
		}
		o.host, o.port, o.addrGiven = host, port, true
	}
	if o.lan {
		o.host = ""
	}
	if p := c.String("proxy"); p != "" {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, &usageError{err: withHints(fmt.Errorf("invalid --proxy %q", p), "use the dev server's URL, for example http://localhost:3000")}
		}
		o.proxy = u
	}
	for _, h := range c.StringSlice("header") {
		name, value, err := parseHeaderFlag(h)
		if err != nil {
			return nil, err
		}
		o.headers.Add(name, value)
	}
	if c.Bool("live-reload") && o.dir == "" {
		// Live reload watches the served folder; a dev server behind
		// --proxy reloads its own pages, and devca cannot see its changes.
		return nil, &usageError{err: withHints(errors.New("--live-reload watches the served FOLDER, and --proxy without a FOLDER serves none"),
			"the dev server behind --proxy reloads its own pages: drop --live-reload",
			"or pass the folder to watch: devca serve ./public --proxy URL --live-reload")}
	}
	if o.redirectHTTP != "" {
		if _, _, err := net.SplitHostPort(o.redirectHTTP); err != nil {
			return nil, usageErrorf("invalid --redirect-http %q: use HOST:PORT, for example localhost:8080", o.redirectHTTP)
		}
	}
	return o, nil
}

// parseHeaderFlag splits one --header value into a name and a value, and
// refuses what serve.CheckHeader refuses, naming the header and why.
func parseHeaderFlag(h string) (name, value string, err error) {
	if rest, ok := strings.CutPrefix(strings.TrimLeft(h, " \t"), ":"); ok {
		// ":status: 200" would otherwise split at its first colon.
		pseudo, _, _ := strings.Cut(rest, ":")
		name, value = ":"+pseudo, ""
	} else {
		var ok bool
		name, value, ok = strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return "", "", usageErrorf("invalid --header %q: use 'Name: value'", h)
		}
		value = strings.Trim(value, " \t")
	}
	if err := serve.CheckHeader(name, value); err != nil {
		var he *serve.HeaderError
		if errors.As(err, &he) {
			err = errors.New(he.Reason)
		}
		return "", "", &usageError{err: withHints(fmt.Errorf("invalid --header %q: %w", h, err),
			"--header adds an end-to-end header such as Cache-Control, Content-Security-Policy or X-Frame-Options to every response")}
	}
	return name, value, nil
}

func runServe(c *cli.Context, e *env) error {
	o, err := parseServeOptions(c, e)
	if err != nil {
		return err
	}
	dir := ""
	if o.dir != "" {
		if dir, err = filepath.Abs(o.dir); err != nil {
			return fmt.Errorf("resolving folder %q: %w", o.dir, err)
		}
		if fi, err := os.Stat(dir); err != nil {
			return withHints(fmt.Errorf("opening folder %q: %w", o.dir, errors.Unwrap(err)), "pass the folder to serve, or --proxy URL to forward to a dev server")
		} else if !fi.IsDir() {
			return withHints(fmt.Errorf("%q is not a folder", o.dir), "pass the folder that holds it, for example 'devca serve "+filepath.Dir(o.dir)+"'")
		}
		// Bad input changes nothing: an unreadable folder is found before
		// a CA or a certificate is made for it.
		if err := checkReadableDir(dir); err != nil {
			return withHints(fmt.Errorf("reading folder %q: %w", o.dir, err), "make it readable (chmod u+rx), or serve another folder")
		}
	}

	var accessLog io.Writer
	if !o.quiet {
		accessLog = e.stderr
	}
	// Problems the server meets while running are warnings in the devca
	// format; access-log lines stay bare so they can be parsed.
	warnings := e.warningWriter()
	// Keys are never served, even from a CA home inside the folder.
	var deny []string
	if home, err := e.home(); err == nil {
		deny = append(deny, home)
	}
	if o.keyFile != "" {
		deny = append(deny, o.keyFile)
	}
	h, err := serve.New(serve.Config{
		Dir: dir, NoListing: c.Bool("no-list"), SPA: c.Bool("spa"), Dotfiles: c.Bool("dotfiles"),
		CORS: c.Bool("cors"), Headers: o.headers, LiveReload: c.Bool("live-reload"), Proxy: o.proxy,
		AccessLog: accessLog, ErrorLog: warnings, Deny: deny,
		RecordedKeys: recordedKeyFiles(e), ServeKeys: c.Bool("serve-keys"),
	})
	if errors.Is(err, serve.ErrDeniedDir) {
		return withHints(err, "serve a folder outside the CA home (see 'devca home') and the key file's folder")
	} else if err != nil {
		return err
	}
	defer h.Close()

	lns, err := listen(e, o)
	if err != nil {
		return err
	}
	port := serve.Port(lns)
	srv := &serve.Server{Handler: h, Listeners: lns, ErrorLog: warnings}
	// Run closes the listeners; until it owns them, every early return
	// closes them here (closing twice does no harm).
	defer func() {
		for _, ln := range append(lns[:len(lns):len(lns)], srv.RedirectListener, srv.RootPageListener) {
			if ln != nil {
				ln.Close()
			}
		}
	}()
	if o.redirectHTTP != "" {
		if srv.RedirectListener, err = net.Listen("tcp", o.redirectHTTP); err != nil {
			return withHints(fmt.Errorf("listening for --redirect-http on %s: %w", o.redirectHTTP, err), "choose another address for --redirect-http")
		}
	}
	if err := checkProxyLoop(o, append(lns[:len(lns):len(lns)], srv.RedirectListener)); err != nil {
		return err
	}
	lanIPs := []net.IP(nil)
	if o.lan {
		if lanIPs = serve.LANAddresses(interfaceAddrs); len(lanIPs) == 0 {
			e.warnf("--lan found no LAN address: no network interface of this machine has a private address (such as 192.168.x.x), so other devices have no address to open and the certificate names none")
			e.hintf("connect this machine to a Wi-Fi or wired network and start 'devca serve --lan' again; meanwhile it serves this machine")
		}
	}

	cert, auth, cached, err := serveCertificate(e, o, lanIPs)
	if err != nil {
		return err
	}
	defer func() { <-cached }()
	srv.TLSConfig = serve.TLSConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil })

	// Signals are caught before the URLs are printed: whoever reads them may
	// stop the server at once, and that must be a clean stop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv.OnShutdown = func() {
		e.notef("shutting down")
		stop() // a second Ctrl-C now kills at once
	}

	urls := serveURLs(o, port, lanIPs)
	what := "serving " + dir
	switch {
	case dir != "" && o.proxy != nil:
		what += ", and proxying the rest to " + o.proxy.Redacted()
	case dir == "":
		what = "proxying to " + o.proxy.Redacted()
	}
	e.notef("%s", what)
	if srv.RedirectListener != nil {
		// Printed with the real port, which --redirect-http :0 leaves to the
		// system.
		e.notef("redirecting plain HTTP on %s to HTTPS", srv.RedirectListener.Addr())
	}
	for _, u := range urls {
		fmt.Fprintln(e.stdout, u)
	}
	if o.lan && auth != nil && len(lanIPs) > 0 {
		if err := offerRootPage(e, srv, auth, port, lanIPs); err != nil {
			e.warnf("not serving the root for phones: %v", err)
		}
	}
	// The trust check loads the system's certificate store, 10–20 ms of
	// CPU: it runs once the server has had time to answer its first
	// request (bench/serve-cpu.sh measures that time), and at the latest
	// when the server stops, so the line is always printed.
	trustReported := make(chan struct{})
	go func() {
		defer close(trustReported)
		select {
		case <-time.After(trustReportDelay):
		case <-ctx.Done():
		}
		reportTrust(e, cert, auth)
	}()
	defer func() { <-trustReported }()
	if o.open {
		if err := openBrowser(urls[0]); err != nil {
			e.warnf("opening the browser: %v", err)
		}
	}

	if err := srv.Run(ctx); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// listen opens the HTTPS listeners (see serve.Listen). A busy default port
// moves to the next free one, with a warning; a busy --addr is an error
// that names a free port.
func listen(e *env, o *serveOptions) ([]net.Listener, error) {
	fallback := 0
	if !o.addrGiven {
		fallback = portTries
	}
	lns, err := serve.Listen(o.host, o.port, fallback)
	var busy *serve.BusyPortError
	switch {
	case errors.As(err, &busy) && busy.Last > busy.Port:
		return nil, withHints(err, "choose a port with --addr HOST:PORT")
	case errors.As(err, &busy):
		hint := "stop the program using it, or choose another port with --addr"
		if busy.Free != 0 {
			hint = fmt.Sprintf("stop the program using it, or use --addr %s", net.JoinHostPort(o.host, strconv.Itoa(busy.Free)))
		}
		return nil, withHints(err, hint)
	case err != nil:
		return nil, withHints(err, "choose another address with --addr HOST:PORT")
	}
	if got := serve.Port(lns); o.port != 0 && got != o.port {
		e.warnf("port %d is busy; using %d instead (choose one with --addr)", o.port, got)
	}
	return lns, nil
}

// serveCertificate returns the certificate to serve: the user's files, or a
// leaf from the CA (created when missing) for the loopback names, the listen
// host, --name and the LAN addresses.
//
// A newly issued certificate is cached in the background, so the server
// answers without waiting for the write; cached is closed once that write
// is done (and any failure reported), and serve waits for it before exiting.
func serveCertificate(e *env, o *serveOptions, lanIPs []net.IP) (cert tls.Certificate, auth *ca.Authority, cached <-chan struct{}, err error) {
	done := make(chan struct{})
	cached = done
	if o.certFile != "" {
		close(done)
		cert, err := serve.LoadKeyPair(o.certFile, o.keyFile)
		if err != nil {
			return tls.Certificate{}, nil, cached, withHints(err, "check --cert-file and --key-file")
		}
		return cert, nil, cached, nil
	}
	defer func() {
		if err != nil {
			close(done)
		}
	}()
	auth, err = loadOrCreateCA(e)
	if err != nil {
		return tls.Certificate{}, nil, cached, err
	}
	inputs := []string{"localhost", "127.0.0.1", "::1"}
	if h := o.host; h != "" && h != "localhost" && !isUnspecified(h) {
		inputs = append(inputs, h)
	}
	inputs = append(inputs, o.names...)
	cons := auth.Constraints()
	for _, ip := range lanIPs {
		n, err := ca.ParseName(ip.String())
		if err != nil {
			continue
		}
		if cons.Constrained() && !cons.Permits(n) {
			e.warnf("leaving %s out of the certificate: the root's name constraints do not permit it", ip)
			continue
		}
		inputs = append(inputs, ip.String())
	}
	names, _, err := ca.ParseNames(dedupe(inputs))
	if err != nil {
		return tls.Certificate{}, nil, cached, &usageError{err: withHints(err, "check the --name and --addr values")}
	}
	leaf, err := serve.LeafCertificate(auth, names, time.Now())
	if err != nil {
		var ce *ca.ConstraintError
		if errors.As(err, &ce) {
			return tls.Certificate{}, nil, cached, withHints(err, "use a development name such as app.localhost or app.test, or recreate the CA with 'devca init --new --permit DOMAIN'")
		}
		return tls.Certificate{}, nil, cached, err
	}
	if !leaf.Reused {
		e.notef("issued a certificate for %s", strings.Join(names.Values(), ", "))
	}
	notCached := func(err error) {
		// The cache only saves work: a read-only CA home still serves.
		e.warnf("the certificate is not cached in the CA home (%v): it lives in memory for this run, and the next start issues another", err)
	}
	if leaf.NotSaved != nil {
		notCached(leaf.NotSaved)
		close(done)
	} else {
		go func() {
			defer close(done)
			if err := leaf.Wait(); err != nil {
				notCached(err)
			}
		}()
	}
	return leaf.Cert, auth, cached, nil
}

// loadOrCreateCA loads the CA, or creates one with the default constraints
// and no trust-store changes when the home has none.
func loadOrCreateCA(e *env) (*ca.Authority, error) {
	dir, err := e.home()
	if err != nil {
		return nil, err
	}
	// The key is kept as init would keep it: in the keyring when one
	// answers, else in a file with a warning ($DEVCA_KEY_STORAGE decides
	// otherwise).
	auth, created, err := ca.LoadOrCreate(dir, func() (ca.CreateOptions, error) {
		cons, err := ca.DefaultConstraints(nil)
		if err != nil {
			return ca.CreateOptions{}, err
		}
		storage, sec, err := e.keyStorageFor("", dir)
		if err != nil {
			return ca.CreateOptions{}, err
		}
		host, _ := e.hostname()
		return ca.CreateOptions{Constraints: cons, User: e.userName(), Host: host, KeyStorage: storage, Secrets: sec}, nil
	}, ca.WithSecrets(e.secrets()))
	if err != nil {
		return nil, explainLoadError(dir, err)
	}
	if !created {
		e.loaded = append(e.loaded, auth)
		return auth, nil
	}
	e.notef("created a CA in %q; no trust store was changed", dir)
	return auth, nil
}

// trustReportDelay is how long after start serve says whether the machine
// trusts the root.
const trustReportDelay = 250 * time.Millisecond

// reportTrust says whether clients on this machine will accept the
// certificate, and how to fix it when they will not.
func reportTrust(e *env, cert tls.Certificate, auth *ca.Authority) {
	if auth == nil {
		leaf := cert.Leaf
		if leaf == nil {
			return
		}
		inter := x509.NewCertPool()
		for _, der := range cert.Certificate[1:] {
			if c, err := x509.ParseCertificate(der); err == nil {
				inter.AddCert(c)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Intermediates: inter}); err != nil {
			e.warnf("this machine does not trust the certificate in the --cert-file; browsers will warn")
		}
		return
	}
	if serve.SystemTrusts(auth.Cert) {
		e.notef("the root CA is trusted on this machine")
		return
	}
	e.warnf("the root CA is not trusted on this machine yet; browsers will warn until it is")
	e.hintf("run 'devca init' to trust it")
}

// serveURLs lists the URLs to open, the most useful first.
func serveURLs(o *serveOptions, port int, lanIPs []net.IP) []string {
	p := strconv.Itoa(port)
	var urls []string
	add := func(host string) {
		u := "https://" + net.JoinHostPort(host, p) + "/"
		for _, x := range urls {
			if x == u {
				return
			}
		}
		urls = append(urls, u)
	}
	if o.host == "" || o.host == "localhost" || isUnspecified(o.host) {
		add("localhost")
	} else {
		add(o.host)
	}
	for _, n := range o.names {
		if !strings.HasPrefix(n, "*.") {
			add(n)
		}
	}
	for _, ip := range lanIPs {
		add(ip.String())
	}
	return urls
}

func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// testOnlyNoLAN makes interfaceAddrs report none, as on a machine with no
// network; only tests set it.
var testOnlyNoLAN bool

// interfaceAddrs lists this machine's addresses for --lan.
func interfaceAddrs() ([]net.Addr, error) {
	if testOnlyNoLAN {
		return nil, nil
	}
	return net.InterfaceAddrs()
}

// checkReadableDir makes sure the folder's entries can be listed and
// reached: reading one name needs read permission, looking it up needs
// search permission.
func checkReadableDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return errors.Unwrap(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return errors.Unwrap(err)
	}
	if len(names) > 0 {
		if _, err := os.Lstat(filepath.Join(dir, names[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return errors.Unwrap(err)
		}
	}
	return nil
}

// checkProxyLoop refuses a --proxy upstream that is one of devca's own
// listening addresses: every request would be sent back to devca. The hop
// header catches the loops this cannot see (through another proxy, or a
// name that resolves differently later).
func checkProxyLoop(o *serveOptions, lns []net.Listener) error {
	if o.proxy == nil {
		return nil
	}
	if err := serve.CheckProxyListeners(context.Background(), o.proxy, lns, nil); err != nil {
		return &usageError{err: withHints(fmt.Errorf("invalid --proxy %q: %w", o.proxy.Redacted(), err),
			"point --proxy at the development server's own port, for example http://localhost:3000, or move devca with --addr")}
	}
	return nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// offerRootPage listens for the root page for phones over plain HTTP on
// the port after the HTTPS one, hands it to srv, and prints where.
func offerRootPage(e *env, srv *serve.Server, auth *ca.Authority, httpsPort int, lanIPs []net.IP) error {
	h, err := serve.RootPage(auth.CertPEM, ca.Fingerprint(auth.Cert))
	if err != nil {
		return err
	}
	port := httpsPort + 1
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listening on port %d: %w", port, err)
	}
	srv.RootPage, srv.RootPageListener = h, ln
	e.notef("phones on this network can get the root CA at:")
	for _, ip := range lanIPs {
		e.notef("  http://%s/", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	}
	e.notef("  root fingerprint SHA256 %s", ca.Fingerprint(auth.Cert))
	if f, ok := e.stderr.(*os.File); ok && isTerminal(f) && len(lanIPs) > 0 {
		// A phone's camera opens the page; only on a terminal, so logs and
		// pipes stay plain text.
		if qr, err := qrLines("http://" + net.JoinHostPort(lanIPs[0].String(), strconv.Itoa(port)) + "/"); err == nil {
			fmt.Fprint(e.stderr, qr)
		}
	}
	return nil
}

// qrLines draws a QR code of text with Unicode half blocks, two modules per
// character cell, dark on a light terminal background or light on a dark one
// alike (the quiet zone is drawn too, so scanners find the edges).
func qrLines(text string) (string, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", err
	}
	return q.ToSmallString(false), nil
}

// openBrowser starts the system's URL opener without waiting for it.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
