package ca

import (
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkIssueRecordSize measures issuing with an empty record against
// issuing with 10,000 entries already in it, alternating between two CAs so
// that both see the same machine load, and reports each time per issuance
// and their ratio (x10k/empty; issue 11 asks for at most 1.2):
//
//   - acme signs a request to no files, as the ACME server does
//     (caissuer → SignCSR with Files{});
//   - issue re-issues a certificate and key over the files the previous
//     issuance wrote, as `devca issue` does: the overwrite check
//     ([Authority.Wrote]), then IssueToFiles.
//
// Run it with
//
//	go test ./ca -run '^$' -bench IssueRecordSize -benchtime 200x
func BenchmarkIssueRecordSize(b *testing.B) {
	csr, err := x509.ParseCertificateRequest(newCSR(b, nil, &x509.CertificateRequest{DNSNames: []string{"acme.test"}}))
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"acme", "issue"} {
		b.Run(path, func(b *testing.B) {
			var cas [2]*Authority
			for i, n := range []int{0, 10000} {
				a, err := Create(b.TempDir(), CreateOptions{KeyType: ECDSAP256})
				if err != nil {
					b.Fatal(err)
				}
				fillRecord(b, a, n, b.TempDir())
				cas[i] = a
			}
			out := [2]Files{}
			for i := range out {
				dir := b.TempDir()
				out[i] = Files{CertFile: filepath.Join(dir, "app.test.pem"), KeyFile: filepath.Join(dir, "app.test-key.pem")}
			}
			names, _, err := ParseNames([]string{"app.test", "localhost"})
			if err != nil {
				b.Fatal(err)
			}
			issue := func(i int) {
				a := cas[i]
				if path == "acme" {
					if _, err := a.SignCSR(CSRRequest{CSR: csr}, Files{}); err != nil {
						b.Fatal(err)
					}
					return
				}
				wrote, err := a.Wrote(out[i].CertFile, out[i].KeyFile)
				if err != nil {
					b.Fatal(err)
				}
				if len(wrote) != 2 {
					b.Fatalf("the files of the previous issuance count as not devca's: %v", wrote)
				}
				if _, err := a.IssueToFiles(LeafRequest{Names: names}, out[i]); err != nil {
					b.Fatal(err)
				}
			}
			if path == "issue" {
				// The first issuance writes the files the others replace.
				for i := range cas {
					if _, err := cas[i].IssueToFiles(LeafRequest{Names: names}, out[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
			var took [2]time.Duration
			n := 0
			for b.Loop() {
				for i := range cas {
					start := time.Now()
					issue(i)
					took[i] += time.Since(start)
				}
				n++
			}
			b.ReportMetric(float64(took[0].Nanoseconds())/float64(n), "ns-empty/op")
			b.ReportMetric(float64(took[1].Nanoseconds())/float64(n), "ns-10k/op")
			b.ReportMetric(float64(took[1])/float64(took[0]), "x10k/empty")
		})
	}
}
