package wfe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devca/devca/ca/acme/jws"
	"github.com/devca/devca/ca/acme/wire"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLimiter(t *testing.T) {
	type step struct {
		advance time.Duration
		key     string
		ok      bool
		wait    time.Duration // when refused
	}
	for _, tc := range []struct {
		name  string
		rate  Rate
		steps []step
	}{
		{"burst of N, then one per Per/N", Rate{N: 3, Per: time.Hour}, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, 20 * time.Minute},
			{10 * time.Minute, "a", false, 10 * time.Minute},
			{10 * time.Minute, "a", true, 0},
			{0, "a", false, 20 * time.Minute},
		}},
		{"keys count apart", Rate{N: 1, Per: time.Hour}, []step{
			{0, "a", true, 0}, {0, "a", false, time.Hour}, {0, "b", true, 0}, {0, "b", false, time.Hour},
		}},
		{"burst above the rate", Rate{N: 2, Per: time.Second, Burst: 4}, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, 500 * time.Millisecond},
			{time.Second, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 500 * time.Millisecond},
		}},
		{"a long pause refills to the burst only", Rate{N: 2, Per: time.Hour}, []step{
			{0, "a", true, 0}, {10 * time.Hour, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 30 * time.Minute},
		}},
		{"off", Rate{}, []step{{0, "a", true, 0}, {0, "a", true, 0}}},
		{"off without Per", Rate{N: 1}, []step{{0, "a", true, 0}, {0, "a", true, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l := newLimiter(tc.rate, clock.Now)
			for i, s := range tc.steps {
				clock.advance(s.advance)
				ok, wait := l.take(s.key)
				if ok != s.ok || wait != s.wait {
					t.Fatalf("step %d (%+v): take = %v, %v", i, s, ok, wait)
				}
			}
		})
	}
}

func TestLimiterGiveAndForget(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(Rate{N: 1, Per: time.Hour}, clock.Now)
	if ok, _ := l.take("a"); !ok {
		t.Fatal("first take refused")
	}
	l.give("a")
	if ok, _ := l.take("a"); !ok {
		t.Fatal("a token given back was not taken again")
	}
	l.give("a")
	l.give("a") // never above the burst
	l.take("a")
	if ok, _ := l.take("a"); ok {
		t.Fatal("giving twice raised the bucket above its burst")
	}
	l.take("b")
	clock.advance(time.Hour + sweepEvery)
	l.take("c")
	if _, ok := l.buckets["a"]; ok || len(l.buckets) != 1 {
		t.Fatalf("refilled buckets are kept: %v", l.buckets)
	}
}

func TestRateString(t *testing.T) {
	for _, tc := range []struct {
		rate       Rate
		str, words string
	}{
		{Rate{N: 300, Per: time.Hour}, "300/h", "300 per hour"},
		{Rate{N: 50, Per: time.Second, Burst: 100}, "50/s,burst=100", "50 per second, 100 at once"},
		{Rate{N: 5, Per: time.Minute, Burst: 5}, "5/m", "5 per minute"},
		{Rate{}, "0", ""},
	} {
		if got := tc.rate.String(); got != tc.str {
			t.Errorf("%+v.String() = %q, want %q", tc.rate, got, tc.str)
		}
		if got := tc.rate.describe(); tc.words != "" && got != tc.words {
			t.Errorf("%+v.describe() = %q, want %q", tc.rate, got, tc.words)
		}
	}
}

