package va

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"
)

// maxRecords is how many TXT records an error's detail quotes.
const maxRecords = 10

// validateDNS01 looks for base64url(SHA-256(keyAuth)) among the TXT
// records at _acme-challenge.<name> (RFC 8555 §8.4).
func (a *Authority) validateDNS01(ctx context.Context, id identifier, keyAuth string) error {
	start := time.Now()
	// The trailing dot makes the name absolute, so the resolver does not
	// try it under the search domains of /etc/resolv.conf.
	name := "_acme-challenge." + id.name + "."
	want := txtValue(keyAuth)
	records, err := bounded(ctx, func() ([]string, error) { return a.lookupTXT(ctx, name) })
	if err != nil {
		if cause, ok := stopped(ctx, start, err); ok {
			return newError(TypeDNS, cause, "looking up TXT records at %s through %s", name, a.txtResolver)
		}
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return newError(TypeUnauthorized, err, "no TXT record at %s through %s (want %q)", name, a.txtResolver, want)
		}
		return newError(TypeDNS, err, "looking up TXT records at %s through %s", name, a.txtResolver)
	}
	if len(records) == 0 {
		return &Error{Type: TypeUnauthorized, Detail: fmt.Sprintf("no TXT record at %s through %s (want %q)", name, a.txtResolver, want)}
	}
	found := 0
	for _, r := range records {
		// Every record is compared, so the time taken does not say which
		// one matched.
		found |= subtle.ConstantTimeCompare([]byte(r), []byte(want))
	}
	if found == 1 {
		return nil
	}
	return &Error{
		Type:   TypeIncorrectResponse,
		Detail: fmt.Sprintf("the TXT records at %s through %s are %s; none is %q", name, a.txtResolver, quoteAll(records, maxRecords), want),
	}
}

// txtValue is the TXT record that answers dns-01 for keyAuth.
func txtValue(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
