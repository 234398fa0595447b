package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MaxCSRSize bounds the file a certificate signing request is read from:
// even one with 100 names and an RSA-4096 key is under 16 KiB, so anything
// larger is not a request, and reading it would only cost memory.
const MaxCSRSize = 64 << 10

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
	// The x509 package drops SAN types it does not know; a request for
	// one must not be signed as if it had not asked.
	if kinds := unsupportedSANs(csr.Extensions); len(kinds) > 0 {
		return nil, nil, fmt.Errorf("the request asks for subject alternative names devca cannot certify: %s; "+
			"devca certifies DNS names, IP addresses, email addresses and URIs", strings.Join(kinds, ", "))
	}
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

// sanKinds names the GeneralName choices (RFC 5280, section 4.2.1.6) that
// crypto/x509 skips when it parses a request, by context tag number.
var sanKinds = map[uint8]string{
	0: "otherName (such as a Windows user principal name)",
	3: "x400Address",
	4: "directoryName",
	5: "ediPartyName",
	8: "registeredID",
}

// unsupportedSANs names the kinds of subject alternative name in exts that
// devca cannot put into a certificate, each once, in the order they appear.
// A SAN extension that does not parse is left to crypto/x509, which refuses
// it when the request is parsed.
func unsupportedSANs(exts []pkix.Extension) []string {
	var out []string
	seen := map[string]bool{}
	for _, ext := range exts {
		if ext.Id.String() != "2.5.29.17" {
			continue
		}
		input := cryptobyte.String(ext.Value)
		var seq cryptobyte.String
		if !input.ReadASN1(&seq, cbasn1.SEQUENCE) {
			continue
		}
		for !seq.Empty() {
			var name cryptobyte.String
			var tag cbasn1.Tag
			if !seq.ReadAnyASN1(&name, &tag) {
				break
			}
			const contextSpecific, classMask, numberMask = 0x80, 0xc0, 0x1f
			kind, known := sanKinds[uint8(tag)&numberMask]
			if uint8(tag)&classMask != contextSpecific || uint8(tag)&numberMask > 8 {
				kind, known = fmt.Sprintf("an unknown kind (tag 0x%02x)", uint8(tag)), true
			}
			if known && !seen[kind] {
				seen[kind] = true
				out = append(out, kind)
			}
		}
	}
	return out
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
