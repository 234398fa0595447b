package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/ca/acme/store/pgstore/pgtest"
)

// sharedURL is the --external-url of both servers of a pair: clients see one server,
// as behind a load balancer, and the test's transport picks the instance.
const sharedURL = "https://acme.test:14000"

// TestACMEPostgres runs two devca acme processes on one PostgreSQL database (a cluster
// of the test's own, shared by the subtests) as one server.
func TestACMEPostgres(t *testing.T) {
	cluster := pgtest.Start(t)
	t.Run("alternating", func(t *testing.T) { testACMEAlternating(t, cluster) })
	t.Run("finalize race", func(t *testing.T) { testACMEFinalizeRace(t, cluster) })
	t.Run("sigkill", func(t *testing.T) { testACMEKillOne(t, cluster) })
	t.Run("newer schema", func(t *testing.T) { testACMENewerSchema(t, cluster) })
}

// acmePair is two devca acme processes on one CA home and one database.
type acmePair struct {
	home  string
	resp  *http01Responder
	procs []*serveProcess
	addrs []string // where each listens
}

func startACMEPair(t *testing.T, db string) *acmePair {
	t.Helper()
	pair := &acmePair{home: t.TempDir(), resp: startHTTP01Responder(t)}
	// One after the other: the first makes the CA, the second finds it.
	for range 2 {
		p := startACME(t, pair.home, "--db", db, "--external-url", sharedURL, "--http-port", strconv.Itoa(pair.resp.port))
		p.waitStderr(t, "devca: listening on ")
		rest := strings.SplitN(p.stderr.String(), "devca: listening on ", 2)[1]
		addr := strings.Fields(rest)[0]
		pair.procs = append(pair.procs, p)
		pair.addrs = append(pair.addrs, addr)
	}
	if log := pair.procs[0].stderr.String(); !strings.Contains(log, "state in \"postgres://devca@/") {
		t.Errorf("devca acme does not say it keeps its state in PostgreSQL:\n%s", log)
	}
	return pair
}

// alternating sends each request to the next instance in turn, as a round-robin load
// balancer does, and to the other one when an instance refuses the connection (a
// request refused at connect was never sent, so it is safe to send again).
type alternating struct {
	base  http.RoundTripper
	addrs []string

	mu   sync.Mutex
	next int
	sent []int // requests answered, per instance
}

func (a *alternating) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	first := a.next
	a.next = (a.next + 1) % len(a.addrs)
	a.mu.Unlock()
	var err error
	for try := range a.addrs {
		i := (first + try) % len(a.addrs)
		r := req.Clone(req.Context())
		r.URL.Host, r.Host = a.addrs[i], req.URL.Host
		if try > 0 && req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		var resp *http.Response
		resp, err = a.base.RoundTrip(r)
		if err == nil {
			a.mu.Lock()
			a.sent[i]++
			a.mu.Unlock()
			return resp, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, err
		}
	}
	return nil, err
}

// client returns an ACME client with a new account key whose every request goes to the
// next instance of the pair.
func (pair *acmePair) client(t *testing.T) (*acme.Client, *alternating) {
	t.Helper()
	httpClient, _ := rootClient(t, pair.home)
	tr := &alternating{base: httpClient.Transport, addrs: pair.addrs, sent: make([]int, len(pair.addrs))}
	httpClient.Transport = tr
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &acme.Client{Key: key, DirectoryURL: sharedURL + "/directory", HTTPClient: httpClient}, tr
}

// pinned returns a client with c's account whose requests all go to instance i.
func (pair *acmePair) pinned(t *testing.T, c *acme.Client, i int) *acme.Client {
	t.Helper()
	httpClient, _ := rootClient(t, pair.home)
	httpClient.Transport = &alternating{base: httpClient.Transport, addrs: pair.addrs[i : i+1], sent: make([]int, 1)}
	return &acme.Client{Key: c.Key, KID: c.KID, DirectoryURL: c.DirectoryURL, HTTPClient: httpClient}
}

