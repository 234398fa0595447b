// Command load is the ACME load client of bench/acme.sh: CLIENTS goroutines,
// each an ACME account of its own (golang.org/x/crypto/acme, the flow
// cert-manager's client follows), obtain certificates with http-01 for a
// fixed time, and it prints how many they got per second. It answers the
// http-01 challenges itself on ADDR (port 80 of the names, in the bench's
// network namespace).
//
//	load -dir URL -root FILE [-clients 20] [-duration 10s] [-name c%d.bench.test] [-http :80]
//	load -dir URL -root FILE -rtt 50 -name bench.test
//
// The first form prints one line of "key value" pairs: certs, seconds, rate
// (certificates per second), p50_ms and p90_ms (time per certificate, from
// newOrder to the downloaded chain) and errors. Accounts are registered
// before the clock starts. Each client orders for its own name (-name with
// %d replaced by the client's number), so that no two orders share a name.
//
// The second form (-rtt N) registers an account, creates one order and times
// N POST-as-GET requests of its authorization, printing the median
// milliseconds as "rtt_ms VALUE": one HTTPS round trip of the protocol.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/bench/acme/acmeflow"
)

func main() {
	dir := flag.String("dir", "", "the ACME directory `URL`")
	root := flag.String("root", "", "PEM `FILE` of the root the server's HTTPS certificate chains to")
	clients := flag.Int("clients", 20, "clients at once")
	duration := flag.Duration("duration", 10*time.Second, "how long clients start new orders")
	name := flag.String("name", "c%d.bench.test", "the name each client orders; %d is the client's number")
	httpAddr := flag.String("http", ":80", "answer http-01 challenges on `ADDR`")
	rtt := flag.Int("rtt", 0, "time `N` POST-as-GET requests instead")
	flag.Parse()
	if *dir == "" || *root == "" || *clients < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *root, *clients, *duration, *name, *httpAddr, *rtt); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(dir, rootFile string, clients int, duration time.Duration, name, httpAddr string, rtt int) error {
	pem, err := os.ReadFile(rootFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("no certificate in %s", rootFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration+2*time.Minute)
	defer cancel()

	if rtt > 0 {
		c, err := newClient(ctx, dir, pool)
		if err != nil {
			return err
		}
		return timeRoundTrips(ctx, c, strings.ReplaceAll(name, "%d", "0"), rtt)
	}

	resp, err := acmeflow.Listen(httpAddr)
	if err != nil {
		return err
	}
	defer resp.Close()

	cs := make([]*acme.Client, clients)
	for i := range cs {
		if cs[i], err = newClient(ctx, dir, pool); err != nil {
			return err
		}
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  []error
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(duration)
	for i, c := range cs {
		n := name
		if strings.Contains(n, "%d") {
			n = fmt.Sprintf(n, i)
		}
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t0 := time.Now()
				_, _, err := acmeflow.Obtain(ctx, c, n, resp)
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					latencies = append(latencies, time.Since(t0))
				}
				mu.Unlock()
				if err != nil && len(failures) > 100 {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(failures) > 0 {
		fmt.Fprintf(os.Stderr, "load: %d failed orders; the first: %v\n", len(failures), failures[0])
	}
	if len(latencies) == 0 {
		return errors.New("no certificate obtained")
	}
	slices.Sort(latencies)
	q := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / 1e6
	}
	fmt.Printf("certs %d seconds %.3f rate %.3f p50_ms %.1f p90_ms %.1f errors %d\n",
		len(latencies), elapsed.Seconds(), float64(len(latencies))/elapsed.Seconds(), q(0.5), q(0.9), len(failures))
	return nil
}

// newClient returns a client with a registered P-256 account and a connection
// of its own to the server.
func newClient(ctx context.Context, dir string, pool *x509.CertPool) (*acme.Client, error) {
	return acmeflow.NewClient(ctx, dir, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}})
}

// timeRoundTrips prints the median time of n POST-as-GET requests for an
// authorization, after one untimed request.
func timeRoundTrips(ctx context.Context, c *acme.Client, name string, n int) error {
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return fmt.Errorf("newOrder: %w", err)
	}
	if len(o.AuthzURLs) == 0 {
		return errors.New("the order has no authorization")
	}
	u := o.AuthzURLs[0]
	if _, err := c.GetAuthorization(ctx, u); err != nil {
		return err
	}
	ts := make([]time.Duration, n)
	for i := range ts {
		t0 := time.Now()
		if _, err := c.GetAuthorization(ctx, u); err != nil {
			return err
		}
		ts[i] = time.Since(t0)
	}
	slices.Sort(ts)
	fmt.Printf("rtt_ms %.3f\n", float64(ts[n/2])/1e6)
	return nil
}
