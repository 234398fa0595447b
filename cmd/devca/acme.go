package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/ca/acme/caissuer"
	"github.com/devca/devca/ca/acme/nonce"
	"github.com/devca/devca/ca/acme/nonce/pgnonce"
	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/store/boltstore"
	"github.com/devca/devca/ca/acme/store/pgstore"
	"github.com/devca/devca/ca/acme/va"
	"github.com/devca/devca/ca/acme/wfe"
	"github.com/devca/devca/ca/acme/wire"
	"github.com/devca/devca/serve"
)

// Defaults of devca acme. Port 14000 is Pebble's, which ACME client
// documentation and test setups already use for a local server.
const (
	defaultACMEAddr     = "localhost:14000"
	defaultACMELifetime = 7 * 24 * time.Hour
	// shortLivedLifetime is the "shortlived" profile's lifetime, or
	// --lifetime when that is shorter.
	shortLivedLifetime = 24 * time.Hour
	acmeDBFile         = "acme.db"
)

func newACMECommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "acme",
		Usage: "run an ACME server (RFC 8555) that issues certificates from the devca CA",
		UsageText: "devca acme                                     https://localhost:14000/directory\n" +
			"devca acme --addr :14000 --external-url https://acme.test:14000   in a container network\n" +
			"devca acme --http-port 5002 --lifetime 1d      validate on port 5002, one-day certificates",
		Description: "acme lets ACME clients (certbot, lego, acme.sh, Caddy, Traefik, cert-manager) obtain\n" +
			"and renew certificates from the CA in the CA home, creating the CA if there is none\n" +
			"(without touching trust stores; 'devca init' trusts it). It serves over HTTPS with a\n" +
			"certificate from that CA, prints the directory URL on the first line of standard\n" +
			"output, then one line per common client saying how to point it there.\n" +
			"Orders are held to the root's name constraints. Challenges are validated for real:\n" +
			"http-01 on --http-port, tls-alpn-01 on --tls-port, dns-01 with --dns-server or the\n" +
			"system resolver. State (accounts, orders, certificates, revocations) lives in --db\n" +
			"and survives restarts; certificates are also in the CA's record\n" +
			"('devca list'). The CRL is served at /crl. Stop it with Ctrl-C.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "listen on `HOST:PORT` (:0 lets the system choose a port)", Value: defaultACMEAddr},
			&cli.StringFlag{Name: "external-url", Usage: "the `URL` clients reach the server at, when a proxy or a container network is in between; every URL handed out starts with it"},
			&cli.IntFlag{Name: "http-port", Usage: "validate http-01 challenges on `PORT` of each name", Value: 80},
			&cli.IntFlag{Name: "tls-port", Usage: "validate tls-alpn-01 challenges on `PORT` of each name", Value: 443},
			&cli.StringFlag{Name: "dns-server", Usage: "look names up (and dns-01 TXT records) at `HOST[:PORT]` instead of the system resolver"},
			&cli.StringFlag{Name: "lifetime", Usage: "certificate lifetime of the default profile, as `DURATION` (7d, 36h); the shortlived profile issues for at most 1d", Value: "7d"},
			&cli.StringFlag{Name: "db", Usage: "keep the server's state in `FILE` (default acme.db in the CA home), or in PostgreSQL at a postgres:// URL, which several servers can share"},
			&cli.BoolFlag{Name: "intermediate", Usage: "sign with a short-lived intermediate CA issued by the root at start and renewed while running, not with the root key"},
			&cli.StringFlag{Name: "ca-dir", Usage: "sign with the intermediate CA in `DIR`, written by 'devca intermediate issue', without any root key on this machine"},
			&cli.BoolFlag{Name: "require-eab", Usage: "accept new accounts only with an external account binding key from 'devca acme eab create'"},
			&cli.StringSliceFlag{Name: "allow", Usage: "issue only for names matching `PATTERN`: team.test, *.team.test (every name below it), 10.1.0.0/16; repeatable"},
		}, acmeLimitFlags()...),
		Subcommands: []*cli.Command{newACMEEABCommand(e)},
		Action:      func(c *cli.Context) error { return runACME(c, e) },
	}
}

