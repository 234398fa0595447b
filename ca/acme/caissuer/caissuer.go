// Package caissuer connects the ACME front end to devca's certificate authority: an
// [Issuer] is a [wfe.Issuer] backed by a [ca.Authority].
//
// # What it refuses
//
// [Issuer.CheckNames] refuses, each as a [*wfe.NameError], every name that `devca issue`
// would refuse ([ca.ParseName]) and every name outside the root's name constraints
// ([ca.Authority.Constraints]) or outside the server's narrower [Policy], if it has one
// ([Issuer.WithPolicy]), so that a refused name is reported at newOrder, naming it,
// instead of failing at finalize. [Issuer.Issue] holds the request to the policy too (an
// order created before the policy narrowed is refused at finalize).
//
// # What it signs
//
// [Issuer.Issue] signs through [ca.Authority.SignCSR] with [ca.Files]{}: the certificate
// is written to no file, but it is added to the CA home's record like every certificate
// devca issues, so `devca list` shows it. The leaf has the same profile as `devca sign`
// gives; the request's extensions are ignored. It carries no CRL distribution point:
// clients that check revocation on their own (Windows' schannel, for one) would fail
// every handshake while the ACME server is down, and a development certificate must not
// depend on it. The CRL is served at the server's /crl for the clients given it
// explicitly (openssl -CRLfile, curl --crlfile).
package caissuer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/ca/acme/wfe"
	"github.com/devca/devca/ca/acme/wire"
)

// Issuer is a [wfe.Issuer] that signs with a devca CA. Create it with [New].
type Issuer struct {
	auth   atomic.Pointer[ca.Authority]
	policy *Policy // set before serving; nil allows every name the CA may certify
}

var _ wfe.Issuer = (*Issuer)(nil)

// New returns an Issuer that signs with auth: the root, or an intermediate CA
// (see [ca.Authority.WithIntermediate]).
func New(auth *ca.Authority) *Issuer {
	is := &Issuer{}
	is.auth.Store(auth)
	return is
}

// WithPolicy makes the Issuer refuse names outside p (nil: none) and returns it. Call it
// before the Issuer serves.
func (is *Issuer) WithPolicy(p *Policy) *Issuer {
	is.policy = p
	return is
}

// Replace makes the Issuer sign with auth from now on, such as a renewed
// intermediate CA; requests under way finish with the one they started with.
func (is *Issuer) Replace(auth *ca.Authority) { is.auth.Store(auth) }

// CheckNames implements [wfe.Issuer]: names are DNS names, "*." wildcards and IP
// addresses in text form.
func (is *Issuer) CheckNames(names []string) error {
	cons := is.auth.Load().Constraints()
	var errs []error
	for _, s := range names {
		n, err := ca.ParseName(s)
		switch {
		case err != nil:
			var ne *ca.NameError
			if errors.As(err, &ne) {
				err = errors.New(ne.Reason)
			}
		case n.Kind != ca.DNSName && n.Kind != ca.IPAddress:
			err = fmt.Errorf("an ACME order names DNS names and IP addresses, and this reads as a %s name", n.Kind)
		case n.Value != s:
			err = fmt.Errorf("write it as %s", n.Value)
		case !cons.Permits(n):
			err = fmt.Errorf("outside the root's name constraints (permitted: %s)", cons)
		case !is.policy.Allows(n):
			err = fmt.Errorf("outside this server's name policy (allowed: %s)", is.policy)
		}
		if err != nil {
			errs = append(errs, &wfe.NameError{Name: s, Err: err})
		}
	}
	return errors.Join(errs...)
}

// Issue implements [wfe.Issuer]: it signs the CSR for exactly the request's names, valid
// from NotBefore to NotAfter, records it in the CA home, and returns the leaf and the
// chain up to and including the root: the root alone, or the intermediate CA and the
// root. RFC 8555 (section 9.1) asks only that each certificate certify the one before;
// ACME servers on the public internet usually end before the root, and devca keeps the
// root in, as it always has: clients accept it and verifiers skip it (RFC 8446, section
// 4.4.2 lets a TLS server send it), and a fullchain.pem that ends at the root shows
// which root to trust.
func (is *Issuer) Issue(ctx context.Context, req wfe.IssueRequest) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inputs := append([]string(nil), req.DNSNames...)
	for _, ip := range req.IPAddresses {
		inputs = append(inputs, ip.String())
	}
	names, _, err := ca.ParseNames(inputs)
	if err != nil {
		return nil, wire.BadCSRProblem("%v", err)
	}
	for _, n := range names {
		if !is.policy.Allows(n) {
			return nil, wire.RejectedIdentifierProblem("%s is outside this server's name policy (allowed: %s)", n.Value, is.policy)
		}
	}
	auth := is.auth.Load()
	parent, what := auth.IssuerCert(), "root's"
	if auth.Intermediate() != nil {
		what = "intermediate CA's"
	}
	if req.NotAfter.After(parent.NotAfter) || req.NotBefore.Before(parent.NotBefore) {
		// The CA would cut the leaf short to fit the CA certificate, which is
		// not what the client asked for; refuse before anything is signed and
		// recorded.
		return nil, fmt.Errorf("the certificate would be valid %s to %s, beyond the %s %s to %s",
			req.NotBefore.UTC().Format(time.RFC3339), req.NotAfter.UTC().Format(time.RFC3339), what,
			parent.NotBefore.UTC().Format(time.RFC3339), parent.NotAfter.UTC().Format(time.RFC3339))
	}
	lifetime := req.NotAfter.Sub(req.NotBefore)
	issued, err := auth.SignCSR(ca.CSRRequest{CSR: req.CSR, Names: names, Lifetime: lifetime, NotBefore: req.NotBefore}, ca.Files{})
	var ce *ca.ConstraintError
	if errors.As(err, &ce) {
		return nil, wire.RejectedIdentifierProblem("%v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("signing certificate for %v: %w", names.Values(), err)
	}
	return append([][]byte{issued.Leaf.Cert.Raw}, auth.Chain()...), nil
}

// SignCRL implements [wfe.Issuer] with [ca.Authority.SignCRL].
func (is *Issuer) SignCRL(ctx context.Context, req wfe.CRLRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return is.auth.Load().SignCRL(ca.CRLRequest{Number: req.Number, ThisUpdate: req.ThisUpdate, NextUpdate: req.NextUpdate, Entries: req.Entries})
}
