package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verifyLeaf checks leaf against a's root with Go's verifier; opts.Roots is
// filled in and KeyUsages defaults to serverAuth.
func verifyLeaf(t *testing.T, a *Authority, leaf *Leaf, opts x509.VerifyOptions) {
	t.Helper()
	if err := verifyErr(a.Cert, leaf.Cert, opts); err != nil {
		t.Errorf("x509.Verify: %v", err)
	}
}

func verifyErr(root, leaf *x509.Certificate, opts x509.VerifyOptions) error {
	opts.Roots = x509.NewCertPool()
	opts.Roots.AddCert(root)
	if opts.KeyUsages == nil {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	_, err := leaf.Verify(opts)
	return err
}

func TestIssueSANKinds(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	email := []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	for _, tc := range []struct {
		name   string
		inputs []string
		opts   x509.VerifyOptions
		dns    []string
		ips    []string
		emails []string
		uris   []string
		// cn is the expected common name; "-" leaves it to
		// TestIssueCommonName.
		cn string
	}{
		{name: "ok/localhost", inputs: []string{"localhost"}, opts: x509.VerifyOptions{DNSName: "localhost"}, dns: []string{"localhost"}, cn: "localhost"},
		{name: "ok/dns", inputs: []string{"App.Test."}, opts: x509.VerifyOptions{DNSName: "app.test"}, dns: []string{"app.test"}, cn: "app.test"},
		{name: "ok/underscore", inputs: []string{"_svc.app.test"}, opts: x509.VerifyOptions{DNSName: "_svc.app.test"}, dns: []string{"_svc.app.test"}, cn: "_svc.app.test"},
		{name: "ok/wildcard", inputs: []string{"*.app.test"}, opts: x509.VerifyOptions{DNSName: "api.app.test"}, dns: []string{"*.app.test"}, cn: "*.app.test"},
		{name: "ok/idn", inputs: []string{"bücher.test"}, opts: x509.VerifyOptions{DNSName: "xn--bcher-kva.test"}, dns: []string{"xn--bcher-kva.test"}, cn: "xn--bcher-kva.test"},
		{name: "ok/every reserved domain", inputs: []string{"a.localhost", "a.example", "a.invalid", "a.local", "a.internal", "a.home.arpa"}, opts: x509.VerifyOptions{DNSName: "a.home.arpa"},
			dns: []string{"a.localhost", "a.example", "a.invalid", "a.local", "a.internal", "a.home.arpa"}, cn: "a.localhost"},
		{name: "ok/ipv4", inputs: []string{"127.0.0.1"}, opts: x509.VerifyOptions{DNSName: "127.0.0.1"}, ips: []string{"127.0.0.1"}, cn: "-"},
		{name: "ok/private ipv4", inputs: []string{"192.168.1.20", "10.1.2.3", "172.31.0.1", "169.254.9.9"}, opts: x509.VerifyOptions{DNSName: "172.31.0.1"},
			ips: []string{"192.168.1.20", "10.1.2.3", "172.31.0.1", "169.254.9.9"}, cn: "-"},
		{name: "ok/ipv6", inputs: []string{"[::1]"}, opts: x509.VerifyOptions{DNSName: "::1"}, ips: []string{"::1"}, cn: "-"},
		{name: "ok/ula and link-local ipv6", inputs: []string{"fd00::10", "fe80::1"}, opts: x509.VerifyOptions{DNSName: "fe80::1"}, ips: []string{"fd00::10", "fe80::1"}, cn: "-"},
		{name: "ok/ipv4-mapped", inputs: []string{"::ffff:10.0.0.1"}, opts: x509.VerifyOptions{DNSName: "10.0.0.1"}, ips: []string{"10.0.0.1"}, cn: "-"},
		{name: "ok/email", inputs: []string{"dev@app.test"}, opts: x509.VerifyOptions{KeyUsages: email}, emails: []string{"dev@app.test"}, cn: "-"},
		{name: "ok/uri", inputs: []string{"spiffe://app.test/api"}, opts: x509.VerifyOptions{}, uris: []string{"spiffe://app.test/api"}, cn: "-"},
		{name: "ok/uri with port", inputs: []string{"https://app.test:8443/x"}, opts: x509.VerifyOptions{}, uris: []string{"https://app.test:8443/x"}, cn: "-"},
		{name: "ok/mixed", inputs: []string{"localhost", "127.0.0.1", "::1", "dev@app.test", "spiffe://app.test/api"}, opts: x509.VerifyOptions{DNSName: "::1"},
			dns: []string{"localhost"}, ips: []string{"127.0.0.1", "::1"}, emails: []string{"dev@app.test"}, uris: []string{"spiffe://app.test/api"}, cn: "localhost"},
		{name: "ok/long first name has no CN", inputs: []string{strings.Repeat("a", 63) + ".test"}, opts: x509.VerifyOptions{DNSName: strings.Repeat("a", 63) + ".test"},
			dns: []string{strings.Repeat("a", 63) + ".test"}, cn: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, err := a.Issue(LeafRequest{Names: mustNames(t, tc.inputs...)})
			if err != nil {
				t.Fatal(err)
			}
			c := leaf.Cert
			verifyLeaf(t, a, leaf, tc.opts)
			if got := c.DNSNames; !slices.Equal(got, tc.dns) {
				t.Errorf("DNSNames = %q, want %q", got, tc.dns)
			}
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tc.ips) {
				t.Errorf("IPAddresses = %q, want %q", ips, tc.ips)
			}
			if got := c.EmailAddresses; !slices.Equal(got, tc.emails) {
				t.Errorf("EmailAddresses = %q, want %q", got, tc.emails)
			}
			var uris []string
			for _, u := range c.URIs {
				uris = append(uris, u.String())
			}
			if !slices.Equal(uris, tc.uris) {
				t.Errorf("URIs = %q, want %q", uris, tc.uris)
			}
			if tc.cn != "-" && c.Subject.CommonName != tc.cn {
				t.Errorf("CN = %q, want %q", c.Subject.CommonName, tc.cn)
			}
			wantEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			if tc.emails != nil {
				wantEKU = append(wantEKU, x509.ExtKeyUsageEmailProtection)
			}
			if !slices.Equal(c.ExtKeyUsage, wantEKU) {
				t.Errorf("ExtKeyUsage = %v, want %v", c.ExtKeyUsage, wantEKU)
			}
			checkLeafProfile(t, a, c)
		})
	}
}

