package main

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// TestACMERateLimitOrders checks --rate-orders through the binary: the order
// over the limit is refused with rateLimited and a Retry-After saying when to
// come back, and 0 turns the limit off.
func TestACMERateLimitOrders(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	orders := func(p *serveProcess) (*acme.Client, error) {
		c := registeredClient(t, ctx, home, p)
		// x/crypto/acme retries a 429 after Retry-After; here it is to come back.
		c.RetryBackoff = func(int, *http.Request, *http.Response) time.Duration { return 0 }
		if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs("one.test")); err != nil {
			t.Fatalf("first order: %v", err)
		}
		_, err := c.AuthorizeOrder(ctx, acme.DomainIDs("two.test"))
		return c, err
	}

	p := startACME(t, home, "--rate-orders", "2/h")
	c, err := orders(p)
	if err != nil {
		t.Fatalf("second order: %v", err)
	}
	_, err = c.AuthorizeOrder(ctx, acme.DomainIDs("three.test"))
	var ae *acme.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.ProblemType != "urn:ietf:params:acme:error:rateLimited" ||
		!strings.Contains(ae.Detail, "the limit is 2 per hour") {
		t.Fatalf("third order: %v, want a rateLimited problem saying the limit", err)
	}
	if got := ae.Header.Get("Retry-After"); got != "1800" {
		t.Errorf("Retry-After %q, want 1800 (one order back every half hour)", got)
	}
	p.stop(t)

	p = startACME(t, home, "--rate-orders", "0")
	c, err = orders(p)
	if err != nil {
		t.Fatalf("second order with --rate-orders 0: %v", err)
	}
	for i := range 3 {
		if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs("more.test")); err != nil {
			t.Fatalf("order %d with --rate-orders 0: %v", i+3, err)
		}
	}
	p.stop(t)
}

// TestACMELimitFlagUsage checks that a bad limit flag is a usage error that
// says how to write it, before anything is made.
func TestACMELimitFlagUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate-orders", "5/week"}, `invalid --rate-orders "5/week": unknown unit "week"`},
		{[]string{"--rate-accounts", "lots"}, `invalid --rate-accounts "lots": no /UNIT`},
		{[]string{"--rate-requests", "50/s,burst=0"}, `invalid --rate-requests "50/s,burst=0": "burst=0" is not burst=B`},
		{[]string{"--rate-requests", "-1/s"}, `"-1" is not a whole number`},
		{[]string{"--max-validations", "0"}, "invalid --max-validations 0: use 1 to 10000"},
	} {
		home := t.TempDir() + "/home"
		out, err := devcaCommand(t, home, t.TempDir(), append([]string{"acme", "--addr", "127.0.0.1:0"}, tc.args...)...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(string(out), tc.want) {
			t.Errorf("devca acme %v: %v, want exit %d saying %q:\n%s", tc.args, err, exitUsage, tc.want, out)
		}
		if tc.args[0] != "--max-validations" && !strings.Contains(string(out), "such as 300/h or 50/s,burst=100") {
			t.Errorf("devca acme %v gives no example:\n%s", tc.args, out)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]string{
		"300/h": "300/h", "50/s,burst=100": "50/s,burst=100", "0": "0", "0/h": "0", "7/d": "7/d",
		"5/m,burst=5": "5/m", "1/s": "1/s",
	} {
		r, err := parseRate(in)
		if err != nil || r.String() != want {
			t.Errorf("parseRate(%q) = %v, %v, want %s", in, r, err, want)
		}
	}
	for _, in := range []string{"", "h", "/h", "1.5/h", "+3/h", "03/h", "3/hour", "3/h,", "3/h,burst=", "3/h,burst=x", "3/h,b=2", "2000000/s", "1/s,burst=2000000"} {
		if r, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) = %v, want an error", in, r)
		}
	}
}
