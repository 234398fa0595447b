package ca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/devca/devca/ca"
)

// Example_signCSR shows what a server issuing certificates on request (an
// ACME server) does: sign a request for the names it validated, with a
// lifetime of its choosing, and find the certificate again by serial. The
// root's name constraints apply, and the certificate is recorded; no file
// is written, and the caller sends CertPEM.
func Example_signCSR() {
	dir, err := os.MkdirTemp("", "devca-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cons, err := ca.DefaultConstraints(nil)
	if err != nil {
		log.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if _, err := ca.Create(home, ca.CreateOptions{Constraints: cons}); err != nil {
		log.Fatal(err)
	}
	auth, err := ca.Load(home)
	if err != nil {
		log.Fatal(err)
	}

	// The client's request: its key never leaves it.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"app.test", "www.app.test"}}, key)
	if err != nil {
		log.Fatal(err)
	}
	csr, err := ca.ParseCSR(der)
	if err != nil {
		log.Fatal(err)
	}
	validated, _, err := ca.ParseNames([]string{"app.test", "www.app.test"})
	if err != nil {
		log.Fatal(err)
	}
	is, err := auth.SignCSR(ca.CSRRequest{CSR: csr, Names: validated, Lifetime: 24 * time.Hour}, ca.Files{FullChain: true})
	if err != nil {
		log.Fatal(err)
	}
	certs, err := ca.ParseCertsPEM(is.CertPEM)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("names:", certs[0].DNSNames)
	fmt.Println("chain:", len(certs), "certificates")
	fmt.Println("lifetime:", certs[0].NotAfter.Sub(certs[0].NotBefore))

	found, ok, err := auth.Lookup(is.Serial)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recorded:", ok, found.Names)

	// A name outside the root's constraints is refused before signing.
	public, _, _ := ca.ParseNames([]string{"example.com"})
	der, _ = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"example.com"}}, key)
	csr, _ = ca.ParseCSR(der)
	_, err = auth.SignCSR(ca.CSRRequest{CSR: csr, Names: public}, ca.Files{})
	fmt.Println("refused:", err != nil)
	// Output:
	// names: [app.test www.app.test]
	// chain: 2 certificates
	// lifetime: 24h0m0s
	// recorded: true [app.test www.app.test]
	// refused: true
}
