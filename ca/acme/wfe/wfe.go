// Package wfe is the web front end of devca's ACME server (RFC 8555): an [http.Handler]
// that checks every request's JWS, nonce and URL, keeps the state machine of accounts,
// orders, authorizations and challenges in a [store.Store], and reaches the two other
// roles through interfaces: an [Issuer] (the certificate authority) and a [Validator]
// (the validation authority, package va).
//
// # Resources
//
// Every URL derives from [Config.BaseURL]; the paths are
//
//	/directory  /new-nonce  /new-account  /new-order  /revoke-cert  /key-change
//	/account/{id}  /account/{id}/orders  /order/{id}  /order/{id}/finalize
//	/authz/{id}  /chall/{authz}/{chall}  /cert/{serial}  /renewal-info/{id}  /crl
//
// # One certificate chain
//
// A certificate is served as one chain, the leaf and then the certificate the Issuer
// returns after it (devca's root: it signs leaves itself, with no intermediate), and no
// Link rel="alternate" (RFC 8555 §7.4.2). Alternate chains let a client choose between
// trust anchors or cross-signs; here there is one anchor and one path to it. The only
// other chain would be the leaf alone, which a client gets by dropping the last
// certificate, and which selectors such as certbot's --preferred-chain could not tell
// apart, as both end at the same issuer.
//
// # Orders and authorizations
//
// A new order reuses the account's valid authorizations for the same identifiers (the
// same name, wildcard or not) that stay valid for at least half [Config.OrderLifetime];
// the order then expires with them, and is ready at once when all are reused. An
// account's orders list comes in pages of at most 100, linked with rel="next". A
// certificate may be revoked by the account that ordered it, by any account holding
// valid authorizations for all its names (a wildcard name needs a wildcard
// authorization), or with the certificate's key.
//
// # Durability
//
// Each change a response reports is committed to the store before the response is
// written, so a server killed at any moment loses nothing a client was told. Challenge
// validation runs in the background; a validation that was under way when the server
// stopped starts again the next time a client looks at it. Finalize stores the order as
// processing together with its CSR before the Issuer signs, and stores the certificate in
// the same transaction that makes the order valid; an order found processing for longer
// than [Config.IssuanceTimeout] (its server died in between) is claimed again and its
// CSR signed by the request that reads it. Claims go through the store's optimistic
// concurrency, so an order never records two certificates; a certificate the Issuer
// signed just before a crash, and that no client received, stays unrecorded here (the
// CA's own record lists it). No object stays "processing" for ever.
package wfe

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/devca/devca/ca/acme/nonce"
	"github.com/devca/devca/ca/acme/store"
)

// Issuer is the certificate authority behind the server.
type Issuer interface {
	// CheckNames reports whether the CA would issue for names (DNS names, "*."
	// wildcards, and IP addresses in text form), before an order is created. To refuse
	// some names it returns one [*NameError] per refused name, joined with errors.Join if
	// there are several; any other error refuses the whole order.
	CheckNames(names []string) error
	// Issue signs a certificate for the request's names and public key, valid from
	// NotBefore to NotAfter, and returns the chain as DER, leaf first.
	Issue(ctx context.Context, req IssueRequest) ([][]byte, error)
	// SignCRL returns a DER certificate revocation list signed by the CA.
	SignCRL(ctx context.Context, req CRLRequest) ([]byte, error)
}

// IssueRequest is what the server asks the [Issuer] to sign. The CSR's signature and
// names have been checked; its extensions are to be ignored.
type IssueRequest struct {
	CSR         *x509.CertificateRequest
	DNSNames    []string
	IPAddresses []net.IP
	NotBefore   time.Time
	NotAfter    time.Time
	Profile     string
	// CRLURL is the server's CRL, for the certificate's CRL distribution point.
	CRLURL string
}

// CRLRequest is what the server asks the [Issuer] to sign as a CRL.
type CRLRequest struct {
	Number     *big.Int
	ThisUpdate time.Time
	NextUpdate time.Time
	Entries    []x509.RevocationListEntry
}

// NameError is an [Issuer]'s refusal of one name.
type NameError struct {
	Name string
	Err  error
}

func (e *NameError) Error() string { return fmt.Sprintf("%s: %v", e.Name, e.Err) }

// Unwrap returns the reason.
func (e *NameError) Unwrap() error { return e.Err }

