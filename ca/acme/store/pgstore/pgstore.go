// Package pgstore implements [store.Store] in PostgreSQL, so that several ACME servers
// share one state: an account, order or certificate written by one is read by the others.
//
// # Schema
//
// [Open] creates the tables and migrates them: the schema is versioned, each version's
// SQL is embedded in the binary (migrations/), and the table schema_version lists the
// versions applied. Servers that start together migrate once (an advisory lock). A
// database whose schema is newer than this build knows is refused with a
// [*SchemaTooNewError] rather than written to. devca expects a database of its own: the
// tables are named accounts, orders, authorizations, certificates, nonces, eab_keys and
// schema_version.
//
// One table per record type; the columns are what is looked up or compared (IDs, the
// version, the account key's thumbprint, an order's account, revocation) and the record
// itself is a jsonb column.
//
// # Concurrency
//
// Every update is one statement, UPDATE … WHERE id = $1 AND version = $2, so it is a
// compare-and-swap in the database: of two servers that read the same version, one
// changes the row and the other gets [store.ErrConflict]. That is how one finalize
// signs once: the front end moves the order from ready to processing with such an
// update before it asks the CA to sign, and only one server's update succeeds. Writes
// that touch several rows (an order and its authorizations, a certificate and its order)
// are one transaction. Each method returns after PostgreSQL committed.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

// Store is a [store.Store] in PostgreSQL.
type Store struct {
	db *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at connURL (postgres://…, or a key=value connection
// string), brings its schema to [SchemaVersion], and returns the store.
func Open(ctx context.Context, connURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(connURL)
	if err != nil {
		// pgx's parse errors quote the URL with the password masked.
		return nil, fmt.Errorf("reading the PostgreSQL URL: %w", err)
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %q: %w", Redact(connURL), err)
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %q: %w", Redact(connURL), err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing PostgreSQL database %q: %w", Redact(connURL), err)
	}
	return &Store{db: db}, nil
}

// Redact returns a connection URL with its password replaced by "xxxxx", for messages.
func Redact(connURL string) string {
	u, err := url.Parse(connURL)
	if err != nil || u.Scheme == "" {
		return "(a connection string)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Pool is the store's connection pool, for the nonce source (package nonce/pgnonce)
// that uses the nonces table of the same schema.
func (s *Store) Pool() *pgxpool.Pool { return s.db }

// Close closes the connections.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

// rowErr maps a missing row to [store.ErrNotFound].
func rowErr(what, id string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("reading %s %q: %w", what, id, store.ErrNotFound)
	}
	return fmt.Errorf("reading %s %q: %w", what, id, err)
}

// insertErr maps a unique violation to [store.ErrKeyInUse] for the account key and to
// [store.ErrConflict] for an ID that exists.
func insertErr(what, id string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		if pe.ConstraintName == "accounts_key_thumbprint_key" {
			return fmt.Errorf("writing %s %q: %w", what, id, store.ErrKeyInUse)
		}
		return fmt.Errorf("creating %s %q: %w", what, id, store.ErrConflict)
	}
	return fmt.Errorf("writing %s %q: %w", what, id, err)
}

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// updated turns the result of a compare-and-swap UPDATE into nil, ErrConflict (the row
// moved on) or ErrNotFound (there is no row).
func updated(ctx context.Context, q querier, tag pgconn.CommandTag, err error, table, keyCol, what, id string) error {
	if err != nil {
		return insertErr(what, id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+" WHERE "+keyCol+" = $1)", id).Scan(&exists); err != nil {
		return fmt.Errorf("updating %s %q: %w", what, id, err)
	}
	if !exists {
		return fmt.Errorf("updating %s %q: %w", what, id, store.ErrNotFound)
	}
	return fmt.Errorf("updating %s %q: %w", what, id, store.ErrConflict)
}

// scanRecord reads a (version, data) row into rec, whose Version field is version.
func scanRecord(row pgx.Row, rec any, version *int64) error {
	var v int64
	var data []byte
	if err := row.Scan(&v, &data); err != nil {
		return err
	}
	if err := json.Unmarshal(data, rec); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	*version = v
	return nil
}

// CreateAccount implements [store.Store].
func (s *Store) CreateAccount(ctx context.Context, a *store.Account) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO accounts (id, version, key_thumbprint, data) VALUES ($1, $2, $3, $4)",
			a.ID, a.Version, a.KeyThumbprint, data)
		if err != nil {
			return insertErr("account", a.ID, err)
		}
		if a.EABKeyID == "" {
			return nil
		}
		boundAt := a.CreatedAt
		if boundAt.IsZero() {
			boundAt = time.Now()
		}
		// Of two accounts racing for one key, the second's UPDATE waits for the first
		// to commit and then finds account_id set.
		tag, err := tx.Exec(ctx, "UPDATE eab_keys SET account_id = $2, bound_at = $3 WHERE kid = $1 AND account_id IS NULL AND revoked_at IS NULL",
			a.EABKeyID, a.ID, boundAt)
		if err != nil {
			return fmt.Errorf("binding external account key %q: %w", a.EABKeyID, err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("binding external account key %q: %w", a.EABKeyID, store.ErrEABKeyUnusable)
		}
		return nil
	})
}

