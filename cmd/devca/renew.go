package main

import (
	"errors"
	"fmt"
	"io/fs"
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
		fmt.Fprintf(e.stderr, "devca: hint: %s\n", h)
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
	// Never overwrite what someone changed since devca wrote it.
	if err := checkStillOurs(old, p12Password(c, e)); err != nil {
		return ca.Issued{}, err
	}
	names, _, err := ca.ParseNames(old.Names)
	if err != nil {
		return ca.Issued{}, err
	}
	var leaf *ca.Leaf
	if old.CSRFile != "" {
		data, err := ca.ReadInputFile(old.CSRFile, ca.MaxCSRSize)
		if err != nil {
			return ca.Issued{}, fmt.Errorf("reading the original request %q: %w", old.CSRFile, err)
		}
		csr, err := ca.ParseCSR(data)
		if err != nil {
			return ca.Issued{}, fmt.Errorf("reading the original request %q: %w", old.CSRFile, err)
		}
		leaf, _, err = auth.SignCSR(csr, old.Days, old.Client)
		if err != nil {
			return ca.Issued{}, err
		}
	} else {
		kt, err := ca.ParseKeyType(old.KeyType)
		if err != nil {
			return ca.Issued{}, err
		}
		if leaf, err = auth.Issue(ca.LeafRequest{Names: names, KeyType: kt, Days: old.Days, Client: old.Client}); err != nil {
			return ca.Issued{}, err
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
			return ca.Issued{}, err
		}
		files = append(files, ca.OutputFile{Path: old.P12File, Data: p12, Perm: ca.KeyPerm})
	}
	next := ca.NewIssued(leaf, names, time.Now())
	next.Client, next.Days, next.FullChain = old.Client, old.Days, old.FullChain
	next.CertFile, next.KeyFile, next.P12File, next.P12Legacy, next.CSRFile = old.CertFile, old.KeyFile, old.P12File, old.P12Legacy, old.CSRFile
	next.SetDigests(files)
	// The new entry names the same files, which marks the old one replaced.
	if err := auth.Publish(files, next); err != nil {
		return ca.Issued{}, err
	}
	return next, nil
}

// checkStillOurs fails unless every file of the recorded certificate still
// holds what devca wrote there: the same bytes where the record keeps a
// digest, and otherwise (records from before digests) the same certificate,
// the key of that certificate and a PKCS#12 file holding it.
func checkStillOurs(en ca.Issued, p12Password string) error {
	certPEM, err := readOurs("certificate", en.CertFile, en.CertSHA256)
	if err != nil {
		return err
	}
	certs, err := ca.ParseCertsPEM(certPEM)
	if err != nil || ca.Fingerprint(certs[0]) != en.Fingerprint {
		return changedError("certificate", en.CertFile)
	}
	if en.KeyFile != "" {
		keyPEM, err := readOurs("key", en.KeyFile, en.KeySHA256)
		if err != nil {
			return err
		}
		if en.KeySHA256 == "" && !ca.KeyMatchesCert(keyPEM, certs[0]) {
			return changedError("key", en.KeyFile)
		}
	}
	if en.P12File != "" {
		p12, err := readOurs("PKCS#12 bundle", en.P12File, en.P12SHA256)
		if err != nil {
			return err
		}
		if en.P12SHA256 == "" {
			if fp, err := ca.P12LeafFingerprint(p12, p12Password); err != nil || fp != en.Fingerprint {
				return withHints(fmt.Errorf("cannot tell whether %q still holds what devca wrote there (it does not open with this password, or holds another certificate); leaving it alone", en.P12File),
					"pass the password it was written with in --p12-password, or move it away and issue again")
			}
		}
	}
	return nil
}

// readOurs reads a file devca wrote, and compares it with the recorded
// digest when there is one.
func readOurs(what, path, digest string) ([]byte, error) {
	data, err := ca.ReadInputFile(path, ca.MaxInputFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, withHints(fmt.Errorf("%q was removed since devca wrote it; leaving the other files alone", path),
			"issue the certificate again ('devca issue' or 'devca sign') to write all its files")
	}
	if err != nil {
		var tooLarge *ca.TooLargeError
		if errors.As(err, &tooLarge) {
			return nil, changedError(what, path)
		}
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if digest != "" && ca.ContentSHA256(data) != digest {
		return nil, changedError(what, path)
	}
	return data, nil
}

// changedError says that the file holding what (the certificate, the key)
// was changed by someone else since devca wrote it.
func changedError(what, path string) error {
	return withHints(fmt.Errorf("%q no longer holds the %s devca wrote there; leaving it and the files that go with it alone", path, what),
		"if the change is yours to discard, move the file away and issue the certificate again ('devca issue' or 'devca sign')")
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
