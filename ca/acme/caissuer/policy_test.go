package caissuer

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/ca/acme/wfe"
	"github.com/devca/devca/ca/acme/wire"
)

func mustName(t *testing.T, s string) ca.Name {
	t.Helper()
	n, err := ca.ParseName(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPolicyAllows(t *testing.T) {
	p, err := ParsePolicy([]string{"*.team.test", "api.test", "10.1.0.0/16", "fd00::7", "::ffff:192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.String(), "*.team.test, api.test, 10.1.0.0/16, fd00::7, 192.0.2.9"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	for name, want := range map[string]bool{
		"a.team.test":     true,
		"a.b.team.test":   true,
		"*.team.test":     true,
		"*.a.team.test":   true,
		"team.test":       false, // *.team.test is below it only
		"xteam.test":      false,
		"a.xteam.test":    false,
		"api.test":        true,
		"www.api.test":    false, // exact
		"*.api.test":      false,
		"other.test":      false,
		"10.1.2.3":        true,
		"10.2.0.1":        false,
		"fd00::7":         true,
		"fd00::8":         false,
		"192.0.2.9":       true,
		"localhost":       false,
		"team.test.other": false,
	} {
		if got := p.Allows(mustName(t, name)); got != want {
			t.Errorf("Allows(%s) = %v, want %v", name, got, want)
		}
	}
	var none *Policy
	if !none.Allows(mustName(t, "anything.test")) || none.String() != "any name" {
		t.Error("the nil policy does not allow every name")
	}
	if p, err := ParsePolicy(nil); p != nil || err != nil {
		t.Errorf("ParsePolicy(nil) = %v, %v; want nil", p, err)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"10.1.2.0/16", "write it as 10.1.0.0/16"},
		{"10.1.0.0/33", "CIDR"},
		{"*.*.team.test", "use a DNS name"},
		{"dev@team.test", "use a DNS name"},
		{"team..test", "empty label"},
		{"", ""},
	} {
		_, err := ParsePolicy([]string{"ok.test", tc.pattern})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"`+tc.pattern+`"`) {
			t.Errorf("ParsePolicy(%q) = %v, want an error naming it and saying %q", tc.pattern, err, tc.want)
		}
	}
}

func TestCheckNamesPolicy(t *testing.T) {
	p, err := ParsePolicy([]string{"*.team.test", "10.1.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	is := New(newTestCA(t)).WithPolicy(p)
	if err := is.CheckNames([]string{"a.team.test", "*.team.test", "10.1.2.3"}); err != nil {
		t.Fatalf("CheckNames of allowed names: %v", err)
	}
	err = is.CheckNames([]string{"a.team.test", "other.test", "example.com", "10.2.0.1"})
	var refused []string
	for _, e := range unjoin(err) {
		var ne *wfe.NameError
		if !errors.As(e, &ne) {
			t.Fatalf("error %v is not a *wfe.NameError", e)
		}
		refused = append(refused, ne.Name)
		want := "outside this server's name policy (allowed: *.team.test, 10.1.0.0/16)"
		if ne.Name == "example.com" {
			want = "root's name constraints" // the root's refusal is said first
		}
		if !strings.Contains(ne.Err.Error(), want) {
			t.Errorf("%s refused for %q, want %q", ne.Name, ne.Err, want)
		}
	}
	if !slices.Equal(refused, []string{"other.test", "example.com", "10.2.0.1"}) {
		t.Fatalf("refused %v, want other.test, example.com and 10.2.0.1", refused)
	}
}

// TestIssuePolicy checks that Issue holds an order to the policy even when CheckNames
// was not asked (an order made before the server's policy narrowed).
func TestIssuePolicy(t *testing.T) {
	p, err := ParsePolicy([]string{"*.team.test"})
	if err != nil {
		t.Fatal(err)
	}
	is := New(newTestCA(t)).WithPolicy(p)
	nb := time.Now().Add(-time.Minute)
	_, err = is.Issue(context.Background(), wfe.IssueRequest{CSR: newCSR(t, []string{"other.test"}, nil), DNSNames: []string{"other.test"},
		NotBefore: nb, NotAfter: nb.Add(time.Hour)})
	var prob *wire.Problem
	if !errors.As(err, &prob) || prob.Type != wire.ErrorNS+"rejectedIdentifier" || !strings.Contains(prob.Detail, "other.test") || !strings.Contains(prob.Detail, "*.team.test") {
		t.Fatalf("Issue outside the policy = %v, want rejectedIdentifier naming other.test and *.team.test", err)
	}
	chain, err := is.Issue(context.Background(), wfe.IssueRequest{CSR: newCSR(t, []string{"a.team.test"}, []net.IP{}), DNSNames: []string{"a.team.test"},
		NotBefore: nb, NotAfter: nb.Add(time.Hour)})
	if err != nil || len(chain) != 2 {
		t.Fatalf("Issue inside the policy = %d certificates, %v", len(chain), err)
	}
}
