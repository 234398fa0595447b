package ca

import (
	"errors"
	"strings"
	"testing"
)

// An IPv6 zone or a CIDR range is not a bad DNS name: the message says what
// it is and why a certificate cannot hold it.
func TestParseNameAddressLike(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"fe80::1%eth0", []string{"%eth0 is an IPv6 zone", "use fe80::1"}},
		{"[fe80::1%eth0]", []string{"%eth0 is an IPv6 zone", "use fe80::1"}},
		{"fe80::1%25", []string{"IPv6 zone", "use fe80::1"}},
		{"10.0.0.0/8", []string{"10.0.0.0/8 is an address range (CIDR), not an address"}},
		{"fd00::/8", []string{"fd00::/8 is an address range"}},
		{"10.0.0.1/32", []string{"range (CIDR) of one address", "10.0.0.1"}},
		{"[::1/128]", []string{"range (CIDR) of one address", "::1"}},
	} {
		t.Run("fail/"+tc.in, func(t *testing.T) {
			_, err := ParseName(tc.in)
			var ne *NameError
			if !errors.As(err, &ne) || ne.Input != tc.in {
				t.Fatalf("err = %v, want a *NameError for %q", err, tc.in)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "DNS") {
				t.Errorf("message %q still talks about DNS", err)
			}
		})
	}
}
