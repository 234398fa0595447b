package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// defaultPermittedDomains are the DNS names a devca root may certify unless
// told otherwise: names reserved for testing and local use (RFC 2606, RFC
// 6761, RFC 6762, RFC 8375 and ICANN's .internal), so that a leaked root key
// cannot impersonate a real website.
var defaultPermittedDomains = []string{
	"localhost", "test", "example", "invalid", "local", "internal", "home.arpa",
}

// defaultPermittedRanges are the IP ranges a devca root may certify unless
// told otherwise: loopback, private (RFC 1918, RFC 4193) and link-local.
var defaultPermittedRanges = []string{
	"127.0.0.0/8", "::1/128",
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
	"fc00::/7", "fe80::/10",
}

// Constraints is the set of names a root may certify. The zero value means
// unconstrained.
type Constraints struct {
	Domains []string
	Ranges  []netip.Prefix
	// noAddresses permits no IP address at all; an intermediate narrowed
	// to domains only carries it (see Narrow).
	noAddresses bool
}

// Constrained reports whether the constraints limit anything.
func (c Constraints) Constrained() bool {
	return len(c.Domains) > 0 || len(c.Ranges) > 0 || c.noAddresses
}

// allAddresses are the ranges an intermediate excludes to permit no IP
// address: RFC 5280 has no "permit none", only exclusions.
var allAddresses = []*net.IPNet{
	{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
	{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
}

// Narrow returns the constraints of permit, a list of domains and CIDR
// ranges (or single addresses) each of which c permits already: the names
// an intermediate CA narrowed below its root may certify. A permit without
// any range permits no IP address at all. It needs at least one domain.
func (c Constraints) Narrow(permit []string) (Constraints, error) {
	var out Constraints
	for _, p := range permit {
		prefix, isRange, err := parsePermitRange(p)
		if err != nil {
			return Constraints{}, err
		}
		if isRange {
			if !c.permitsRange(prefix) {
				return Constraints{}, fmt.Errorf("--permit %s is not within the root's name constraints (permitted: %s)", p, c)
			}
			out.Ranges = append(out.Ranges, prefix)
			continue
		}
		d := strings.TrimPrefix(p, ".")
		ascii, err := toASCII(strings.TrimSuffix(d, "."))
		if err == nil {
			err = checkHostname(ascii)
		}
		if err != nil {
			return Constraints{}, fmt.Errorf("invalid --permit domain %q: %w", p, err)
		}
		if !c.Permits(Name{Kind: DNSName, Value: ascii}) {
			return Constraints{}, fmt.Errorf("--permit %s is not within the root's name constraints (permitted: %s)", p, c)
		}
		if !slices.Contains(out.Domains, ascii) {
			out.Domains = append(out.Domains, ascii)
		}
	}
	if len(out.Domains) == 0 {
		return Constraints{}, errors.New("a narrowed --permit list needs at least one domain")
	}
	out.noAddresses = len(out.Ranges) == 0
	return out, nil
}

// permitsRange reports whether every address of r is permitted.
func (c Constraints) permitsRange(r netip.Prefix) bool {
	if c.noAddresses {
		return false
	}
	if len(c.Ranges) == 0 {
		// No IP constraint (unconstrained, or domains only).
		return true
	}
	for _, p := range c.Ranges {
		if p.Bits() <= r.Bits() && p.Contains(r.Addr()) {
			return true
		}
	}
	return false
}

// DefaultConstraints returns the development-only constraints plus the extra
// domains and CIDR ranges in permit. A permit that covers public names or
// addresses (see PublicPermitError) is refused: it would give back what the
// constraints exist for.
func DefaultConstraints(permit []string) (Constraints, error) {
	return defaultConstraints(permit, false)
}

// DefaultConstraintsAllowingPublic is DefaultConstraints for a user who has
// said explicitly that the root may certify public names too; Public lists
// which permits do, for the warning.
func DefaultConstraintsAllowingPublic(permit []string) (Constraints, error) {
	return defaultConstraints(permit, true)
}

func defaultConstraints(permit []string, allowPublic bool) (Constraints, error) {
	c := Constraints{Domains: append([]string(nil), defaultPermittedDomains...)}
	for _, r := range defaultPermittedRanges {
		c.Ranges = append(c.Ranges, netip.MustParsePrefix(r))
	}
	for _, p := range permit {
		if err := c.add(p, allowPublic); err != nil {
			return Constraints{}, err
		}
	}
	return c, nil
}

// add widens c by one domain (dev.example.com, or .dev.example.com which
// means the same) or one CIDR range.
func (c *Constraints) add(p string, allowPublic bool) error {
	prefix, isRange, err := parsePermitRange(p)
	if err != nil {
		return err
	}
	if isRange {
		if err := publicRange(prefix); err != nil && !allowPublic {
			err.Permit = p
			return err
		}
		c.Ranges = append(c.Ranges, prefix)
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
	if err := publicDomain(ascii); err != nil && !allowPublic {
		err.Permit = p
		return err
	}
	for _, have := range c.Domains {
		if have == ascii {
			return nil
		}
	}
	c.Domains = append(c.Domains, ascii)
	return nil
}

// parsePermitRange reads a permit that is a CIDR range or a single address
// (a range of one). isRange is false for anything else, a domain.
func parsePermitRange(p string) (prefix netip.Prefix, isRange bool, err error) {
	if strings.Contains(p, "/") {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return prefix, true, fmt.Errorf("invalid --permit range %q: use CIDR notation such as 10.1.0.0/16", p)
		}
		if prefix.Masked() != prefix {
			return prefix, true, fmt.Errorf("invalid --permit range %q: host bits are set; did you mean %s?", p, prefix.Masked())
		}
		return prefix, true, nil
	}
	if ip, ok := parseIP(p); ok {
		return netip.PrefixFrom(ip, ip.BitLen()), true, nil
	}
	return netip.Prefix{}, false, nil
}

// PublicPermitError reports a permit that would let a root certify names or
// addresses of the public internet, which belong to other people: a leaked
// root key could then impersonate their sites.
type PublicPermitError struct {
	// Permit is the permit as the user wrote it (empty when the permit was
	// derived from a name, as PermitFor does).
	Permit string
	// Covered is the domain or range in canonical form.
	Covered string
	Reason  string
}

func (e *PublicPermitError) Error() string {
	p := e.Permit
	if p == "" {
		p = e.Covered
	}
	return fmt.Sprintf("--permit %s would let the root certify public names: %s", p, e.Reason)
}

// privateRanges are the address blocks that are never routed on the public
// internet. A permitted range must lie wholly inside one of them: a range that
// straddles two (172.0.0.0/11) includes public addresses in between.
var privateRanges = []string{
	// loopback (RFC 1122, RFC 4291)
	"127.0.0.0/8", "::1/128",
	// private (RFC 1918, RFC 4193)
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
	// link-local (RFC 3927, RFC 4291)
	"169.254.0.0/16", "fe80::/10",
	// shared address space for carrier-grade NAT (RFC 6598)
	"100.64.0.0/10",
	// documentation (RFC 5737, RFC 3849, RFC 9637)
	"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20",
	// benchmarking (RFC 2544)
	"198.18.0.0/15",
}

// publicRange returns an error unless r lies wholly in non-public space.
func publicRange(r netip.Prefix) *PublicPermitError {
	for _, s := range privateRanges {
		if p := netip.MustParsePrefix(s); p.Bits() <= r.Bits() && p.Contains(r.Addr()) {
			return nil
		}
	}
	if r.IsSingleIP() {
		return &PublicPermitError{Covered: r.String(), Reason: fmt.Sprintf("%s is a public internet address", r.Addr())}
	}
	return &PublicPermitError{Covered: r.String(), Reason: fmt.Sprintf(
		"%s includes public internet addresses; a permitted range must lie within private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7), loopback, link-local, carrier-grade NAT (100.64.0.0/10) or documentation space", r)}
}

// publicDomain returns an error when permitting d (lower-case ASCII) would
// cover names that belong to many different owners: a top-level domain, a
// public suffix in the Public Suffix List (ICANN's co.uk as well as the
// private section's github.io, whose subdomains are handed to unrelated
// customers), or a domain whose every subdomain is a public suffix
// (kawasaki.jp). The development names devca permits by default, and names
// under them, are never public.
//
// A domain that merely contains a public suffix deeper down (amazonaws.com
// holds s3.amazonaws.com) is not caught: the library answers for one name at a
// time and cannot list what lies below a domain.
func publicDomain(d string) *PublicPermitError {
	for _, dev := range defaultPermittedDomains {
		if d == dev || strings.HasSuffix(d, "."+dev) {
			return nil
		}
	}
	if !strings.Contains(d, ".") {
		// Every single label is a top-level domain, delegated or not yet:
		// .dev and .app were once private names too, and a root outlives
		// such changes. PublicSuffix answers for unknown ones by its "*"
		// rule, so the test is the label count, not the list.
		return &PublicPermitError{Covered: d, Reason: fmt.Sprintf(
			"%q is a top-level domain, and names under it belong to whoever registers them", d)}
	}
	if suffix, _ := publicsuffix.PublicSuffix(d); suffix == d {
		return &PublicPermitError{Covered: d, Reason: fmt.Sprintf(
			"%q is a public suffix (publicsuffix.org): its subdomains belong to many different owners", d)}
	}
	// A wildcard rule (*.kawasaki.jp) makes every child a public suffix;
	// any label the rule does not except will show it.
	if child := "devca-probe." + d; len(child) <= maxNameLen {
		if suffix, _ := publicsuffix.PublicSuffix(child); suffix == child {
			return &PublicPermitError{Covered: d, Reason: fmt.Sprintf(
				"every subdomain of %q is a public suffix (publicsuffix.org), each with its own owners", d)}
		}
	}
	return nil
}

// PermitFor returns the narrowest --permit value that would let a root
// certify n: the address itself, or the host name without a wildcard. When
// that permit would cover public names it returns a *PublicPermitError
// instead, so that no hint ever proposes one.
func PermitFor(n Name) (string, error) {
	if n.Kind == IPAddress {
		r := netip.PrefixFrom(n.IP, n.IP.BitLen())
		if err := publicRange(r); err != nil {
			return "", err
		}
		return n.Value, nil
	}
	host := strings.TrimPrefix(n.host(), "*.")
	if ip, ok := parseIP(host); ok {
		// A URI with an IP host: an IP can never satisfy a DNS constraint.
		return "", fmt.Errorf("a URI whose host is an IP address (%s) cannot satisfy a domain constraint", ip)
	}
	if err := publicDomain(host); err != nil {
		return "", err
	}
	return host, nil
}

// Public lists the permitted domains and ranges that cover public names, for
// a warning about a root made with DefaultConstraintsAllowingPublic.
func (c Constraints) Public() []string {
	var out []string
	for _, d := range c.Domains {
		if publicDomain(d) != nil {
			out = append(out, d)
		}
	}
	for _, r := range c.Ranges {
		if publicRange(r) != nil {
			out = append(out, r.String())
		}
	}
	return out
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
	if c.noAddresses {
		tmpl.ExcludedIPRanges = append(tmpl.ExcludedIPRanges, allAddresses...)
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
	all := 0
	for _, r := range root.ExcludedIPRanges {
		if ones, _ := r.Mask.Size(); ones == 0 {
			all++
		}
	}
	c.noAddresses = all == len(allAddresses)
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
		if c.noAddresses {
			return false
		}
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
	if c.noAddresses {
		parts = append(parts, "no IP addresses")
	}
	return strings.Join(parts, ", ")
}
