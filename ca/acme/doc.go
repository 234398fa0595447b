// Package acme is the root of devca's ACME server (RFC 8555), laid out by role as
// Pebble and Boulder name them. This package holds no code; it documents the layout.
//
// # Packages
//
//   - [github.com/devca/devca/ca/acme/wire]: the JSON objects clients see and the RFC 7807
//     problem documents, one constructor per ACME error type.
//   - [github.com/devca/devca/ca/acme/jws]: parsing and verifying the flattened JWS that
//     carries every POST, with the algorithm allow-list.
//   - [github.com/devca/devca/ca/acme/nonce]: single-use anti-replay nonces, in memory or,
//     for several servers on one database, in PostgreSQL
//     ([github.com/devca/devca/ca/acme/nonce/pgnonce]).
//   - [github.com/devca/devca/ca/acme/store]: the state behind an interface;
//     [github.com/devca/devca/ca/acme/store/boltstore] keeps it in an embedded bbolt file,
//     [github.com/devca/devca/ca/acme/store/pgstore] in PostgreSQL, shared by several servers.
//   - [github.com/devca/devca/ca/acme/wfe]: the web front end, an [net/http.Handler] that
//     serves the directory, accounts, orders, authorizations, challenges, finalization,
//     certificates, renewal information (RFC 9773), revocation and the CRL. It reaches the
//     certificate authority through its Issuer interface and the validation authority
//     (package va) through its Validator interface.
package acme
