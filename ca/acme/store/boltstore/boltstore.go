// Package boltstore implements [store.Store] in one embedded bbolt file.
//
// bbolt (go.etcd.io/bbolt) is embedded (no server to run next to devca), transactional
// (an order and its authorizations, or a certificate and its order, are written in one
// transaction), and crash-safe: a write transaction's commit returns only after fsync,
// and a process killed at any moment leaves the file at the last commit. It is the store
// of etcd and has been for a decade. The file is locked while open, so a second server on
// the same file fails at [Open] instead of corrupting it.
//
// Records are kept as JSON, one bucket per record type, plus index buckets: account key
// thumbprint to account, account to its orders in creation order, account and identifier
// to authorizations, and revoked serials. External account binding keys are kept by key
// ID, and bound in the transaction that creates their account.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/wire"
)

var (
	bucketAccounts      = []byte("accounts")
	bucketAccountKeys   = []byte("account-keys")
	bucketOrders        = []byte("orders")
	bucketAccountOrders = []byte("account-orders")
	bucketAuthzs        = []byte("authorizations")
	bucketAccountAuthzs = []byte("account-authorizations")
	bucketCerts         = []byte("certificates")
	bucketRevoked       = []byte("revoked")
	bucketEABKeys       = []byte("eab-keys")
	allBuckets          = [][]byte{bucketAccounts, bucketAccountKeys, bucketOrders, bucketAccountOrders, bucketAuthzs,
		bucketAccountAuthzs, bucketCerts, bucketRevoked, bucketEABKeys}
)

// ErrLocked is returned, wrapped, by [Open] when another process has the file open.
var ErrLocked = errors.New("another process has it open")

// lockTimeout bounds the wait for another process's lock on the file.
const lockTimeout = 2 * time.Second

// Store is a [store.Store] in a bbolt file.
type Store struct {
	db *bolt.DB
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store at path (mode 0600: it names every account's contacts).
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("opening ACME store %q: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("opening ACME store %q: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		// A file from before the authorization index gets it built once.
		indexAuthzs := tx.Bucket(bucketAccountAuthzs) == nil && tx.Bucket(bucketAuthzs) != nil
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if indexAuthzs {
			return tx.Bucket(bucketAuthzs).ForEach(func(k, v []byte) error {
				var az store.Authorization
				if err := json.Unmarshal(v, &az); err != nil {
					return fmt.Errorf("decoding %s %q: %w", bucketAuthzs, k, err)
				}
				return indexAuthz(tx, &az)
			})
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("creating buckets in ACME store %q: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing ACME store: %w", err)
	}
	return nil
}

func get(tx *bolt.Tx, bucket []byte, id string, v any) error {
	b := tx.Bucket(bucket).Get([]byte(id))
	if b == nil {
		return fmt.Errorf("reading %s %q: %w", bucket, id, store.ErrNotFound)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %s %q: %w", bucket, id, err)
	}
	return nil
}

func put(tx *bolt.Tx, bucket []byte, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s %q: %w", bucket, id, err)
	}
	if err := tx.Bucket(bucket).Put([]byte(id), b); err != nil {
		return fmt.Errorf("writing %s %q: %w", bucket, id, err)
	}
	return nil
}

// create writes a new record, refusing an ID that exists.
func create(tx *bolt.Tx, bucket []byte, id string, v any) error {
	if tx.Bucket(bucket).Get([]byte(id)) != nil {
		return fmt.Errorf("creating %s %q: %w", bucket, id, store.ErrConflict)
	}
	return put(tx, bucket, id, v)
}

// update writes rec if the stored copy still has rec's version, then bumps the version.
// version points at rec's Version field.
func update(tx *bolt.Tx, bucket []byte, id string, rec any, version *int64) error {
	var current struct{ Version int64 }
	if err := get(tx, bucket, id, &current); err != nil {
		return err
	}
	if current.Version != *version {
		return fmt.Errorf("updating %s %q: %w", bucket, id, store.ErrConflict)
	}
	*version++
	if err := put(tx, bucket, id, rec); err != nil {
		*version--
		return err
	}
	return nil
}

// write runs fn in a write transaction; bbolt syncs the file before Update returns.
// After an error the caller's record may hold a bumped Version: read it again.
func (s *Store) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

func (s *Store) read(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// CreateAccount implements [store.Store].
func (s *Store) CreateAccount(ctx context.Context, a *store.Account) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketAccountKeys)
		if keys.Get([]byte(a.KeyThumbprint)) != nil {
			return fmt.Errorf("creating account: %w", store.ErrKeyInUse)
		}
		if err := keys.Put([]byte(a.KeyThumbprint), []byte(a.ID)); err != nil {
			return fmt.Errorf("indexing account key: %w", err)
		}
		if a.EABKeyID != "" {
			var k store.EABKey
			if err := get(tx, bucketEABKeys, a.EABKeyID, &k); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("binding external account key %q: %w", a.EABKeyID, store.ErrEABKeyUnusable)
			} else if err != nil {
				return err
			}
			if k.AccountID != "" || k.Revoked() {
				return fmt.Errorf("binding external account key %q: %w", a.EABKeyID, store.ErrEABKeyUnusable)
			}
			k.AccountID, k.BoundAt = a.ID, a.CreatedAt
			if k.BoundAt.IsZero() {
				k.BoundAt = time.Now()
			}
			if err := put(tx, bucketEABKeys, k.KID, &k); err != nil {
				return err
			}
		}
		return create(tx, bucketAccounts, a.ID, a)
	})
}

