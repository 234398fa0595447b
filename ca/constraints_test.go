package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestDefaultConstraints(t *testing.T) {
	c, err := DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Constrained() {
		t.Fatal("default constraints constrain nothing")
	}
	if !slices.Equal(c.Domains, defaultPermittedDomains) {
		t.Errorf("Domains = %q, want %q", c.Domains, defaultPermittedDomains)
	}
	var ranges []string
	for _, r := range c.Ranges {
		ranges = append(ranges, r.String())
	}
	if !slices.Equal(ranges, defaultPermittedRanges) {
		t.Errorf("Ranges = %q, want %q", ranges, defaultPermittedRanges)
	}
	// The defaults are copied, not aliased: widening one set must not
	// widen the package's defaults.
	c.Domains[0] = "com"
	if defaultPermittedDomains[0] == "com" {
		t.Fatal("DefaultConstraints aliases DefaultPermittedDomains")
	}
	if s := (Constraints{}).String(); !strings.Contains(s, "none") {
		t.Errorf("unconstrained String() = %q", s)
	}
	d, _ := DefaultConstraints(nil)
	if s := d.String(); !strings.Contains(s, "localhost") || !strings.Contains(s, "fe80::/10") {
		t.Errorf("String() = %q", s)
	}
}

func TestDefaultConstraintsPermit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		permit []string
		domain string // an added domain, if any
		prefix string // an added range, if any
	}{
		{name: "ok/domain", permit: []string{"dev.example.com"}, domain: "dev.example.com"},
		{name: "ok/dot domain", permit: []string{".dev.example.com"}, domain: "dev.example.com"},
		{name: "ok/upper case and trailing dot", permit: []string{"Dev.Example.COM."}, domain: "dev.example.com"},
		{name: "ok/idn", permit: []string{"bücher.de"}, domain: "xn--bcher-kva.de"},
		{name: "ok/ipv4 cidr", permit: []string{"100.64.0.0/10"}, prefix: "100.64.0.0/10"},
		{name: "ok/ipv6 cidr", permit: []string{"2001:db8::/32"}, prefix: "2001:db8::/32"},
		{name: "ok/bare ipv4", permit: []string{"203.0.113.7"}, prefix: "203.0.113.7/32"},
		{name: "ok/bare ipv6", permit: []string{"2001:db8::1"}, prefix: "2001:db8::1/128"},
		{name: "ok/bracketed ipv6", permit: []string{"[2001:db8::1]"}, prefix: "2001:db8::1/128"},
		{name: "ok/several", permit: []string{"corp.example", "dev.example.com", "198.51.100.0/24"}, domain: "dev.example.com", prefix: "198.51.100.0/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DefaultConstraints(tc.permit)
			if err != nil {
				t.Fatal(err)
			}
			if tc.domain != "" && !slices.Contains(c.Domains, tc.domain) {
				t.Errorf("Domains = %q, want %q added", c.Domains, tc.domain)
			}
			if tc.prefix != "" && !slices.Contains(c.Ranges, netip.MustParsePrefix(tc.prefix)) {
				t.Errorf("Ranges = %v, want %s added", c.Ranges, tc.prefix)
			}
			for _, d := range defaultPermittedDomains {
				if !slices.Contains(c.Domains, d) {
					t.Errorf("--permit dropped the default %q", d)
				}
			}
		})
	}

	t.Run("ok/duplicate domain is added once", func(t *testing.T) {
		c, err := DefaultConstraints([]string{"test", ".TEST", "app.example.com", "app.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Domains) != len(defaultPermittedDomains)+1 {
			t.Errorf("Domains = %q", c.Domains)
		}
	})

	for _, tc := range []struct {
		name, permit, want string
	}{
		{"fail/cidr with host bits", "10.1.2.3/16", "10.1.0.0/16"},
		{"fail/ipv6 cidr with host bits", "2001:db8::1/32", "2001:db8::/32"},
		{"fail/cidr prefix too long", "10.0.0.0/33", "CIDR"},
		{"fail/cidr not an address", "corp/8", "CIDR"},
		{"fail/cidr with zone", "fe80::%eth0/64", "CIDR"},
		{"fail/empty", "", "--permit"},
		{"fail/dot", ".", "--permit"},
		{"fail/leading hyphen", "-bad.example.com", "-bad.example.com"},
		{"fail/empty label", "a..example.com", "a..example.com"},
		{"fail/wildcard", "*.example.com", "*.example.com"},
		{"fail/space", "example .com", "example .com"},
		{"fail/url", "https://example.com", "https://example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DefaultConstraints([]string{"ok.example.com", tc.permit})
			if err == nil {
				t.Fatalf("--permit %q accepted", tc.permit)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestPermits(t *testing.T) {
	def, err := DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	wide, err := DefaultConstraints([]string{"dev.example.com", "100.64.0.0/10"})
	if err != nil {
		t.Fatal(err)
	}
	domainsOnly := Constraints{Domains: []string{"test"}}
	rangesOnly := Constraints{Ranges: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct {
		set  string
		c    Constraints
		name string
		want bool
	}{
		{"default", def, "localhost", true},
		{"default", def, "app.localhost", true},
		{"default", def, "test", true},
		{"default", def, "app.test", true},
		{"default", def, "a.b.c.test", true},
		{"default", def, "*.app.test", true},
		{"default", def, "*.test", true},
		{"default", def, "x.example", true},
		{"default", def, "x.invalid", true},
		{"default", def, "printer.local", true},
		{"default", def, "svc.internal", true},
		{"default", def, "nas.home.arpa", true},
		{"default", def, "127.0.0.1", true},
		{"default", def, "127.255.255.254", true},
		{"default", def, "::1", true},
		{"default", def, "10.1.2.3", true},
		{"default", def, "172.16.0.1", true},
		{"default", def, "172.31.255.255", true},
		{"default", def, "192.168.1.1", true},
		{"default", def, "169.254.1.1", true},
		{"default", def, "fd00::1", true},
		{"default", def, "fe80::1", true},
		{"default", def, "febf::1", true},
		{"default", def, "::ffff:10.0.0.1", true},
		{"default", def, "dev@app.test", true},
		{"default", def, "dev@test", true},
		{"default", def, "spiffe://app.test/api", true},
		{"default", def, "https://app.test:8443/", true},

		{"default", def, "example.com", false},
		{"default", def, "localhost.com", false},
		{"default", def, "test.com", false},
		{"default", def, "mytest", false},
		{"default", def, "app.mytest", false},
		{"default", def, "home.arpa.evil.com", false},
		{"default", def, "arpa", false},
		{"default", def, "x.arpa", false},
		{"default", def, "*.example.com", false},
		{"default", def, "8.8.8.8", false},
		{"default", def, "172.32.0.1", false},
		{"default", def, "11.0.0.1", false},
		{"default", def, "128.0.0.1", false},
		{"default", def, "::2", false},
		{"default", def, "2001:db8::1", false},
		{"default", def, "fec0::1", false},
		{"default", def, "mail@gmail.com", false},
		{"default", def, "dev@test.com", false},
		{"default", def, "https://example.com", false},
		{"default", def, "https://127.0.0.1/", false},
		{"default", def, "https://[::1]/", false},

		{"wide", wide, "dev.example.com", true},
		{"wide", wide, "api.dev.example.com", true},
		{"wide", wide, "example.com", false},
		{"wide", wide, "evildev.example.com", false},
		{"wide", wide, "100.64.0.1", true},
		{"wide", wide, "100.128.0.1", false},

		{"none", Constraints{}, "example.com", true},
		{"none", Constraints{}, "8.8.8.8", true},
		{"none", Constraints{}, "https://127.0.0.1/", true},

		// One kind of constraint leaves the other kinds free, as RFC 5280
		// and Go's verifier do.
		{"domains-only", domainsOnly, "8.8.8.8", true},
		{"domains-only", domainsOnly, "app.test", true},
		{"domains-only", domainsOnly, "example.com", false},
		{"ranges-only", rangesOnly, "example.com", true},
		{"ranges-only", rangesOnly, "https://127.0.0.1/", true},
		{"ranges-only", rangesOnly, "10.9.9.9", true},
		{"ranges-only", rangesOnly, "192.168.0.1", false},
	} {
		verdict := "fail/"
		if tc.want {
			verdict = "ok/"
		}
		t.Run(verdict+tc.set+"/"+tc.name, func(t *testing.T) {
			n, err := ParseName(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.c.Permits(n); got != tc.want {
				t.Errorf("Permits(%s %q) = %v, want %v (constraints %s)", n.Kind, n.Value, got, tc.want, tc.c)
			}
		})
	}
}

// Permits must agree with Go's verifier: devca refuses before signing
// exactly what a client would refuse after. Each name is put into a leaf
// forged with the CA key, bypassing Issue's check, and verified.
func TestPermitsAgreesWithVerifier(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	cons := a.Constraints()
	for _, in := range []string{
		"localhost", "app.localhost", "test", "app.test", "*.app.test", "*.test", "_svc.app.test",
		"xn--bcher-kva.test", "nas.home.arpa", "x.example", "x.invalid", "x.local", "x.internal",
		"example.com", "test.com", "mytest", "*.example.com", "localhost.localdomain", "home.arpa.com",
		"127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "172.16.5.4", "172.32.0.1", "192.168.255.255",
		"192.169.0.1", "169.254.0.1", "fc00::1", "fdff::1", "fe80::1", "febf:ffff::1", "fec0::1", "8.8.8.8", "2001:db8::1",
		"dev@app.test", "dev@test", "dev@localhost", "dev@example.com", "dev@test.com",
		"spiffe://app.test/api", "https://app.test:8443/", "https://localhost/", "https://example.com/",
		"https://127.0.0.1/", "https://[::1]:8443/", "urn://app.test",
	} {
		n, err := ParseName(in)
		if err != nil {
			t.Fatalf("ParseName(%q): %v", in, err)
		}
		want := cons.Permits(n)
		verdict := "fail/"
		if want {
			verdict = "ok/"
		}
		t.Run(verdict+in, func(t *testing.T) {
			tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "forged"}}
			switch n.Kind {
			case DNSName:
				tmpl.DNSNames = []string{n.Value}
			case IPAddress:
				tmpl.IPAddresses = []net.IP{net.IP(n.IP.AsSlice())}
			case EmailAddress:
				tmpl.EmailAddresses = []string{n.Value}
			case URIName:
				tmpl.URIs = append(tmpl.URIs, n.URI)
			}
			leaf := forgeLeaf(t, a, tmpl)
			err := verifyErr(a.Cert, leaf, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			if got := err == nil; got != want {
				t.Errorf("Permits(%s %q) = %v but x509.Verify says %v", n.Kind, n.Value, want, err)
			}
			_, issueErr := a.Issue(LeafRequest{Names: Names{n}})
			var ce *ConstraintError
			if refused := errors.As(issueErr, &ce); refused == want {
				t.Errorf("Issue(%q) = %v, want refused=%v", in, issueErr, !want)
			}
		})
	}
}
