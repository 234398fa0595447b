// Package nonce issues the anti-replay nonces of ACME (RFC 8555 §6.5): each is random,
// accepted once, and forgotten after use or when too many newer ones are outstanding.
//
// The front end takes them from a [Source]. [Service] keeps them in memory: after a
// restart every old nonce is unknown, the client gets badNonce with a fresh one in
// Replay-Nonce, and retries, as RFC 8555 §6.5 makes clients do, so nothing needs to
// survive. Several servers behind one address share a Source in their database instead
// (package pgnonce), so that a nonce one of them issued is accepted by another.
package nonce

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"sync"
)

// DefaultCapacity is how many outstanding nonces a [Service] keeps by default: far more
// than a development server's clients hold at once, and only a few MiB at most.
const DefaultCapacity = 1 << 16

// Source issues and redeems nonces. Implementations are safe for concurrent use.
type Source interface {
	// Next returns a fresh nonce.
	Next(ctx context.Context) (string, error)
	// Redeem reports whether nonce was issued and not yet redeemed, and makes it
	// unusable, so that of several concurrent calls with one nonce at most one gets true.
	// An error means the source could not tell.
	Redeem(ctx context.Context, nonce string) (bool, error)
}

// Random returns a fresh nonce from rand: 128 random bits, base64url-encoded as
// RFC 8555 §6.5.1 asks.
func Random(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("reading random nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Service is a [Source] in memory, for one server. It is safe for concurrent use.
type Service struct {
	rand io.Reader

	mu    sync.Mutex
	valid map[string]struct{}
	ring  []string // issued nonces, oldest first once full; an entry may already be redeemed
	next  int
}

// New returns a Service that keeps at most capacity outstanding nonces (the oldest are
// forgotten first) and draws them from rand.
func New(capacity int, rand io.Reader) *Service {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Service{rand: rand, valid: make(map[string]struct{}, capacity), ring: make([]string, capacity)}
}

var _ Source = (*Service)(nil)

// Next implements [Source] with [Random].
func (s *Service) Next(context.Context) (string, error) {
	n, err := Random(s.rand)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.ring[s.next]; old != "" {
		delete(s.valid, old)
	}
	s.ring[s.next] = n
	s.next = (s.next + 1) % len(s.ring)
	s.valid[n] = struct{}{}
	return n, nil
}

// Redeem implements [Source]; it never fails.
func (s *Service) Redeem(_ context.Context, n string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.valid[n]; !ok {
		return false, nil
	}
	delete(s.valid, n)
	return true, nil
}
