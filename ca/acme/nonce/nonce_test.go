package nonce

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"testing"
)

// redeem is Redeem for a Service, which never fails.
func redeem(s *Service, n string) bool {
	ok, _ := s.Redeem(context.Background(), n)
	return ok
}

func next(s *Service) string {
	n, _ := s.Next(context.Background())
	return n
}

func TestRedeem(t *testing.T) {
	s := New(3, rand.Reader)
	a, b := next(s), next(s)
	for i, tc := range []struct {
		nonce string
		want  bool
	}{
		{a, true},
		{a, false}, // single use
		{"", false},
		{"unknown", false},
		{b, true},
	} {
		if got := redeem(s, tc.nonce); got != tc.want {
			t.Errorf("Test %d: Redeem(%q) = %v, want %v", i, tc.nonce, got, tc.want)
		}
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 16 {
		t.Errorf("nonce %q is not 128 bits of base64url: %v", a, err)
	}
}

func TestCapacityForgetsOldest(t *testing.T) {
	s := New(2, rand.Reader)
	first, second, third := next(s), next(s), next(s)
	if redeem(s, first) {
		t.Error("the oldest nonce survived past capacity")
	}
	if !redeem(s, second) || !redeem(s, third) {
		t.Error("a recent nonce was forgotten")
	}
	if len(s.valid) != 0 {
		t.Errorf("%d nonces still outstanding", len(s.valid))
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestNextRandFailure(t *testing.T) {
	if _, err := New(1, failReader{}).Next(context.Background()); err == nil {
		t.Fatal("Next succeeded without randomness")
	}
}

func TestConcurrent(t *testing.T) {
	s := New(0, rand.Reader)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				n, err := s.Next(context.Background())
				if err != nil || !redeem(s, n) {
					t.Error("concurrent nonce failed")
					return
				}
			}
		})
	}
	wg.Wait()
}
