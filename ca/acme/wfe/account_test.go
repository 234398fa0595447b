package wfe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/devca/devca/ca/acme/wire"
)

func TestAccountLifecycle(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := newClient(t, ts)
	if _, err := c.GetReg(ctx, ""); !errors.Is(err, acme.ErrNoAccount) {
		t.Fatalf("onlyReturnExisting before registering = %v, want ErrNoAccount", err)
	}
	acct, err := c.Register(ctx, &acme.Account{Contact: []string{"mailto:a@example.test"}}, acme.AcceptTOS)
	if err != nil {
		t.Fatal(err)
	}
	acct.Contact = []string{"mailto:b@example.test"}
	if got, err := c.UpdateReg(ctx, acct); err != nil || !slices.Equal(got.Contact, acct.Contact) {
		t.Fatalf("UpdateReg = %+v, %v", got, err)
	}
	acct.Contact = []string{"tel:+1555"}
	if _, err := c.UpdateReg(ctx, acct); err == nil {
		t.Fatal("a tel: contact was accepted")
	}

	// Key rollover: the new key finds the account, the old one no longer does.
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	oldKey := c.Key
	if err := c.AccountKeyRollover(ctx, newKey); err != nil {
		t.Fatalf("AccountKeyRollover: %v", err)
	}
	if got, err := c.GetReg(ctx, ""); err != nil || got.URI != acct.URI {
		t.Fatalf("account by new key: %+v, %v", got, err)
	}
	old := &acme.Client{Key: oldKey, DirectoryURL: c.DirectoryURL, HTTPClient: ts.Client()}
	if _, err := old.GetReg(ctx, ""); !errors.Is(err, acme.ErrNoAccount) {
		t.Fatalf("account by old key = %v, want ErrNoAccount", err)
	}

	if err := c.DeactivateReg(ctx); err != nil {
		t.Fatalf("DeactivateReg: %v", err)
	}
	_, err = c.AuthorizeOrder(ctx, acme.DomainIDs("a.test"))
	if ae, ok := errors.AsType[*acme.Error](err); !ok || ae.ProblemType != wire.ErrorNS+"unauthorized" {
		t.Fatalf("order by a deactivated account = %v, want unauthorized", err)
	}
}
