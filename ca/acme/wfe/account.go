package wfe

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/devca/devca/ca/acme/jws"
	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

// maxContacts bounds an account's contact list.
const maxContacts = 10

func (w *WFE) accountResponse(a *store.Account, status int) *response {
	return &response{status: status, location: w.accountURL(a.ID), body: wire.Account{
		Status:               a.Status,
		Contact:              a.Contact,
		TermsOfServiceAgreed: a.TermsAgreed,
		Orders:               w.url(pathAccount, a.ID, "orders"),
	}}
}

// newAccount creates an account, or returns the one the key already has (RFC 8555 §7.3).
func (w *WFE) newAccount(ctx context.Context, r *request) (*response, error) {
	var req wire.AccountRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	tp, err := jws.Thumbprint(r.key)
	if err != nil {
		return nil, err
	}
	if resp, err := w.existingAccount(ctx, tp); resp != nil || err != nil {
		return resp, err
	}
	if req.OnlyReturnExisting {
		return nil, wire.AccountDoesNotExistProblem("no account has this key")
	}
	eabKID, err := w.checkExternalBinding(ctx, req.ExternalAccountBinding, r)
	if err != nil {
		return nil, err
	}
	if w.cfg.TermsOfService != "" && !req.TermsOfServiceAgreed {
		return nil, wire.MalformedProblem("agree to the terms of service %s with termsOfServiceAgreed", w.cfg.TermsOfService)
	}
	var contact []string
	if req.Contact != nil {
		contact = *req.Contact
	}
	if err := checkContacts(contact); err != nil {
		return nil, err
	}
	key, err := jws.MarshalKey(r.key)
	if err != nil {
		return nil, err
	}
	id, err := w.newID()
	if err != nil {
		return nil, err
	}
	a := &store.Account{ID: id, Status: wire.StatusValid, Key: key, KeyThumbprint: tp, Contact: contact,
		TermsAgreed: req.TermsOfServiceAgreed, CreatedAt: w.cfg.Now(), EABKeyID: eabKID}
	if err := w.cfg.Store.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, store.ErrKeyInUse) { // created at the same moment by another request
			return w.existingAccount(ctx, tp)
		}
		if errors.Is(err, store.ErrEABKeyUnusable) { // bound or revoked since it was read
			return nil, wire.UnauthorizedProblem("externalAccountBinding key %q is revoked or bound to another account; ask the operator for a new one", eabKID)
		}
		return nil, fmt.Errorf("creating account: %w", err)
	}
	return w.accountResponse(a, http.StatusCreated), nil
}

// existingAccount answers newAccount for a key that has an account: 200 with its URL, or
// unauthorized when it is deactivated. Both are nil when the key has none.
func (w *WFE) existingAccount(ctx context.Context, thumbprint string) (*response, error) {
	a, err := w.cfg.Store.AccountByKey(ctx, thumbprint)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("looking up account by key: %w", err)
	case a.Status != wire.StatusValid:
		return nil, wire.UnauthorizedProblem("the account of this key is %s", a.Status)
	}
	return w.accountResponse(a, http.StatusOK), nil
}

// checkContacts accepts mailto: URLs with one plain address each (RFC 8555 §7.3).
func checkContacts(contact []string) error {
	if len(contact) > maxContacts {
		return wire.InvalidContactProblem("%d contacts; at most %d", len(contact), maxContacts)
	}
	for _, c := range contact {
		addr, ok := strings.CutPrefix(c, "mailto:")
		if !ok {
			return wire.UnsupportedContactProblem("contact %q is not a mailto: URL", c)
		}
		parsed, err := mail.ParseAddress(addr)
		if err != nil || parsed.Address != addr || strings.ContainsAny(addr, "?,") {
			return wire.InvalidContactProblem("contact %q is not one plain email address", c)
		}
	}
	return nil
}

