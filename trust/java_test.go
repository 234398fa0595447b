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

// setupJDK creates a fake JDK at dir with a cacerts keystore holding one
// unrelated root, unless cacerts is false.
func setupJDK(tb *testbed, dir string, cacerts bool) string {
	tb.t.Helper()
	tb.write(filepath.Join(dir, "bin", "java"), "#!/bin/false\n")
	tb.write(filepath.Join(dir, "bin", "keytool"), "#!/bin/false\n")
	path := filepath.Join(dir, "lib", "security", "cacerts")
	if cacerts {
		data, _ := json.Marshal(map[string]string{"debian:some_public_root.pem": string(certPEM(newTestCert(tb.t, "Some Public Root")))})
		tb.write(path, string(data))
	}
	return path
}

func TestJavaStore(t *testing.T) {
	t.Run("ok/java-home-and-path", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		// JAVA_HOME names one JDK; the java on PATH is a link into another
		// whose cacerts is itself a link to a shared file, as on Debian.
		jdk17 := filepath.Join(tb.base, "jdk17")
		setupJDK(tb, jdk17, true)
		tb.vars["JAVA_HOME"] = jdk17
		jdk21 := filepath.Join(tb.base, "jdk21")
		setupJDK(tb, jdk21, false)
		shared := filepath.Join(tb.root, "etc", "ssl", "certs", "java", "cacerts")
		data, _ := json.Marshal(map[string]string{})
		tb.write(shared, string(data))
		os.MkdirAll(filepath.Join(jdk21, "lib", "security"), 0o755)
		if err := os.Symlink(shared, filepath.Join(jdk21, "lib", "security", "cacerts")); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(tb.base, "usr", "bin"), 0o755)
		if err := os.Symlink(filepath.Join(jdk21, "bin", "java"), filepath.Join(tb.base, "usr", "bin", "java")); err != nil {
			t.Fatal(err)
		}
		tb.toolPaths["java"] = filepath.Join(tb.base, "usr", "bin", "java")
		// The shared file belongs to root.
		tb.unwritable[shared] = true

		ctx := context.Background()
		var out strings.Builder
		res, err := InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreJava})
		out.WriteString(tb.report("install", res, err))
		if err != nil || !res[0].Trusted {
			t.Fatalf("install: %v", err)
		}
		res, err = InstallAll(ctx, tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreJava})
		out.WriteString(tb.report("install again", res, err))
		if err != nil || res[0].Changed {
			t.Errorf("second install: changed=%v %v", res[0].Changed, err)
		}
		res, err = UninstallAll(ctx, tb.env, tb.cert, tb.cahome, []string{StoreJava})
		out.WriteString(tb.report("uninstall", res, err))
		if err != nil || !res[0].Changed || res[0].Trusted {
			t.Errorf("uninstall: %+v %v", res[0], err)
		}
		checkGolden(t, "java_home_and_path", out.String())
	})

	t.Run("ok/missing-cacerts-is-reported", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		broken := filepath.Join(tb.base, "broken-jdk")
		setupJDK(tb, broken, false)
		tb.vars["JAVA_HOME"] = broken
		good := filepath.Join(tb.base, "jdk")
		setupJDK(tb, good, true)
		tb.toolPaths["java"] = filepath.Join(good, "bin", "java")
		res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreJava})
		checkGolden(t, "java_missing_cacerts", tb.report("install", res, err))
		if err != nil || !res[0].Trusted {
			t.Fatalf("a missing cacerts must not fail the store: %v", err)
		}
		if len(res[0].Locations) != 2 || !res[0].Locations[0].Missing {
			t.Errorf("locations %+v, want the missing cacerts reported first", res[0].Locations)
		}
	})

	t.Run("ok/no-java", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		if newJavaStore(tb.env).Present(context.Background()) {
			t.Errorf("Java present without a JDK")
		}
	})

	t.Run("fail/keytool-missing", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		jdk := filepath.Join(tb.base, "jre")
		setupJDK(tb, jdk, true)
		os.Remove(filepath.Join(jdk, "bin", "keytool"))
		tb.vars["JAVA_HOME"] = jdk
		_, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreJava})
		var tm *ToolMissingError
		if !errors.As(err, &tm) || tm.Tool != "keytool" {
			t.Fatalf("got %v, want keytool missing", err)
		}
	})

	t.Run("fail/wrong-password", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		jdk := filepath.Join(tb.base, "jdk")
		setupJDK(tb, jdk, true)
		tb.vars["JAVA_HOME"] = jdk
		tb.vars["DEVCA_JAVA_STOREPASS"] = "secret"
		res, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreJava})
		var ce *CmdError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "password was incorrect") {
			t.Fatalf("got %v, want keytool's password error", err)
		}
		checkGolden(t, "java_wrong_password", tb.report("install", res, err))
	})

	t.Run("fail/alias-taken", func(t *testing.T) {
		tb := newTestbed(t, "linux")
		jdk := filepath.Join(tb.base, "jdk")
		path := setupJDK(tb, jdk, false)
		data, _ := json.Marshal(map[string]string{(&Root{Cert: tb.cert}).ID(): string(certPEM(newTestCert(t, "Impostor")))})
		tb.write(path, string(data))
		tb.vars["JAVA_HOME"] = jdk
		_, err := InstallAll(context.Background(), tb.env, tb.cert, tb.rootFile, tb.cahome, []string{StoreJava})
		if err == nil || !strings.Contains(err.Error(), "another certificate") {
			t.Fatalf("got %v, want a refusal", err)
		}
	})
}

// FuzzParseKeytoolList checks that no keytool output makes the parser panic
// or loop, and that every certificate it returns has an alias.
func FuzzParseKeytoolList(f *testing.F) {
	pemText := string(certPEM(newTestCert(f, "Seed Root")))
	f.Add([]byte("Keystore type: JKS\n\nAlias name: a\nEntry type: trustedCertEntry\n\n" + pemText + "\n*****\n"))
	f.Add([]byte("Alias name: b\n-----BEGIN CERTIFICATE-----\nnot base64\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n" + pemText))
	f.Add([]byte("Alias name: \n\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		for alias := range parseKeytoolList(out) {
			if alias == "" {
				t.Errorf("empty alias from %q", out)
			}
		}
	})
}
