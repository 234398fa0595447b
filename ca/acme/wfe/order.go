package wfe

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

// notBeforeSlack is how far in the past an order's notBefore may be, for clients whose
// clock is a little behind.
const notBeforeSlack = time.Hour

// retryAfterPolling is the Retry-After of objects still being worked on: validation and
// issuance take a second or two here.
const retryAfterPolling = time.Second

func (w *WFE) orderResponse(o *store.Order, status int) *response {
	wo := wire.Order{
		Status:         o.Status,
		Expires:        timePtr(o.Expires),
		Identifiers:    o.Identifiers,
		NotBefore:      timePtr(o.NotBefore),
		NotAfter:       timePtr(o.NotAfter),
		Error:          o.Error,
		Authorizations: []string{},
		Finalize:       w.url(pathOrder, o.ID, "finalize"),
		Replaces:       o.Replaces,
		Profile:        o.Profile,
	}
	for _, id := range o.AuthorizationIDs {
		wo.Authorizations = append(wo.Authorizations, w.authzURL(id))
	}
	if o.CertificateSerial != "" {
		wo.Certificate = w.certURL(o.CertificateSerial)
	}
	resp := &response{status: status, location: w.orderURL(o.ID), body: wo}
	if o.Status == wire.StatusProcessing {
		resp.retryAfter = retryAfterPolling
	}
	return resp
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// newOrder creates an order and its authorizations (RFC 8555 §7.4), reusing the
// account's valid ones for the same identifiers.
func (w *WFE) newOrder(ctx context.Context, r *request) (*response, error) {
	var req wire.OrderRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	ids, err := normalizeIdentifiers(req.Identifiers)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id.Value
	}
	if err := w.cfg.Issuer.CheckNames(names); err != nil {
		return nil, nameProblems(err, ids)
	}
	now := w.cfg.Now()
	o := &store.Order{AccountID: r.account.ID, Status: wire.StatusPending, Identifiers: ids,
		Expires: now.Add(w.cfg.OrderLifetime), CreatedAt: now}
	if o.Profile, err = w.profile(req.Profile); err != nil {
		return nil, err
	}
	if o.NotBefore, o.NotAfter, err = w.validityRequest(req, o.Profile, now); err != nil {
		return nil, err
	}
	if req.Replaces != "" {
		c, err := w.replaced(ctx, req.Replaces, r.account)
		if err != nil {
			return nil, err
		}
		o.Replaces, o.ReplacesSerial = req.Replaces, c.Serial
	}
	if o.ID, err = w.newID(); err != nil {
		return nil, err
	}
	var authzs []*store.Authorization
	reused := 0
	for _, id := range ids {
		az, err := w.reusableAuthorization(ctx, r.account.ID, id, now)
		if err != nil {
			return nil, err
		}
		if az != nil {
			// The order lives no longer than its authorizations.
			reused++
			o.Expires = minTime(o.Expires, az.Expires)
			o.AuthorizationIDs = append(o.AuthorizationIDs, az.ID)
			continue
		}
		if az, err = w.newAuthorization(id, r.account.ID, o.Expires); err != nil {
			return nil, err
		}
		authzs = append(authzs, az)
		o.AuthorizationIDs = append(o.AuthorizationIDs, az.ID)
	}
	if reused == len(ids) {
		o.Status = wire.StatusReady
	}
	if err := w.cfg.Store.CreateOrder(ctx, o, authzs); err != nil {
		return nil, fmt.Errorf("creating order: %w", err)
	}
	return w.orderResponse(o, http.StatusCreated), nil
}

