package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust"
)

// testOnlySysRoot, when set, prefixes every system path the trust stores
// read or write; testOnlyEuid, when not -1, replaces the effective user id;
// testOnlyHiddenTools are programs the trust stores must not find. With
// them, scripts exercise install, uninstall, sudo handling and missing
// tools inside their work folder. Only tests set them.
var (
	testOnlySysRoot     string
	testOnlyEuid        = -1
	testOnlyHiddenTools []string
)

func newInstallCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "install the root CA into the trust stores",
		UsageText: "devca install                       every trust store present on this machine\n" +
			"devca install --stores nss,java     only these stores\n" +
			"DEVCA_TRUST_STORES=system devca install",
		Description: "install adds the root to the system store, the NSS databases of Chromium and Firefox,\n" +
			"the JDK cacerts and, under WSL, the Windows user's Root store. It prints one line per store\n" +
			"and records what it added in trust.json in the CA home, so that 'devca uninstall' removes\n" +
			"exactly that. Running it again changes nothing. Stores that need root are changed through\n" +
			"sudo; without sudo devca prints the commands to run as root.",
		Flags:  []cli.Flag{storesFlag()},
		Action: func(c *cli.Context) error { return runInstall(c, e) },
	}
}

// storesFlag is the --stores flag of init, install, uninstall and status.
func storesFlag() cli.Flag {
	return &cli.StringFlag{Name: "stores", Usage: "comma-separated trust stores: " + strings.Join(trust.KnownStores(), ", ") + " (default $DEVCA_TRUST_STORES, else every store present)"}
}

// selectedStores returns the stores named by --stores or DEVCA_TRUST_STORES;
// nil means every present store.
func selectedStores(c *cli.Context, e *env) ([]string, error) {
	list, from := c.String("stores"), "--stores"
	if !c.IsSet("stores") {
		list, from = e.getenv("DEVCA_TRUST_STORES"), "DEVCA_TRUST_STORES"
	}
	stores, err := trust.ParseStores(list)
	if err != nil {
		return nil, &usageError{err: withHints(fmt.Errorf("reading %s: %w", from, err), "run 'devca status' to see the stores on this machine")}
	}
	return stores, nil
}

// trustEnv returns the trust environment of this process. Commands that
// need root run through sudo, and the user is told why first.
func (e *env) trustEnv() (trust.Env, error) {
	euid := os.Geteuid()
	if testOnlyEuid >= 0 {
		euid = testOnlyEuid
	}
	lookPath := func(name string) (string, error) {
		if slices.Contains(testOnlyHiddenTools, filepath.Base(name)) {
			return "", fmt.Errorf("exec: %q: %w", name, exec.ErrNotFound)
		}
		return exec.LookPath(name)
	}
	// Say why once per step, not once per command of the step.
	lastWhy := ""
	runner := &trust.ExecRunner{Euid: euid, LookPath: lookPath, BeforeSudo: func(c trust.Cmd) {
		if c.Why != lastWhy {
			e.notef("using sudo to %s", c.Why)
			lastWhy = c.Why
		}
	}}
	getenv := e.getenv
	if slices.Contains(testOnlyHiddenTools, "java") {
		getenv = func(k string) string {
			if k == "JAVA_HOME" {
				return ""
			}
			return e.getenv(k)
		}
	}
	env, err := trust.DefaultEnv(getenv, runner)
	if err != nil {
		return trust.Env{}, fmt.Errorf("preparing the trust stores: %w", err)
	}
	env.Root = testOnlySysRoot
	env.LookPath = lookPath
	return env, nil
}

func runInstall(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErrorf("install takes no arguments, got %q", c.Args().First())
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	return installTrust(c, e, auth)
}