// Validator is the validation authority: it proves that the client controls identifier
// for one challenge. kind is a challenge type ("http-01", "dns-01", "tls-alpn-01");
// identifier is a DNS name (without "*." for a wildcard) or an IP address; keyAuthorization
// is token "." the account key's thumbprint. It returns nil when the proof holds. An error
// that is or wraps a [*wire.Problem] (connection, dns, tls, incorrectResponse…) reaches the
// client as it is; any other error reaches it as an incorrectResponse problem with the
// error's text, so the text must say what was tried and what came back.
type Validator interface {
	Validate(ctx context.Context, kind, identifier, token, keyAuthorization string) error
}

// Profile is a certificate profile offered in the directory (draft-ietf-acme-profiles).
type Profile struct {
	Description string
	// Lifetime is the certificate lifetime, and the longest notAfter - notBefore an
	// order may ask for.
	Lifetime time.Duration
}

// Config configures the front end. Zero fields take the defaults documented on them.
type Config struct {
	// BaseURL is the URL clients reach the server at, such as "https://localhost:14000";
	// every URL the server hands out starts with it. Required.
	BaseURL   string
	Store     store.Store // required
	Issuer    Issuer      // required
	Validator Validator   // required

	// Profiles are the certificate profiles; default: "default" (7 days) and
	// "shortlived" (1 day).
	Profiles map[string]Profile
	// DefaultProfile is used when an order names none; default "default".
	DefaultProfile string
	// TermsOfService is announced in the directory when set, and then accounts must
	// agree to it.
	TermsOfService string
	// RequireExternalAccountBinding makes new accounts bind an external account key
	// (RFC 8555 §7.3.4) from the store (store.Store.CreateEABKey): one the operator
	// created, not revoked, and not yet bound to another account.
	RequireExternalAccountBinding bool

	// OrderLifetime is how long orders and authorizations stay usable; default 24h.
	OrderLifetime time.Duration
	// ValidationTimeout bounds one challenge validation; default 30s.
	ValidationTimeout time.Duration
	// IssuanceTimeout bounds one issuance (the Issuer's signature and storing it); an
	// order still processing that long after finalize began is taken over by the next
	// request that reads it, as after a crash; default 10s.
	IssuanceTimeout time.Duration
	// MaxBodyBytes bounds request bodies; default 64 KiB.
	MaxBodyBytes int64
	// MaxValidations bounds the validations running at once; the others wait, their
	// challenges processing, for a free slot; default 32.
	MaxValidations int
	// RateLimits are answered with rateLimited problems and Retry-After; nil means none
	// (devca acme sets [DefaultRateLimits]).
	RateLimits *RateLimits

	// Nonces issues and redeems the anti-replay nonces; default an in-memory
	// [nonce.Service]. Servers that share a store share a Source too (package pgnonce),
	// so that a nonce from one is accepted by another.
	Nonces nonce.Source

	// Now and Rand are the clock and randomness; default time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Log receives internal errors that clients only see as serverInternal; default
	// discards them.
	Log *slog.Logger
}

// Defaults of [Config].
const (
	DefaultProfileName       = "default"
	ShortLivedProfileName    = "shortlived"
	defaultOrderLifetime     = 24 * time.Hour
	defaultValidationTimeout = 30 * time.Second
	defaultIssuanceTimeout   = 10 * time.Second
	defaultMaxBodyBytes      = 64 << 10
	// maxIdentifiers bounds an order, as Let's Encrypt does.
	maxIdentifiers = 100
	// backdate sets notBefore a little in the past so that clients with a slow clock
	// accept a fresh certificate.
	backdate = time.Minute
	// crlValidity is the CRL's nextUpdate distance.
	crlValidity = 24 * time.Hour
)

// DefaultProfiles returns the profiles used when [Config.Profiles] is empty: leaves that
// live days, not years, as the issue asks for a development CA.
func DefaultProfiles() map[string]Profile {
	return map[string]Profile{
		DefaultProfileName:    {Description: "certificates valid for 7 days", Lifetime: 7 * 24 * time.Hour},
		ShortLivedProfileName: {Description: "certificates valid for 1 day", Lifetime: 24 * time.Hour},
	}
}

// WFE is the front end. Create it with [New]; it is an [http.Handler].
type WFE struct {
	cfg    Config
	base   string
	nonces nonce.Source
	mux    *http.ServeMux

	ctx    context.Context // cancelled by Close, stops validations
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	inflight map[string]chan struct{} // authorization ID "/" challenge ID under validation; closed when recorded

	ordersPerPage int // ordersPerPage, smaller in tests

	limits *limits
}

