package main

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/devca/devca/ca"
)

// These tests run the devca binary against a real Secret Service: a private
// D-Bus session bus with gnome-keyring-daemon on it, both started here and
// stopped at the end, so the user's own keyring is never touched. Issue #3.

// secretService is a private session bus with an unlocked gnome-keyring.
type secretService struct {
	busAddr string
}

// startSecretService starts dbus-daemon and gnome-keyring-daemon in
// t.TempDir() and returns the bus address. A missing tool skips the test
// locally and fails it under CI=true.
func startSecretService(t *testing.T) *secretService {
	t.Helper()
	dbusDaemon := requireTool(t, "dbus-daemon")
	gkd := requireTool(t, "gnome-keyring-daemon")
	dbusSend := requireTool(t, "dbus-send")

	dir := t.TempDir()
	busSock := filepath.Join(dir, "bus")
	bus := exec.Command(dbusDaemon, "--session", "--nofork", "--print-address=1", "--address=unix:path="+busSock)
	stdout, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// dbus-daemon complains about fd limits it may not raise as a normal
	// user; keep its chatter for failures only.
	var busLog bytes.Buffer
	bus.Stderr = &busLog
	if err := bus.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() { bus.Process.Kill(); bus.Wait() })
	addrCh := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addrCh <- strings.TrimSpace(line)
		io.Copy(io.Discard, stdout)
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon printed no address within 10s\n%s", busLog.String())
	}
	if addr == "" {
		t.Fatalf("dbus-daemon printed an empty address\n%s", busLog.String())
	}

	// gnome-keyring keeps its files under XDG_DATA_HOME and its control
	// socket under XDG_RUNTIME_DIR; both stay inside the test's folder.
	runtimeDir := filepath.Join(dir, "run")
	if err := os.Mkdir(runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	daemonEnv := append(os.Environ(),
		"DBUS_SESSION_BUS_ADDRESS="+addr,
		"HOME="+filepath.Join(dir, "home"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR="+runtimeDir,
	)
	keyring := exec.Command(gkd, "--foreground", "--unlock", "--components=secrets")
	keyring.Env = daemonEnv
	// --unlock reads the login keyring's password from stdin and creates
	// the keyring unlocked. An empty password makes gnome-keyring skip
	// creating it, so the default collection would stay locked; any
	// throwaway password works.
	keyring.Stdin = strings.NewReader("devca-test")
	var keyringLog bytes.Buffer
	keyring.Stdout, keyring.Stderr = &keyringLog, &keyringLog
	if err := keyring.Start(); err != nil {
		t.Fatalf("starting gnome-keyring-daemon: %v", err)
	}
	t.Cleanup(func() { keyring.Process.Kill(); keyring.Wait() })

	// Wait until the daemon owns org.freedesktop.secrets: asking earlier
	// would make the bus activate a second, locked gnome-keyring.
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command(dbusSend, "--bus="+addr, "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
			"org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets").CombinedOutput()
		if err == nil && strings.Contains(string(out), "boolean true") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gnome-keyring-daemon did not register on the bus within 15s\n%s", keyringLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &secretService{busAddr: addr}
}

// devca returns the devca command with the session bus of s.
func (s *secretService) devca(t *testing.T, home, dir string, args ...string) *exec.Cmd {
	cmd := devcaCommand(t, home, dir, args...)
	// An empty DEVCA_KEY_STORAGE leaves the choice to init, whatever the
	// other tests' environment asks for.
	cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS="+s.busAddr, "DEVCA_KEY_STORAGE=")
	return cmd
}

// runOK runs cmd and fails the test unless it exits 0.
func runOK(t *testing.T, cmd *exec.Cmd) (stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, o.String(), e.String())
	}
	return o.String(), e.String()
}

