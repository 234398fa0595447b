package boltstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/store/storetest"
	"github.com/devca/devca/ca/acme/wire"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(filepath.Join(t.TempDir(), "acme.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acme.db")
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, &store.Account{ID: "a1", KeyThumbprint: "tp"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a, err := s.AccountByKey(ctx, "tp"); err != nil || a.ID != "a1" {
		t.Fatalf("after reopening: %+v, %v", a, err)
	}
}

func TestOpenLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acme.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second Open = %v, want a lock error", err)
	}
}

// TestIndexesOlderFile checks that a file written before the authorization index gets
// the index built when it is opened.
func TestIndexesOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acme.db")
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id := wire.Identifier{Type: wire.IdentifierDNS, Value: "a.test"}
	expires := time.Now().Add(time.Hour)
	az := &store.Authorization{ID: "z1", AccountID: "a1", Status: wire.StatusValid, Identifier: id, Expires: expires}
	if err := s.CreateOrder(ctx, &store.Order{ID: "o1", AccountID: "a1", AuthorizationIDs: []string{"z1"}}, []*store.Authorization{az}); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketAccountAuthzs) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.ValidAuthorizations(ctx, "a1", id, time.Now())
	if err != nil || len(got) != 1 || got[0].ID != "z1" {
		t.Fatalf("ValidAuthorizations after reopening = %v, %v; want z1", got, err)
	}
}
