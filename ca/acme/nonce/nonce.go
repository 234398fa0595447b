// Package nonce issues the anti-replay nonces of ACME (RFC 8555 §6.5): each is random,
// accepted once, and forgotten after use or when too many newer ones are outstanding.
//
// Nonces live in memory only. After a restart every old nonce is unknown, the client gets
// badNonce with a fresh one in Replay-Nonce, and retries: RFC 8555 §6.5 makes clients do
// that, so nothing needs to survive.
package nonce

import (
	"encoding/base64"
	"fmt"
	"io"
	"sync"
)

// DefaultCapacity is how many outstanding nonces a [Service] keeps by default: far more
// than a development server's clients hold at once, and only a few MiB at most.
const DefaultCapacity = 1 << 16

// Service issues and redeems nonces. It is safe for concurrent use.
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

// Next returns a fresh nonce: 128 random bits, base64url-encoded as RFC 8555 §6.5.1 asks.
func (s *Service) Next() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("reading random nonce: %w", err)
	}
	n := base64.RawURLEncoding.EncodeToString(b[:])
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

// Redeem reports whether n was issued and not yet redeemed, and makes it unusable.
func (s *Service) Redeem(n string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.valid[n]; !ok {
		return false
	}
	delete(s.valid, n)
	return true
}
