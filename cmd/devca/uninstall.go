package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust"
)

func newUninstallCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "uninstall",
		Usage: "remove the root CA from the trust stores",
		UsageText: "devca uninstall                     every store devca installed into\n" +
			"devca uninstall --stores java       only this store",
		Description: "uninstall removes from the trust stores exactly the certificates that 'devca install'\n" +
			"and 'devca init' recorded in trust.json in the CA home, after checking that each is still\n" +
			"the recorded certificate. It never removes a certificate devca did not install, and it\n" +
			"still removes an old root after the CA home got a new one. The CA itself is kept.",
		Flags:  []cli.Flag{storesFlag()},
		Action: func(c *cli.Context) error { return runUninstall(c, e) },
	}
}

func runUninstall(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErrorf("uninstall takes no arguments, got %q", c.Args().First())
	}
	stores, err := selectedStores(c, e)
	if err != nil {
		return err
	}
	dir, err := e.home()
	if err != nil {
		return err
	}
	// The record is enough to uninstall; the current root, when there is
	// one, only lets devca report copies it did not install.
	var root *x509.Certificate
	if auth, err := ca.Load(dir); err == nil {
		root = auth.Cert
	} else if !errors.Is(err, ca.ErrNoCA) {
		return explainLoadError(dir, err)
	}
	tenv, err := e.trustEnv()
	if err != nil {
		return err
	}
	results, err := trust.UninstallAll(context.Background(), tenv, root, dir, stores)
	printUninstallResults(e, results)
	if len(results) == 0 && err == nil {
		fmt.Fprintln(e.stdout, "nothing to remove: devca has not installed the root anywhere")
	}
	return explainTrustErrors(results, err, "removing")
}

// uninstallRoot removes only the root old from the stores devca recorded it
// in (trust.json in the CA home dir), printing one line per store; stores
// are as from selectedStores. When init replaces a CA it calls this, so that
// the retired root stops being trusted while the new one stays.
func uninstallRoot(e *env, dir string, old *x509.Certificate, stores []string) error {
	tenv, err := e.trustEnv()
	if err != nil {
		return err
	}
	results, err := trust.UninstallRoot(context.Background(), tenv, old, dir, stores)
	printUninstallResults(e, results)
	return explainTrustErrors(results, err, "removing")
}

func printUninstallResults(e *env, results []trust.Result) {
	printResults(e, results, func(r trust.Result) string {
		switch {
		case r.Err != nil:
			return "failed"
		case r.Changed:
			return "removed"
		}
		return "nothing to remove"
	})
}
