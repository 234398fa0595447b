package ca

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	// 3×(63+1) + 56 + 1 + 4 = 253 bytes.
	name253 := label63 + "." + label63 + "." + label63 + "." + strings.Repeat("b", 56) + ".test"
	for _, tc := range []struct {
		in    string
		kind  NameKind
		value string
	}{
		{"localhost", DNSName, "localhost"},
		{"LocalHost.", DNSName, "localhost"},
		{"app.test", DNSName, "app.test"},
		{"API.App.Test", DNSName, "api.app.test"},
		{"_svc._tcp.app.test", DNSName, "_svc._tcp.app.test"},
		{"a-b--c.test", DNSName, "a-b--c.test"},
		{"1.2.3.4a", DNSName, "1.2.3.4a"},
		{"123.test", DNSName, "123.test"},
		{label63 + ".test", DNSName, label63 + ".test"},
		{name253, DNSName, name253},
		{"*.app.test", DNSName, "*.app.test"},
		{"*.test", DNSName, "*.test"},
		{"*.APP.test.", DNSName, "*.app.test"},
		{"bücher.test", DNSName, "xn--bcher-kva.test"},
		{"BÜCHER.test", DNSName, "xn--bcher-kva.test"},
		{"*.bücher.test", DNSName, "*.xn--bcher-kva.test"},
		{"例え.test", DNSName, "xn--r8jz45g.test"},
		{"xn--bcher-kva.test", DNSName, "xn--bcher-kva.test"},
		{"bücher。test", DNSName, "xn--bcher-kva.test"},
		{"127.0.0.1", IPAddress, "127.0.0.1"},
		{"10.0.0.255", IPAddress, "10.0.0.255"},
		{"::1", IPAddress, "::1"},
		{"[::1]", IPAddress, "::1"},
		{"[2001:DB8:0:0::1]", IPAddress, "2001:db8::1"},
		{"fe80::1", IPAddress, "fe80::1"},
		{"::ffff:127.0.0.1", IPAddress, "127.0.0.1"},
		{"[::ffff:7f00:1]", IPAddress, "127.0.0.1"},
		{"dev@app.test", EmailAddress, "dev@app.test"},
		{"Dev.Ops+tag@APP.test", EmailAddress, "Dev.Ops+tag@app.test"},
		{"dev@bücher.test", EmailAddress, "dev@xn--bcher-kva.test"},
		{"o'brien@app.test", EmailAddress, "o'brien@app.test"},
		{"spiffe://app.test/api", URIName, "spiffe://app.test/api"},
		{"HTTPS://APP.test:8443/x?y=1", URIName, "https://app.test:8443/x?y=1"},
		{"https://bücher.test/", URIName, "https://xn--bcher-kva.test/"},
		{"https://[::1]:8443/", URIName, "https://[::1]:8443/"},
		{"https://127.0.0.1/", URIName, "https://127.0.0.1/"},
	} {
		t.Run("ok/"+tc.in, func(t *testing.T) {
			n, err := ParseName(tc.in)
			if err != nil {
				t.Fatalf("ParseName(%q): %v", tc.in, err)
			}
			if n.Kind != tc.kind || n.Value != tc.value {
				t.Errorf("ParseName(%q) = %s %q, want %s %q", tc.in, n.Kind, n.Value, tc.kind, tc.value)
			}
			if n.String() != n.Value {
				t.Errorf("String() = %q", n.String())
			}
			if got, want := n.Wildcard(), strings.HasPrefix(tc.value, "*."); got != want {
				t.Errorf("Wildcard() = %v", got)
			}
			switch n.Kind {
			case IPAddress:
				if !n.IP.IsValid() || n.IP.String() != n.Value {
					t.Errorf("IP = %v", n.IP)
				}
			case URIName:
				if n.URI == nil || n.URI.String() != n.Value {
					t.Errorf("URI = %v", n.URI)
				}
			}
		})
	}
}

