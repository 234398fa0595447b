package pgnonce

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devca/devca/ca/acme/store/pgstore"
	"github.com/devca/devca/ca/acme/store/pgstore/pgtest"
)

var cluster pgtest.Shared

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }

// servers opens n stores on one new database, as n servers do, and returns their pools.
func servers(t *testing.T, n int) []*pgstore.Store {
	t.Helper()
	url := cluster.NewDatabase(t)
	var out []*pgstore.Store
	for range n {
		s, err := pgstore.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// TestCrossServerSingleUse issues nonces on one server and has four servers redeem each
// at once: exactly one of them accepts it.
func TestCrossServerSingleUse(t *testing.T) {
	ctx := context.Background()
	stores := servers(t, 4)
	var srcs []*Source
	for _, s := range stores {
		srcs = append(srcs, New(s.Pool(), Config{}))
	}
	for i := range 50 {
		n, err := srcs[i%4].Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var accepted atomic.Int32
		var wg sync.WaitGroup
		for _, src := range srcs {
			wg.Go(func() {
				ok, err := src.Redeem(ctx, n)
				if err != nil {
					t.Error(err)
				}
				if ok {
					accepted.Add(1)
				}
			})
		}
		wg.Wait()
		if got := accepted.Load(); got != 1 {
			t.Fatalf("nonce %d was accepted %d times by four servers, want once", i, got)
		}
	}
	if ok, err := srcs[0].Redeem(ctx, "never-issued"); ok || err != nil {
		t.Errorf("an unknown nonce: %v, %v", ok, err)
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	s := servers(t, 1)[0]
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	src := New(s.Pool(), Config{Lifetime: time.Minute, Now: clock})
	early, _ := src.Next(ctx)
	late, _ := src.Next(ctx)
	now = now.Add(59 * time.Second)
	if ok, err := src.Redeem(ctx, early); !ok || err != nil {
		t.Fatalf("a nonce within its lifetime: %v, %v", ok, err)
	}
	now = now.Add(time.Second)
	if ok, err := src.Redeem(ctx, late); ok || err != nil {
		t.Fatalf("a nonce at the end of its lifetime was accepted (%v)", err)
	}
}

// TestBounded issues many nonces with a small capacity: the table stays small, the
// oldest are forgotten, the newest still work, and expired rows go at the next prune.
func TestBounded(t *testing.T) {
	ctx := context.Background()
	s := servers(t, 1)[0]
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	src := New(s.Pool(), Config{Capacity: 10, Lifetime: time.Minute, Now: func() time.Time { return now }})
	var issued []string
	for range 300 {
		n, err := src.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, n)
	}
	count := func() int {
		var c int
		if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM nonces").Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := count(); c > 10+pruneEvery {
		t.Errorf("%d nonces kept with capacity 10", c)
	}
	if ok, _ := src.Redeem(ctx, issued[0]); ok {
		t.Error("the oldest nonce survived past capacity")
	}
	if ok, _ := src.Redeem(ctx, issued[len(issued)-1]); !ok {
		t.Error("the newest nonce was forgotten")
	}
	now = now.Add(time.Hour)
	for range pruneEvery {
		src.Next(ctx)
	}
	if c := count(); c > pruneEvery {
		t.Errorf("%d nonces kept an hour after they expired", c)
	}
}