// acmeOptions is the checked command line of devca acme.
type acmeOptions struct {
	host        string
	port        int
	externalURL *url.URL
	httpPort    int
	tlsPort     int
	dnsServer   string
	lifetime    time.Duration
	db          string
	// intermediate and caDir choose an intermediate CA (see intermediateCA).
	intermediate bool
	caDir        string
	// requireEAB and policy decide who may order what (see acme_eab.go).
	requireEAB bool
	policy     *caissuer.Policy
	// rateLimits and maxValidations are the front end's limits.
	rateLimits     *wfe.RateLimits
	maxValidations int
}

func parseACMEOptions(c *cli.Context, e *env) (*acmeOptions, error) {
	args, err := positionalArgs(c, e.args)
	if err != nil {
		return nil, err
	}
	if len(args) > 0 {
		return nil, usageErrorf("acme takes no arguments, got %q", args)
	}
	o := &acmeOptions{httpPort: c.Int("http-port"), tlsPort: c.Int("tls-port"), dnsServer: c.String("dns-server"), db: c.String("db"),
		intermediate: c.Bool("intermediate"), caDir: c.String("ca-dir")}
	addr := c.String("addr")
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &usageError{err: withHints(fmt.Errorf("invalid --addr %q: %w", addr, err), "use HOST:PORT, for example localhost:14000 or :14000")}
	}
	if o.port, err = strconv.Atoi(portStr); err != nil || o.port < 0 || o.port > 65535 {
		return nil, usageErrorf("invalid --addr %q: the port must be a number from 0 to 65535", addr)
	}
	o.host = host
	for _, p := range []struct {
		flag string
		port int
	}{{"--http-port", o.httpPort}, {"--tls-port", o.tlsPort}} {
		if p.port < 1 || p.port > 65535 {
			return nil, usageErrorf("invalid %s %d: use a port from 1 to 65535", p.flag, p.port)
		}
	}
	if o.dnsServer != "" {
		// A bare host means port 53, as resolv.conf and dig say it.
		server := o.dnsServer
		if _, _, err := net.SplitHostPort(server); err != nil {
			server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
		}
		host, port, err := net.SplitHostPort(server)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || strings.ContainsAny(host, " /") || perr != nil || n < 1 || n > 65535 {
			return nil, &usageError{err: withHints(fmt.Errorf("invalid --dns-server %q: use HOST or HOST:PORT", o.dnsServer), "for example 127.0.0.1:5353")}
		}
		o.dnsServer = server
	}
	if s := c.String("external-url"); s != "" {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, &usageError{err: withHints(fmt.Errorf("invalid --external-url %q: use an https URL without query or credentials", s),
				"for example https://acme.test:14000, as clients in the container network reach it")}
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		o.externalURL = u
	}
	if o.lifetime, err = parseWindow(c.String("lifetime")); err != nil {
		return nil, err
	}
	if o.lifetime < time.Hour || o.lifetime > ca.MaxLeafDays*24*time.Hour {
		return nil, usageErrorf("invalid --lifetime %q: use 1h to %dd", c.String("lifetime"), ca.MaxLeafDays)
	}
	if err := o.checkIntermediate(c.String("lifetime")); err != nil {
		return nil, err
	}
	o.requireEAB = c.Bool("require-eab")
	if o.policy, err = caissuer.ParsePolicy(c.StringSlice("allow")); err != nil {
		return nil, &usageError{err: withHints(fmt.Errorf("invalid --allow: %w", err), "use team.test, *.team.test or 10.1.0.0/16")}
	}
	if o.rateLimits, o.maxValidations, err = parseACMELimits(c); err != nil {
		return nil, err
	}
	return o, nil
}

// profiles are the certificate profiles the directory announces.
func (o *acmeOptions) profiles() map[string]wfe.Profile {
	short := min(shortLivedLifetime, o.lifetime)
	return map[string]wfe.Profile{
		wfe.DefaultProfileName:    {Description: "certificates valid for " + describeLifetime(o.lifetime), Lifetime: o.lifetime},
		wfe.ShortLivedProfileName: {Description: "certificates valid for " + describeLifetime(short), Lifetime: short},
	}
}

// describeLifetime says 7 days, 1 day or 36h0m0s.
func describeLifetime(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}

