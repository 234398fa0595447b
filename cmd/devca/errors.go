package main

// Output rules for everything devca prints:
//
//   - Results a script may parse (paths, JSON, tables) go to stdout.
//   - Everything else goes to stderr: errors as "devca: error: …", followed by
//     zero or more "devca: hint: …" lines naming the next action, and warnings
//     as "devca: warning: …".
//   - Messages start lowercase, have no final period, quote paths with %q, and
//     carry no colour or emoji so that users can grep them.
//   - Exit codes: 0 success, 1 failure, 2 usage error. The cli library never
//     prints usage errors or exits on its own: OnUsageError and ExitErrHandler
//     route everything through env.exit.
//   - Only this file spells the prefixes: commands print through env.exit
//     (errors and their hints), warnf, hintf, notef and warningWriter.
//     TestOutputPrefixesLiveInErrorsGo keeps it that way.

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// The prefixes of everything devca prints on stderr.
const (
	errorPrefix   = "devca: error: "
	hintPrefix    = "devca: hint: "
	warningPrefix = "devca: warning: "
	notePrefix    = "devca: "
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks a mistake in the command line itself (unknown flag, missing
// argument, conflicting flags); it exits with code 2.
type usageError struct {
	err error
}

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

// usageErrorf returns a usage error with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// hintedError carries follow-up advice that is printed as "devca: hint:" lines
// under the error.
type hintedError struct {
	err   error
	hints []string
}

func (h *hintedError) Error() string { return h.err.Error() }
func (h *hintedError) Unwrap() error { return h.err }

// withHints attaches hints to err. A nil err stays nil.
func withHints(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &hintedError{err: err, hints: hints}
}

// hintsOf collects every hint attached anywhere in err's chain, outermost
// first, without duplicates.
func hintsOf(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			if h, ok := err.(*hintedError); ok {
				for _, s := range h.hints {
					if !seen[s] {
						seen[s] = true
						out = append(out, s)
					}
				}
			}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					walk(e)
				}
				return
			}
			err = errors.Unwrap(err)
		}
	}
	walk(err)
	return out
}

// silentError reports failure through the exit code alone: the command has
// already printed everything the user needs (for example a per-store table).
type silentError struct{ code int }

func (s *silentError) Error() string { return fmt.Sprintf("exit status %d", s.code) }

// exit prints err following the output rules and returns the exit code.
func (e *env) exit(err error) int {
	if err == nil {
		return exitOK
	}
	var silent *silentError
	if errors.As(err, &silent) {
		return silent.code
	}
	code := exitFailure
	var usage *usageError
	if errors.As(err, &usage) {
		code = exitUsage
	}
	msg := strings.TrimSpace(err.Error())
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintf(e.stderr, errorPrefix+"%s\n", line)
	}
	hints := hintsOf(err)
	if code == exitUsage && len(hints) == 0 {
		hints = []string{"run 'devca help' for usage"}
	}
	for _, h := range hints {
		e.hintf("%s", h)
	}
	return code
}

// warnf prints a warning line on stderr.
func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, warningPrefix+format+"\n", args...)
}

// hintf prints a hint line on stderr: the next action after a warning or a
// note. Hints that belong to an error travel with it (withHints) instead.
func (e *env) hintf(format string, args ...any) {
	fmt.Fprintf(e.stderr, hintPrefix+format+"\n", args...)
}

// notef prints an informational line on stderr.
func (e *env) notef(format string, args ...any) {
	fmt.Fprintf(e.stderr, notePrefix+format+"\n", args...)
}

// warningWriter returns a writer for loggers (such as the server's error
// log) that makes each line they write a devca warning.
func (e *env) warningWriter() io.Writer {
	return &prefixWriter{w: e.stderr, prefix: warningPrefix}
}

// prefixWriter starts every line written through it with prefix. The
// loggers that write to it send one whole line per Write.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(p.w, p.prefix+line); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
