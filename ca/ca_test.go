package ca

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireTool returns the path of an external tool the test needs. Locally
// a missing tool skips the test, but CI installs every tool (.ci/run), so
// there a missing tool must fail rather than let a check pass by skipping.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required when CI=true: %v", name, err)
		}
		t.Skipf("skipping: %s is not installed (%v); with CI=true this fails", name, err)
	}
	return path
}

// runTool runs an external tool and returns its combined output.
func runTool(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	path := requireTool(t, name)
	return exec.Command(path, args...).CombinedOutput()
}

// newTestCA creates a CA with the default name constraints in a fresh
// temporary home.
func newTestCA(t *testing.T, kt KeyType) *Authority {
	t.Helper()
	cons, err := DefaultConstraints(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Create(filepath.Join(t.TempDir(), "ca"), CreateOptions{KeyType: kt, Constraints: cons, User: "tester", Host: "box"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return a
}

func mustNames(t *testing.T, inputs ...string) Names {
	t.Helper()
	ns, _, err := ParseNames(inputs)
	if err != nil {
		t.Fatalf("ParseNames(%q): %v", inputs, err)
	}
	return ns
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestCreateLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "ca")
	created, err := Create(dir, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !bytes.Equal(loaded.Cert.Raw, created.Cert.Raw) || !bytes.Equal(loaded.CertPEM, created.CertPEM) {
		t.Error("Load returned a different root than Create made")
	}
	if loaded.Meta != created.Meta {
		t.Errorf("Meta = %+v, want %+v", loaded.Meta, created.Meta)
	}
	if got, want := loaded.Meta.Fingerprint, Fingerprint(loaded.Cert); got != want {
		t.Errorf("recorded fingerprint %s, want %s", got, want)
	}
	if loaded.Meta.KeyStorage != StorageFile {
		t.Errorf("KeyStorage = %q", loaded.Meta.KeyStorage)
	}
	if created.Constraints().Constrained() {
		t.Error("zero CreateOptions.Constraints should make an unconstrained root")
	}
	signer, err := loaded.Signer()
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	if !publicKeysEqual(signer.Public(), loaded.Cert.PublicKey) {
		t.Error("loaded key does not match the root")
	}
	if got := keyTypeOf(loaded.Cert.PublicKey); got != DefaultKeyType {
		t.Errorf("default key type = %q, want %q", got, DefaultKeyType)
	}

	for _, tc := range []struct {
		path string
		want fs.FileMode
	}{
		{dir, DirPerm},
		{filepath.Join(dir, RootKeyFile), KeyPerm},
		{filepath.Join(dir, RootCertFile), CertPerm},
		{filepath.Join(dir, metaFile), CertPerm},
	} {
		if got := fileMode(t, tc.path); got != tc.want {
			t.Errorf("mode of %s = %04o, want %04o", tc.path, got, tc.want)
		}
	}
	// Nothing but the CA's own files: no temporary files left behind.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch e.Name() {
		case RootCertFile, RootKeyFile, metaFile, lockFile:
		default:
			t.Errorf("unexpected file %q in the CA home", e.Name())
		}
	}
}

// oidExt finds an extension by OID.
func oidExt(c *x509.Certificate, oid asn1.ObjectIdentifier) (critical, ok bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical, true
		}
	}
	return false, false
}

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidNameConstraints  = asn1.ObjectIdentifier{2, 5, 29, 30}
)