// checkLeafProfile checks what every leaf must have whatever its names.
func checkLeafProfile(t *testing.T, a *Authority, c *x509.Certificate) {
	t.Helper()
	if c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("IsCA = %v, BasicConstraintsValid = %v; want a valid CA:FALSE", c.IsCA, c.BasicConstraintsValid)
	}
	want := x509.KeyUsageDigitalSignature
	if _, ok := c.PublicKey.(*rsa.PublicKey); ok {
		want |= x509.KeyUsageKeyEncipherment
	}
	if c.KeyUsage != want {
		t.Errorf("KeyUsage = %b, want %b", c.KeyUsage, want)
	}
	if !bytes.Equal(c.AuthorityKeyId, a.Cert.SubjectKeyId) || len(c.AuthorityKeyId) == 0 {
		t.Errorf("AuthorityKeyId = %x, want the root's SKID %x", c.AuthorityKeyId, a.Cert.SubjectKeyId)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d > MaxLeafDays*24*time.Hour {
		t.Errorf("leaf validity %v is over %d days", d, MaxLeafDays)
	}
	if c.NotAfter.After(a.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v outlives the root's %v", c.NotAfter, a.Cert.NotAfter)
	}
	if n := c.SerialNumber.BitLen(); n > 128 || n < 64 {
		t.Errorf("serial has %d bits", n)
	}
	if len(c.PermittedDNSDomains) > 0 || len(c.PermittedIPRanges) > 0 {
		t.Error("leaf carries name constraints")
	}
}

func TestIssueKeyTypes(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	for _, kt := range append([]KeyType{""}, keyTypes...) {
		t.Run("ok/"+string(kt), func(t *testing.T) {
			t.Parallel()
			leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "localhost"), KeyType: kt})
			if err != nil {
				t.Fatal(err)
			}
			want := kt
			if want == "" {
				want = DefaultKeyType
			}
			if got := keyTypeOf(leaf.Cert.PublicKey); got != want {
				t.Errorf("leaf key type %q, want %q", got, want)
			}
			checkLeafProfile(t, a, leaf.Cert)
			verifyLeaf(t, a, leaf, x509.VerifyOptions{DNSName: "localhost"})

			// The key PEM is PKCS#8 and belongs to the certificate.
			if !bytes.HasPrefix(leaf.KeyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Errorf("key PEM is not PKCS#8: %.40q", leaf.KeyPEM)
			}
			key, err := parseKeyPEM(leaf.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(key.Public(), leaf.Cert.PublicKey) || !publicKeysEqual(leaf.Key.Public(), leaf.Cert.PublicKey) {
				t.Error("key does not match the certificate")
			}
			if _, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM); err != nil {
				t.Errorf("tls.X509KeyPair: %v", err)
			}
		})
	}
}

