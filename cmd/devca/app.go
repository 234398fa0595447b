package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust"
)

// env is everything a command may touch outside its own arguments. Commands
// receive it explicitly; nothing reads os.Getenv or os.Stdout directly.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// args is the whole command line, for the few checks that need to see
	// exactly what the user typed (see positionalArgs).
	args []string
	// hostname names this machine in new roots.
	hostname func() (string, error)
	// keyring and readPassword replace the system keyring and the terminal
	// prompt in tests; nil means the real ones (see storage.go).
	keyring      ca.Keyring
	readPassword func(prompt string) ([]byte, error)
	// statusAll replaces trust.StatusAll in tests of 'devca status' that
	// need a store check to fail; nil means trust.StatusAll.
	statusAll func(ctx context.Context, env trust.Env, root *x509.Certificate, stores []string) ([]trust.Result, error)

	// loaded are the CAs this command opened, whose damaged record lines
	// are reported when it ends (see printRecordWarnings).
	loaded []*ca.Authority

	// unknownCommand is set when the cli library reports an unknown command,
	// which it does through a callback that cannot return an error.
	unknownCommand bool
}

// goos is the operating system devca runs on; a field-free helper so tests of
// path logic can pass another value to the ca package directly.
func (e *env) goos() string { return runtime.GOOS }

// home returns the CA home folder: $DEVCA_HOME or the OS default.
func (e *env) home() (string, error) {
	dir, err := ca.DefaultHome(e.getenv, e.goos())
	if err != nil {
		return "", withHints(fmt.Errorf("finding the CA home: %w", err), "set DEVCA_HOME to the folder devca should use")
	}
	return dir, nil
}

// loadCA opens the CA in the home folder, turning the common failures into
// errors with hints.
func (e *env) loadCA() (*ca.Authority, error) {
	dir, err := e.home()
	if err != nil {
		return nil, err
	}
	auth, err := ca.Load(dir, ca.WithSecrets(e.secrets()))
	if err != nil {
		return nil, explainLoadError(dir, err)
	}
	e.loaded = append(e.loaded, auth)
	return auth, nil
}

// explainLoadError adds the hint that fixes each kind of load failure.
func explainLoadError(dir string, err error) error {
	var perm *ca.InsecurePermissionsError
	var incomplete *ca.IncompleteError
	switch {
	case errors.Is(err, ca.ErrNoCA):
		return withHints(fmt.Errorf("no CA in %q", dir), "run 'devca init' to create one")
	case errors.As(err, &perm):
		return withHints(err, perm.Fix)
	case errors.As(err, &incomplete):
		return withHints(err, incompleteHints(incomplete)...)
	}
	return err
}

// newApp assembles the devca command line.
func newApp(e *env) *cli.App {
	app := &cli.App{
		Name:    "devca",
		Usage:   "a local development certificate authority and HTTPS helper",
		Version: version,
		Description: "devca creates a root certificate authority on this machine, installs it into the\n" +
			"trust stores that browsers and tools read, and issues certificates for development names.",
		UsageText: "devca init                      create the CA and trust it\n" +
			"devca issue localhost 127.0.0.1 '*.app.test'\n" +
			"devca serve ./site               serve a folder over HTTPS\n" +
			"devca acme                       an ACME server for certbot, lego, Caddy, cert-manager",
		Reader:                    e.stdin,
		Writer:                    e.stdout,
		ErrWriter:                 e.stderr,
		EnableBashCompletion:      true,
		HideHelpCommand:           false,
		Suggest:                   true,
		UseShortOptionHandling:    false,
		DisableSliceFlagSeparator: true,
		Commands: []*cli.Command{
			newInitCommand(e),
			newInstallCommand(e),
			newUninstallCommand(e),
			newStatusCommand(e),
			newEnvCommand(e),
			newIssueCommand(e),
			newSignCommand(e),
			newListCommand(e),
			newRenewCommand(e),
			newServeCommand(e),
			newACMECommand(e),
			newIntermediateCommand(e),
			newHomeCommand(e),
			newInfoCommand(e),
			newKeyStorageCommand(e),
			newExportCommand(e),
			newCompletionCommand(e),
		},
	}
	app.OnUsageError = onUsageError
	app.ExitErrHandler = func(*cli.Context, error) {}
	// Runs after every command, failed or not, and before its error prints.
	app.After = func(*cli.Context) error { e.printRecordWarnings(); return nil }
	app.CommandNotFound = func(c *cli.Context, name string) {
		// CommandNotFound cannot return an error, so report here; the exit code
		// is set through the returned error of Run below (see run).
		e.exit(&usageError{err: withHints(fmt.Errorf("unknown command %q", name), "run 'devca help' to list the commands")})
		e.unknownCommand = true
	}
	for _, cmd := range app.Commands {
		setUsageErrorHandler(cmd)
	}
	return app
}

// setUsageErrorHandler makes every command report flag mistakes in the devca
// format instead of the library's "Incorrect Usage" plus the whole help text.
//
// It also points usage errors that an Action returns without a hint at that
// command's own help, rather than at devca's general help.
func setUsageErrorHandler(cmd *cli.Command) {
	cmd.OnUsageError = onUsageError
	if action := cmd.Action; action != nil {
		cmd.Action = func(c *cli.Context) error {
			err := action(c)
			var usage *usageError
			if errors.As(err, &usage) && len(hintsOf(err)) == 0 {
				return &usageError{err: withHints(usage.err, fmt.Sprintf("run '%s --help' for usage", commandPath(c)))}
			}
			return err
		}
	}
	for _, sub := range cmd.Subcommands {
		setUsageErrorHandler(sub)
	}
}

// parseInvalidValue splits the flag package's message
// `invalid value "x" for flag -days: parse error` into its value (quoted)
// and flag. It is hand-written rather than a regexp compiled at start-up,
// because start-up is most of what a devca command costs.
func parseInvalidValue(msg string) (value, flagName string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "invalid value ")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, " for flag -")
	if i < 0 {
		return "", "", false
	}
	value, rest = rest[:i], rest[i+len(" for flag "):]
	flagName, _, _ = strings.Cut(rest, ":")
	return value, flagName, true
}

// flagSpelling writes a flag the way devca documents it: --name, or -x for
// one-letter aliases. The flag package reports "-name" for both spellings.
func flagSpelling(name string) string {
	name = strings.TrimLeft(name, "-")
	if len(name) > 1 {
		return "--" + name
	}
	return "-" + name
}

func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	msg := err.Error()
	// The flag package says "flag provided but not defined: -x"; say it the
	// devca way and point at the command's own help.
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		msg = "unknown flag " + flagSpelling(name)
	} else if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		msg = "flag " + flagSpelling(name) + " needs a value"
	} else if value, flagName, ok := parseInvalidValue(msg); ok {
		msg = fmt.Sprintf("invalid value %s for flag %s", value, flagSpelling(flagName))
		if cause := invalidValueCause(err.Error()); cause != "" {
			msg += ": " + cause
		}
	}
	return &usageError{err: withHints(errors.New(msg), fmt.Sprintf("run '%s --help' for usage", commandPath(c)))}
}

// commandPath is the command line that names c's command, subcommands with
// their parents ("devca acme eab create"), for hints that point at its help.
func commandPath(c *cli.Context) string {
	if c == nil || c.Command == nil || c.Command.Name == "" || c.Command.Name == c.App.Name {
		return "devca"
	}
	if c.Command.HelpName != "" && strings.HasPrefix(c.Command.HelpName, c.App.Name+" ") {
		return c.Command.HelpName
	}
	return "devca " + c.Command.Name
}
