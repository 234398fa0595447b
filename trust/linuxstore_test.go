package trust

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// setupDistro makes tb a Linux machine of the given family: os-release, the
// anchors folder and a bundle holding one unrelated root. The fake refresh
// command rebuilds the bundle from the anchors, as the real ones do.
func setupDistro(tb *testbed, osRelease string, d distro) (bundle string) {
	tb.t.Helper()
	if osRelease != "" {
		tb.write(filepath.Join(tb.root, "etc", "os-release"), osRelease)
	}
	anchors := filepath.Join(tb.root, d.anchors)
	if err := os.MkdirAll(anchors, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	other := string(certPEM(newTestCert(tb.t, "Some Public Root")))
	bundle = filepath.Join(tb.root, d.bundle)
	tb.write(bundle, other)
	tb.runner.refresh = func() {
		names, _ := os.ReadDir(anchors)
		var files []string
		for _, n := range names {
			files = append(files, n.Name())
		}
		sort.Strings(files)
		data := other
		for _, n := range files {
			b, _ := os.ReadFile(filepath.Join(anchors, n))
			data += string(b)
		}
		tb.write(bundle, data)
		if d.debianHooks {
			debianRefresh(tb, files, anchors)
		}
	}
	tb.setTools(d.refresh[0], "install", "rm")
	return bundle
}

func distroByName(t *testing.T, name string) distro {
	for _, d := range distros {
		if d.name == name {
			return d
		}
	}
	t.Fatalf("no distro %q", name)
	return distro{}
}

func TestLinuxSystemStore(t *testing.T) {
	for _, tc := range []struct {
		name, osRelease, distro string
	}{
		{"debian", "ID=debian\nVERSION_ID=\"12\"\n", "Debian/Ubuntu"},
		{"ubuntu", "ID=ubuntu\nID_LIKE=debian\n", "Debian/Ubuntu"},
		{"alpine", "ID=alpine\n", "Alpine"},
		{"fedora", "ID=fedora\n", "Fedora/RHEL"},
		{"rocky", "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", "Fedora/RHEL"},
		{"arch", "ID=arch\n", "Arch"},
		{"opensuse", "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n", "openSUSE"},
		{"probed-without-os-release", "", "Fedora/RHEL"},
	} {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			tb := newTestbed(t, "linux")
			d := distroByName(t, tc.distro)
			bundle := setupDistro(tb, tc.osRelease, d)
			before, _ := os.ReadFile(bundle)
			ctx := context.Background()
			stores := []string{StoreSystem}
			var out strings.Builder

			res, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
			out.WriteString(tb.report("install", res, err))
			if err != nil || !res[0].Trusted || !res[0].Changed {
				t.Errorf("install: trusted=%v changed=%v err=%v", res[0].Trusted, res[0].Changed, err)
			}
			res, err = InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, stores)
			out.WriteString(tb.report("install again", res, err))
			if err != nil || !res[0].Trusted || res[0].Changed {
				t.Errorf("second install: trusted=%v changed=%v err=%v", res[0].Trusted, res[0].Changed, err)
			}
			res, err = StatusAll(ctx, tb.env, tb.cert, stores)
			out.WriteString(tb.report("status", res, err))
			res, err = UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores)
			out.WriteString(tb.report("uninstall", res, err))
			if err != nil || !res[0].Changed {
				t.Errorf("uninstall: changed=%v err=%v", res[0].Changed, err)
			}
			res, err = UninstallAll(ctx, tb.env, tb.cert, tb.cahome, stores)
			out.WriteString(tb.report("uninstall again", res, err))
			if err != nil || res[0].Changed {
				t.Errorf("second uninstall: changed=%v err=%v", res[0].Changed, err)
			}
			after, _ := os.ReadFile(bundle)
			if string(before) != string(after) {
				t.Errorf("bundle after uninstall differs from before install")
			}
			checkGolden(t, "system_"+tc.name, out.String())
		})
	}

	t.Run("fail/no-distro", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreSystem})
		var np *NotPresentError
		if !errors.As(err, &np) || res[0].Trusted {
			t.Errorf("got %v, want a *NotPresentError", err)
		}
	})

	t.Run("fail/refresh-tool-missing", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		setupDistro(tb, "ID=arch\n", distroByName(t, "Arch"))
		delete(tb.tools, "trust")
		_, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreSystem})
		var tm *ToolMissingError
		if !errors.As(err, &tm) || tm.Tool != "trust" || tm.Hint != "install it with 'pacman -S p11-kit'" {
			t.Fatalf("got %v (%+v), want trust missing with the p11-kit hint", err, tm)
		}
		if len(tb.runner.log) != 0 {
			t.Errorf("commands ran: %q", tb.runner.log)
		}
	})

	t.Run("fail/refresh-fails", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		setupDistro(tb, "ID=debian\n", distroByName(t, "Debian/Ubuntu"))
		tb.runner.fail["update-ca-certificates"] = failure{code: 1, out: "E: /etc/ssl/certs is read-only"}
		ctx := context.Background()
		var out strings.Builder
		res, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreSystem})
		out.WriteString(tb.report("install", res, err))
		var ce *CmdError
		if !errors.As(err, &ce) || !strings.Contains(ce.Output, "read-only") {
			t.Fatalf("got %v, want a *CmdError with the output", err)
		}
		// The anchor file went in, so it is recorded and a fixed run only
		// rebuilds the store.
		delete(tb.runner.fail, "update-ca-certificates")
		res, err = InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreSystem})
		out.WriteString(tb.report("install after fixing", res, err))
		if err != nil || !res[0].Trusted {
			t.Errorf("install after fixing: %v", err)
		}
		checkGolden(t, "system_refresh_fails", out.String())
	})

	t.Run("fail/no-sudo", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		setupDistro(tb, "ID=debian\n", distroByName(t, "Debian/Ubuntu"))
		tb.runner.noSudo = true
		res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreSystem})
		var pe *PrivilegeError
		if !errors.As(err, &pe) || len(pe.Commands) != 2 {
			t.Fatalf("got %v, want a *PrivilegeError with both commands", err)
		}
		checkGolden(t, "system_no_sudo", tb.report("install", res, err)+strings.Join(tb.normalizeAll(pe.Commands), "\n")+"\n")
	})

	t.Run("fail/replaced-file", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		setupDistro(tb, "ID=debian\n", distroByName(t, "Debian/Ubuntu"))
		ctx := context.Background()
		if _, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, nil); err != nil {
			t.Fatal(err)
		}
		// Someone replaced devca's file with another certificate: uninstall
		// must not delete it.
		anchor := filepath.Join(tb.root, "usr/local/share/ca-certificates", (&Root{Cert: tb.cert}).FileName())
		tb.write(anchor, string(certPEM(newTestCert(t, "Not devca"))))
		tb.runner.log = nil
		_, err := UninstallAll(ctx, tb.env, nil, tb.cahome, []string{StoreSystem})
		if err == nil || !strings.Contains(err.Error(), "another certificate") {
			t.Fatalf("got %v, want a refusal", err)
		}
		if _, serr := os.Stat(anchor); serr != nil {
			t.Errorf("the foreign file was removed: %v", serr)
		}
		if len(tb.runner.log) != 0 {
			t.Errorf("commands ran: %q", tb.runner.log)
		}
	})
}