// New checks cfg and returns the front end.
func New(cfg Config) (*WFE, error) {
	if cfg.BaseURL == "" || cfg.Store == nil || cfg.Issuer == nil || cfg.Validator == nil {
		return nil, errors.New("creating ACME front end: BaseURL, Store, Issuer and Validator are required")
	}
	if len(cfg.Profiles) == 0 {
		cfg.Profiles = DefaultProfiles()
	}
	if cfg.DefaultProfile == "" {
		cfg.DefaultProfile = DefaultProfileName
	}
	if p, ok := cfg.Profiles[cfg.DefaultProfile]; !ok || p.Lifetime <= 0 {
		return nil, fmt.Errorf("creating ACME front end: default profile %q is not among the profiles or has no lifetime", cfg.DefaultProfile)
	}
	for name, p := range cfg.Profiles {
		if p.Lifetime <= 0 {
			return nil, fmt.Errorf("creating ACME front end: profile %q has no lifetime", name)
		}
	}
	if cfg.OrderLifetime <= 0 {
		cfg.OrderLifetime = defaultOrderLifetime
	}
	if cfg.ValidationTimeout <= 0 {
		cfg.ValidationTimeout = defaultValidationTimeout
	}
	if cfg.IssuanceTimeout <= 0 {
		cfg.IssuanceTimeout = defaultIssuanceTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBodyBytes
	}
	if cfg.MaxValidations <= 0 {
		cfg.MaxValidations = defaultMaxValidations
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Nonces == nil {
		cfg.Nonces = nonce.New(0, cfg.Rand)
	}
	w := &WFE{
		cfg:      cfg,
		base:     strings.TrimSuffix(cfg.BaseURL, "/"),
		nonces:   cfg.Nonces,
		inflight: map[string]chan struct{}{},

		ordersPerPage: ordersPerPage,
		limits:        newLimits(cfg),
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.routes()
	return w, nil
}

// Close stops the validations under way and waits for them. Their challenges stay
// "processing" in the store and start again after a restart.
func (w *WFE) Close() {
	w.cancel()
	w.wg.Wait()
}

// ServeHTTP implements [http.Handler].
func (w *WFE) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if !w.limitRequest(rw, r) {
		w.mux.ServeHTTP(rw, r)
	}
}

// Paths of the resources, below BaseURL.
const (
	pathDirectory   = "/directory"
	pathNewNonce    = "/new-nonce"
	pathNewAccount  = "/new-account"
	pathNewOrder    = "/new-order"
	pathRevokeCert  = "/revoke-cert"
	pathKeyChange   = "/key-change"
	pathAccount     = "/account/"
	pathOrder       = "/order/"
	pathAuthz       = "/authz/"
	pathChallenge   = "/chall/"
	pathCert        = "/cert/"
	pathRenewalInfo = "/renewal-info/"
	pathCRL         = "/crl"
)

func (w *WFE) routes() {
	m := http.NewServeMux()
	m.HandleFunc(pathDirectory, w.onlyGET(w.directory))
	m.HandleFunc(pathNewNonce, w.newNonce)
	m.HandleFunc(pathNewAccount, w.post(keyJWK, w.newAccount))
	m.HandleFunc(pathAccount+"{id}", w.post(keyKID, w.account))
	m.HandleFunc(pathAccount+"{id}/orders", w.post(keyKID, w.accountOrders))
	m.HandleFunc(pathKeyChange, w.post(keyKID, w.keyChange))
	m.HandleFunc(pathNewOrder, w.post(keyKID, w.newOrder))
	m.HandleFunc(pathOrder+"{id}", w.post(keyKID, w.order))
	m.HandleFunc(pathOrder+"{id}/finalize", w.post(keyKID, w.finalize))
	m.HandleFunc(pathAuthz+"{id}", w.post(keyKID, w.authorization))
	m.HandleFunc(pathChallenge+"{authz}/{chall}", w.post(keyKID, w.challenge))
	m.HandleFunc(pathCert+"{serial}", w.post(keyKID, w.certificate))
	m.HandleFunc(pathRevokeCert, w.post(keyEither, w.revoke))
	m.HandleFunc(pathRenewalInfo+"{id}", w.onlyGET(w.renewalInfo))
	m.HandleFunc(pathCRL, w.onlyGET(w.crl))
	m.HandleFunc("/", w.notFound)
	w.mux = m
}

func (w *WFE) url(path string, parts ...string) string {
	return w.base + path + strings.Join(parts, "/")
}

func (w *WFE) accountURL(id string) string { return w.url(pathAccount, id) }
func (w *WFE) orderURL(id string) string   { return w.url(pathOrder, id) }
func (w *WFE) authzURL(id string) string   { return w.url(pathAuthz, id) }
func (w *WFE) certURL(serial string) string {
	return w.url(pathCert, serial)
}
func (w *WFE) challengeURL(authz, chall string) string {
	return w.url(pathChallenge, authz, chall)
}
