package wfe

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/devca/devca/ca/acme/wire"
)

// normalizeIdentifiers checks an order's identifiers and returns them lowercased and
// without duplicates, in the order given. Each refused identifier gets a subproblem naming
// it (RFC 8555 §6.7.1).
func normalizeIdentifiers(ids []wire.Identifier) ([]wire.Identifier, error) {
	if len(ids) == 0 {
		return nil, wire.MalformedProblem("order has no identifiers")
	}
	if len(ids) > maxIdentifiers {
		return nil, wire.RejectedIdentifierProblem("order has %d identifiers; at most %d", len(ids), maxIdentifiers)
	}
	var out []wire.Identifier
	var subs []*wire.Problem
	for _, id := range ids {
		n, p := normalizeIdentifier(id)
		if p != nil {
			p.Identifier = &wire.Identifier{Type: id.Type, Value: id.Value}
			subs = append(subs, p)
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(subs) > 0 {
		return nil, combine(subs)
	}
	return out, nil
}

// combine makes one problem of the subproblems: of their type when they share it,
// compound otherwise, with a detail that names every identifier.
func combine(subs []*wire.Problem) *wire.Problem {
	names := make([]string, len(subs))
	same := true
	for i, s := range subs {
		names[i] = fmt.Sprintf("%q (%s)", s.Identifier.Value, s.Detail)
		same = same && s.Type == subs[0].Type
	}
	detail := fmt.Sprintf("%d identifier(s) refused: %s", len(subs), strings.Join(names, ", "))
	if !same {
		return wire.CompoundProblem(subs, "%s", detail)
	}
	p := *subs[0]
	p.Identifier, p.Detail, p.Subproblems = nil, detail, subs
	return &p
}

func normalizeIdentifier(id wire.Identifier) (wire.Identifier, *wire.Problem) {
	switch id.Type {
	case wire.IdentifierDNS:
		name := strings.ToLower(id.Value)
		if err := checkDNSName(name); err != nil {
			return id, wire.RejectedIdentifierProblem("%v", err)
		}
		return wire.Identifier{Type: wire.IdentifierDNS, Value: name}, nil
	case wire.IdentifierIP:
		addr, err := netip.ParseAddr(id.Value)
		if err != nil || addr.Zone() != "" {
			return id, wire.MalformedProblem("not an IP address")
		}
		if addr.String() != id.Value {
			// RFC 8738 §3 asks for the canonical text form (RFC 5952 for IPv6).
			return id, wire.MalformedProblem("write the address as %s", addr.String())
		}
		return id, nil
	default:
		return id, wire.UnsupportedIdentifierProblem("identifier type %q is not supported; use dns or ip", id.Type)
	}
}

// checkDNSName accepts an ASCII host name, "*." wildcard allowed at the front, in
// lowercase letters, digits and hyphens (internationalized names in their xn-- form).
func checkDNSName(name string) error {
	base, wildcard := strings.CutPrefix(name, "*.")
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > 253:
		return errors.New("name is longer than 253 characters")
	case strings.HasSuffix(name, "."):
		return errors.New("name ends with a dot")
	case strings.Contains(base, "*"):
		return errors.New(`a wildcard is only allowed as the whole leftmost label, "*."`)
	}
	if _, err := netip.ParseAddr(base); err == nil {
		return errors.New("an IP address must use the identifier type ip")
	}
	for label := range strings.SplitSeq(base, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("every label must have 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("a label must not start or end with a hyphen")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("character %q is not allowed; write internationalized names in their xn-- form", c)
			}
		}
	}
	if wildcard && !strings.Contains(base, ".") {
		return errors.New("a wildcard needs at least two labels after it")
	}
	return nil
}

// challengeTypes lists the challenges offered for an identifier: a wildcard can only be
// proven in DNS (RFC 8555 §7.1.3), an IP address has no DNS name to put a TXT record on
// (RFC 8738 §7).
func challengeTypes(id wire.Identifier, wildcard bool) []string {
	switch {
	case wildcard:
		return []string{wire.ChallengeDNS01}
	case id.Type == wire.IdentifierIP:
		return []string{wire.ChallengeHTTP01, wire.ChallengeTLSALPN01}
	default:
		return []string{wire.ChallengeHTTP01, wire.ChallengeDNS01, wire.ChallengeTLSALPN01}
	}
}

// nameProblems turns an Issuer's CheckNames error into rejectedIdentifier problems, one per
// refused name when it reports [*NameError]s.
func nameProblems(err error, ids []wire.Identifier) *wire.Problem {
	var subs []*wire.Problem
	var walk func(error)
	walk = func(e error) {
		if ne, ok := e.(*NameError); ok {
			p := wire.RejectedIdentifierProblem("%v", ne.Err)
			p.Identifier = identifierFor(ne.Name, ids)
			subs = append(subs, p)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if u := errors.Unwrap(e); u != nil {
			walk(u)
		}
	}
	walk(err)
	if len(subs) == 0 {
		return wire.RejectedIdentifierProblem("the CA refuses this order: %v", err)
	}
	return combine(subs)
}

func identifierFor(name string, ids []wire.Identifier) *wire.Identifier {
	for _, id := range ids {
		if id.Value == name {
			return &id
		}
	}
	typ := wire.IdentifierDNS
	if _, err := netip.ParseAddr(name); err == nil {
		typ = wire.IdentifierIP
	}
	return &wire.Identifier{Type: typ, Value: name}
}
