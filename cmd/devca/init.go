package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/serve"
)

func newInitCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create the root CA (once per machine) and trust it",
		UsageText: "devca init                         create the CA and install it into the trust stores\n" +
			"devca init --no-trust              create the CA only\n" +
			"devca init --permit dev.corp.example --permit 100.64.0.0/10\n" +
			"devca init --new --yes             replace the CA with a new one\n" +
			"devca init --key-storage passphrase   encrypt the root key with a passphrase\n" +
			"devca init --from-mkcert           adopt mkcert's root (from 'mkcert -CAROOT'), or --from-mkcert DIR\n" +
			"devca init --import team-ca.p12    adopt a root written by 'devca export --p12'",
		Description: "init creates a root CA in the CA home (see 'devca home') unless one is there already,\n" +
			"then installs it into the trust stores. Run again, it never replaces the CA: it reports\n" +
			"the existing one. By default the root may only certify development names (localhost,\n" +
			".test, .example, .invalid, .local, .internal, .home.arpa and private IP ranges).\n\n" +
			"The root key is kept encrypted with a secret in the OS keyring when one answers, else in\n" +
			"a plain file (mode 0600) with a warning; 'devca key-storage --to' moves it later.",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "no-trust", Usage: "create the CA but do not touch any trust store"},
			storesFlag(),
			&cli.StringFlag{Name: "key-type", Value: string(ca.DefaultKeyType), Usage: "root key type: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or rsa-4096"},
			&cli.StringSliceFlag{Name: "permit", Usage: "also permit this domain (and its subdomains) or CIDR range; repeatable"},
			&cli.BoolFlag{Name: "permit-public", Usage: "accept --permit values that cover public names (com, co.uk, 0.0.0.0/0); a leaked key can then impersonate those sites"},
			&cli.BoolFlag{Name: "unconstrained", Usage: "let the root certify any name, like mkcert (a leaked key can then impersonate any site)"},
			&cli.BoolFlag{Name: "new", Usage: "replace the existing CA with a new one"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "with --new, do not ask for confirmation"},
			keyStorageFlag(),
		}, importFlags()...),
		Action: func(c *cli.Context) error { return runInit(c, e) },
	}
}

func runInit(c *cli.Context, e *env) error {
	args, err := positionalArgs(c, e.args)
	if err != nil {
		return err
	}
	if err := checkImportFlags(c, args); err != nil {
		return err
	}
	if c.Bool("unconstrained") && len(c.StringSlice("permit")) > 0 {
		return usageErrorf("--permit and --unconstrained cannot be used together")
	}
	if c.Bool("no-trust") && c.IsSet("stores") {
		return usageErrorf("--no-trust and --stores cannot be used together")
	}
	if c.Bool("yes") && !c.Bool("new") {
		return usageErrorf("--yes only confirms --new")
	}
	kt, err := ca.ParseKeyType(c.String("key-type"))
	if err != nil {
		return &usageError{err: err}
	}
	cons, err := initConstraints(c)
	if err != nil {
		return err
	}
	dir, err := e.home()
	if err != nil {
		return err
	}

	var replaced *ca.Authority // the CA that --new retires, if any
	existing, err := ca.Load(dir)
	var incomplete *ca.IncompleteError
	if errors.As(err, &incomplete) && !c.Bool("new") {
		// A lost rootCA.pem next to its key: a new CA would replace the key
		// for good (and, with passphrase storage, its salt and key id).
		return withHints(fmt.Errorf("not creating a CA: %w", err), incompleteHints(incomplete)...)
	}
	if err == nil && c.Bool("new") {
		// Asked first: a refusal or a missing --yes must cost no
		// passphrase prompt and store nothing.
		if err := confirmReplace(c, e, existing); err != nil {
			return err
		}
	}
	var plan *rootPlan
	if errors.Is(err, ca.ErrNoCA) || incomplete != nil || err == nil && c.Bool("new") {
		var perr error
		if plan, perr = e.planNewRoot(c, dir, args); perr != nil {
			return perr
		}
	}
	switch {
	case err == nil && !c.Bool("new"):
		return reportExisting(c, e, dir, existing)
	case err == nil:
		retired, err := retireCA(dir)
		if err != nil {
			return err
		}
		e.notef("moved the old CA to %q", retired)
		replaced = existing
	case incomplete != nil:
		// Nothing here can sign any more, and nothing is deleted: the
		// parts go to retired/ like a whole CA would.
		retired, err := retireCA(dir)
		if err != nil {
			return err
		}
		e.notef("moved what was left of the old CA (%s) to %q", strings.Join(incomplete.Files, ", "), retired)
	case errors.Is(err, ca.ErrNoCA):
		if c.Bool("new") {
			e.notef("there is no CA to replace in %q; creating one", dir)
		}
	default:
		return explainLoadError(dir, err)
	}

	if c.Bool("unconstrained") {
		e.warnf("the new root has no name constraints: anyone who obtains its key can impersonate any website to this machine")
	}
	if public := cons.Public(); len(public) > 0 {
		e.warnf("the new root may certify public names (%s): anyone who obtains its key can impersonate those websites to this machine", strings.Join(public, ", "))
	}
	host, _ := e.hostname()
	auth, err := plan.create(e, dir, ca.CreateOptions{KeyType: kt, Constraints: cons, User: e.userName(), Host: host})
	if errors.Is(err, ca.ErrExists) {
		// Another devca created a CA at the same time and won: this run ends
		// as a run after it would.
		existing, err := e.loadCA()
		if err != nil {
			return err
		}
		return reportExisting(c, e, dir, existing)
	}
	if err != nil {
		return explainLoadError(dir, fmt.Errorf("creating root CA in %q: %w", dir, err))
	}
	fmt.Fprintf(e.stdout, "%s in %s\n", plan.done(), dir)
	// Only now that the key is stored is a warning about how it is stored
	// true.
	for _, w := range plan.warnings {
		e.warnf("%s", w)
	}
	printRootSummary(e, auth)
	if err := ensureTrust(c, e, auth); err != nil {
		return err
	}
	if replaced != nil && !c.Bool("no-trust") {
		// The retired root must not stay trusted: remove exactly what the
		// install record says devca added for it.
		e.notef("removing the old root from the trust stores")
		stores, err := selectedStores(c, e)
		if err != nil {
			return err
		}
		return uninstallRoot(e, dir, replaced.Cert, stores)
	}
	return nil
}