// Account implements [store.Store].
func (s *Store) Account(ctx context.Context, id string) (*store.Account, error) {
	var a store.Account
	if err := scanRecord(s.db.QueryRow(ctx, "SELECT version, data FROM accounts WHERE id = $1", id), &a, &a.Version); err != nil {
		return nil, rowErr("account", id, err)
	}
	return &a, nil
}

// AccountByKey implements [store.Store].
func (s *Store) AccountByKey(ctx context.Context, thumbprint string) (*store.Account, error) {
	var a store.Account
	if err := scanRecord(s.db.QueryRow(ctx, "SELECT version, data FROM accounts WHERE key_thumbprint = $1", thumbprint), &a, &a.Version); err != nil {
		return nil, rowErr("account by key", thumbprint, err)
	}
	return &a, nil
}

// UpdateAccount implements [store.Store].
func (s *Store) UpdateAccount(ctx context.Context, a *store.Account) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, "UPDATE accounts SET version = version + 1, key_thumbprint = $3, data = $4 WHERE id = $1 AND version = $2",
		a.ID, a.Version, a.KeyThumbprint, data)
	if err := updated(ctx, s.db, tag, err, "accounts", "id", "account", a.ID); err != nil {
		return err
	}
	a.Version++
	return nil
}

// CreateOrder implements [store.Store].
func (s *Store) CreateOrder(ctx context.Context, o *store.Order, authzs []*store.Authorization) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		for _, az := range authzs {
			data, err := json.Marshal(az)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO authorizations (id, version, data) VALUES ($1, $2, $3)", az.ID, az.Version, data); err != nil {
				return insertErr("authorization", az.ID, err)
			}
		}
		data, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO orders (id, version, account_id, data) VALUES ($1, $2, $3, $4)", o.ID, o.Version, o.AccountID, data); err != nil {
			return insertErr("order", o.ID, err)
		}
		return nil
	})
}

// Order implements [store.Store].
func (s *Store) Order(ctx context.Context, id string) (*store.Order, error) {
	var o store.Order
	if err := scanRecord(s.db.QueryRow(ctx, "SELECT version, data FROM orders WHERE id = $1", id), &o, &o.Version); err != nil {
		return nil, rowErr("order", id, err)
	}
	return &o, nil
}

// UpdateOrder implements [store.Store]. It is the compare-and-swap that lets only one
// finalize of an order sign (see the package documentation).
func (s *Store) UpdateOrder(ctx context.Context, o *store.Order) error {
	if err := updateOrder(ctx, s.db, o); err != nil {
		return err
	}
	o.Version++
	return nil
}