// authorize creates an order for names and answers its http-01 challenges, returning
// the order once ready.
func authorize(ctx context.Context, c *acme.Client, resp *http01Responder, names ...string) (*acme.Order, error) {
	order, err := c.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		return nil, fmt.Errorf("AuthorizeOrder: %w", err)
	}
	for _, u := range order.AuthzURLs {
		z, err := c.GetAuthorization(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("GetAuthorization: %w", err)
		}
		var ch *acme.Challenge
		for _, x := range z.Challenges {
			if x.Type == "http-01" {
				ch = x
			}
		}
		if ch == nil {
			return nil, fmt.Errorf("no http-01 challenge in %+v", z.Challenges)
		}
		keyAuth, err := c.HTTP01ChallengeResponse(ch.Token)
		if err != nil {
			return nil, err
		}
		resp.set(ch.Token, keyAuth)
		if _, err := c.Accept(ctx, ch); err != nil {
			return nil, fmt.Errorf("Accept: %w", err)
		}
		if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
			return nil, fmt.Errorf("WaitAuthorization: %w", err)
		}
	}
	if order, err = c.WaitOrder(ctx, order.URI); err != nil {
		return nil, fmt.Errorf("WaitOrder: %w", err)
	}
	return order, nil
}

func csrFor(t *testing.T, names ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// obtain runs a whole order for names and returns the leaf.
func obtain(ctx context.Context, t *testing.T, c *acme.Client, resp *http01Responder, names ...string) (*x509.Certificate, error) {
	order, err := authorize(ctx, c, resp, names...)
	if err != nil {
		return nil, err
	}
	chain, _, err := c.CreateOrderCert(ctx, order.FinalizeURL, csrFor(t, names...), true)
	if err != nil {
		return nil, fmt.Errorf("CreateOrderCert: %w", err)
	}
	return x509.ParseCertificate(chain[0])
}

// recordCount returns how many certificates the CA home's record holds per first name.
func recordCount(t *testing.T, home string) map[string]int {
	t.Helper()
	auth, err := ca.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := auth.Record()
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range entries {
		if len(e.Names) > 0 {
			n[e.Names[0]]++
		}
	}
	return n
}

// testACMEAlternating obtains certificates with clients that switch instance on every
// request: every nonce a client sends came from the other instance, and every order is
// created on one and finalized on the other.
func testACMEAlternating(t *testing.T, cluster *pgtest.Cluster) {
	pair := startACMEPair(t, cluster.NewDatabase(t))
	_, roots := rootClient(t, pair.home)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			c, tr := pair.client(t)
			if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
				t.Errorf("client %d: Register: %v", i, err)
				return
			}
			for j := range 2 {
				name := fmt.Sprintf("alt-%d-%d.test", i, j)
				leaf, err := obtain(ctx, t, c, pair.resp, name)
				if err != nil {
					t.Errorf("client %d: %s: %v", i, name, err)
					return
				}
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
					t.Errorf("client %d: %v", i, err)
				}
			}
			tr.mu.Lock()
			defer tr.mu.Unlock()
			if tr.sent[0] == 0 || tr.sent[0]-tr.sent[1] > 1 || tr.sent[1]-tr.sent[0] > 1 {
				t.Errorf("client %d: requests per instance %v, want them alternating", i, tr.sent)
			}
		})
	}
	wg.Wait()
	for name, n := range recordCount(t, pair.home) {
		if strings.HasPrefix(name, "alt-") && n != 1 {
			t.Errorf("%s was issued %d times", name, n)
		}
	}
	for _, p := range pair.procs {
		p.stop(t)
	}
}

