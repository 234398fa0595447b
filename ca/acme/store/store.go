// Package store defines where the ACME server keeps its state: accounts, orders,
// authorizations with their challenges, certificates and their revocations.
//
// [Store] is narrow on purpose, one method per thing the front end does, so that another
// database (PostgreSQL, issue 11) can implement it with one table per record type and
// plain SQL; package storetest holds the tests every implementation must pass.
//
// # Consistency
//
// Every method that changes state returns only once the change is durable (committed and
// synced), because the front end tells the client about it right after. Updates use
// optimistic concurrency: each record carries a Version, an update succeeds only if the
// stored Version is still the one the caller read, and it then increments it; otherwise it
// fails with [ErrConflict] and the caller reads again.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/devca/devca/ca/acme/wire"
)

// Errors every implementation returns, possibly wrapped.
var (
	// ErrNotFound is returned when no record has the given ID or key.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a record changed since the caller read it.
	ErrConflict = errors.New("record changed since it was read")
	// ErrKeyInUse is returned when an account key already belongs to another account.
	ErrKeyInUse = errors.New("account key already in use")
	// ErrEABKeyUnusable is returned by CreateAccount when the account's external account
	// binding key is unknown, revoked, or already bound to an account.
	ErrEABKeyUnusable = errors.New("external account key is unknown, revoked or already bound")
)

// Store keeps the ACME server's state. Implementations are safe for concurrent use.
type Store interface {
	// CreateAccount adds a, whose KeyThumbprint must not belong to another account
	// (ErrKeyInUse). When a.EABKeyID is set, the same transaction binds that external
	// account key to a, which fails with ErrEABKeyUnusable (and adds nothing) if the key
	// is unknown, revoked or bound already: a key binds at most one account.
	CreateAccount(ctx context.Context, a *Account) error
	// Account returns the account with the given ID.
	Account(ctx context.Context, id string) (*Account, error)
	// AccountByKey returns the account whose key has the given RFC 7638 thumbprint.
	AccountByKey(ctx context.Context, thumbprint string) (*Account, error)
	// UpdateAccount replaces an account, its key included (keyChange); a new key must not
	// belong to another account (ErrKeyInUse).
	UpdateAccount(ctx context.Context, a *Account) error

	// CreateOrder adds an order together with its new authorizations.
	CreateOrder(ctx context.Context, o *Order, authzs []*Authorization) error
	// Order returns the order with the given ID.
	Order(ctx context.Context, id string) (*Order, error)
	// UpdateOrder replaces an order.
	UpdateOrder(ctx context.Context, o *Order) error
	// OrderIDs returns the IDs of an account's orders, oldest first.
	OrderIDs(ctx context.Context, accountID string) ([]string, error)

	// Authorization returns the authorization with the given ID, challenges included.
	Authorization(ctx context.Context, id string) (*Authorization, error)
	// UpdateAuthorization replaces an authorization and its challenges at once, so that
	// a failed challenge and its invalid authorization are never seen apart.
	UpdateAuthorization(ctx context.Context, a *Authorization) error
	// ValidAuthorizations returns the account's authorizations for identifier (the value
	// without "*.", wildcard authorizations included) whose stored Status is valid and
	// whose Expires is after the given time, in any order. New orders reuse them, and
	// they let the account revoke certificates for those names (RFC 8555 §7.6).
	ValidAuthorizations(ctx context.Context, accountID string, identifier wire.Identifier, after time.Time) ([]*Authorization, error)

	// CreateCertificate adds an issued certificate and, in the same transaction, updates
	// the order it finalizes (usually to valid with CertificateSerial set) and marks the
	// certificate the order replaces, if any, as replaced by it.
	CreateCertificate(ctx context.Context, c *Certificate, o *Order) error
	// Certificate returns the certificate with the given serial (lowercase hex).
	Certificate(ctx context.Context, serial string) (*Certificate, error)
	// UpdateCertificate replaces a certificate, as revocation does.
	UpdateCertificate(ctx context.Context, c *Certificate) error
	// RevokedCertificates returns every revoked certificate, for the CRL.
	RevokedCertificates(ctx context.Context) ([]*Certificate, error)

	// CreateEABKey adds an external account binding key; its KID must be new
	// (ErrConflict).
	CreateEABKey(ctx context.Context, k *EABKey) error
	// EABKey returns the external account binding key with the given key ID.
	EABKey(ctx context.Context, kid string) (*EABKey, error)
	// ListEABKeys returns every external account binding key, oldest first.
	ListEABKeys(ctx context.Context) ([]*EABKey, error)
	// RevokeEABKey marks a key revoked at the given time, so that it binds no more
	// accounts; revoking a revoked key keeps the first time. Unknown keys: ErrNotFound.
	RevokeEABKey(ctx context.Context, kid string, at time.Time) error

	// Close releases the store.
	Close() error
}

