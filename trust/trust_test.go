package trust

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestParseStores(t *testing.T) {
	for i, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"system", []string{"system"}, false},
		{" NSS, java ,nss", []string{"nss", "java"}, false},
		{"system,firefox", nil, true},
	} {
		got, err := ParseStores(tc.in)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Test %d: ParseStores(%q) = %q, %v", i, tc.in, got, err)
		}
	}
}

// TestKnownStoresIsACopy: an importer that changes the list it got must not
// change which store names the package accepts.
func TestKnownStoresIsACopy(t *testing.T) {
	got := KnownStores()
	want := []string{StoreSystem, StoreNSS, StoreJava, StoreWindows}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("KnownStores() = %q, want %q", got, want)
	}
	got[0] = "firefox"
	if _, err := ParseStores("firefox"); err == nil {
		t.Error("ParseStores accepted a name written into KnownStores' result")
	}
	if _, err := ParseStores(StoreSystem); err != nil {
		t.Errorf("ParseStores(%q) after the change: %v", StoreSystem, err)
	}
	if again := KnownStores(); !reflect.DeepEqual(again, want) {
		t.Errorf("KnownStores() after the change = %q, want %q", again, want)
	}
}

// TestRecordedIsFor: Recorded's installations say which root they are of,
// so status can mark the places devca put this root without knowing the
// record's fingerprint format.
func TestRecordedIsFor(t *testing.T) {
	tb := linuxTestbed(t)
	if _, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, nil); err != nil {
		t.Fatal(err)
	}
	got, err := Recorded(tb.cahome)
	if err != nil || len(got) == 0 {
		t.Fatalf("Recorded = %v, %v; want installations", got, err)
	}
	other := newTestCert(t, "devca root other")
	for _, in := range got {
		if !in.IsFor(tb.cert) {
			t.Errorf("%s %s: IsFor(the installed root) = false", in.Store, in.Location)
		}
		if in.IsFor(other) {
			t.Errorf("%s %s: IsFor(another root) = true", in.Store, in.Location)
		}
	}
}

// linuxTestbed is a Debian machine with every store: system, NSS and Java.
func linuxTestbed(t *testing.T) *testbed {
	tb := newTestbed(t, "linux")
	setupDistro(tb, "ID=debian\n", distroByName(t, "Debian/Ubuntu"))
	tb.setTools("certutil")
	tb.write(filepath.Join(tb.home, ".pki", "nssdb", "cert9.db"), "{}")
	jdk := filepath.Join(tb.base, "jdk")
	setupJDK(tb, jdk, true)
	tb.vars["JAVA_HOME"] = jdk
	return tb
}

func TestInstallAllStoresFailIndependently(t *testing.T) {
	tb := linuxTestbed(t)
	tb.runner.noSudo = true
	res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, nil)
	checkGolden(t, "all_no_sudo", tb.report("install", res, err))
	var pe *PrivilegeError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *PrivilegeError", err)
	}
	if len(res) != 3 || res[0].Trusted || !res[1].Trusted || !res[2].Trusted {
		t.Errorf("results %+v, want system failed and NSS and Java trusted", res)
	}
}

func TestUninstallUsesTheRecord(t *testing.T) {
	t.Run("ok/after-the-CA-home-got-a-new-root", func(t *testing.T) {
		tb := linuxTestbed(t)
		ctx := context.Background()
		if _, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, nil); err != nil {
			t.Fatal(err)
		}
		old := tb.cert
		// A new CA replaces the old one in the home; uninstall still
		// removes the old root, from every store, and nothing else.
		tb.cert = newTestCert(t, "devca root new")
		tb.write(tb.rootFile, string(certPEM(tb.cert)))
		res, err := UninstallAll(ctx, tb.env, tb.cert, tb.cahome, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if !r.Changed {
				t.Errorf("%s unchanged, want the old root removed", r.Store)
			}
		}
		st, err := StatusAll(ctx, tb.env, old, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range st {
			if r.Present && r.Trusted {
				t.Errorf("%s still trusts the old root", r.Store)
			}
		}
		rec, _ := loadRecord(tb.cahome)
		if len(rec.Entries) != 0 {
			t.Errorf("record still has %d entries", len(rec.Entries))
		}
	})

	t.Run("fail/not-recorded", func(t *testing.T) {
		tb := linuxTestbed(t)
		ctx := context.Background()
		if _, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreNSS}); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(tb.cahome, InstallRecordFile))
		tb.runner.log = nil
		res, err := UninstallAll(ctx, tb.env, tb.cert, tb.cahome, []string{StoreNSS})
		if !errors.Is(err, ErrNotRecorded) {
			t.Fatalf("got %v, want ErrNotRecorded", err)
		}
		if res[0].Changed {
			t.Errorf("uninstall changed a store without a record")
		}
		for _, l := range tb.runner.log {
			if strings.Contains(l, " -D ") {
				t.Errorf("deleted without a record: %s", l)
			}
		}
	})

	t.Run("fail/nickname-now-holds-another-certificate", func(t *testing.T) {
		tb := linuxTestbed(t)
		ctx := context.Background()
		if _, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreNSS}); err != nil {
			t.Fatal(err)
		}
		db := filepath.Join(tb.home, ".pki", "nssdb", "cert9.db")
		m, _ := readJSONDB(db)
		m[(&Root{Cert: tb.cert}).ID()] = string(certPEM(newTestCert(t, "Impostor")))
		writeJSONDB(db, m)
		_, err := UninstallAll(ctx, tb.env, nil, tb.cahome, []string{StoreNSS})
		if err == nil || !strings.Contains(err.Error(), "another certificate") {
			t.Fatalf("got %v, want a refusal", err)
		}
		m, _ = readJSONDB(db)
		if len(m) != 1 {
			t.Errorf("the other certificate was deleted")
		}
		rec, _ := loadRecord(tb.cahome)
		if len(rec.Entries) != 1 {
			t.Errorf("the refused entry left the record")
		}
	})
}

