package wfe

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/devca/devca/ca/acme/wire"
)

// parseCSR decodes finalize's csr field (base64url DER, RFC 8555 §7.4), checks its
// signature and accepts RSA (2048–8192 bits), ECDSA (P-256, P-384, P-521) and Ed25519
// keys. Its errors are badCSR problems.
func parseCSR(b64 string) (*x509.CertificateRequest, error) {
	der, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(b64, "="))
	if err != nil {
		return nil, wire.BadCSRProblem("csr is not base64url: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, wire.BadCSRProblem("csr is not a DER certificate request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, wire.BadCSRProblem("csr signature does not verify: %v", err)
	}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minCSRRSABits || n > maxCSRRSABits {
			return nil, wire.BadCSRProblem("RSA key of %d bits; use %d to %d bits", n, minCSRRSABits, maxCSRRSABits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return nil, wire.BadCSRProblem("curve %s is not accepted; use P-256, P-384 or P-521", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return nil, wire.BadCSRProblem("key type %T is not accepted; use RSA, ECDSA or Ed25519", csr.PublicKey)
	}
	return csr, nil
}

// Bounds on certificate RSA keys, as for account keys.
const (
	minCSRRSABits = 2048
	maxCSRRSABits = 8192
)

// checkCSRNames requires the CSR's names (SANs, and the common name when set) to be
// exactly the order's identifiers (RFC 8555 §7.4), and returns them for the Issuer.
// Other requested extensions are ignored, as `devca sign` ignores them.
func checkCSRNames(csr *x509.CertificateRequest, ids []wire.Identifier) (dnsNames []string, ips []net.IP, err error) {
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, nil, wire.BadCSRProblem("csr asks for email or URI names; an ACME order only has DNS names and IP addresses")
	}
	asked := map[string]bool{}
	for _, n := range csr.DNSNames {
		asked[strings.ToLower(n)] = true
	}
	for _, ip := range csr.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			asked[a.Unmap().String()] = true
		}
	}
	if cn := csr.Subject.CommonName; cn != "" {
		asked[strings.ToLower(cn)] = true
	}
	var missing, extra []string
	ordered := map[string]bool{}
	for _, id := range ids {
		ordered[id.Value] = true
		if !asked[id.Value] {
			missing = append(missing, id.Value)
		}
		if id.Type == wire.IdentifierIP {
			ips = append(ips, net.ParseIP(id.Value))
		} else {
			dnsNames = append(dnsNames, id.Value)
		}
	}
	for n := range asked {
		if !ordered[n] {
			extra = append(extra, n)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		slices.Sort(extra)
		return nil, nil, wire.BadCSRProblem("csr names must equal the order's identifiers: missing [%s], not in the order [%s]",
			strings.Join(missing, " "), strings.Join(extra, " "))
	}
	return dnsNames, ips, nil
}
