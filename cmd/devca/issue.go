package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
)

// leafOutputFlags are the flags issue, sign and renew share for where and how
// files are written.
func leafOutputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cert-file", Usage: "write the certificate to `FILE` (default NAME+N.pem in the current folder; - for standard output)"},
		decimalIntFlag{&cli.IntFlag{Name: "days", Usage: fmt.Sprintf("validity in days, 1–%d", ca.MaxLeafDays), DefaultText: fmt.Sprint(ca.MaxLeafDays)}},
		&cli.BoolFlag{Name: "client", Usage: "also allow TLS client authentication"},
		&cli.BoolFlag{Name: "fullchain", Usage: "append the root certificate to the certificate file"},
		&cli.BoolFlag{Name: "force", Usage: "overwrite regular files even if devca did not write them (never inside the CA home)"},
		&cli.BoolFlag{Name: "json", Usage: "print what was written as JSON"},
	}
}

func newIssueCommand(e *env) *cli.Command {
	flags := append(leafOutputFlags(),
		&cli.StringFlag{Name: "key-type", Value: string(ca.DefaultKeyType), Usage: "key type: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or rsa-4096"},
		&cli.StringFlag{Name: "key-file", Usage: "write the private key to `FILE` (default NAME+N-key.pem)"},
		&cli.BoolFlag{Name: "p12", Usage: "also write a PKCS#12 file NAME+N.p12"},
		&cli.StringFlag{Name: "p12-file", Usage: "also write a PKCS#12 file to `FILE`"},
		&cli.BoolFlag{Name: "p12-legacy", Usage: "encrypt the PKCS#12 file the legacy way (3DES) for macOS Keychain, older Windows and Android"},
		&cli.StringFlag{Name: "p12-password", Value: ca.DefaultP12Password, Usage: "PKCS#12 password (or set DEVCA_P12_PASSWORD)"},
	)
	return &cli.Command{
		Name:      "issue",
		Usage:     "issue a certificate for one or more names",
		ArgsUsage: "NAME...",
		UsageText: "devca issue localhost 127.0.0.1 ::1\n" +
			"devca issue '*.app.test' app.test --cert-file app.pem --key-file app-key.pem\n" +
			"devca issue dev@app.test --client\n" +
			"devca issue spiffe://app.test/api --days 30\n" +
			"devca issue localhost --p12          (also writes localhost.p12, password changeit)",
		Description: "Each NAME becomes a subject alternative name: DNS names (internationalised names are\n" +
			"converted to punycode), wildcards in the leftmost label, IPv4 and IPv6 addresses, email\n" +
			"addresses and URIs. The files are written to the current folder unless named.",
		Flags:  flags,
		Action: func(c *cli.Context) error { return runIssue(c, e) },
	}
}

// issueResult is what --json prints for one written certificate.
type issueResult struct {
	CertFile    string    `json:"cert_file"`
	KeyFile     string    `json:"key_file,omitempty"`
	P12File     string    `json:"p12_file,omitempty"`
	Serial      string    `json:"serial"`
	Names       []string  `json:"names"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint"`
}