func TestClientAddress(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:443":        "192.0.2.1",
		"[2001:db8::1]:443":    "2001:db8::/64",
		"[2001:db8::ffff:1]:9": "2001:db8::/64",
		"[2001:db8:0:1::1]:9":  "2001:db8:0:1::/64",
		"[::ffff:192.0.2.1]:5": "192.0.2.1",
		"[fe80::1%eth0]:5":     "fe80::/64",
		"not an address":       "not an address",
		"@unix-socket":         "@unix-socket",
		"192.0.2.1":            "192.0.2.1",
	} {
		if got := clientAddress(&http.Request{RemoteAddr: in}); got != want {
			t.Errorf("clientAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// checkRateLimited checks a rateLimited answer with its Retry-After.
func checkRateLimited(t *testing.T, resp *http.Response, body []byte, retryAfter, detail string) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d %s, want 429", resp.StatusCode, body)
	}
	p := decodeProblem(t, body)
	if p.Type != wire.ErrorNS+"rateLimited" || !strings.Contains(p.Detail, detail) {
		t.Errorf("problem %+v, want rateLimited saying %q", p, detail)
	}
	if got := resp.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
}

func orderCount(t *testing.T, rc *rawClient) int {
	t.Helper()
	_, b := rc.post(rc.kid+"/orders", "", http.StatusOK)
	var list struct{ Orders []string }
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	return len(list.Orders)
}

func TestRateLimitOrders(t *testing.T) {
	clock := newFakeClock()
	ts := newTestServerWith(t, func(c *Config) {
		c.Now = clock.Now
		c.RateLimits = &RateLimits{OrdersPerAccount: Rate{N: 2, Per: time.Hour}}
	})
	rc := newRawClient(t, ts)
	order := func(name string) string { return `{"identifiers":[{"type":"dns","value":"` + name + `"}]}` }
	// A refused order counts for nothing.
	rc.post(ts.URL+pathNewOrder, order("a.forbidden.test"), http.StatusBadRequest)
	rc.post(ts.URL+pathNewOrder, order("a.test"), http.StatusCreated)
	rc.post(ts.URL+pathNewOrder, order("b.test"), http.StatusCreated)
	resp, b := rc.send(ts.URL+pathNewOrder, rc.sign(ts.URL+pathNewOrder, order("c.test"), rc.nonce()), jws.ContentType)
	checkRateLimited(t, resp, b, "1800", "too many new orders for account "+rc.kid+": the limit is 2 per hour; retry after 1800s")
	if resp.Header.Get("Replay-Nonce") == "" {
		t.Error("a rateLimited order answer has no Replay-Nonce")
	}
	if n := orderCount(t, rc); n != 2 {
		t.Errorf("%d orders after the limited one, want 2", n)
	}
	// Another account has its own bucket.
	other := newRawClient(t, ts)
	other.post(ts.URL+pathNewOrder, order("d.test"), http.StatusCreated)
	clock.advance(30 * time.Minute)
	rc.post(ts.URL+pathNewOrder, order("c.test"), http.StatusCreated)
	if n := orderCount(t, rc); n != 3 {
		t.Errorf("%d orders, want 3", n)
	}
}

func TestRateLimitAccounts(t *testing.T) {
	clock := newFakeClock()
	ts := newTestServerWith(t, func(c *Config) {
		c.Now = clock.Now
		c.RateLimits = &RateLimits{AccountsPerAddress: Rate{N: 1, Per: time.Hour}}
	})
	keyless := func() *rawClient {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &rawClient{t: t, ts: ts, key: key}
	}
	// A failed creation counts for nothing.
	first := keyless()
	first.post(ts.URL+pathNewAccount, `{"contact":["tel:+1"]}`, http.StatusBadRequest)
	first.post(ts.URL+pathNewAccount, `{}`, http.StatusCreated)
	second := keyless()
	resp, b := second.send(ts.URL+pathNewAccount, second.sign(ts.URL+pathNewAccount, `{}`, second.nonce()), jws.ContentType)
	checkRateLimited(t, resp, b, "3600", "too many new accounts from 127.0.0.1: the limit is 1 per hour")
	// Looking up an existing account is no creation.
	first.post(ts.URL+pathNewAccount, `{}`, http.StatusOK)
	clock.advance(time.Hour)
	// The limited request created nothing.
	second.post(ts.URL+pathNewAccount, `{"onlyReturnExisting":true}`, http.StatusBadRequest)
	second.post(ts.URL+pathNewAccount, `{}`, http.StatusCreated)
}

func TestRateLimitRequests(t *testing.T) {
	clock := newFakeClock()
	ts := newTestServerWith(t, func(c *Config) {
		c.Now = clock.Now
		c.RateLimits = &RateLimits{RequestsPerAddress: Rate{N: 1, Per: time.Second, Burst: 2}}
	})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{t: t, ts: ts, key: key}
	body := rc.sign(ts.URL+pathNewAccount, `{}`, rc.nonce()) // the first request
	dir, err := ts.Client().Get(ts.URL + pathDirectory)      // the second
	if err != nil {
		t.Fatal(err)
	}
	dir.Body.Close()
	if dir.StatusCode != http.StatusOK {
		t.Fatalf("directory: %d", dir.StatusCode)
	}
	resp, b := rc.send(ts.URL+pathNewAccount, body, jws.ContentType)
	checkRateLimited(t, resp, b, "1", "too many requests from 127.0.0.1: the limit is 1 per second, 2 at once")
	if resp.Header.Get("Replay-Nonce") != "" {
		t.Error("a request over the address's rate got a nonce")
	}
	resp, b = rc.send(ts.URL+pathDirectory, nil, "")
	checkRateLimited(t, resp, b, "1", "too many requests")
	clock.advance(time.Second)
	// The limited request spent no nonce and created nothing: sent again, it creates
	// the account.
	resp, b = rc.send(ts.URL+pathNewAccount, body, jws.ContentType)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("new account after the wait: %d %s", resp.StatusCode, b)
	}
}

