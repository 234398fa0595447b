package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// CRLRequest describes a certificate revocation list for [Authority.SignCRL].
type CRLRequest struct {
	// Number is the CRL number (RFC 5280, section 5.2.3): positive, and
	// greater in each later list.
	Number *big.Int
	// ThisUpdate is when the list was made; NextUpdate, after it, when the
	// next one is due.
	ThisUpdate, NextUpdate time.Time
	// Entries are the revoked certificates, with their serial numbers,
	// revocation times and reason codes.
	Entries []x509.RevocationListEntry
}

// SignCRL returns a CRL (DER) signed by the root (or the intermediate CA
// the Authority is backed by) for req, as `openssl crl`
// and `openssl verify -crl_check` read it. The root needs the cRLSign key
// usage, which every root devca creates has; an adopted root without it
// cannot sign a CRL.
func (a *Authority) SignCRL(req CRLRequest) ([]byte, error) {
	switch {
	case req.Number == nil || req.Number.Sign() <= 0:
		return nil, errors.New("signing CRL: the CRL number must be positive")
	case req.ThisUpdate.IsZero() || !req.NextUpdate.After(req.ThisUpdate):
		return nil, errors.New("signing CRL: nextUpdate must come after thisUpdate")
	case a.IssuerCert().KeyUsage != 0 && a.IssuerCert().KeyUsage&x509.KeyUsageCRLSign == 0:
		return nil, fmt.Errorf("signing CRL: the %s certificate lacks the cRLSign key usage, so no client would accept a CRL it signed", a.issuerName())
	}
	signer, err := a.Signer()
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateRevocationList(a.rand, &x509.RevocationList{
		Number: req.Number, ThisUpdate: req.ThisUpdate.UTC(), NextUpdate: req.NextUpdate.UTC(),
		RevokedCertificateEntries: req.Entries,
	}, a.IssuerCert(), signer)
	if err != nil {
		return nil, fmt.Errorf("signing CRL: %w", err)
	}
	return der, nil
}
