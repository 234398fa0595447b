package wire

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestProblemConstructors(t *testing.T) {
	for _, tc := range []struct {
		p      *Problem
		typ    string
		status int
	}{
		{AccountDoesNotExistProblem("x"), "accountDoesNotExist", http.StatusBadRequest},
		{AlreadyReplacedProblem("x"), "alreadyReplaced", http.StatusConflict},
		{AlreadyRevokedProblem("x"), "alreadyRevoked", http.StatusBadRequest},
		{BadCSRProblem("x"), "badCSR", http.StatusBadRequest},
		{BadNonceProblem("x"), "badNonce", http.StatusBadRequest},
		{BadPublicKeyProblem("x"), "badPublicKey", http.StatusBadRequest},
		{BadRevocationReasonProblem("x"), "badRevocationReason", http.StatusBadRequest},
		{BadSignatureAlgorithmProblem([]string{"ES256"}, "x"), "badSignatureAlgorithm", http.StatusBadRequest},
		{CAAProblem("x"), "caa", http.StatusForbidden},
		{CompoundProblem(nil, "x"), "compound", http.StatusBadRequest},
		{ConnectionProblem("x"), "connection", http.StatusBadRequest},
		{DNSProblem("x"), "dns", http.StatusBadRequest},
		{ExternalAccountRequiredProblem("x"), "externalAccountRequired", http.StatusUnauthorized},
		{IncorrectResponseProblem("x"), "incorrectResponse", http.StatusBadRequest},
		{InvalidContactProblem("x"), "invalidContact", http.StatusBadRequest},
		{InvalidProfileProblem("x"), "invalidProfile", http.StatusBadRequest},
		{MalformedProblem("x"), "malformed", http.StatusBadRequest},
		{OrderNotReadyProblem("x"), "orderNotReady", http.StatusForbidden},
		{RateLimitedProblem("x"), "rateLimited", http.StatusTooManyRequests},
		{RejectedIdentifierProblem("x"), "rejectedIdentifier", http.StatusBadRequest},
		{ServerInternalProblem("x"), "serverInternal", http.StatusInternalServerError},
		{TLSProblem("x"), "tls", http.StatusBadRequest},
		{UnauthorizedProblem("x"), "unauthorized", http.StatusForbidden},
		{UnsupportedContactProblem("x"), "unsupportedContact", http.StatusBadRequest},
		{UnsupportedIdentifierProblem("x"), "unsupportedIdentifier", http.StatusBadRequest},
		{UserActionRequiredProblem("x"), "userActionRequired", http.StatusForbidden},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			if tc.p.Type != ErrorNS+tc.typ || tc.p.Status != tc.status || tc.p.Detail != "x" {
				t.Errorf("got %+v, want type %s status %d", tc.p, tc.typ, tc.status)
			}
		})
	}
}

func TestProblemJSON(t *testing.T) {
	sub := RejectedIdentifierProblem("%q is outside the root's name constraints", "a.example")
	sub.Identifier = &Identifier{Type: IdentifierDNS, Value: "a.example"}
	p := RejectedIdentifierProblem("1 identifier refused")
	p.Subproblems = []*Problem{sub}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"1 identifier refused","status":400,` +
		`"subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"\"a.example\" is outside the root's name constraints",` +
		`"status":400,"identifier":{"type":"dns","value":"a.example"}}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestAsProblem(t *testing.T) {
	err := fmt.Errorf("validating: %w", ConnectionProblem("refused"))
	p, ok := AsProblem(err)
	if !ok || !strings.HasSuffix(p.Type, "connection") {
		t.Errorf("AsProblem(%v) = %v, %v", err, p, ok)
	}
	if _, ok := AsProblem(fmt.Errorf("plain")); ok {
		t.Error("AsProblem found a problem in a plain error")
	}
	if got := p.WithStatus(404); got.Status != 404 || p.Status != 400 {
		t.Errorf("WithStatus changed the original or did not set: %d %d", got.Status, p.Status)
	}
}
