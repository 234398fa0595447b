package trust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestMacStore(t *testing.T) {
	tb := newTestbed(t, "darwin")
	tb.setTools("security")
	ctx := context.Background()
	stores := []string{StoreSystem}
	var out strings.Builder
	res, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
	out.WriteString(tb.report("install", res, err))
	if err != nil || !res[0].Trusted || !res[0].Changed {
		t.Fatalf("install: %+v %v", res, err)
	}
	res, err = InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
	out.WriteString(tb.report("install again", res, err))
	if err != nil || res[0].Changed {
		t.Errorf("second install: %+v %v", res, err)
	}
	// Another certificate in the keychain must survive uninstall.
	other := newTestCert(t, "Someone Else")
	tb.runner.keychain[sha1Thumbprint(other.Raw)] = other.Raw
	res, err = UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores)
	out.WriteString(tb.report("uninstall", res, err))
	if err != nil || !res[0].Changed || res[0].Trusted {
		t.Errorf("uninstall: %+v %v", res, err)
	}
	if len(tb.runner.keychain) != 1 || tb.runner.keychain[sha1Thumbprint(other.Raw)] == nil {
		t.Errorf("keychain after uninstall holds %d certificates, want only the other one", len(tb.runner.keychain))
	}
	checkGolden(t, "macos_system", out.String())

	t.Run("fail/same-name-trusted-is-not-enough", func(t *testing.T) {
		tb := newTestbed(t, "darwin")
		tb.setTools("security")
		// An older root with the same name has trust settings; this one
		// sits in the keychain without them.
		twin := newTestCert(t, tb.cert.Subject.CommonName)
		tb.runner.keychain[sha1Thumbprint(twin.Raw)] = twin.Raw
		tb.runner.trusted[sha1Thumbprint(twin.Raw)] = true
		tb.runner.keychain[sha1Thumbprint(tb.cert.Raw)] = tb.cert.Raw
		res, err := StatusAll(context.Background(), tb.env, tb.cert, stores)
		if err != nil || res[0].Trusted {
			t.Fatalf("status %+v %v, want not trusted", res[0], err)
		}
	})

	t.Run("fail/add-trusted-cert-cancelled", func(t *testing.T) {
		tb := newTestbed(t, "darwin")
		tb.setTools("security")
		tb.runner.fail["security add-trusted-cert"] = failure{code: 1, out: "SecTrustSettingsSetTrustSettings: The authorization was canceled by the user."}
		res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
		var ce *CmdError
		if !errors.As(err, &ce) || res[0].Trusted {
			t.Fatalf("got %v, want a *CmdError", err)
		}
		checkGolden(t, "macos_cancelled", tb.report("install", res, err))
	})
}

// fakeCertStore is an in-memory Windows Root store: certs is the user's own
// store, machine the local machine's, which the collection includes.
type fakeCertStore struct {
	mu      sync.Mutex
	certs   [][]byte
	machine [][]byte
	log     []string
	// addErr and deleteErr are returned by Add and Delete; block makes
	// them wait until it is closed, like an unanswered dialog; sticky
	// makes Delete report success and change nothing, as Wine did before
	// devca committed the store.
	addErr, deleteErr error
	block             chan struct{}
	sticky            bool
}

func (s *fakeCertStore) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, fmt.Sprintf(format, args...))
}

func (s *fakeCertStore) Trusts(der []byte) (bool, error) {
	s.logf("trusts %s", sha1Thumbprint(der))
	all, _ := s.All()
	return slices.ContainsFunc(all, func(c []byte) bool { return bytes.Equal(c, der) }), nil
}

func (s *fakeCertStore) Contains(der []byte) (bool, error) {
	s.logf("contains %s", sha1Thumbprint(der))
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.certs, func(c []byte) bool { return bytes.Equal(c, der) }), nil
}

func (s *fakeCertStore) Add(der []byte) error {
	s.logf("add %s", sha1Thumbprint(der))
	if s.block != nil {
		<-s.block
	}
	if s.addErr != nil {
		return s.addErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = append(s.certs, der)
	return nil
}

func (s *fakeCertStore) All() ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(slices.Clone(s.certs), s.machine...), nil
}