// reportExisting is init's answer when the home already holds a CA: it
// never replaces it, and makes sure it is trusted.
func reportExisting(c *cli.Context, e *env, dir string, existing *ca.Authority) error {
	if importRequested(c) {
		return withHints(fmt.Errorf("a CA already exists in %q, and init never replaces one", dir), "add --new to replace it with the imported root")
	}
	if c.String("key-storage") != "" {
		e.notef("--key-storage only applies to a new CA; 'devca key-storage --to %s' moves this one's key", c.String("key-storage"))
	}
	fmt.Fprintf(e.stdout, "a CA already exists in %s\n", dir)
	printRootSummary(e, existing)
	e.notef("init never replaces a CA; 'devca init --new' makes a new one")
	return ensureTrust(c, e, existing)
}

// incompleteHints say how to get out of a CA home that lost its root
// certificate.
func incompleteHints(inc *ca.IncompleteError) []string {
	return []string{
		fmt.Sprintf("if you have a backup of %s, put it back in %q", ca.RootCertFile, inc.Dir),
		fmt.Sprintf("or run 'devca init --new' to move these files to %q and create a new CA", filepath.Join(inc.Dir, ca.RetiredDir)),
	}
}

// initConstraints returns the name constraints for a new root. A --permit
// that covers public names is refused unless --permit-public says it is meant.
func initConstraints(c *cli.Context) (ca.Constraints, error) {
	permits := c.StringSlice("permit")
	if c.Bool("permit-public") && len(permits) == 0 {
		return ca.Constraints{}, usageErrorf("--permit-public only applies with --permit")
	}
	if c.Bool("unconstrained") {
		return ca.Constraints{}, nil
	}
	build := ca.DefaultConstraints
	if c.Bool("permit-public") {
		build = ca.DefaultConstraintsAllowingPublic
	}
	cons, err := build(permits)
	var pe *ca.PublicPermitError
	if errors.As(err, &pe) {
		return ca.Constraints{}, &usageError{err: withHints(err,
			"permit only names you control, such as dev.example.com, or a private range, such as 10.1.0.0/16",
			"only if every name it covers is yours to certify, add --permit-public: anyone who obtains the root key could then impersonate those sites to this machine")}
	}
	if err != nil {
		return ca.Constraints{}, &usageError{err: err}
	}
	return cons, nil
}

// printRootSummary prints the lines that identify a root.
func printRootSummary(e *env, auth *ca.Authority) {
	fmt.Fprintf(e.stdout, "  subject      %s\n", auth.Cert.Subject.CommonName)
	fmt.Fprintf(e.stdout, "  fingerprint  SHA256 %s\n", ca.Fingerprint(auth.Cert))
	fmt.Fprintf(e.stdout, "  expires      %s\n", auth.Cert.NotAfter.UTC().Format(time.DateOnly))
	fmt.Fprintf(e.stdout, "  constraints  %s\n", auth.Constraints())
}

// ensureTrust installs the root into the trust stores unless --no-trust.
func ensureTrust(c *cli.Context, e *env, auth *ca.Authority) error {
	if c.Bool("no-trust") {
		e.notef("left the trust stores alone (--no-trust); browsers will not trust certificates from this CA yet")
		return nil
	}
	return installTrust(c, e, auth)
}

// confirmReplace explains what replacing the CA breaks and asks for a "yes",
// unless --yes was given.
func confirmReplace(c *cli.Context, e *env, old *ca.Authority) error {
	e.notef("replacing the CA %q (SHA256 %s)", old.Cert.Subject.CommonName, ca.Fingerprint(old.Cert))
	e.notef("every certificate it issued stops being trusted once the old root leaves the trust stores;")
	e.notef("re-issue them afterwards with 'devca renew --all'")
	if c.Bool("yes") {
		return nil
	}
	if f, ok := e.stdin.(*os.File); !ok || !isTerminal(f) {
		return &usageError{err: withHints(errors.New("replacing the CA needs confirmation: pass --yes"),
			"standard input is not a terminal, so devca cannot ask; add --yes to replace the CA")}
	}
	fmt.Fprintf(e.stderr, "type yes to replace it: ")
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(strings.ToLower(line)) != "yes" {
		return errors.New("the CA was not replaced")
	}
	return nil
}

// retireCA moves the CA home's root to retired/ (see ca.Retire), with the
// serve certificate it issued.
func retireCA(dir string) (string, error) { return ca.Retire(dir, serve.CertDir) }

// userName names the person running devca, for the root's subject.
func (e *env) userName() string {
	for _, v := range []string{"USER", "LOGNAME", "USERNAME"} {
		if u := e.getenv(v); u != "" {
			return u
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// isTerminal reports whether f is an interactive terminal. A character
// device is not enough: /dev/null and /dev/zero are character devices too,
// and a prompt read from them gets no answer or never ends.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
