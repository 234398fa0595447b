// Package jws parses and verifies the JSON Web Signatures that carry every ACME POST
// (RFC 8555 §6.2): flattened JSON serialization only, one signature, every header
// protected, and an alg from a short allow-list.
//
// The cryptography is go-jose's (github.com/go-jose/go-jose/v4), the library Boulder and
// Pebble use; this package adds ACME's rules on top and answers with problem documents
// ([wire.Problem]) that the front end sends as they are. Which URL, nonce and key a request
// must carry depends on the resource, so those checks stay with the front end: [Parse]
// only reports what the message says.
package jws

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/devca/devca/ca/acme/wire"
)

// ContentType is the media type of every ACME POST body (RFC 8555 §6.2).
const ContentType = "application/jose+json"

// The accepted signature algorithms. RFC 8555 §6.2 requires ES256 and EdDSA support and
// RS256 is what most clients use (golang.org/x/crypto/acme, cert-manager); ES384 and PS256
// are common enough to keep. HMAC and "none" are never accepted.
var accepted = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.PS256, jose.EdDSA}

// Bounds on RSA account keys: below 2048 bits is breakable, above 8192 only costs the
// server time.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// Algorithms returns the accepted alg values, in the order the directory lists them.
func Algorithms() []string {
	out := make([]string, len(accepted))
	for i, a := range accepted {
		out[i] = string(a)
	}
	return out
}

// Message is a parsed, not yet verified, JWS.
type Message struct {
	// Alg is the protected "alg" header, one of [Algorithms].
	Alg string
	// Nonce is the protected "nonce" header; empty when absent.
	Nonce string
	// URL is the protected "url" header; empty when absent.
	URL string
	// KeyID is the protected "kid" header, an account URL; empty when the message
	// carries its key in JWK instead.
	KeyID string
	// JWK is the protected "jwk" header; nil when the message names its key by KeyID.
	JWK *jose.JSONWebKey

	sig *jose.JSONWebSignature
}

// protectedHeader is the part of the protected header this package reads itself, before
// go-jose does, so that each ACME rule gets its own problem.
type protectedHeader struct {
	Alg   string          `json:"alg"`
	Nonce string          `json:"nonce"`
	URL   string          `json:"url"`
	KID   string          `json:"kid"`
	JWK   json.RawMessage `json:"jwk"`
	B64   json.RawMessage `json:"b64"`
	Crit  json.RawMessage `json:"crit"`
}

// Parse parses body as a flattened JWS and checks the rules that do not depend on the
// resource: the three members of the flattened form and nothing else, a protected header
// with an accepted alg, exactly one of jwk and kid, and a public key of a supported kind.
// Its errors are [*wire.Problem] values.
func Parse(body []byte) (*Message, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, wire.MalformedProblem("request body is not a JSON object: %v", err)
	}
	for name := range members {
		switch name {
		case "protected", "payload", "signature":
		case "signatures":
			return nil, wire.MalformedProblem("JWS must use the flattened JSON serialization with one signature")
		case "header":
			return nil, wire.MalformedProblem("JWS must not have an unprotected header")
		default:
			return nil, wire.MalformedProblem("JWS has an unexpected member %q", name)
		}
	}
	for _, name := range []string{"protected", "payload", "signature"} {
		if _, ok := members[name]; !ok {
			return nil, wire.MalformedProblem("JWS has no %q member", name)
		}
	}
	var protected string
	if err := json.Unmarshal(members["protected"], &protected); err != nil {
		return nil, wire.MalformedProblem("JWS protected header is not a string")
	}
	raw, err := base64.RawURLEncoding.DecodeString(protected)
	if err != nil {
		return nil, wire.MalformedProblem("JWS protected header is not base64url: %v", err)
	}
	var h protectedHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, wire.MalformedProblem("JWS protected header is not a JSON object: %v", err)
	}
	if !slices.Contains(accepted, jose.SignatureAlgorithm(h.Alg)) {
		return nil, wire.BadSignatureAlgorithmProblem(Algorithms(),
			"JWS algorithm %q is not accepted; use one of %v", h.Alg, Algorithms())
	}
	if h.B64 != nil || h.Crit != nil {
		return nil, wire.MalformedProblem("JWS must not use the b64 or crit headers")
	}
	if (h.KID == "") == (h.JWK == nil) {
		return nil, wire.MalformedProblem("JWS protected header must have exactly one of jwk and kid")
	}

	sig, err := jose.ParseSignedJSON(string(body), accepted)
	if err != nil {
		return nil, wire.MalformedProblem("parsing JWS: %v", err)
	}
	if len(sig.Signatures) != 1 {
		return nil, wire.MalformedProblem("JWS must have exactly one signature")
	}
	m := &Message{Alg: h.Alg, Nonce: h.Nonce, URL: h.URL, KeyID: h.KID, sig: sig}
	if h.JWK != nil {
		m.JWK = sig.Signatures[0].Protected.JSONWebKey
		if m.JWK == nil {
			return nil, wire.MalformedProblem("JWS jwk header is not a key")
		}
		if err := CheckKey(m.JWK); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Verify checks the signature with key and returns the payload, empty for a POST-as-GET
// (RFC 8555 §6.3). The key must suit the alg: a signature by another key type fails.
func (m *Message) Verify(key *jose.JSONWebKey) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if !algSuitsKey(m.Alg, key) {
		return nil, wire.BadSignatureAlgorithmProblem(Algorithms(),
			"JWS algorithm %q does not suit the account's %s key", m.Alg, keyKind(key))
	}
	payload, err := m.sig.Verify(key)
	if err != nil {
		return nil, wire.MalformedProblem("JWS signature does not verify")
	}
	return payload, nil
}

