package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/store/boltstore"
)

// TestACMEKillAnywhere SIGKILLs devca acme at random moments while three
// x/crypto/acme clients order certificates, and restarts it on the same
// address and database: 15 kills in the default run, 100 in the soak step
// (DEVCA_SOAK=1). Half the kills follow a finalize request by a few
// milliseconds, to land between the order turning processing and its
// certificate being stored. Every client must finish every order it began
// (within 90s of the last restart),
// every certificate a client was given must be in the store as it was given,
// and no order may have two certificates. The random seed is logged;
// DEVCA_TEST_SEED=<seed> replays the kill schedule.
func TestACMEKillAnywhere(t *testing.T) {
	t.Parallel()
	kills := 15
	if soak() {
		kills = 100
	}
	rng := mrand.New(mrand.NewPCG(testSeed(t), 2))
	home := t.TempDir()
	resp := startHTTP01Responder(t)
	addr := freeLoopbackAddr(t, rng)
	start := func() *serveProcess {
		t.Helper()
		cmd := devcaCommand(t, home, home, "acme", "--addr", addr, "--http-port", strconv.Itoa(resp.port))
		cmd.Env = append(cmd.Env, "DEVCA_TEST_ACME_LOOPBACK=1")
		return startServeCmd(t, cmd)
	}
	p := start()
	dirURL := p.url
	var stderrs []*syncBuffer

	httpClient, _ := rootClient(t, home)
	httpClient.Timeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	finalizing := make(chan struct{}, 1)
	const clients = 3
	results := make([]*killClient, clients)
	var wg sync.WaitGroup
	for i := range results {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k := &killClient{id: i, c: &acme.Client{Key: key, DirectoryURL: dirURL, HTTPClient: httpClient},
			resp: resp, finalizing: finalizing}
		results[i] = k
		wg.Go(func() { k.run(ctx, stop) })
	}

	targeted := 0
	for range kills {
		if rng.IntN(2) == 0 {
			select {
			case <-finalizing:
				targeted++
				time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
			case <-time.After(2 * time.Second):
			}
		} else {
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		}
		p.cmd.Process.Kill()
		<-p.done
		stderrs = append(stderrs, p.stderr)
		p = start()
		if p.url != dirURL {
			t.Fatalf("restarted on %s, want %s", p.url, dirURL)
		}
	}
	// Every client finishes its order within 90s of the last restart.
	close(stop)
	finish := time.AfterFunc(90*time.Second, cancel)
	wg.Wait()
	finish.Stop()
	p.stop(t)
	stderrs = append(stderrs, p.stderr)

	resumed := 0
	for _, s := range stderrs {
		resumed += strings.Count(s.String(), "resuming an interrupted issuance")
	}
	issued := 0
	for _, k := range results {
		issued += len(k.certs)
		if k.err != nil {
			t.Errorf("client %d: %v", k.id, k.err)
		}
	}
	t.Logf("%d kills (%d right after a finalize), %d certificates issued, %d interrupted issuances resumed", kills, targeted, issued, resumed)

	// The store has every certificate a client was given, and one per order.
	st, err := boltstore.Open(filepath.Join(home, acmeDBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	byOrder := map[string][]string{}
	err = st.ForEachCertificate(context.Background(), func(c *store.Certificate) error {
		byOrder[c.OrderID] = append(byOrder[c.OrderID], c.Serial)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for order, serials := range byOrder {
		if len(serials) > 1 {
			t.Errorf("order %s has %d certificates: %v", order, len(serials), serials)
		}
	}
	for _, k := range results {
		for _, got := range k.certs {
			leaf, err := x509.ParseCertificate(got.chain[0])
			if err != nil {
				t.Fatal(err)
			}
			serial := hex.EncodeToString(leaf.SerialNumber.Bytes()) // as the store keys it
			c, err := st.Certificate(context.Background(), serial)
			if err != nil {
				t.Errorf("client %d was given certificate %s for %s, which the store lacks: %v", k.id, serial, got.order, err)
				continue
			}
			if string(c.Chain[0]) != string(got.chain[0]) {
				t.Errorf("the store's certificate %s differs from the one client %d was given", serial, k.id)
			}
			id := got.order[strings.LastIndex(got.order, "/")+1:]
			if o, err := st.Order(context.Background(), id); err != nil || o.CertificateSerial != serial {
				t.Errorf("order %s records certificate %v (%v), want %s", got.order, o, err, serial)
			}
		}
	}
}

// freeLoopbackAddr returns 127.0.0.1 with a port that was free a moment ago,
// so that a restarted server keeps the URLs its clients hold. The port is
// below Linux's ephemeral range (32768 up), where other tests' ":0"
// listeners and outgoing connections could take it between a kill and the
// restart.
func freeLoopbackAddr(t *testing.T, rng *mrand.Rand) string {
	t.Helper()
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rng.IntN(12000)))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port from 20000 to 31999 on 127.0.0.1")
	return ""
}

// killClient orders certificates one after another until told to stop, then
// finishes the order it began. Every error of a server that is down or
// restarting is retried; only an order turning invalid is a failure.
type killClient struct {
	id         int
	c          *acme.Client
	resp       *http01Responder
	finalizing chan<- struct{}
	certs      []issuedCert
	err        error
}

type issuedCert struct {
	order string
	chain [][]byte
}

func (k *killClient) run(ctx context.Context, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			if n > 0 {
				return
			}
		default:
		}
		cert, err := k.obtain(ctx, fmt.Sprintf("c%d-o%d.test", k.id, n))
		if err != nil {
			k.err = err
			return
		}
		k.certs = append(k.certs, cert)
	}
}

