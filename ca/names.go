package ca

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// NameKind says which subject alternative name type a Name becomes.
type NameKind int

// The kinds of names a certificate can carry.
const (
	DNSName NameKind = iota + 1
	IPAddress
	EmailAddress
	URIName
)

func (k NameKind) String() string {
	switch k {
	case DNSName:
		return "DNS"
	case IPAddress:
		return "IP"
	case EmailAddress:
		return "email"
	case URIName:
		return "URI"
	}
	return "unknown"
}

// Name is one validated subject alternative name in canonical form: DNS names
// lower-case ASCII (punycode for internationalised names), IP addresses in
// their shortest form.
type Name struct {
	Kind  NameKind
	Value string
	// IP is set for IPAddress names.
	IP netip.Addr
	// URI is set for URIName names.
	URI *url.URL
}

func (n Name) String() string { return n.Value }

// Wildcard reports whether n is a wildcard DNS name such as *.app.test.
func (n Name) Wildcard() bool { return n.Kind == DNSName && strings.HasPrefix(n.Value, "*.") }

// host is the DNS part of a name, used for name-constraint checks: the name
// itself, an email's domain or a URI's host. It is empty for IP addresses.
func (n Name) host() string {
	switch n.Kind {
	case DNSName:
		return n.Value
	case EmailAddress:
		return n.Value[strings.LastIndexByte(n.Value, '@')+1:]
	case URIName:
		return strings.ToLower(n.URI.Hostname())
	}
	return ""
}

// NameError reports a name that cannot go into a certificate.
type NameError struct {
	Input  string
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("invalid name %q: %s", e.Input, e.Reason)
}

func nameErr(input, format string, args ...any) error {
	return &NameError{Input: input, Reason: fmt.Sprintf(format, args...)}
}

// Limits from RFC 1035 section 2.3.4.
const (
	maxLabelLen = 63
	maxNameLen  = 253
)

// idnaProfile converts internationalised names to their ASCII form. Label
// rules are checked by checkHostname afterwards, because development names
// often use underscores, which the strict IDNA profile refuses.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.VerifyDNSLength(true),
)

// ParseName classifies and validates one name given on the command line: an
// IP address, an email address, a URI (anything with "://"), or else a DNS
// name, possibly a wildcard in its leftmost label.
func ParseName(s string) (Name, error) {
	if s == "" {
		return Name{}, nameErr(s, "the name is empty")
	}
	if !utf8.ValidString(s) {
		return Name{}, nameErr(s, "the name is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return Name{}, nameErr(s, "names cannot contain spaces or control characters")
		}
	}
	if ip, ok := parseIP(s); ok {
		return Name{Kind: IPAddress, Value: ip.String(), IP: ip}, nil
	}
	if err := notAnAddress(s); err != nil {
		return Name{}, err
	}
	if strings.Contains(s, "://") {
		return parseURI(s)
	}
	if strings.Contains(s, "@") {
		return parseEmail(s)
	}
	return parseDNSName(s)
}

// parseIP accepts IPv4 and IPv6 addresses, with or without brackets around
// IPv6. Zones (fe80::1%eth0) cannot go into a certificate.
func parseIP(s string) (netip.Addr, bool) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	// An IPv4-mapped IPv6 address is the IPv4 address to every TLS client.
	return ip.Unmap(), true
}

// notAnAddress explains inputs that look like an IP address but cannot be
// one in a certificate, which would otherwise be reported as bad characters in
// a DNS name.
func notAnAddress(s string) error {
	bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if ip, err := netip.ParseAddr(bare); err == nil && ip.Zone() != "" {
		return nameErr(s, "%%%s is an IPv6 zone, the network interface on this machine that the address belongs to; "+
			"a certificate cannot carry one, because a zone means nothing on another machine: use %s", ip.Zone(), ip.WithZone(""))
	}
	if p, err := netip.ParsePrefix(bare); err == nil {
		if p.IsSingleIP() {
			return nameErr(s, "%s is written as an address range (CIDR) of one address; give the address alone: %s", p, p.Addr())
		}
		return nameErr(s, "%s is an address range (CIDR), not an address; a certificate names single IP addresses, so list the ones the server answers on", p)
	}
	return nil
}

func parseDNSName(input string) (Name, error) {
	s := input
	wildcard := false
	if strings.HasPrefix(s, "*.") {
		wildcard = true
		s = s[2:]
	}
	if strings.Contains(s, "*") {
		return Name{}, nameErr(input, "a wildcard is allowed only as the whole leftmost label, as in *.app.test")
	}
	// One trailing dot marks a fully qualified name; certificates carry names
	// without it.
	s = strings.TrimSuffix(s, ".")
	ascii, err := toASCII(s)
	if err != nil {
		return Name{}, nameErr(input, "%s", err)
	}
	if err := checkHostname(ascii); err != nil {
		return Name{}, nameErr(input, "%s", err)
	}
	if wildcard {
		// *.test is accepted here; ParseNames warns about it, because browsers
		// refuse wildcards directly under a top-level name.
		ascii = "*." + ascii
		if len(ascii) > maxNameLen {
			return Name{}, nameErr(input, "the name is longer than %d bytes", maxNameLen)
		}
	}
	return Name{Kind: DNSName, Value: ascii}, nil
}

