package wfe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/devca/devca/ca/acme/jws"
	"github.com/devca/devca/ca/acme/wire"
)

// Rate is a token bucket: N events per Per, with up to Burst of them at once (0 means N).
// A Rate with N or Per zero is no limit.
type Rate struct {
	N     int
	Per   time.Duration
	Burst int
}

// Off reports whether r is no limit.
func (r Rate) Off() bool { return r.N <= 0 || r.Per <= 0 }

func (r Rate) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return r.N
}

// String says "300/h", "50/s,burst=100" or "0" (no limit), as devca acme's flags take it.
func (r Rate) String() string {
	if r.Off() {
		return "0"
	}
	s := strconv.Itoa(r.N) + "/" + unitName(r.Per)
	if r.Burst > 0 && r.Burst != r.N {
		s += ",burst=" + strconv.Itoa(r.Burst)
	}
	return s
}

func unitName(d time.Duration) string {
	switch d {
	case time.Second:
		return "s"
	case time.Minute:
		return "m"
	case time.Hour:
		return "h"
	case 24 * time.Hour:
		return "d"
	}
	return d.String()
}

// describe says the limit in words, for problem details.
func (r Rate) describe() string {
	units := map[time.Duration]string{time.Second: "second", time.Minute: "minute", time.Hour: "hour", 24 * time.Hour: "day"}
	per, ok := units[r.Per]
	if !ok {
		per = r.Per.String()
	}
	s := fmt.Sprintf("%d per %s", r.N, per)
	if r.burst() != r.N {
		s += fmt.Sprintf(", %d at once", r.burst())
	}
	return s
}

// RateLimits are the front end's rate limits. Each instance counts on its own, in memory:
// several servers on one store each allow the full rate.
type RateLimits struct {
	// OrdersPerAccount bounds the new orders of one account.
	OrdersPerAccount Rate
	// AccountsPerAddress bounds the accounts created from one client address (an IPv6
	// address counts by its /64).
	AccountsPerAddress Rate
	// RequestsPerAddress bounds all requests from one client address, whatever they are.
	RequestsPerAddress Rate
}

// DefaultRateLimits are devca acme's limits: generous enough for a team's clusters and
// CI, low enough that a runaway client loop is stopped within a second.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		OrdersPerAccount:   Rate{N: 300, Per: time.Hour},
		AccountsPerAddress: Rate{N: 50, Per: time.Hour},
		RequestsPerAddress: Rate{N: 50, Per: time.Second, Burst: 100},
	}
}

// defaultMaxValidations is [Config.MaxValidations]'s default.
const defaultMaxValidations = 32

// limiter is a set of token buckets of one [Rate], one per key. Buckets that have
// refilled are forgotten, so that it holds only the keys of the last Per or so.
type limiter struct {
	rate      Rate
	now       func() time.Time
	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was counted
}

// sweepEvery is how often a limiter forgets its full buckets.
const sweepEvery = time.Minute

func newLimiter(rate Rate, now func() time.Time) *limiter {
	if rate.Off() {
		return nil
	}
	return &limiter{rate: rate, now: now, buckets: map[string]*bucket{}}
}

// interval is the time one token takes to come back.
func (l *limiter) interval() time.Duration { return l.rate.Per / time.Duration(l.rate.N) }

// refill brings b up to now and returns it.
func (l *limiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = math.Min(float64(l.rate.burst()), b.tokens+float64(elapsed)/float64(l.interval()))
		b.at = now
	}
}