func (s *fakeCertStore) Delete(der []byte) error {
	s.logf("delete %s", sha1Thumbprint(der))
	if s.block != nil {
		<-s.block
	}
	if s.deleteErr != nil || s.sticky {
		return s.deleteErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = slices.DeleteFunc(s.certs, func(c []byte) bool { return bytes.Equal(c, der) })
	return nil
}

func TestWindowsStore(t *testing.T) {
	tb := newTestbed(t, "windows")
	store := &fakeCertStore{}
	// A certificate with the same subject must never be deleted.
	lookalike := newTestCert(t, tb.cert.Subject.CommonName)
	store.certs = append(store.certs, lookalike.Raw)
	tb.env.WindowsRoot = store
	ctx := context.Background()
	stores := []string{StoreSystem}
	var out strings.Builder
	for _, step := range []struct {
		name string
		run  func() ([]Result, error)
	}{
		{"install", func() ([]Result, error) { return InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores) }},
		{"install again", func() ([]Result, error) { return InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores) }},
		{"uninstall", func() ([]Result, error) { return UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores) }},
	} {
		res, err := step.run()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		out.WriteString(tb.report(step.name, res, err))
		for _, l := range store.log {
			out.WriteString(tb.normalize("crypt32 " + l + "\n"))
		}
		store.log = nil
	}
	if len(store.certs) != 1 || !bytes.Equal(store.certs[0], lookalike.Raw) {
		t.Errorf("store after uninstall holds %d certificates, want only the look-alike", len(store.certs))
	}
	checkGolden(t, "windows_user_root", out.String())

	t.Run("ok/bundle-from-the-root-store", func(t *testing.T) {
		out := filepath.Join(tb.cahome, BundleFile)
		if _, err := WriteBundle(ctx, tb.env, tb.cert, out); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(out)
		if !containsCert(data, lookalike) || !containsCert(data, tb.cert) {
			t.Errorf("bundle lacks the store's root or devca's")
		}
	})

	t.Run("fail/unsupported-without-store", func(t *testing.T) {
		tb := newTestbed(t, "windows")
		if newWindowsStore(tb.env).Present(ctx) {
			t.Errorf("present without a Root store")
		}
	})
}

func TestWSLStore(t *testing.T) {
	for _, marker := range []string{"interop", "osrelease", "env"} {
		t.Run("ok/detect-"+marker, func(t *testing.T) {
			tb := newTestbed(t, "linux")
			s := newWSLStore(tb.env)
			if s.Present(context.Background()) {
				t.Fatalf("WSL detected on plain Linux")
			}
			switch marker {
			case "interop":
				tb.write(filepath.Join(tb.root, "proc/sys/fs/binfmt_misc/WSLInterop"), "enabled\n")
			case "osrelease":
				tb.write(filepath.Join(tb.root, "proc/sys/kernel/osrelease"), "5.15.167.4-microsoft-standard-WSL2\n")
			case "env":
				tb.vars["WSL_DISTRO_NAME"] = "Debian"
			}
			if !s.Present(context.Background()) {
				t.Errorf("WSL not detected")
			}
		})
	}

	tb := newTestbed(t, "linux")
	tb.write(filepath.Join(tb.root, "proc/sys/fs/binfmt_misc/WSLInterop"), "enabled\n")
	tb.setTools("powershell.exe", "certutil.exe", "wslpath")
	other := newTestCert(t, "Windows Root")
	tb.runner.winRoot[sha1Thumbprint(other.Raw)] = other.Raw
	ctx := context.Background()
	stores := []string{StoreWindows}
	var out strings.Builder
	res, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
	out.WriteString(tb.report("install", res, err))
	if err != nil || !res[0].Trusted {
		t.Fatalf("install: %v", err)
	}
	res, err = InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
	out.WriteString(tb.report("install again", res, err))
	res, err = UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores)
	out.WriteString(tb.report("uninstall", res, err))
	if err != nil || !res[0].Changed || len(tb.runner.winRoot) != 1 {
		t.Errorf("uninstall: %+v %v, %d certificates left", res, err, len(tb.runner.winRoot))
	}
	checkGolden(t, "wsl_windows_store", out.String())

	t.Run("fail/interop-disabled", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		tb.vars["WSL_DISTRO_NAME"] = "Ubuntu"
		_, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
		var tm *ToolMissingError
		if !errors.As(err, &tm) || tm.Tool != "powershell.exe" || !strings.Contains(tm.Hint, "wsl.conf") {
			t.Fatalf("got %v, want powershell.exe missing with a wsl.conf hint", err)
		}
	})
}
