package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca/acme/store/pgstore/pgtest"
	"github.com/devca/devca/ca/acme/wire"
)

// eabRun runs one devca command in home to its end and returns its stdout,
// stderr and exit code.
func eabRun(t *testing.T, home string, args ...string) (string, string, int) {
	t.Helper()
	code, out, errOut := runDevca(t, home, home, args...)
	return out, errOut, code
}

// createEABKey runs 'devca acme eab create' and reads the key ID and the HMAC
// key from its output, checking the line of each client.
func createEABKey(t *testing.T, home string, args ...string) *acme.ExternalAccountBinding {
	t.Helper()
	out, errOut, code := eabRun(t, home, append([]string{"acme", "eab", "create"}, args...)...)
	if code != 0 {
		t.Fatalf("devca acme eab create: exit %d\n%s", code, errOut)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, value, _ := strings.Cut(line, ":")
		fields[name] = strings.TrimSpace(value)
	}
	kid, hmac := fields["kid"], fields["hmac-key"]
	key, err := base64.RawURLEncoding.DecodeString(hmac)
	if kid == "" || err != nil || len(key) != 32 {
		t.Fatalf("eab create printed no kid and base64url HMAC key of 32 bytes:\n%s", out)
	}
	for client, want := range map[string][]string{
		"certbot":      {"--eab-kid " + kid, "--eab-hmac-key " + hmac},
		"lego":         {"--eab", "--kid " + kid, "--hmac " + hmac},
		"acme.sh":      {"--eab-kid " + kid, "--eab-hmac-key " + hmac},
		"cert-manager": {"externalAccountBinding", "keyID: " + kid, "secret=" + hmac, "keySecretRef"},
	} {
		for _, w := range want {
			if !strings.Contains(fields[client], w) {
				t.Errorf("the %s line %q does not say %q", client, fields[client], w)
			}
		}
	}
	return &acme.ExternalAccountBinding{KID: kid, Key: key}
}

// registerEAB registers a new account key with eab at the server.
func registerEAB(ctx context.Context, t *testing.T, home, dirURL string, eab *acme.ExternalAccountBinding) (*acme.Client, error) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	httpClient, _ := rootClient(t, home)
	c := &acme.Client{Key: key, DirectoryURL: dirURL, HTTPClient: httpClient}
	_, err = c.Register(ctx, &acme.Account{ExternalAccountBinding: eab}, acme.AcceptTOS)
	return c, err
}

func acmeProblemType(err error) string {
	var ae *acme.Error
	if errors.As(err, &ae) {
		return strings.TrimPrefix(ae.ProblemType, wire.ErrorNS)
	}
	return ""
}

