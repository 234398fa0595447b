package trust

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// macKeychain is the keychain whose trust settings apply to every user and
// to every app that uses the macOS trust APIs (Safari, Chrome, curl).
const macKeychain = "/Library/Keychains/System.keychain"

// macStore is the macOS System keychain with admin trust settings.
type macStore struct {
	env Env
}

func newMacStore(env Env) *macStore { return &macStore{env: env} }

func (s *macStore) Name() string        { return StoreSystem }
func (s *macStore) Description() string { return "macOS System keychain" }

func (s *macStore) Present(context.Context) bool { return s.env.hasTool("security") }

func (s *macStore) keychain() string { return s.env.path(macKeychain) }

// inKeychain reports whether the keychain holds exactly der, matched by its
// SHA-1 hash, which security prints for every certificate with -Z.
func (s *macStore) inKeychain(ctx context.Context, der []byte) (bool, error) {
	out, err := s.env.Runner.Run(ctx, Cmd{Name: "security", Args: []string{"find-certificate", "-a", "-Z", s.keychain()}})
	if err != nil {
		return false, err
	}
	return strings.Contains(string(out), "SHA-1 hash: "+sha1Thumbprint(der)), nil
}

// hasTrustSettings reports whether the admin trust settings cover exactly
// der; add-trusted-cert -d writes them, and without them the certificate
// sits in the keychain untrusted. The exported settings are a property list
// keyed by each certificate's SHA-1 hash, so two roots with the same name
// are never confused.
func (s *macStore) hasTrustSettings(ctx context.Context, der []byte) (bool, error) {
	dir, err := os.MkdirTemp(s.env.TempDir, "devca-trust-")
	if err != nil {
		return false, fmt.Errorf("creating temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	plist := filepath.Join(dir, "settings.plist")
	out, err := s.env.Runner.Run(ctx, Cmd{Name: "security", Args: []string{"trust-settings-export", "-d", plist}})
	if err != nil {
		// security exits non-zero when there are no admin trust settings.
		if isExitError(err) && strings.Contains(string(out)+err.Error(), "No Trust Settings") {
			return false, nil
		}
		return false, err
	}
	data, err := os.ReadFile(plist)
	if err != nil {
		return false, fmt.Errorf("reading exported trust settings: %w", err)
	}
	return strings.Contains(string(data), "<key>"+sha1Thumbprint(der)+"</key>"), nil
}

func (s *macStore) Check(ctx context.Context, root *Root) ([]Location, error) {
	loc := Location{Path: s.keychain()}
	in, err := s.inKeychain(ctx, root.Cert.Raw)
	if err != nil {
		return []Location{loc}, fmt.Errorf("reading keychain: %w", err)
	}
	if in {
		if loc.Trusted, err = s.hasTrustSettings(ctx, root.Cert.Raw); err != nil {
			return []Location{loc}, fmt.Errorf("reading trust settings: %w", err)
		}
		if !loc.Trusted {
			loc.Note = "in keychain without trust settings"
		}
	}
	return []Location{loc}, nil
}

func (s *macStore) Install(ctx context.Context, root *Root) ([]Installation, error) {
	entry := entryFor(StoreSystem, root, s.keychain(), sha1Thumbprint(root.Cert.Raw), true)
	locs, err := s.Check(ctx, root)
	if err != nil {
		return nil, err
	}
	if locs[0].Trusted {
		entry.Changed = false
		return []Installation{entry}, nil
	}
	// -d writes admin trust settings, which apply to all users; -r
	// trustRoot makes it an anchor for SSL and basic X.509 policies only.
	c := Cmd{Name: "security", Args: []string{"add-trusted-cert", "-d", "-r", "trustRoot", "-p", "ssl", "-p", "basic", "-k", s.keychain(), root.File},
		Privileged: true, Why: "add the devca root to the System keychain"}
	if _, err := s.env.Runner.Run(ctx, c); err != nil {
		return nil, err
	}
	return []Installation{entry}, nil
}

func (s *macStore) Uninstall(ctx context.Context, e Installation) (bool, error) {
	in, err := s.inKeychain(ctx, e.Cert)
	if err != nil || !in {
		return false, err
	}
	const why = "remove the devca root from the System keychain"
	err = s.env.withCertFile(e.Cert, func(file string) error {
		_, err := s.env.Runner.Run(ctx, Cmd{Name: "security", Args: []string{"remove-trusted-cert", "-d", file}, Privileged: true, Why: why})
		var ce *CmdError
		if errors.As(err, &ce) && isExitError(err) && strings.Contains(ce.Output, "could not be found") {
			err = nil // no trust settings left; the certificate may still be there
		}
		return err
	})
	if err != nil {
		return false, err
	}
	// -Z deletes by SHA-1 hash: exactly this certificate, never another one
	// with the same name.
	_, err = s.env.Runner.Run(ctx, Cmd{Name: "security", Args: []string{"delete-certificate", "-Z", sha1Thumbprint(e.Cert), s.keychain()}, Privileged: true, Why: why})
	if err != nil {
		return false, err
	}
	return true, nil
}