// testACMEFinalizeRace finalizes each ready order on both instances at once: one
// finalize signs, the other is refused, and the CA signs once.
func testACMEFinalizeRace(t *testing.T, cluster *pgtest.Cluster) {
	pair := startACMEPair(t, cluster.NewDatabase(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, _ := pair.client(t)
	if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatal(err)
	}
	ends := []*acme.Client{pair.pinned(t, c, 0), pair.pinned(t, c, 1)}
	const rounds = 10
	for round := range rounds {
		name := fmt.Sprintf("race-%d.test", round)
		order, err := authorize(ctx, c, pair.resp, name)
		if err != nil {
			t.Fatal(err)
		}
		csr := csrFor(t, name)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, end := range ends {
			wg.Go(func() {
				<-start
				_, _, errs[i] = end.CreateOrderCert(ctx, order.FinalizeURL, csr, false)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			var ae *acme.Error
			switch {
			case err == nil:
				ok++
			case !errors.As(err, &ae) || ae.ProblemType != "urn:ietf:params:acme:error:orderNotReady":
				t.Errorf("round %d: a losing finalize got %v, want orderNotReady", round, err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d of two concurrent finalizes succeeded (%v)", round, ok, errs)
		}
	}
	counts := recordCount(t, pair.home)
	for round := range rounds {
		if n := counts[fmt.Sprintf("race-%d.test", round)]; n != 1 {
			t.Errorf("race-%d.test was signed %d times, want once", round, n)
		}
	}
	for _, p := range pair.procs {
		p.stop(t)
	}
}

// testACMEKillOne SIGKILLs one instance while clients obtain certificates through both:
// the clients finish on the other. A request that was under way on the killed instance
// fails, and the client starts that certificate again with a new order, as a real
// client retries; every name is signed at most once.
func testACMEKillOne(t *testing.T, cluster *pgtest.Cluster) {
	pair := startACMEPair(t, cluster.NewDatabase(t))
	_, roots := rootClient(t, pair.home)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const clients, certsEach = 6, 4
	var issued, retries atomic.Int32
	killAt := int32(clients * certsEach / 3)
	killed := make(chan struct{})
	var killOnce sync.Once
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			c, _ := pair.client(t)
			for {
				_, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS)
				if err == nil || errors.Is(err, acme.ErrAccountAlreadyExists) {
					break
				}
				if ctx.Err() != nil {
					t.Errorf("client %d: Register: %v", i, err)
					return
				}
				retries.Add(1)
			}
			for j := range certsEach {
				for attempt := 0; ; attempt++ {
					name := fmt.Sprintf("kill-%d-%d-%d.test", i, j, attempt)
					actx, acancel := context.WithTimeout(ctx, 30*time.Second)
					leaf, err := obtain(actx, t, c, pair.resp, name)
					acancel()
					if err == nil {
						if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
							t.Errorf("client %d: %v", i, err)
						}
						if issued.Add(1) == killAt {
							killOnce.Do(func() {
								pair.procs[1].cmd.Process.Kill()
								close(killed)
							})
						}
						break
					}
					if ctx.Err() != nil || attempt == 5 {
						t.Errorf("client %d: %s: %v", i, name, err)
						return
					}
					retries.Add(1)
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("the instance was never killed")
	}
	if err := <-pair.procs[1].done; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the second instance exited with %v, want killed", err)
	}
	if got := issued.Load(); got != clients*certsEach {
		t.Errorf("%d certificates obtained, want %d", got, clients*certsEach)
	}
	t.Logf("%d certificates, %d attempts retried after the kill", issued.Load(), retries.Load())
	for name, n := range recordCount(t, pair.home) {
		if strings.HasPrefix(name, "kill-") && n != 1 {
			t.Errorf("%s was signed %d times", name, n)
		}
	}
	pair.procs[0].stop(t)
}

// testACMENewerSchema checks that devca acme refuses a database a newer devca migrated,
// saying both versions and what to do.
func testACMENewerSchema(t *testing.T, cluster *pgtest.Cluster) {
	db := cluster.NewDatabase(t)
	// A first run creates the schema.
	p := startACME(t, t.TempDir(), "--db", db)
	p.stop(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO schema_version (version) VALUES (99)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	home := t.TempDir()
	out, err := devcaCommand(t, home, home, "acme", "--addr", "127.0.0.1:0", "--db", db).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
		t.Fatalf("devca acme on a newer schema: %v, want exit 1\n%s", err, out)
	}
	t.Logf("devca acme on a newer schema:\n%s", out)
	for _, want := range []string{"devca: error: ", "version 99", "newer devca", "devca: hint: run the devca that migrated it"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
}