// reusableAuthorization returns a valid authorization of the account for identifier id
// (RFC 8555 §7.1.4: a server may reuse them across orders) that stays valid for at least
// half an order's lifetime, or nil. Only an authorization for the same name, wildcard or
// not as id is, is reused, so that the order's authorizations answer its identifiers one
// for one; of several, the one that expires last.
func (w *WFE) reusableAuthorization(ctx context.Context, accountID string, id wire.Identifier, now time.Time) (*store.Authorization, error) {
	base, wildcard := strings.CutPrefix(id.Value, "*.")
	azs, err := w.cfg.Store.ValidAuthorizations(ctx, accountID, wire.Identifier{Type: id.Type, Value: base}, now.Add(w.cfg.OrderLifetime/2))
	if err != nil {
		return nil, fmt.Errorf("looking for reusable authorizations: %w", err)
	}
	var best *store.Authorization
	for _, az := range azs {
		if az.Wildcard == wildcard && (best == nil || az.Expires.After(best.Expires)) {
			best = az
		}
	}
	return best, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (w *WFE) newAuthorization(id wire.Identifier, accountID string, expires time.Time) (*store.Authorization, error) {
	azID, err := w.newID()
	if err != nil {
		return nil, err
	}
	base, wildcard := strings.CutPrefix(id.Value, "*.")
	az := &store.Authorization{ID: azID, AccountID: accountID, Status: wire.StatusPending,
		Identifier: wire.Identifier{Type: id.Type, Value: base}, Wildcard: wildcard, Expires: expires}
	for _, typ := range challengeTypes(id, wildcard) {
		chID, err := w.newID()
		if err != nil {
			return nil, err
		}
		// A token of 128 random bits, base64url (RFC 8555 §8.1).
		token, err := w.newID()
		if err != nil {
			return nil, err
		}
		az.Challenges = append(az.Challenges, store.Challenge{ID: chID, Type: typ, Token: token, Status: wire.StatusPending})
	}
	return az, nil
}

// profile returns the profile an order asks for, or the default.
func (w *WFE) profile(name string) (string, error) {
	if name == "" {
		return w.cfg.DefaultProfile, nil
	}
	if _, ok := w.cfg.Profiles[name]; !ok {
		offered := make([]string, 0, len(w.cfg.Profiles))
		for n := range w.cfg.Profiles {
			offered = append(offered, n)
		}
		sort.Strings(offered)
		return "", wire.InvalidProfileProblem("profile %q is not offered; the directory lists %s", name, strings.Join(offered, ", "))
	}
	return name, nil
}

// validityRequest checks the notBefore and notAfter an order asks for (RFC 8555 §7.4):
// they are honoured when the span fits in the profile's lifetime, and refused otherwise,
// never silently shortened.
func (w *WFE) validityRequest(req wire.OrderRequest, profile string, now time.Time) (nb, na time.Time, err error) {
	lifetime := w.cfg.Profiles[profile].Lifetime
	parse := func(field, s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return t, wire.MalformedProblem("%s %q is not an RFC 3339 date-time", field, s)
		}
		return t.UTC(), nil
	}
	if nb, err = parse("notBefore", req.NotBefore); err != nil {
		return
	}
	if na, err = parse("notAfter", req.NotAfter); err != nil {
		return
	}
	start := nb
	if start.IsZero() {
		start = now
	}
	switch {
	case !nb.IsZero() && nb.Before(now.Add(-notBeforeSlack)):
		err = wire.MalformedProblem("notBefore %s is more than %s in the past", req.NotBefore, notBeforeSlack)
	case !nb.IsZero() && nb.After(now.Add(lifetime)):
		err = wire.MalformedProblem("notBefore %s is more than the profile's lifetime (%s) in the future", req.NotBefore, lifetime)
	case !na.IsZero() && !na.After(start):
		err = wire.MalformedProblem("notAfter %s is not after notBefore", req.NotAfter)
	case !na.IsZero() && na.Sub(start) > lifetime:
		err = wire.MalformedProblem("notAfter %s is %s after notBefore; profile %q issues for at most %s",
			req.NotAfter, na.Sub(start).Round(time.Second), profile, lifetime)
	}
	return nb, na, err
}

// order returns the requester's order (RFC 8555 §7.1.3), its status brought up to date.
func (w *WFE) order(ctx context.Context, r *request) (*response, error) {
	if !r.postAsGet() {
		return nil, wire.MalformedProblem("an order is read with POST-as-GET (an empty payload)")
	}
	o, err := w.ownOrder(ctx, r)
	if err != nil {
		return nil, err
	}
	return w.orderResponse(o, http.StatusOK), nil
}

