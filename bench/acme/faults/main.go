//go:build unix

// Command faults is the load and fault client of bench/acme-load.sh. It
// starts the ACME server instances itself (-server, one per -backend), so
// that it can measure their peak memory and SIGKILL them; CLIENTS
// goroutines, each an ACME account of its own (package acmeflow), obtain
// certificates with http-01 for -duration, every request going to the next
// backend in turn, as a load balancer in front of several instances would
// send it. With -kills N it SIGKILLs a random instance at N random moments
// of the run and restarts it at once; a client whose order fails starts a
// new one (a retry). At the end it stops the servers and checks their state:
// every certificate a client was given is in the store (-bolt FILE, read
// after the servers stop, or -pg URL) as given, its order names it, and no
// order has two certificates; with -ca DIR, it is in the CA's record too.
//
//	faults -dir URL -root FILE -server 'CMD ARGS' -backend ADDR [-server ... -backend ...]
//	       [-clients 50] [-duration 60s] [-kills 0] [-bolt FILE | -pg URL] [-ca DIR] [-log PREFIX]
//
// It prints one line of "key value" pairs: certs, seconds, rate
// (certificates per second), p50_ms and p99_ms (time to obtain one, from the
// first newOrder to the downloaded chain, retries included), errors (failed
// orders, each retried), unfinished (clients whose last order did not end
// with a certificate within -grace of the end), kills, rss_mib (the largest
// peak resident memory of one server process), restart_ms (median time from
// a kill to the restarted instance answering), and with a store: checked,
// lost, twice, unrecorded (given but not in the CA record), stray (CA
// record entries of the run that are in no store record: signed, then cut
// off before the store had them), resumed (issuances the servers resumed
// after a kill). The command lines are split at spaces.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/bench/acme/acmeflow"
	"github.com/devca/devca/ca"
	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/store/boltstore"
	"github.com/devca/devca/ca/acme/store/pgstore"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

type config struct {
	dir, root       string
	servers         list
	backends        list
	clients         int
	duration, grace time.Duration
	kills           int
	seed            uint64
	name, httpAddr  string
	bolt, pg, caDir string
	log             string
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "the ACME directory `URL` clients use")
	flag.StringVar(&c.root, "root", "", "PEM `FILE` of the root the servers' HTTPS certificates chain to (read once they answer)")
	flag.Var(&c.servers, "server", "a server's command line, started and stopped here (repeat for more instances)")
	flag.Var(&c.backends, "backend", "the `HOST:PORT` the matching -server listens on")
	flag.IntVar(&c.clients, "clients", 50, "clients at once")
	flag.DurationVar(&c.duration, "duration", 60*time.Second, "how long clients start new orders")
	flag.DurationVar(&c.grace, "grace", 2*time.Minute, "how long clients may take to finish their last order")
	flag.IntVar(&c.kills, "kills", 0, "SIGKILL a random instance this many times, restarting it")
	flag.Uint64Var(&c.seed, "seed", 0, "the kill schedule's random seed (0: from the clock)")
	flag.StringVar(&c.name, "name", "c%d.bench.test", "the name each client orders; %d is the client's number")
	flag.StringVar(&c.httpAddr, "http", ":80", "answer http-01 challenges on `ADDR`")
	flag.StringVar(&c.bolt, "bolt", "", "check the bbolt store `FILE` after the servers stop")
	flag.StringVar(&c.pg, "pg", "", "check the PostgreSQL store at `URL` after the servers stop")
	flag.StringVar(&c.caDir, "ca", "", "check the CA record in the CA home `DIR` too")
	flag.StringVar(&c.log, "log", "", "append server N's output to `PREFIX`N.log (default: discard)")
	flag.Parse()
	if c.dir == "" || c.root == "" || c.clients < 1 || len(c.servers) == 0 || len(c.servers) != len(c.backends) ||
		c.kills < 0 || (c.bolt != "" && c.pg != "") || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if c.seed == 0 {
		c.seed = uint64(time.Now().UnixNano())
	}
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

// instance is one server process, restarted after each kill.
type instance struct {
	argv    []string
	backend string
	log     *os.File
	cmd     *exec.Cmd
	done    chan struct{}
	maxRSS  int64 // KiB, the largest of its processes' peaks
}

