package wfe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/devca/devca/ca/acme/jws"
	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

func (w *WFE) authzBody(az *store.Authorization) wire.Authorization {
	wa := wire.Authorization{Identifier: az.Identifier, Status: az.Status, Expires: timePtr(az.Expires), Wildcard: az.Wildcard}
	for _, ch := range az.Challenges {
		wa.Challenges = append(wa.Challenges, w.challengeBody(az, ch))
	}
	return wa
}

func (w *WFE) challengeBody(az *store.Authorization, ch store.Challenge) wire.Challenge {
	return wire.Challenge{Type: ch.Type, URL: w.challengeURL(az.ID, ch.ID), Status: ch.Status,
		Token: ch.Token, Validated: timePtr(ch.Validated), Error: ch.Error}
}

func (w *WFE) authzResponse(az *store.Authorization) *response {
	resp := &response{body: w.authzBody(az)}
	if processing(az) {
		resp.retryAfter = retryAfterPolling
	}
	return resp
}

func processing(az *store.Authorization) bool {
	for _, ch := range az.Challenges {
		if ch.Status == wire.StatusProcessing {
			return true
		}
	}
	return false
}

// authorization returns or deactivates the requester's authorization (RFC 8555 §7.5,
// §7.5.2).
func (w *WFE) authorization(ctx context.Context, r *request) (*response, error) {
	az, err := w.ownAuthorization(ctx, r, r.http.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if r.postAsGet() {
		return w.authzResponse(az), nil
	}
	var req wire.AuthorizationUpdate
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	if req.Status != wire.StatusDeactivated {
		return nil, wire.MalformedProblem("an authorization's status can only become %q", wire.StatusDeactivated)
	}
	if az.Status != wire.StatusPending && az.Status != wire.StatusValid {
		return nil, wire.MalformedProblem("the authorization is %s; only pending and valid ones can be deactivated", az.Status)
	}
	az.Status = wire.StatusDeactivated
	if err := w.cfg.Store.UpdateAuthorization(ctx, az); err != nil {
		return nil, conflictOr(err, "deactivating authorization")
	}
	return w.authzResponse(az), nil
}

// ownAuthorization loads an authorization, refusing another account's, with its
// expiry applied and any interrupted validation started again.
func (w *WFE) ownAuthorization(ctx context.Context, r *request, id string) (*store.Authorization, error) {
	az, err := w.authorizationNow(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, wire.MalformedProblem("no authorization %q", w.authzURL(id)).WithStatus(http.StatusNotFound)
	}
	if err != nil {
		return nil, err
	}
	if az.AccountID != r.account.ID {
		return nil, wire.UnauthorizedProblem("authorization %q belongs to another account", w.authzURL(id))
	}
	return az, nil
}

// authorizationNow loads an authorization, turns it expired when its time is up, and
// restarts validations a stopped server left "processing".
func (w *WFE) authorizationNow(ctx context.Context, id string) (*store.Authorization, error) {
	az, err := w.cfg.Store.Authorization(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading authorization: %w", err)
	}
	if (az.Status == wire.StatusPending || az.Status == wire.StatusValid) && !w.cfg.Now().Before(az.Expires) {
		az.Status = wire.StatusExpired
		if err := w.cfg.Store.UpdateAuthorization(ctx, az); err != nil {
			return nil, conflictOr(err, "expiring authorization")
		}
	}
	for _, ch := range az.Challenges {
		if ch.Status == wire.StatusProcessing && az.Status == wire.StatusPending {
			if _, err := w.startValidation(ctx, az, ch); err != nil {
				return nil, err
			}
		}
	}
	return az, nil
}

// challenge returns a challenge, or with a JSON object as payload asks the server to
// validate it (RFC 8555 §7.5.1).
func (w *WFE) challenge(ctx context.Context, r *request) (*response, error) {
	az, err := w.ownAuthorization(ctx, r, r.http.PathValue("authz"))
	if err != nil {
		return nil, err
	}
	i := -1
	for j, ch := range az.Challenges {
		if ch.ID == r.http.PathValue("chall") {
			i = j
		}
	}
	if i < 0 {
		return nil, wire.MalformedProblem("no challenge %q", r.url).WithStatus(http.StatusNotFound)
	}
	if !r.postAsGet() {
		var payload map[string]any
		if err := r.decode(&payload); err != nil {
			return nil, err
		}
		if az.Challenges[i].Status == wire.StatusPending {
			if az.Status != wire.StatusPending {
				return nil, wire.MalformedProblem("the authorization is %s; its challenges can no longer be answered", az.Status)
			}
			az.Challenges[i].Status = wire.StatusProcessing
			if err := w.cfg.Store.UpdateAuthorization(ctx, az); err != nil {
				return nil, conflictOr(err, "starting validation")
			}
			done, err := w.startValidation(ctx, az, az.Challenges[i])
			if err != nil {
				return nil, err
			}
			// A validation on a dev network takes milliseconds: answering
			// with its outcome spares the client a Retry-After of a second
			// (bench/acme.sh measured lego at 1.19 s a certificate, 14x
			// Caddy, which validates within the request). A slow one goes
			// on in the background and the client polls as usual.
			if done != nil {
				select {
				case <-done:
					if fresh, err := w.cfg.Store.Authorization(ctx, az.ID); err == nil {
						az = fresh
					}
				case <-time.After(challengeWait):
				case <-ctx.Done():
				}
			}
		}
	}
	ch := az.Challenges[i]
	resp := &response{body: w.challengeBody(az, ch), links: []string{link(w.authzURL(az.ID), "up")}}
	if ch.Status == wire.StatusProcessing {
		resp.retryAfter = retryAfterPolling
	}
	return resp, nil
}

// challengeWait is how long a challenge's POST waits for the validation it
// started before answering "processing".
const challengeWait = 2 * time.Second

// startValidation runs the Validator for a challenge in the background, once at a time
// per challenge. The channel it returns is closed once the outcome is recorded (or the
// server stops); it is nil when the server is already stopping.
func (w *WFE) startValidation(ctx context.Context, az *store.Authorization, ch store.Challenge) (<-chan struct{}, error) {
	key := az.ID + "/" + ch.ID
	w.mu.Lock()
	defer w.mu.Unlock()
	if done, ok := w.inflight[key]; ok {
		return done, nil
	}
	if w.ctx.Err() != nil {
		return nil, nil
	}
	a, err := w.cfg.Store.Account(ctx, az.AccountID)
	if err != nil {
		return nil, fmt.Errorf("reading account for validation: %w", err)
	}
	k, err := jws.UnmarshalKey(a.Key)
	if err != nil {
		return nil, fmt.Errorf("reading account key for validation: %w", err)
	}
	keyAuth, err := jws.KeyAuthorization(ch.Token, k)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	w.inflight[key] = done
	w.wg.Go(func() {
		defer func() {
			w.mu.Lock()
			delete(w.inflight, key)
			w.mu.Unlock()
			close(done)
		}()
		ran, verr := w.validate(ch.Type, az.Identifier.Value, ch.Token, keyAuth)
		if !ran || w.ctx.Err() != nil {
			return // stopping: the challenge stays processing and resumes after a restart
		}
		if err := w.recordValidation(az.ID, ch.ID, verr); err != nil {
			w.cfg.Log.Error("recording validation", "authorization", az.ID, "challenge", ch.ID, "err", err)
		}
	})
	return done, nil
}

// recordValidation stores a validation's outcome: on success the challenge and the
// authorization become valid; on failure both become invalid at once, with the error
// (RFC 8555 §7.1.6), so that no client polls a pending object for ever.
func (w *WFE) recordValidation(azID, chID string, verr error) error {
	ctx := w.ctx
	for range 5 {
		az, err := w.cfg.Store.Authorization(ctx, azID)
		if err != nil {
			return err
		}
		var ch *store.Challenge
		for i := range az.Challenges {
			if az.Challenges[i].ID == chID {
				ch = &az.Challenges[i]
			}
		}
		if ch == nil || ch.Status != wire.StatusProcessing {
			return nil
		}
		if az.Status != wire.StatusPending {
			ch.Status = wire.StatusInvalid
			ch.Error = wire.MalformedProblem("the authorization became %s during validation", az.Status)
		} else if verr == nil {
			ch.Status, ch.Validated, az.Status = wire.StatusValid, w.cfg.Now(), wire.StatusValid
		} else {
			ch.Status, ch.Error, az.Status = wire.StatusInvalid, w.validationProblem(verr), wire.StatusInvalid
		}
		err = w.cfg.Store.UpdateAuthorization(ctx, az)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return errors.New("authorization kept changing")
}

// validationProblem is how a Validator's error reaches the client.
func (w *WFE) validationProblem(err error) *wire.Problem {
	p, ok := wire.AsProblem(err)
	switch {
	case ok:
	case errors.Is(err, context.DeadlineExceeded):
		p = wire.ConnectionProblem("validation timed out after %s", w.cfg.ValidationTimeout)
	default:
		p = wire.IncorrectResponseProblem("%v", err)
	}
	c := *p
	c.Status = 0 // a challenge's error is not an HTTP response
	return &c
}
