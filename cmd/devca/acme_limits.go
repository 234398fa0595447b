package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca/acme/wfe"
)

// maxACMEValidations bounds --max-validations: each validation holds a
// goroutine and at most a few connections.
const maxACMEValidations = 10000

// acmeLimitFlags are devca acme's limits, with wfe.DefaultRateLimits as
// their defaults.
func acmeLimitFlags() []cli.Flag {
	d := wfe.DefaultRateLimits()
	return []cli.Flag{
		&cli.StringFlag{Name: "rate-orders", Usage: "allow each account `N/UNIT` new orders (UNIT s, m, h or d; ,burst=B allows B at once; 0 for no limit)", Value: d.OrdersPerAccount.String()},
		&cli.StringFlag{Name: "rate-accounts", Usage: "allow each client address `N/UNIT` new accounts (an IPv6 address counts by its /64)", Value: d.AccountsPerAddress.String()},
		&cli.StringFlag{Name: "rate-requests", Usage: "allow each client address `N/UNIT` requests of any kind", Value: d.RequestsPerAddress.String()},
		&cli.IntFlag{Name: "max-validations", Usage: "run at most `N` challenge validations at once; the others wait their turn", Value: 32},
	}
}

// parseACMELimits reads the limit flags.
func parseACMELimits(c *cli.Context) (*wfe.RateLimits, int, error) {
	var l wfe.RateLimits
	for _, f := range []struct {
		name string
		rate *wfe.Rate
	}{{"rate-orders", &l.OrdersPerAccount}, {"rate-accounts", &l.AccountsPerAddress}, {"rate-requests", &l.RequestsPerAddress}} {
		r, err := parseRate(c.String(f.name))
		if err != nil {
			return nil, 0, &usageError{err: withHints(fmt.Errorf("invalid --%s %q: %w", f.name, c.String(f.name), err),
				"write N/UNIT with UNIT s, m, h or d, such as 300/h or 50/s,burst=100; 0 turns the limit off")}
		}
		*f.rate = r
	}
	n := c.Int("max-validations")
	if n < 1 || n > maxACMEValidations {
		return nil, 0, usageErrorf("invalid --max-validations %d: use 1 to %d", n, maxACMEValidations)
	}
	return &l, n, nil
}

// parseRate reads N/UNIT[,burst=B], or 0 for no limit.
func parseRate(s string) (wfe.Rate, error) {
	if s == "0" {
		return wfe.Rate{}, nil
	}
	spec, burst, hasBurst := strings.Cut(s, ",")
	num, unit, ok := strings.Cut(spec, "/")
	if !ok {
		return wfe.Rate{}, fmt.Errorf("no /UNIT")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strconv.Itoa(n) != num {
		return wfe.Rate{}, fmt.Errorf("%q is not a whole number", num)
	}
	per, ok := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[unit]
	if !ok {
		return wfe.Rate{}, fmt.Errorf("unknown unit %q", unit)
	}
	r := wfe.Rate{N: n, Per: per}
	if hasBurst {
		b, ok := strings.CutPrefix(burst, "burst=")
		if r.Burst, err = strconv.Atoi(b); !ok || err != nil || r.Burst < 1 || strconv.Itoa(r.Burst) != b {
			return wfe.Rate{}, fmt.Errorf("%q is not burst=B with B a whole number from 1", burst)
		}
	}
	if n == 0 {
		return wfe.Rate{}, nil
	}
	const most = 1_000_000
	if n > most || r.Burst > most {
		return wfe.Rate{}, fmt.Errorf("at most %d", most)
	}
	return r, nil
}