func TestRecordFile(t *testing.T) {
	tb := linuxTestbed(t)
	if _, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(tb.cahome, InstallRecordFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, want 0600", fi.Mode().Perm())
	}
	matches, _ := filepath.Glob(filepath.Join(tb.cahome, ".*tmp*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %q", matches)
	}
	tb.write(filepath.Join(tb.cahome, InstallRecordFile), "{broken")
	if _, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, nil); err == nil || !strings.Contains(err.Error(), "install record") {
		t.Errorf("a broken record gave %v, want an error naming it", err)
	}
}

func TestNewRootWritesACopyWhenTheFileDiffers(t *testing.T) {
	tb := newTestbed(t, "linux")
	r, err := NewRoot(tb.cert, tb.rootFile, tb.cahome)
	if err != nil || r.File != tb.rootFile {
		t.Fatalf("NewRoot = %v, %v; want the given file", r, err)
	}
	other := newTestCert(t, "other")
	r, err = NewRoot(other, tb.rootFile, tb.cahome)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(r.File)
	if r.File == tb.rootFile || !containsCert(data, other) {
		t.Errorf("NewRoot used %q for another certificate", r.File)
	}
}

func TestWriteBundle(t *testing.T) {
	tb := newTestbed(t, "linux")
	bundle := setupDistro(tb, "ID=debian\n", distroByName(t, "Debian/Ubuntu"))
	sys, _ := os.ReadFile(bundle)
	// The system bundle already holds the root after an install; the
	// written bundle must hold it once.
	tb.write(bundle, string(sys)+"# comment\n"+string(certPEM(tb.cert)))
	out := filepath.Join(tb.cahome, BundleFile)
	changed, err := WriteBundle(context.Background(), tb.env, tb.cert, out)
	if err != nil || !changed {
		t.Fatalf("WriteBundle = %v, %v", changed, err)
	}
	data, _ := os.ReadFile(out)
	if !containsCert(data, tb.cert) || strings.Count(string(data), "BEGIN CERTIFICATE") != 2 || strings.Contains(string(data), "comment") {
		t.Errorf("bundle:\n%s", data)
	}
	if changed, err := WriteBundle(context.Background(), tb.env, tb.cert, out); err != nil || changed {
		t.Errorf("second WriteBundle = %v, %v; want unchanged", changed, err)
	}
	tb.env.GOOS = "plan9"
	if _, err := WriteBundle(context.Background(), tb.env, tb.cert, out); !errors.Is(err, ErrUnsupported) {
		t.Errorf("got %v, want ErrUnsupported", err)
	}
}

func TestStoresUnsupported(t *testing.T) {
	_, err := Stores(Env{GOOS: "freebsd"})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("got %v, want ErrUnsupported", err)
	}
}

func TestUninstallRootKeepsOtherRoots(t *testing.T) {
	tb := linuxTestbed(t)
	ctx := context.Background()
	old := tb.cert
	if _, err := InstallAll(ctx, tb.env, old, tb.rootFile, tb.cahome, nil); err != nil {
		t.Fatal(err)
	}
	// The CA is replaced: the new root goes in, the old one comes out.
	tb.cert = newTestCert(t, "devca root new")
	tb.write(tb.rootFile, string(certPEM(tb.cert)))
	if _, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, nil); err != nil {
		t.Fatal(err)
	}
	res, err := UninstallRoot(ctx, tb.env, old, tb.cahome, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Changed || r.Trusted {
			t.Errorf("%s: changed=%v trusted=%v, want the old root removed", r.Store, r.Changed, r.Trusted)
		}
	}
	st, err := StatusAll(ctx, tb.env, tb.cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st {
		if r.Present && !r.Trusted {
			t.Errorf("%s no longer trusts the new root", r.Store)
		}
	}
	rec, _ := loadRecord(tb.cahome)
	for _, e := range rec.Entries {
		if e.SHA256 != sha256Hex(tb.cert.Raw) {
			t.Errorf("record keeps an old entry: %+v", e.Location)
		}
	}
}

// TestConcurrentInstallsKeepEveryEntry runs installs of two roots at once
// into the same CA home; the record must end up with both.
func TestConcurrentInstallsKeepEveryEntry(t *testing.T) {
	tb := linuxTestbed(t)
	tb.runner.mu = new(sync.Mutex)
	other := newTestCert(t, "devca root other")
	otherFile := filepath.Join(tb.base, "other.pem")
	tb.write(otherFile, string(certPEM(other)))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []struct {
		cert *x509.Certificate
		file string
	}{{tb.cert, tb.rootFile}, {other, otherFile}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = InstallAll(context.Background(), tb.env, c.cert, c.file, tb.cahome, []string{StoreNSS})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	rec, err := loadRecord(tb.cahome)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Entries) != 2 {
		t.Errorf("record has %d entries, want 2", len(rec.Entries))
	}
}