// updateOrder writes o if its version is still the stored one; the caller bumps
// o.Version once the change is committed.
func updateOrder(ctx context.Context, q querier, o *store.Order) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	tag, err := q.Exec(ctx, "UPDATE orders SET version = version + 1, data = $3 WHERE id = $1 AND version = $2", o.ID, o.Version, data)
	return updated(ctx, q, tag, err, "orders", "id", "order", o.ID)
}

// OrderIDs implements [store.Store].
func (s *Store) OrderIDs(ctx context.Context, accountID string) ([]string, error) {
	rows, err := s.db.Query(ctx, "SELECT id FROM orders WHERE account_id = $1 ORDER BY seq", accountID)
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	return ids, nil
}

// Authorization implements [store.Store].
func (s *Store) Authorization(ctx context.Context, id string) (*store.Authorization, error) {
	var a store.Authorization
	if err := scanRecord(s.db.QueryRow(ctx, "SELECT version, data FROM authorizations WHERE id = $1", id), &a, &a.Version); err != nil {
		return nil, rowErr("authorization", id, err)
	}
	return &a, nil
}

// ValidAuthorizations implements [store.Store]. The index from migration 3 finds the
// account's authorizations for the identifier; status and expiry are checked on the
// decoded records, as the other store does.
func (s *Store) ValidAuthorizations(ctx context.Context, accountID string, id wire.Identifier, after time.Time) ([]*store.Authorization, error) {
	rows, err := s.db.Query(ctx, `SELECT version, data FROM authorizations
		WHERE data->>'AccountID' = $1 AND data->'Identifier'->>'type' = $2 AND data->'Identifier'->>'value' = $3`,
		accountID, id.Type, id.Value)
	if err != nil {
		return nil, fmt.Errorf("listing valid authorizations: %w", err)
	}
	defer rows.Close()
	var out []*store.Authorization
	for rows.Next() {
		var a store.Authorization
		if err := scanRecord(rows, &a, &a.Version); err != nil {
			return nil, fmt.Errorf("listing valid authorizations: %w", err)
		}
		if a.Status == wire.StatusValid && a.Expires.After(after) {
			out = append(out, &a)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing valid authorizations: %w", err)
	}
	return out, nil
}

// UpdateAuthorization implements [store.Store].
func (s *Store) UpdateAuthorization(ctx context.Context, a *store.Authorization) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, "UPDATE authorizations SET version = version + 1, data = $3 WHERE id = $1 AND version = $2", a.ID, a.Version, data)
	if err := updated(ctx, s.db, tag, err, "authorizations", "id", "authorization", a.ID); err != nil {
		return err
	}
	a.Version++
	return nil
}

// CreateCertificate implements [store.Store].
func (s *Store) CreateCertificate(ctx context.Context, c *store.Certificate, o *store.Order) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO certificates (serial, version, revoked, data) VALUES ($1, $2, $3, $4)",
			c.Serial, c.Version, c.Revoked, data); err != nil {
			return insertErr("certificate", c.Serial, err)
		}
		if o.ReplacesSerial != "" {
			var old store.Certificate
			row := tx.QueryRow(ctx, "SELECT version, data FROM certificates WHERE serial = $1 FOR UPDATE", o.ReplacesSerial)
			if err := scanRecord(row, &old, &old.Version); err != nil {
				return fmt.Errorf("marking replaced certificate: %w", rowErr("certificate", o.ReplacesSerial, err))
			}
			if old.ReplacedBy == "" {
				old.ReplacedBy = o.ID
				data, err := json.Marshal(&old)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "UPDATE certificates SET version = version + 1, data = $2 WHERE serial = $1", old.Serial, data); err != nil {
					return fmt.Errorf("marking replaced certificate %q: %w", old.Serial, err)
				}
			}
		}
		return updateOrder(ctx, tx, o)
	})
	if err != nil {
		return err
	}
	o.Version++
	return nil
}

