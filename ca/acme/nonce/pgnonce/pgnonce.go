// Package pgnonce is a [nonce.Source] in PostgreSQL, for several ACME servers behind one
// address: a nonce issued by one is accepted by any of them, once.
//
// Each nonce is a row of the nonces table, which package pgstore's migrations create (open
// the store first and pass its pool). Redeeming deletes the row (DELETE … RETURNING), so
// of two servers given the same nonce at once exactly one gets the row. A nonce expires
// after [Config.Lifetime], and the table stays bounded: every pruneEvery-th nonce issued
// deletes the expired ones and all but the newest [Config.Capacity].
package pgnonce

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devca/devca/ca/acme/nonce"
)

// Defaults of [Config].
const (
	// DefaultLifetime is far longer than a client keeps a nonce (it uses it at its next
	// request) and short enough that the table holds few.
	DefaultLifetime = time.Hour
	// DefaultCapacity matches the in-memory service's.
	DefaultCapacity = nonce.DefaultCapacity
	// pruneEvery is how often, in nonces issued by all servers, the table is pruned; the
	// table holds at most about Capacity + pruneEvery rows.
	pruneEvery = 64
)

// Config configures a [Source]. Zero fields take the defaults.
type Config struct {
	Lifetime time.Duration
	Capacity int
	// Now and Rand are the clock and randomness; default time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// Source is a [nonce.Source] in PostgreSQL.
type Source struct {
	db  *pgxpool.Pool
	cfg Config
}

var _ nonce.Source = (*Source)(nil)

// New returns a Source on the nonces table of db, a database pgstore.Open migrated.
func New(db *pgxpool.Pool, cfg Config) *Source {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Source{db: db, cfg: cfg}
}

// Next implements [nonce.Source].
func (s *Source) Next(ctx context.Context) (string, error) {
	n, err := nonce.Random(s.cfg.Rand)
	if err != nil {
		return "", err
	}
	now := s.cfg.Now()
	var id int64
	err = s.db.QueryRow(ctx, "INSERT INTO nonces (value, expires) VALUES ($1, $2) RETURNING id", n, now.Add(s.cfg.Lifetime)).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("storing nonce: %w", err)
	}
	if id%pruneEvery == 0 {
		if _, err := s.db.Exec(ctx, "DELETE FROM nonces WHERE expires <= $1 OR id <= $2", now, id-int64(s.cfg.Capacity)); err != nil {
			return "", fmt.Errorf("forgetting old nonces: %w", err)
		}
	}
	return n, nil
}

// Redeem implements [nonce.Source].
func (s *Source) Redeem(ctx context.Context, n string) (bool, error) {
	var expires time.Time
	err := s.db.QueryRow(ctx, "DELETE FROM nonces WHERE value = $1 RETURNING expires", n).Scan(&expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redeeming nonce: %w", err)
	}
	return s.cfg.Now().Before(expires), nil
}