// Account implements [store.Store].
func (s *Store) Account(ctx context.Context, id string) (*store.Account, error) {
	var a store.Account
	err := s.read(ctx, func(tx *bolt.Tx) error { return get(tx, bucketAccounts, id, &a) })
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// AccountByKey implements [store.Store].
func (s *Store) AccountByKey(ctx context.Context, thumbprint string) (*store.Account, error) {
	var a store.Account
	err := s.read(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketAccountKeys).Get([]byte(thumbprint))
		if id == nil {
			return fmt.Errorf("reading account by key: %w", store.ErrNotFound)
		}
		return get(tx, bucketAccounts, string(id), &a)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAccount implements [store.Store].
func (s *Store) UpdateAccount(ctx context.Context, a *store.Account) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		var old store.Account
		if err := get(tx, bucketAccounts, a.ID, &old); err != nil {
			return err
		}
		if old.KeyThumbprint != a.KeyThumbprint {
			keys := tx.Bucket(bucketAccountKeys)
			if keys.Get([]byte(a.KeyThumbprint)) != nil {
				return fmt.Errorf("changing account key: %w", store.ErrKeyInUse)
			}
			if err := keys.Delete([]byte(old.KeyThumbprint)); err != nil {
				return fmt.Errorf("unindexing old account key: %w", err)
			}
			if err := keys.Put([]byte(a.KeyThumbprint), []byte(a.ID)); err != nil {
				return fmt.Errorf("indexing new account key: %w", err)
			}
		}
		return update(tx, bucketAccounts, a.ID, a, &a.Version)
	})
}

// CreateOrder implements [store.Store].
func (s *Store) CreateOrder(ctx context.Context, o *store.Order, authzs []*store.Authorization) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		for _, az := range authzs {
			if err := create(tx, bucketAuthzs, az.ID, az); err != nil {
				return err
			}
			if err := indexAuthz(tx, az); err != nil {
				return err
			}
		}
		idx := tx.Bucket(bucketAccountOrders)
		seq, err := idx.NextSequence()
		if err != nil {
			return fmt.Errorf("numbering order: %w", err)
		}
		if err := idx.Put(accountOrderKey(o.AccountID, seq), []byte(o.ID)); err != nil {
			return fmt.Errorf("indexing order: %w", err)
		}
		return create(tx, bucketOrders, o.ID, o)
	})
}