// TestACMEExternalAccountBinding drives the real commands with the bbolt
// store: eab create while the server runs is refused with what to do, a key
// made with the command registers one account and no second, a revoked key
// registers none, and --allow refuses names outside it at newOrder.
func TestACMEExternalAccountBinding(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--require-eab", "--allow", "*.team.test", "--allow", "10.1.0.0/16"}

	p := startACME(t, home, args...)
	_, errOut, code := eabRun(t, home, "acme", "eab", "create")
	if code != 1 || !strings.Contains(errOut, "another process has it open") || !strings.Contains(errOut, "stop it") ||
		!strings.Contains(errOut, "PostgreSQL") {
		t.Errorf("eab create on the file of a running server: exit %d, want 1 saying to stop it or use PostgreSQL:\n%s", code, errOut)
	}
	if _, err := registerEAB(ctx, t, home, p.url, nil); acmeProblemType(err) != "externalAccountRequired" {
		t.Errorf("Register without a binding: %v, want externalAccountRequired", err)
	}
	httpClient, _ := rootClient(t, home)
	dir, err := (&acme.Client{DirectoryURL: p.url, HTTPClient: httpClient}).Discover(ctx)
	if err != nil || !dir.ExternalAccountRequired {
		t.Errorf("directory meta externalAccountRequired = %v (%v), want true", dir.ExternalAccountRequired, err)
	}
	p.stop(t)

	first := createEABKey(t, home, "--note", "alice")
	second := createEABKey(t, home, "--note", "bob")
	p = startACME(t, home, args...)
	c, err := registerEAB(ctx, t, home, p.url, first)
	if err != nil {
		t.Fatalf("Register with a key from eab create: %v\nstderr:\n%s", err, p.stderr)
	}
	if _, err := registerEAB(ctx, t, home, p.url, first); acmeProblemType(err) != "unauthorized" {
		t.Errorf("a second account on the same key: %v, want unauthorized", err)
	}

	// --allow: a name outside it is refused at newOrder, named with the policy.
	_, err = c.AuthorizeOrder(ctx, acme.DomainIDs("a.team.test", "other.test"))
	if acmeProblemType(err) != "rejectedIdentifier" || !strings.Contains(err.Error(), "other.test") ||
		!strings.Contains(err.Error(), "*.team.test, 10.1.0.0/16") || strings.Contains(err.Error(), `"a.team.test"`) {
		t.Errorf("order for a.team.test and other.test: %v, want rejectedIdentifier naming other.test and the policy", err)
	}
	if _, err := c.AuthorizeOrder(ctx, append(acme.DomainIDs("a.team.test", "*.team.test"), acme.IPIDs("10.1.2.3")...)); err != nil {
		t.Errorf("order for names inside --allow: %v", err)
	}
	p.stop(t)

	if _, errOut, code := eabRun(t, home, "acme", "eab", "revoke", second.KID); code != 0 {
		t.Fatalf("eab revoke: exit %d\n%s", code, errOut)
	}
	out, _, code := eabRun(t, home, "acme", "eab", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.Contains(lines[1], first.KID) || !strings.Contains(lines[1], "bound to account") ||
		!strings.Contains(lines[1], "alice") || !strings.Contains(lines[2], second.KID) || !strings.Contains(lines[2], "revoked") ||
		!strings.Contains(lines[2], "bob") {
		t.Errorf("eab list after binding the first key and revoking the second: exit %d\n%s", code, out)
	}
	if strings.Contains(out, base64.RawURLEncoding.EncodeToString(first.Key)) {
		t.Error("eab list shows an HMAC key")
	}
	p = startACME(t, home, args...)
	defer p.stop(t)
	if _, err := registerEAB(ctx, t, home, p.url, second); acmeProblemType(err) != "unauthorized" {
		t.Errorf("Register with a revoked key: %v, want unauthorized", err)
	}
	// The bound account still works after the restarts (at the new port).
	c = &acme.Client{Key: c.Key, DirectoryURL: p.url, HTTPClient: httpClient}
	if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs("b.team.test")); err != nil {
		t.Errorf("the bound account after restarts: %v", err)
	}
}

// TestACMEEABUsage checks that usage errors exit 2 and change nothing.
func TestACMEEABUsage(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	for _, args := range [][]string{
		{"acme", "eab", "revoke"},
		{"acme", "eab", "revoke", "a", "b"},
		{"acme", "eab", "list", "x"},
		{"acme", "eab", "create", "--note", "two\nlines"},
		{"acme", "eab", "create", "--server", "http://plain"},
		{"acme", "--allow", "10.1.2.0/16"},
		{"acme", "--allow", "*.*.team.test"},
	} {
		_, errOut, code := eabRun(t, home, args...)
		if code != 2 || !strings.HasPrefix(errOut, "devca: error: ") {
			t.Errorf("devca %q: exit %d, want 2 with an error\n%s", args, code, errOut)
		}
	}
	if out, errOut, code := eabRun(t, home, "acme", "eab", "list"); code != 1 || out != "" || !strings.Contains(errOut, "no ACME state") {
		t.Errorf("eab list without a store: exit %d, %q\n%s", code, out, errOut)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("usage errors left %v in the CA home", entries)
	}
}

// TestACMEEABPostgres checks that on PostgreSQL a key created while two
// servers run binds at once through either, and a revocation reaches both.
func TestACMEEABPostgres(t *testing.T) {
	cluster := pgtest.Start(t)
	db := cluster.NewDatabase(t)
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p1 := startACME(t, home, "--db", db, "--require-eab")
	defer p1.stop(t)
	p2 := startACME(t, home, "--db", db, "--require-eab")
	defer p2.stop(t)

	key := createEABKey(t, home, "--db", db)
	if _, err := registerEAB(ctx, t, home, p1.url, key); err != nil {
		t.Fatalf("Register on the first server with a key made while it ran: %v\nstderr:\n%s", err, p1.stderr)
	}
	if _, err := registerEAB(ctx, t, home, p2.url, key); acmeProblemType(err) != "unauthorized" {
		t.Errorf("a second account on the key through the other server: %v, want unauthorized", err)
	}
	other := createEABKey(t, home, "--db", db)
	if _, errOut, code := eabRun(t, home, "acme", "eab", "revoke", "--db", db, other.KID); code != 0 {
		t.Fatalf("eab revoke: exit %d\n%s", code, errOut)
	}
	if _, err := registerEAB(ctx, t, home, p2.url, other); acmeProblemType(err) != "unauthorized" {
		t.Errorf("Register with a key revoked while the server ran: %v, want unauthorized", err)
	}
}
