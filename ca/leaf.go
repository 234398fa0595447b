package ca

import (
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// MaxLeafDays is the longest leaf validity devca issues: Apple platforms
// reject TLS server certificates valid for more than 825 days
// (https://support.apple.com/en-us/103769).
const MaxLeafDays = 825

// MaxNames bounds how many names one certificate may carry, whether they come
// from the command line or a CSR: more is a mistake or an attack, and huge
// certificates break TLS handshakes.
const MaxNames = 100

// checkNameCount is the one check of MaxNames, so that every way in gives the
// same message.
func checkNameCount(n int) error {
	if n > MaxNames {
		return fmt.Errorf("%d names given; a certificate carries at most %d (huge certificates break TLS handshakes): split them over several certificates", n, MaxNames)
	}
	return nil
}

// backdate is how far before "now" a leaf becomes valid, so that a client
// whose clock runs a little behind (a VM after suspend, a phone) accepts it.
const backdate = time.Hour

// LeafRequest describes the certificate Issue makes.
type LeafRequest struct {
	Names Names
	// KeyType is the type of the fresh key; ignored when PublicKey is set.
	KeyType KeyType
	// PublicKey, when set, is certified instead of a fresh key (CSR signing).
	PublicKey crypto.PublicKey
	// Days shortens the validity; 0 means MaxLeafDays.
	Days int
	// Lifetime, when not zero, sets the validity more finely than Days
	// (an ACME server issuing short-lived certificates); it may not be
	// combined with Days, nor exceed MaxLeafDays.
	Lifetime time.Duration
	// NotBefore, when set, starts the validity there instead of an hour
	// ago (an ACME order's notBefore); it needs Lifetime, and the
	// certificate must start before the root expires.
	NotBefore time.Time
	// Client adds the clientAuth extended key usage.
	Client bool
}

// Leaf is an issued certificate with its private key, if devca made it.
type Leaf struct {
	Cert    *x509.Certificate
	CertPEM []byte
	// Key and KeyPEM are nil for a signed CSR.
	Key    crypto.Signer
	KeyPEM []byte
}

// TLSCertificate returns the leaf and the key as a tls.Certificate.
func (l *Leaf) TLSCertificate() (tls.Certificate, error) {
	if l.Key == nil {
		return tls.Certificate{}, errors.New("the leaf has no private key")
	}
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}, nil
}

// issuerName says which certificate signs, for messages.
func (a *Authority) issuerName() string {
	if a.issuer != nil {
		return "intermediate CA"
	}
	return "root"
}

// ConstraintError reports a name the root's name constraints do not permit.
type ConstraintError struct {
	Name        Name
	Constraints Constraints
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("%s name %q is outside the root's name constraints (permitted: %s)", e.Name.Kind, e.Name.Value, e.Constraints)
}

// Issue signs a new leaf certificate. Every name is checked against the
// root's name constraints before anything is signed.
func (a *Authority) Issue(req LeafRequest) (*Leaf, error) {
	if len(req.Names) == 0 {
		return nil, errors.New("a certificate needs at least one name")
	}
	if err := checkNameCount(len(req.Names)); err != nil {
		return nil, err
	}
	cons := a.Constraints()
	for _, n := range req.Names {
		if !cons.Permits(n) {
			return nil, &ConstraintError{Name: n, Constraints: cons}
		}
	}
	if req.Days < 0 || req.Days > MaxLeafDays {
		return nil, fmt.Errorf("validity of %d days is outside 1–%d", req.Days, MaxLeafDays)
	}
	if req.Lifetime != 0 && (req.Days != 0 || req.Lifetime < time.Minute || req.Lifetime > MaxLeafDays*24*time.Hour) {
		return nil, fmt.Errorf("validity of %s is not from a minute to %d days, or is given in days too", req.Lifetime, MaxLeafDays)
	}
	now := a.now()
	parent, what := a.IssuerCert(), a.issuerName()
	if !now.Before(parent.NotAfter) {
		return nil, fmt.Errorf("the %s certificate expired on %s", what, parent.NotAfter.UTC().Format(time.DateOnly))
	}
	if !req.NotBefore.IsZero() && (req.Lifetime == 0 || !req.NotBefore.Before(parent.NotAfter)) {
		return nil, fmt.Errorf("a start of validity (%s) needs a lifetime and must be before the %s expires (%s)",
			req.NotBefore.UTC().Format(time.RFC3339), what, parent.NotAfter.UTC().Format(time.RFC3339))
	}
	signer, err := a.Signer()
	if err != nil {
		return nil, err
	}

	leaf := &Leaf{}
	pub := req.PublicKey
	if pub == nil {
		kt := req.KeyType
		if kt == "" {
			kt = DefaultKeyType
		}
		key, err := generateKey(kt, a.rand)
		if err != nil {
			return nil, fmt.Errorf("generating %s key: %w", kt, err)
		}
		if leaf.KeyPEM, err = marshalKeyPEM(key); err != nil {
			return nil, err
		}
		leaf.Key, pub = key, key.Public()
	} else if err := checkPublicKey(pub); err != nil {
		return nil, err
	}

	tmpl, err := a.leafTemplate(req, pub, now)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(a.rand, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	if leaf.Cert, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("parsing new certificate: %w", err)
	}
	leaf.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return leaf, nil
}

func (a *Authority) leafTemplate(req LeafRequest, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial(a.rand)
	if err != nil {
		return nil, err
	}
	lifetime := time.Duration(req.Days) * 24 * time.Hour
	switch {
	case req.Lifetime != 0:
		lifetime = req.Lifetime
	case req.Days == 0:
		lifetime = MaxLeafDays * 24 * time.Hour
	}
	notBefore := now.Add(-backdate)
	if !req.NotBefore.IsZero() {
		notBefore = req.NotBefore
	}
	notAfter := notBefore.Add(lifetime)
	parent := a.IssuerCert()
	if notAfter.After(parent.NotAfter) {
		notAfter = parent.NotAfter
	}
	if notBefore.Before(parent.NotBefore) {
		notBefore = parent.NotBefore
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"devca development certificate"},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	// RSA key exchange (TLS 1.2 and older) encrypts with the certificate's
	// key, which needs keyEncipherment; ECDSA keys only ever sign.
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if req.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	hasEmail := false
	for _, n := range req.Names {
		switch n.Kind {
		case DNSName:
			tmpl.DNSNames = append(tmpl.DNSNames, n.Value)
		case IPAddress:
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(n.IP.AsSlice()))
		case EmailAddress:
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, n.Value)
			hasEmail = true
		case URIName:
			u, err := url.Parse(n.Value)
			if err != nil {
				return nil, fmt.Errorf("re-reading URI %q: %w", n.Value, err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		}
	}
	if hasEmail {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageEmailProtection)
	}
	// A common name helps people reading the certificate and old clients;
	// modern clients match only the SANs. It is taken from a DNS name only:
	// OpenSSL checks a CN against the root's DNS name constraints when the
	// leaf has no DNS SAN, and rejects an IP address or email found there.
	for _, n := range req.Names {
		if n.Kind == DNSName && len(n.Value) <= 64 {
			tmpl.Subject.CommonName = n.Value
			break
		}
	}
	return tmpl, nil
}