// accountOrderKey sorts an account's orders by creation: the account ID, a zero byte
// (IDs never contain one) and a big-endian sequence number.
func accountOrderKey(accountID string, seq uint64) []byte {
	k := append([]byte(accountID), 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// Order implements [store.Store].
func (s *Store) Order(ctx context.Context, id string) (*store.Order, error) {
	var o store.Order
	err := s.read(ctx, func(tx *bolt.Tx) error { return get(tx, bucketOrders, id, &o) })
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// UpdateOrder implements [store.Store].
func (s *Store) UpdateOrder(ctx context.Context, o *store.Order) error {
	return s.write(ctx, func(tx *bolt.Tx) error { return update(tx, bucketOrders, o.ID, o, &o.Version) })
}

// OrderIDs implements [store.Store].
func (s *Store) OrderIDs(ctx context.Context, accountID string) ([]string, error) {
	var ids []string
	err := s.read(ctx, func(tx *bolt.Tx) error {
		prefix := append([]byte(accountID), 0)
		c := tx.Bucket(bucketAccountOrders).Cursor()
		for k, v := c.Seek(prefix); k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			ids = append(ids, string(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	return ids, nil
}

// Authorization implements [store.Store].
func (s *Store) Authorization(ctx context.Context, id string) (*store.Authorization, error) {
	var a store.Authorization
	err := s.read(ctx, func(tx *bolt.Tx) error { return get(tx, bucketAuthzs, id, &a) })
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAuthorization implements [store.Store].
func (s *Store) UpdateAuthorization(ctx context.Context, a *store.Authorization) error {
	return s.write(ctx, func(tx *bolt.Tx) error { return update(tx, bucketAuthzs, a.ID, a, &a.Version) })
}

// accountAuthzPrefix is where an account's authorizations for one identifier are indexed:
// the account ID, the identifier's type and value, each followed by a zero byte (none of
// them contains one); the authorization ID follows.
func accountAuthzPrefix(accountID string, id wire.Identifier) []byte {
	k := append([]byte(accountID), 0)
	k = append(append(k, id.Type...), 0)
	return append(append(k, id.Value...), 0)
}

func indexAuthz(tx *bolt.Tx, az *store.Authorization) error {
	k := append(accountAuthzPrefix(az.AccountID, az.Identifier), az.ID...)
	if err := tx.Bucket(bucketAccountAuthzs).Put(k, nil); err != nil {
		return fmt.Errorf("indexing authorization: %w", err)
	}
	return nil
}

// ValidAuthorizations implements [store.Store].
func (s *Store) ValidAuthorizations(ctx context.Context, accountID string, id wire.Identifier, after time.Time) ([]*store.Authorization, error) {
	var out []*store.Authorization
	err := s.read(ctx, func(tx *bolt.Tx) error {
		prefix := accountAuthzPrefix(accountID, id)
		c := tx.Bucket(bucketAccountAuthzs).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			var az store.Authorization
			if err := get(tx, bucketAuthzs, string(k[len(prefix):]), &az); err != nil {
				return err
			}
			if az.Status == wire.StatusValid && az.Expires.After(after) {
				out = append(out, &az)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing valid authorizations: %w", err)
	}
	return out, nil
}

// ForEachCertificate calls fn with every stored certificate, in serial order, until fn
// returns an error. It is not part of [store.Store]: tests use it to check a whole file.
func (s *Store) ForEachCertificate(ctx context.Context, fn func(*store.Certificate) error) error {
	return s.read(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCerts).ForEach(func(k, v []byte) error {
			var c store.Certificate
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("decoding %s %q: %w", bucketCerts, k, err)
			}
			return fn(&c)
		})
	})
}

// CreateCertificate implements [store.Store].
func (s *Store) CreateCertificate(ctx context.Context, c *store.Certificate, o *store.Order) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		if err := create(tx, bucketCerts, c.Serial, c); err != nil {
			return err
		}
		if o.ReplacesSerial != "" {
			var old store.Certificate
			if err := get(tx, bucketCerts, o.ReplacesSerial, &old); err != nil {
				return fmt.Errorf("marking replaced certificate: %w", err)
			}
			if old.ReplacedBy == "" {
				old.ReplacedBy = o.ID
				old.Version++
				if err := put(tx, bucketCerts, old.Serial, &old); err != nil {
					return err
				}
			}
		}
		return update(tx, bucketOrders, o.ID, o, &o.Version)
	})
}

// Certificate implements [store.Store].
func (s *Store) Certificate(ctx context.Context, serial string) (*store.Certificate, error) {
	var c store.Certificate
	err := s.read(ctx, func(tx *bolt.Tx) error { return get(tx, bucketCerts, serial, &c) })
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateCertificate implements [store.Store].
func (s *Store) UpdateCertificate(ctx context.Context, c *store.Certificate) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		if c.Revoked {
			if err := tx.Bucket(bucketRevoked).Put([]byte(c.Serial), nil); err != nil {
				return fmt.Errorf("indexing revocation: %w", err)
			}
		}
		return update(tx, bucketCerts, c.Serial, c, &c.Version)
	})
}

// RevokedCertificates implements [store.Store].
func (s *Store) RevokedCertificates(ctx context.Context) ([]*store.Certificate, error) {
	var out []*store.Certificate
	err := s.read(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRevoked).ForEach(func(k, _ []byte) error {
			var c store.Certificate
			if err := get(tx, bucketCerts, string(k), &c); err != nil {
				return err
			}
			out = append(out, &c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing revoked certificates: %w", err)
	}
	return out, nil
}

// CreateEABKey implements [store.Store].
func (s *Store) CreateEABKey(ctx context.Context, k *store.EABKey) error {
	return s.write(ctx, func(tx *bolt.Tx) error { return create(tx, bucketEABKeys, k.KID, k) })
}

// EABKey implements [store.Store].
func (s *Store) EABKey(ctx context.Context, kid string) (*store.EABKey, error) {
	var k store.EABKey
	err := s.read(ctx, func(tx *bolt.Tx) error { return get(tx, bucketEABKeys, kid, &k) })
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// ListEABKeys implements [store.Store].
func (s *Store) ListEABKeys(ctx context.Context) ([]*store.EABKey, error) {
	var out []*store.EABKey
	err := s.read(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEABKeys).ForEach(func(k, v []byte) error {
			var key store.EABKey
			if err := json.Unmarshal(v, &key); err != nil {
				return fmt.Errorf("decoding %s %q: %w", bucketEABKeys, k, err)
			}
			out = append(out, &key)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing external account keys: %w", err)
	}
	slices.SortStableFunc(out, func(a, b *store.EABKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// RevokeEABKey implements [store.Store].
func (s *Store) RevokeEABKey(ctx context.Context, kid string, at time.Time) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		var k store.EABKey
		if err := get(tx, bucketEABKeys, kid, &k); err != nil {
			return err
		}
		if k.Revoked() {
			return nil
		}
		k.RevokedAt = at
		return put(tx, bucketEABKeys, kid, &k)
	})
}