// TestMaxIdentifiers checks the bound on an order's identifiers.
func TestMaxIdentifiers(t *testing.T) {
	ts := newTestServer(t)
	rc := newRawClient(t, ts)
	ids := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf(`{"type":"dns","value":"n%d.test"}`, i))
		}
		return `{"identifiers":[` + strings.Join(s, ",") + `]}`
	}
	_, b := rc.post(ts.URL+pathNewOrder, ids(maxIdentifiers+1), http.StatusBadRequest)
	if p := decodeProblem(t, b); p.Type != wire.ErrorNS+"rejectedIdentifier" || !strings.Contains(p.Detail, "at most 100") {
		t.Errorf("101 identifiers: %+v", p)
	}
	rc.post(ts.URL+pathNewOrder, ids(maxIdentifiers), http.StatusCreated)
}

// heldValidator blocks each validation until released, counting how many run at once.
type heldValidator struct {
	mu            sync.Mutex
	running, peak int
	calls         int
	release       chan struct{}
	ignoreContext bool
}

func (v *heldValidator) Validate(ctx context.Context, _, _, _, _ string) error {
	v.mu.Lock()
	v.running++
	v.calls++
	v.peak = max(v.peak, v.running)
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.running--
		v.mu.Unlock()
	}()
	if v.ignoreContext {
		<-v.release
		return nil
	}
	select {
	case <-v.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *heldValidator) counts() (calls, peak int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls, v.peak
}

// answerAll orders names, answers each authorization's http-01 challenge at once and
// returns the authorization URLs once every answer came back.
func answerAll(t *testing.T, rc *rawClient, names ...string) []string {
	t.Helper()
	var ids []string
	for _, n := range names {
		ids = append(ids, `{"type":"dns","value":"`+n+`"}`)
	}
	_, b := rc.post(rc.ts.URL+pathNewOrder, `{"identifiers":[`+strings.Join(ids, ",")+`]}`, http.StatusCreated)
	var o wire.Order
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, azURL := range o.Authorizations {
		_, b := rc.post(azURL, "", http.StatusOK)
		var az wire.Authorization
		if err := json.Unmarshal(b, &az); err != nil {
			t.Fatal(err)
		}
		for _, ch := range az.Challenges {
			if ch.Type == "http-01" {
				body := rc.sign(ch.URL, `{}`, rc.nonce())
				wg.Go(func() {
					if resp, b := rc.send(ch.URL, body, jws.ContentType); resp.StatusCode != http.StatusOK {
						t.Errorf("answering %s: %d %s", ch.URL, resp.StatusCode, b)
					}
				})
			}
		}
	}
	wg.Wait()
	return o.Authorizations
}

