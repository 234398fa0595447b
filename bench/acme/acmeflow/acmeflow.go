// Package acmeflow is the ACME client side shared by the bench's load
// programs (bench/acme/load and bench/acme/faults): an account per client
// (golang.org/x/crypto/acme, the flow cert-manager's client follows), one
// http-01 responder for all of them, and one certificate obtained from
// newOrder to the downloaded chain.
package acmeflow

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// Responder answers http-01 challenges for every client: token path ->
// key authorization.
type Responder struct {
	answers sync.Map
	srv     *http.Server
}

// Listen starts a responder on addr (":80" in the bench's namespace).
func Listen(addr string) (*Responder, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &Responder{}
	r.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if v, ok := r.answers.Load(req.URL.Path); ok {
			fmt.Fprint(w, v)
			return
		}
		http.NotFound(w, req)
	})}
	go r.srv.Serve(ln) //nolint:errcheck // ends with Close
	return r, nil
}

// Close stops the responder.
func (r *Responder) Close() error { return r.srv.Close() }

// NewClient returns a client with a registered P-256 account that sends its
// requests through hc.
func NewClient(ctx context.Context, dir string, hc *http.Client) (*acme.Client, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c := &acme.Client{Key: key, DirectoryURL: dir, UserAgent: "devca-bench-load", HTTPClient: hc}
	if _, err := c.Register(ctx, &acme.Account{Contact: []string{"mailto:bench@bench.test"}}, acme.AcceptTOS); err != nil {
		return nil, fmt.Errorf("registering an account: %w", err)
	}
	return c, nil
}

// Obtain gets one certificate for name: newOrder, each authorization with
// its http-01 challenge, finalize with a fresh P-256 key, download. It
// returns the order's URL and the chain, leaf first.
func Obtain(ctx context.Context, c *acme.Client, name string, r *Responder) (string, [][]byte, error) {
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return "", nil, fmt.Errorf("newOrder: %w", err)
	}
	uri := o.URI
	for _, u := range o.AuthzURLs {
		z, err := c.GetAuthorization(ctx, u)
		if err != nil {
			return uri, nil, fmt.Errorf("authorization: %w", err)
		}
		if z.Status == acme.StatusValid {
			continue
		}
		var chal *acme.Challenge
		for _, ch := range z.Challenges {
			if ch.Type == "http-01" {
				chal = ch
			}
		}
		if chal == nil {
			return uri, nil, errors.New("no http-01 challenge offered")
		}
		resp, err := c.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return uri, nil, err
		}
		path := c.HTTP01ChallengePath(chal.Token)
		r.answers.Store(path, resp)
		defer r.answers.Delete(path)
		if _, err := c.Accept(ctx, chal); err != nil {
			return uri, nil, fmt.Errorf("challenge: %w", err)
		}
		if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
			return uri, nil, fmt.Errorf("waiting for validation: %w", err)
		}
	}
	if o, err = c.WaitOrder(ctx, uri); err != nil {
		return uri, nil, fmt.Errorf("waiting for the order: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return uri, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, key)
	if err != nil {
		return uri, nil, err
	}
	chain, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		return uri, nil, fmt.Errorf("finalize: %w", err)
	}
	return uri, chain, nil
}