// runFail runs cmd and fails the test unless it exits with code want.
func runFail(t *testing.T, cmd *exec.Cmd, want int) (stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != want {
		t.Fatalf("%s: got %v, want exit status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, want, o.String(), e.String())
	}
	return o.String(), e.String()
}

func TestKeyringStorageEndToEnd(t *testing.T) {
	t.Parallel()
	ss := startSecretService(t)
	home := filepath.Join(t.TempDir(), "cahome")
	work := t.TempDir()

	// With a keyring answering, init chooses keyring storage by itself.
	_, stderr := runOK(t, ss.devca(t, home, work, "init", "--no-trust"))
	if strings.Contains(stderr, "warning") {
		t.Errorf("init warned with a working keyring:\n%s", stderr)
	}
	out, _ := runOK(t, ss.devca(t, home, work, "info"))
	if !strings.Contains(out, "with a secret in the Secret Service keyring (keyring storage)") {
		t.Errorf("info does not say keyring storage:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(home, ca.RootKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists under keyring storage (err %v)", ca.RootKeyFile, err)
	}
	rootBefore := readFile(t, filepath.Join(home, ca.RootCertFile))

	runOK(t, ss.devca(t, home, work, "issue", "localhost", "127.0.0.1"))
	verifyLeaf(t, filepath.Join(work, "localhost+1.pem"), filepath.Join(home, ca.RootCertFile), "localhost")

	// No plaintext key anywhere in the home: get the key through an
	// export outside the home, then look for it inside.
	exported := filepath.Join(work, "ca.p12")
	cmd := ss.devca(t, home, work, "export", "--p12", exported)
	cmd.Env = append(cmd.Env, "DEVCA_CA_P12_PASSWORD=export-pw")
	runOK(t, cmd)
	key := decodeExport(t, exported, "export-pw")
	assertNoPlainKey(t, home, key)

	// The key can be recovered without devca: the keyring entry that
	// 'devca key-storage' names is the password of the PKCS#12 file.
	_, stderr = runOK(t, ss.devca(t, home, work, "key-storage"))
	m := regexp.MustCompile(`service "devca" and account "(root-key:[0-9a-f]{64})"`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("key-storage does not name the keyring entry:\n%s", stderr)
	}
	lookup := exec.Command(requireTool(t, "secret-tool"), "lookup", "service", "devca", "username", m[1])
	lookup.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+ss.busAddr)
	secret, err := lookup.Output()
	if err != nil || len(secret) != 64 {
		t.Fatalf("secret-tool lookup: %v, %d bytes", err, len(secret))
	}
	p12s, _ := filepath.Glob(filepath.Join(home, "rootCA-key.*.p12"))
	if len(p12s) != 1 {
		t.Fatalf("encrypted key files: %v", p12s)
	}
	recoverCmd := exec.Command(requireTool(t, "openssl"), "pkcs12", "-in", p12s[0], "-passin", "stdin", "-nocerts", "-nodes")
	recoverCmd.Stdin = bytes.NewReader(secret)
	recovered, err := recoverCmd.Output()
	if err != nil {
		t.Fatalf("openssl pkcs12 with the keyring's secret: %v", err)
	}
	if block, _ := pem.Decode(recovered); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("openssl recovered no private key:\n%s", recovered)
	} else if der, _ := x509.MarshalPKCS8PrivateKey(key); !bytes.Equal(block.Bytes, der) {
		t.Error("openssl recovered another key")
	}

	// A keyring that stops answering: issue gives up after the timeout,
	// says what to do and writes nothing.
	cmd = devcaCommand(t, home, work, "issue", "stuck.test")
	cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+silentBus(t), "DEVCA_KEYRING_TIMEOUT=1s")
	_, stderr = runFail(t, cmd, exitFailure)
	for _, want := range []string{
		"devca: error: reading root key's secret from the keyring: Secret Service keyring: the keyring did not answer within 1s",
		"devca: hint: the Secret Service keyring is probably locked and waiting for an unlock prompt",
		"devca: hint: once the keyring answers, 'devca key-storage --to passphrase' or '--to file' moves the key out of it",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stuck keyring: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "stuck.test.pem")); err == nil {
		t.Error("a stuck keyring still wrote a certificate")
	}

	// A copy of the home in another folder has no keyring entry of its own.
	copied := filepath.Join(t.TempDir(), "copy")
	copyTree(t, home, copied)
	_, stderr = runFail(t, ss.devca(t, copied, work, "issue", "copy.test"), exitFailure)
	for _, want := range []string{
		"devca: error: reading root key: the keyring has no secret for the CA home",
		"the home was copied or moved from " + quoted(canonical(t, home)),
		"devca: hint: a CA home moved or copied to another folder or machine cannot use its keyring secret",
		"devca init --import",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("copied home: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "copy.test.pem")); err == nil {
		t.Error("copied home wrote a certificate")
	}

	// Moving between storages keeps the root certificate.
	runOK(t, ss.devca(t, home, work, "key-storage", "--to", "file"))
	if _, err := os.Stat(filepath.Join(home, ca.RootKeyFile)); err != nil {
		t.Errorf("file storage: %v", err)
	}
	runOK(t, ss.devca(t, home, work, "key-storage", "--to", "keyring"))
	out, _ = runOK(t, ss.devca(t, home, work, "key-storage"))
	if strings.TrimSpace(out) != "keyring" {
		t.Errorf("key-storage prints %q, want keyring", out)
	}
	assertNoPlainKey(t, home, key)
	assertOnlyOneEncryptedKey(t, home)
	if !bytes.Equal(readFile(t, filepath.Join(home, ca.RootCertFile)), rootBefore) {
		t.Error("moving the key changed rootCA.pem")
	}
	runOK(t, ss.devca(t, home, work, "issue", "--cert-file", "again.pem", "--key-file", "again-key.pem", "again.test"))
	verifyLeaf(t, filepath.Join(work, "again.pem"), filepath.Join(home, ca.RootCertFile), "again.test")

	// The copy made before the move still fails: its secret never existed
	// and moving the original did not create one for it.
	runFail(t, ss.devca(t, copied, work, "issue", "copy.test"), exitFailure)
}