func TestParseNameFail(t *testing.T) {
	label64 := strings.Repeat("a", 64)
	// 4 labels of 63 bytes and their dots make 256 bytes.
	name256 := strings.Repeat(strings.Repeat("a", 63)+".", 4) + "test"
	for _, in := range []string{
		"",
		" ",
		"a b.test",
		" localhost",
		"localhost ",
		"localhost\u00a0",
		"a\u2028b.test",
		"a\x00b.test",
		"a\tb.test",
		"a\nb.test",
		"a\rb.test",
		"\x7f.test",
		"\x1b[31m.test",
		"a\xffb.test",
		"\xc3\x28.test",
		".",
		"a..b",
		".test",
		"app.test..",
		"-bad.test",
		"bad-.test",
		"a.-b.test",
		label64 + ".test",
		"app." + label64,
		name256,
		"*",
		"*.",
		"*.*.test",
		"a*.test",
		"**.test",
		"app.*.test",
		"*app.test",
		"*.-a.test",
		"*." + strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 56) + ".test",
		"app!.test",
		"app.test/path",
		"app.test:8443",
		"[::1]:443",
		"app,test",
		"über\u202e.test",
		"bücher..test",
		"xn--.test",
		"xn--a.test",
		"256.1.1.1",
		"1.2.3",
		"1.2.3.4.5",
		"01.2.3.4",
		"1.2.3.4.",
		"123",
		"*.1.2.3.4",
		"::1::2",
		"[::1",
		"fe80::1%eth0",
		"[fe80::1%eth0]",
		"user@",
		"@x.test",
		"a@b@c.test",
		".dev@app.test",
		"dev.@app.test",
		"dev..ops@app.test",
		"dév@app.test",
		"dev(x)@app.test",
		strings.Repeat("a", 65) + "@app.test",
		"dev@app..test",
		"dev@-app.test",
		"dev@app_test!",
		"dev@127.0.0.1",
		"http://",
		"://app.test",
		"spiffe://user:pw@x.test",
		"spiffe://user@x.test",
		"https://exa%mple.test/",
		"https://bad-.test/",
		"https://app.test:99x/",
		"https://app..test/",
		"https://app.test/#%zz",
	} {
		t.Run(fmt.Sprintf("fail/%q", in), func(t *testing.T) {
			n, err := ParseName(in)
			if err == nil {
				t.Fatalf("ParseName(%q) = %s %q, want an error", in, n.Kind, n.Value)
			}
			var ne *NameError
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v (%T), want *NameError", err, err)
			}
			if ne.Input != in || ne.Reason == "" {
				t.Errorf("NameError{Input: %q, Reason: %q}, want Input %q and a reason", ne.Input, ne.Reason, in)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
				t.Errorf("message %q does not quote the input", err)
			}
			// The same input in a list fails the same way.
			_, _, err = ParseNames([]string{"localhost", in})
			if !errors.As(err, &ne) || ne.Input != in {
				t.Errorf("ParseNames err = %v, want a NameError for %q", err, in)
			}
		})
	}
}

func TestParseNames(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       []string
		want     []string
		warnings int
	}{
		{"ok/one", []string{"localhost"}, []string{"localhost"}, 0},
		{"ok/order kept", []string{"b.test", "a.test", "127.0.0.1"}, []string{"b.test", "a.test", "127.0.0.1"}, 0},
		{"ok/dedup canonical forms", []string{"localhost", "LOCALHOST", "localhost.", "127.0.0.1", "::ffff:127.0.0.1", "[::1]", "::1", "bücher.test", "xn--bcher-kva.test"},
			[]string{"localhost", "127.0.0.1", "::1", "xn--bcher-kva.test"}, 0},
		{"ok/email local part is case-sensitive", []string{"Dev@app.test", "dev@APP.test"}, []string{"Dev@app.test", "dev@app.test"}, 0},
		{"ok/wildcard under a domain", []string{"*.app.test"}, []string{"*.app.test"}, 0},
		{"ok/wildcard under a TLD warns", []string{"*.test"}, []string{"*.test"}, 1},
		{"ok/wildcard under localhost warns", []string{"*.localhost", "*.LOCALHOST"}, []string{"*.localhost"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, warnings, err := ParseNames(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := ns.Values(); !slices.Equal(got, tc.want) {
				t.Errorf("Values() = %q, want %q", got, tc.want)
			}
			if len(warnings) != tc.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tc.warnings)
			}
			for _, w := range warnings {
				if !strings.Contains(w, tc.want[0]) || !strings.Contains(w, "top-level") {
					t.Errorf("warning %q should name the wildcard and say why", w)
				}
			}
		})
	}
	t.Run("fail/no names", func(t *testing.T) {
		if _, _, err := ParseNames(nil); err == nil {
			t.Error("ParseNames(nil) succeeded")
		}
	})
}

func TestNameKindString(t *testing.T) {
	for k, want := range map[NameKind]string{DNSName: "DNS", IPAddress: "IP", EmailAddress: "email", URIName: "URI", 0: "unknown", 99: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("NameKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
