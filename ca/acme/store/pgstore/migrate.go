package pgstore

import (
	"context"
	"embed"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema's migrations, applied in order: migrations/NNNN_what.sql takes the schema
// from version NNNN-1 to NNNN. A migration is never edited once released; a change is a
// new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations, checked to be numbered 1, 2, 3…
func migrations() ([]migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_what.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this build of devca creates and works with.
var SchemaVersion = func() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time; a test checks them
	}
	return len(ms)
}()

// SchemaTooNewError is returned by [Open] for a database whose schema a newer devca
// migrated: this build does not know its tables, and writing to them could lose what the
// newer one keeps.
type SchemaTooNewError struct {
	Database int // the database's schema version
	Binary   int // the newest this build knows
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("the database's schema is at version %d, newer than the version %d this devca knows: a newer devca migrated it", e.Database, e.Binary)
}

// migrationLock is the key of the advisory lock that serialises migrations, so that
// servers starting together on a fresh database migrate it once.
const migrationLock = 0x64657663612d6163 // "devca-ac"

// migrate brings the database's schema to [SchemaVersion], in one transaction per
// migration, and refuses a database newer than that.
func migrate(ctx context.Context, db *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for {
		done, err := migrateOne(ctx, db, ms)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next migration, or reports that the schema is current.
func migrateOne(ctx context.Context, db *pgxpool.Pool, ms []migration) (done bool, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("locking the schema for migration: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("creating table schema_version: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&current); err != nil {
			return fmt.Errorf("reading the schema version: %w", err)
		}
		if current > len(ms) {
			return &SchemaTooNewError{Database: current, Binary: len(ms)}
		}
		if current == len(ms) {
			done = true
			return nil
		}
		m := ms[current]
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migrating the schema to version %d (%s): %w", m.version, m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version) VALUES ($1)", m.version); err != nil {
			return fmt.Errorf("recording schema version %d: %w", m.version, err)
		}
		return nil
	})
	return done, err
}
