package wfe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/devca/devca/ca/acme/jws"
	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

// keyKind says how a resource's requests name their key (RFC 8555 §6.2).
type keyKind int

const (
	keyKID    keyKind = iota // an existing account's URL
	keyJWK                   // an embedded key: newAccount
	keyEither                // revokeCert: an account, or the certificate's key
)

// request is a POST whose JWS, URL and nonce have been checked and whose signature
// verified.
type request struct {
	http    *http.Request
	url     string
	msg     *jws.Message
	key     *jose.JSONWebKey
	account *store.Account // nil when the request carries its key in jwk
	payload []byte
}

// postAsGet reports whether the request is a POST-as-GET (RFC 8555 §6.3).
func (r *request) postAsGet() bool { return len(r.payload) == 0 }

// decode parses the payload into v. Unknown fields are ignored, as RFC 8555 §7.3 asks of
// servers.
func (r *request) decode(v any) error {
	if r.postAsGet() {
		return wire.MalformedProblem("request payload is empty; this resource needs a JSON object")
	}
	if err := json.Unmarshal(r.payload, v); err != nil {
		return wire.MalformedProblem("request payload is not the expected JSON object: %v", err)
	}
	return nil
}

// response is what a handler answers: a JSON body unless raw is set.
type response struct {
	status      int
	body        any
	raw         []byte
	contentType string
	location    string
	links       []string
	retryAfter  time.Duration
}

func link(url, rel string) string { return fmt.Sprintf("<%s>;rel=%q", url, rel) }

type handler func(ctx context.Context, r *request) (*response, error)

// post wraps a handler with the checks every ACME POST gets, in the order RFC 8555 §6
// gives them; a request that fails one changes nothing.
func (w *WFE) post(kind keyKind, h handler) http.HandlerFunc {
	return func(rw http.ResponseWriter, hr *http.Request) {
		if hr.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			w.writeProblem(rw, wire.MalformedProblem("method %s is not allowed; ACME resources take POST", hr.Method).WithStatus(http.StatusMethodNotAllowed))
			return
		}
		r, err := w.verify(hr, kind)
		if err != nil {
			w.writeError(rw, err)
			return
		}
		undo, err := w.limitCreation(rw, hr, r)
		if err != nil {
			w.writeError(rw, err)
			return
		}
		resp, err := h(hr.Context(), r)
		if undo != nil && !created(resp, err) {
			undo()
		}
		if err != nil {
			w.writeError(rw, err)
			return
		}
		w.write(rw, resp)
	}
}

func (w *WFE) verify(hr *http.Request, kind keyKind) (*request, error) {
	ct, _, err := mime.ParseMediaType(hr.Header.Get("Content-Type"))
	if err != nil || ct != jws.ContentType {
		return nil, wire.MalformedProblem("Content-Type must be %s", jws.ContentType).WithStatus(http.StatusUnsupportedMediaType)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, hr.Body, w.cfg.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, wire.MalformedProblem("request body is larger than %d bytes", w.cfg.MaxBodyBytes).WithStatus(http.StatusRequestEntityTooLarge)
		}
		return nil, wire.MalformedProblem("reading request body: %v", err)
	}
	msg, err := jws.Parse(body)
	if err != nil {
		return nil, err
	}
	// The JWS names the URL in full, query included (the orders list's cursor).
	r := &request{http: hr, url: w.base + hr.URL.EscapedPath(), msg: msg}
	if hr.URL.RawQuery != "" {
		r.url += "?" + hr.URL.RawQuery
	}
	if msg.URL != r.url {
		return nil, wire.UnauthorizedProblem("JWS url header %q does not match the request URL %q", msg.URL, r.url)
	}
	if msg.Nonce == "" {
		return nil, wire.BadNonceProblem("JWS has no nonce")
	}
	fresh, err := w.nonces.Redeem(hr.Context(), msg.Nonce)
	if err != nil {
		return nil, fmt.Errorf("redeeming nonce: %w", err)
	}
	if !fresh {
		return nil, wire.BadNonceProblem("JWS nonce %q is unknown or was already used; retry with the one in Replay-Nonce", msg.Nonce)
	}
	switch {
	case msg.JWK != nil && kind == keyKID:
		return nil, wire.MalformedProblem("this resource needs a JWS with kid, the account URL, not jwk")
	case msg.KeyID != "" && kind == keyJWK:
		return nil, wire.MalformedProblem("this resource needs a JWS with jwk, the account key, not kid")
	case msg.JWK != nil:
		r.key = msg.JWK
	default:
		if r.account, err = w.accountByKID(hr.Context(), msg.KeyID); err != nil {
			return nil, err
		}
		if r.key, err = jws.UnmarshalKey(r.account.Key); err != nil {
			return nil, fmt.Errorf("reading key of account %s: %w", r.account.ID, err)
		}
	}
	if r.payload, err = msg.Verify(r.key); err != nil {
		return nil, err
	}
	return r, nil
}