func TestRootProfile(t *testing.T) {
	for _, kt := range keyTypes {
		t.Run("ok/"+string(kt), func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			a := newTestCA(t, kt)
			c := a.Cert

			if !c.IsCA || !c.BasicConstraintsValid {
				t.Error("root is not a CA")
			}
			if c.MaxPathLen != 1 {
				t.Errorf("MaxPathLen = %d, MaxPathLenZero = %v; want pathlen 1 (one level of intermediates)", c.MaxPathLen, c.MaxPathLenZero)
			}
			if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("KeyUsage = %b, want certSign|cRLSign", c.KeyUsage)
			}
			if len(c.ExtKeyUsage) != 0 {
				t.Errorf("root has extended key usages %v", c.ExtKeyUsage)
			}
			for name, oid := range map[string]asn1.ObjectIdentifier{
				"basicConstraints": oidBasicConstraints,
				"keyUsage":         oidKeyUsage,
				"nameConstraints":  oidNameConstraints,
			} {
				if critical, ok := oidExt(c, oid); !ok || !critical {
					t.Errorf("%s: present %v, critical %v; want a critical extension", name, ok, critical)
				}
			}
			if !c.PermittedDNSDomainsCritical {
				t.Error("name constraints not critical")
			}
			if got, want := strings.Join(c.PermittedDNSDomains, " "), strings.Join(defaultPermittedDomains, " "); got != want {
				t.Errorf("permitted DNS domains %q, want %q", got, want)
			}
			if len(c.PermittedIPRanges) != len(defaultPermittedRanges) {
				t.Errorf("permitted IP ranges %v", c.PermittedIPRanges)
			}

			// RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
			var spki struct {
				Algorithm        asn1.RawValue
				SubjectPublicKey asn1.BitString
			}
			if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
				t.Fatal(err)
			}
			if sum := sha1.Sum(spki.SubjectPublicKey.Bytes); !bytes.Equal(c.SubjectKeyId, sum[:]) {
				t.Errorf("SubjectKeyId = %x, want %x", c.SubjectKeyId, sum)
			}
			if n := c.SerialNumber.BitLen(); n > 128 || n < 64 || c.SerialNumber.Sign() <= 0 {
				t.Errorf("serial %x has %d bits; want a positive random 128-bit number", c.SerialNumber, n)
			}
			if d := c.NotAfter.Sub(c.NotBefore); d < rootLifetime || d > rootLifetime+2*time.Hour {
				t.Errorf("root validity %v, want about 10 years", d)
			}
			if c.NotBefore.After(before) {
				t.Errorf("NotBefore %v is not backdated", c.NotBefore)
			}
			if c.NotAfter.Before(before.AddDate(9, 11, 0)) {
				t.Errorf("NotAfter %v is less than ~10 years away", c.NotAfter)
			}
			for _, want := range []string{"devca", "tester", "box"} {
				if !strings.Contains(c.Subject.CommonName, want) {
					t.Errorf("CN %q does not mention %q", c.Subject.CommonName, want)
				}
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("root is not self-signed: %v", err)
			}
			if got := keyTypeOf(c.PublicKey); got != kt {
				t.Errorf("root key type %q, want %q", got, kt)
			}

			// The root of every key type loads and issues a verifiable leaf.
			loaded, err := Load(a.Dir)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := loaded.Issue(LeafRequest{Names: mustNames(t, "app.test")})
			if err != nil {
				t.Fatal(err)
			}
			verifyLeaf(t, loaded, leaf, x509.VerifyOptions{DNSName: "app.test"})
		})
	}
}

func TestRootLongUserAndHost(t *testing.T) {
	a, err := Create(t.TempDir()+"/ca", CreateOptions{User: strings.Repeat("ü", 40), Host: strings.Repeat("h", 80)})
	if err != nil {
		t.Fatal(err)
	}
	cn := a.Cert.Subject.CommonName
	if len(cn) > 64 || !strings.HasPrefix(cn, "devca root ") {
		t.Errorf("CN %q (%d bytes) should be truncated to 64 bytes", cn, len(cn))
	}
}

func TestUnconstrainedRoot(t *testing.T) {
	a, err := Create(filepath.Join(t.TempDir(), "ca"), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := oidExt(a.Cert, oidNameConstraints); ok {
		t.Error("unconstrained root carries a name constraints extension")
	}
	leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "example.com", "8.8.8.8")})
	if err != nil {
		t.Fatal(err)
	}
	verifyLeaf(t, a, leaf, x509.VerifyOptions{DNSName: "example.com"})
}