func (in *instance) start() error {
	cmd := exec.Command(in.argv[0], in.argv[1:]...)
	cmd.Stdout, cmd.Stderr = in.log, in.log
	if in.log == nil {
		cmd.Stdout, cmd.Stderr = nil, nil
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	in.cmd, in.done = cmd, make(chan struct{})
	done := in.done
	go func() {
		cmd.Wait() //nolint:errcheck // killed on purpose; the state is what counts
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			in.maxRSS = max(in.maxRSS, ru.Maxrss)
		}
		close(done)
	}()
	return nil
}

// stop ends the process with SIGTERM, or SIGKILL after 10 s.
func (in *instance) stop() {
	in.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may be gone
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		in.cmd.Process.Kill() //nolint:errcheck
		<-in.done
	}
}

// transport returns an HTTPS transport whose every connection goes to
// backend, whatever the URL's host.
func transport(backend string, pool *x509.CertPool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "tcp", backend) },
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
	}
}

// spread sends each request to the next backend; one that refuses the
// connection (down, restarting) passes the request to the next, as a load
// balancer's health check would.
type spread struct {
	ts   []*http.Transport
	next atomic.Uint64
}

func (s *spread) RoundTrip(req *http.Request) (*http.Response, error) {
	i := int(s.next.Add(1))
	var err error
	for k := range s.ts {
		r := req
		if k > 0 {
			if req.Body != nil && req.GetBody == nil {
				break
			}
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				if r.Body, err = req.GetBody(); err != nil {
					return nil, err
				}
			}
		}
		var resp *http.Response
		resp, err = s.ts[(i+k)%len(s.ts)].RoundTrip(r)
		var op *net.OpError
		if err == nil || !errors.As(err, &op) || op.Op != "dial" {
			return resp, err
		}
	}
	return nil, err
}

// waitReady waits until backend answers the directory over HTTPS, reading
// the root once it exists (Caddy writes its root as it starts).
func waitReady(ctx context.Context, dir, rootFile, backend string) (*x509.CertPool, error) {
	var last error
	for ctx.Err() == nil {
		if pem, err := os.ReadFile(rootFile); err == nil {
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pem) {
				t := transport(backend, pool)
				hc := &http.Client{Transport: t, Timeout: 2 * time.Second}
				resp, err := hc.Get(dir)
				t.CloseIdleConnections()
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return pool, nil
					}
					err = fmt.Errorf("%s answers %s", dir, resp.Status)
				}
				last = err
			}
		} else {
			last = err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s did not answer on %s: %v", dir, backend, last)
}

// got is a certificate a client was given.
type got struct {
	order string
	leaf  *x509.Certificate
}

type result struct {
	mu         sync.Mutex
	latencies  []time.Duration
	certs      []got
	errors     int
	firstError error
	unfinished int
}

