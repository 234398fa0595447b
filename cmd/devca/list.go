package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
)

func newListCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "list the certificates this CA issued",
		UsageText: "devca list\ndevca list --json\ndevca list --all --within 60d",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "include certificates that were renewed"},
			&cli.StringFlag{Name: "within", Value: "30d", Usage: "mark certificates expiring within this `DURATION` (such as 30d or 12h)"},
			&cli.BoolFlag{Name: "json", Usage: "print the list as JSON"},
		},
		Action: func(c *cli.Context) error { return runList(c, e) },
	}
}

// listedCert is one row of 'devca list'.
type listedCert struct {
	ca.Issued
	Status string `json:"status"`
}

func runList(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErrorf("list takes no arguments, got %q", c.Args().First())
	}
	window, err := parseWindow(c.String("within"))
	if err != nil {
		return err
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
	rows := []listedCert{}
	for _, en := range entries {
		if !en.Current() && !c.Bool("all") {
			continue
		}
		rows = append(rows, listedCert{Issued: en, Status: certStatus(en, now, window)})
	}
	if c.Bool("json") {
		return printJSON(e, rows)
	}
	if len(rows) == 0 {
		e.notef("no certificates issued yet; 'devca issue localhost' makes one")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EXPIRES\tSTATUS\tNAMES\tFILE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.NotAfter.Format(time.DateOnly), r.Status, strings.Join(r.Names, ","), displayPath(r.CertFile))
	}
	return tw.Flush()
}

// certStatus classifies an entry for people: ok, expiring, expired or renewed.
func certStatus(en ca.Issued, now time.Time, window time.Duration) string {
	switch {
	case !en.Current():
		return "renewed"
	case !now.Before(en.NotAfter):
		return "expired"
	case en.NotAfter.Sub(now) <= window:
		return "expiring"
	}
	return "ok"
}

// maxWindowDays bounds --within: 100 years is longer than any certificate
// devca issues, and far below where a time.Duration overflows (about
// 106,751 days), which would turn the window negative.
const maxWindowDays = 36500

// parseWindow reads durations like "30d", "12h" or "90m".
func parseWindow(s string) (time.Duration, error) {
	const maxWindow = maxWindowDays * 24 * time.Hour
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && n >= 0 && fmt.Sprint(n) == d {
			if n > maxWindowDays {
				return 0, usageErrorf("duration %q is too long: at most %dd (100 years)", s, maxWindowDays)
			}
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if dur, err := time.ParseDuration(s); err == nil && dur >= 0 {
		if dur > maxWindow {
			return 0, usageErrorf("duration %q is too long: at most %dd (100 years)", s, maxWindowDays)
		}
		return dur, nil
	}
	return 0, usageErrorf("invalid duration %q: use days or hours, such as 30d or 12h", s)
}

// maxRecordWarnings is how many damaged record lines one command reports
// one by one; a record that is mostly garbage gets a count for the rest.
const maxRecordWarnings = 5

// printRecordWarnings reports the damaged lines of the certificate record
// that the CAs this command loaded skipped, each once.
func (e *env) printRecordWarnings() {
	var ws []ca.RecordWarning
	for _, auth := range e.loaded {
		ws = append(ws, auth.RecordWarnings()...)
	}
	for i, w := range ws {
		if i == maxRecordWarnings {
			e.warnf("%d more damaged lines of the certificate record %q were skipped", len(ws)-i, w.File)
			break
		}
		e.warnf("%s", w)
	}
}
