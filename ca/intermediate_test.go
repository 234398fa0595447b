package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// verifyThrough verifies leaf with x509.Verify against root through inter.
func verifyThrough(root, inter, leaf *x509.Certificate, dnsName string) error {
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestIntermediateProfile(t *testing.T) {
	a := newTestCA(t, RSA2048)
	before := time.Now()
	in, err := a.IssueIntermediate(IntermediateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	c := in.Cert
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("IsCA %v, MaxPathLen %d, MaxPathLenZero %v; want a CA with path length 0", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature; c.KeyUsage != want {
		t.Errorf("KeyUsage %b, want %b", c.KeyUsage, want)
	}
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", c.PublicKey)
	}
	if !c.PermittedDNSDomainsCritical || !slices.Equal(c.PermittedDNSDomains, a.Cert.PermittedDNSDomains) ||
		!slices.Equal(c.PermittedEmailAddresses, a.Cert.PermittedEmailAddresses) || !slices.Equal(c.PermittedURIDomains, a.Cert.PermittedURIDomains) ||
		len(c.PermittedIPRanges) != len(a.Cert.PermittedIPRanges) {
		t.Errorf("constraints not carried over: DNS %q IP %v, root DNS %q IP %v", c.PermittedDNSDomains, c.PermittedIPRanges, a.Cert.PermittedDNSDomains, a.Cert.PermittedIPRanges)
	}
	for i, r := range a.Cert.PermittedIPRanges {
		if c.PermittedIPRanges[i].String() != r.String() {
			t.Errorf("IP range %d is %v, root's %v", i, c.PermittedIPRanges[i], r)
		}
	}
	if got := c.NotAfter.Sub(before); got < DefaultIntermediateLifetime-time.Minute || got > DefaultIntermediateLifetime+time.Minute {
		t.Errorf("valid for %s, want %s", got, DefaultIntermediateLifetime)
	}
	if err := c.CheckSignatureFrom(a.Cert); err != nil {
		t.Errorf("not signed by the root: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(a.Dir, RootKeyFile)); err != nil || fi.Size() == 0 {
		t.Fatalf("root key: %v", err)
	}
	entries, err := a.Record()
	if err != nil || len(entries) != 1 || entries[0].Serial != c.SerialNumber.Text(16) || !strings.HasPrefix(entries[0].Names[0], "intermediate CA for ") || entries[0].CertFile != "" {
		t.Errorf("record %+v (%v), want the intermediate without a file", entries, err)
	}
}

func TestIntermediateLifetime(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		ok       bool
	}{
		{"ok/one day", 24 * time.Hour, true},
		{"ok/a year", MaxIntermediateLifetime, true},
		{"fail/too short", time.Minute, false},
		{"fail/too long", MaxIntermediateLifetime + time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := a.IssueIntermediate(IntermediateRequest{Lifetime: tc.lifetime})
			if (err == nil) != tc.ok {
				t.Fatalf("error %v, want ok %v", err, tc.ok)
			}
			if err == nil && in.Cert.NotAfter.Sub(in.Cert.NotBefore) != tc.lifetime+backdate {
				t.Errorf("valid %s to %s", in.Cert.NotBefore, in.Cert.NotAfter)
			}
		})
	}
	t.Run("ok/bounded by the root", func(t *testing.T) {
		late := a.Cert.NotAfter.Add(-48 * time.Hour)
		b, err := Load(a.Dir, WithClock(func() time.Time { return late }))
		if err != nil {
			t.Fatal(err)
		}
		in, err := b.IssueIntermediate(IntermediateRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if !in.Cert.NotAfter.Equal(a.Cert.NotAfter) {
			t.Errorf("ends %s, the root %s", in.Cert.NotAfter, a.Cert.NotAfter)
		}
		auth, err := b.WithIntermediate(in)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := auth.Issue(LeafRequest{Names: mustNames(t, "app.test")})
		if err != nil {
			t.Fatal(err)
		}
		if leaf.Cert.NotAfter.After(in.Cert.NotAfter) {
			t.Errorf("the leaf outlives the intermediate: %s > %s", leaf.Cert.NotAfter, in.Cert.NotAfter)
		}
	})
}

func TestIntermediateSigns(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	in, err := a.IssueIntermediate(IntermediateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := a.WithIntermediate(in)
	if err != nil {
		t.Fatal(err)
	}
	if auth.IssuerCert() != in.Cert || len(auth.Chain()) != 2 || !slices.Equal(auth.Chain()[0], in.Cert.Raw) || !slices.Equal(auth.Chain()[1], a.Cert.Raw) {
		t.Fatal("the chain is not the intermediate and the root")
	}
	leaf, err := auth.Issue(LeafRequest{Names: mustNames(t, "app.test", "10.1.2.3")})
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Cert.CheckSignatureFrom(in.Cert); err != nil {
		t.Fatalf("leaf not signed by the intermediate: %v", err)
	}
	if err := verifyThrough(a.Cert, in.Cert, leaf.Cert, "app.test"); err != nil {
		t.Errorf("x509.Verify through the intermediate: %v", err)
	}
	t.Run("fail/without the intermediate", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(a.Cert)
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: roots}); err == nil {
			t.Error("verified without the intermediate")
		}
	})
	t.Run("fail/outside the constraints, refused", func(t *testing.T) {
		_, err := auth.Issue(LeafRequest{Names: mustNames(t, "example.com")})
		var ce *ConstraintError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v, want a *ConstraintError", err)
		}
	})
	t.Run("fail/outside the constraints, signed anyway, does not verify", func(t *testing.T) {
		bad := forgeLeaf(t, auth, &x509.Certificate{DNSNames: []string{"www.example.com"}})
		var ci x509.CertificateInvalidError
		if err := verifyThrough(a.Cert, in.Cert, bad, "www.example.com"); !errors.As(err, &ci) || ci.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("a leaf for a public name: %v, want refused by the name constraints", err)
		}
	})
	t.Run("ok/CRL", func(t *testing.T) {
		der, err := auth.SignCRL(CRLRequest{Number: big.NewInt(1), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour),
			Entries: []x509.RevocationListEntry{{SerialNumber: leaf.Cert.SerialNumber, RevocationTime: time.Now()}}})
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(in.Cert); err != nil {
			t.Errorf("CRL not signed by the intermediate: %v", err)
		}
	})
	t.Run("ok/full chain file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "app.pem")
		is, err := auth.IssueToFiles(LeafRequest{Names: mustNames(t, "app.test")}, Files{CertFile: out, KeyFile: out + ".key", FullChain: true})
		if err != nil {
			t.Fatal(err)
		}
		certs, err := ParseCertsPEM(is.CertPEM)
		if err != nil || len(certs) != 3 || !certs[1].Equal(in.Cert) || !certs[2].Equal(a.Cert) {
			t.Errorf("full chain of %d certificates (%v), want leaf, intermediate, root", len(certs), err)
		}
	})
	t.Run("fail/no root key", func(t *testing.T) {
		if _, err := auth.IssueIntermediate(IntermediateRequest{}); !errors.Is(err, ErrNoRootKey) {
			t.Errorf("IssueIntermediate: %v, want ErrNoRootKey", err)
		}
		if _, err := auth.ExportP12("pw"); !errors.Is(err, ErrNoRootKey) {
			t.Errorf("ExportP12: %v, want ErrNoRootKey", err)
		}
	})
}