// checkExternalBinding verifies the external account binding (RFC 8555 §7.3.4) when the
// server requires one: a JWS by an HMAC key the operator created in the store, over the
// account key. It returns the key's ID, or "" when the server requires no binding (a
// binding sent anyway is then ignored, as §7.3.4 allows). The key must be unrevoked and
// unbound; the store binds it when it creates the account.
func (w *WFE) checkExternalBinding(ctx context.Context, eab wire.RawJSON, r *request) (string, error) {
	if !w.cfg.RequireExternalAccountBinding {
		return "", nil
	}
	if len(eab) == 0 || string(eab) == "null" {
		return "", wire.ExternalAccountRequiredProblem("this server requires externalAccountBinding with a key ID and HMAC key from its operator ('devca acme eab create')")
	}
	sig, err := jose.ParseSignedJSON(string(eab), []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512})
	if err != nil || len(sig.Signatures) != 1 {
		return "", wire.MalformedProblem("externalAccountBinding is not a JWS with an HMAC algorithm")
	}
	h := sig.Signatures[0].Protected
	key, err := w.cfg.Store.EABKey(ctx, h.KeyID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", wire.UnauthorizedProblem("externalAccountBinding key ID %q is unknown", h.KeyID)
	case err != nil:
		return "", fmt.Errorf("looking up external account key: %w", err)
	}
	if u, _ := h.ExtraHeaders["url"].(string); u != r.url {
		return "", wire.MalformedProblem("externalAccountBinding url %q is not %q", u, r.url)
	}
	if h.Nonce != "" {
		return "", wire.MalformedProblem("externalAccountBinding must not have a nonce")
	}
	payload, err := sig.Verify(key.Key)
	if err != nil {
		return "", wire.UnauthorizedProblem("externalAccountBinding signature does not verify with key %q", h.KeyID)
	}
	bound, err := jws.UnmarshalKey(payload)
	if err != nil || !jws.SameKey(bound, r.key) {
		return "", wire.MalformedProblem("externalAccountBinding does not bind this account's key")
	}
	// Said only to whoever holds the HMAC key.
	switch {
	case key.Revoked():
		return "", wire.UnauthorizedProblem("externalAccountBinding key %q was revoked; ask the operator for a new one", h.KeyID)
	case key.AccountID != "":
		return "", wire.UnauthorizedProblem("externalAccountBinding key %q is bound to another account already; a key binds one account", h.KeyID)
	}
	return h.KeyID, nil
}

// account returns, updates or deactivates the requester's own account (RFC 8555 §7.3.2,
// §7.3.6).
func (w *WFE) account(ctx context.Context, r *request) (*response, error) {
	if err := w.ownAccount(r); err != nil {
		return nil, err
	}
	a := r.account
	if r.postAsGet() {
		return w.accountResponse(a, http.StatusOK), nil
	}
	var req wire.AccountRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	changed := false
	switch req.Status {
	case "", wire.StatusValid:
	case wire.StatusDeactivated:
		a.Status, changed = wire.StatusDeactivated, true
	default:
		return nil, wire.MalformedProblem("account status can only become %q", wire.StatusDeactivated)
	}
	if req.Contact != nil && !slices.Equal(*req.Contact, a.Contact) {
		if err := checkContacts(*req.Contact); err != nil {
			return nil, err
		}
		a.Contact, changed = *req.Contact, true
	}
	if changed {
		if err := w.cfg.Store.UpdateAccount(ctx, a); err != nil {
			return nil, conflictOr(err, "updating account")
		}
	}
	return w.accountResponse(a, http.StatusOK), nil
}

// ownAccount refuses a request for another account's URL.
func (w *WFE) ownAccount(r *request) error {
	if id := r.http.PathValue("id"); id != r.account.ID {
		return wire.UnauthorizedProblem("account %q is not the requester's", w.accountURL(id))
	}
	return nil
}

