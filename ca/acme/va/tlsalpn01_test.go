package va

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"strconv"
	"testing"
	"time"
)

// alpnCert describes a validation certificate, the right one by default.
type alpnCert struct {
	dnsNames    []string // the SANs, unless ips is set
	ips         []net.IP
	digestOf    string // what the extension hashes instead of testKeyAuth
	noExt       bool   // leave out the acmeIdentifier extension
	nonCritical bool
	issuer      crypto.Signer // sign with this key instead of its own
}

// build returns the certificate for key.
func (c alpnCert) build(t *testing.T, key crypto.Signer) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "acme validation"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     c.dnsNames,
		IPAddresses:  c.ips,
	}
	if !c.noExt {
		of := testKeyAuth
		if c.digestOf != "" {
			of = c.digestOf
		}
		sum := sha256.Sum256([]byte(of))
		value, err := asn1.Marshal(sum[:])
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{
			Id:       asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31},
			Critical: !c.nonCritical,
			Value:    value,
		}}
	}
	signer := key
	if c.issuer != nil {
		signer = c.issuer
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// alpnSite is what startALPN answers for one server name.
type alpnSite struct {
	cert   tls.Certificate
	protos []string
}

// startALPN starts a TLS listener on 127.0.0.1 that answers each server
// name of sites with its certificate and protocols, and fails the
// handshake for other names. It returns the port; Cleanup stops it.
func startALPN(t *testing.T, sites map[string]alpnSite) int {
	t.Helper()
	cfg := &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			site, ok := sites[hello.ServerName]
			if !ok {
				return nil, &net.AddrError{Err: "no certificate for this server name", Addr: hello.ServerName}
			}
			return &tls.Config{Certificates: []tls.Certificate{site.cert}, NextProtos: site.protos}, nil
		},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.(*tls.Conn).Handshake() // the client reports what went wrong
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTLSALPN01(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	acme := []string{acmeTLS1}
	site := func(c alpnCert, protos []string) alpnSite {
		return alpnSite{cert: c.build(t, key), protos: protos}
	}
	port := startALPN(t, map[string]alpnSite{
		"ok.test":                site(alpnCert{dnsNames: []string{"ok.test"}}, []string{"h2", acmeTLS1}),
		"case.test":              site(alpnCert{dnsNames: []string{"CASE.Test"}}, acme),
		"1.0.0.127.in-addr.arpa": site(alpnCert{ips: []net.IP{net.IPv4(127, 0, 0, 1)}}, acme),
		"wrong-digest.test":      site(alpnCert{dnsNames: []string{"wrong-digest.test"}, digestOf: "another.key-authorization"}, acme),
		"no-ext.test":            site(alpnCert{dnsNames: []string{"no-ext.test"}, noExt: true}, acme),
		"non-critical.test":      site(alpnCert{dnsNames: []string{"non-critical.test"}, nonCritical: true}, acme),
		"two-sans.test":          site(alpnCert{dnsNames: []string{"two-sans.test", "other.test"}}, acme),
		"other-name.test":        site(alpnCert{dnsNames: []string{"other.test"}}, acme),
		"name-and-ip.test":       site(alpnCert{dnsNames: []string{"name-and-ip.test"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}}, acme),
		"issued.test":            site(alpnCert{dnsNames: []string{"issued.test"}, issuer: other}, acme),
		"no-alpn.test":           site(alpnCert{dnsNames: []string{"no-alpn.test"}}, nil),
		"h2-only.test":           site(alpnCert{dnsNames: []string{"h2-only.test"}}, []string{"h2"}),
	})
	hangPort := hangListener(t)
	refusedPort := closedPort(t)
	names := map[string][]string{}
	for _, n := range []string{"ok", "case", "wrong-digest", "no-ext", "non-critical", "two-sans", "other-name", "name-and-ip", "issued", "no-alpn", "h2-only", "unknown", "hang", "refused"} {
		names[n+".test"] = []string{"127.0.0.1"}
	}
	self := "127.0.0.1:" + strconv.Itoa(port)

	for _, tc := range []struct {
		name       string
		id         string
		port       int // TLSPort when not the server's
		wantType   string
		wantDetail []string
	}{
		{name: "ok/name", id: "ok.test"},
		{name: "ok/name in other case", id: "case.test"},
		{name: "ok/IP address by its reverse name", id: "127.0.0.1"},
		{
			name: "fail/wrong digest", id: "wrong-digest.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{`TLS with wrong-digest.test at ` + self + ` (server name "wrong-digest.test", protocol "acme-tls/1"): the certificate: has an acmeIdentifier extension holding `, `want SHA-256 of the key authorization "` + testKeyAuth + `"`},
		},
		{
			name: "fail/no acmeIdentifier extension", id: "no-ext.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{"has no acmeIdentifier extension (1.3.6.1.5.5.7.1.31)"},
		},
		{
			name: "fail/extension not critical", id: "non-critical.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{"has an acmeIdentifier extension that is not critical"},
		},
		{
			name: "fail/two SANs", id: "two-sans.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{`names DNS:"two-sans.test", DNS:"other.test", want only DNS:"two-sans.test"`},
		},
		{
			name: "fail/another name", id: "other-name.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{`names DNS:"other.test", want only DNS:"other-name.test"`},
		},
		{
			name: "fail/a name and an IP", id: "name-and-ip.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{`names DNS:"name-and-ip.test", IP:127.0.0.1, want only`},
		},
		{
			name: "fail/not self-signed", id: "issued.test", wantType: TypeIncorrectResponse,
			wantDetail: []string{"is not self-signed"},
		},
		{
			name: "fail/no ALPN", id: "no-alpn.test", wantType: TypeUnauthorized,
			wantDetail: []string{`the server did not negotiate "acme-tls/1" (negotiated none)`},
		},
		{
			name: "fail/only h2", id: "h2-only.test", wantType: TypeTLS,
			wantDetail: []string{"handshake: tls: no application protocol"},
		},
		{
			name: "fail/no certificate for the name", id: "unknown.test", wantType: TypeTLS,
			wantDetail: []string{`(server name "unknown.test", protocol "acme-tls/1"): handshake: tls: internal error`},
		},
		{
			name: "fail/handshake never answered", id: "hang.test", port: hangPort, wantType: TypeConnection,
			wantDetail: []string{"no complete handshake: timed out after 2"},
		},
		{
			name: "fail/connection refused", id: "refused.test", port: refusedPort, wantType: TypeConnection,
			wantDetail: []string{"connecting to refused.test port " + strconv.Itoa(refusedPort) + ": 127.0.0.1:" + strconv.Itoa(refusedPort) + ": connect: connection refused"},
		},
		{
			name: "fail/unknown name", id: "nowhere.test", wantType: TypeDNS,
			wantDetail: []string{"resolving nowhere.test through Config.LookupNetIP: no such host"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := port
			if tc.port != 0 {
				p = tc.port
			}
			a := newAuthority(t, Config{TLSPort: p, Timeout: 2 * time.Second, LookupNetIP: lookupMap(names)})
			e := checkResult(t, a.Validate(context.Background(), TLSALPN01, tc.id, testToken, testKeyAuth), tc.wantType, tc.wantDetail...)
			if e != nil && tc.wantType != TypeDNS && e.Addr != "127.0.0.1:"+strconv.Itoa(p) {
				t.Errorf("Addr %q, want 127.0.0.1:%d", e.Addr, p)
			}
		})
	}
}