func TestIntermediateNarrowed(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	for _, tc := range []struct {
		name   string
		permit []string
		err    string
	}{
		{"fail/public domain", []string{"example.com"}, "not within the root's name constraints"},
		{"fail/public range", []string{"team.test", "8.8.8.0/24"}, "not within"},
		{"fail/range wider than the root's", []string{"team.test", "10.0.0.0/7"}, "not within"},
		{"fail/ranges only", []string{"10.1.0.0/16"}, "at least one domain"},
		{"fail/bad domain", []string{"team..test"}, "invalid --permit domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.IssueIntermediate(IntermediateRequest{Permit: tc.permit})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one about %q", err, tc.err)
			}
		})
	}
	in, err := a.IssueIntermediate(IntermediateRequest{Permit: []string{"team.test"}})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := a.WithIntermediate(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := auth.Constraints().String(); got != "team.test, no IP addresses" {
		t.Errorf("constraints %q", got)
	}
	leaf, err := auth.Issue(LeafRequest{Names: mustNames(t, "app.team.test")})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyThrough(a.Cert, in.Cert, leaf.Cert, "app.team.test"); err != nil {
		t.Errorf("x509.Verify: %v", err)
	}
	for _, name := range []string{"app.other.test", "127.0.0.1"} {
		var ce *ConstraintError
		if _, err := auth.Issue(LeafRequest{Names: mustNames(t, name)}); !errors.As(err, &ce) {
			t.Errorf("%s: error %v, want a *ConstraintError", name, err)
		}
	}
	// The root permits other.test; the intermediate's narrower constraint
	// still holds in clients.
	bad := forgeLeaf(t, auth, &x509.Certificate{DNSNames: []string{"app.other.test"}})
	var ci x509.CertificateInvalidError
	if err := verifyThrough(a.Cert, in.Cert, bad, "app.other.test"); !errors.As(err, &ci) || ci.Reason != x509.CANotAuthorizedForThisName {
		t.Errorf("a leaf outside the narrowed constraints: %v, want refused by the name constraints", err)
	}

	with, err := a.IssueIntermediate(IntermediateRequest{Permit: []string{".team.test", "10.1.0.0/16"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := constraintsOf(with.Cert).String(); got != "team.test, 10.1.0.0/16" {
		t.Errorf("constraints %q", got)
	}
}

func TestIntermediatePathLenZeroRoot(t *testing.T) {
	// A root as devca made them before it issued intermediates, and as
	// mkcert makes them.
	caroot := t.TempDir()
	writeMkcertLike(t, caroot, mkcertTemplate(time.Now()))
	root, err := ReadMkcertCA(caroot)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Import(filepath.Join(t.TempDir(), "home"), root, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.IssueIntermediate(IntermediateRequest{})
	var pe *PathLenZeroError
	if !errors.As(err, &pe) || pe.Fingerprint != Fingerprint(a.Cert) {
		t.Fatalf("error %v, want a *PathLenZeroError", err)
	}
	if entries, _ := a.Record(); len(entries) != 0 {
		t.Errorf("a refused intermediate was recorded: %+v", entries)
	}
	// It still signs leaves directly.
	if _, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test")}); err != nil {
		t.Errorf("the old root no longer signs leaves: %v", err)
	}
}

func TestIntermediateFiles(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	in, err := a.IssueIntermediate(IntermediateRequest{Lifetime: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "server")
	if err := a.WriteIntermediate(dir, in); err != nil {
		t.Fatal(err)
	}
	for name, perm := range map[string]os.FileMode{IntermediateCertFile: CertPerm, IntermediateKeyFile: KeyPerm, RootCertFile: CertPerm, ".": DirPerm} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != perm {
			t.Errorf("%s: %v, mode %v, want %v", name, err, fi.Mode().Perm(), perm)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, RootKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the root key is in the exported folder: %v", err)
	}
	auth, err := LoadIntermediate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !auth.Intermediate().Equal(in.Cert) || !auth.Cert.Equal(a.Cert) {
		t.Fatal("loaded another intermediate or root")
	}
	leaf, err := auth.Issue(LeafRequest{Names: mustNames(t, "app.test")})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyThrough(a.Cert, in.Cert, leaf.Cert, "app.test"); err != nil {
		t.Errorf("x509.Verify: %v", err)
	}

	t.Run("ok/renewed by writing again", func(t *testing.T) {
		next, err := a.IssueIntermediate(IntermediateRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.WriteIntermediate(dir, next); err != nil {
			t.Fatal(err)
		}
		b, err := LoadIntermediate(dir)
		if err != nil || !b.Intermediate().Equal(next.Cert) {
			t.Fatalf("LoadIntermediate after renewal: %v", err)
		}
	})
	t.Run("fail/into the CA home", func(t *testing.T) {
		if err := a.WriteIntermediate(a.Dir, in); err == nil {
			t.Error("wrote an intermediate into the CA home")
		}
	})
	t.Run("fail/key readable by others", func(t *testing.T) {
		if err := os.Chmod(filepath.Join(dir, IntermediateKeyFile), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(filepath.Join(dir, IntermediateKeyFile), 0o600)
		var ip *InsecurePermissionsError
		if _, err := LoadIntermediate(dir); !errors.As(err, &ip) {
			t.Errorf("error %v, want an *InsecurePermissionsError", err)
		}
	})
	t.Run("fail/expired", func(t *testing.T) {
		later := func() time.Time { return time.Now().Add(DefaultIntermediateLifetime + time.Hour) }
		if _, err := LoadIntermediate(dir, WithClock(later)); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("error %v, want expired", err)
		}
	})
	t.Run("fail/another root", func(t *testing.T) {
		other := newTestCA(t, ECDSAP256)
		if err := os.WriteFile(filepath.Join(dir, RootCertFile), other.CertPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadIntermediate(dir); err == nil || !strings.Contains(err.Error(), "not issued by the root") {
			t.Errorf("error %v, want not issued by the root", err)
		}
	})
}
