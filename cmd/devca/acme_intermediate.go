package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/ca/acme/caissuer"
)

// testOnlyIntermediateRenewal, when set, replaces when devca acme renews its
// intermediate CA (or looks for a newer one in --ca-dir): every so often
// instead of after two thirds of its life. Only tests set it.
var testOnlyIntermediateRenewal time.Duration

// checkIntermediate checks --intermediate and --ca-dir against the rest of
// the command line.
func (o *acmeOptions) checkIntermediate(lifetimeFlag string) error {
	if o.intermediate && o.caDir != "" {
		return usageErrorf("--intermediate and --ca-dir exclude each other: --ca-dir already names the intermediate CA to sign with")
	}
	if o.intermediate && 3*o.lifetime > ca.MaxIntermediateLifetime {
		return usageErrorf("invalid --lifetime %q with --intermediate: the intermediate CA lasts at most %d days, three certificate lifetimes, so use at most %dd",
			lifetimeFlag, ca.MaxIntermediateLifetime/(24*time.Hour), ca.MaxIntermediateLifetime/(3*24*time.Hour))
	}
	return nil
}

// intermediateLifetime is how long the intermediates of --intermediate last:
// 30 days, or three certificate lifetimes when that is longer, so that at
// renewal, after two thirds, a whole certificate lifetime is left.
func (o *acmeOptions) intermediateLifetime() time.Duration {
	return max(ca.DefaultIntermediateLifetime, 3*o.lifetime)
}

// intermediateCA is the intermediate CA devca acme signs with: issued by the
// local root and renewed while running (--intermediate), or read from a
// folder (--ca-dir) and replaced when a newer one is written there. The
// server's own certificate is signed by it too.
type intermediateCA struct {
	root    *ca.Authority // nil for --ca-dir
	dir     string        // --ca-dir
	current atomic.Pointer[ca.Authority]
	cert    atomic.Pointer[tls.Certificate]
}

func newIntermediateCA(e *env, o *acmeOptions, root *ca.Authority) (*intermediateCA, error) {
	ic := &intermediateCA{root: root}
	if err := ic.renew(o); err != nil {
		return nil, err
	}
	return ic, nil
}

// renew issues a new intermediate with the root.
func (ic *intermediateCA) renew(o *acmeOptions) error {
	in, err := issueIntermediate(ic.root, ca.IntermediateRequest{Lifetime: o.intermediateLifetime()})
	if err != nil {
		return err
	}
	auth, err := ic.root.WithIntermediate(in)
	if err != nil {
		return err
	}
	ic.current.Store(auth)
	return nil
}

func loadIntermediateCA(e *env, o *acmeOptions) (*intermediateCA, error) {
	auth, err := ca.LoadIntermediate(o.caDir)
	if err != nil {
		var perm *ca.InsecurePermissionsError
		switch {
		case errors.As(err, &perm):
			return nil, withHints(err, perm.Fix)
		case errors.Is(err, fs.ErrNotExist):
			return nil, withHints(err, "write one with 'devca intermediate issue --out DIR' on the machine that holds the root, and copy DIR here")
		}
		return nil, withHints(err, "write a new one with 'devca intermediate issue --out DIR' on the machine that holds the root")
	}
	if left := time.Until(auth.Intermediate().NotAfter); left < o.lifetime {
		return nil, withHints(fmt.Errorf("the intermediate CA in %q expires on %s, before a certificate of --lifetime %s issued now would",
			auth.Dir, auth.Intermediate().NotAfter.UTC().Format(time.RFC3339), describeLifetime(o.lifetime)),
			"write a newer one with 'devca intermediate issue --out DIR --days N', or lower --lifetime")
	}
	ic := &intermediateCA{dir: auth.Dir}
	ic.current.Store(auth)
	return ic, nil
}

func (ic *intermediateCA) auth() *ca.Authority { return ic.current.Load() }

func (ic *intermediateCA) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return ic.cert.Load(), nil
}

// renewServerCert signs the server's own certificate with the current
// intermediate, for the names acmeCertificate would use that the
// intermediate may certify. It is kept in memory only.
func (ic *intermediateCA) renewServerCert(e *env, o *acmeOptions, base string) error {
	auth := ic.auth()
	all, err := acmeNames(o, base)
	if err != nil {
		return err
	}
	var names ca.Names
	for _, n := range all {
		if auth.Constraints().Permits(n) {
			names = append(names, n)
		}
	}
	if u, err := url.Parse(base); err == nil && !permitsHost(auth, u.Hostname()) {
		return withHints(fmt.Errorf("the intermediate CA may not certify %s, the server's own name (permitted: %s)", u.Hostname(), auth.Constraints()),
			"use --external-url with a name it permits, or issue it with that name in --permit")
	}
	leaf, err := auth.Issue(ca.LeafRequest{Names: names})
	if err != nil {
		return fmt.Errorf("issuing the server's certificate: %w", err)
	}
	ic.cert.Store(&tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw, auth.Intermediate().Raw}, PrivateKey: leaf.Key, Leaf: leaf.Cert})
	return nil
}

// permitsHost reports whether auth may certify host, the host of a URL.
func permitsHost(auth *ca.Authority, host string) bool {
	n, err := ca.ParseName(host)
	return err == nil && auth.Constraints().Permits(n)
}

func (ic *intermediateCA) note(e *env) {
	in := ic.auth().Intermediate()
	if ic.root != nil {
		e.notef("signing with an intermediate CA valid until %s, renewed while running; the root key signs only intermediates", in.NotAfter.UTC().Format(time.RFC3339))
		return
	}
	e.notef("signing with the intermediate CA in %q, valid until %s; no root key on this machine", ic.dir, in.NotAfter.UTC().Format(time.RFC3339))
}

// keepRenewed replaces the intermediate until ctx ends: with --intermediate
// a new one from the root after two thirds of its life (retried hourly on
// failure); with --ca-dir, the one in the folder when a newer one is written
// there (looked for every minute).
func (ic *intermediateCA) keepRenewed(ctx context.Context, e *env, o *acmeOptions, base string, issuer *caissuer.Issuer) {
	for {
		wait := time.Minute
		if ic.root != nil {
			in := ic.auth().Intermediate()
			wait = time.Until(in.NotBefore.Add(2 * in.NotAfter.Sub(in.NotBefore) / 3))
		}
		if testOnlyIntermediateRenewal != 0 {
			wait = testOnlyIntermediateRenewal
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		old := ic.auth()
		var err error
		if ic.root != nil {
			err = ic.renew(o)
		} else {
			var next *ca.Authority
			if next, err = ca.LoadIntermediate(ic.dir); err == nil && next.Intermediate().NotAfter.After(old.Intermediate().NotAfter) {
				ic.current.Store(next)
			}
		}
		if err == nil && ic.auth() != old {
			err = ic.renewServerCert(e, o, base)
		}
		if err != nil {
			ic.current.Store(old)
			e.warnf("renewing the intermediate CA: %v", err)
			if ic.root != nil && testOnlyIntermediateRenewal == 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Hour):
				}
			}
			continue
		}
		if ic.auth() != old {
			issuer.Replace(ic.auth())
			e.notef("now signing with a new intermediate CA valid until %s", ic.auth().Intermediate().NotAfter.UTC().Format(time.RFC3339))
		}
	}
}
