package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
)

func newRenewCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "renew",
		Usage:     "re-issue recorded certificates that expire soon, in place",
		ArgsUsage: "[NAME...]",
		UsageText: "devca renew                  renew what expires within 30 days\n" +
			"devca renew --within 90d\n" +
			"devca renew localhost        renew the certificates for localhost now\n" +
			"devca renew --all            renew every recorded certificate (after 'devca init --new')",
		Description: "renew writes a new key and certificate over the files a recorded certificate went to,\n" +
			"with the same names and options. It leaves a certificate alone when its certificate, key or\n" +
			"PKCS#12 file was changed or removed since devca wrote it, or now resolves into the CA home.\n" +
			"PKCS#12 files are re-encrypted with --p12-password (default changeit).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "within", Value: "30d", Usage: "renew certificates expiring within this `DURATION`"},
			&cli.BoolFlag{Name: "all", Usage: "renew every current certificate"},
			&cli.StringSliceFlag{Name: "serial", Usage: "renew the certificate with this serial (hex); repeatable"},
			&cli.StringFlag{Name: "p12-password", Value: ca.DefaultP12Password, Usage: "password for renewed PKCS#12 files (or set DEVCA_P12_PASSWORD)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be renewed and change nothing"},
		},
		Action: func(c *cli.Context) error { return runRenew(c, e) },
	}
}

func runRenew(c *cli.Context, e *env) error {
	args, err := positionalArgs(c, e.args)
	if err != nil {
		return err
	}
	window, err := parseWindow(c.String("within"))
	if err != nil {
		return err
	}
	var wanted ca.Names
	if len(args) > 0 {
		if wanted, _, err = ca.ParseNames(args); err != nil {
			return badNames(err)
		}
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	entries, err := auth.Record()
	if err != nil {
		return err
	}
	now := time.Now()
	serials := c.StringSlice("serial")
	var due []ca.Issued
	var failed []error
	for _, en := range entries {
		if !en.Current() {
			continue
		}
		explicit := slices.Contains(serials, en.Serial) || namesOverlap(en.Names, wanted)
		if en.CertFile == "" {
			// Written to standard output: there is no file to renew in
			// place. Only say so when it was asked for.
			if explicit {
				failed = append(failed, notRenewed(e, "", withHints(
					fmt.Errorf("the certificate for %s (serial %s) went to standard output, so there is no file to renew", joinNames(en.Names), en.Serial),
					"issue it again with 'devca issue' or 'devca sign'")))
			}
			continue
		}
		if c.Bool("all") || explicit || len(wanted) == 0 && len(serials) == 0 && en.NotAfter.Sub(now) <= window {
			due = append(due, en)
		}
	}
	total := len(due) + len(failed)
	if total == 0 {
		if len(wanted) > 0 || len(serials) > 0 {
			return withHints(errors.New("no recorded certificate matches"), "run 'devca list' to see the recorded certificates")
		}
		fmt.Fprintf(e.stdout, "nothing to renew: no recorded certificate expires within %s\n", c.String("within"))
		return nil
	}
	if err := checkRenewP12Password(c, e, due); err != nil {
		return err
	}
	for _, en := range due {
		if c.Bool("dry-run") {
			fmt.Fprintf(e.stdout, "would renew %s (%s, expires %s)\n", displayPath(en.CertFile), joinNames(en.Names), en.NotAfter.Format(time.DateOnly))
			continue
		}
		renewed, err := renewEntry(c, e, auth, en)
		if err != nil {
			failed = append(failed, notRenewed(e, en.CertFile, err))
			continue
		}
		fmt.Fprintf(e.stdout, "renewed %s (%s), now expires %s\n", displayPath(renewed.CertFile), joinNames(renewed.Names), renewed.NotAfter.Format(time.DateOnly))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d certificates were not renewed", len(failed), total)
	}
	return nil
}

// notRenewed warns that one certificate was not renewed, with the error's
// hints, and returns the error; renew goes on with the others.
func notRenewed(e *env, certFile string, err error) error {
	if certFile != "" {
		e.warnf("not renewed %s: %v", displayPath(certFile), err)
	} else {
		e.warnf("not renewed: %v", err)
	}
	for _, h := range hintsOf(err) {
		e.hintf("%s", h)
	}
	return err
}

// checkRenewP12Password checks the PKCS#12 password before anything is
// renewed, when a certificate due has a PKCS#12 file.
func checkRenewP12Password(c *cli.Context, e *env, due []ca.Issued) error {
	if !slices.ContainsFunc(due, func(en ca.Issued) bool { return en.P12File != "" }) {
		return nil
	}
	if err := ca.CheckP12Password(p12Password(c, e)); err != nil {
		return &usageError{err: withHints(err, p12PasswordHint)}
	}
	return nil
}

// renewEntry re-issues one recorded certificate over its own files.
func renewEntry(c *cli.Context, e *env, auth *ca.Authority, old ca.Issued) (ca.Issued, error) {
	// The record may name paths that are no longer safe to write (a folder
	// since replaced by a link into the CA home, or a record from an older
	// devca); the same rules as for new files apply.
	targets := []outputTarget{{What: "certificate", Path: old.CertFile}}
	if old.KeyFile != "" {
		targets = append(targets, outputTarget{What: "key", Path: old.KeyFile})
	}
	if old.P12File != "" {
		targets = append(targets, outputTarget{What: "PKCS#12 file", Path: old.P12File})
	}
	if err := checkTargets(auth.Dir, targets); err != nil {
		return ca.Issued{}, err
	}
	// Never overwrite what someone changed since devca wrote it: Renew
	// refuses, and the hints say how to go on.
	is, err := auth.Renew(old, p12Password(c, e))
	var changed *ca.FileChangedError
	switch {
	case errors.As(err, &changed) && changed.Removed:
		return ca.Issued{}, withHints(err, "issue the certificate again ('devca issue' or 'devca sign') to write all its files")
	case errors.As(err, &changed) && changed.Unverifiable:
		return ca.Issued{}, withHints(err, "pass the password it was written with in --p12-password, or move it away and issue again")
	case errors.As(err, &changed):
		return ca.Issued{}, withHints(err, "if the change is yours to discard, move the file away and issue the certificate again ('devca issue' or 'devca sign')")
	case err != nil:
		return ca.Issued{}, err
	}
	return is.Issued, nil
}

func namesOverlap(have []string, want ca.Names) bool {
	for _, w := range want {
		if slices.Contains(have, w.Value) {
			return true
		}
	}
	return false
}

func joinNames(names []string) string {
	const max = 3
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}
