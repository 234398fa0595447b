package ca

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
)

// One cap on the number of names, with one message, for names given on the
// command line, names in a CSR and anything handed to Issue directly.
func TestNameCap(t *testing.T) {
	many := make([]string, MaxNames+1)
	for i := range many {
		many[i] = fmt.Sprintf("h%d.test", i)
	}
	want := fmt.Sprintf("%d names given; a certificate carries at most %d", MaxNames+1, MaxNames)

	if _, _, err := ParseNames(many[:MaxNames]); err != nil {
		t.Errorf("ParseNames(%d names): %v", MaxNames, err)
	}
	_, _, err := ParseNames(many)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ParseNames(%d names) err = %v, want %q", len(many), err, want)
	}

	csr := &x509.CertificateRequest{DNSNames: many}
	if _, _, err := CSRNames(csr); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CSRNames(%d names) err = %v, want %q", len(many), err, want)
	}

	a := newTestCA(t, ECDSAP256)
	names := make(Names, 0, len(many))
	for _, s := range many {
		names = append(names, Name{Kind: DNSName, Value: s})
	}
	if _, err := a.Issue(LeafRequest{Names: names}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Issue(%d names) err = %v, want %q", len(names), err, want)
	}
	if _, err := a.Issue(LeafRequest{Names: names[:MaxNames]}); err != nil {
		t.Errorf("Issue(%d names): %v", MaxNames, err)
	}
}