func authzStatus(t *testing.T, rc *rawClient, url string) *wire.Authorization {
	t.Helper()
	_, b := rc.post(url, "", http.StatusOK)
	var az wire.Authorization
	if err := json.Unmarshal(b, &az); err != nil {
		t.Fatal(err)
	}
	return &az
}

// waitAuthz polls an authorization until it is no longer pending.
func waitAuthz(t *testing.T, rc *rawClient, url string) *wire.Authorization {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		az := authzStatus(t, rc, url)
		if az.Status != wire.StatusPending || time.Now().After(deadline) {
			return az
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestValidationSlots runs N+k validations with N slots: only N run at once, the others
// wait processing, and all complete.
func TestValidationSlots(t *testing.T) {
	const slots, extra = 2, 3
	v := &heldValidator{release: make(chan struct{})}
	ts := newTestServerWith(t, func(c *Config) {
		c.Validator = v
		c.MaxValidations = slots
	})
	rc := newRawClient(t, ts)
	var names []string
	for i := range slots + extra {
		names = append(names, fmt.Sprintf("v%d.test", i))
	}
	// Every answer is back (after challengeWait), so every validation that could
	// start has started.
	authzs := answerAll(t, rc, names...)
	if calls, peak := v.counts(); calls != slots || peak != slots {
		t.Fatalf("%d validations started, %d at once, want %d", calls, peak, slots)
	}
	for _, u := range authzs {
		if az := authzStatus(t, rc, u); az.Status != wire.StatusPending || az.Challenges[0].Status != wire.StatusProcessing && az.Challenges[1].Status != wire.StatusProcessing {
			t.Errorf("authorization %s is %s, want pending with its challenge processing", u, az.Status)
		}
	}
	for range slots + extra {
		v.release <- struct{}{}
	}
	for _, u := range authzs {
		if az := waitAuthz(t, rc, u); az.Status != wire.StatusValid {
			t.Errorf("authorization %s is %s, want valid", u, az.Status)
		}
	}
	if calls, peak := v.counts(); calls != slots+extra || peak != slots {
		t.Errorf("%d validations, %d at once, want %d and %d", calls, peak, slots+extra, slots)
	}
}

// TestValidationTimeoutFreesSlot checks that a validation ends at ValidationTimeout even
// when the Validator ignores its context, and gives its slot to the next one.
func TestValidationTimeoutFreesSlot(t *testing.T) {
	v := &heldValidator{release: make(chan struct{}), ignoreContext: true}
	t.Cleanup(func() { close(v.release) })
	ts := newTestServerWith(t, func(c *Config) {
		c.Validator = v
		c.MaxValidations = 1
		c.ValidationTimeout = 300 * time.Millisecond
	})
	rc := newRawClient(t, ts)
	for _, u := range answerAll(t, rc, "t1.test", "t2.test") {
		az := waitAuthz(t, rc, u)
		if az.Status != wire.StatusInvalid {
			t.Fatalf("authorization %s is %s, want invalid", u, az.Status)
		}
		for _, ch := range az.Challenges {
			if ch.Type == "http-01" && (ch.Error == nil || ch.Error.Type != wire.ErrorNS+"connection" || !strings.Contains(ch.Error.Detail, "timed out after 300ms")) {
				t.Errorf("challenge error %+v, want a connection problem saying it timed out", ch.Error)
			}
		}
	}
	if calls, _ := v.counts(); calls != 2 {
		t.Errorf("%d validations ran, want 2", calls)
	}
}

// TestMaxContacts checks the bound on an account's contacts.
func TestMaxContacts(t *testing.T) {
	ts := newTestServer(t)
	rc := newRawClient(t, ts)
	contacts := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf(`"mailto:c%d@example.test"`, i))
		}
		return `{"contact":[` + strings.Join(s, ",") + `]}`
	}
	_, b := rc.post(rc.kid, contacts(maxContacts+1), http.StatusBadRequest)
	if p := decodeProblem(t, b); p.Type != wire.ErrorNS+"invalidContact" || !strings.Contains(p.Detail, "at most 10") {
		t.Errorf("11 contacts: %+v", p)
	}
	rc.post(rc.kid, contacts(maxContacts), http.StatusOK)
}