// installTrust installs auth's root into the stores chosen by --stores or
// DEVCA_TRUST_STORES (every present store by default), prints one line per
// store and returns the failures with hints. init calls it too; a command
// that calls it must have storesFlag among its flags.
func installTrust(c *cli.Context, e *env, auth *ca.Authority) error {
	stores, err := selectedStores(c, e)
	if err != nil {
		return err
	}
	tenv, err := e.trustEnv()
	if err != nil {
		return withHints(err, "install "+filepath.Join(auth.Dir, ca.RootCertFile)+" into your trust stores by hand")
	}
	if u := e.getenv("SUDO_USER"); u != "" && u != "root" && os.Geteuid() == 0 {
		e.warnf("running under sudo: the NSS databases in %q are changed, not those of %s; run devca as %s, it uses sudo itself where needed", tenv.Home, u, u)
	}
	results, err := trust.InstallAll(context.Background(), tenv, auth.Cert, filepath.Join(auth.Dir, ca.RootCertFile), auth.Dir, stores)
	printResults(e, results, func(r trust.Result) string {
		switch {
		case r.Err != nil && !r.Present:
			return "not found"
		case r.Err != nil:
			return "failed"
		case r.Changed:
			return "installed"
		}
		return "already trusted"
	})
	for _, r := range results {
		if r.Store == trust.StoreNSS && r.Changed {
			e.notef("restart Firefox and Chromium so that they read the updated NSS databases")
		}
	}
	if len(results) == 0 && err == nil {
		e.warnf("no trust store found on this machine; nothing was installed")
	}
	return explainTrustErrors(results, err, "installing")
}

// printResults prints one line per store on stdout: name, outcome,
// description and, for stores with several places, how many trust the root.
func printResults(e *env, results []trust.Result, outcome func(trust.Result) string) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s%s\n", r.Store, outcome(r), r.Description, locationSummary(r))
	}
	tw.Flush()
}

func locationSummary(r trust.Result) string {
	n, trusted := 0, 0
	for _, l := range r.Locations {
		if l.Missing {
			continue
		}
		n++
		if l.Trusted {
			trusted++
		}
	}
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" (%d of %d trust the root)", trusted, n)
}

// explainTrustErrors attaches to each store's error the hint that fixes it.
// A nil result list with an error means nothing was attempted.
func explainTrustErrors(results []trust.Result, err error, doing string) error {
	if err == nil {
		return nil
	}
	if len(results) == 0 {
		return withHints(err, trustHints(err)...)
	}
	var errs []error
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		hints := trustHints(r.Err)
		if failed < len(results) {
			hints = append(hints, "the other stores were handled independently (see the lines above)")
		}
		errs = append(errs, withHints(r.Err, hints...))
	}
	// Errors outside any store, such as saving the install record.
	if len(errs) == 0 {
		return withHints(fmt.Errorf("%s the root: %w", doing, err), trustHints(err)...)
	}
	return errors.Join(errs...)
}

// trustHints turns the trust package's typed errors into next actions.
func trustHints(err error) []string {
	var hints []string
	var tm *trust.ToolMissingError
	if errors.As(err, &tm) && tm.Hint != "" {
		hints = append(hints, tm.Hint)
	}
	var pe *trust.PrivilegeError
	if errors.As(err, &pe) {
		hints = append(hints, "run as root: "+strings.Join(pe.Commands, " && "))
	}
	var np *trust.NotPresentError
	if errors.As(err, &np) {
		hints = append(hints, fmt.Sprintf("leave %q out of --stores and DEVCA_TRUST_STORES", np.Store))
	}
	if errors.Is(err, trust.ErrNotRecorded) {
		hints = append(hints, "devca only removes what it installed; remove that certificate by hand if you put it there")
	}
	if errors.Is(err, trust.ErrUnsupported) {
		hints = append(hints, "install the root file from 'devca home' into your trust stores by hand")
	}
	var ce *trust.CmdError
	if errors.As(err, &ce) && len(hints) == 0 {
		hints = append(hints, "fix the problem above and run the command again; it only redoes what is missing")
	}
	return hints
}