func runIssue(c *cli.Context, e *env) error {
	args, err := positionalArgs(c, e.args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usageErrorf("issue needs at least one name, as in 'devca issue localhost'")
	}
	names, warnings, err := ca.ParseNames(args)
	if err != nil {
		return badNames(err)
	}
	kt, err := ca.ParseKeyType(c.String("key-type"))
	if err != nil {
		return &usageError{err: err}
	}
	if err := checkDays(c); err != nil {
		return err
	}
	if c.Bool("p12-legacy") && !wantsP12(c) {
		return usageErrorf("--p12-legacy only applies with --p12 or --p12-file")
	}
	toStdout := c.String("cert-file") == stdoutPath
	if err := checkStdoutFlags(c, "--key-file", "--p12-file"); err != nil {
		return err
	}
	password := p12Password(c, e)
	if wantsP12(c) {
		// Checked now: the format cannot encode every password, and
		// finding out after signing would waste the certificate.
		if err := ca.CheckP12Password(password); err != nil {
			return &usageError{err: withHints(err, p12PasswordHint)}
		}
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	for _, w := range warnings {
		e.warnf("%s", w)
	}

	base := baseName(names)
	certPath := ""
	if !toStdout {
		certPath = absPath(stringOr(c.String("cert-file"), base+".pem"))
	}
	keyPath := absPath(stringOr(c.String("key-file"), base+"-key.pem"))
	p12Path := ""
	if wantsP12(c) {
		p12Path = absPath(stringOr(c.String("p12-file"), base+".p12"))
	}
	// Check every output before signing anything, so a refused overwrite
	// costs nothing and writes nothing.
	var planned []outputTarget
	if certPath != "" {
		planned = append(planned, outputTarget{What: "certificate", Path: certPath})
	}
	planned = append(planned, outputTarget{What: "key", Path: keyPath})
	if p12Path != "" {
		planned = append(planned, outputTarget{What: "PKCS#12 file", Path: p12Path})
	}
	if err := checkOverwrite(auth, planned, c.Bool("force")); err != nil {
		return err
	}

	is, err := auth.IssueToFiles(ca.LeafRequest{Names: names, KeyType: kt, Days: c.Int("days"), Client: c.Bool("client")},
		ca.Files{CertFile: certPath, FullChain: c.Bool("fullchain"), KeyFile: keyPath,
			P12File: p12Path, P12Password: password, P12Legacy: c.Bool("p12-legacy")})
	if err != nil {
		return explainIssueError(err)
	}
	if toStdout {
		return printIssuedToStdout(e, is.Issued, names, is.CertPEM)
	}
	return printIssued(c, e, is.Issued, names)
}

func printIssued(c *cli.Context, e *env, entry ca.Issued, names ca.Names) error {
	if c.Bool("json") {
		return printJSON(e, issueResult{
			CertFile: entry.CertFile, KeyFile: entry.KeyFile, P12File: entry.P12File,
			Serial: entry.Serial, Names: entry.Names, NotAfter: entry.NotAfter, Fingerprint: entry.Fingerprint,
		})
	}
	fmt.Fprintf(e.stdout, "issued a certificate for %s\n", strings.Join(names.Values(), ", "))
	fmt.Fprintf(e.stdout, "  certificate  %s\n", displayPath(entry.CertFile))
	if entry.KeyFile != "" {
		fmt.Fprintf(e.stdout, "  key          %s\n", displayPath(entry.KeyFile))
	}
	if entry.P12File != "" {
		fmt.Fprintf(e.stdout, "  pkcs12       %s\n", displayPath(entry.P12File))
	}
	fmt.Fprintf(e.stdout, "  expires      %s\n", entry.NotAfter.Format(time.DateOnly))
	return nil
}

// printIssuedToStdout writes the certificate (chain) to standard output for
// --cert-file -, and what else was written to standard error, where it
// cannot end up in the piped certificate.
func printIssuedToStdout(e *env, entry ca.Issued, names ca.Names, certPEM []byte) error {
	if _, err := e.stdout.Write(certPEM); err != nil {
		return fmt.Errorf("writing the certificate to standard output: %w", err)
	}
	e.notef("issued a certificate for %s, expires %s", strings.Join(names.Values(), ", "), entry.NotAfter.Format(time.DateOnly))
	if entry.KeyFile != "" {
		e.notef("key written to %s", displayPath(entry.KeyFile))
	}
	if entry.P12File != "" {
		e.notef("pkcs12 written to %s", displayPath(entry.P12File))
	}
	return nil
}

// checkStdoutFlags allows "-" (standard output) for --cert-file only:
// private keys are never written to standard output, where they end up in
// terminals, scrollback and logs. keyFlags are the command's flags that
// write secrets.
func checkStdoutFlags(c *cli.Context, keyFlags ...string) error {
	for _, f := range keyFlags {
		if c.String(strings.TrimPrefix(f, "--")) == stdoutPath {
			return usageErrorf("%s - would print a private key; devca writes keys only to files", f)
		}
	}
	if c.String("cert-file") == stdoutPath && c.Bool("json") {
		return usageErrorf("--cert-file - and --json both write to standard output; choose one")
	}
	return nil
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func wantsP12(c *cli.Context) bool { return c.Bool("p12") || c.String("p12-file") != "" }

func checkDays(c *cli.Context) error {
	if c.IsSet("days") {
		if d := c.Int("days"); d < 1 || d > ca.MaxLeafDays {
			return usageErrorf("--days must be between 1 and %d (Apple platforms reject longer certificates), got %d", ca.MaxLeafDays, d)
		}
	}
	return nil
}

// explainIssueError adds the fix for a name outside the name constraints. It
// proposes a --permit only when init would accept it: never one that covers
// public names.
func explainIssueError(err error) error {
	var ce *ca.ConstraintError
	if !errors.As(err, &ce) {
		return err
	}
	permit, perr := ca.PermitFor(ce.Name)
	var pe *ca.PublicPermitError
	switch {
	case perr == nil:
		return withHints(err,
			"use a development name (such as app.test or app.localhost), or",
			fmt.Sprintf("create a CA that permits it: 'devca init --new --permit %s' (this replaces the current CA)", permit))
	case errors.As(perr, &pe):
		return withHints(err, pe.Reason,
			"a devca root certifies only development and private names, so that a leaked key cannot impersonate real websites; use one such as app.test or app.localhost")
	default:
		return withHints(err, "use a development name (such as app.test or app.localhost)", perr.Error())
	}
}

func stringOr(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// badNames is the usage error for a name that cannot go into a certificate,
// or for too many names, where a list of name kinds would not help.
func badNames(err error) error {
	var ne *ca.NameError
	if !errors.As(err, &ne) {
		return &usageError{err: err}
	}
	return &usageError{err: withHints(err, "a name is a DNS name (app.test, *.app.test), an IP address, an email address or a URI")}
}

// p12PasswordHint is the fix for a password ca.CheckP12Password refuses.
const p12PasswordHint = "choose a password of letters, digits, punctuation and spaces (PKCS#12 cannot encode emoji and similar characters)"

// p12Password is --p12-password, else a non-empty $DEVCA_P12_PASSWORD, else
// the default. An empty variable counts as unset, as shells often leave them.
func p12Password(c *cli.Context, e *env) string {
	if c.IsSet("p12-password") {
		return c.String("p12-password")
	}
	if pw := e.getenv("DEVCA_P12_PASSWORD"); pw != "" {
		return pw
	}
	return ca.DefaultP12Password
}
