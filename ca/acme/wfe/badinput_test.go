package wfe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/devca/devca/ca/acme/jws"
	"github.com/devca/devca/ca/acme/wire"
)

// rawClient signs requests by hand, so that tests can send what no client library would.
type rawClient struct {
	t   *testing.T
	ts  *testServer
	key *ecdsa.PrivateKey
	kid string
}

func newRawClient(t *testing.T, ts *testServer) *rawClient {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rc := &rawClient{t: t, ts: ts, key: key}
	resp, _ := rc.post(ts.URL+pathNewAccount, `{"termsOfServiceAgreed":true}`, http.StatusCreated)
	rc.kid = resp.Header.Get("Location")
	return rc
}

func (rc *rawClient) nonce() string {
	resp, err := rc.ts.Client().Head(rc.ts.URL + pathNewNonce)
	if err != nil {
		rc.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Replay-Nonce")
}

func (rc *rawClient) sign(url, payload, nonce string) []byte {
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"nonce": nonce, "url": url}}
	sk := jose.SigningKey{Algorithm: jose.ES256, Key: rc.key}
	if rc.kid != "" {
		sk.Key = jose.JSONWebKey{Key: rc.key, KeyID: rc.kid}
	} else {
		opts.EmbedJWK = true
	}
	s, err := jose.NewSigner(sk, opts)
	if err != nil {
		rc.t.Fatal(err)
	}
	obj, err := s.Sign([]byte(payload))
	if err != nil {
		rc.t.Fatal(err)
	}
	out := obj.FullSerialize()
	if !strings.Contains(out, `"payload"`) {
		out = strings.Replace(out, "{", `{"payload":"",`, 1)
	}
	return []byte(out)
}

func (rc *rawClient) send(url string, body []byte, contentType string) (*http.Response, []byte) {
	rc.t.Helper()
	resp, err := rc.ts.Client().Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		rc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// post signs payload for url with a fresh nonce and expects status.
func (rc *rawClient) post(url, payload string, status int) (*http.Response, []byte) {
	rc.t.Helper()
	resp, b := rc.send(url, rc.sign(url, payload, rc.nonce()), jws.ContentType)
	if resp.StatusCode != status {
		rc.t.Fatalf("POST %s: %d %s, want %d", url, resp.StatusCode, b, status)
	}
	return resp, b
}

func TestBadInputChangesNothing(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := newRawClient(t, ts), newRawClient(t, ts)
	resp, _ := alice.post(ts.URL+pathNewOrder, `{"identifiers":[{"type":"dns","value":"alice.test"}]}`, http.StatusCreated)
	aliceOrder := resp.Header.Get("Location")
	ordersOf := func(rc *rawClient) []string {
		var list wire.OrdersList
		_, b := rc.send(rc.kid+"/orders", rc.sign(rc.kid+"/orders", "", rc.nonce()), jws.ContentType)
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatalf("orders list %s: %v", b, err)
		}
		return list.Orders
	}
	newOrder := ts.URL + pathNewOrder
	order := `{"identifiers":[{"type":"dns","value":"x.test"}]}`
	used := alice.nonce()
	alice.send(newOrder, alice.sign(newOrder, order, used), jws.ContentType)

	for _, tc := range []struct {
		name        string
		url         string
		body        []byte
		contentType string
		status      int
		typ         string
	}{
		{"fail/wrong content type", newOrder, alice.sign(newOrder, order, alice.nonce()), "application/json", 415, "malformed"},
		{"fail/oversized body", newOrder, alice.sign(newOrder, `{"x":"`+strings.Repeat("a", 70<<10)+`"}`, alice.nonce()), jws.ContentType, 413, "malformed"},
		{"fail/malformed JWS", newOrder, []byte(`{"protected":"e30","payload":""}`), jws.ContentType, 400, "malformed"},
		{"fail/not JSON", newOrder, []byte(`not json`), jws.ContentType, 400, "malformed"},
		{"fail/replayed nonce", newOrder, alice.sign(newOrder, order, used), jws.ContentType, 400, "badNonce"},
		{"fail/url of another resource", newOrder, alice.sign(ts.URL+pathRevokeCert, order, alice.nonce()), jws.ContentType, 403, "unauthorized"},
		{"fail/another account's order", aliceOrder, bob.sign(aliceOrder, "", bob.nonce()), jws.ContentType, 403, "unauthorized"},
		{"fail/another account's account", alice.kid, bob.sign(alice.kid, `{"status":"deactivated"}`, bob.nonce()), jws.ContentType, 403, "unauthorized"},
		{"fail/unknown order", ts.URL + pathOrder + "nope", alice.sign(ts.URL+pathOrder+"nope", "", alice.nonce()), jws.ContentType, 404, "malformed"},
		{"fail/unknown resource", ts.URL + "/nope", alice.sign(ts.URL+"/nope", "", alice.nonce()), jws.ContentType, 404, "malformed"},
		{"fail/jwk where kid is needed", newOrder, (&rawClient{t: t, key: alice.key}).sign(newOrder, order, alice.nonce()), jws.ContentType, 400, "malformed"},
		{"fail/rejected identifiers", newOrder, alice.sign(newOrder, `{"identifiers":[{"type":"dns","value":"a.forbidden.test"},{"type":"dns","value":"b.forbidden.test"}]}`, alice.nonce()), jws.ContentType, 400, "rejectedIdentifier"},
		{"fail/unsupported identifier", newOrder, alice.sign(newOrder, `{"identifiers":[{"type":"email","value":"a@b.test"}]}`, alice.nonce()), jws.ContentType, 400, "unsupportedIdentifier"},
		{"fail/notAfter beyond the lifetime", newOrder, alice.sign(newOrder, `{"identifiers":[{"type":"dns","value":"x.test"}],"profile":"shortlived","notAfter":"2999-01-01T00:00:00Z"}`, alice.nonce()), jws.ContentType, 400, "malformed"},
		{"fail/unknown profile", newOrder, alice.sign(newOrder, `{"identifiers":[{"type":"dns","value":"x.test"}],"profile":"forever"}`, alice.nonce()), jws.ContentType, 400, "invalidProfile"},
		{"fail/finalize before ready", aliceOrder + "/finalize", alice.sign(aliceOrder+"/finalize", `{"csr":"AA"}`, alice.nonce()), jws.ContentType, 403, "orderNotReady"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := alice.send(tc.url, tc.body, tc.contentType)
			var p wire.Problem
			if err := json.Unmarshal(b, &p); err != nil || resp.StatusCode != tc.status || p.Type != wire.ErrorNS+tc.typ {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, b, tc.status, tc.typ)
			}
			if ct := resp.Header.Get("Content-Type"); ct != wire.ProblemContentType {
				t.Errorf("Content-Type %q", ct)
			}
			if resp.Header.Get("Replay-Nonce") == "" {
				t.Error("an error response has no Replay-Nonce")
			}
			if tc.typ == "rejectedIdentifier" && (len(p.Subproblems) != 2 || p.Subproblems[1].Identifier.Value != "b.forbidden.test") {
				t.Errorf("subproblems %+v, want one per refused name", p.Subproblems)
			}
		})
	}
	if got := ordersOf(alice); len(got) != 2 || got[0] != aliceOrder {
		t.Errorf("alice's orders changed: %v", got)
	}
	if got := ordersOf(bob); len(got) != 0 {
		t.Errorf("bob has orders: %v", got)
	}
	alice.post(alice.kid, "", http.StatusOK) // alice's account is still valid
}

