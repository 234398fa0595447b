package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/devca/devca/ca"
)

// cmdCertCheck verifies a certificate file against a root and prints its
// profile, one "key: value" line each, for scripts to match:
//
//	certcheck CERT ROOT
func cmdCertCheck(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: certcheck CERT ROOT")
	}
	certs, err := ca.ParseCertsPEM([]byte(ts.ReadFile(args[0])))
	ts.Check(err)
	roots, err := ca.ParseCertsPEM([]byte(ts.ReadFile(args[1])))
	ts.Check(err)
	pool := x509.NewCertPool()
	pool.AddCert(roots[0])
	leaf := certs[0]
	_, verr := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if neg {
		if verr == nil {
			ts.Fatalf("certificate verified, want failure")
		}
		return
	}
	ts.Check(verr)
	var sans []string
	sans = append(sans, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, leaf.EmailAddresses...)
	for _, u := range leaf.URIs {
		sans = append(sans, u.String())
	}
	var ekus []string
	for _, e := range leaf.ExtKeyUsage {
		ekus = append(ekus, map[x509.ExtKeyUsage]string{
			x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
			x509.ExtKeyUsageEmailProtection: "emailProtection",
		}[e])
	}
	days := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24
	fmt.Fprintf(ts.Stdout(), "sans: %s\n", strings.Join(sans, " "))
	fmt.Fprintf(ts.Stdout(), "ca: %v\n", leaf.IsCA)
	fmt.Fprintf(ts.Stdout(), "eku: %s\n", strings.Join(ekus, " "))
	fmt.Fprintf(ts.Stdout(), "key: %s\n", strings.ToLower(strings.ReplaceAll(describeForTest(leaf), " ", "-")))
	fmt.Fprintf(ts.Stdout(), "days: %.0f\n", days)
	fmt.Fprintf(ts.Stdout(), "certs in file: %d\n", len(certs))
}

func describeForTest(c *x509.Certificate) string {
	switch c.PublicKeyAlgorithm {
	case x509.ECDSA:
		return "ecdsa"
	case x509.RSA:
		return "rsa"
	}
	return c.PublicKeyAlgorithm.String()
}

// cmdTLSProbe serves HTTPS with a certificate and key and connects to it with
// Go's client, curl and openssl s_client, each trusting only ROOT:
//
//	tlsprobe CERT KEY ROOT HOST
func cmdTLSProbe(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: tlsprobe CERT KEY ROOT HOST")
	}
	certFile, keyFile, rootFile, host := ts.MkAbs(args[0]), ts.MkAbs(args[1]), ts.MkAbs(args[2]), args[3]
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	ts.Check(err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from devca\n")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "https://" + net.JoinHostPort(host, port) + "/"

	failures := probeClients(ts, rootFile, host, port, url)
	if neg {
		if len(failures) < 3 {
			ts.Fatalf("want every client to fail, but %d of 3 succeeded", 3-len(failures))
		}
		return
	}
	if len(failures) > 0 {
		ts.Fatalf("TLS clients failed:\n%s", strings.Join(failures, "\n"))
	}
	fmt.Fprintf(ts.Stdout(), "go, curl and openssl connected to %s\n", url)
}

func probeClients(ts *testscript.TestScript, rootFile, host, port, url string) []string {
	var failures []string
	roots, err := ca.ParseCertsPEM([]byte(ts.ReadFile(rootFile)))
	ts.Check(err)
	pool := x509.NewCertPool()
	pool.AddCert(roots[0])
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
		},
	}}
	if resp, err := client.Get(url); err != nil {
		failures = append(failures, "go: "+err.Error())
	} else {
		resp.Body.Close()
	}

	hostPort := host + ":" + port + ":127.0.0.1"
	if host[0] == '[' || strings.Contains(host, ":") {
		hostPort = ""
	}
	curlArgs := []string{"--silent", "--show-error", "--max-time", "10", "--cacert", rootFile, url}
	if hostPort != "" {
		curlArgs = append([]string{"--resolve", hostPort}, curlArgs...)
	}
	if out, err := exec.Command("curl", curlArgs...).CombinedOutput(); err != nil || !strings.Contains(string(out), "hello from devca") {
		failures = append(failures, fmt.Sprintf("curl: %v: %s", err, out))
	}

	sclient := exec.Command("openssl", "s_client", "-connect", "127.0.0.1:"+port, "-servername", strings.Trim(host, "[]"),
		"-CAfile", rootFile, "-verify_return_error", "-verify_hostname", strings.Trim(host, "[]"))
	if _, err := parseIPForTest(host); err == nil {
		sclient = exec.Command("openssl", "s_client", "-connect", "127.0.0.1:"+port,
			"-CAfile", rootFile, "-verify_return_error", "-verify_ip", strings.Trim(host, "[]"))
	}
	sclient.Stdin = strings.NewReader("")
	sclient.Env = append(os.Environ(), "SSL_CERT_FILE=", "SSL_CERT_DIR=")
	if out, err := sclient.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
		failures = append(failures, fmt.Sprintf("openssl s_client: %v: %s", err, lastLines(string(out), 5)))
	}
	return failures
}

func parseIPForTest(host string) (net.IP, error) {
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		return ip, nil
	}
	return nil, fmt.Errorf("not an IP")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
