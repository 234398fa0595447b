package main

import (
	"errors"
	"fmt"
	"os"
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
			"with the same names and options. It skips files that were changed or removed since devca\n" +
			"wrote them. PKCS#12 files are re-encrypted with --p12-password (default changeit).",
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
	entries, err := auth.Entries()
	if err != nil {
		return err
	}
	now := time.Now()
	serials := c.StringSlice("serial")
	var due []ca.Entry
	for _, en := range entries {
		if !en.Current() {
			continue
		}
		explicit := slices.Contains(serials, en.Serial) || namesOverlap(en.Names, wanted)
		if c.Bool("all") || explicit || len(wanted) == 0 && len(serials) == 0 && en.NotAfter.Sub(now) <= window {
			due = append(due, en)
		}
	}
	if len(due) == 0 {
		if len(wanted) > 0 || len(serials) > 0 {
			return withHints(errors.New("no recorded certificate matches"), "run 'devca list' to see the recorded certificates")
		}
		fmt.Fprintf(e.stdout, "nothing to renew: no recorded certificate expires within %s\n", c.String("within"))
		return nil
	}
	var failed []error
	for _, en := range due {
		if c.Bool("dry-run") {
			fmt.Fprintf(e.stdout, "would renew %s (%s, expires %s)\n", displayPath(en.CertFile), joinNames(en.Names), en.NotAfter.Format(time.DateOnly))
			continue
		}
		renewed, err := renewEntry(c, e, auth, en)
		if err != nil {
			e.warnf("not renewed %s: %v", displayPath(en.CertFile), err)
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(e.stdout, "renewed %s (%s), now expires %s\n", displayPath(renewed.CertFile), joinNames(renewed.Names), renewed.NotAfter.Format(time.DateOnly))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d certificates were not renewed", len(failed), len(due))
	}
	return nil
}

// renewEntry re-issues one recorded certificate over its own files.
func renewEntry(c *cli.Context, e *env, auth *ca.Authority, old ca.Entry) (ca.Entry, error) {
	// Never overwrite what someone changed since devca wrote it.
	if err := checkStillOurs(old); err != nil {
		return ca.Entry{}, err
	}
	names, _, err := ca.ParseNames(old.Names)
	if err != nil {
		return ca.Entry{}, err
	}
	var leaf *ca.Leaf
	if old.CSRFile != "" {
		data, err := os.ReadFile(old.CSRFile)
		if err != nil {
			return ca.Entry{}, fmt.Errorf("reading the original request: %w", err)
		}
		csr, err := ca.ParseCSR(data)
		if err != nil {
			return ca.Entry{}, fmt.Errorf("reading the original request %q: %w", old.CSRFile, err)
		}
		leaf, _, err = auth.SignCSR(csr, old.Days, old.Client)
		if err != nil {
			return ca.Entry{}, err
		}
	} else {
		kt, err := ca.ParseKeyType(old.KeyType)
		if err != nil {
			return ca.Entry{}, err
		}
		if leaf, err = auth.Issue(ca.LeafRequest{Names: names, KeyType: kt, Days: old.Days, Client: old.Client}); err != nil {
			return ca.Entry{}, err
		}
	}
	certPEM := leaf.CertPEM
	if old.FullChain {
		certPEM = append(append([]byte(nil), certPEM...), auth.CertPEM...)
	}
	files := []ca.OutputFile{{Path: old.CertFile, Data: certPEM, Perm: ca.CertPerm}}
	if old.KeyFile != "" && leaf.KeyPEM != nil {
		files = append(files, ca.OutputFile{Path: old.KeyFile, Data: leaf.KeyPEM, Perm: ca.KeyPerm})
	}
	if old.P12File != "" {
		p12, err := ca.EncodeP12(leaf, auth.Cert, p12Password(c, e), old.P12Legacy)
		if err != nil {
			return ca.Entry{}, err
		}
		files = append(files, ca.OutputFile{Path: old.P12File, Data: p12, Perm: ca.KeyPerm})
	}
	next := ca.NewEntry(leaf, names, time.Now())
	next.Client, next.Days, next.FullChain = old.Client, old.Days, old.FullChain
	next.CertFile, next.KeyFile, next.P12File, next.P12Legacy, next.CSRFile = old.CertFile, old.KeyFile, old.P12File, old.P12Legacy, old.CSRFile
	// The new entry names the same files, which marks the old one replaced.
	if err := auth.Publish(files, next); err != nil {
		return ca.Entry{}, err
	}
	return next, nil
}

// checkStillOurs fails when the recorded certificate file is gone or holds a
// different certificate than the one recorded.
func checkStillOurs(en ca.Entry) error {
	data, err := os.ReadFile(en.CertFile)
	if err != nil {
		return fmt.Errorf("reading %q: %w", en.CertFile, err)
	}
	certs, err := ca.ParseCertsPEM(data)
	if err != nil || ca.Fingerprint(certs[0]) != en.Fingerprint {
		return fmt.Errorf("%q no longer holds the certificate devca wrote there; leaving it alone", en.CertFile)
	}
	return nil
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
