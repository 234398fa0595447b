package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// fillRecord writes n plausible entries straight into a's record (devca
// would take n synced appends to get there), each with its own certificate,
// key and PKCS#12 file under dir, and returns the record's size.
func fillRecord(t testing.TB, a *Authority, n int, dir string) int64 {
	t.Helper()
	var buf bytes.Buffer
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		base := filepath.Join(dir, fmt.Sprintf("app%d.test", i))
		e := Issued{Serial: fmt.Sprintf("%x", 0x1000000+i), Names: []string{fmt.Sprintf("app%d.test", i), "localhost", "127.0.0.1"},
			NotBefore: at, NotAfter: at.AddDate(2, 0, 0), IssuedAt: at, Fingerprint: fmt.Sprintf("%064x", i), KeyType: "ecdsa-p256",
			CertFile: base + ".pem", KeyFile: base + "-key.pem", P12File: base + ".p12",
			CertSHA256: fmt.Sprintf("%064x", i+1), KeySHA256: fmt.Sprintf("%064x", i+2), P12SHA256: fmt.Sprintf("%064x", i+3)}
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	path := filepath.Join(a.Dir, recordFile)
	// Synced, so that the first timed append does not pay for writing the
	// whole record back.
	if err := WriteFileAtomic(path, buf.Bytes(), KeyPerm); err != nil {
		t.Fatal(err)
	}
	return int64(buf.Len())
}

// Issuing through the ACME path (SignCSR to no files) and to fresh files
// reads only the record's last byte, to append after it, however long the
// record is; checking that the files of the previous issuance are devca's
// and looking that certificate up read only the record's last chunk.
func TestIssuanceDoesNotReadRecord(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	out := t.TempDir()
	size := fillRecord(t, a, 10000, out)
	if size < 4*backChunk {
		t.Fatalf("the record holds %d bytes, too few to tell a chunk from the whole", size)
	}
	csr, err := x509.ParseCertificateRequest(newCSR(t, nil, &x509.CertificateRequest{DNSNames: []string{"acme.test"}}))
	if err != nil {
		t.Fatal(err)
	}
	recordBytesRead.Store(0)
	if _, err := a.SignCSR(CSRRequest{CSR: csr}, Files{}); err != nil {
		t.Fatal(err)
	}
	if n := recordBytesRead.Load(); n > 1 {
		t.Errorf("SignCSR to no files read %d bytes of a %d-byte record, want at most its last byte", n, size)
	}

	files := Files{CertFile: filepath.Join(out, "new.pem"), KeyFile: filepath.Join(out, "new-key.pem")}
	recordBytesRead.Store(0)
	is, err := a.IssueToFiles(LeafRequest{Names: mustNames(t, "new.test")}, files)
	if err != nil {
		t.Fatal(err)
	}
	if n := recordBytesRead.Load(); n > 1 {
		t.Errorf("IssueToFiles read %d bytes of the record, want at most its last byte", n)
	}

	recordBytesRead.Store(0)
	wrote, err := a.Wrote(files.CertFile, files.KeyFile)
	if err != nil || !wrote[files.CertFile] || !wrote[files.KeyFile] {
		t.Errorf("Wrote(%s, %s) = %v, %v; want both", files.CertFile, files.KeyFile, wrote, err)
	}
	if n := recordBytesRead.Load(); n > backChunk {
		t.Errorf("Wrote for the last issuance read %d bytes, want at most %d", n, backChunk)
	}
	recordBytesRead.Store(0)
	if got, ok, err := a.Lookup(is.Serial); err != nil || !ok || got.Serial != is.Serial {
		t.Errorf("Lookup(%s) = %+v, %v, %v", is.Serial, got, ok, err)
	}
	if n := recordBytesRead.Load(); n > 2*backChunk {
		t.Errorf("Lookup of the last issuance read %d bytes, want at most %d", n, 2*backChunk)
	}

	// A path devca never wrote is searched for in the whole record, and
	// one written early on is found there.
	early := filepath.Join(out, "app3.test-key.pem")
	wrote, err = a.Wrote(filepath.Join(out, "stranger.pem"), early)
	if err != nil || len(wrote) != 1 || !wrote[early] {
		t.Errorf("Wrote(stranger, early) = %v, %v; want only %s", wrote, err, early)
	}
}

