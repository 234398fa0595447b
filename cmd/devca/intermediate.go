package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
)

func newIntermediateCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "intermediate",
		Usage: "issue an intermediate CA for a server that must not hold the root key",
		Subcommands: []*cli.Command{{
			Name:  "issue",
			Usage: "issue an intermediate CA into a folder to copy to another machine",
			UsageText: "devca intermediate issue --out ./team-ca              30 days, the root's name constraints\n" +
				"devca intermediate issue --out ./team-ca --days 7 --permit team.test",
			Description: "issue signs a short-lived intermediate CA with the root and writes it to --out:\n" +
				ca.IntermediateCertFile + ", " + ca.IntermediateKeyFile + " (mode 0600) and the root certificate\n" +
				"(" + ca.RootCertFile + ", for the chain), never the root key. 'devca acme --ca-dir DIR' serves\n" +
				"from that folder. The intermediate may certify the names the root may, or only those\n" +
				"given with --permit; it signs leaves only. Renew it by running issue again before it\n" +
				"expires and copying the folder over the server's: a running 'devca acme --ca-dir' takes\n" +
				"up the newer intermediate within a minute.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Usage: "write the intermediate CA to `DIR` (created 0700); required"},
				&cli.IntFlag{Name: "days", Usage: "valid for `N` days (at most 365, never beyond the root)", Value: int(ca.DefaultIntermediateLifetime / (24 * time.Hour))},
				&cli.StringSliceFlag{Name: "permit", Usage: "certify only this domain (and its subdomains) or CIDR range, within the root's; repeatable"},
			},
			Action: func(c *cli.Context) error { return runIntermediateIssue(c, e) },
		}},
	}
}

func runIntermediateIssue(c *cli.Context, e *env) error {
	args, err := positionalArgs(c, e.args)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usageErrorf("intermediate issue takes no arguments, got %q", args)
	}
	days := c.Int("days")
	if days < 1 || days > int(ca.MaxIntermediateLifetime/(24*time.Hour)) {
		return usageErrorf("invalid --days %d: use 1 to %d", days, ca.MaxIntermediateLifetime/(24*time.Hour))
	}
	if c.String("out") == "" {
		return &usageError{err: withHints(errors.New("intermediate issue needs --out DIR"), "for example --out ./team-ca, then copy that folder to the server")}
	}
	out, err := filepath.Abs(c.String("out"))
	if err != nil {
		return usageErrorf("invalid --out %q: %v", c.String("out"), err)
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	permit := c.StringSlice("permit")
	if len(permit) > 0 {
		// Checked before the root key is unlocked: a bad list changes nothing.
		if _, err := auth.Constraints().Narrow(permit); err != nil {
			return &usageError{err: withHints(err, fmt.Sprintf("the root permits %s", auth.Constraints()))}
		}
	}
	in, err := issueIntermediate(auth, ca.IntermediateRequest{Lifetime: time.Duration(days) * 24 * time.Hour, Permit: permit})
	if err != nil {
		return err
	}
	if err := auth.WriteIntermediate(out, in); err != nil {
		return fmt.Errorf("writing the intermediate CA to %q: %w", out, err)
	}
	fmt.Fprintln(e.stdout, out)
	e.notef("intermediate CA valid until %s; run 'devca acme --ca-dir %s' on the server",
		in.Cert.NotAfter.UTC().Format(time.RFC3339), ca.ShellQuote(out))
	return nil
}

// issueIntermediate signs an intermediate CA, saying what to do when the root
// cannot.
func issueIntermediate(auth *ca.Authority, req ca.IntermediateRequest) (*ca.Intermediate, error) {
	in, err := auth.IssueIntermediate(req)
	var pl *ca.PathLenZeroError
	switch {
	case errors.As(err, &pl):
		return nil, withHints(fmt.Errorf("issuing an intermediate CA: %w", err),
			"run 'devca init --new' for a root that can sign intermediates (then install it where the old one is trusted)",
			"until then 'devca acme' without --intermediate signs with this root directly")
	case err != nil:
		return nil, fmt.Errorf("issuing an intermediate CA: %w", err)
	}
	return in, nil
}
