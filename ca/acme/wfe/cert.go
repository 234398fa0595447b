package wfe

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

// certificate returns the PEM chain of one of the requester's certificates
// (RFC 8555 §7.4.2).
func (w *WFE) certificate(ctx context.Context, r *request) (*response, error) {
	if !r.postAsGet() {
		return nil, wire.MalformedProblem("a certificate is downloaded with POST-as-GET (an empty payload)")
	}
	c, err := w.storedCertificate(ctx, r.http.PathValue("serial"))
	if err != nil {
		return nil, err
	}
	if c.AccountID != r.account.ID {
		return nil, wire.UnauthorizedProblem("certificate %q belongs to another account", r.url)
	}
	var buf bytes.Buffer
	for _, der := range c.Chain {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	return &response{raw: buf.Bytes(), contentType: "application/pem-certificate-chain"}, nil
}

func (w *WFE) storedCertificate(ctx context.Context, serial string) (*store.Certificate, error) {
	c, err := w.cfg.Store.Certificate(ctx, serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.MalformedProblem("no certificate with serial %q was issued here", serial).WithStatus(http.StatusNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	return c, nil
}

// Revocation reasons accepted (RFC 5280 §5.3.1): unspecified, keyCompromise,
// affiliationChanged, superseded, cessationOfOperation. The others concern CAs or holds.
var revocationReasons = []int{0, 1, 3, 4, 5}

// revoke revokes a certificate for the account that ordered it, for an account that holds
// valid authorizations for all its names, or for whoever signs with the certificate's key
// (RFC 8555 §7.6).
func (w *WFE) revoke(ctx context.Context, r *request) (*response, error) {
	var req wire.RevocationRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	der, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(req.Certificate, "="))
	if err != nil {
		return nil, wire.MalformedProblem("certificate is not base64url: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, wire.MalformedProblem("certificate is not DER: %v", err)
	}
	c, err := w.storedCertificate(ctx, serialHex(cert))
	if err != nil {
		return nil, err
	}
	if len(c.Chain) == 0 || !bytes.Equal(c.Chain[0], der) {
		return nil, wire.MalformedProblem("this certificate was not issued here").WithStatus(http.StatusNotFound)
	}
	if r.account != nil {
		if r.account.ID != c.AccountID {
			if err := w.holdsAuthorizations(ctx, r.account.ID, cert); err != nil {
				return nil, err
			}
		}
	} else {
		certKey, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !certKey.Equal(r.key.Key) {
			return nil, wire.UnauthorizedProblem("the JWS key is neither an account key nor the certificate's key")
		}
	}
	reason := 0
	if req.Reason != nil {
		reason = *req.Reason
	}
	if !slices.Contains(revocationReasons, reason) {
		return nil, wire.BadRevocationReasonProblem("reason %d is not accepted; use one of %v", reason, revocationReasons)
	}
	if c.Revoked {
		return nil, wire.AlreadyRevokedProblem("the certificate was revoked at %s", c.RevokedAt.UTC().Format(time.RFC3339))
	}
	c.Revoked, c.RevokedAt, c.Reason = true, w.cfg.Now(), reason
	if err := w.cfg.Store.UpdateCertificate(ctx, c); err != nil {
		return nil, conflictOr(err, "revoking certificate")
	}
	return &response{}, nil
}

// holdsAuthorizations checks that the account has a valid, unexpired authorization for
// every name of cert: for a DNS name one for that name (wildcard or not: both proved
// control of it), for "*." a wildcard one, for an IP address one for that address.
func (w *WFE) holdsAuthorizations(ctx context.Context, accountID string, cert *x509.Certificate) error {
	var ids []wire.Identifier
	for _, n := range cert.DNSNames {
		ids = append(ids, wire.Identifier{Type: wire.IdentifierDNS, Value: n})
	}
	for _, ip := range cert.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			ids = append(ids, wire.Identifier{Type: wire.IdentifierIP, Value: a.Unmap().String()})
		}
	}
	if len(ids) == 0 {
		return wire.UnauthorizedProblem("the certificate was ordered by another account and names nothing this account could hold authorizations for")
	}
	for _, id := range ids {
		base, wildcard := strings.CutPrefix(id.Value, "*.")
		azs, err := w.cfg.Store.ValidAuthorizations(ctx, accountID, wire.Identifier{Type: id.Type, Value: base}, w.cfg.Now())
		if err != nil {
			return fmt.Errorf("looking up authorizations for revocation: %w", err)
		}
		if !slices.ContainsFunc(azs, func(az *store.Authorization) bool { return az.Wildcard || !wildcard }) {
			return wire.UnauthorizedProblem("the certificate was ordered by another account, and this account holds no valid authorization for %q; "+
				"revoke it with the certificate's key, or after validating all its names", id.Value)
		}
	}
	return nil
}

// certID is a certificate's ARI identifier (RFC 9773 §4.1): the authority key identifier
// and the serial's DER value octets, each base64url.
func certID(c *x509.Certificate) string {
	serial := c.SerialNumber.Bytes()
	if len(serial) == 0 || serial[0]&0x80 != 0 {
		serial = append([]byte{0}, serial...)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(c.AuthorityKeyId) + "." + enc(serial)
}

// parseCertID returns the authority key identifier and serial (store form) of an ARI ID.
func parseCertID(id string) (aki []byte, serial string, err error) {
	a, s, ok := strings.Cut(id, ".")
	if ok {
		aki, err = base64.RawURLEncoding.DecodeString(a)
	}
	var sb []byte
	if ok && err == nil {
		sb, err = base64.RawURLEncoding.DecodeString(s)
	}
	if !ok || err != nil || len(sb) == 0 {
		return nil, "", wire.MalformedProblem("%q is not a certificate ID (base64url AKI \".\" base64url serial)", id)
	}
	return aki, hex.EncodeToString(new(big.Int).SetBytes(sb).Bytes()), nil
}

// certificateByID finds the certificate an ARI ID names.
func (w *WFE) certificateByID(ctx context.Context, id string) (*store.Certificate, error) {
	aki, serial, err := parseCertID(id)
	if err != nil {
		return nil, err
	}
	c, err := w.storedCertificate(ctx, serial)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(c.Chain[0])
	if err != nil {
		return nil, fmt.Errorf("parsing stored certificate %s: %w", serial, err)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, aki) {
		return nil, wire.MalformedProblem("certificate ID %q names another issuer", id).WithStatus(http.StatusNotFound)
	}
	return c, nil
}

// replaced checks an order's replaces field (RFC 9773 §5): a certificate of the same
// account that no other order has replaced yet.
func (w *WFE) replaced(ctx context.Context, id string, a *store.Account) (*store.Certificate, error) {
	c, err := w.certificateByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.AccountID != a.ID {
		return nil, wire.UnauthorizedProblem("replaces names a certificate of another account")
	}
	if c.ReplacedBy != "" {
		return nil, wire.AlreadyReplacedProblem("the certificate %q was already replaced by order %q", id, w.orderURL(c.ReplacedBy))
	}
	return c, nil
}

// renewalInfo suggests when to renew (RFC 9773 §4.2): over the sixth of the lifetime that
// starts two thirds in, so that a 1-day and a 90-day certificate both renew with a third
// of their life left; at once for a revoked certificate.
func (w *WFE) renewalInfo(hr *http.Request) (*response, error) {
	c, err := w.certificateByID(hr.Context(), hr.PathValue("id"))
	if err != nil {
		return nil, err
	}
	life := c.NotAfter.Sub(c.NotBefore)
	start := c.NotBefore.Add(life * 2 / 3)
	end := start.Add(life / 6)
	if c.Revoked {
		now := w.cfg.Now()
		start, end = now.Add(-life/6), now
	}
	// Ask again a tenth of the lifetime later, between a minute and six hours.
	retry := min(max(life/10, time.Minute), 6*time.Hour)
	return &response{body: wire.RenewalInfo{SuggestedWindow: wire.Window{Start: start.UTC(), End: end.UTC()}}, retryAfter: retry}, nil
}

// crl serves a CRL of the unexpired revoked certificates, signed by the Issuer. Its number
// is the time in milliseconds, which only grows.
func (w *WFE) crl(hr *http.Request) (*response, error) {
	revoked, err := w.cfg.Store.RevokedCertificates(hr.Context())
	if err != nil {
		return nil, err
	}
	now := w.cfg.Now()
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		if c.NotAfter.Before(now) {
			continue
		}
		serial, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("stored serial %q is not hex", c.Serial)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: c.RevokedAt.UTC(), ReasonCode: c.Reason})
	}
	der, err := w.cfg.Issuer.SignCRL(hr.Context(), CRLRequest{Number: big.NewInt(now.UnixMilli()), ThisUpdate: now,
		NextUpdate: now.Add(crlValidity), Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("signing CRL: %w", err)
	}
	return &response{raw: der, contentType: "application/pkix-crl"}, nil
}