func TestOrderChallenges(t *testing.T) {
	ts := newTestServer(t)
	rc := newRawClient(t, ts)
	resp, b := rc.post(ts.URL+pathNewOrder, `{"identifiers":[{"type":"dns","value":"*.W.test"},{"type":"ip","value":"127.0.0.1"},{"type":"dns","value":"w.test"},{"type":"dns","value":"w.test"}]}`, http.StatusCreated)
	orderURL := resp.Header.Get("Location")
	var o wire.Order
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Authorizations) != 3 || o.Profile != DefaultProfileName {
		t.Fatalf("order %+v: want 3 authorizations (duplicates merged) and the default profile", o)
	}
	for i, want := range [][]string{{"dns-01"}, {"http-01", "tls-alpn-01"}, {"http-01", "dns-01", "tls-alpn-01"}} {
		resp, b := rc.send(o.Authorizations[i], rc.sign(o.Authorizations[i], "", rc.nonce()), jws.ContentType)
		var az wire.Authorization
		if err := json.Unmarshal(b, &az); err != nil || resp.StatusCode != 200 {
			t.Fatalf("authorization: %d %s", resp.StatusCode, b)
		}
		var got []string
		for _, ch := range az.Challenges {
			got = append(got, ch.Type)
		}
		if !slices.Equal(got, want) {
			t.Errorf("authorization %d (%+v) offers %v, want %v", i, az.Identifier, got, want)
		}
		if i == 0 && (!az.Wildcard || az.Identifier.Value != "w.test") {
			t.Errorf("wildcard authorization %+v", az)
		}
	}
	// Deactivation, then nothing can be answered.
	rc.post(o.Authorizations[2], `{"status":"deactivated"}`, http.StatusOK)
	rc.post(o.Authorizations[2], `{"status":"deactivated"}`, http.StatusBadRequest)
	resp, b = rc.send(orderURL, rc.sign(orderURL, "", rc.nonce()), jws.ContentType)
	if err := json.Unmarshal(b, &o); err != nil || o.Status != wire.StatusInvalid {
		t.Fatalf("order after deactivation: %d %s", resp.StatusCode, b)
	}
}
