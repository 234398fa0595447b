package trust

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setupFirefox creates Firefox profile folders with fake NSS databases in
// every place devca looks.
func setupFirefox(tb *testbed) {
	tb.t.Helper()
	home := tb.home
	empty := "{}"
	// Classic ~/.mozilla/firefox with a relative, an absolute and a legacy
	// cert8.db profile, and a stale profiles.ini entry.
	ff := filepath.Join(home, ".mozilla", "firefox")
	abs := filepath.Join(home, "elsewhere", "work.profile")
	tb.write(filepath.Join(ff, "profiles.ini"), "[General]\nStartWithLastProfile=1\n\n[Profile0]\nName=default\nIsRelative=1\nPath=abc.default-release\n\n"+
		"[Profile1]\nName=work\nIsRelative=0\nPath="+abs+"\n\n[Profile2]\nName=gone\nIsRelative=1\nPath=gone.profile\n\n[Profile3]\nName=old\nIsRelative=1\nPath=old.legacy\n")
	tb.write(filepath.Join(ff, "abc.default-release", "cert9.db"), empty)
	tb.write(filepath.Join(abs, "cert9.db"), empty)
	tb.write(filepath.Join(ff, "old.legacy", "cert8.db"), empty)
	// A profile folder without a profiles.ini entry.
	tb.write(filepath.Join(ff, "xyz.unlisted", "cert9.db"), empty)
	// Newer Firefox under $XDG_CONFIG_HOME, snap and flatpak.
	tb.vars["XDG_CONFIG_HOME"] = filepath.Join(home, "xdgconfig")
	tb.write(filepath.Join(home, "xdgconfig", "mozilla", "firefox", "profiles.ini"), "[Profile0]\nPath=new.default\n")
	tb.write(filepath.Join(home, "xdgconfig", "mozilla", "firefox", "new.default", "cert9.db"), empty)
	tb.write(filepath.Join(home, "snap", "firefox", "common", ".mozilla", "firefox", "snap.default", "cert9.db"), empty)
	tb.write(filepath.Join(home, ".var", "app", "org.mozilla.firefox", ".mozilla", "firefox", "flat.default", "cert9.db"), empty)
	// Chromium's XDG database and snap Chromium.
	tb.write(filepath.Join(home, ".local", "share", "pki", "nssdb", "cert9.db"), empty)
	tb.write(filepath.Join(home, "snap", "chromium", "current", ".pki", "nssdb", "cert9.db"), empty)
	tb.write(filepath.Join(home, ".var", "app", "org.chromium.Chromium", ".pki", "nssdb", "cert9.db"), empty)
}

func TestNSSStore(t *testing.T) {
	t.Run("ok/every-database", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		setupFirefox(tb)
		tb.setTools("certutil")
		ctx := context.Background()
		stores := []string{StoreNSS}
		var out strings.Builder
		res, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
		out.WriteString(tb.report("install", res, err))
		if err != nil || !res[0].Trusted {
			t.Fatalf("install: %v", err)
		}
		// ~/.pki/nssdb did not exist: Chromium reads it once created.
		if _, err := os.Stat(filepath.Join(tb.home, ".pki", "nssdb", "cert9.db")); err != nil {
			t.Errorf("~/.pki/nssdb not created: %v", err)
		}
		if fi, err := os.Stat(filepath.Join(tb.home, ".pki", "nssdb")); err == nil && fi.Mode().Perm() != 0o700 {
			t.Errorf("~/.pki/nssdb mode %v, want 0700", fi.Mode().Perm())
		}
		res, err = InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
		out.WriteString(tb.report("install again", res, err))
		if err != nil || res[0].Changed {
			t.Errorf("second install changed=%v err=%v", res[0].Changed, err)
		}
		res, err = UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores)
		out.WriteString(tb.report("uninstall", res, err))
		if err != nil || !res[0].Changed || res[0].Trusted {
			t.Errorf("uninstall: %+v %v", res[0], err)
		}
		checkGolden(t, "nss_every_database", out.String())
	})

	t.Run("ok/macos-firefox-only", func(t *testing.T) {
		tb := newTestbed(t, "darwin")
		tb.setTools("certutil", "security")
		tb.write(filepath.Join(tb.home, "Library", "Application Support", "Firefox", "Profiles", "p.default", "cert9.db"), "{}")
		tb.write(filepath.Join(tb.home, "Library", "Application Support", "Firefox", "profiles.ini"), "[Profile0]\nPath=Profiles/p.default\nIsRelative=1\n")
		res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreNSS})
		checkGolden(t, "nss_macos", tb.report("install", res, err))
		if err != nil {
			t.Fatal(err)
		}
	})

	for _, tc := range []struct{ name, osRelease, hint string }{
		{"debian", "ID=debian\n", "apt install libnss3-tools"},
		{"fedora", "ID=fedora\n", "dnf install nss-tools"},
		{"arch", "ID=arch\n", "pacman -S nss"},
		{"opensuse", "ID=opensuse-leap\nID_LIKE=\"suse opensuse\"\n", "zypper install mozilla-nss-tools"},
		{"alpine", "ID=alpine\n", "apk add nss-tools"},
	} {
		t.Run("fail/certutil-missing-"+tc.name, func(t *testing.T) {
			tb := newTestbed(t, "linux")
			for _, d := range distros {
				os.MkdirAll(filepath.Join(tb.root, d.anchors), 0o755)
			}
			tb.write(filepath.Join(tb.root, "etc", "os-release"), tc.osRelease)
			setupFirefox(tb)
			res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreNSS})
			var tm *ToolMissingError
			if !errors.As(err, &tm) || tm.Tool != "certutil" || !strings.Contains(tm.Hint, tc.hint) {
				t.Fatalf("got %v (%+v), want certutil missing with hint %q", err, tm, tc.hint)
			}
			if res[0].Trusted || !res[0].Present {
				t.Errorf("result %+v, want present and not trusted", res[0])
			}
			if len(tb.runner.log) != 0 {
				t.Errorf("commands ran: %q", tb.runner.log)
			}
			st, err := StatusAll(context.Background(), tb.env, tb.cert, []string{StoreNSS})
			if !errors.As(err, &tm) || st[0].Trusted {
				t.Errorf("status: %+v %v, want not trusted and certutil missing", st[0], err)
			}
		})
	}

	t.Run("ok/not-present-without-browsers", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		if newNSSStore(tb.env).Present(context.Background()) {
			t.Errorf("NSS present on a machine without databases or browsers")
		}
		tb.setTools("chromium")
		if !newNSSStore(tb.env).Present(context.Background()) {
			t.Errorf("NSS not present with chromium installed")
		}
	})

	t.Run("fail/one-database-fails", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		tb.setTools("certutil")
		good := filepath.Join(tb.home, ".pki", "nssdb")
		bad := filepath.Join(tb.home, ".mozilla", "firefox", "bad.default")
		tb.write(filepath.Join(good, "cert9.db"), "{}")
		// The fake reads a database that is not JSON as a corrupt one.
		tb.write(filepath.Join(bad, "cert9.db"), "corrupt")
		res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreNSS})
		if err == nil || res[0].Trusted {
			t.Fatalf("install succeeded, want a failure")
		}
		var ce *CmdError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "SEC_ERROR_BAD_DATABASE") {
			t.Errorf("error %v is not a *CmdError with certutil's output", err)
		}
		checkGolden(t, "nss_one_database_fails", tb.report("install", res, err))
	})
}
