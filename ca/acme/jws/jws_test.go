package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/devca/devca/ca/acme/wire"
)

// sign makes a flattened JWS the way an ACME client does.
func sign(t testing.TB, alg jose.SignatureAlgorithm, key crypto.Signer, kid string, payload []byte, extra map[jose.HeaderKey]any) []byte {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"nonce": "n1", "url": "https://acme.test/x"}}
	for k, v := range extra {
		opts.ExtraHeaders[k] = v
	}
	sk := jose.SigningKey{Algorithm: alg, Key: key}
	if kid != "" {
		sk.Key = jose.JSONWebKey{Key: key, KeyID: kid}
	} else {
		opts.EmbedJWK = true
	}
	s, err := jose.NewSigner(sk, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out := obj.FullSerialize()
	if !strings.Contains(out, `"payload"`) {
		// go-jose leaves out an empty payload; ACME clients send "" for POST-as-GET.
		out = strings.Replace(out, "{", `{"payload":"",`, 1)
	}
	return []byte(out)
}

// forge builds a flattened JWS from a header of our choosing, with a junk signature.
func forge(header string, members ...string) []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"protected": b64([]byte(header)), "payload": b64([]byte("{}")), "signature": b64([]byte("sig"))}
	for i := 0; i+1 < len(members); i += 2 {
		m[members[i]] = members[i+1]
	}
	b, _ := json.Marshal(m)
	return b
}

var (
	rsaKey, _   = rsa.GenerateKey(rand.Reader, 2048)
	p256Key, _  = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384Key, _  = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ = ed25519.GenerateKey(rand.Reader)
)

