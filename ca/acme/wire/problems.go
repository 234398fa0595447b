package wire

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ProblemContentType is the media type of a problem document (RFC 7807 §3).
const ProblemContentType = "application/problem+json"

// ErrorNS is the namespace of the ACME error types (RFC 8555 §6.7).
const ErrorNS = "urn:ietf:params:acme:error:"

// Problem is a problem document (RFC 7807) with the ACME additions: the identifier a
// subproblem is about and the subproblems themselves (RFC 8555 §6.7.1), and the accepted
// algorithms of a badSignatureAlgorithm error (§6.2). It is an error, so that code deep in
// the server can return one and the front end sends it as it is.
type Problem struct {
	Type        string      `json:"type"`
	Detail      string      `json:"detail,omitempty"`
	Status      int         `json:"status,omitempty"`
	Identifier  *Identifier `json:"identifier,omitempty"`
	Subproblems []*Problem  `json:"subproblems,omitempty"`
	Algorithms  []string    `json:"algorithms,omitempty"`
}

// Error returns the type's short name and the detail.
func (p *Problem) Error() string {
	return strings.TrimPrefix(p.Type, ErrorNS) + ": " + p.Detail
}

// WithStatus returns a copy of p with another HTTP status, for the few places where the
// RFC asks for a status other than the type's usual one (404 for an unknown resource, 409
// for a key already in use).
func (p *Problem) WithStatus(status int) *Problem {
	c := *p
	c.Status = status
	return &c
}

// AsProblem returns the problem err carries, if any.
func AsProblem(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}

func newProblem(typ string, status int, format string, args ...any) *Problem {
	return &Problem{Type: ErrorNS + typ, Status: status, Detail: fmt.Sprintf(format, args...)}
}

// AccountDoesNotExistProblem reports that the request names an account that does not exist.
func AccountDoesNotExistProblem(format string, args ...any) *Problem {
	return newProblem("accountDoesNotExist", http.StatusBadRequest, format, args...)
}

// AlreadyReplacedProblem reports that the certificate named by replaces was already replaced (RFC 9773 §5).
func AlreadyReplacedProblem(format string, args ...any) *Problem {
	return newProblem("alreadyReplaced", http.StatusConflict, format, args...)
}

// AlreadyRevokedProblem reports that the certificate to revoke is already revoked.
func AlreadyRevokedProblem(format string, args ...any) *Problem {
	return newProblem("alreadyRevoked", http.StatusBadRequest, format, args...)
}

// BadCSRProblem reports that the CSR is unacceptable.
func BadCSRProblem(format string, args ...any) *Problem {
	return newProblem("badCSR", http.StatusBadRequest, format, args...)
}

// BadNonceProblem reports that the JWS nonce is unknown, used or missing.
func BadNonceProblem(format string, args ...any) *Problem {
	return newProblem("badNonce", http.StatusBadRequest, format, args...)
}

// BadPublicKeyProblem reports that the JWS key is of an unsupported type or size.
func BadPublicKeyProblem(format string, args ...any) *Problem {
	return newProblem("badPublicKey", http.StatusBadRequest, format, args...)
}

// BadRevocationReasonProblem reports that the revocation reason is not allowed.
func BadRevocationReasonProblem(format string, args ...any) *Problem {
	return newProblem("badRevocationReason", http.StatusBadRequest, format, args...)
}

// BadSignatureAlgorithmProblem reports that the JWS alg is not accepted; algorithms lists the accepted
// ones, as RFC 8555 §6.2 asks.
func BadSignatureAlgorithmProblem(algorithms []string, format string, args ...any) *Problem {
	p := newProblem("badSignatureAlgorithm", http.StatusBadRequest, format, args...)
	p.Algorithms = algorithms
	return p
}

// CAAProblem reports that CAA records forbid issuance.
func CAAProblem(format string, args ...any) *Problem {
	return newProblem("caa", http.StatusForbidden, format, args...)
}

// CompoundProblem reports several errors at once, each in a subproblem.
func CompoundProblem(subproblems []*Problem, format string, args ...any) *Problem {
	p := newProblem("compound", http.StatusBadRequest, format, args...)
	p.Subproblems = subproblems
	return p
}

// ConnectionProblem reports that the validation could not connect to the client.
func ConnectionProblem(format string, args ...any) *Problem {
	return newProblem("connection", http.StatusBadRequest, format, args...)
}

// DNSProblem reports that a DNS lookup failed during validation.
func DNSProblem(format string, args ...any) *Problem {
	return newProblem("dns", http.StatusBadRequest, format, args...)
}

// ExternalAccountRequiredProblem reports that the server requires external account binding.
func ExternalAccountRequiredProblem(format string, args ...any) *Problem {
	return newProblem("externalAccountRequired", http.StatusUnauthorized, format, args...)
}

// IncorrectResponseProblem reports that the response to a challenge did not match.
func IncorrectResponseProblem(format string, args ...any) *Problem {
	return newProblem("incorrectResponse", http.StatusBadRequest, format, args...)
}

// InvalidContactProblem reports that a contact URL is invalid.
func InvalidContactProblem(format string, args ...any) *Problem {
	return newProblem("invalidContact", http.StatusBadRequest, format, args...)
}

// InvalidProfileProblem reports that the order names a profile the server does not offer
// (draft-ietf-acme-profiles).
func InvalidProfileProblem(format string, args ...any) *Problem {
	return newProblem("invalidProfile", http.StatusBadRequest, format, args...)
}

// MalformedProblem reports that the request is malformed.
func MalformedProblem(format string, args ...any) *Problem {
	return newProblem("malformed", http.StatusBadRequest, format, args...)
}

// OrderNotReadyProblem reports that finalize came before the order was ready.
func OrderNotReadyProblem(format string, args ...any) *Problem {
	return newProblem("orderNotReady", http.StatusForbidden, format, args...)
}

// RateLimitedProblem reports that a rate limit was exceeded.
func RateLimitedProblem(format string, args ...any) *Problem {
	return newProblem("rateLimited", http.StatusTooManyRequests, format, args...)
}

// RejectedIdentifierProblem reports that the server will not issue for an identifier.
func RejectedIdentifierProblem(format string, args ...any) *Problem {
	return newProblem("rejectedIdentifier", http.StatusBadRequest, format, args...)
}

// ServerInternalProblem reports that the server failed. The detail must not carry internal error text.
func ServerInternalProblem(format string, args ...any) *Problem {
	return newProblem("serverInternal", http.StatusInternalServerError, format, args...)
}

// TLSProblem reports that the TLS connection during validation failed.
func TLSProblem(format string, args ...any) *Problem {
	return newProblem("tls", http.StatusBadRequest, format, args...)
}

// UnauthorizedProblem reports that the client lacks authorization for the request.
func UnauthorizedProblem(format string, args ...any) *Problem {
	return newProblem("unauthorized", http.StatusForbidden, format, args...)
}

// UnsupportedContactProblem reports that a contact URL uses an unsupported scheme.
func UnsupportedContactProblem(format string, args ...any) *Problem {
	return newProblem("unsupportedContact", http.StatusBadRequest, format, args...)
}

// UnsupportedIdentifierProblem reports that an identifier is of an unsupported type.
func UnsupportedIdentifierProblem(format string, args ...any) *Problem {
	return newProblem("unsupportedIdentifier", http.StatusBadRequest, format, args...)
}

// UserActionRequiredProblem reports that the user must act, for example agree to new terms.
func UserActionRequiredProblem(format string, args ...any) *Problem {
	return newProblem("userActionRequired", http.StatusForbidden, format, args...)
}