// baseURL is where clients reach the server: --external-url, or the listen
// address (localhost for all interfaces) with the real port.
func (o *acmeOptions) baseURL(port int) string {
	if o.externalURL != nil {
		return o.externalURL.String()
	}
	host := o.host
	if host == "" || isUnspecified(host) {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func runACME(c *cli.Context, e *env) (err error) {
	o, err := parseACMEOptions(c, e)
	if err != nil {
		return err
	}
	// Bad input changes nothing: the port is bound before a CA or a store is
	// made, so a busy address leaves the home as it was.
	lns, err := serve.Listen(o.host, o.port, 0)
	if err != nil {
		var busy *serve.BusyPortError
		if errors.As(err, &busy) && busy.Free != 0 {
			return withHints(err, fmt.Sprintf("stop the program using it, or use --addr %s", net.JoinHostPort(o.host, strconv.Itoa(busy.Free))))
		}
		return withHints(err, "choose another address with --addr HOST:PORT")
	}
	srv := &serve.Server{Listeners: lns, ErrorLog: e.warningWriter()}
	// Run closes the listeners; until it owns them, early returns do.
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	base := o.baseURL(serve.Port(lns))

	var auth *ca.Authority
	var inter *intermediateCA
	if o.caDir != "" {
		if inter, err = loadIntermediateCA(e, o); err != nil {
			return err
		}
	} else {
		if auth, err = loadOrCreateCA(e); err != nil {
			return err
		}
		// A key behind a passphrase is unlocked now, not at the first order.
		if _, err := auth.Signer(); err != nil {
			return fmt.Errorf("unlocking the root key: %w", err)
		}
		if o.intermediate {
			if inter, err = newIntermediateCA(e, o, auth); err != nil {
				return err
			}
		}
	}
	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	if inter != nil {
		auth = inter.auth()
		if err := inter.renewServerCert(e, o, base); err != nil {
			return err
		}
		getCert = inter.getCertificate
	} else {
		cert, err := acmeCertificate(e, auth, o, base)
		if err != nil {
			return err
		}
		getCert = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	srv.TLSConfig = serve.TLSConfig(getCert)

	st, nonces, dbPath, err := openACMEStore(c.Context, o.db, auth.Dir)
	if err != nil {
		return err
	}
	defer func() {
		// Every answer was committed already; a failing close is still said.
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	validator, err := newValidator(o)
	if err != nil {
		return err
	}
	issuer := caissuer.New(auth).WithPolicy(o.policy)
	front, err := wfe.New(wfe.Config{
		RequireExternalAccountBinding: o.requireEAB,
		BaseURL:                       base, Store: st, Nonces: nonces, Issuer: issuer,
		Validator:  validator,
		Profiles:   o.profiles(),
		RateLimits: o.rateLimits, MaxValidations: o.maxValidations,
		Log: slog.New(slog.NewTextHandler(e.warningWriter(), &slog.HandlerOptions{ReplaceAttr: dropTime})),
	})
	if err != nil {
		return err
	}
	// Validations stop after the listeners: a request in flight may start one.
	defer front.Close()
	srv.Handler = front

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv.OnShutdown = func() {
		e.notef("shutting down")
		stop() // a second Ctrl-C now kills at once
	}

	dirURL := base + "/directory"
	fmt.Fprintln(e.stdout, dirURL)
	printClientLines(e.stdout, dirURL, filepath.Join(auth.Dir, ca.RootCertFile))
	addrs := make([]string, len(lns))
	for i, ln := range lns {
		addrs[i] = ln.Addr().String()
	}
	e.notef("listening on %s", strings.Join(addrs, " and "))
	e.notef("issuing from the CA in %q, state in %q; validating http-01 on port %d, tls-alpn-01 on port %d", auth.Dir, dbPath, o.httpPort, o.tlsPort)
	if o.policy != nil {
		e.notef("issuing only for %s", o.policy)
	}
	if o.requireEAB {
		e.notef("new accounts need an external account binding key: 'devca acme eab create' makes one")
	}
	if inter != nil {
		inter.note(e)
		go inter.keepRenewed(ctx, e, o, base, issuer)
	}
	if err := srv.Run(ctx); err != nil {
		return fmt.Errorf("serving ACME: %w", err)
	}
	return nil
}

// openACMEStore opens the state named by --db: a bbolt file, by default in
// the CA home, or a PostgreSQL database, where the nonces live too so that
// several servers on it act as one. It returns where the state is, for
// messages (without a password).
func openACMEStore(ctx context.Context, db, home string) (store.Store, nonce.Source, string, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := pgstore.Open(ctx, db)
		var tooNew *pgstore.SchemaTooNewError
		if errors.As(err, &tooNew) {
			return nil, nil, "", withHints(err, "run the devca that migrated it (or a newer one), or pass --db a database of its own")
		}
		if err != nil {
			return nil, nil, "", withHints(err, "check the --db URL and that PostgreSQL is up")
		}
		return st, pgnonce.New(st.Pool(), pgnonce.Config{}), pgstore.Redact(db), nil
	}
	if db == "" {
		db = filepath.Join(home, acmeDBFile)
	}
	st, err := boltstore.Open(db)
	if err != nil {
		return nil, nil, "", withHints(err, "stop the other 'devca acme' using it, or pass another --db FILE")
	}
	// nil nonces: the front end keeps them in memory.
	return st, nil, db, nil
}

// dropTime leaves the time out of log lines: they are warnings on a
// terminal, not a log file.
func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// printClientLines says, one line per client, how to point the common ACME
// clients at the server and make them trust the root.
func printClientLines(w io.Writer, dirURL, rootFile string) {
	root := ca.ShellQuote(rootFile)
	fmt.Fprintf(w, "certbot: REQUESTS_CA_BUNDLE=%s certbot certonly --standalone --server %s -d app.test\n", root, dirURL)
	fmt.Fprintf(w, "lego:    LEGO_CA_CERTIFICATES=%s lego --server %s --accept-tos --email dev@app.test --http --domains app.test run\n", root, dirURL)
	fmt.Fprintf(w, "acme.sh: acme.sh --issue --standalone --server %s --ca-bundle %s -d app.test\n", dirURL, root)
	fmt.Fprintf(w, "caddy:   in the Caddyfile's global options: acme_ca %s and acme_ca_root %s\n", dirURL, root)
}

// acmeCertificate returns the server's own certificate from the CA, as devca
// serve gets its own: for the loopback names, the listen host and the host of
// the base URL.
func acmeCertificate(e *env, auth *ca.Authority, o *acmeOptions, base string) (tls.Certificate, error) {
	names, err := acmeNames(o, base)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := serve.LeafCertificate(auth, names, time.Now())
	if err != nil {
		var ce *ca.ConstraintError
		if errors.As(err, &ce) {
			return tls.Certificate{}, withHints(err, "use a development name such as acme.test in --external-url, or recreate the CA with 'devca init --new --permit DOMAIN'")
		}
		return tls.Certificate{}, err
	}
	if !leaf.Reused {
		e.notef("issued a certificate for %s", strings.Join(names.Values(), ", "))
	}
	if leaf.NotSaved != nil {
		e.warnf("the certificate is not cached in the CA home (%v): it lives in memory for this run", leaf.NotSaved)
	}
	return leaf.Cert, nil
}

// acmeNames are the names of the server's own certificate: the loopback
// names, the listen host and the host of the base URL.
func acmeNames(o *acmeOptions, base string) (ca.Names, error) {
	inputs := []string{"localhost", "127.0.0.1", "::1"}
	if h := o.host; h != "" && h != "localhost" && !isUnspecified(h) {
		inputs = append(inputs, h)
	}
	if u, err := url.Parse(base); err == nil {
		inputs = append(inputs, u.Hostname())
	}
	names, _, err := ca.ParseNames(dedupe(inputs))
	if err != nil {
		return nil, &usageError{err: withHints(err, "check the --addr and --external-url hosts")}
	}
	return names, nil
}

// testOnlyACMELoopback makes the validation authority resolve every name to
// 127.0.0.1, so end-to-end tests can order DNS names without touching
// /etc/hosts; only tests set it.
var testOnlyACMELoopback bool

// newValidator returns the validation authority for the flags.
func newValidator(o *acmeOptions) (wfe.Validator, error) {
	cfg := va.Config{HTTPPort: o.httpPort, TLSPort: o.tlsPort, DNSServer: o.dnsServer}
	if testOnlyACMELoopback {
		cfg.LookupNetIP = func(context.Context, string, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
		}
	}
	a, err := va.New(cfg)
	if err != nil {
		return nil, err
	}
	return validator{a}, nil
}

// validator hands the front end the validation authority's failures as ACME
// problems of their own type (connection, dns, tls, unauthorized…), which it
// would otherwise report all as incorrectResponse.
type validator struct{ va *va.Authority }

func (v validator) Validate(ctx context.Context, kind, identifier, token, keyAuthorization string) error {
	err := v.va.Validate(ctx, kind, identifier, token, keyAuthorization)
	var ve *va.Error
	if errors.As(err, &ve) {
		return &wire.Problem{Type: wire.ErrorNS + ve.Type, Detail: ve.Detail}
	}
	return err
}
