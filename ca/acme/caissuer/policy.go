package caissuer

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/devca/devca/ca"
)

// Policy narrows the names an [Issuer] signs for below the root's name constraints, so
// that one team's server issues only for that team's names. It is a list of patterns; a
// name is allowed when one pattern matches it:
//
//   - "team.test" matches exactly team.test;
//   - "*.team.test" matches every name below team.test, at any depth (a.team.test,
//     a.b.team.test) and the wildcards below it (*.team.test, *.a.team.test), but not
//     team.test itself;
//   - "10.1.0.0/16" matches the IP addresses in that range, and "10.1.2.3" that address.
//
// DNS patterns match DNS names only, IP patterns IP addresses only. The nil Policy
// allows every name.
type Policy struct {
	patterns []pattern
}

type pattern struct {
	text       string
	domain     string // DNS patterns: the name, without "*."
	subdomains bool   // the pattern was *.domain
	prefix     netip.Prefix
}

// ParsePolicy parses patterns (see [Policy]); it returns nil for an empty list.
func ParsePolicy(patterns []string) (*Policy, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	p := &Policy{}
	for _, s := range patterns {
		pt, err := parsePattern(s)
		if err != nil {
			return nil, fmt.Errorf("invalid name pattern %q: %w", s, err)
		}
		p.patterns = append(p.patterns, pt)
	}
	return p, nil
}

func parsePattern(s string) (pattern, error) {
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return pattern{}, errors.New("not a CIDR range such as 10.1.0.0/16")
		}
		if prefix.Masked() != prefix {
			return pattern{}, fmt.Errorf("write it as %s", prefix.Masked())
		}
		return pattern{text: prefix.String(), prefix: prefix}, nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		ip = ip.Unmap()
		return pattern{text: ip.String(), prefix: netip.PrefixFrom(ip, ip.BitLen())}, nil
	}
	domain, subdomains := strings.CutPrefix(s, "*.")
	n, err := ca.ParseName(domain)
	switch {
	case err != nil:
		var ne *ca.NameError
		if errors.As(err, &ne) {
			return pattern{}, errors.New(ne.Reason)
		}
		return pattern{}, err
	case n.Kind != ca.DNSName || n.Wildcard():
		return pattern{}, errors.New("use a DNS name (team.test), all names below one (*.team.test), or an IP range (10.1.0.0/16)")
	}
	text := n.Value
	if subdomains {
		text = "*." + text
	}
	return pattern{text: text, domain: n.Value, subdomains: subdomains}, nil
}

// Allows reports whether the policy allows n, a DNS name (possibly a wildcard) or an IP
// address.
func (p *Policy) Allows(n ca.Name) bool {
	if p == nil {
		return true
	}
	for _, pt := range p.patterns {
		if pt.matches(n) {
			return true
		}
	}
	return false
}

func (pt pattern) matches(n ca.Name) bool {
	switch {
	case n.Kind == ca.IPAddress:
		return pt.prefix.IsValid() && pt.prefix.Contains(n.IP.Unmap())
	case n.Kind != ca.DNSName || pt.domain == "":
		return false
	case n.Wildcard():
		// *.x covers the names one label below x: all below domain when x is domain
		// or below it.
		x := n.Value[2:]
		return pt.subdomains && (x == pt.domain || strings.HasSuffix(x, "."+pt.domain))
	case pt.subdomains:
		return strings.HasSuffix(n.Value, "."+pt.domain)
	}
	return n.Value == pt.domain
}

// String lists the patterns, comma-separated, for messages.
func (p *Policy) String() string {
	if p == nil {
		return "any name"
	}
	texts := make([]string, len(p.patterns))
	for i, pt := range p.patterns {
		texts[i] = pt.text
	}
	return strings.Join(texts, ", ")
}