// pause waits before a retry.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(50 * time.Millisecond):
	}
}

func (k *killClient) obtain(ctx context.Context, name string) (issuedCert, error) {
	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return issuedCert{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, certKey)
	if err != nil {
		return issuedCert{}, err
	}
	registered := false
	orderURL, status := "", ""
	var lastErr error
	for ctx.Err() == nil {
		if lastErr != nil {
			pause(ctx)
		}
		if !registered {
			_, lastErr = k.c.Register(ctx, &acme.Account{}, acme.AcceptTOS)
			if lastErr != nil && !errors.Is(lastErr, acme.ErrAccountAlreadyExists) {
				continue
			}
			registered, lastErr = true, nil
		}
		if orderURL == "" {
			o, err := k.c.AuthorizeOrder(ctx, acme.DomainIDs(name))
			if lastErr = err; err != nil {
				continue
			}
			orderURL = o.URI
		}
		o, err := k.c.GetOrder(ctx, orderURL)
		if lastErr = err; err != nil {
			continue
		}
		status = o.Status
		switch o.Status {
		case acme.StatusPending:
			lastErr = k.answer(ctx, o)
			if lastErr == nil {
				pause(ctx)
			}
		case acme.StatusReady:
			select {
			case k.finalizing <- struct{}{}:
			default:
			}
			_, _, lastErr = k.c.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
		case acme.StatusProcessing:
			pause(ctx)
		case acme.StatusValid:
			chain, err := k.c.FetchCert(ctx, o.CertURL, true)
			if lastErr = err; err != nil {
				continue
			}
			return issuedCert{order: orderURL, chain: chain}, nil
		default:
			return issuedCert{}, fmt.Errorf("order %s for %s is %s: %v", orderURL, name, o.Status, o.Error)
		}
	}
	return issuedCert{}, fmt.Errorf("order %s for %s unfinished, last seen %q: %v (last error %v)", orderURL, name, status, ctx.Err(), lastErr)
}

// answer sets up and accepts the http-01 challenge of each pending
// authorization of o.
func (k *killClient) answer(ctx context.Context, o *acme.Order) error {
	for _, u := range o.AuthzURLs {
		z, err := k.c.GetAuthorization(ctx, u)
		if err != nil {
			return err
		}
		if z.Status != acme.StatusPending {
			if z.Status != acme.StatusValid {
				return fmt.Errorf("authorization %s is %s", u, z.Status)
			}
			continue
		}
		for _, ch := range z.Challenges {
			if ch.Type != "http-01" || ch.Status != acme.StatusPending {
				continue
			}
			keyAuth, err := k.c.HTTP01ChallengeResponse(ch.Token)
			if err != nil {
				return err
			}
			k.resp.set(ch.Token, keyAuth)
			if _, err := k.c.Accept(ctx, ch); err != nil {
				return err
			}
		}
	}
	return nil
}
