// Package va is the validation authority of devca's ACME server: it checks
// that an ACME client controls an identifier by answering a challenge, the
// way RFC 8555 §8 describes, for real over the network.
//
// # Challenges
//
//   - http-01 (RFC 8555 §8.3): GET http://<identifier>/.well-known/acme-challenge/<token>
//     on [Config.HTTPPort]; the body, less trailing whitespace, must be the
//     key authorization. Up to 10 redirects are followed, to http on port
//     80 or [Config.HTTPPort] and to https on port 443 or [Config.TLSPort].
//   - dns-01 (RFC 8555 §8.4): a TXT record at _acme-challenge.<name> must
//     hold base64url(SHA-256(key authorization)), looked up through
//     [Config.DNSServer] or the system resolver.
//   - tls-alpn-01 (RFC 8737): a TLS handshake with <identifier> on
//     [Config.TLSPort] must negotiate "acme-tls/1" and present a self-signed
//     certificate naming only the identifier and carrying the critical
//     acmeIdentifier extension with SHA-256(key authorization).
//
// IP address identifiers (RFC 8738) are validated with http-01 and
// tls-alpn-01; tls-alpn-01 sends the address's reverse name (in-addr.arpa or
// ip6.arpa) as the server name.
//
// # Errors and time
//
// A failed validation returns an [*Error] whose Type is an ACME error type
// and whose Detail tells a developer what was tried and what was seen. Each
// validation ends within [Config.Timeout], and sooner when its context is
// canceled; nothing sleeps or retries beyond that.
package va

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The challenge kinds [Authority.Validate] knows.
const (
	HTTP01    = "http-01"
	DNS01     = "dns-01"
	TLSALPN01 = "tls-alpn-01"
)

// DefaultTimeout is how long one validation may take when
// [Config.Timeout] is zero.
const DefaultTimeout = 10 * time.Second

// Config configures an [Authority]. The zero value validates the way RFC
// 8555 says, on ports 80 and 443 with the system resolver.
type Config struct {
	// HTTPPort is the port http-01 fetches from; 0 means 80.
	HTTPPort int
	// TLSPort is the port tls-alpn-01 connects to; 0 means 443.
	TLSPort int
	// DNSServer is the DNS server ("host:port", or a host for port 53)
	// that answers the TXT lookups of dns-01 and resolves the names of
	// http-01 and tls-alpn-01. It should be a recursive resolver: a CNAME
	// is followed only as far as the server follows it. Empty means the
	// system resolver.
	DNSServer string
	// Timeout bounds each validation, DNS lookups and redirects included;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// LookupNetIP, when set, resolves the names of http-01 and tls-alpn-01
	// instead of DNSServer or the system resolver. Its signature is that of
	// [net.Resolver.LookupNetIP]; network is "ip". Like LookupTXT it
	// should return when ctx is done; if it does not, Validate still
	// returns on time and leaves it running.
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
	// LookupTXT, when set, answers the TXT lookups of dns-01 instead of
	// DNSServer or the system resolver. name is fully qualified, with a
	// trailing dot. A name without records should return a *net.DNSError
	// with IsNotFound set.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
}

// Authority validates challenges. It holds no state between validations,
// and its methods may be called concurrently.
type Authority struct {
	httpPort    int
	tlsPort     int
	timeout     time.Duration
	lookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
	lookupTXT   func(ctx context.Context, name string) ([]string, error)
	// ipResolver and txtResolver name who answers lookupNetIP and
	// lookupTXT, for errors' details.
	ipResolver, txtResolver string
}

// New returns an Authority for cfg, with cfg's defaults filled in. It
// fails when a port is out of range or DNSServer is not an address.
func New(cfg Config) (*Authority, error) {
	a := &Authority{
		httpPort:    cfg.HTTPPort,
		tlsPort:     cfg.TLSPort,
		timeout:     cfg.Timeout,
		lookupNetIP: cfg.LookupNetIP,
		lookupTXT:   cfg.LookupTXT,
	}
	for _, p := range []struct {
		name string
		port *int
		def  int
	}{{"HTTP port", &a.httpPort, 80}, {"TLS port", &a.tlsPort, 443}} {
		if *p.port < 0 || *p.port > 65535 {
			return nil, fmt.Errorf("configuring validation: %s %d is not between 1 and 65535", p.name, *p.port)
		}
		if *p.port == 0 {
			*p.port = p.def
		}
	}
	if a.timeout <= 0 {
		a.timeout = DefaultTimeout
	}
	resolver, name := net.DefaultResolver, "the system resolver"
	if cfg.DNSServer != "" {
		server, err := dnsServerAddr(cfg.DNSServer)
		if err != nil {
			return nil, fmt.Errorf("configuring validation: %w", err)
		}
		name = server
		resolver = &net.Resolver{
			PreferGo: true,
			// Every query goes to server, whatever /etc/resolv.conf
			// lists, over the network the resolver asks for (it retries
			// over TCP when an answer is truncated). The connection
			// closes when ctx is done: the resolver itself only watches
			// deadlines while it waits for an answer.
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				conn, err := d.DialContext(ctx, network, server)
				if err != nil {
					return nil, err
				}
				context.AfterFunc(ctx, func() { conn.Close() })
				return conn, nil
			},
		}
	}
	a.ipResolver, a.txtResolver = "Config.LookupNetIP", "Config.LookupTXT"
	if a.lookupNetIP == nil {
		a.lookupNetIP, a.ipResolver = resolver.LookupNetIP, name
	}
	if a.lookupTXT == nil {
		a.lookupTXT, a.txtResolver = resolver.LookupTXT, name
	}
	return a, nil
}