// CheckKey refuses keys the server does not accept: private keys, RSA keys outside
// 2048–8192 bits, elliptic curves other than P-256 and P-384, and anything but Ed25519
// among the Edwards curves.
func CheckKey(key *jose.JSONWebKey) error {
	if key == nil || !key.Valid() || !key.IsPublic() {
		return wire.BadPublicKeyProblem("JWS key is not a valid public key")
	}
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return wire.BadPublicKeyProblem("RSA key of %d bits; use %d to %d bits", n, minRSABits, maxRSABits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return wire.BadPublicKeyProblem("elliptic curve %s is not accepted; use P-256 or P-384", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return wire.BadPublicKeyProblem("key type %T is not accepted; use RSA, ECDSA or Ed25519", key.Key)
	}
	return nil
}

func algSuitsKey(alg string, key *jose.JSONWebKey) bool {
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		return alg == string(jose.RS256) || alg == string(jose.PS256)
	case *ecdsa.PublicKey:
		return (alg == string(jose.ES256) && k.Curve == elliptic.P256()) ||
			(alg == string(jose.ES384) && k.Curve == elliptic.P384())
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

func keyKind(key *jose.JSONWebKey) string {
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", key.Key)
}

// Thumbprint returns the key's RFC 7638 SHA-256 thumbprint, base64url-encoded: the
// account's identity in the store and the second half of every key authorization.
func Thumbprint(key *jose.JSONWebKey) (string, error) {
	b, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("computing key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// KeyAuthorization returns token "." thumbprint (RFC 8555 §8.1).
func KeyAuthorization(token string, key *jose.JSONWebKey) (string, error) {
	tp, err := Thumbprint(key)
	if err != nil {
		return "", err
	}
	return token + "." + tp, nil
}

// MarshalKey returns the JSON form of a public key, as the store keeps it.
func MarshalKey(key *jose.JSONWebKey) ([]byte, error) {
	b, err := key.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding JWK: %w", err)
	}
	return b, nil
}

// UnmarshalKey parses a public key kept by [MarshalKey] or sent as keyChange's oldKey.
func UnmarshalKey(b []byte) (*jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("decoding JWK: %w", err)
	}
	if !k.IsPublic() {
		return nil, errors.New("decoding JWK: not a public key")
	}
	return &k, nil
}

// SameKey reports whether a and b are the same public key.
func SameKey(a, b *jose.JSONWebKey) bool {
	ta, err1 := a.Thumbprint(crypto.SHA256)
	tb, err2 := b.Thumbprint(crypto.SHA256)
	return err1 == nil && err2 == nil && bytes.Equal(ta, tb)
}