func run(c *config) error {
	var logs []*os.File
	instances := make([]*instance, len(c.servers))
	for i, s := range c.servers {
		in := &instance{argv: strings.Fields(s), backend: c.backends[i]}
		if c.log != "" {
			f, err := os.OpenFile(fmt.Sprintf("%s%d.log", c.log, i), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			in.log = f
			logs = append(logs, f)
		}
		instances[i] = in
	}
	setup, cancelSetup := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSetup()
	var pool *x509.CertPool
	for _, in := range instances {
		if err := in.start(); err != nil {
			return fmt.Errorf("starting %s: %w", in.argv[0], err)
		}
		defer func() {
			select {
			case <-in.done:
			default:
				in.cmd.Process.Kill() //nolint:errcheck
				<-in.done
			}
		}()
		p, err := waitReady(setup, c.dir, c.root, in.backend)
		if err != nil {
			return err
		}
		pool = p
	}

	resp, err := acmeflow.Listen(c.httpAddr)
	if err != nil {
		return err
	}
	defer resp.Close()

	// The accounts are registered before the clock starts.
	acs := make([]*acme.Client, c.clients)
	for i := range acs {
		s := &spread{}
		for _, b := range c.backends {
			s.ts = append(s.ts, transport(b, pool))
		}
		hc := &http.Client{Transport: s, Timeout: 30 * time.Second}
		if acs[i], err = acmeflow.NewClient(setup, c.dir, hc); err != nil {
			return err
		}
	}

	// Clients start new orders until stop closes, and finish the one under
	// way until ctx ends.
	stop := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var res result
	var wg sync.WaitGroup
	start := time.Now()
	for i, ac := range acs {
		name := c.name
		if strings.Contains(name, "%d") {
			name = fmt.Sprintf(name, i)
		}
		wg.Go(func() { client(ctx, stop, ac, name, resp, &res) })
	}

	restarts, err := killer(c, instances, start)
	if err != nil {
		close(stop)
		cancel()
		wg.Wait()
		return err
	}
	if d := time.Until(start.Add(c.duration)); d > 0 {
		time.Sleep(d)
	}
	close(stop)
	finish := time.AfterFunc(c.grace, cancel)
	wg.Wait()
	finish.Stop()
	// Orders finished in the grace time count, and so does their time.
	elapsed := time.Since(start)
	for _, in := range instances {
		in.stop()
	}

	var maxRSS int64
	for _, in := range instances {
		maxRSS = max(maxRSS, in.maxRSS)
	}
	slices.Sort(res.latencies)
	q := func(p float64) float64 {
		if len(res.latencies) == 0 {
			return 0
		}
		return float64(res.latencies[int(p*float64(len(res.latencies)-1))]) / 1e6
	}
	slices.Sort(restarts)
	restartMS := 0.0
	if len(restarts) > 0 {
		restartMS = float64(restarts[len(restarts)/2]) / 1e6
	}
	if res.errors > 0 {
		fmt.Fprintf(os.Stderr, "faults: %d failed orders, retried; the first: %v\n", res.errors, res.firstError)
	}
	line := fmt.Sprintf("certs %d seconds %.3f rate %.3f p50_ms %.1f p99_ms %.1f errors %d unfinished %d kills %d rss_mib %.1f restart_ms %.1f",
		len(res.certs), elapsed.Seconds(), float64(len(res.certs))/elapsed.Seconds(), q(0.5), q(0.99), res.errors, res.unfinished,
		len(restarts), float64(maxRSS)/1024, restartMS)
	if c.bolt != "" || c.pg != "" {
		v, err := check(c, res.certs, start)
		if err != nil {
			return err
		}
		for _, f := range logs {
			if b, err := os.ReadFile(f.Name()); err == nil {
				v.resumed += bytes.Count(b, []byte("resuming an interrupted issuance"))
			}
		}
		line += fmt.Sprintf(" checked %d lost %d twice %d unrecorded %d stray %d resumed %d", v.checked, v.lost, v.twice, v.unrecorded, v.stray, v.resumed)
	}
	fmt.Println(line)
	return nil
}

// client orders certificates one after another until stop closes, then
// finishes the one under way; a failed order is retried with a new one.
func client(ctx context.Context, stop <-chan struct{}, ac *acme.Client, name string, r *acmeflow.Responder, res *result) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		t0 := time.Now()
		for {
			order, chain, err := acmeflow.Obtain(ctx, ac, name, r)
			var leaf *x509.Certificate
			if err == nil {
				if leaf, err = x509.ParseCertificate(chain[0]); err != nil {
					err = fmt.Errorf("order %s: the certificate does not parse: %w", order, err)
				}
			}
			res.mu.Lock()
			if err == nil {
				res.latencies = append(res.latencies, time.Since(t0))
				res.certs = append(res.certs, got{order: order, leaf: leaf})
			} else if ctx.Err() != nil {
				res.unfinished++
			} else {
				res.errors++
				if res.firstError == nil {
					res.firstError = err
				}
			}
			res.mu.Unlock()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// killer SIGKILLs a random instance at c.kills random moments of the run
// and restarts it at once, and returns the times from each kill to the
// instance answering again. A kill falling due while its instance is still
// restarting waits for it.
func killer(c *config, instances []*instance, start time.Time) ([]time.Duration, error) {
	rng := mrand.New(mrand.NewPCG(c.seed, 11))
	if c.kills > 0 {
		fmt.Fprintf(os.Stderr, "faults: %d kills, seed %d\n", c.kills, c.seed)
	}
	at := make([]time.Duration, c.kills)
	for i := range at {
		at[i] = time.Duration(rng.Int64N(int64(c.duration)))
	}
	slices.Sort(at)
	var restarts []time.Duration
	for _, t := range at {
		time.Sleep(time.Until(start.Add(t)))
		in := instances[rng.IntN(len(instances))]
		t0 := time.Now()
		in.cmd.Process.Kill() //nolint:errcheck // it may have died; then it is restarted all the same
		<-in.done
		if err := in.start(); err != nil {
			return restarts, fmt.Errorf("restarting %s: %w", in.argv[0], err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := waitReady(ctx, c.dir, c.root, in.backend)
		cancel()
		if err != nil {
			return restarts, fmt.Errorf("after kill %d: %w", len(restarts)+1, err)
		}
		restarts = append(restarts, time.Since(t0))
	}
	return restarts, nil
}

type verdict struct {
	checked, lost, twice, unrecorded, stray, resumed int
}

// check compares what the clients were given with the store and the CA
// record. Problems are counted and the first few said on standard error.
func check(c *config, certs []got, start time.Time) (verdict, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var st interface {
		Order(context.Context, string) (*store.Order, error)
		Certificate(context.Context, string) (*store.Certificate, error)
		Close() error
	}
	var all []*store.Certificate
	if c.bolt != "" {
		b, err := boltstore.Open(c.bolt)
		if err != nil {
			return verdict{}, err
		}
		st = b
		if err := b.ForEachCertificate(ctx, func(sc *store.Certificate) error { all = append(all, sc); return nil }); err != nil {
			b.Close()
			return verdict{}, err
		}
	} else {
		p, err := pgstore.Open(ctx, c.pg)
		if err != nil {
			return verdict{}, err
		}
		st = p
		// Every row of the certificates table: its serial and its order.
		rows, err := p.Pool().Query(ctx, "SELECT serial, data->>'OrderID' FROM certificates")
		if err == nil {
			for rows.Next() {
				sc := &store.Certificate{}
				if err = rows.Scan(&sc.Serial, &sc.OrderID); err != nil {
					break
				}
				all = append(all, sc)
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err != nil {
			p.Close()
			return verdict{}, err
		}
	}
	defer st.Close()

	var v verdict
	say := func(n *int, format string, a ...any) {
		*n++
		if v.lost+v.twice+v.unrecorded <= 10 {
			fmt.Fprintf(os.Stderr, "faults: "+format+"\n", a...)
		}
	}
	perOrder := map[string]map[string]bool{}
	inStore := map[string]bool{}
	for _, sc := range all {
		if perOrder[sc.OrderID] == nil {
			perOrder[sc.OrderID] = map[string]bool{}
		}
		perOrder[sc.OrderID][sc.Serial] = true
		inStore[sc.Serial] = true
	}
	for order, serials := range perOrder {
		if len(serials) > 1 {
			say(&v.twice, "order %s has %d certificates", order, len(serials))
		}
	}

	// The CA record's entries for orders: the servers' own HTTPS
	// certificates (for localhost and the rest) aside.
	var record map[string]time.Time
	if c.caDir != "" {
		a, err := ca.Load(c.caDir)
		if err != nil {
			return v, err
		}
		entries, err := a.Record()
		if err != nil {
			return v, err
		}
		record = map[string]time.Time{}
		for _, e := range entries {
			if slices.Contains(e.Names, "localhost") {
				continue
			}
			record[e.Serial] = e.IssuedAt
		}
	}
	for _, g := range certs {
		v.checked++
		serial := hex.EncodeToString(g.leaf.SerialNumber.Bytes()) // as the store keys it
		sc, err := st.Certificate(ctx, serial)
		switch {
		case err != nil:
			say(&v.lost, "certificate %s of order %s is not in the store: %v", serial, g.order, err)
			continue
		case !bytes.Equal(sc.Chain[0], g.leaf.Raw):
			say(&v.lost, "the store's certificate %s differs from the one given for order %s", serial, g.order)
			continue
		}
		id := g.order[strings.LastIndex(g.order, "/")+1:]
		if o, err := st.Order(ctx, id); err != nil || o.CertificateSerial != serial {
			say(&v.lost, "order %s does not name certificate %s (%v)", g.order, serial, err)
		}
		if record != nil {
			if _, ok := record[g.leaf.SerialNumber.Text(16)]; !ok {
				say(&v.unrecorded, "certificate %s of order %s is not in the CA record", serial, g.order)
			}
		}
	}
	// CA record entries of this run that no store record holds.
	for serial, at := range record {
		if at.Before(start.Add(-time.Second)) {
			continue
		}
		n, ok := new(big.Int).SetString(serial, 16)
		if ok && !inStore[hex.EncodeToString(n.Bytes())] {
			v.stray++
		}
	}
	return v, nil
}