// ownOrder loads the order the URL names, refusing another account's, and refreshes its
// status.
func (w *WFE) ownOrder(ctx context.Context, r *request) (*store.Order, error) {
	id := r.http.PathValue("id")
	o, err := w.cfg.Store.Order(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.MalformedProblem("no order %q", w.orderURL(id)).WithStatus(http.StatusNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading order: %w", err)
	}
	if o.AccountID != r.account.ID {
		return nil, wire.UnauthorizedProblem("order %q belongs to another account", w.orderURL(id))
	}
	return w.refreshOrder(ctx, o)
}

// refreshOrder applies what happened since the order was stored: its expiry, and the
// state of its authorizations (RFC 8555 §7.1.6). The new status is stored before it is
// returned.
func (w *WFE) refreshOrder(ctx context.Context, o *store.Order) (*store.Order, error) {
	if o.Status == wire.StatusProcessing && !w.cfg.Now().Before(o.ProcessingSince.Add(w.cfg.IssuanceTimeout)) {
		return w.resumeIssuance(ctx, o)
	}
	for range 5 {
		status, problem, err := w.orderStatus(ctx, o)
		if err != nil {
			return nil, err
		}
		if status == o.Status {
			return o, nil
		}
		o.Status, o.Error = status, problem
		err = w.cfg.Store.UpdateOrder(ctx, o)
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return nil, fmt.Errorf("updating order status: %w", err)
			}
			return o, nil
		}
		if o, err = w.cfg.Store.Order(ctx, o.ID); err != nil {
			return nil, fmt.Errorf("reading order: %w", err)
		}
	}
	return nil, wire.MalformedProblem("the order kept changing; retry").WithStatus(http.StatusConflict)
}

func (w *WFE) orderStatus(ctx context.Context, o *store.Order) (string, *wire.Problem, error) {
	if o.Status != wire.StatusPending && o.Status != wire.StatusReady {
		return o.Status, o.Error, nil
	}
	if !w.cfg.Now().Before(o.Expires) {
		return wire.StatusInvalid, wire.MalformedProblem("the order expired at %s", o.Expires.UTC().Format(time.RFC3339)), nil
	}
	if o.Status == wire.StatusReady {
		return o.Status, nil, nil
	}
	valid := 0
	for _, id := range o.AuthorizationIDs {
		az, err := w.authorizationNow(ctx, id)
		if err != nil {
			return "", nil, err
		}
		switch az.Status {
		case wire.StatusValid:
			valid++
		case wire.StatusPending:
		default:
			p := wire.UnauthorizedProblem("authorization for %q is %s", az.Identifier.Value, az.Status)
			for _, ch := range az.Challenges {
				if ch.Error != nil {
					p.Subproblems = append(p.Subproblems, ch.Error)
				}
			}
			return wire.StatusInvalid, p, nil
		}
	}
	if valid == len(o.AuthorizationIDs) {
		return wire.StatusReady, nil, nil
	}
	return wire.StatusPending, nil, nil
}

// finalize checks the CSR against the order and has the Issuer sign it (RFC 8555 §7.4).
func (w *WFE) finalize(ctx context.Context, r *request) (*response, error) {
	o, err := w.ownOrder(ctx, r)
	if err != nil {
		return nil, err
	}
	if o.Status != wire.StatusReady {
		return nil, wire.OrderNotReadyProblem("the order is %s, not ready", o.Status)
	}
	var req wire.FinalizeRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	csr, err := parseCSR(req.CSR)
	if err != nil {
		return nil, err
	}
	if _, _, err := checkCSRNames(csr, o.Identifiers); err != nil {
		return nil, err
	}
	// The order is claimed, with the CSR, before anything is signed: a crash from here
	// on leaves it processing with what a later attempt needs (resumeIssuance).
	o.Status, o.CSR, o.ProcessingSince = wire.StatusProcessing, csr.Raw, w.cfg.Now()
	if err := w.cfg.Store.UpdateOrder(ctx, o); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, wire.OrderNotReadyProblem("the order is being finalized by another request")
		}
		return nil, fmt.Errorf("marking order processing: %w", err)
	}
	if o, err = w.issue(ctx, o); err != nil {
		return nil, err
	}
	if o.Status == wire.StatusInvalid && o.Error != nil {
		return nil, o.Error
	}
	return w.orderResponse(o, http.StatusOK), nil
}

