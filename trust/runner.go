package trust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/devca/devca/ca"
	"os/exec"
	"runtime"
	"strings"
)

// Cmd is one external command a store wants to run.
type Cmd struct {
	// Name is the program, looked up on PATH; Args are its arguments.
	Name string
	Args []string
	// Stdin, when not nil, is written to the command's standard input.
	// StdinFrom names a file with the same content, so that String can
	// show a command the user can run by hand.
	Stdin     []byte
	StdinFrom string
	// Privileged commands change files only root may change. The runner
	// runs them through sudo when devca is not root.
	Privileged bool
	// Why says in a few words what a privileged command is for
	// ("add the root to the system trust store"); it is shown before sudo
	// asks for a password, and in errors.
	Why string
}

// String returns the command line, quoted for a POSIX shell, without sudo.
func (c Cmd) String() string {
	parts := []string{ca.ShellQuote(c.Name)}
	for _, a := range c.Args {
		parts = append(parts, ca.ShellQuote(a))
	}
	if c.StdinFrom != "" {
		parts = append(parts, "<", ca.ShellQuote(c.StdinFrom))
	}
	return strings.Join(parts, " ")
}

// Runner runs external commands. ExecRunner runs them for real; tests use a
// fake that records them.
type Runner interface {
	// Run runs c and returns its combined output. A command that cannot be
	// started or exits non-zero returns a *CmdError; a privileged command
	// that cannot get root returns a *PrivilegeError.
	Run(ctx context.Context, c Cmd) ([]byte, error)
}

// ExecRunner runs commands with os/exec, never through a shell.
type ExecRunner struct {
	// Euid is the effective user id; privileged commands use sudo unless it
	// is 0. On Windows it is ignored and nothing uses sudo.
	Euid int
	// LookPath finds programs; nil means exec.LookPath.
	LookPath func(string) (string, error)
	// BeforeSudo, when set, is called before each command run through
	// sudo, so that the caller can tell the user why a password prompt
	// follows.
	BeforeSudo func(Cmd)
}

// Run implements Runner.
func (r *ExecRunner) Run(ctx context.Context, c Cmd) ([]byte, error) {
	argv, sudo, err := r.argv(c)
	if err != nil {
		return nil, err
	}
	if sudo && r.BeforeSudo != nil {
		r.BeforeSudo(c)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, &CmdError{Argv: argv, Output: strings.TrimSpace(string(out)), Err: err}
	}
	return out, nil
}

// argv resolves the program and adds sudo for privileged commands.
func (r *ExecRunner) argv(c Cmd) (argv []string, sudo bool, err error) {
	lookPath := r.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	path, err := lookPath(c.Name)
	if err != nil {
		return nil, false, &CmdError{Argv: append([]string{c.Name}, c.Args...), Err: fmt.Errorf("finding %s: %w", c.Name, err)}
	}
	argv = append([]string{path}, c.Args...)
	// Windows has no sudo to speak of: a privileged command runs as is and
	// fails with "access denied" unless devca runs elevated.
	if !c.Privileged || r.Euid == 0 || runtime.GOOS == "windows" {
		return argv, false, nil
	}
	sudoPath, err := lookPath("sudo")
	if err != nil {
		return nil, false, &PrivilegeError{Why: c.Why, Commands: []string{c.String()}}
	}
	prompt := "[devca] password for %u (to " + c.Why + "): "
	if c.Why == "" {
		prompt = "[devca] password for %u: "
	}
	return append([]string{sudoPath, "--prompt=" + prompt, "--"}, argv...), true, nil
}

// isExitError reports whether err is a command that ran and exited non-zero,
// as opposed to one that could not run at all. Any error in the chain with an
// ExitCode method counts, which covers *exec.ExitError and test fakes.
func isExitError(err error) bool {
	var ec interface{ ExitCode() int }
	return errors.As(err, &ec)
}
