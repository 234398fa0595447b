package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
)

func newSignCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign a certificate signing request (CSR)",
		ArgsUsage: "REQUEST.csr",
		UsageText: "devca sign app.csr\n" +
			"devca sign app.csr --cert-file app.pem --days 90\n" +
			"devca sign app.csr --cert-file - > app.pem",
		Description: "sign certifies the public key and names (SANs, or the common name when there are none)\n" +
			"of a CSR in PEM or DER form. Everything else the request asks for, such as CA:TRUE or key\n" +
			"usages, is ignored: the certificate gets the same profile as 'devca issue' gives.",
		Flags:  leafOutputFlags(),
		Action: func(c *cli.Context) error { return runSign(c, e) },
	}
}

func runSign(c *cli.Context, e *env) error {
	args, err := positionalArgs(c, e.args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usageErrorf("sign needs exactly one request file, as in 'devca sign app.csr'")
	}
	if err := checkDays(c); err != nil {
		return err
	}
	if err := checkStdoutFlags(c); err != nil {
		return err
	}
	csrPath := absPath(args[0])
	data, err := ca.ReadInputFile(csrPath, ca.MaxCSRSize)
	var tooLarge *ca.TooLargeError
	if errors.As(err, &tooLarge) {
		return withHints(fmt.Errorf("reading request %q: %w, more than a certificate request can be", args[0], err),
			"check the file name: a request is a few kilobytes of PEM (BEGIN CERTIFICATE REQUEST) or DER")
	}
	if err != nil {
		return fmt.Errorf("reading request %q: %w", args[0], err)
	}
	csr, err := ca.ParseCSR(data)
	if err != nil {
		return withHints(fmt.Errorf("reading request %q: %w", args[0], err), "make one with 'openssl req -new -key key.pem -subj /CN=app.test -addext subjectAltName=DNS:app.test -out app.csr'")
	}
	names, _, err := ca.CSRNames(csr)
	if err != nil {
		return fmt.Errorf("reading request %q: %w", args[0], err)
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	certPath := ""
	if c.String("cert-file") != stdoutPath {
		certPath = absPath(stringOr(c.String("cert-file"), baseName(names)+".pem"))
		if err := checkOverwrite(auth, []outputTarget{{What: "certificate", Path: certPath}}, c.Bool("force")); err != nil {
			return err
		}
		// Replacing the request with its certificate would leave renew
		// nothing to re-sign.
		if ci, err := os.Stat(certPath); err == nil {
			if ri, err := os.Stat(csrPath); err == nil && os.SameFile(ci, ri) {
				return usageErrorf("the certificate would overwrite the request %q; name another file with --cert-file", args[0])
			}
		}
	}
	is, err := auth.SignCSR(ca.CSRRequest{CSR: csr, File: csrPath, Days: c.Int("days"), Client: c.Bool("client")},
		ca.Files{CertFile: certPath, FullChain: c.Bool("fullchain")})
	if err != nil {
		return explainIssueError(fmt.Errorf("signing request %q: %w", args[0], err))
	}
	for _, w := range is.Warnings {
		e.warnf("%s", w)
	}
	if ignored := ca.IgnoredExtensions(csr.Extensions); len(ignored) > 0 {
		e.warnf("ignored what the request asked for beyond its names and key: %s", strings.Join(ignored, ", "))
	}
	if certPath == "" {
		return printIssuedToStdout(e, is.Issued, names, is.CertPEM)
	}
	return printIssued(c, e, is.Issued, names)
}