// conflictOr turns a store conflict into a problem the client can retry on, and wraps
// anything else.
func conflictOr(err error, doing string) error {
	if errors.Is(err, store.ErrConflict) {
		return wire.MalformedProblem("the resource changed while %s; retry", doing).WithStatus(http.StatusConflict)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// ordersPerPage bounds a page of an account's orders list.
const ordersPerPage = 100

// accountOrders lists the URLs of the account's orders (RFC 8555 §7.1.2.1), oldest
// first, a page at a time: when more follow, a Link header with rel="next" names the next
// page, whose URL carries the position in its cursor query parameter.
func (w *WFE) accountOrders(ctx context.Context, r *request) (*response, error) {
	if err := w.ownAccount(r); err != nil {
		return nil, err
	}
	if !r.postAsGet() {
		return nil, wire.MalformedProblem("the orders list is read with POST-as-GET (an empty payload)")
	}
	start := 0
	if q := r.http.URL.Query(); q.Has("cursor") {
		n, err := strconv.Atoi(q.Get("cursor"))
		if err != nil || n < 0 {
			return nil, wire.MalformedProblem("cursor %q is not a position in the list", q.Get("cursor"))
		}
		start = n
	}
	ids, err := w.cfg.Store.OrderIDs(ctx, r.account.ID)
	if err != nil {
		return nil, err
	}
	end := min(start+w.ordersPerPage, len(ids))
	list := wire.OrdersList{Orders: []string{}}
	for _, id := range ids[min(start, end):end] {
		list.Orders = append(list.Orders, w.orderURL(id))
	}
	resp := &response{body: list}
	if end < len(ids) {
		resp.links = append(resp.links, link(w.url(pathAccount, r.account.ID, "orders")+"?cursor="+strconv.Itoa(end), "next"))
	}
	return resp, nil
}

// keyChange rolls the account over to a new key (RFC 8555 §7.3.5): the outer JWS is
// signed by the old key, the inner by the new one, and each names the other.
func (w *WFE) keyChange(ctx context.Context, r *request) (*response, error) {
	inner, err := jws.Parse(r.payload)
	if err != nil {
		return nil, wire.MalformedProblem("keyChange inner JWS: %v", err)
	}
	switch {
	case inner.JWK == nil:
		return nil, wire.MalformedProblem("keyChange inner JWS must carry the new key in jwk")
	case inner.URL != r.url:
		return nil, wire.MalformedProblem("keyChange inner JWS url %q is not %q", inner.URL, r.url)
	case inner.Nonce != "":
		return nil, wire.MalformedProblem("keyChange inner JWS must not have a nonce")
	}
	payload, err := inner.Verify(inner.JWK)
	if err != nil {
		return nil, err
	}
	var req wire.KeyChangeRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, wire.MalformedProblem("keyChange inner payload is not a JSON object: %v", err)
	}
	if req.Account != r.msg.KeyID {
		return nil, wire.MalformedProblem("keyChange account %q is not the signer %q", req.Account, r.msg.KeyID)
	}
	old, err := jws.UnmarshalKey(req.OldKey)
	if err != nil || !jws.SameKey(old, r.key) {
		return nil, wire.MalformedProblem("keyChange oldKey is not the account's current key")
	}
	if jws.SameKey(inner.JWK, r.key) {
		return nil, wire.MalformedProblem("keyChange new key is the current key")
	}
	tp, err := jws.Thumbprint(inner.JWK)
	if err != nil {
		return nil, err
	}
	key, err := jws.MarshalKey(inner.JWK)
	if err != nil {
		return nil, err
	}
	a := r.account
	a.Key, a.KeyThumbprint = key, tp
	if err := w.cfg.Store.UpdateAccount(ctx, a); err != nil {
		if errors.Is(err, store.ErrKeyInUse) {
			// RFC 8555 §7.3.5: 409 with the other account's URL in Location.
			p := &locatedProblem{Problem: wire.MalformedProblem("the new key already belongs to an account").WithStatus(http.StatusConflict)}
			if other, err := w.cfg.Store.AccountByKey(ctx, tp); err == nil {
				p.location = w.accountURL(other.ID)
			}
			return nil, p
		}
		return nil, conflictOr(err, "changing account key")
	}
	return w.accountResponse(a, http.StatusOK), nil
}

// newID returns a random identifier for a stored object: 128 bits, base64url.
func (w *WFE) newID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(w.cfg.Rand, b[:]); err != nil {
		return "", fmt.Errorf("reading random ID: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
