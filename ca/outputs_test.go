package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckP12Password(t *testing.T) {
	for _, tc := range []struct {
		password string
		wantErr  string // empty: accepted
	}{
		{"changeit", ""},
		{"", ""},
		{"pässwört ñ €", ""},
		{"日本語のパスワード", ""},
		{"key🔑", "U+1F511"},
		{"a\x00b", "NUL"},
		{"caf\xe9", "not valid UTF-8"},
	} {
		err := CheckP12Password(tc.password)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("CheckP12Password(%q) = %v, want error containing %q", tc.password, err, tc.wantErr)
		}
		if tc.wantErr != "" {
			continue
		}
		// What the check accepts, the encoder encodes and the decoder
		// opens with the same password.
		auth := newTestCA(t, ECDSAP256)
		leaf, err := auth.Issue(LeafRequest{Names: mustNames(t, "p12.test"), KeyType: ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		data, err := encodeP12(leaf, []*x509.Certificate{auth.Cert}, tc.password, false)
		if err != nil {
			t.Fatalf("EncodeP12(%q): %v", tc.password, err)
		}
		if fp, err := p12LeafFingerprint(data, tc.password); err != nil || fp != Fingerprint(leaf.Cert) {
			t.Errorf("P12LeafFingerprint(%q) = %q, %v", tc.password, fp, err)
		}
	}
}

// TestCSRNamesRefusesUnsupportedSANs: crypto/x509 drops SAN kinds it does
// not parse, so a request for one must be refused rather than signed
// without it.
func TestCSRNamesRefusesUnsupportedSANs(t *testing.T) {
	sanOID := asn1.ObjectIdentifier{2, 5, 29, 17}
	dns := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("app.test")}
	otherName := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true,
		Bytes: mustMarshal(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3})}
	rid := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 8, Bytes: []byte{0x2a, 0x03}}
	universal := asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte("x")}
	for _, tc := range []struct {
		name    string
		sans    []asn1.RawValue
		wantErr string // empty: accepted
	}{
		{"ok/dns", []asn1.RawValue{dns}, ""},
		{"fail/otherName", []asn1.RawValue{dns, otherName}, "cannot certify: otherName"},
		{"fail/otherName and registeredID once each", []asn1.RawValue{otherName, rid, otherName}, "cannot certify: otherName (such as a Windows user principal name), registeredID;"},
		{"fail/not a GeneralName", []asn1.RawValue{dns, universal}, "an unknown kind (tag 0x0c)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := newCSR(t, nil, &x509.CertificateRequest{
				ExtraExtensions: []pkix.Extension{{Id: sanOID, Value: mustMarshal(t, tc.sans)}}})
			csr, err := ParseCSR(der)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = CSRNames(csr)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("CSRNames = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestRecordDigests: entries keep the digests of what was written, and
// lines from before devca kept them still read, with no digest.
func TestRecordDigests(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	dir := t.TempDir()
	names := mustNames(t, "app.test")
	leaf, err := a.Issue(LeafRequest{Names: names, KeyType: ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	e := newIssued(leaf, names, leaf.Cert.NotBefore)
	e.CertFile, e.KeyFile = filepath.Join(dir, "app.pem"), filepath.Join(dir, "app-key.pem")
	files := []outputFile{{Path: e.CertFile, Data: leaf.CertPEM, Perm: CertPerm}, {Path: e.KeyFile, Data: leaf.KeyPEM, Perm: KeyPerm}}
	e.setDigests(files)
	if e.CertSHA256 != contentSHA256(leaf.CertPEM) || e.KeySHA256 != contentSHA256(leaf.KeyPEM) || e.P12SHA256 != "" {
		t.Fatalf("SetDigests: %+v", e)
	}
	if err := a.publish(files, e); err != nil {
		t.Fatal(err)
	}
	// A line from before devca kept digests still reads, without them.
	old := `{"serial":"1","names":["old.test"],"cert_file":"` + filepath.Join(dir, "old.pem") + `","key_file":"` + filepath.Join(dir, "old-key.pem") + `"}` + "\n"
	f, err := os.OpenFile(filepath.Join(a.Dir, recordFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(old); err != nil {
		t.Fatal(err)
	}
	f.Close()
	entries, err := a.Record()
	if err != nil || len(entries) != 2 {
		t.Fatalf("Entries = %+v, %v", entries, err)
	}
	if got := entries[0]; got.CertSHA256 != e.CertSHA256 || got.KeySHA256 != e.KeySHA256 {
		t.Errorf("digests read back as %q, %q; want %q, %q", got.CertSHA256, got.KeySHA256, e.CertSHA256, e.KeySHA256)
	}
	if got := entries[1]; got.Serial != "1" || got.CertSHA256 != "" || got.KeySHA256 != "" || got.P12SHA256 != "" {
		t.Errorf("old entry read as %+v", got)
	}
}

func TestKeyMatchesCert(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	leaf, err := a.Issue(LeafRequest{Names: mustNames(t, "app.test"), KeyType: ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPEM, err := marshalKeyPEM(other)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  []byte
		want bool
	}{
		{"its key", leaf.KeyPEM, true},
		{"another key", otherPEM, false},
		{"not a key", leaf.CertPEM, false},
	} {
		if got := keyMatchesCert(tc.key, leaf.Cert); got != tc.want {
			t.Errorf("%s: KeyMatchesCert = %v, want %v", tc.name, got, tc.want)
		}
	}
}
