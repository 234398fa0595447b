package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust"
)

func newEnvCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "env",
		Usage: "print shell exports that make Node, Python, curl, git and Deno trust the root CA",
		UsageText: "eval \"$(devca env)\"                              sh, bash, zsh\n" +
			"devca env --shell fish | source\n" +
			"devca env --shell powershell | Invoke-Expression",
		Description: "Some runtimes ignore the system trust store. env prints the variables that point them at\n" +
			"devca's root: NODE_EXTRA_CA_CERTS and DENO_CERT add the root to the runtime's own list;\n" +
			"REQUESTS_CA_BUNDLE (Python requests, pip), SSL_CERT_FILE (OpenSSL-based tools, Python,\n" +
			"Ruby, Go), CURL_CA_BUNDLE and GIT_SSL_CAINFO replace the whole list, so they point at\n" +
			"ca-bundle.pem in the CA home: the system roots plus devca's root, rewritten by each run.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "shell", Usage: "sh (also bash, zsh), fish or powershell (default: from $SHELL)"},
		},
		Action: func(c *cli.Context) error { return runEnv(c, e) },
	}
}

// envVar is one exported variable and why.
type envVar struct {
	name, value, why string
}

func runEnv(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErrorf("env takes no arguments, got %q", c.Args().First())
	}
	shell, err := envShell(c.String("shell"), e.getenv("SHELL"), e.goos())
	if err != nil {
		return err
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	rootFile := filepath.Join(auth.Dir, ca.RootCertFile)
	vars := []envVar{
		{"NODE_EXTRA_CA_CERTS", rootFile, "Node.js: added to its built-in roots"},
		{"DENO_CERT", rootFile, "Deno: added to its roots"},
	}
	bundle := filepath.Join(auth.Dir, trust.BundleFile)
	tenv, err := e.trustEnv()
	if err == nil {
		_, err = trust.WriteBundle(context.Background(), tenv, auth.Cert, bundle)
	}
	if err != nil {
		e.warnf("not writing %q: %v; only variables that add to a runtime's roots are printed", bundle, err)
	} else {
		vars = append(vars,
			envVar{"REQUESTS_CA_BUNDLE", bundle, "Python requests and pip: system roots plus devca's"},
			envVar{"SSL_CERT_FILE", bundle, "OpenSSL-based tools, Python ssl, Ruby, Go"},
			envVar{"CURL_CA_BUNDLE", bundle, "curl"},
			envVar{"GIT_SSL_CAINFO", bundle, "git over HTTPS"},
		)
	}
	fmt.Fprint(e.stdout, formatEnv(shell, vars))
	return nil
}

// envShell picks the output syntax from --shell, else $SHELL.
func envShell(flag, shellVar, goos string) (string, error) {
	name := flag
	if name == "" {
		name = filepath.Base(shellVar)
		if shellVar == "" && goos == "windows" {
			name = "powershell"
		}
	}
	switch strings.TrimSuffix(strings.ToLower(name), ".exe") {
	case "sh", "bash", "zsh", "dash", "ksh", "ash", "", ".":
		return "sh", nil
	case "fish":
		return "fish", nil
	case "powershell", "pwsh":
		return "powershell", nil
	}
	if flag != "" {
		return "", usageErrorf("unknown shell %q: use sh, fish or powershell", flag)
	}
	return "sh", nil
}

// formatEnv renders vars in the syntax of shell, each value quoted so
// that any path survives.
func formatEnv(shell string, vars []envVar) string {
	var b strings.Builder
	comment := "# devca: trust the devca root in runtimes that ignore the system store\n"
	b.WriteString(comment)
	for _, v := range vars {
		switch shell {
		case "fish":
			fmt.Fprintf(&b, "set -gx %s %s; # %s\n", v.name, fishQuote(v.value), v.why)
		case "powershell":
			fmt.Fprintf(&b, "$env:%s = %s  # %s\n", v.name, psQuote(v.value), v.why)
		default:
			fmt.Fprintf(&b, "export %s=%s  # %s\n", v.name, shQuote(v.value), v.why)
		}
	}
	return b.String()
}

// The env quoters always quote, in each shell's single-quote syntax: env's
// output is code that users eval, and one shape for every value, whatever
// the path holds, keeps it predictable and easy to check. (Command lines
// shown to people, such as trust's "run as root" hints, use trust's
// shellQuote instead, which leaves plain words bare; for a word that needs
// quoting, it and shQuote write the same.)

// shQuote quotes s for sh, bash and zsh: inside single quotes nothing is
// special but the quote itself, which closes the quotes, adds an escaped
// quote and opens them again.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fishQuote quotes s for fish, whose single quotes treat \\ and \' as
// escapes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// psQuote quotes s for PowerShell, whose single quotes double a quote.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