func TestIssueExtKeyUsage(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	server, client, email := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection
	for _, tc := range []struct {
		name   string
		inputs []string
		client bool
		want   []x509.ExtKeyUsage
	}{
		{"ok/server only", []string{"app.test"}, false, []x509.ExtKeyUsage{server}},
		{"ok/client", []string{"app.test"}, true, []x509.ExtKeyUsage{server, client}},
		{"ok/email", []string{"app.test", "dev@app.test"}, false, []x509.ExtKeyUsage{server, email}},
		{"ok/client and email", []string{"dev@app.test"}, true, []x509.ExtKeyUsage{server, client, email}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, err := a.Issue(LeafRequest{Names: mustNames(t, tc.inputs...), Client: tc.client})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(leaf.Cert.ExtKeyUsage, tc.want) {
				t.Errorf("ExtKeyUsage = %v, want %v", leaf.Cert.ExtKeyUsage, tc.want)
			}
			for _, ku := range tc.want {
				if err := verifyErr(a.Cert, leaf.Cert, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{ku}}); err != nil {
					t.Errorf("verify for %v: %v", ku, err)
				}
			}
			if !tc.client {
				if err := verifyErr(a.Cert, leaf.Cert, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{client}}); err == nil {
					t.Error("a leaf without --client verifies for clientAuth")
				}
			}
		})
	}
}

func TestIssueValidity(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		days int
		want time.Duration
	}{
		{"ok/default", 0, MaxLeafDays * day},
		{"ok/one day", 1, day},
		{"ok/thirty days", 30, 30 * day},
		{"ok/maximum", MaxLeafDays, MaxLeafDays * day},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test"), Days: tc.days})
			if err != nil {
				t.Fatal(err)
			}
			c := leaf.Cert
			if got := c.NotAfter.Sub(c.NotBefore); got != tc.want {
				t.Errorf("validity %v, want %v", got, tc.want)
			}
			// Backdated for clock skew, but not by much.
			if !c.NotBefore.Before(before) || c.NotBefore.Before(before.Add(-2*time.Hour)) {
				t.Errorf("NotBefore %v, issued at %v", c.NotBefore, before)
			}
		})
	}
	for _, days := range []int{-1, MaxLeafDays + 1, 3650} {
		t.Run("fail/days "+strconv.Itoa(days), func(t *testing.T) {
			if _, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test"), Days: days}); err == nil {
				t.Errorf("Days=%d accepted", days)
			}
		})
	}
}

// A leaf never outlives its root: a root created ten days short of ten
// years ago expires in ten days, and so must its leaves.
func TestIssueNeverOutlivesRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	cons, _ := DefaultConstraints(nil)
	past := time.Now().Add(-rootLifetime + 10*24*time.Hour)
	if _, err := Create(dir, CreateOptions{Constraints: cons, Now: func() time.Time { return past }}); err != nil {
		t.Fatal(err)
	}
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if until := time.Until(a.Cert.NotAfter); until > 11*24*time.Hour || until < 9*24*time.Hour {
		t.Fatalf("test root expires in %v, want about 10 days", until)
	}
	leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")})
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Cert.NotAfter.Equal(a.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v, want the root's %v", leaf.Cert.NotAfter, a.Cert.NotAfter)
	}
	checkLeafProfile(t, a, leaf.Cert)
	verifyLeaf(t, a, leaf, x509.VerifyOptions{DNSName: "app.test"})

	// Once the root has expired nothing is issued.
	a.now = func() time.Time { return a.Cert.NotAfter.Add(time.Second) }
	if _, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Issue with an expired root: %v", err)
	}
}

// A root created "now" is backdated an hour; a leaf is never valid before
// its root.
func TestIssueNotBeforeRoot(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	a.now = func() time.Time { return a.Cert.NotBefore }
	leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")})
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Cert.NotBefore.Before(a.Cert.NotBefore) {
		t.Errorf("leaf NotBefore %v precedes the root's %v", leaf.Cert.NotBefore, a.Cert.NotBefore)
	}
}

func TestIssueFreshKeysAndSerials(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	serials := map[string]bool{}
	var keys []crypto.PublicKey
	for range 20 {
		leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")})
		if err != nil {
			t.Fatal(err)
		}
		s := leaf.Cert.SerialNumber.String()
		if serials[s] {
			t.Fatalf("serial %s issued twice", s)
		}
		serials[s] = true
		for _, k := range keys {
			if publicKeysEqual(k, leaf.Cert.PublicKey) {
				t.Fatal("a key was reused")
			}
		}
		keys = append(keys, leaf.Cert.PublicKey)
	}
}

