// Package trusttest holds helpers for the end-to-end tests that change this
// machine's real trust stores. Those tests live in several packages, and go
// test runs packages in parallel; [Lock] makes them take turns, so that one
// test's update-ca-certificates or keytool run never races another's.
package trusttest

import (
	"os"
	"testing"

	"github.com/gofrs/flock"
)

// Enabled skips t unless the caller asked for tests that change the real
// system: DEVCA_E2E_SYSTEM=1, which .ci/run sets in a step of its own (they
// take about a minute, and the README's test command stays short).
func Enabled(t testing.TB) {
	t.Helper()
	if os.Getenv("DEVCA_E2E_SYSTEM") != "1" {
		t.Skip("changes the real system trust store; set DEVCA_E2E_SYSTEM=1 to run (.ci/run does, in a step of its own)")
	}
}

// Missing skips t for a missing tool or facility, except under CI=true,
// where .ci/run installs everything and a skip would pass silently.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true", what)
	}
	t.Skipf("%s not available", what)
}

// lockDirs are the folders whose lock serialises the system trust tests:
// the first one that exists. The lock is taken on the system store's own
// anchor folder, which every machine that runs these tests has and which
// is the same for every checkout and every TMPDIR, so the lock is
// machine-wide and no lock file is left behind (a lock file in os.TempDir
// stayed in /tmp after every run, and two runs with different TMPDIRs did
// not see each other's lock). The last entry exists on every Unix.
var lockDirs = []string{
	"/usr/local/share/ca-certificates",          // Debian, Ubuntu
	"/etc/pki/ca-trust/source/anchors",          // Fedora, RHEL
	"/etc/ca-certificates/trust-source/anchors", // Arch
	"/",
}

// Lock takes the machine-wide lock of the system trust tests until t ends.
// The tests live in several packages (trust, cmd/devca), and go test runs
// packages in parallel: the lock makes them take turns.
func Lock(t testing.TB) {
	t.Helper()
	dir := lockDir()
	// A folder opens read-only; flock works on it all the same.
	l := flock.New(dir, flock.SetFlag(os.O_RDONLY))
	if err := l.Lock(); err != nil {
		t.Fatalf("locking the system trust tests on %s: %v", dir, err)
	}
	t.Cleanup(func() { l.Unlock() })
}

// lockDir returns the first of lockDirs that exists.
func lockDir() string {
	for _, d := range lockDirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return "/"
}

// JavaClient is a single-file Java program (run as java Client.java URL)
// that fetches args[0] and prints the body: the JVM decides whom to trust
// from its trust store and system properties, as a Java service would.
const JavaClient = `import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Client {
    public static void main(String[] args) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(java.time.Duration.ofSeconds(10)).build();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(args[0])).build(), HttpResponse.BodyHandlers.ofString());
        System.out.println(r.body());
    }
}
`