func TestCreateRefusesExistingCA(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	keyBefore, err := os.ReadFile(filepath.Join(a.Dir, RootKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, kt := range []KeyType{ECDSAP256, RSA2048} {
		_, err := Create(a.Dir, CreateOptions{KeyType: kt})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("second Create (%s): err = %v, want ErrExists", kt, err)
		}
	}
	b, err := Load(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	keyAfter, _ := os.ReadFile(filepath.Join(a.Dir, RootKeyFile))
	if !bytes.Equal(b.Cert.Raw, a.Cert.Raw) || !bytes.Equal(keyBefore, keyAfter) {
		t.Error("a refused Create changed the existing CA")
	}
}

func TestCreateUnknownKeyType(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	if _, err := Create(dir, CreateOptions{KeyType: "dsa-1024"}); err == nil {
		t.Fatal("Create accepted an unknown key type")
	}
	if _, err := os.Stat(filepath.Join(dir, RootCertFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed Create left a root certificate: %v", err)
	}
	if _, err := Load(dir); !errors.Is(err, ErrNoCA) {
		t.Errorf("Load after a failed Create: %v, want ErrNoCA", err)
	}
}

func TestLoadNoCA(t *testing.T) {
	for name, dir := range map[string]string{
		"fail/missing home": filepath.Join(t.TempDir(), "nope"),
		"fail/empty home":   t.TempDir(),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(dir); !errors.Is(err, ErrNoCA) {
				t.Errorf("Load = %v, want ErrNoCA", err)
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	other := newTestCA(t, ECDSAP256)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		// insecure is the path an *InsecurePermissionsError must name; when
		// empty, the error text must contain want.
		insecure func(dir string) string
		want     string
	}{
		{
			name:     "fail/group-writable home",
			setup:    func(t *testing.T, dir string) { chmod(t, dir, 0o770) },
			insecure: func(dir string) string { return dir },
		},
		{
			name:     "fail/world-writable home",
			setup:    func(t *testing.T, dir string) { chmod(t, dir, 0o702) },
			insecure: func(dir string) string { return dir },
		},
		{
			name:     "fail/world-readable key",
			setup:    func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, RootKeyFile), 0o644) },
			insecure: func(dir string) string { return filepath.Join(dir, RootKeyFile) },
		},
		{
			name:     "fail/group-readable key",
			setup:    func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, RootKeyFile), 0o640) },
			insecure: func(dir string) string { return filepath.Join(dir, RootKeyFile) },
		},
		{
			name: "fail/symlinked key",
			setup: func(t *testing.T, dir string) {
				key := filepath.Join(dir, RootKeyFile)
				elsewhere := filepath.Join(t.TempDir(), "key.pem")
				if err := os.Rename(key, elsewhere); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(elsewhere, key); err != nil {
					t.Fatal(err)
				}
			},
			insecure: func(dir string) string { return filepath.Join(dir, RootKeyFile) },
		},
		{
			name: "fail/replaced root",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, RootCertFile), other.CertPEM, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "replaced",
		},
		{
			name: "fail/root is not a CA",
			setup: func(t *testing.T, dir string) {
				leaf, err := other.Issue(LeafRequest{Names: mustNames(t, "app.test")})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, RootCertFile), leaf.CertPEM, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a CA",
		},
		{
			name: "fail/two certificates in rootCA.pem",
			setup: func(t *testing.T, dir string) {
				path := filepath.Join(dir, RootCertFile)
				data, _ := os.ReadFile(path)
				if err := os.WriteFile(path, append(data, other.CertPEM...), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "expected one certificate",
		},
		{
			name: "fail/garbage root",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, RootCertFile), []byte("not a certificate"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "no PEM certificate",
		},
		{
			name: "fail/garbage metadata",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, metaFile), []byte("{"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: metaFile,
		},
		{
			name: "fail/home is a file",
			setup: func(t *testing.T, dir string) {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dir, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a folder",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestCA(t, ECDSAP256)
			tc.setup(t, a.Dir)
			_, err := Load(a.Dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if tc.insecure != nil {
				var pe *InsecurePermissionsError
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v (%T), want *InsecurePermissionsError", err, err)
				}
				if pe.Path != tc.insecure(a.Dir) {
					t.Errorf("error names %q, want %q", pe.Path, tc.insecure(a.Dir))
				}
				if pe.Fix == "" || pe.Reason == "" {
					t.Errorf("error lacks a reason or a fix: %+v", pe)
				}
				return
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func chmod(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestSignerRefusesForeignOrMissingKey(t *testing.T) {
	other := newTestCA(t, ECDSAP256)
	otherKey, err := os.ReadFile(filepath.Join(other.Dir, RootKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"fail/key of another CA", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, RootKeyFile), otherKey, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "does not belong"},
		{"fail/missing key", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, RootKeyFile)); err != nil {
				t.Fatal(err)
			}
		}, "missing"},
		{"fail/garbage key", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, RootKeyFile), []byte("garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "no PEM private key"},
		{"fail/unknown key storage", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, metaFile), []byte(`{"version":1,"key_storage":"hsm"}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "unknown key storage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestCA(t, ECDSAP256)
			tc.setup(t, a.Dir)
			// Load only reads the certificate: showing the root needs no key.
			b, err := Load(a.Dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if _, err := b.Signer(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Signer err = %v, want it to mention %q", err, tc.want)
			}
			if _, err := b.Issue(LeafRequest{Names: mustNames(t, "app.test")}); err == nil {
				t.Error("Issue succeeded without a usable key")
			}
		})
	}
}

// A home copied from an mkcert CAROOT has no ca.json; it loads as a file key.
func TestLoadWithoutMetadata(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	if err := os.Remove(filepath.Join(a.Dir, metaFile)); err != nil {
		t.Fatal(err)
	}
	b, err := Load(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Issue(LeafRequest{Names: mustNames(t, "localhost")}); err != nil {
		t.Fatal(err)
	}
}

func TestParseKeyType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want KeyType
	}{
		{"", DefaultKeyType},
		{"ecdsa-p256", ECDSAP256},
		{"ECDSA-P384", ECDSAP384},
		{"rsa-2048", RSA2048},
		{"Rsa-3072", RSA3072},
		{"rsa-4096", RSA4096},
	} {
		t.Run("ok/"+tc.in, func(t *testing.T) {
			got, err := ParseKeyType(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("ParseKeyType(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for _, in := range []string{"rsa", "rsa-1024", "ed25519", "p256", " ecdsa-p256"} {
		t.Run("fail/"+in, func(t *testing.T) {
			if _, err := ParseKeyType(in); err == nil || !strings.Contains(err.Error(), "ecdsa-p256") {
				t.Errorf("ParseKeyType(%q) err = %v, want a list of choices", in, err)
			}
		})
	}
}
