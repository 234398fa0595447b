package trust

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/devca/devca/ca"
)

// BundleFile is the name, in the CA home, of the bundle of system roots plus
// the devca root that [WriteBundle] writes for runtimes that read one file.
const BundleFile = "ca-bundle.pem"

// linuxBundles are where Linux distributions keep the system roots as one
// PEM file, in the order Go's crypto/x509 tries them.
var linuxBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// SystemRoots returns the system's trusted roots as PEM. Python requests,
// git and curl replace their whole trust list with a bundle file, so a
// bundle must start from these and never hold the devca root alone.
func SystemRoots(ctx context.Context, env Env) ([]byte, error) {
	switch env.GOOS {
	case "linux":
		for _, p := range linuxBundles {
			if data, err := os.ReadFile(env.path(p)); err == nil {
				return data, nil
			}
		}
		return nil, fmt.Errorf("no system bundle found (looked for %q and others)", linuxBundles[0])
	case "windows":
		if env.WindowsRoot == nil {
			break
		}
		// Windows fetches missing public roots on demand, so the store
		// holds the roots this machine has needed so far: enough for
		// the sites its users visit, not every public root.
		certs, err := env.WindowsRoot.All()
		if err != nil {
			return nil, fmt.Errorf("listing Windows roots: %w", err)
		}
		var buf bytes.Buffer
		for _, der := range certs {
			pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
		}
		return buf.Bytes(), nil
	case "darwin":
		out, err := env.Runner.Run(ctx, Cmd{Name: "security", Args: []string{"find-certificate", "-a", "-p", env.path("/System/Library/Keychains/SystemRootCertificates.keychain")}})
		if err != nil {
			return nil, fmt.Errorf("listing macOS system roots: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("reading the system roots on %s: %w", env.GOOS, ErrUnsupported)
}

// WriteBundle writes path (usually BundleFile in the CA home) holding the
// system roots followed by root, unless the system roots hold it already,
// and returns whether the file changed. Only complete certificates are
// copied: comments and other PEM blocks are dropped.
func WriteBundle(ctx context.Context, env Env, root *x509.Certificate, path string) (bool, error) {
	sys, err := SystemRoots(ctx, env)
	if err != nil {
		return false, err
	}
	var buf bytes.Buffer
	rest := sys
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" || bytes.Equal(b.Bytes, root.Raw) {
			continue
		}
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes})
	}
	if buf.Len() == 0 {
		return false, fmt.Errorf("the system roots hold no certificate")
	}
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, buf.Bytes()) {
		return false, nil
	}
	if err := ca.WriteFileAtomic(path, buf.Bytes(), 0o644); err != nil {
		return false, fmt.Errorf("writing CA bundle: %w", err)
	}
	return true, nil
}