// dnsServerAddr returns s as "host:port", adding port 53 to a bare host
// name or IP address.
func dnsServerAddr(s string) (string, error) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(addr.String(), "53"), nil
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return "", fmt.Errorf("DNS server %q is not host:port with a port between 1 and 65535", s)
		}
		return s, nil
	}
	if checkName(strings.TrimSuffix(s, ".")) == nil {
		return net.JoinHostPort(s, "53"), nil
	}
	return "", fmt.Errorf("DNS server %q is not host:port", s)
}

// Validate checks that the holder of keyAuthorization answers the
// challenge of the given kind (HTTP01, DNS01 or TLSALPN01) for identifier:
// a DNS name, a wildcard's base name (dns-01; a leading "*." is also
// accepted), or an IP address (http-01 and tls-alpn-01). token is the
// challenge's token and keyAuthorization is token + "." +
// base64url(JWK thumbprint) (RFC 8555 §8.1).
//
// It returns nil when the challenge is answered, and an [*Error] otherwise.
// It returns within the configured timeout, or when ctx is done.
func (a *Authority) Validate(ctx context.Context, kind, identifier, token, keyAuthorization string) error {
	if err := checkToken(token, keyAuthorization); err != nil {
		return err
	}
	id, err := parseIdentifier(kind, identifier)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	switch kind {
	case HTTP01:
		return a.validateHTTP01(ctx, id, token, keyAuthorization)
	case DNS01:
		return a.validateDNS01(ctx, id, keyAuthorization)
	default: // TLSALPN01; parseIdentifier refused other kinds
		return a.validateTLSALPN01(ctx, id, keyAuthorization)
	}
}

// checkToken checks that token is base64url text (RFC 8555 §8.1), so it
// can go into a URL path as it is, and that keyAuthorization belongs to it.
func checkToken(token, keyAuthorization string) error {
	if token == "" {
		return &Error{Type: TypeMalformed, Detail: "the challenge token is empty"}
	}
	for _, c := range token {
		if !isBase64URL(c) {
			return &Error{Type: TypeMalformed, Detail: fmt.Sprintf("the challenge token %q has characters outside base64url", token)}
		}
	}
	thumb, ok := strings.CutPrefix(keyAuthorization, token+".")
	if !ok || thumb == "" || strings.IndexFunc(thumb, func(c rune) bool { return !isBase64URL(c) }) >= 0 {
		return &Error{Type: TypeMalformed, Detail: fmt.Sprintf("the key authorization %q is not the token %q, a dot and a base64url thumbprint", keyAuthorization, token)}
	}
	return nil
}

func isBase64URL(c rune) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// identifier is a validation target: a DNS name or an IP address.
type identifier struct {
	name string     // the DNS name, without a wildcard's "*."; empty for an address
	addr netip.Addr // the IP address; invalid for a name
}

// host is the identifier as a host in a URL authority or a dial address,
// before brackets.
func (id identifier) host() string {
	if id.addr.IsValid() {
		return id.addr.String()
	}
	return id.name
}

// parseIdentifier checks that identifier is something kind can validate.
func parseIdentifier(kind, s string) (identifier, error) {
	var id identifier
	switch kind {
	case HTTP01, DNS01, TLSALPN01:
	default:
		return id, &Error{Type: TypeMalformed, Detail: fmt.Sprintf("unknown challenge type %q (want %s, %s or %s)", kind, HTTP01, DNS01, TLSALPN01)}
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		switch {
		case addr.Zone() != "":
			return id, &Error{Type: TypeMalformed, Detail: fmt.Sprintf("IP address %q has a zone", s)}
		case kind == DNS01:
			return id, &Error{Type: TypeMalformed, Detail: fmt.Sprintf("IP address %s cannot be validated with dns-01 (RFC 8738 §7)", s)}
		}
		id.addr = addr.Unmap()
		return id, nil
	}
	name := s
	if base, ok := strings.CutPrefix(name, "*."); ok {
		if kind != DNS01 {
			return id, &Error{Type: TypeMalformed, Detail: fmt.Sprintf("wildcard name %q can only be validated with dns-01 (RFC 8555 §7.1.3)", s)}
		}
		name = base
	}
	name = strings.TrimSuffix(name, ".")
	if err := checkName(name); err != nil {
		return id, &Error{Type: TypeMalformed, Detail: fmt.Sprintf("identifier %q is not a DNS name or an IP address: %v", s, err)}
	}
	id.name = name
	return id, nil
}

// checkName checks that name is made of DNS labels (letters, digits,
// hyphens and underscores, 1 to 63 of them), so it is safe in a URL
// authority and a TLS server name.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return errors.New("longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("label %q is empty or longer than 63 characters", label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("label %q has the character %q", label, c)
			}
		}
	}
	return nil
}