// failingSigner fails the test if anything is signed with it.
type failingSigner struct {
	t   *testing.T
	pub crypto.PublicKey
}

func (s failingSigner) Public() crypto.PublicKey { return s.pub }
func (s failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	s.t.Error("something was signed")
	return nil, errors.New("refusing to sign in this test")
}

func TestIssueConstraintErrorBeforeSigning(t *testing.T) {
	real := newTestCA(t, ECDSAP256)
	a := &Authority{Dir: real.Dir, Cert: real.Cert, CertPEM: real.CertPEM, Meta: real.Meta, now: time.Now, rand: rand.Reader}
	a.keyOnce.Do(func() { a.key = failingSigner{t, real.Cert.PublicKey} })
	for _, tc := range []struct {
		name   string
		inputs []string
		bad    string
		kind   NameKind
	}{
		{"fail/dns", []string{"example.com"}, "example.com", DNSName},
		{"fail/lookalike suffix", []string{"mytest"}, "mytest", DNSName},
		{"fail/wildcard", []string{"*.example.com"}, "*.example.com", DNSName},
		{"fail/reserved name as a label", []string{"test.com"}, "test.com", DNSName},
		{"fail/ipv4", []string{"8.8.8.8"}, "8.8.8.8", IPAddress},
		{"fail/ipv4 just outside 172.16/12", []string{"172.32.0.1"}, "172.32.0.1", IPAddress},
		{"fail/ipv6", []string{"2001:db8::1"}, "2001:db8::1", IPAddress},
		{"fail/email", []string{"mail@gmail.com"}, "mail@gmail.com", EmailAddress},
		{"fail/uri", []string{"https://example.com"}, "https://example.com", URIName},
		{"fail/uri with ip host", []string{"https://127.0.0.1/"}, "https://127.0.0.1/", URIName},
		{"fail/one bad among good", []string{"localhost", "127.0.0.1", "example.com"}, "example.com", DNSName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Issue(LeafRequest{Names: mustNames(t, tc.inputs...)})
			var ce *ConstraintError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConstraintError", err)
			}
			if ce.Name.Value != tc.bad || ce.Name.Kind != tc.kind {
				t.Errorf("error names %s %q, want %s %q", ce.Name.Kind, ce.Name.Value, tc.kind, tc.bad)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.bad) || !strings.Contains(msg, "test") {
				t.Errorf("message %q should name the input and the permitted names", msg)
			}
		})
	}
	if _, err := a.Issue(LeafRequest{}); err == nil {
		t.Error("Issue without names succeeded")
	}
}

