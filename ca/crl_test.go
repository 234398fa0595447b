package ca

import (
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestSignCRL(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	entry := x509.RevocationListEntry{SerialNumber: big.NewInt(0x1234), RevocationTime: now.Add(-time.Minute).UTC(), ReasonCode: 1}
	for _, kt := range []KeyType{ECDSAP256, RSA2048} {
		t.Run("ok/"+string(kt), func(t *testing.T) {
			a := newTestCA(t, kt)
			der, err := a.SignCRL(CRLRequest{Number: big.NewInt(7), ThisUpdate: now, NextUpdate: now.Add(time.Hour),
				Entries: []x509.RevocationListEntry{entry}})
			if err != nil {
				t.Fatal(err)
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := crl.CheckSignatureFrom(a.Cert); err != nil {
				t.Fatalf("CRL signature: %v", err)
			}
			if crl.Number.Int64() != 7 || !crl.ThisUpdate.Equal(now) || !crl.NextUpdate.Equal(now.Add(time.Hour)) {
				t.Errorf("CRL number %v, this %v, next %v", crl.Number, crl.ThisUpdate, crl.NextUpdate)
			}
			if len(crl.RevokedCertificateEntries) != 1 {
				t.Fatalf("%d entries, want 1", len(crl.RevokedCertificateEntries))
			}
			got := crl.RevokedCertificateEntries[0]
			if got.SerialNumber.Cmp(entry.SerialNumber) != 0 || !got.RevocationTime.Equal(entry.RevocationTime) || got.ReasonCode != 1 {
				t.Errorf("entry %+v, want %+v", got, entry)
			}
		})
	}
	a := newTestCA(t, ECDSAP256)
	for _, tc := range []struct {
		name string
		req  CRLRequest
		want string
	}{
		{"fail/no number", CRLRequest{ThisUpdate: now, NextUpdate: now.Add(time.Hour)}, "number"},
		{"fail/zero number", CRLRequest{Number: big.NewInt(0), ThisUpdate: now, NextUpdate: now.Add(time.Hour)}, "number"},
		{"fail/next before this", CRLRequest{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now}, "nextUpdate"},
		{"fail/no times", CRLRequest{Number: big.NewInt(1)}, "nextUpdate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.SignCRL(tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SignCRL = %v, want an error about %s", err, tc.want)
			}
		})
	}
}
