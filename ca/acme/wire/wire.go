// Package wire holds the JSON objects of the ACME protocol (RFC 8555 §7.1) as clients see
// them, and the problem documents (RFC 7807) the server answers errors with.
//
// Nothing here talks to storage or the network: the web front end (package wfe) builds
// these values from stored records and writes them out.
package wire

import "time"

// Object statuses (RFC 8555 §7.1.6).
const (
	StatusPending     = "pending"
	StatusReady       = "ready"
	StatusProcessing  = "processing"
	StatusValid       = "valid"
	StatusInvalid     = "invalid"
	StatusDeactivated = "deactivated"
	StatusExpired     = "expired"
	StatusRevoked     = "revoked"
)

// Identifier types: DNS names (RFC 8555 §9.7.7) and IP addresses (RFC 8738).
const (
	IdentifierDNS = "dns"
	IdentifierIP  = "ip"
)

// Challenge types: RFC 8555 §8.3 and §8.4, and RFC 8737.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeDNS01     = "dns-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// Identifier is an ACME identifier object (RFC 8555 §9.7.7).
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Directory is the directory object (RFC 8555 §7.1.1) with the renewalInfo URL of
// RFC 9773.
type Directory struct {
	NewNonce    string         `json:"newNonce"`
	NewAccount  string         `json:"newAccount"`
	NewOrder    string         `json:"newOrder"`
	RevokeCert  string         `json:"revokeCert"`
	KeyChange   string         `json:"keyChange"`
	RenewalInfo string         `json:"renewalInfo,omitempty"`
	Meta        *DirectoryMeta `json:"meta,omitempty"`
}

// DirectoryMeta is the directory's meta object. Profiles maps each certificate profile's
// name to its description (draft-ietf-acme-profiles).
type DirectoryMeta struct {
	TermsOfService          string            `json:"termsOfService,omitempty"`
	Website                 string            `json:"website,omitempty"`
	CAAIdentities           []string          `json:"caaIdentities,omitempty"`
	ExternalAccountRequired bool              `json:"externalAccountRequired,omitempty"`
	Profiles                map[string]string `json:"profiles,omitempty"`
}

// Account is the account object (RFC 8555 §7.1.2).
type Account struct {
	Status               string   `json:"status"`
	Contact              []string `json:"contact,omitempty"`
	TermsOfServiceAgreed bool     `json:"termsOfServiceAgreed,omitempty"`
	Orders               string   `json:"orders"`
}

// AccountRequest is the payload of newAccount and of an account update. Contact is a
// pointer so that an update can tell "no change" from "remove every contact".
type AccountRequest struct {
	Contact                *[]string `json:"contact,omitempty"`
	TermsOfServiceAgreed   bool      `json:"termsOfServiceAgreed,omitempty"`
	OnlyReturnExisting     bool      `json:"onlyReturnExisting,omitempty"`
	Status                 string    `json:"status,omitempty"`
	ExternalAccountBinding RawJSON   `json:"externalAccountBinding,omitempty"`
}

// RawJSON is a JSON value kept as it arrived.
type RawJSON []byte

// MarshalJSON returns the value unchanged, or null when it is empty.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of the value.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

// OrdersList is the account's list of orders (RFC 8555 §7.1.2.1).
type OrdersList struct {
	Orders []string `json:"orders"`
}

// Order is the order object (RFC 8555 §7.1.3), with replaces (RFC 9773) and profile
// (draft-ietf-acme-profiles).
type Order struct {
	Status         string       `json:"status"`
	Expires        *time.Time   `json:"expires,omitempty"`
	Identifiers    []Identifier `json:"identifiers"`
	NotBefore      *time.Time   `json:"notBefore,omitempty"`
	NotAfter       *time.Time   `json:"notAfter,omitempty"`
	Error          *Problem     `json:"error,omitempty"`
	Authorizations []string     `json:"authorizations"`
	Finalize       string       `json:"finalize"`
	Certificate    string       `json:"certificate,omitempty"`
	Replaces       string       `json:"replaces,omitempty"`
	Profile        string       `json:"profile,omitempty"`
}

// OrderRequest is the payload of newOrder. The times stay strings so that the server can
// name the one that does not parse.
type OrderRequest struct {
	Identifiers []Identifier `json:"identifiers"`
	NotBefore   string       `json:"notBefore,omitempty"`
	NotAfter    string       `json:"notAfter,omitempty"`
	Replaces    string       `json:"replaces,omitempty"`
	Profile     string       `json:"profile,omitempty"`
}

// Authorization is the authorization object (RFC 8555 §7.1.4).
type Authorization struct {
	Identifier Identifier  `json:"identifier"`
	Status     string      `json:"status"`
	Expires    *time.Time  `json:"expires,omitempty"`
	Challenges []Challenge `json:"challenges"`
	Wildcard   bool        `json:"wildcard,omitempty"`
}

// AuthorizationUpdate is the payload that deactivates an authorization (RFC 8555 §7.5.2).
type AuthorizationUpdate struct {
	Status string `json:"status"`
}

// Challenge is the challenge object (RFC 8555 §8).
type Challenge struct {
	Type      string     `json:"type"`
	URL       string     `json:"url"`
	Status    string     `json:"status"`
	Token     string     `json:"token"`
	Validated *time.Time `json:"validated,omitempty"`
	Error     *Problem   `json:"error,omitempty"`
}

// FinalizeRequest is the payload of an order's finalize request (RFC 8555 §7.4).
type FinalizeRequest struct {
	CSR string `json:"csr"`
}

// RevocationRequest is the payload of revokeCert (RFC 8555 §7.6).
type RevocationRequest struct {
	Certificate string `json:"certificate"`
	Reason      *int   `json:"reason,omitempty"`
}

// KeyChangeRequest is the payload of the inner JWS of keyChange (RFC 8555 §7.3.5).
type KeyChangeRequest struct {
	Account string  `json:"account"`
	OldKey  RawJSON `json:"oldKey"`
}

// RenewalInfo is the renewal information object (RFC 9773 §4.2).
type RenewalInfo struct {
	SuggestedWindow Window `json:"suggestedWindow"`
	ExplanationURL  string `json:"explanationURL,omitempty"`
}

// Window is a suggested renewal window.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}