// forgeLeaf signs a leaf with the CA key (the root's, or the intermediate's
// the Authority signs with) directly, skipping Issue's checks,
// as someone who stole the key would.
func forgeLeaf(t *testing.T, a *Authority, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	signer, err := a.Signer()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(a.IssuerCert().PublicKey.(*ecdsa.PublicKey).Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.IssuerCert(), key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A leaked devca key cannot impersonate a real site: name constraints make
// Go and openssl refuse a leaf forged for a name outside them.
func TestForgedLeafRejected(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	dir := t.TempDir()
	rootPath := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPath, a.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct {
		name string
		tmpl *x509.Certificate
		host string
	}{
		{"fail/dns", &x509.Certificate{Subject: pkix.Name{CommonName: "example.com"}, DNSNames: []string{"example.com"}}, "example.com"},
		{"fail/dns next to a permitted name", &x509.Certificate{DNSNames: []string{"app.test", "www.example.com"}}, "www.example.com"},
		{"fail/wildcard", &x509.Certificate{DNSNames: []string{"*.example.com"}}, "www.example.com"},
		{"fail/ip", &x509.Certificate{IPAddresses: []net.IP{net.ParseIP("8.8.8.8")}}, "8.8.8.8"},
		{"fail/email", &x509.Certificate{EmailAddresses: []string{"mail@gmail.com"}}, ""},
		{"fail/uri", &x509.Certificate{URIs: []*url.URL{mustURL("https://example.com/")}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forged := forgeLeaf(t, a, tc.tmpl)
			err := verifyErr(a.Cert, forged, x509.VerifyOptions{DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			var inv x509.CertificateInvalidError
			if !errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName {
				t.Errorf("x509.Verify = %v, want CANotAuthorizedForThisName", err)
			}
			leafPath := filepath.Join(t.TempDir(), "leaf.pem")
			writePEM(t, leafPath, "CERTIFICATE", forged.Raw)
			out, err := runTool(t, "openssl", "verify", "-CAfile", rootPath, leafPath)
			if err == nil {
				t.Errorf("openssl verify accepted the forged leaf:\n%s", out)
			} else if !strings.Contains(string(out), "subtree violation") {
				t.Errorf("openssl verify failed for another reason than the name constraints:\n%s", out)
			}
		})
	}
}

// The positive control for TestForgedLeafRejected: openssl accepts what
// devca issues, for every kind of name.
func TestOpenSSLVerifiesIssuedLeaf(t *testing.T) {
	requireTool(t, "openssl")
	a := newTestCA(t, ECDSAP256)
	rootPath := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootPath, a.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		inputs []string
		args   []string
	}{
		{"ok/dns", []string{"app.test", "localhost"}, []string{"-verify_hostname", "localhost"}},
		{"ok/wildcard", []string{"*.app.test"}, []string{"-verify_hostname", "x.app.test"}},
		{"ok/ipv4 first", []string{"127.0.0.1", "localhost"}, []string{"-verify_ip", "127.0.0.1"}},
		{"ok/ipv4 only", []string{"127.0.0.1"}, []string{"-verify_ip", "127.0.0.1"}},
		{"ok/private ipv4 only", []string{"192.168.1.20"}, []string{"-verify_ip", "192.168.1.20"}},
		{"ok/ipv6 only", []string{"::1"}, []string{"-verify_ip", "::1"}},
		{"ok/email", []string{"dev@app.test"}, []string{"-verify_email", "dev@app.test", "-purpose", "smimesign"}},
		{"ok/uri", []string{"spiffe://app.test/api"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, err := a.Issue(LeafRequest{Names: mustNames(t, tc.inputs...)})
			if err != nil {
				t.Fatal(err)
			}
			leafPath := filepath.Join(t.TempDir(), "leaf.pem")
			if err := os.WriteFile(leafPath, leaf.CertPEM, 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"verify", "-CAfile", rootPath}, tc.args...)
			out, err := runTool(t, "openssl", append(args, leafPath)...)
			if err != nil {
				t.Errorf("openssl verify: %v\n%s", err, out)
			}
		})
	}
}

// OpenSSL (and so curl, Python, Ruby…) checks a leaf's common name against
// the root's DNS name constraints when the leaf has no DNS SAN and the CN
// looks like a host name, which an IPv4 address does (x509_vfy.c,
// check_name_constraints). "devca issue 127.0.0.1" must therefore not put
// the address in the CN, or openssl refuses the leaf with "permitted subtree
// violation"; TestOpenSSLVerifiesIssuedLeaf/ok/ipv4_only shows it.
func TestIssueCommonName(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	for _, tc := range []struct {
		name   string
		inputs []string
	}{
		{"ok/ipv4 only", []string{"127.0.0.1"}},
		{"ok/private ipv4 only", []string{"192.168.1.20", "10.0.0.1"}},
		{"ok/ipv4 and email", []string{"10.0.0.1", "dev@app.test"}},
		{"ok/ipv4 then dns", []string{"10.0.0.1", "app.test"}},
		{"ok/ipv6 only", []string{"::1"}},
		{"ok/email only", []string{"dev@app.test"}},
		{"ok/uri only", []string{"spiffe://app.test/api"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, err := a.Issue(LeafRequest{Names: mustNames(t, tc.inputs...)})
			if err != nil {
				t.Fatal(err)
			}
			c := leaf.Cert
			cn := c.Subject.CommonName
			if cn == "" {
				return
			}
			if !slices.Contains(mustNames(t, tc.inputs...).Values(), cn) {
				t.Errorf("CN %q is none of the names %q", cn, tc.inputs)
			}
			if len(c.DNSNames) == 0 && net.ParseIP(cn).To4() != nil {
				t.Errorf("CN %q is an IPv4 address in a leaf without DNS SANs; openssl checks it against the DNS name constraints and refuses the leaf", cn)
			}
		})
	}
}

// A real TLS handshake (over an in-memory pipe, no network) with a leaf.
func TestTLSHandshake(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "localhost", "127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := leaf.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.Cert)
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(c1, &tls.Config{Certificates: []tls.Certificate{cert}})
		done <- s.Handshake()
	}()
	cl := tls.Client(c2, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err := cl.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}

	// A signed CSR's leaf has no key to serve.
	if _, err := (&Leaf{Cert: leaf.Cert}).TLSCertificate(); err == nil {
		t.Error("TLSCertificate without a key succeeded")
	}
}
