package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust"
)

func newStatusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:    "status",
		Aliases: []string{"doctor"},
		Usage:   "show which trust stores trust the root CA",
		UsageText: "devca status\n" +
			"devca status --json | jq '.stores[] | select(.present and (.trusted | not)) | .store'\n" +
			"devca doctor --stores nss",
		Description: "status checks every trust store devca knows, present or not, and prints whether it\n" +
			"trusts the root and what to do when it does not. It changes nothing. It exits 0 only\n" +
			"when every present store trusts the root, so scripts can use it as a check.",
		Flags: []cli.Flag{
			storesFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print as JSON"},
		},
		Action: func(c *cli.Context) error { return runStatus(c, e) },
	}
}

// storeStatus is one store in 'devca status --json'.
type storeStatus struct {
	Store       string           `json:"store"`
	Description string           `json:"description"`
	Present     bool             `json:"present"`
	Trusted     bool             `json:"trusted"`
	Locations   []statusLocation `json:"locations"`
	Error       string           `json:"error,omitempty"`
	// Fix is the next action for a present store that does not trust the
	// root.
	Fix string `json:"fix,omitempty"`
}

// statusLocation is one place of a store; Recorded says that devca put
// the root there (so 'devca uninstall' removes it). A location that trusts
// the root without being recorded got it from someone else, and uninstall
// leaves it alone.
type statusLocation struct {
	trust.Location
	Recorded bool `json:"recorded"`
}

// statusReport is what 'devca status --json' prints.
type statusReport struct {
	Home              string        `json:"home"`
	Subject           string        `json:"subject"`
	FingerprintSHA256 string        `json:"fingerprint_sha256"`
	Trusted           bool          `json:"trusted"`
	Stores            []storeStatus `json:"stores"`
}

func runStatus(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErrorf("status takes no arguments, got %q", c.Args().First())
	}
	stores, err := selectedStores(c, e)
	if err != nil {
		return err
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	tenv, err := e.trustEnv()
	if err != nil {
		return withHints(err, trustHints(err)...)
	}
	statusAll := trust.StatusAll
	if e.statusAll != nil {
		statusAll = e.statusAll
	}
	// A store that could not be checked still gets its row (and its error
	// in --json); the error also fails the command below, after the report
	// of everything that could be checked.
	results, statusErr := statusAll(context.Background(), tenv, auth.Cert, stores)
	if statusErr != nil && len(results) == 0 {
		statusErr = fmt.Errorf("checking the trust stores: %w", statusErr)
	}
	installed, err := trust.Recorded(auth.Dir)
	if err != nil {
		return err
	}
	recorded := map[string]bool{}
	for _, in := range installed {
		if in.IsFor(auth.Cert) {
			recorded[in.Store+"\x00"+in.Location] = true
		}
	}
	report := statusReport{Home: auth.Dir, Subject: auth.Cert.Subject.CommonName, FingerprintSHA256: ca.Fingerprint(auth.Cert), Trusted: true}
	for _, r := range results {
		s := storeStatus{Store: r.Store, Description: r.Description, Present: r.Present, Trusted: r.Trusted, Locations: []statusLocation{}}
		for _, l := range r.Locations {
			s.Locations = append(s.Locations, statusLocation{Location: l, Recorded: recorded[r.Store+"\x00"+l.Path]})
		}
		if r.Err != nil {
			s.Error = r.Err.Error()
		}
		if r.Present && !r.Trusted {
			report.Trusted = false
			s.Fix = statusFix(r)
		}
		report.Stores = append(report.Stores, s)
	}
	if report.Stores == nil {
		report.Stores = []storeStatus{}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return fmt.Errorf("writing status: %w", err)
		}
	} else {
		printStatusTable(e, report)
	}
	var errs []error
	if statusErr != nil {
		errs = append(errs, withHints(statusErr, trustHints(statusErr)...))
	}
	if !report.Trusted {
		var missing []string
		for _, s := range report.Stores {
			if s.Present && !s.Trusted {
				missing = append(missing, s.Store)
			}
		}
		errs = append(errs, withHints(fmt.Errorf("the root is not trusted by %s", strings.Join(missing, ", ")),
			"run 'devca install --stores "+strings.Join(missing, ",")+"'"))
	}
	return errors.Join(errs...)
}

// statusFix says what makes a present store trust the root.
func statusFix(r trust.Result) string {
	if r.Err != nil {
		if hints := trustHints(r.Err); len(hints) > 0 && !errors.As(r.Err, new(*trust.CmdError)) {
			return hints[0]
		}
		return "see the error, then run 'devca install --stores " + r.Store + "'"
	}
	return "run 'devca install --stores " + r.Store + "'"
}

func printStatusTable(e *env, report statusReport) {
	fmt.Fprintf(e.stdout, "root %s (SHA256 %s)\n\n", report.Subject, report.FingerprintSHA256)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tPRESENT\tTRUSTED\tDETAILS")
	yesNo := map[bool]string{true: "yes", false: "no"}
	for _, s := range report.Stores {
		trusted := yesNo[s.Trusted]
		if !s.Present {
			trusted = "-"
		}
		details := s.Description
		if !s.Present {
			details += ": not found"
		} else if s.Fix != "" {
			details += ": " + s.Fix
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Store, yesNo[s.Present], trusted, details)
		for _, l := range s.Locations {
			mark := yesNo[l.Trusted]
			if l.Missing {
				mark = "-"
			}
			var notes []string
			if l.Note != "" {
				notes = append(notes, l.Note)
			}
			if l.Recorded {
				notes = append(notes, "installed by devca")
			} else if l.Trusted {
				notes = append(notes, "not installed by devca, so uninstall leaves it")
			}
			note := ""
			if len(notes) > 0 {
				note = " (" + strings.Join(notes, "; ") + ")"
			}
			fmt.Fprintf(tw, "\t\t%s\t  %s%s\n", mark, l.Path, note)
		}
	}
	tw.Flush()
}
