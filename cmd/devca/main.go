// Command devca is a local development certificate authority and HTTPS helper.
//
// See the README for a tour; `devca --help` lists the commands.
package main

import (
	"io"
	"os"
)

// version is set at build time by install.sh with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run executes the devca command line in args and returns the process exit
// code. Everything the command touches outside the CA home arrives through its
// parameters, so tests can run it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, args: args, hostname: os.Hostname}
	app := newApp(e)
	err := app.Run(args)
	if err == nil && e.unknownCommand {
		return exitUsage
	}
	return e.exit(err)
}