func (tb *testbed) normalizeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = tb.normalize(s)
	}
	return out
}

// debianRefresh imitates what Debian's update-ca-certificates does beyond
// the bundle: a "<name>.pem" link and a hash link in /etc/ssl/certs for each
// local anchor, and the ca-certificates-java hook copying each new root into
// the system cacerts as "debian:<name>.pem". Like the real one, it never
// removes any of these when an anchor goes away.
func debianRefresh(tb *testbed, files []string, anchors string) {
	certs := filepath.Join(tb.root, "etc", "ssl", "certs")
	os.MkdirAll(certs, 0o755)
	cacerts := filepath.Join(certs, "java", "cacerts")
	for i, n := range files {
		pemName := strings.TrimSuffix(n, ".crt") + ".pem"
		link := filepath.Join(certs, pemName)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		os.Symlink(filepath.Join(anchors, n), link)
		os.Symlink(pemName, filepath.Join(certs, fmt.Sprintf("%08x.0", 0xabc0+i)))
		if db, ok := readJSONDB(cacerts); ok {
			b, _ := os.ReadFile(filepath.Join(anchors, n))
			db["debian:"+pemName] = string(b)
			writeJSONDB(cacerts, db)
		}
	}
}

func TestDebianLeftovers(t *testing.T) {
	tb := newTestbed(t, "linux")
	setupDistro(tb, "ID=debian\n", distroByName(t, "Debian/Ubuntu"))
	tb.setTools("keytool")
	cacerts := filepath.Join(tb.root, "etc", "ssl", "certs", "java", "cacerts")
	other := string(certPEM(newTestCert(t, "Other")))
	tb.write(cacerts, "{}")
	writeJSONDB(cacerts, map[string]string{"debian:other.pem": other})
	// An unrelated link must survive.
	tb.write(filepath.Join(tb.root, "usr/share/ca-certificates/mozilla/Other.crt"), other)
	os.Symlink(filepath.Join(tb.root, "usr/share/ca-certificates/mozilla/Other.crt"), filepath.Join(tb.root, "etc/ssl/certs/Other.pem"))
	ctx := context.Background()
	var out strings.Builder
	res, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreSystem})
	out.WriteString(tb.report("install", res, err))
	if db, _ := readJSONDB(cacerts); len(db) != 2 {
		t.Fatalf("the fake hook did not copy the root into cacerts")
	}
	res, err = UninstallAll(ctx, tb.env, tb.cert, tb.cahome, []string{StoreSystem})
	out.WriteString(tb.report("uninstall", res, err))
	if err != nil {
		t.Fatal(err)
	}
	if db, _ := readJSONDB(cacerts); len(db) != 1 || db["debian:other.pem"] != other {
		t.Errorf("cacerts after uninstall: %v", db)
	}
	entries, _ := os.ReadDir(filepath.Join(tb.root, "etc", "ssl", "certs"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "Other.pem ca-certificates.crt java" {
		t.Errorf("/etc/ssl/certs after uninstall: %q", names)
	}
	checkGolden(t, "system_debian_leftovers", out.String())
}