// Account is an ACME account (RFC 8555 §7.1.2).
type Account struct {
	ID            string
	Version       int64
	Status        string // wire.StatusValid or wire.StatusDeactivated
	Key           []byte // the public JWK, as JSON
	KeyThumbprint string // RFC 7638 SHA-256 thumbprint of Key, base64url
	Contact       []string
	TermsAgreed   bool
	CreatedAt     time.Time
	EABKeyID      string // the external account binding key it was created with, if any
}

// EABKey is an external account binding key (RFC 8555 §7.3.4) that the operator hands to
// one client: the client proves it holds Key by signing its account key with it.
type EABKey struct {
	KID       string
	Key       []byte // the HMAC key
	Note      string // what the operator wrote about whom it is for
	CreatedAt time.Time
	AccountID string    // the account it bound; empty while unused
	BoundAt   time.Time // zero while unused
	RevokedAt time.Time // zero unless revoked
}

// Revoked reports whether the key was revoked.
func (k *EABKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// Order is an ACME order (RFC 8555 §7.1.3).
type Order struct {
	ID                string
	Version           int64
	AccountID         string
	Status            string
	Expires           time.Time
	Identifiers       []wire.Identifier
	NotBefore         time.Time // zero when the client did not ask
	NotAfter          time.Time // zero when the client did not ask
	Profile           string
	Replaces          string // the ARI certificate ID (RFC 9773 §5) of the certificate replaced
	ReplacesSerial    string // and its serial
	AuthorizationIDs  []string
	Error             *wire.Problem
	CertificateSerial string
	CreatedAt         time.Time
	// CSR is the DER certificate request of finalize, stored with the processing status
	// so that an issuance cut short by a crash can be run again from it.
	CSR []byte
	// ProcessingSince is when the current issuance attempt began; zero unless Status is
	// processing.
	ProcessingSince time.Time
}

// Authorization is an ACME authorization (RFC 8555 §7.1.4) with its challenges.
type Authorization struct {
	ID         string
	Version    int64
	AccountID  string
	Status     string
	Identifier wire.Identifier // the value without "*." for a wildcard
	Wildcard   bool
	Expires    time.Time
	Challenges []Challenge
}

// Challenge is one way to prove control of an authorization's identifier (RFC 8555 §8).
type Challenge struct {
	ID        string
	Type      string
	Token     string
	Status    string
	Validated time.Time
	Error     *wire.Problem
}

// Certificate is an issued certificate with what revocation and ARI need.
type Certificate struct {
	Serial     string // lowercase hex, no leading zeros
	Version    int64
	AccountID  string
	OrderID    string
	Chain      [][]byte // DER, leaf first
	NotBefore  time.Time
	NotAfter   time.Time
	ReplacedBy string // the ID of the order that replaced it, if any
	Revoked    bool
	RevokedAt  time.Time
	Reason     int // CRL reason code (RFC 5280 §5.3.1)
}
