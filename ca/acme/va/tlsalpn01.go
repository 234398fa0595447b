package va

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// acmeTLS1 is the ALPN protocol of tls-alpn-01 (RFC 8737 §6.2).
const acmeTLS1 = "acme-tls/1"

// validateTLSALPN01 connects with the acme-tls/1 protocol and checks the
// validation certificate (RFC 8737 §3; RFC 8738 §6 for IP addresses).
func (a *Authority) validateTLSALPN01(ctx context.Context, id identifier, keyAuth string) error {
	start := time.Now()
	sni := id.name
	if id.addr.IsValid() {
		sni = reverseName(id.addr)
	}
	conn, err := a.dial(ctx, start, id.host(), a.tlsPort, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	addr := conn.RemoteAddr().String()
	fail := func(typ string, cause error, format string, args ...any) *Error {
		e := newError(typ, cause, "TLS with %s at %s (server name %q, protocol %q): "+format, append([]any{id.host(), addr, sni, acmeTLS1}, args...)...)
		e.Addr = addr
		return e
	}

	tc := tls.Client(conn, &tls.Config{
		ServerName: sni,
		NextProtos: []string{acmeTLS1},
		// The validation certificate is self-signed by design; what
		// proves control is checked below instead of a chain.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS12,
	})
	if err := tc.HandshakeContext(ctx); err != nil {
		if cause, ok := stopped(ctx, start, err); ok {
			return fail(TypeConnection, cause, "no complete handshake")
		}
		return fail(TypeTLS, err, "handshake")
	}
	state := tc.ConnectionState()
	if state.NegotiatedProtocol != acmeTLS1 {
		got := "none"
		if state.NegotiatedProtocol != "" {
			got = strconv.Quote(state.NegotiatedProtocol)
		}
		return fail(TypeUnauthorized, nil, "the server did not negotiate %q (negotiated %s)", acmeTLS1, got)
	}
	if err := checkValidationCert(state.PeerCertificates[0], id, keyAuth); err != nil {
		return fail(TypeIncorrectResponse, err, "the certificate")
	}
	return nil
}

// checkValidationCert checks what RFC 8737 §3 asks of a validation
// certificate: a critical acmeIdentifier extension holding SHA-256(keyAuth),
// a subjectAltName naming id and nothing else, and a self-signature.
func checkValidationCert(cert *x509.Certificate, id identifier, keyAuth string) error {
	acmeIdentifier := asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}
	subjectAltName := asn1.ObjectIdentifier{2, 5, 29, 17}
	var acmeExt, sanExt *asn1.RawValue
	critical := false
	for _, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(acmeIdentifier):
			acmeExt, critical = &asn1.RawValue{Bytes: ext.Value}, ext.Critical
		case ext.Id.Equal(subjectAltName):
			sanExt = &asn1.RawValue{Bytes: ext.Value}
		}
	}

	want := sha256.Sum256([]byte(keyAuth))
	if acmeExt == nil {
		return fmt.Errorf("has no acmeIdentifier extension (%s)", acmeIdentifier)
	}
	if !critical {
		return errors.New("has an acmeIdentifier extension that is not critical")
	}
	var digest []byte
	if rest, err := asn1.Unmarshal(acmeExt.Bytes, &digest); err != nil || len(rest) > 0 {
		return fmt.Errorf("has an acmeIdentifier extension that is not an OCTET STRING (%x)", acmeExt.Bytes)
	}
	if subtle.ConstantTimeCompare(digest, want[:]) != 1 {
		return fmt.Errorf("has an acmeIdentifier extension holding %x, want SHA-256 of the key authorization %q, %x", digest, keyAuth, want)
	}

	if sanExt == nil {
		return errors.New("has no subjectAltName extension")
	}
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(sanExt.Bytes, &names); err != nil || len(rest) > 0 {
		return fmt.Errorf("has a subjectAltName extension that does not parse (%x)", sanExt.Bytes)
	}
	wantName := "DNS:" + strconv.Quote(id.name)
	if id.addr.IsValid() {
		wantName = "IP:" + id.addr.String()
	}
	if len(names) != 1 || !sanIs(names[0], id) {
		described := make([]string, len(names))
		for i, n := range names {
			described[i] = describeSAN(n)
		}
		return fmt.Errorf("names %s, want only %s", strings.Join(described, ", "), wantName)
	}

	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return fmt.Errorf("is not self-signed: %w", err)
	}
	return nil
}

// The GeneralName tags of RFC 5280 §4.2.1.6 that describeSAN names.
const (
	tagEmail = 1
	tagDNS   = 2
	tagURI   = 6
	tagIP    = 7
)

// sanIs reports whether the GeneralName n is id: a dNSName equal to its
// name, ignoring case, or an iPAddress equal to its address.
func sanIs(n asn1.RawValue, id identifier) bool {
	if n.Class != asn1.ClassContextSpecific || n.IsCompound {
		return false
	}
	switch {
	case n.Tag == tagDNS && !id.addr.IsValid():
		return strings.EqualFold(string(n.Bytes), id.name)
	case n.Tag == tagIP && id.addr.IsValid():
		return bytes.Equal(n.Bytes, id.addr.AsSlice())
	}
	return false
}

// describeSAN writes the GeneralName n for a developer.
func describeSAN(n asn1.RawValue) string {
	if n.Class == asn1.ClassContextSpecific && !n.IsCompound {
		switch n.Tag {
		case tagDNS:
			return "DNS:" + strconv.Quote(string(n.Bytes))
		case tagIP:
			if addr, ok := netip.AddrFromSlice(n.Bytes); ok {
				return "IP:" + addr.String()
			}
		case tagEmail:
			return "email:" + strconv.Quote(string(n.Bytes))
		case tagURI:
			return "URI:" + strconv.Quote(string(n.Bytes))
		}
	}
	return fmt.Sprintf("[%d]%x", n.Tag, n.Bytes)
}

// reverseName is the reverse DNS name of addr (RFC 8738 §6), without the
// final dot: 4.3.2.1.in-addr.arpa, or 32 nibbles and ip6.arpa.
func reverseName(addr netip.Addr) string {
	b := addr.AsSlice()
	var sb strings.Builder
	if addr.Is4() {
		for i := len(b) - 1; i >= 0; i-- {
			sb.WriteString(strconv.Itoa(int(b[i])) + ".")
		}
		sb.WriteString("in-addr.arpa")
		return sb.String()
	}
	const hex = "0123456789abcdef"
	for i := len(b) - 1; i >= 0; i-- {
		sb.WriteByte(hex[b[i]&0xf])
		sb.WriteByte('.')
		sb.WriteByte(hex[b[i]>>4])
		sb.WriteByte('.')
	}
	sb.WriteString("ip6.arpa")
	return sb.String()
}