// Certificate implements [store.Store].
func (s *Store) Certificate(ctx context.Context, serial string) (*store.Certificate, error) {
	var c store.Certificate
	if err := scanRecord(s.db.QueryRow(ctx, "SELECT version, data FROM certificates WHERE serial = $1", serial), &c, &c.Version); err != nil {
		return nil, rowErr("certificate", serial, err)
	}
	return &c, nil
}

// UpdateCertificate implements [store.Store].
func (s *Store) UpdateCertificate(ctx context.Context, c *store.Certificate) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, "UPDATE certificates SET version = version + 1, revoked = $3, data = $4 WHERE serial = $1 AND version = $2",
		c.Serial, c.Version, c.Revoked, data)
	if err := updated(ctx, s.db, tag, err, "certificates", "serial", "certificate", c.Serial); err != nil {
		return err
	}
	c.Version++
	return nil
}

// RevokedCertificates implements [store.Store].
func (s *Store) RevokedCertificates(ctx context.Context) ([]*store.Certificate, error) {
	rows, err := s.db.Query(ctx, "SELECT version, data FROM certificates WHERE revoked ORDER BY serial")
	if err != nil {
		return nil, fmt.Errorf("listing revoked certificates: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Certificate, error) {
		var c store.Certificate
		err := scanRecord(row, &c, &c.Version)
		return &c, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing revoked certificates: %w", err)
	}
	return out, nil
}

// CreateEABKey implements [store.Store].
func (s *Store) CreateEABKey(ctx context.Context, k *store.EABKey) error {
	_, err := s.db.Exec(ctx, "INSERT INTO eab_keys (kid, hmac_key, note, created_at) VALUES ($1, $2, $3, $4)",
		k.KID, k.Key, k.Note, k.CreatedAt)
	if err != nil {
		return insertErr("external account key", k.KID, err)
	}
	return nil
}

const eabColumns = "kid, hmac_key, note, created_at, coalesce(account_id, ''), bound_at, revoked_at"

func scanEABKey(row pgx.Row) (*store.EABKey, error) {
	var k store.EABKey
	var bound, revoked *time.Time
	if err := row.Scan(&k.KID, &k.Key, &k.Note, &k.CreatedAt, &k.AccountID, &bound, &revoked); err != nil {
		return nil, err
	}
	if bound != nil {
		k.BoundAt = *bound
	}
	if revoked != nil {
		k.RevokedAt = *revoked
	}
	return &k, nil
}

// EABKey implements [store.Store].
func (s *Store) EABKey(ctx context.Context, kid string) (*store.EABKey, error) {
	k, err := scanEABKey(s.db.QueryRow(ctx, "SELECT "+eabColumns+" FROM eab_keys WHERE kid = $1", kid))
	if err != nil {
		return nil, rowErr("external account key", kid, err)
	}
	return k, nil
}

// ListEABKeys implements [store.Store].
func (s *Store) ListEABKeys(ctx context.Context) ([]*store.EABKey, error) {
	rows, err := s.db.Query(ctx, "SELECT "+eabColumns+" FROM eab_keys ORDER BY created_at, kid")
	if err != nil {
		return nil, fmt.Errorf("listing external account keys: %w", err)
	}
	defer rows.Close()
	var out []*store.EABKey
	for rows.Next() {
		k, err := scanEABKey(rows)
		if err != nil {
			return nil, fmt.Errorf("listing external account keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing external account keys: %w", err)
	}
	return out, nil
}

// RevokeEABKey implements [store.Store].
func (s *Store) RevokeEABKey(ctx context.Context, kid string, at time.Time) error {
	tag, err := s.db.Exec(ctx, "UPDATE eab_keys SET revoked_at = coalesce(revoked_at, $2) WHERE kid = $1", kid, at)
	if err != nil {
		return fmt.Errorf("revoking external account key %q: %w", kid, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("revoking external account key %q: %w", kid, store.ErrNotFound)
	}
	return nil
}
