package trust

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAlreadyTrustedIsNotRecorded is issue 12, item 1: a root that a store
// trusted before devca touched it (put there by an administrator, group
// policy or mkcert -install, say before 'devca init --from-mkcert') is
// neither added again nor recorded, so uninstall leaves it in place and says
// so with ErrNotRecorded.
func TestAlreadyTrustedIsNotRecorded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store string
		// setup makes tb trust tb.cert without devca; stillThere reports
		// whether that trust survived.
		setup      func(t *testing.T, tb *testbed)
		stillThere func(t *testing.T, tb *testbed) bool
	}{
		{
			name: "windows-local-machine", store: StoreSystem,
			setup: func(t *testing.T, tb *testbed) {
				tb.env.GOOS = "windows"
				tb.env.WindowsRoot = &fakeCertStore{machine: [][]byte{tb.cert.Raw}}
			},
			stillThere: func(t *testing.T, tb *testbed) bool {
				s := tb.env.WindowsRoot.(*fakeCertStore)
				return len(s.machine) == 1 && len(s.certs) == 0 && !strings.Contains(strings.Join(s.log, "\n"), "add ")
			},
		},
		{
			name: "windows-user-store", store: StoreSystem,
			setup: func(t *testing.T, tb *testbed) {
				tb.env.GOOS = "windows"
				tb.env.WindowsRoot = &fakeCertStore{certs: [][]byte{tb.cert.Raw}}
			},
			stillThere: func(t *testing.T, tb *testbed) bool {
				return len(tb.env.WindowsRoot.(*fakeCertStore).certs) == 1
			},
		},
		{
			name: "linux-mkcert-anchor", store: StoreSystem,
			setup: func(t *testing.T, tb *testbed) {
				setupDistro(tb, "ID=debian\n", distroByName(t, "Debian/Ubuntu"))
				tb.write(filepath.Join(tb.root, "usr/local/share/ca-certificates/mkcert_development_CA_1.crt"), string(certPEM(tb.cert)))
				tb.runner.refresh()
			},
			stillThere: func(t *testing.T, tb *testbed) bool {
				ok, err := newLinuxStore(tb.env).bundleHas(tb.cert.Raw)
				return err == nil && ok && exists(filepath.Join(tb.root, "usr/local/share/ca-certificates/mkcert_development_CA_1.crt"))
			},
		},
		{
			name: "java-other-alias", store: StoreJava,
			setup: func(t *testing.T, tb *testbed) {
				jdk := filepath.Join(tb.base, "jdk")
				cacerts := setupJDK(tb, jdk, true)
				tb.vars["JAVA_HOME"] = jdk
				db, _ := readJSONDB(cacerts)
				db["mkcert development ca 1"] = string(certPEM(tb.cert))
				writeJSONDB(cacerts, db)
			},
			stillThere: func(t *testing.T, tb *testbed) bool {
				db, _ := readJSONDB(filepath.Join(tb.base, "jdk", "lib", "security", "cacerts"))
				return db["mkcert development ca 1"] != "" && len(db) == 2
			},
		},
		{
			name: "nss-devca-nickname-without-record", store: StoreNSS,
			setup: func(t *testing.T, tb *testbed) {
				tb.setTools("certutil")
				data, _ := json.Marshal(map[string]string{(&Root{Cert: tb.cert}).ID(): string(certPEM(tb.cert))})
				tb.write(filepath.Join(tb.home, ".pki", "nssdb", "cert9.db"), string(data))
			},
			stillThere: func(t *testing.T, tb *testbed) bool {
				db, _ := readJSONDB(filepath.Join(tb.home, ".pki", "nssdb", "cert9.db"))
				return len(db) == 1
			},
		},
		{
			name: "macos-system-keychain", store: StoreSystem,
			setup: func(t *testing.T, tb *testbed) {
				tb.env.GOOS = "darwin"
				tb.setTools("security")
				tb.runner.keychain[sha1Thumbprint(tb.cert.Raw)] = tb.cert.Raw
				tb.runner.trusted[sha1Thumbprint(tb.cert.Raw)] = true
			},
			stillThere: func(t *testing.T, tb *testbed) bool {
				return tb.runner.keychain[sha1Thumbprint(tb.cert.Raw)] != nil && tb.runner.trusted[sha1Thumbprint(tb.cert.Raw)]
			},
		},
	} {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			tb := newTestbed(t, "linux")
			tc.setup(t, tb)
			ctx := context.Background()
			stores := []string{tc.store}
			res, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
			if err != nil || len(res) != 1 || !res[0].Trusted || res[0].Changed {
				t.Fatalf("install: %+v %v, want trusted and unchanged", res, err)
			}
			if rec, err := Recorded(tb.cahome); err != nil || len(rec) != 0 {
				t.Fatalf("record after install: %+v %v, want empty", rec, err)
			}
			res, err = UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores)
			if !errors.Is(err, ErrNotRecorded) {
				t.Errorf("uninstall: %v, want ErrNotRecorded", err)
			}
			if len(res) != 1 || res[0].Changed {
				t.Errorf("uninstall changed the store: %+v", res)
			}
			if !tc.stillThere(t, tb) {
				t.Errorf("the root that was there before devca is gone")
			}
		})
	}
}

// TestInstallRecordsOnlyWhatItAdded checks the record rule in InstallAll
// itself, with a store that reports one location it changed and one it
// found trusted: only the first is recorded.
func TestInstallRecordsOnlyWhatItAdded(t *testing.T) {
	tb := newTestbed(t, "linux")
	setupDistro(tb, "ID=debian\n", distroByName(t, "Debian/Ubuntu"))
	tb.setTools("certutil")
	tb.write(filepath.Join(tb.home, ".pki", "nssdb", "cert9.db"), "{}")
	// A Firefox profile that trusts the root under devca's nickname
	// already, for example from a CA home whose record was deleted.
	profile := filepath.Join(tb.home, ".mozilla", "firefox", "abc.default")
	data, _ := json.Marshal(map[string]string{(&Root{Cert: tb.cert}).ID(): string(certPEM(tb.cert))})
	tb.write(filepath.Join(profile, "cert9.db"), string(data))
	res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreNSS})
	if err != nil || !res[0].Changed {
		t.Fatalf("install: %+v %v", res, err)
	}
	rec, err := Recorded(tb.cahome)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != 1 || !strings.HasSuffix(rec[0].Location, filepath.Join(".pki", "nssdb")) {
		t.Errorf("recorded %+v, want only ~/.pki/nssdb", rec)
	}
	if _, err := os.Stat(filepath.Join(profile, "cert9.db")); err != nil {
		t.Fatal(err)
	}
}