// Wrote and Lookup give the answers WrittenFiles and Record give, whatever
// the record holds: damaged lines, strings written with escapes json.Marshal
// would not use (or without those it uses), Windows paths, bytes that are not
// UTF-8, an unfinished last line, replaced certificates.
func TestSearchRecordMatchesRecord(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	lines := []string{
		`{"serial":"1","cert_file":"/x/a.pem","key_file":"/x/a-key.pem"}`,
		`garbage naming "/x/a.pem" and "/x/a-key.pem"`,
		`{"serial":"2","cert_file":"/x/<b>&.pem"}`,
		`{"serial":"3","cert_file":"/x/\u003cc\u003e.pem"}`,
		`{ "serial" : "4" , "cert_file" : "\/x\/d.pem" }`,
		`{"serial":"5","cert_file":"C:\\certs\\new\\e.pem"}`,
		`{"serial":"6","cert_file":"/x/f` + "\xff" + `.pem"}`,
		`{"serial":"7","cert_file":"/x/g` + "\u2028" + `.pem"}`,
		`{"serial":"8","p12_file":"/x/a.pem","csr_file":"/x/h.csr"}`,
		`{"cert_file":"/x/noserial.pem"}`,
		``,
		`{"serial":"9","cert_file":"/x/a.pem"}`,
		`{"serial":"\u0031\u0030","cert_file":"/x/\u0061.pem"}`,
		`{"serial":"11","cert_file":"/x/unfinished.pem"}`,
		`{"serial":"12","cert_file":"/x/tor`,
	}
	var data []byte
	for i, l := range lines {
		data = append(data, l...)
		if i < len(lines)-1 {
			data = append(data, '\n')
		}
	}
	// The record's last complete-looking entry lacks its newline too:
	// test both shapes.
	for _, tail := range []string{"", "\n"} {
		t.Run("tail="+strconv.Quote(tail), func(t *testing.T) {
			path := filepath.Join(a.Dir, recordFile)
			if err := os.WriteFile(path, append(bytes.Clone(data), tail...), KeyPerm); err != nil {
				t.Fatal(err)
			}
			all, err := a.WrittenFiles()
			if err != nil {
				t.Fatal(err)
			}
			entries, err := a.Record()
			if err != nil {
				t.Fatal(err)
			}
			a.RecordWarnings()
			candidates := []string{"/x/a.pem", "/x/a-key.pem", "/x/<b>&.pem", "/x/<c>.pem", "/x/d.pem", `C:\certs\new\e.pem`,
				"/x/f\ufffd.pem", "/x/f\xff.pem", "/x/g\u2028.pem", "/x/h.csr", "/x/noserial.pem", "/x/unfinished.pem", "/x/tor", "/x/none.pem"}
			for _, p := range candidates {
				got, err := a.Wrote(p)
				if err != nil {
					t.Fatal(err)
				}
				if got[p] != all[p] {
					t.Errorf("Wrote(%q) = %v, WrittenFiles says %v", p, got[p], all[p])
				}
			}
			got, err := a.Wrote(candidates...)
			if err != nil || len(got) != len(all) {
				t.Errorf("Wrote(all candidates) = %v, %v; WrittenFiles = %v", got, err, all)
			}
			for _, want := range entries {
				if e, ok, err := a.Lookup(want.Serial); err != nil || !ok || !equalIssued(e, want) {
					t.Errorf("Lookup(%s) = %+v, %v, %v; Record has %+v", want.Serial, e, ok, err, want)
				}
			}
			if _, ok, err := a.Lookup("12"); ok || err != nil {
				t.Errorf("Lookup(12) of a torn line = %v, %v", ok, err)
			}
			ws := a.RecordWarnings()
			if len(ws) != 0 {
				t.Errorf("searches repeated warnings already reported: %v", ws)
			}
		})
	}
	// A search that decodes a damaged line warns about it with its line
	// number, as reading the whole record does.
	b, err := Load(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Wrote("/x/a-key.pem"); err != nil {
		t.Fatal(err)
	}
	if ws := b.RecordWarnings(); len(ws) != 1 || ws[0].Line != 2 {
		t.Errorf("warnings after Wrote = %v, want one for line 2", ws)
	}
	// A path the record does not name is about to be refused: every
	// damaged line is reported, as one of them may have named it.
	if got, err := b.Wrote("/x/none.pem"); err != nil || len(got) != 0 {
		t.Fatalf("Wrote(none) = %v, %v", got, err)
	}
	var nums []int
	for _, w := range b.RecordWarnings() {
		nums = append(nums, w.Line)
	}
	if !slices.Equal(nums, []int{10, 15}) {
		t.Errorf("warnings after Wrote of an unknown path: lines %v, want [10 15] (2 was reported already)", nums)
	}
}

func equalIssued(a, b Issued) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
