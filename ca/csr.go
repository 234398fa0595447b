package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ParseCSR reads a certificate signing request in PEM or DER form and checks
// its self-signature.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("expected a PEM CERTIFICATE REQUEST block, found %q", block.Type)
		}
		der = block.Bytes
	} else if strings.Contains(string(data), "-----BEGIN") {
		return nil, errors.New("the PEM data is damaged")
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("decoding certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("checking the request's signature: %w", err)
	}
	return csr, nil
}

// CSRNames returns the names a CSR asks for, validated like command-line
// names. A request without SANs falls back to its common name, as many older
// tools put the host name only there.
func CSRNames(csr *x509.CertificateRequest) (Names, []string, error) {
	var raw []string
	raw = append(raw, csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		raw = append(raw, ip.String())
	}
	raw = append(raw, csr.EmailAddresses...)
	for _, u := range csr.URIs {
		raw = append(raw, u.String())
	}
	if len(raw) == 0 && csr.Subject.CommonName != "" {
		raw = append(raw, csr.Subject.CommonName)
	}
	if len(raw) == 0 {
		return nil, nil, errors.New("the request names no host: it has no subject alternative names and no common name")
	}
	// ParseNames bounds the count, with the same message as for issue.
	return ParseNames(raw)
}

// SignCSR issues a certificate for the public key and names in csr. Nothing
// else in the request is honoured: requested extensions such as
// basicConstraints CA:TRUE or key usages are ignored, and the leaf gets the
// same profile as Issue gives.
func (a *Authority) SignCSR(csr *x509.CertificateRequest, days int, client bool) (*Leaf, []string, error) {
	names, warnings, err := CSRNames(csr)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, nil, fmt.Errorf("checking the request's key: %w", err)
	}
	leaf, err := a.Issue(LeafRequest{Names: names, PublicKey: csr.PublicKey, Days: days, Client: client})
	if err != nil {
		return nil, nil, err
	}
	return leaf, warnings, nil
}

// IgnoredExtensions names the extensions in a request that signing drops:
// everything but the subject alternative names.
func IgnoredExtensions(exts []pkix.Extension) []string {
	var out []string
	for _, ext := range exts {
		oid := ext.Id.String()
		if oid == "2.5.29.17" { // subjectAltName: honoured
			continue
		}
		if name, ok := extensionNames[oid]; ok {
			out = append(out, name)
		} else {
			out = append(out, oid)
		}
	}
	return out
}

// extensionNames names the extensions a CSR commonly requests.
var extensionNames = map[string]string{
	"2.5.29.19":          "basicConstraints",
	"2.5.29.15":          "keyUsage",
	"2.5.29.37":          "extendedKeyUsage",
	"2.5.29.30":          "nameConstraints",
	"2.5.29.14":          "subjectKeyIdentifier",
	"2.5.29.35":          "authorityKeyIdentifier",
	"2.5.29.31":          "cRLDistributionPoints",
	"1.3.6.1.5.5.7.1.1":  "authorityInfoAccess",
	"1.3.6.1.5.5.7.1.24": "TLS feature (must-staple)",
}