// TestKeyringFallbackWithoutSessionBus shows what happens with no D-Bus
// session at all: init falls back to a plain key file with one warning, and
// an explicit --key-storage keyring fails with hints.
func TestKeyringFallbackWithoutSessionBus(t *testing.T) {
	t.Parallel()
	noBus := "unix:path=" + filepath.Join(t.TempDir(), "no-such-bus")
	for _, tc := range []struct {
		name string
		bus  string
		want string
	}{
		{"unset", "", "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)"},
		{"nothing listening", noBus, "no-such-bus"},
	} {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			if tc.bus == "" {
				if _, err := os.Stat(filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "bus")); err == nil {
					t.Skip("this machine has a systemd user bus, found without DBUS_SESSION_BUS_ADDRESS")
				}
			}
			home := filepath.Join(t.TempDir(), "cahome")
			work := t.TempDir()
			cmd := devcaCommand(t, home, work, "init", "--no-trust")
			// A missing bus must be reported at once, not after the
			// (here very long) timeout.
			cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS="+tc.bus, "DEVCA_KEYRING_TIMEOUT=60s", "DEVCA_KEY_STORAGE=")
			start := time.Now()
			_, stderr := runOK(t, cmd)
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("init took %s without a bus, want no wait for the keyring timeout", d)
			}
			warnings := 0
			for _, line := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(line, "devca: warning: ") {
					warnings++
					if !strings.Contains(line, "no keyring answered") || !strings.Contains(line, tc.want) ||
						!strings.Contains(line, "devca key-storage --to keyring") {
						t.Errorf("warning = %q, want the reason %q and how to move later", line, tc.want)
					}
				}
			}
			if warnings != 1 {
				t.Errorf("got %d warning lines, want 1:\n%s", warnings, stderr)
			}
			if _, err := os.Stat(filepath.Join(home, ca.RootKeyFile)); err != nil {
				t.Errorf("fallback did not write the key file: %v", err)
			}
			out, _ := runOK(t, devcaCommand(t, home, work, "info"))
			if !strings.Contains(out, "stored unencrypted in") {
				t.Errorf("info:\n%s", out)
			}
		})
	}
	t.Run("fail/explicit keyring", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), "cahome")
		cmd := devcaCommand(t, home, t.TempDir(), "init", "--no-trust", "--key-storage", "keyring")
		cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS="+noBus)
		_, stderr := runFail(t, cmd, exitFailure)
		for _, want := range []string{
			"devca: error: creating root CA in",
			"saving the root key's secret in the keyring: Secret Service keyring:",
			"devca: hint: check that a Secret Service",
			"devca: hint: or keep the key elsewhere: --key-storage passphrase, or --key-storage file",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(home, ca.RootCertFile)); err == nil {
			t.Error("a failed init left a root certificate")
		}
	})
}

// silentBus listens on a Unix socket that accepts connections and never
// says a word, as a Secret Service stuck behind an unlock prompt behaves
// from the client's side, and returns its path.
func silentBus(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "silent-bus")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // keep it open, never answer
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	})
	return sock
}

// TestKeyringTimeout points devca at a "bus" that accepts connections and
// never says a word, as a Secret Service stuck behind an unlock prompt
// does: every keyring call gives up after DEVCA_KEYRING_TIMEOUT.
func TestKeyringTimeout(t *testing.T) {
	t.Parallel()
	sock := silentBus(t)
	env := []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + sock, "DEVCA_KEYRING_TIMEOUT=1s"}

	t.Run("ok/init falls back", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), "cahome")
		cmd := devcaCommand(t, home, t.TempDir(), "init", "--no-trust")
		cmd.Env = append(cmd.Env, append(env, "DEVCA_KEY_STORAGE=")...)
		start := time.Now()
		_, stderr := runOK(t, cmd)
		if d := time.Since(start); d < time.Second || d > 20*time.Second {
			t.Errorf("init took %s, want about the 1s timeout", d)
		}
		if !strings.Contains(stderr, "devca: warning: no keyring answered (Secret Service keyring: the keyring did not answer within 1s)") {
			t.Errorf("stderr:\n%s", stderr)
		}
	})
	t.Run("fail/explicit keyring", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), "cahome")
		cmd := devcaCommand(t, home, t.TempDir(), "init", "--no-trust", "--key-storage", "keyring")
		cmd.Env = append(cmd.Env, env...)
		_, stderr := runFail(t, cmd, exitFailure)
		for _, want := range []string{
			"the keyring did not answer within 1s",
			"devca: hint: the Secret Service keyring is probably locked and waiting for an unlock prompt",
			"DEVCA_KEYRING_TIMEOUT=30s",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	})
}

// TestImportMkcertCA adopts a CA made by Debian's mkcert and issues a leaf
// that verifies against mkcert's own rootCA.pem, leaving mkcert's files as
// they were.
func TestImportMkcertCA(t *testing.T) {
	t.Parallel()
	mkcert := requireTool(t, "mkcert")
	caroot := t.TempDir()
	mk := exec.Command(mkcert, "localhost")
	mk.Dir = t.TempDir()
	// CAROOT alone makes mkcert create a CA there; without -install it
	// touches no trust store. TRUST_STORES is emptied to be sure.
	mk.Env = append(os.Environ(), "CAROOT="+caroot, "TRUST_STORES=none", "HOME="+t.TempDir())
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("mkcert localhost: %v\n%s", err, out)
	}
	before := hashTree(t, caroot)

	home := filepath.Join(t.TempDir(), "cahome")
	work := t.TempDir()
	cmd := devcaCommand(t, home, work, "init", "--no-trust", "--from-mkcert", caroot, "--key-storage", "passphrase")
	cmd.Env = append(cmd.Env, "DEVCA_CA_PASSPHRASE=correct horse")
	out, stderr := runOK(t, cmd)
	if !strings.Contains(out, "imported the root CA from mkcert CAROOT "+caroot) {
		t.Errorf("init output:\n%s", out)
	}
	if !strings.Contains(stderr, "devca: warning: the imported root has no name constraints") {
		t.Errorf("init stderr:\n%s", stderr)
	}
	info, _ := runOK(t, devcaCommand(t, home, work, "info"))
	for _, want := range []string{"constraints  none", "imported     from mkcert CAROOT " + caroot, "(passphrase storage)"} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}
	if !bytes.Equal(readFile(t, filepath.Join(home, ca.RootCertFile)), readFile(t, filepath.Join(caroot, "rootCA.pem"))) {
		t.Error("the adopted rootCA.pem differs from mkcert's")
	}

	cmd = devcaCommand(t, home, work, "issue", "app.test", "www.example.com")
	cmd.Env = append(cmd.Env, "DEVCA_CA_PASSPHRASE=correct horse")
	runOK(t, cmd)
	verifyLeaf(t, filepath.Join(work, "app.test+1.pem"), filepath.Join(caroot, "rootCA.pem"), "www.example.com")

	mkKey := readMkcertKey(t, filepath.Join(caroot, "rootCA-key.pem"))
	assertNoPlainKey(t, home, mkKey)
	if after := hashTree(t, caroot); !equalMaps(before, after) {
		t.Errorf("mkcert's CAROOT changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestPassphraseStorage: a wrong passphrase fails and changes nothing; the
// right one signs; there is no plaintext key in the home.
func TestPassphraseStorage(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "cahome")
	work := t.TempDir()
	withPass := func(pass string, args ...string) *exec.Cmd {
		cmd := devcaCommand(t, home, work, args...)
		cmd.Env = append(cmd.Env, "DEVCA_CA_PASSPHRASE="+pass)
		return cmd
	}
	runOK(t, withPass("s3cret passphrase", "init", "--no-trust", "--key-storage", "passphrase"))
	before := hashTree(t, home)

	_, stderr := runFail(t, withPass("wrong", "issue", "app.test"), exitFailure)
	if !strings.Contains(stderr, "devca: error: reading root key") || !strings.Contains(stderr, "wrong passphrase") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("a wrong passphrase wrote files: %v", entries)
	}
	_, stderr = runFail(t, withPass("wrong", "key-storage", "--to", "file"), exitFailure)
	if !strings.Contains(stderr, "wrong passphrase") || !strings.Contains(stderr, "devca: hint: nothing was changed") {
		t.Errorf("stderr:\n%s", stderr)
	}
	_, stderr = runFail(t, devcaCommand(t, home, work, "issue", "app.test"), exitFailure)
	if !strings.Contains(stderr, "devca: hint: set DEVCA_CA_PASSPHRASE") {
		t.Errorf("without a passphrase or terminal, stderr:\n%s", stderr)
	}
	if after := hashTree(t, home); !equalMaps(before, after) {
		t.Errorf("failed commands changed the home:\nbefore %v\nafter  %v", before, after)
	}

	runOK(t, withPass("s3cret passphrase", "issue", "app.test"))
	verifyLeaf(t, filepath.Join(work, "app.test.pem"), filepath.Join(home, ca.RootCertFile), "app.test")

	exported := filepath.Join(work, "ca.p12")
	cmd := withPass("s3cret passphrase", "export", "--p12", exported, "--password", "pw")
	runOK(t, cmd)
	assertNoPlainKey(t, home, decodeExport(t, exported, "pw"))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// verifyLeaf checks that the leaf in certFile chains to the root in rootFile
// for name.
func verifyLeaf(t *testing.T, certFile, rootFile, name string) {
	t.Helper()
	certs, err := ca.ParseCertsPEM(readFile(t, certFile))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := ca.ParseCertsPEM(readFile(t, rootFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(roots[0])
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
		t.Errorf("%s does not verify against %s for %q: %v", certFile, rootFile, name, err)
	}
}

func decodeExport(t *testing.T, path, password string) crypto.Signer {
	t.Helper()
	priv, _, err := pkcs12.Decode(readFile(t, path), password)
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return priv.(crypto.Signer)
}

func readMkcertKey(t *testing.T, path string) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return priv.(crypto.Signer)
}

// assertNoPlainKey scans every file under dir for a PEM private key block
// and for the raw bytes of key: its PKCS#8 encoding and its secret scalar
// (ECDSA) or prime factors (RSA).
func assertNoPlainKey(t *testing.T, dir string, key crypto.Signer) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{"PKCS#8 key": der}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		raw, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		secrets["ECDSA private scalar"] = raw
	case *rsa.PrivateKey:
		secrets["RSA prime p"] = k.Primes[0].Bytes()
		secrets["RSA prime q"] = k.Primes[1].Bytes()
		secrets["RSA private exponent"] = k.D.Bytes()
	}
	files := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("PRIVATE KEY-----")) {
			t.Errorf("%s holds a PEM private key block", path)
		}
		for name, s := range secrets {
			if bytes.Contains(data, s) {
				t.Errorf("%s holds the %s in the clear", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("scanned only %d files in %s; is this the CA home?", files, dir)
	}
}

// assertOnlyOneEncryptedKey checks that moving the key left no stale copy.
func assertOnlyOneEncryptedKey(t *testing.T, dir string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "rootCA-key*"))
	if len(matches) != 1 {
		t.Errorf("key files in the home: %v, want exactly one", matches)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hashTree maps every file under dir to the SHA-256 of its content and mode.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		rel, _ := filepath.Rel(dir, path)
		sum := sha256.Sum256(data)
		out[rel] = info.Mode().String() + " " + hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func canonical(t *testing.T, dir string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

func quoted(s string) string { return `"` + s + `"` }

// TestPassphrasePrompt runs devca in-process with a scripted prompt in place
// of the terminal: a new passphrase is asked twice, and a mismatch changes
// nothing.
func TestPassphrasePrompt(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "cahome")
	vars := map[string]string{"DEVCA_HOME": home, "USER": "tester"}
	runWith := func(answers []string, args ...string) (string, int) {
		var stdout, stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
			getenv: func(k string) string { return vars[k] }, args: append([]string{"devca"}, args...),
			hostname: func() (string, error) { return "box", nil }}
		e.readPassword = func(prompt string) ([]byte, error) {
			if len(answers) == 0 {
				t.Fatalf("unexpected prompt %q", prompt)
			}
			a := answers[0]
			answers = answers[1:]
			return []byte(a), nil
		}
		code := e.exit(newApp(e).Run(e.args))
		if len(answers) != 0 {
			t.Errorf("%v: %d answers left unasked", args, len(answers))
		}
		return stderr.String(), code
	}
	stderr, code := runWith([]string{"first", "second"}, "init", "--no-trust", "--key-storage", "passphrase")
	if code != exitFailure || !strings.Contains(stderr, "the two passphrases differ; nothing was changed") {
		t.Fatalf("mismatch: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(home, ca.RootCertFile)); err == nil {
		t.Fatal("a mismatched passphrase created a CA")
	}
	if stderr, code = runWith([]string{"same", "same"}, "init", "--no-trust", "--key-storage", "passphrase"); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}
	work := t.TempDir()
	if stderr, code = runWith([]string{"same"}, "issue", "--cert-file", filepath.Join(work, "a.pem"), "--key-file", filepath.Join(work, "a-key.pem"), "a.test"); code != 0 {
		t.Fatalf("issue: exit %d\n%s", code, stderr)
	}
	// Three wrong answers fail; a typo followed by the right one signs.
	if stderr, code = runWith([]string{"nope", "nope", "nope"}, "issue", "--cert-file", filepath.Join(work, "b.pem"), "--key-file", filepath.Join(work, "b-key.pem"), "b.test"); code != exitFailure || !strings.Contains(stderr, "wrong passphrase") {
		t.Fatalf("issue with a wrong passphrase: exit %d\n%s", code, stderr)
	}
	if strings.Count(stderr, "devca: wrong passphrase, try again") != 2 {
		t.Errorf("want two retry notes:\n%s", stderr)
	}
	if stderr, code = runWith([]string{"smae", "same"}, "issue", "--cert-file", filepath.Join(work, "b.pem"), "--key-file", filepath.Join(work, "b-key.pem"), "b.test"); code != 0 {
		t.Fatalf("issue after a typo: exit %d\n%s", code, stderr)
	}
	// Changing it asks for the current one, then the new one twice.
	if stderr, code = runWith([]string{"same", "newer", "newer"}, "key-storage", "--to", "passphrase"); code != 0 {
		t.Fatalf("key-storage: exit %d\n%s", code, stderr)
	}
	if stderr, code = runWith([]string{"newer"}, "issue", "--cert-file", filepath.Join(work, "c.pem"), "--key-file", filepath.Join(work, "c-key.pem"), "c.test"); code != 0 {
		t.Fatalf("issue with the new passphrase: exit %d\n%s", code, stderr)
	}
}
