package pgstore

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/store/pgstore/pgtest"
	"github.com/devca/devca/ca/acme/store/storetest"
	"github.com/devca/devca/ca/acme/wire"
)

var cluster pgtest.Shared

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }

func open(t *testing.T, url string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, cluster.NewDatabase(t)) })
}

// TestTwoStoresOneDatabase checks that what one server writes another reads, and that
// of two servers moving the same order on from the same version only one succeeds: the
// compare-and-swap that makes one finalize sign once.
func TestTwoStoresOneDatabase(t *testing.T) {
	url := cluster.NewDatabase(t)
	a, b := open(t, url), open(t, url)
	ctx := context.Background()
	o := &store.Order{ID: "o1", AccountID: "acct", Status: wire.StatusReady}
	if err := a.CreateOrder(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		oa, err := a.Order(ctx, "o1")
		if err != nil {
			t.Fatal(err)
		}
		ob, err := b.Order(ctx, "o1")
		if err != nil {
			t.Fatal(err)
		}
		if oa.Version != ob.Version {
			t.Fatalf("round %d: the servers read versions %d and %d", round, oa.Version, ob.Version)
		}
		oa.Status, ob.Status = wire.StatusProcessing, wire.StatusProcessing
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = a.UpdateOrder(ctx, oa) })
		wg.Go(func() { errs[1] = b.UpdateOrder(ctx, ob) })
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of two concurrent updates from one version succeeded (%v)", round, won, errs)
		}
	}
}

// conn connects to url directly, as another program would, for the test to look.
func conn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func schemaVersion(t *testing.T, url string) int {
	t.Helper()
	var v int
	if err := conn(t, url).QueryRow(context.Background(), "SELECT max(version) FROM schema_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	if _, err := conn(t, url).Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func TestMigrations(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != SchemaVersion || SchemaVersion < 2 {
		t.Fatalf("%d migrations, SchemaVersion %d", len(ms), SchemaVersion)
	}

	t.Run("fresh database", func(t *testing.T) {
		url := cluster.NewDatabase(t)
		// Servers that start together migrate once.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { open(t, url) })
		}
		wg.Wait()
		if v := schemaVersion(t, url); v != SchemaVersion {
			t.Fatalf("schema version %d after Open, want %d", v, SchemaVersion)
		}
		exec(t, url, "SELECT id, value, expires FROM nonces; SELECT id, key_thumbprint, data FROM accounts; SELECT kid, hmac_key, account_id, revoked_at FROM eab_keys")
	})

	t.Run("older database", func(t *testing.T) {
		url := cluster.NewDatabase(t)
		// A database left at version 1 by an earlier devca, with a record in it.
		exec(t, url, "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
		exec(t, url, ms[0].sql)
		exec(t, url, "INSERT INTO schema_version (version) VALUES (1)")
		exec(t, url, `INSERT INTO accounts (id, version, key_thumbprint, data) VALUES ('a1', 3, 'tp', '{"ID":"a1","Status":"valid"}')`)
		s := open(t, url)
		if v := schemaVersion(t, url); v != SchemaVersion {
			t.Fatalf("schema version %d after Open, want %d", v, SchemaVersion)
		}
		a, err := s.AccountByKey(context.Background(), "tp")
		if err != nil || a.ID != "a1" || a.Version != 3 {
			t.Fatalf("the account of version 1 after migrating: %+v, %v", a, err)
		}
	})

	t.Run("newer database", func(t *testing.T) {
		url := cluster.NewDatabase(t)
		open(t, url).Close()
		exec(t, url, "INSERT INTO schema_version (version) VALUES (99)")
		_, err := Open(context.Background(), url)
		var tooNew *SchemaTooNewError
		if !errors.As(err, &tooNew) || tooNew.Database != 99 || tooNew.Binary != SchemaVersion {
			t.Fatalf("Open of a newer schema = %v, want a SchemaTooNewError", err)
		}
		for _, want := range []string{"version 99", "version " + strconv.Itoa(SchemaVersion), "newer devca"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if v := schemaVersion(t, url); v != 99 {
			t.Errorf("the refused database's version changed to %d", v)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, tc := range []struct {
		url, want string
	}{
		{"postgres://u:secret@/db?host=/nonexistent-devca-socket-dir", "connecting to PostgreSQL"},
		{"postgres://u:secret@host:notaport/db", "reading the PostgreSQL URL"},
	} {
		_, err := Open(ctx, tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Test %d: Open(%q) = %v, want %q and no password", i, tc.url, err, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	for i, tc := range []struct{ in, want string }{
		{"postgres://u:pw@db.test:5432/acme", "postgres://u:xxxxx@db.test:5432/acme"},
		{"postgres://u@/acme?host=/run/pg&password=pw", "postgres://u@/acme?host=%2Frun%2Fpg&password=xxxxx"},
		{"host=db password=pw", "(a connection string)"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Test %d: Redact(%q) = %q, want %q", i, tc.in, got, tc.want)
		}
	}
}
