package ca

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// DefaultPermittedDomains are the DNS names a devca root may certify unless
// told otherwise: names reserved for testing and local use (RFC 2606, RFC
// 6761, RFC 6762, RFC 8375 and ICANN's .internal), so that a leaked root key
// cannot impersonate a real website.
var DefaultPermittedDomains = []string{
	"localhost", "test", "example", "invalid", "local", "internal", "home.arpa",
}

// DefaultPermittedRanges are the IP ranges a devca root may certify unless
// told otherwise: loopback, private (RFC 1918, RFC 4193) and link-local.
var DefaultPermittedRanges = []string{
	"127.0.0.0/8", "::1/128",
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
	"fc00::/7", "fe80::/10",
}

// Constraints is the set of names a root may certify. The zero value means
// unconstrained.
type Constraints struct {
	Domains []string
	Ranges  []netip.Prefix
}

// Constrained reports whether the constraints limit anything.
func (c Constraints) Constrained() bool { return len(c.Domains) > 0 || len(c.Ranges) > 0 }

// DefaultConstraints returns the development-only constraints plus the extra
// domains and CIDR ranges in permit.
func DefaultConstraints(permit []string) (Constraints, error) {
	c := Constraints{Domains: append([]string(nil), DefaultPermittedDomains...)}
	for _, r := range DefaultPermittedRanges {
		c.Ranges = append(c.Ranges, netip.MustParsePrefix(r))
	}
	for _, p := range permit {
		if err := c.add(p); err != nil {
			return Constraints{}, err
		}
	}
	return c, nil
}

// add widens c by one domain (dev.example.com, or .dev.example.com which
// means the same) or one CIDR range.
func (c *Constraints) add(p string) error {
	if strings.Contains(p, "/") {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("invalid --permit range %q: use CIDR notation such as 10.1.0.0/16", p)
		}
		if prefix.Masked() != prefix {
			return fmt.Errorf("invalid --permit range %q: host bits are set; did you mean %s?", p, prefix.Masked())
		}
		c.Ranges = append(c.Ranges, prefix)
		return nil
	}
	if ip, ok := parseIP(p); ok {
		c.Ranges = append(c.Ranges, netip.PrefixFrom(ip, ip.BitLen()))
		return nil
	}
	d := strings.TrimPrefix(p, ".")
	ascii, err := toASCII(strings.TrimSuffix(d, "."))
	if err == nil {
		err = checkHostname(ascii)
	}
	if err != nil {
		return fmt.Errorf("invalid --permit domain %q: %w", p, err)
	}
	for _, have := range c.Domains {
		if have == ascii {
			return nil
		}
	}
	c.Domains = append(c.Domains, ascii)
	return nil
}

// apply writes the constraints into a root certificate template. Each domain
// constrains DNS names, email domains and URI hosts alike, so the root cannot
// vouch for a real mailbox or service either. The extension is critical, as
// RFC 5280 requires.
func (c Constraints) apply(tmpl *x509.Certificate) {
	if !c.Constrained() {
		return
	}
	tmpl.PermittedDNSDomainsCritical = true
	tmpl.PermittedDNSDomains = append([]string(nil), c.Domains...)
	for _, d := range c.Domains {
		// For email constraints "test" matches only mailboxes at the host
		// "test"; ".test" matches every host below it (RFC 5280 4.2.1.10).
		tmpl.PermittedEmailAddresses = append(tmpl.PermittedEmailAddresses, d, "."+d)
		tmpl.PermittedURIDomains = append(tmpl.PermittedURIDomains, d, "."+d)
	}
	for _, r := range c.Ranges {
		tmpl.PermittedIPRanges = append(tmpl.PermittedIPRanges, &net.IPNet{
			IP:   net.IP(r.Addr().AsSlice()),
			Mask: net.CIDRMask(r.Bits(), r.Addr().BitLen()),
		})
	}
}

// constraintsOf reads the permitted DNS and IP constraints back out of a root.
func constraintsOf(root *x509.Certificate) Constraints {
	c := Constraints{Domains: append([]string(nil), root.PermittedDNSDomains...)}
	for _, r := range root.PermittedIPRanges {
		addr, ok := netip.AddrFromSlice(r.IP)
		if !ok {
			continue
		}
		ones, _ := r.Mask.Size()
		c.Ranges = append(c.Ranges, netip.PrefixFrom(addr, ones))
	}
	return c
}

// Permits reports whether c allows name n. An unconstrained set allows
// everything. For a domain constraint d, a name matches when it is d or ends
// in "."+d; a wildcard matches when its base does.
func (c Constraints) Permits(n Name) bool {
	if !c.Constrained() {
		return true
	}
	if n.Kind == IPAddress {
		if len(c.Ranges) == 0 && len(c.Domains) > 0 {
			// Only DNS constraints present: IP SANs are unconstrained.
			return true
		}
		for _, r := range c.Ranges {
			if r.Contains(n.IP) {
				return true
			}
		}
		return false
	}
	if n.Kind == URIName {
		if _, ok := parseIP(n.URI.Hostname()); ok {
			// RFC 5280: a URI constraint names hosts, and an IP host can
			// never satisfy a domain constraint.
			return len(c.Domains) == 0
		}
	}
	if len(c.Domains) == 0 {
		return true
	}
	host := strings.TrimPrefix(n.host(), "*.")
	for _, d := range c.Domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// String lists the constraints for people.
func (c Constraints) String() string {
	if !c.Constrained() {
		return "none (this root can certify any name)"
	}
	parts := append([]string(nil), c.Domains...)
	for _, r := range c.Ranges {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}
