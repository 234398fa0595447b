package ca

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// A permit that covers public names or addresses gives back what the name
// constraints are for, so it is refused unless the caller allows it.
func TestPublicPermits(t *testing.T) {
	for _, tc := range []struct {
		permit string
		want   string // in the reason
	}{
		{"com", "top-level domain"},
		{".com", "top-level domain"},
		{"COM.", "top-level domain"},
		{"dev", "top-level domain"},
		{"lan", "top-level domain"}, // not delegated today; .dev was not either once
		{"рф", "top-level domain"},
		{"co.uk", "public suffix"},
		{".co.uk", "public suffix"},
		{"github.io", "public suffix"}, // private section: every user's pages
		{"s3.amazonaws.com", "public suffix"},
		{"in-addr.arpa", "public suffix"},
		{"kawasaki.jp", "every subdomain"}, // *.kawasaki.jp
		{"0.0.0.0/0", "public internet"},
		{"::/0", "public internet"},
		{"8.0.0.0/8", "public internet"},
		{"2000::/3", "public internet"},
		{"8.8.8.8", "is a public internet address"},
		{"2606:4700::1111", "is a public internet address"},
		{"10.0.0.0/7", "public internet"},   // wider than 10/8
		{"172.0.0.0/11", "public internet"}, // straddles 172.16/12
		{"::ffff:0.0.0.0/96", "public internet"},
	} {
		t.Run("fail/"+tc.permit, func(t *testing.T) {
			_, err := DefaultConstraints([]string{"ok.example.com", tc.permit})
			var pe *PublicPermitError
			if !errors.As(err, &pe) {
				t.Fatalf("DefaultConstraints(%q) err = %v, want a *PublicPermitError", tc.permit, err)
			}
			if pe.Permit != tc.permit || !strings.Contains(pe.Reason, tc.want) {
				t.Errorf("err = %+v, want Permit %q and a reason about %q", pe, tc.permit, tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, "--permit "+tc.permit) || !strings.Contains(msg, "public names") {
				t.Errorf("message %q does not name the permit and say why", msg)
			}

			c, err := DefaultConstraintsAllowingPublic([]string{"ok.example.com", tc.permit})
			if err != nil {
				t.Fatalf("with public names allowed: %v", err)
			}
			if pub := c.Public(); len(pub) != 1 {
				t.Errorf("Public() = %q, want just the permit %q", pub, tc.permit)
			}
		})
	}

	for _, permit := range []string{
		"test", "app.test", "localhost", "example", "invalid", "local", "internal", "home.arpa", "nas.home.arpa",
		"dev.example.com", "example.com", "dev.corp.example", "foo.github.io", "city.kawasaki.jp", "bücher.de",
		"home.lan", "a.b.lan",
		"10.0.0.0/8", "10.1.0.0/16", "172.16.0.0/12", "192.168.1.0/24", "100.64.0.0/10", "127.0.0.1",
		"169.254.0.0/16", "192.0.2.7", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15",
		"fd00::/8", "fc00::/7", "fe80::/10", "::1", "2001:db8::/32", "2001:db8::1", "3fff::/20",
	} {
		t.Run("ok/"+permit, func(t *testing.T) {
			c, err := DefaultConstraints([]string{permit})
			if err != nil {
				t.Fatal(err)
			}
			if pub := c.Public(); len(pub) != 0 {
				t.Errorf("Public() = %q, want none", pub)
			}
		})
	}
}

// What devca permits by default must pass its own rule, or every default
// root would warn.
func TestDefaultsAreNotPublic(t *testing.T) {
	c, err := DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	if pub := c.Public(); len(pub) != 0 {
		t.Errorf("the default constraints cover public names: %q", pub)
	}
	if len(c.Domains) != len(defaultPermittedDomains) || len(c.Ranges) != len(defaultPermittedRanges) {
		t.Errorf("defaults changed: %s", c)
	}
}

// A root made with a public permit warns every time its constraints are
// listed; an unconstrained root has nothing to list (it warns otherwise).
func TestPublicOfOtherConstraints(t *testing.T) {
	if pub := (Constraints{}).Public(); pub != nil {
		t.Errorf("unconstrained Public() = %q", pub)
	}
	c := Constraints{Domains: []string{"test", "com"}, Ranges: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("0.0.0.0/0")}}
	if got, want := c.Public(), []string{"com", "0.0.0.0/0"}; !slices.Equal(got, want) {
		t.Errorf("Public() = %q, want %q", got, want)
	}
}

// PermitFor is what the hint after a refused name proposes: never a permit
// that init would refuse.
func TestPermitFor(t *testing.T) {
	for _, tc := range []struct {
		name, want string
	}{
		{"example.com", "example.com"},
		{"*.example.com", "example.com"},
		{"api.dev.example.com", "api.dev.example.com"},
		{"dev@corp.example.com", "corp.example.com"},
		{"https://app.example.com:8443/x", "app.example.com"},
		{"foo.github.io", "foo.github.io"},
		{"100.64.1.2", "100.64.1.2"},
		{"2001:db8::7", "2001:db8::7"},
	} {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			n, err := ParseName(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := PermitFor(n)
			if err != nil || got != tc.want {
				t.Fatalf("PermitFor(%q) = %q, %v, want %q", tc.name, got, err, tc.want)
			}
			c, err := DefaultConstraints([]string{got})
			if err != nil {
				t.Fatalf("the suggested permit is refused: %v", err)
			}
			if !c.Permits(n) {
				t.Errorf("--permit %s does not permit %s", got, n)
			}
		})
	}
	for _, name := range []string{"*.com", "com", "*.co.uk", "dev@co.uk", "*.github.io", "https://com/", "8.8.8.8", "2606:4700::1111", "https://8.8.8.8/"} {
		t.Run("fail/"+name, func(t *testing.T) {
			n, err := ParseName(name)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := PermitFor(n); err == nil {
				t.Errorf("PermitFor(%q) = %q, want no suggestion", name, got)
			}
		})
	}
}
