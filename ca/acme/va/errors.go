package va

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// The ACME error types a validation can fail with (RFC 8555 §6.7). A problem document's type is "urn:ietf:params:acme:error:"
// followed by one of these.
const (
	// TypeConnection: the server could not connect to the validation
	// target, the connection broke, nothing answered in time, or a redirect
	// pointed somewhere the server does not follow.
	TypeConnection = "connection"
	// TypeDNS: the name could not be resolved, or the DNS server failed.
	TypeDNS = "dns"
	// TypeTLS: the TLS handshake with the target failed.
	TypeTLS = "tls"
	// TypeUnauthorized: the target answered but offered no answer to the
	// challenge: an HTTP status other than 200, no TXT record, no
	// acme-tls/1 protocol.
	TypeUnauthorized = "unauthorized"
	// TypeIncorrectResponse: the target offered an answer to the challenge
	// and it was wrong: another body, other TXT records, a validation
	// certificate that does not prove the key authorization.
	TypeIncorrectResponse = "incorrectResponse"
	// TypeMalformed: the validation request itself is invalid (an unknown
	// challenge kind, an identifier the kind cannot validate, a bad token).
	TypeMalformed = "malformed"
)

// Error is a failed validation. Type and Detail are meant to become an
// ACME problem document as they are: Detail says, for a developer, what
// was tried (the URL, the address connected to, the TXT name) and what was
// seen (the status, the first bytes of the body, the records found).
type Error struct {
	// Type is one of the Type constants.
	Type string
	// Detail describes the failure in one line.
	Detail string
	// URL is the last URL fetched, for http-01; empty otherwise.
	URL string
	// Addr is the address ("ip:port") the validation connected to, or
	// tried last when no connection was made; empty for dns-01.
	Addr string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the type and the detail.
func (e *Error) Error() string {
	return e.Type + ": " + e.Detail
}

// Unwrap returns the underlying cause, so that errors.Is finds
// context.Canceled or context.DeadlineExceeded, and errors.As a
// *net.DNSError or a Config lookup's own error.
func (e *Error) Unwrap() error {
	return e.Err
}

// newError builds an *Error whose detail is format with args, followed by
// ": " and the cause when the cause is not nil.
func newError(typ string, cause error, format string, args ...any) *Error {
	detail := fmt.Sprintf(format, args...)
	if cause != nil {
		detail += ": " + causeText(cause)
	}
	return &Error{Type: typ, Detail: detail, Err: cause}
}

// causeText is err's text without what the detail already says: a
// *net.DNSError names the server of /etc/resolv.conf even when the query
// went to Config.DNSServer, and a *net.OpError repeats the address.
func causeText(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return dnsErr.Err
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	}
	return err.Error()
}

// stopped describes why an operation that failed under ctx stopped: the
// validation's time ran out, or its caller canceled it. ok is false when
// ctx is still live, meaning err is the real reason. A deadline that has
// passed counts even before ctx says so: the Go resolver gives up at the
// deadline itself, and can return before ctx's timer fires.
func stopped(ctx context.Context, start time.Time, err error) (cause error, ok bool) {
	deadline, hasDeadline := ctx.Deadline()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (hasDeadline && !time.Now().Before(deadline)):
		return &stopError{fmt.Sprintf("timed out after %s", time.Since(start).Round(10*time.Millisecond)), context.DeadlineExceeded}, true
	case ctx.Err() != nil:
		return &stopError{"validation canceled", ctx.Err()}, true
	}
	return err, false
}

// stopError is a context's error with a text for a developer.
type stopError struct {
	text string
	err  error
}

func (e *stopError) Error() string { return e.text }
func (e *stopError) Unwrap() error { return e.err }

// maxQuoted is how many bytes of a peer's answer a detail quotes: a key
// authorization (87 bytes with SHA-256 thumbprints) fits whole.
const maxQuoted = 128

// quote quotes b, or its first maxQuoted bytes followed by its length.
func quote(b []byte) string {
	if len(b) <= maxQuoted {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%s (%d bytes)", quoteHead(b), len(b))
}

// quoteHead quotes b, or its first maxQuoted bytes, cut at a rune boundary,
// followed by "…".
func quoteHead(b []byte) string {
	if len(b) <= maxQuoted {
		return fmt.Sprintf("%q", b)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", b[:cut])
}

// quoteAll quotes at most max of the records in rs, each with quote.
func quoteAll(rs []string, max int) string {
	var parts []string
	for i, r := range rs {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(rs)-max))
			break
		}
		parts = append(parts, quote([]byte(r)))
	}
	return strings.Join(parts, ", ")
}
