package trust

import (
	"errors"
	"fmt"
	"strings"
	"time"
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

// DefaultDialogTimeout is how long devca waits for the user to answer the
// dialog in which Windows confirms a change of the user's Root store.
const DefaultDialogTimeout = 2 * time.Minute

// errDeclined is what a CertStore returns when the user answered "No" in the
// confirmation dialog.
var errDeclined = errors.New("declined in the confirmation dialog")

// DialogError reports that Windows asked the user to confirm a change of the
// current user's Root store and did not get a yes: the session has no
// desktop to show the dialog on (NoDesktop: an SSH session, a service, a CI
// runner), nobody answered within Timeout, or the user declined (Declined).
// Nothing was changed, unless a late answer lands after devca gave up.
// Command is the certutil command line that makes the same change by hand.
type DialogError struct {
	// Action is what devca tried: "add" or "delete".
	Action    string
	NoDesktop bool
	Declined  bool
	Timeout   time.Duration
	Command   string
}

func (e *DialogError) Error() string {
	var what string
	switch {
	case e.Declined:
		what = fmt.Sprintf("the %s was declined in the Windows confirmation dialog", e.Action)
	case e.NoDesktop:
		what = fmt.Sprintf("Windows asks for confirmation of the %s in a dialog, and this session has no desktop to show it on (an SSH session, a service or a CI runner)", e.Action)
	default:
		what = fmt.Sprintf("nobody answered the Windows confirmation dialog for the %s within %s (an SSH session, a service or a CI runner has nobody to click it)", e.Action, e.Timeout)
	}
	return what + "; to do it by hand, run '" + e.Command + "' in a desktop session"
}

func (e *DialogError) Unwrap() error {
	if e.Declined {
		return errDeclined
	}
	return nil
}