// toASCII converts an internationalised name to punycode, leaving ASCII names
// as they are but lower-cased.
func toASCII(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("the name is empty")
	}
	isASCII := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			isASCII = false
			break
		}
	}
	if isASCII {
		return strings.ToLower(s), nil
	}
	out, err := idnaProfile.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("not a valid internationalised name (%v)", err)
	}
	return strings.ToLower(out), nil
}

// checkHostname applies the DNS rules browsers apply to certificate names:
// letters, digits, hyphens and underscores in labels of 1–63 bytes, no label
// starting or ending with a hyphen, 253 bytes in all, and not all-numeric in
// the last label, which would make it look like a mistyped IP address.
func checkHostname(s string) error {
	if s == "" {
		return fmt.Errorf("the name is empty")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("the name is longer than %d bytes", maxNameLen)
	}
	labels := strings.Split(s, ".")
	for _, label := range labels {
		if label == "" {
			return fmt.Errorf("the name has an empty label (two dots in a row, or a leading or trailing dot)")
		}
		if len(label) > maxLabelLen {
			return fmt.Errorf("the label %q is longer than %d bytes", label, maxLabelLen)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("the label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("the character %q is not allowed in a DNS name", rune(c))
			}
		}
		if strings.HasPrefix(label, "xn--") {
			// The lookup profile also checks what the label decodes to:
			// plain punycode decoding accepts xn--a, a control character.
			if _, err := idnaProfile.ToUnicode(label); err != nil {
				return fmt.Errorf("the label %q is not valid punycode", label)
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("the last label is all digits: not a valid IP address, and not a DNS name either")
	}
	return nil
}

func parseEmail(input string) (Name, error) {
	at := strings.LastIndexByte(input, '@')
	local, domain := input[:at], input[at+1:]
	if local == "" || domain == "" {
		return Name{}, nameErr(input, "an email address needs a local part and a domain, as in dev@app.test")
	}
	if len(local) > 64 {
		return Name{}, nameErr(input, "the part before @ is longer than 64 bytes")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c >= utf8.RuneSelf || !isAtext(c) && c != '.' {
			return Name{}, nameErr(input, "the character %q is not allowed before the @ of an email address", rune(c))
		}
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return Name{}, nameErr(input, "dots in the part before @ cannot lead, trail or repeat")
	}
	ascii, err := toASCII(strings.TrimSuffix(domain, "."))
	if err == nil {
		err = checkHostname(ascii)
	}
	if err != nil {
		return Name{}, nameErr(input, "the domain after @ is not valid: %s", err)
	}
	return Name{Kind: EmailAddress, Value: local + "@" + ascii}, nil
}

// isAtext reports whether c is an RFC 5322 "atext" character.
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func parseURI(input string) (Name, error) {
	u, err := url.Parse(input)
	if err != nil {
		return Name{}, nameErr(input, "not a valid URI: %s", strings.TrimPrefix(err.Error(), "parse "+fmt.Sprintf("%q", input)+": "))
	}
	if u.Scheme == "" || u.Host == "" {
		return Name{}, nameErr(input, "a URI needs a scheme and a host, as in spiffe://app.test/api")
	}
	if u.User != nil {
		return Name{}, nameErr(input, "a URI in a certificate cannot carry a user name or password")
	}
	host := u.Hostname()
	if _, ok := parseIP(host); !ok {
		ascii, err := toASCII(host)
		if err == nil {
			err = checkHostname(ascii)
		}
		if err != nil {
			return Name{}, nameErr(input, "the host of the URI is not valid: %s", err)
		}
		if port := u.Port(); port != "" {
			u.Host = net.JoinHostPort(ascii, port)
		} else {
			u.Host = ascii
		}
	}
	return Name{Kind: URIName, Value: u.String(), URI: u}, nil
}

// Names is an ordered list of distinct names.
type Names []Name

// ParseNames parses every input and drops exact duplicates, keeping the first
// occurrence. It returns warnings for names that are valid but probably not
// what the user wants. The first invalid input stops it.
func ParseNames(inputs []string) (Names, []string, error) {
	if len(inputs) == 0 {
		return nil, nil, fmt.Errorf("no names given")
	}
	if err := checkNameCount(len(inputs)); err != nil {
		return nil, nil, err
	}
	var out Names
	var warnings []string
	seen := map[string]bool{}
	for _, in := range inputs {
		n, err := ParseName(in)
		if err != nil {
			return nil, nil, err
		}
		key := n.Kind.String() + ":" + n.Value
		if seen[key] {
			continue
		}
		seen[key] = true
		if n.Wildcard() && !strings.Contains(n.Value[2:], ".") {
			warnings = append(warnings, fmt.Sprintf("%s is a wildcard directly under a top-level name; browsers refuse to match it, so list the names you need instead", n.Value))
		}
		out = append(out, n)
	}
	return out, warnings, nil
}

// Values returns the canonical string of every name.
func (ns Names) Values() []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Value
	}
	return out
}