// accountByKID returns the valid account a kid names.
func (w *WFE) accountByKID(ctx context.Context, kid string) (*store.Account, error) {
	id, ok := strings.CutPrefix(kid, w.accountURL(""))
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, wire.AccountDoesNotExistProblem("kid %q is not an account URL of this server", kid)
	}
	a, err := w.cfg.Store.Account(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.AccountDoesNotExistProblem("no account %q", kid)
	}
	if err != nil {
		return nil, fmt.Errorf("reading account: %w", err)
	}
	if a.Status != wire.StatusValid {
		return nil, wire.UnauthorizedProblem("account %q is %s", kid, a.Status)
	}
	return a, nil
}

// onlyGET serves a resource that clients GET; HEAD gets the same headers.
func (w *WFE) onlyGET(h func(*http.Request) (*response, error)) http.HandlerFunc {
	return func(rw http.ResponseWriter, hr *http.Request) {
		if hr.Method != http.MethodGet && hr.Method != http.MethodHead {
			rw.Header().Set("Allow", "GET, HEAD")
			w.writeProblem(rw, wire.MalformedProblem("method %s is not allowed; use GET", hr.Method).WithStatus(http.StatusMethodNotAllowed))
			return
		}
		resp, err := h(hr)
		if err != nil {
			w.writeError(rw, err)
			return
		}
		w.write(rw, resp)
	}
}

func (w *WFE) notFound(rw http.ResponseWriter, hr *http.Request) {
	w.writeProblem(rw, wire.MalformedProblem("no resource at %q", hr.URL.Path).WithStatus(http.StatusNotFound))
}

// commonHeaders sets what every response carries: a fresh nonce (RFC 8555 §6.5, on
// errors too, so that a client can retry a badNonce) and the directory link (§7.1).
func (w *WFE) commonHeaders(rw http.ResponseWriter) {
	if n, err := w.nonces.Next(w.ctx); err == nil {
		rw.Header().Set("Replay-Nonce", n)
	} else {
		w.cfg.Log.Error("making nonce", "err", err)
	}
	rw.Header().Add("Link", link(w.url(pathDirectory), "index"))
	rw.Header().Set("Cache-Control", "no-store")
}

func (w *WFE) write(rw http.ResponseWriter, resp *response) {
	w.commonHeaders(rw)
	h := rw.Header()
	if resp.location != "" {
		h.Set("Location", resp.location)
	}
	for _, l := range resp.links {
		h.Add("Link", l)
	}
	if resp.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((resp.retryAfter+time.Second-1)/time.Second)))
	}
	body, ct := resp.raw, resp.contentType
	if resp.body != nil {
		var err error
		if body, err = json.Marshal(resp.body); err != nil {
			w.writeError(rw, fmt.Errorf("encoding response: %w", err))
			return
		}
		ct = "application/json"
	}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	status := resp.status
	if status == 0 {
		status = http.StatusOK
	}
	rw.WriteHeader(status)
	_, _ = rw.Write(body)
}

// writeError answers with err's problem, or with serverInternal for any other error, whose
// text goes to the log and never to the client.
func (w *WFE) writeError(rw http.ResponseWriter, err error) {
	if lp, ok := errors.AsType[*locatedProblem](err); ok && lp.location != "" {
		rw.Header().Set("Location", lp.location)
	}
	p, ok := wire.AsProblem(err)
	if !ok {
		w.cfg.Log.Error("ACME request failed", "err", err)
		p = wire.ServerInternalProblem("the server failed to handle the request; its log says why")
	}
	w.writeProblem(rw, p)
}

func (w *WFE) writeProblem(rw http.ResponseWriter, p *wire.Problem) {
	w.commonHeaders(rw)
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(p)
	rw.Header().Set("Content-Type", wire.ProblemContentType)
	rw.WriteHeader(p.Status)
	_, _ = rw.Write(buf.Bytes())
}

// locatedProblem is a problem answered with a Location header.
type locatedProblem struct {
	*wire.Problem
	location string
}

func (p *locatedProblem) Unwrap() error { return p.Problem }