// take takes a token from key's bucket. When there is none it takes nothing and says how
// long until there is one. A nil limiter always allows.
func (l *limiter) take(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepEvery {
		for k, b := range l.buckets {
			if l.refill(b, now); b.tokens >= float64(l.rate.burst()) {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.rate.burst()), at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(math.Ceil((1 - b.tokens) * float64(l.interval())))
}

// give returns a token taken for an event that did not happen.
func (l *limiter) give(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.tokens = math.Min(float64(l.rate.burst()), b.tokens+1)
	}
}

// limits are the front end's limiters.
type limits struct {
	orders, accounts, requests *limiter
	validations                chan struct{} // a slot per running validation
}

func newLimits(cfg Config) *limits {
	l := &limits{validations: make(chan struct{}, cfg.MaxValidations)}
	if r := cfg.RateLimits; r != nil {
		l.orders = newLimiter(r.OrdersPerAccount, cfg.Now)
		l.accounts = newLimiter(r.AccountsPerAddress, cfg.Now)
		l.requests = newLimiter(r.RequestsPerAddress, cfg.Now)
	}
	return l
}

// clientAddress is the key of a request's address: the IP address, or its /64 for IPv6,
// where one host commonly holds a whole /64.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// rateLimited is the rateLimited problem for a limit, with the Retry-After header set.
func rateLimited(rw http.ResponseWriter, wait time.Duration, format string, args ...any) *wire.Problem {
	secs := max(1, int((wait+time.Second-1)/time.Second))
	rw.Header().Set("Retry-After", strconv.Itoa(secs))
	return wire.RateLimitedProblem("%s; retry after %ds", fmt.Sprintf(format, args...), secs)
}

// limitRequest answers a request over its address's request rate, and reports whether
// it did. The answer is cheap, as a flood of them should be: it carries no nonce (a
// client gets one when it comes back) and touches no store.
func (w *WFE) limitRequest(rw http.ResponseWriter, hr *http.Request) bool {
	addr := clientAddress(hr)
	ok, wait := w.limits.requests.take(addr)
	if ok {
		return false
	}
	p := rateLimited(rw, wait, "too many requests from %s: the limit is %s", addr, w.limits.requests.rate.describe())
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(p)
	rw.Header().Set("Content-Type", wire.ProblemContentType)
	rw.Header().Add("Link", link(w.url(pathDirectory), "index"))
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(p.Status)
	_, _ = rw.Write(buf.Bytes())
	return true
}

// limitCreation takes a token for the account or order a verified request may create.
// Its undo gives the token back; the pipeline calls it when nothing was created (the
// handler failed, or newAccount found the key's existing account).
func (w *WFE) limitCreation(rw http.ResponseWriter, hr *http.Request, r *request) (undo func(), err error) {
	var l *limiter
	var key, what string
	switch hr.Pattern {
	case pathNewOrder:
		l, key, what = w.limits.orders, r.account.ID, "new orders for account "+w.accountURL(r.account.ID)
	case pathNewAccount:
		key = clientAddress(hr)
		l, what = w.limits.accounts, "new accounts from "+key
	default:
		return nil, nil
	}
	if l == nil {
		return nil, nil
	}
	if ok, wait := l.take(key); !ok {
		if hr.Pattern == pathNewAccount && w.hasAccount(hr.Context(), r) {
			return nil, nil // looking up one's account creates nothing
		}
		return nil, rateLimited(rw, wait, "too many %s: the limit is %s", what, l.rate.describe())
	}
	return func() { l.give(key) }, nil
}

// hasAccount reports whether a newAccount request's key has an account already.
func (w *WFE) hasAccount(ctx context.Context, r *request) bool {
	tp, err := jws.Thumbprint(r.key)
	if err != nil {
		return false
	}
	resp, err := w.existingAccount(ctx, tp)
	return err == nil && resp != nil
}

// created reports whether a handler's outcome created what limitCreation counted.
func created(resp *response, err error) bool {
	return err == nil && resp != nil && resp.status == http.StatusCreated
}

// validate runs the Validator in one of the validation slots, waiting for a free one,
// and within [Config.ValidationTimeout] from when it starts, even if the Validator
// overruns its context. ran is false when the server stopped before it ran.
func (w *WFE) validate(kind, identifier, token, keyAuth string) (ran bool, verr error) {
	select {
	case w.limits.validations <- struct{}{}:
	case <-w.ctx.Done():
		return false, nil
	}
	defer func() { <-w.limits.validations }()
	ctx, cancel := context.WithTimeout(w.ctx, w.cfg.ValidationTimeout)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- w.cfg.Validator.Validate(ctx, kind, identifier, token, keyAuth) }()
	select {
	case err := <-res:
		return true, err
	case <-ctx.Done():
		select {
		case err := <-res:
			return true, err
		default:
			// A Validator that ignores its context leaves its goroutine behind, not
			// its slot.
			return true, ctx.Err()
		}
	}
}