func TestParseVerify(t *testing.T) {
	for _, tc := range []struct {
		name string
		alg  jose.SignatureAlgorithm
		key  crypto.Signer
	}{
		{"ok/ES256", jose.ES256, p256Key},
		{"ok/ES384", jose.ES384, p384Key},
		{"ok/RS256", jose.RS256, rsaKey},
		{"ok/PS256", jose.PS256, rsaKey},
		{"ok/EdDSA", jose.EdDSA, edKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(sign(t, tc.alg, tc.key, "", []byte(`{"a":1}`), nil))
			if err != nil {
				t.Fatal(err)
			}
			if m.Alg != string(tc.alg) || m.Nonce != "n1" || m.URL != "https://acme.test/x" || m.JWK == nil || m.KeyID != "" {
				t.Fatalf("parsed %+v", m)
			}
			payload, err := m.Verify(m.JWK)
			if err != nil || string(payload) != `{"a":1}` {
				t.Fatalf("Verify = %q, %v", payload, err)
			}
		})
	}
	t.Run("ok/kid and POST-as-GET", func(t *testing.T) {
		m, err := Parse(sign(t, jose.ES256, p256Key, "https://acme.test/account/1", nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if m.KeyID != "https://acme.test/account/1" || m.JWK != nil {
			t.Fatalf("parsed %+v", m)
		}
		payload, err := m.Verify(&jose.JSONWebKey{Key: p256Key.Public()})
		if err != nil || len(payload) != 0 {
			t.Fatalf("Verify = %q, %v", payload, err)
		}
	})
}

func TestParseRefuses(t *testing.T) {
	good := sign(t, jose.ES256, p256Key, "", []byte("{}"), nil)
	var members map[string]string
	if err := json.Unmarshal(good, &members); err != nil {
		t.Fatal(err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	for _, tc := range []struct {
		name string
		body []byte
		typ  string
		text string
	}{
		{"fail/not JSON", []byte("nope"), "malformed", "not a JSON object"},
		{"fail/compact", []byte(`"a.b.c"`), "malformed", "not a JSON object"},
		{"fail/general serialization", forge(`{"alg":"ES256"}`, "signatures", "[]"), "malformed", "flattened"},
		{"fail/unprotected header", []byte(strings.Replace(string(good), `{`, `{"header":{"kid":"x"},`, 1)), "malformed", "unprotected"},
		{"fail/extra member", []byte(strings.Replace(string(good), `{`, `{"extra":1,`, 1)), "malformed", "unexpected member"},
		{"fail/no signature", []byte(`{"protected":"` + members["protected"] + `","payload":""}`), "malformed", `no "signature"`},
		{"fail/protected not base64", forge("x", "protected", "!!"), "malformed", "base64url"},
		{"fail/protected not JSON", forge("x"), "malformed", "not a JSON object"},
		{"fail/HS256", forge(`{"alg":"HS256","kid":"k"}`), "badSignatureAlgorithm", "HS256"},
		{"fail/none", forge(`{"alg":"none","kid":"k"}`), "badSignatureAlgorithm", "none"},
		{"fail/ES512", sign(t, jose.ES512, p521, "", []byte("{}"), nil), "badSignatureAlgorithm", "ES512"},
		{"fail/jwk and kid", sign(t, jose.ES256, p256Key, "", []byte("{}"), map[jose.HeaderKey]any{"kid": "k"}), "malformed", "exactly one of jwk and kid"},
		{"fail/neither jwk nor kid", forge(`{"alg":"ES256"}`), "malformed", "exactly one of jwk and kid"},
		{"fail/b64", forge(`{"alg":"ES256","kid":"k","b64":false}`), "malformed", "b64"},
		{"fail/small RSA", sign(t, jose.RS256, small, "", []byte("{}"), nil), "badPublicKey", "1024 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.body)
			p, ok := wire.AsProblem(err)
			if !ok || p.Type != wire.ErrorNS+tc.typ || !strings.Contains(p.Detail, tc.text) {
				t.Fatalf("Parse = %v, want %s containing %q", err, tc.typ, tc.text)
			}
			if tc.typ == "badSignatureAlgorithm" && !slices.Equal(p.Algorithms, Algorithms()) {
				t.Errorf("algorithms = %v, want %v", p.Algorithms, Algorithms())
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	body := sign(t, jose.ES256, p256Key, "https://acme.test/account/1", []byte("{}"), nil)
	m, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name string
		key  *jose.JSONWebKey
		typ  string
	}{
		{"fail/other key", &jose.JSONWebKey{Key: other.Public()}, "malformed"},
		{"fail/key type does not suit alg", &jose.JSONWebKey{Key: rsaKey.Public()}, "badSignatureAlgorithm"},
		{"fail/private key", &jose.JSONWebKey{Key: p256Key}, "badPublicKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Verify(tc.key)
			if p, ok := wire.AsProblem(err); !ok || p.Type != wire.ErrorNS+tc.typ {
				t.Fatalf("Verify = %v, want %s", err, tc.typ)
			}
		})
	}
	// A changed payload must not verify.
	var members map[string]string
	_ = json.Unmarshal(body, &members)
	members["payload"] = base64.RawURLEncoding.EncodeToString([]byte(`{"x":1}`))
	tampered, _ := json.Marshal(members)
	m2, err := Parse(tampered)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Verify(&jose.JSONWebKey{Key: p256Key.Public()}); err == nil {
		t.Fatal("tampered payload verified")
	}
}

func TestThumbprintAndKeyAuthorization(t *testing.T) {
	// RFC 7638 §3.1's example key and thumbprint.
	const rfcKey = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}`
	k, err := UnmarshalKey([]byte(rfcKey))
	if err != nil {
		t.Fatal(err)
	}
	ka, err := KeyAuthorization("tok", k)
	if err != nil || ka != "tok.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("KeyAuthorization = %q, %v", ka, err)
	}
	b, err := MarshalKey(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := UnmarshalKey(b)
	if err != nil || !SameKey(k, k2) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := UnmarshalKey([]byte(`{"kty":"EC"}`)); err == nil {
		t.Error("UnmarshalKey accepted a broken key")
	}
}

// FuzzParse checks that no input makes Parse panic, and that whatever it accepts has an
// allowed algorithm and exactly one way to find the key. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(sign(f, jose.ES256, p256Key, "", []byte("{}"), nil))
	f.Add(sign(f, jose.EdDSA, edKey, "https://acme.test/account/1", nil, nil))
	f.Add(forge(`{"alg":"HS256","kid":"k"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		if err != nil {
			if _, ok := wire.AsProblem(err); !ok {
				t.Fatalf("Parse returned a non-problem error: %v", err)
			}
			return
		}
		if !slices.Contains(Algorithms(), m.Alg) || (m.KeyID == "") == (m.JWK == nil) {
			t.Fatalf("Parse accepted %+v", m)
		}
		if m.JWK != nil {
			_, _ = m.Verify(m.JWK)
		}
	})
}
