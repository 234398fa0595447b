package trust

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupported is returned when a store, or trust installation as a whole,
// is not available on the operating system devca runs on.
var ErrUnsupported = errors.New("not supported on this system")

// ErrNotRecorded is returned by uninstall when the root is present in a store
// but the install record does not say devca put it there, so devca leaves it
// alone.
var ErrNotRecorded = errors.New("not in devca's install record")

// ToolMissingError reports that a store needs a program that is not
// installed. Hint says how to get it on this system, for example
// "install it with 'apt install libnss3-tools'".
type ToolMissingError struct {
	Tool string
	Hint string
}

func (e *ToolMissingError) Error() string {
	return fmt.Sprintf("%s is not installed", e.Tool)
}

// CmdError reports an external command that failed. Argv is the command line
// as run (including sudo when it was used) and Output its trimmed combined
// output. Err is the underlying error, usually an *exec.ExitError.
type CmdError struct {
	Argv   []string
	Output string
	Err    error
}

func (e *CmdError) Error() string {
	// Name the program, not sudo, and without its folder: the argv is
	// still there for callers that need it.
	name := ""
	if len(e.Argv) > 0 {
		name = e.Argv[0]
		if base(name) == "sudo" {
			for i, a := range e.Argv {
				if a == "--" && i+1 < len(e.Argv) {
					name = e.Argv[i+1]
					break
				}
			}
		}
		name = base(name)
	}
	msg := fmt.Sprintf("%s failed: %v", name, e.Err)
	var ec interface{ ExitCode() int }
	if errors.As(e.Err, &ec) && ec.ExitCode() > 0 {
		msg = fmt.Sprintf("%s exited %d", name, ec.ExitCode())
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += ": " + firstLines(out, 3)
	}
	return msg
}

func (e *CmdError) Unwrap() error { return e.Err }

// PrivilegeError reports that a store must be changed as root, devca does not
// run as root and sudo is not available. Commands are the exact shell command
// lines the user can run as root to do the same thing by hand.
type PrivilegeError struct {
	Why      string
	Commands []string
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("root is needed to %s and sudo is not available", e.Why)
}

// firstLines returns at most n lines of s, joined with "; " so that a
// multi-line tool message stays on one error line.
func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
		if len(out) == n {
			break
		}
	}
	return strings.Join(out, "; ")
}

// base is filepath.Base for both slash styles, so that messages name
// "certutil.exe" whichever system built the path.
func base(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}
