package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
)

func newHomeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "home",
		Usage:     "print the CA home folder",
		UsageText: "devca home\ncat \"$(devca home)/rootCA.pem\"",
		Description: "The CA home is $DEVCA_HOME, or else $XDG_DATA_HOME/devca (~/.local/share/devca) on Linux,\n" +
			"~/Library/Application Support/devca on macOS and %LocalAppData%\\devca on Windows.",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("home takes no arguments, got %q", c.Args().First())
			}
			dir, err := e.home()
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, dir)
			return nil
		},
	}
}

func newInfoCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "describe the root CA",
		UsageText: "devca info\ndevca info --json | jq -r .fingerprint_sha256",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print as JSON"},
		},
		Action: func(c *cli.Context) error { return runInfo(c, e) },
	}
}

// rootInfo is what 'devca info --json' prints.
type rootInfo struct {
	Home              string    `json:"home"`
	RootFile          string    `json:"root_file"`
	Subject           string    `json:"subject"`
	Serial            string    `json:"serial"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
	KeyType           string    `json:"key_type"`
	NameConstrained   bool      `json:"name_constrained"`
	PermittedNames    []string  `json:"permitted_names"`
	KeyStorage        string    `json:"key_storage"`
	ImportedFrom      string    `json:"imported_from,omitempty"`
}

func runInfo(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErrorf("info takes no arguments, got %q", c.Args().First())
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	cons := auth.Constraints()
	permitted := append([]string{}, cons.Domains...)
	for _, r := range cons.Ranges {
		permitted = append(permitted, r.String())
	}
	info := rootInfo{
		Home:              auth.Dir,
		RootFile:          filepath.Join(auth.Dir, ca.RootCertFile),
		Subject:           auth.Cert.Subject.String(),
		Serial:            auth.Cert.SerialNumber.Text(16),
		FingerprintSHA256: ca.Fingerprint(auth.Cert),
		NotBefore:         auth.Cert.NotBefore.UTC(),
		NotAfter:          auth.Cert.NotAfter.UTC(),
		KeyType:           auth.KeyDescription(),
		NameConstrained:   cons.Constrained(),
		PermittedNames:    permitted,
		KeyStorage:        auth.KeyStorageDescription(),
		ImportedFrom:      auth.Meta.ImportedFrom,
	}
	if c.Bool("json") {
		return printJSON(e, info)
	}
	w := e.stdout
	fmt.Fprintf(w, "home         %s\n", info.Home)
	fmt.Fprintf(w, "root         %s\n", info.RootFile)
	fmt.Fprintf(w, "subject      %s\n", info.Subject)
	fmt.Fprintf(w, "fingerprint  SHA256 %s\n", info.FingerprintSHA256)
	fmt.Fprintf(w, "valid        %s to %s\n", info.NotBefore.Format(time.DateOnly), info.NotAfter.Format(time.DateOnly))
	fmt.Fprintf(w, "key          %s, %s\n", info.KeyType, info.KeyStorage)
	fmt.Fprintf(w, "constraints  %s\n", cons)
	if info.ImportedFrom != "" {
		fmt.Fprintf(w, "imported     from %s\n", info.ImportedFrom)
	}
	return nil
}