// issue has the Issuer sign the CSR of an order this request has claimed (stored as
// processing at o.Version), and stores the outcome: the certificate and the valid order
// in one transaction, or the order invalid with the problem. Both outlive the request, so
// a client that hangs up does not leave the order processing; the Issuer gets
// IssuanceTimeout. When another attempt
// claimed the order meanwhile, nothing is stored and the order is returned as it is now:
// an order gets one certificate at most.
func (w *WFE) issue(ctx context.Context, o *store.Order) (*store.Order, error) {
	ctx = context.WithoutCancel(ctx)
	ictx, cancel := context.WithTimeout(ctx, w.cfg.IssuanceTimeout)
	defer cancel()
	var chain [][]byte
	csr, err := x509.ParseCertificateRequest(o.CSR)
	if err == nil {
		var dnsNames []string
		var ips []net.IP
		if dnsNames, ips, err = checkCSRNames(csr, o.Identifiers); err == nil {
			nb, na := w.validity(o)
			chain, err = w.cfg.Issuer.Issue(ictx, IssueRequest{CSR: csr, DNSNames: dnsNames, IPAddresses: ips,
				NotBefore: nb, NotAfter: na, Profile: o.Profile, CRLURL: w.url(pathCRL)})
		}
	}
	var leaf *x509.Certificate
	if err == nil {
		leaf, err = parseChain(chain)
	}
	if err != nil {
		p, ok := wire.AsProblem(err)
		if !ok {
			w.cfg.Log.Error("issuing certificate", "order", o.ID, "err", err)
			p = wire.ServerInternalProblem("the CA failed to sign the certificate; the server log says why")
		}
		o.Status, o.Error, o.ProcessingSince = wire.StatusInvalid, p, time.Time{}
		err = w.cfg.Store.UpdateOrder(ctx, o)
	} else {
		c := &store.Certificate{Serial: serialHex(leaf), AccountID: o.AccountID, OrderID: o.ID, Chain: chain,
			NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter}
		o.Status, o.CertificateSerial, o.ProcessingSince = wire.StatusValid, c.Serial, time.Time{}
		err = w.cfg.Store.CreateCertificate(ctx, c, o)
	}
	if errors.Is(err, store.ErrConflict) {
		return w.storedOrder(ctx, o.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("storing the outcome of issuance: %w", err)
	}
	return o, nil
}

// resumeIssuance takes over an order left processing for longer than an issuance may
// take, by a server that stopped or crashed before it stored the outcome: it claims the
// order again and signs its stored CSR, so that the client polling it sees it valid.
func (w *WFE) resumeIssuance(ctx context.Context, o *store.Order) (*store.Order, error) {
	w.cfg.Log.Warn("resuming an interrupted issuance", "order", o.ID, "since", o.ProcessingSince)
	o.ProcessingSince = w.cfg.Now()
	if len(o.CSR) == 0 {
		// Only from a store written before the CSR was kept.
		o.Status, o.Error = wire.StatusInvalid, wire.ServerInternalProblem("the issuance was interrupted; create a new order")
		o.ProcessingSince = time.Time{}
	}
	err := w.cfg.Store.UpdateOrder(ctx, o)
	if errors.Is(err, store.ErrConflict) {
		return w.storedOrder(ctx, o.ID) // another request took it over
	}
	if err != nil {
		return nil, fmt.Errorf("claiming interrupted order: %w", err)
	}
	if o.Status != wire.StatusProcessing {
		return o, nil
	}
	return w.issue(ctx, o)
}

func (w *WFE) storedOrder(ctx context.Context, id string) (*store.Order, error) {
	o, err := w.cfg.Store.Order(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading order: %w", err)
	}
	return o, nil
}

// validity returns the certificate's validity: what the order asked for, or the profile's
// lifetime from a minute ago.
func (w *WFE) validity(o *store.Order) (nb, na time.Time) {
	lifetime := w.cfg.Profiles[o.Profile].Lifetime
	nb, na = o.NotBefore, o.NotAfter
	switch {
	case nb.IsZero() && na.IsZero():
		nb = w.cfg.Now().Add(-backdate)
		na = nb.Add(lifetime)
	case nb.IsZero():
		nb = w.cfg.Now().Add(-backdate)
	case na.IsZero():
		na = nb.Add(lifetime)
	}
	return nb, na
}

func parseChain(chain [][]byte) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("the Issuer returned an empty chain")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("parsing the Issuer's certificate: %w", err)
	}
	return leaf, nil
}

// serialHex is a certificate's key in the store and in its URL.
func serialHex(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }
