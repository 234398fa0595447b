package trust

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// newTestCert returns a self-signed CA certificate named cn.
func newTestCert(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"devca test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// exitErr is the error fakeRunner reports for a non-zero exit; like
// *exec.ExitError it has an ExitCode method.
type exitErr struct{ code int }

func (e *exitErr) Error() string { return fmt.Sprintf("exit status %d", e.code) }
func (e *exitErr) ExitCode() int { return e.code }

// failure scripts a command's result.
type failure struct {
	code int
	out  string
}

// fakeRunner records commands and imitates the tools inside a temporary
// root: install and rm change files, certutil and keytool keep their
// databases as JSON files, security and the WSL tools keep state in memory.
type fakeRunner struct {
	t    testing.TB
	tb   *testbed
	log  []string
	fail map[string]failure // by program name, or "name subcommand"
	// noSudo makes privileged commands fail as ExecRunner does without
	// root and without sudo.
	noSudo bool
	// refresh imitates the distro's store rebuild.
	refresh func()

	// mu, when set, serialises Run for tests that install concurrently.
	mu *sync.Mutex

	keychain map[string][]byte // macOS System keychain, by SHA-1
	trusted  map[string]bool   // macOS admin trust settings, by SHA-1
	winRoot  map[string][]byte // Windows user Root store seen from WSL
}

func (f *fakeRunner) Run(_ context.Context, c Cmd) ([]byte, error) {
	if f.mu != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
	}
	line := f.tb.normalize(c.String())
	if c.Privileged {
		line = "[root] " + line
	}
	if c.Stdin != nil && c.StdinFrom == "" {
		line += " <stdin"
	}
	f.log = append(f.log, line)
	if c.Privileged && f.noSudo {
		return nil, &PrivilegeError{Why: c.Why, Commands: []string{c.String()}}
	}
	argv := append([]string{filepath.Base(c.Name)}, c.Args...)
	for _, key := range []string{argv[0] + " " + firstArg(c.Args), argv[0]} {
		if fl, ok := f.fail[key]; ok {
			return []byte(fl.out), &CmdError{Argv: argv, Output: fl.out, Err: &exitErr{fl.code}}
		}
	}
	out, code := f.exec(argv, c.Stdin)
	if code != 0 {
		return []byte(out), &CmdError{Argv: argv, Output: strings.TrimSpace(out), Err: &exitErr{code}}
	}
	return []byte(out), nil
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// flagValue returns the argument after name.
func flagValue(args []string, name string) string {
	i := slices.Index(args, name)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}

func (f *fakeRunner) exec(argv []string, stdin []byte) (string, int) {
	name, args := argv[0], argv[1:]
	switch name {
	case "install":
		src, dst := args[len(args)-2], args[len(args)-1]
		data, err := os.ReadFile(src)
		if src == "/dev/stdin" {
			data, err = stdin, nil
		}
		if err != nil {
			return err.Error(), 1
		}
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err.Error(), 1
		}
	case "rm":
		for _, a := range args[slices.Index(args, "--")+1:] {
			os.Remove(a)
		}
	case "update-ca-certificates", "update-ca-trust", "trust":
		if f.refresh != nil {
			f.refresh()
		}
	case "certutil":
		return f.certutil(args)
	case "keytool":
		return f.keytool(args, stdin)
	case "security":
		return f.security(args)
	case "powershell.exe":
		script := args[len(args)-1]
		thumb := regexp.MustCompile(`Root\\([0-9A-F]{40})"`).FindStringSubmatch(script)[1]
		if strings.HasPrefix(script, "Remove-Item") {
			delete(f.winRoot, thumb)
			return "", 0
		}
		if _, ok := f.winRoot[thumb]; ok {
			return "present\r\n", 0
		}
		return "absent\r\n", 0
	case "wslpath":
		return `\\wsl.localhost\Debian` + strings.ReplaceAll(args[len(args)-1], "/", `\`) + "\n", 0
	case "certutil.exe":
		path := strings.ReplaceAll(strings.TrimPrefix(args[len(args)-1], `\\wsl.localhost\Debian`), `\`, "/")
		data, err := os.ReadFile(path)
		if err != nil {
			return err.Error(), 1
		}
		der, _ := firstCertDER(data)
		f.winRoot[sha1Thumbprint(der)] = der
	default:
		f.t.Fatalf("fake runner: unexpected command %q", argv)
	}
	return "", 0
}

// jsonDB is a fake NSS database or keystore: certificates by name.
func readJSONDB(path string) (map[string]string, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	db := map[string]string{}
	if err := json.Unmarshal(data, &db); err != nil {
		return nil, false
	}
	return db, true
}

func writeJSONDB(path string, db map[string]string) {
	data, _ := json.Marshal(db)
	os.WriteFile(path, data, 0o644)
}

func (f *fakeRunner) certutil(args []string) (string, int) {
	spec := flagValue(args, "-d")
	dir := strings.TrimPrefix(strings.TrimPrefix(spec, "sql:"), "dbm:")
	file := filepath.Join(dir, "cert9.db")
	if strings.HasPrefix(spec, "dbm:") {
		file = filepath.Join(dir, "cert8.db")
	}
	if args[0] == "-N" {
		writeJSONDB(file, map[string]string{})
		return "", 0
	}
	db, ok := readJSONDB(file)
	if !ok {
		return "certutil: function failed: SEC_ERROR_BAD_DATABASE: security library: bad database.", 255
	}
	nick := flagValue(args, "-n")
	switch args[0] {
	case "-L":
		p, ok := db[nick]
		if !ok {
			return "certutil: Could not find cert: " + nick + "\n: PR_FILE_NOT_FOUND_ERROR: File not found", 255
		}
		return p, 0
	case "-A":
		data, _ := os.ReadFile(flagValue(args, "-i"))
		db[nick] = string(data)
	case "-D":
		if _, ok := db[nick]; !ok {
			return "certutil: could not find certificate named \"" + nick + "\": SEC_ERROR_BAD_DATABASE", 255
		}
		delete(db, nick)
	}
	writeJSONDB(file, db)
	return "", 0
}

func (f *fakeRunner) keytool(args []string, stdin []byte) (string, int) {
	path := flagValue(args, "-keystore")
	db, ok := readJSONDB(path)
	if !ok {
		return "keytool error: java.lang.Exception: Keystore file does not exist: " + path, 1
	}
	if flagValue(args, "-storepass") != "changeit" {
		return "keytool error: java.io.IOException: Keystore was tampered with, or password was incorrect", 1
	}
	alias := flagValue(args, "-alias")
	switch args[0] {
	case "-list":
		var b strings.Builder
		fmt.Fprintf(&b, "Keystore type: JKS\nKeystore provider: SUN\n\nYour keystore contains %d entries\n\n", len(db))
		names := make([]string, 0, len(db))
		for n := range db {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "Alias name: %s\nCreation date: Jun 24, 2025\nEntry type: trustedCertEntry\n\n%s\n\n*******************************************\n\n\n", n, db[n])
		}
		return b.String(), 0
	case "-importcert":
		data := stdin
		if f := flagValue(args, "-file"); f != "" {
			data, _ = os.ReadFile(f)
		}
		db[alias] = string(data)
	case "-delete":
		if _, ok := db[alias]; !ok {
			return "keytool error: java.lang.Exception: Alias <" + alias + "> does not exist", 1
		}
		delete(db, alias)
	}
	writeJSONDB(path, db)
	return "", 0
}

func (f *fakeRunner) security(args []string) (string, int) {
	switch args[0] {
	case "find-certificate":
		var b strings.Builder
		keys := make([]string, 0, len(f.keychain))
		for k := range f.keychain {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "SHA-256 hash: %s\nSHA-1 hash: %s\nkeychain: %q\n", strings.ToUpper(sha256Hex(f.keychain[k])), k, args[len(args)-1])
		}
		return b.String(), 0
	case "trust-settings-export":
		if len(f.trusted) == 0 {
			return "SecTrustSettingsCreateExternalRepresentation: No Trust Settings were found.", 1
		}
		var b strings.Builder
		b.WriteString("<plist version=\"1.0\">\n<dict>\n\t<key>trustList</key>\n\t<dict>\n")
		for k := range f.trusted {
			fmt.Fprintf(&b, "\t\t<key>%s</key>\n\t\t<dict></dict>\n", k)
		}
		b.WriteString("\t</dict>\n</dict>\n</plist>\n")
		if err := os.WriteFile(args[len(args)-1], []byte(b.String()), 0o644); err != nil {
			return err.Error(), 1
		}
	case "add-trusted-cert":
		data, err := os.ReadFile(args[len(args)-1])
		if err != nil {
			return err.Error(), 1
		}
		der, _ := firstCertDER(data)
		f.keychain[sha1Thumbprint(der)] = der
		f.trusted[sha1Thumbprint(der)] = true
	case "remove-trusted-cert":
		data, err := os.ReadFile(args[len(args)-1])
		if err != nil {
			return err.Error(), 1
		}
		der, _ := firstCertDER(data)
		if !f.trusted[sha1Thumbprint(der)] {
			return "SecTrustSettingsRemoveTrustSettings: The specified item could not be found in the keychain.", 1
		}
		delete(f.trusted, sha1Thumbprint(der))
	case "delete-certificate":
		k := flagValue(args, "-Z")
		if _, ok := f.keychain[k]; !ok {
			return "Unable to delete certificate matching \"" + k + "\"", 1
		}
		delete(f.keychain, k)
	default:
		return "unknown security command", 1
	}
	return "", 0
}

// testbed is a fake machine: a root folder for system paths, a home
// folder, a CA home and a temporary folder, all under one t.TempDir.
type testbed struct {
	t                             testing.TB
	base, root, home, cahome, tmp string
	env                           Env
	runner                        *fakeRunner
	vars                          map[string]string
	tools                         map[string]bool
	toolPaths                     map[string]string
	unwritable                    map[string]bool
	cert                          *x509.Certificate
	rootFile                      string
}

func newTestbed(t testing.TB, goos string) *testbed {
	t.Helper()
	// Resolved, so that paths read back through symbolic links (macOS's
	// /var is /private/var) still match the placeholders.
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tb := &testbed{t: t, base: base, root: filepath.Join(base, "root"), home: filepath.Join(base, "home"),
		cahome: filepath.Join(base, "cahome"), tmp: filepath.Join(base, "tmp"),
		vars: map[string]string{}, tools: map[string]bool{}, toolPaths: map[string]string{}, unwritable: map[string]bool{}}
	for _, d := range []string{tb.root, tb.home, tb.cahome, tb.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tb.runner = &fakeRunner{t: t, tb: tb, fail: map[string]failure{}, keychain: map[string][]byte{}, trusted: map[string]bool{}, winRoot: map[string][]byte{}}
	tb.env = Env{
		GOOS:   goos,
		Root:   tb.root,
		Home:   tb.home,
		Getenv: func(k string) string { return tb.vars[k] },
		LookPath: func(name string) (string, error) {
			if p, ok := tb.toolPaths[name]; ok {
				return p, nil
			}
			if tb.tools[name] {
				return "/usr/bin/" + name, nil
			}
			return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
		},
		EvalSymlinks: filepath.EvalSymlinks,
		Runner:       tb.runner,
		Writable:     func(p string) bool { return !tb.unwritable[p] },
		TempDir:      tb.tmp,
	}
	tb.cert = newTestCert(t, "devca root tester@host 2026-01-02")
	tb.rootFile = filepath.Join(tb.cahome, "rootCA.pem")
	tb.write(tb.rootFile, string(certPEM(tb.cert)))
	return tb
}

func (tb *testbed) setTools(names ...string) {
	for _, n := range names {
		tb.tools[n] = true
	}
}

// write creates a file and its parent folders.
func (tb *testbed) write(path, data string) {
	tb.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

var tempName = regexp.MustCompile(`\$TMP/(devca-root|devca-trust)-[0-9]+`)

// normalize replaces the testbed's temporary paths and the test root's
// fingerprint with stable placeholders for golden files.
func (tb *testbed) normalize(s string) string {
	fp := sha256Hex(tb.cert.Raw)
	s = strings.ReplaceAll(s, fp, "$FP")
	s = strings.ReplaceAll(s, fp[:16], "$FP16")
	s = strings.ReplaceAll(s, sha1Thumbprint(tb.cert.Raw), "$SHA1")
	for _, p := range []struct{ path, name string }{{tb.root, "$ROOT"}, {tb.home, "$HOME"}, {tb.cahome, "$CAHOME"}, {tb.tmp, "$TMP"}, {tb.base, "$BASE"}} {
		s = strings.ReplaceAll(s, p.path, p.name)
		s = strings.ReplaceAll(s, strings.ReplaceAll(p.path, "/", `\`), p.name)
	}
	// Temporary files and folders get random names.
	return tempName.ReplaceAllString(s, "$$TMP/${1}-XXXX")
}

// report renders results, the commands run and the record for a golden
// file, and clears the command log.
func (tb *testbed) report(title string, results []Result, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s\n", title)
	for _, l := range tb.runner.log {
		fmt.Fprintf(&b, "$ %s\n", l)
	}
	tb.runner.log = nil
	for _, r := range results {
		fmt.Fprintf(&b, "result %s (%s): present=%v trusted=%v changed=%v\n", r.Store, r.Description, r.Present, r.Trusted, r.Changed)
		for _, l := range r.Locations {
			fmt.Fprintf(&b, "  location %s trusted=%v", l.Path, l.Trusted)
			if l.Missing {
				fmt.Fprintf(&b, " missing")
			}
			if l.Note != "" {
				fmt.Fprintf(&b, " (%s)", l.Note)
			}
			fmt.Fprintln(&b)
		}
		if r.Err != nil {
			fmt.Fprintf(&b, "  error: %v\n", r.Err)
		}
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	rec, rerr := loadRecord(tb.cahome)
	if rerr != nil {
		fmt.Fprintf(&b, "record error: %v\n", rerr)
	} else {
		for _, e := range rec.Entries {
			fmt.Fprintf(&b, "record %s %s %s\n", e.Store, e.Location, e.Name)
		}
	}
	return tb.normalize(b.String())
}

// checkGolden compares got with testdata/name.golden, or rewrites it with
// -update.
func checkGolden(t testing.TB, name, got string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		// The golden files hold Unix paths and POSIX shell quoting.
		t.Log("golden comparison skipped on Windows")
		return
	}
	path := filepath.Join("testdata", strings.NewReplacer("/", "_", " ", "_").Replace(name)+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
