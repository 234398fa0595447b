package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// processPrngC is a stand-in bcryptprimitives.dll for Wine 8, which lacks
// ProcessPrng; Go 1.22 and later load it at start-up and stop without it.
// RtlGenRandom (advapi32!SystemFunction036) fills the same need.
const processPrngC = `#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n)) return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
`

// wineTool finds a Wine program: on PATH (Debian's wine package) or where
// Debian's wine64 package alone puts it.
func wineTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if p := filepath.Join("/usr/lib/wine", n); isExecutable(p) {
			return p
		}
	}
	return requireTool(t, names[0])
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

const (
	userRootKey    = `HKCU\Software\Microsoft\SystemCertificates\Root\Certificates`
	machineRootKey = `HKLM\Software\Microsoft\SystemCertificates\Root\Certificates`
)

// TestWindowsUnderWine runs the Windows build of devca under Wine in a
// private prefix (issue 12): init, status --json, install, issue (checked by
// openssl), serve (fetched by curl with only the root trusted) and
// uninstall, reading the registry before and after. A devca root placed in
// the local machine Root store beforehand, as an administrator or mkcert
// would, must be left in place and never recorded. It takes about a minute,
// so it runs only with DEVCA_WINE=1, which .ci/run sets in a step of its
// own; then it skips without Wine and mingw-w64 on a developer machine and
// fails without them under CI.
func TestWindowsUnderWine(t *testing.T) {
	if os.Getenv("DEVCA_WINE") != "1" {
		t.Skip("the Windows build under Wine takes about a minute; set DEVCA_WINE=1 to run it (.ci/run does, in a step of its own)")
	}
	t.Parallel()
	wine := wineTool(t, "wine", "wine64")
	wineserver := wineTool(t, "wineserver")
	gcc := requireTool(t, "x86_64-w64-mingw32-gcc")
	openssl := requireTool(t, "openssl")
	curl := requireTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	base := t.TempDir()
	prefix := filepath.Join(base, "prefix")
	work := filepath.Join(base, "work")
	bin := filepath.Join(base, "bin")
	for _, d := range []string{work, bin, filepath.Join(base, "home"), filepath.Join(base, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Wine reads only this environment: its own prefix, HOME and TMPDIR
	// (Debian's wineserver keeps its socket folder in TMPDIR), so nothing
	// lands in the user's ~/.wine or /tmp, and no trust store of this
	// machine is touched.
	wineEnv := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(base, "home"),
		"TMPDIR=" + filepath.Join(base, "tmp"),
		"USER=tester",
		"WINEPREFIX=" + prefix,
		"WINEDEBUG=-all",
		// No Mono or Gecko install prompts and no desktop menu entries.
		"WINEDLLOVERRIDES=mscoree,mshtml=;winemenubuilder.exe=d",
	}
	run := func(dir string, name string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = wineEnv
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		t.Logf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
		return stdout.String(), stderr.String(), err
	}
	t.Cleanup(func() {
		// Stop this prefix's wineserver, so that it does not outlive
		// the test or keep files open in the temporary folder.
		cmd := exec.Command(wineserver, "-k")
		cmd.Env = wineEnv
		cmd.Run()
		cmd = exec.Command(wineserver, "-w")
		cmd.Env = wineEnv
		cmd.Run()
	})

	// Build devca.exe and the stand-in DLL.
	exe := filepath.Join(bin, "devca.exe")
	build := exec.CommandContext(ctx, "go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building devca.exe: %v\n%s", err, out)
	}
	src := filepath.Join(bin, "prng.c")
	def := filepath.Join(bin, "prng.def")
	os.WriteFile(src, []byte(processPrngC), 0o600)
	os.WriteFile(def, []byte("LIBRARY bcryptprimitives\nEXPORTS\nProcessPrng\n"), 0o600)
	dll := filepath.Join(bin, "bcryptprimitives.dll")
	if out, err := exec.CommandContext(ctx, gcc, "-shared", "-O2", "-o", dll, src, def, "-ladvapi32").CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in bcryptprimitives.dll: %v\n%s", err, out)
	}

	// Create the prefix; Go loads bcryptprimitives.dll from System32 only.
	if _, _, err := run(work, wine, "wineboot", "-i"); err != nil {
		t.Fatalf("creating the Wine prefix: %v", err)
	}
	data, err := os.ReadFile(dll)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	devca := func(args ...string) (string, string, error) {
		t.Helper()
		return run(work, wine, append([]string{exe}, args...)...)
	}
	regKeys := func(key string) string {
		t.Helper()
		out, _, _ := run(work, wine, "reg", "query", key)
		return strings.ToUpper(out)
	}
	status := func() statusReport {
		t.Helper()
		out, _, _ := devca("status", "--stores", "system", "--json")
		var r statusReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("status --json: %v", err)
		}
		if len(r.Stores) != 1 || len(r.Stores[0].Locations) != 1 {
			t.Fatalf("status --json: %+v, want one store with one location", r)
		}
		return r
	}

	if _, _, err := devca("init", "--no-trust"); err != nil {
		t.Fatalf("init: %v", err)
	}
	st := status()
	if !st.Stores[0].Present || st.Trusted {
		t.Fatalf("status after init --no-trust: %+v, want present and not trusted", st.Stores[0])
	}
	// The CA home is %LocalAppData%\devca, inside the prefix.
	home := filepath.Join(prefix, "drive_c", filepath.FromSlash(strings.ReplaceAll(strings.TrimPrefix(st.Home, `C:\`), `\`, "/")))
	rootFile := filepath.Join(home, "rootCA.pem")
	rootPEM, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(rootPEM)
	if block == nil {
		t.Fatalf("%s holds no certificate", rootFile)
	}
	sum := sha1.Sum(block.Bytes)
	thumb := strings.ToUpper(hex.EncodeToString(sum[:]))
	if keys := regKeys(userRootKey); strings.Contains(keys, thumb) {
		t.Fatalf("the user Root store holds the root before install")
	}

	// The root in the local machine Root store, put there without devca:
	// install must leave it, record nothing, and uninstall must not
	// remove it.
	regFile := filepath.Join(work, "machine-root.reg")
	if err := os.WriteFile(regFile, regImport(machineRootKey, thumb, block.Bytes), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(work, wine, "reg", "import", regFile); err != nil {
		t.Fatalf("placing the root in the local machine store: %v", err)
	}
	out, _, err := devca("install", "--stores", "system")
	if err != nil || !strings.Contains(out, "already trusted") {
		t.Errorf("install over a local machine root: %v, want 'already trusted'", err)
	}
	if st := status(); !st.Trusted || st.Stores[0].Locations[0].Recorded {
		t.Errorf("status: %+v, want trusted and not recorded", st.Stores[0])
	}
	_, stderr, err := devca("uninstall", "--stores", "system")
	if err == nil || !strings.Contains(stderr, "not in devca's install record") {
		t.Errorf("uninstall: %v, want it to leave the unrecorded root alone and say so", err)
	}
	if !strings.Contains(regKeys(machineRootKey), thumb) {
		t.Fatalf("uninstall removed the root from the local machine store")
	}
	if strings.Contains(regKeys(userRootKey), thumb) {
		t.Errorf("devca added the root to the user store although it was trusted")
	}
	if _, _, err := run(work, wine, "reg", "delete", machineRootKey+`\`+thumb, "/f"); err != nil {
		t.Fatal(err)
	}

	// A real install into the user's own store.
	out, _, err = devca("install", "--stores", "system")
	if err != nil || !strings.Contains(out, "installed") {
		t.Fatalf("install: %v", err)
	}
	if !strings.Contains(regKeys(userRootKey), thumb) {
		t.Fatalf("the root is not in %s after install", userRootKey)
	}
	if st := status(); !st.Trusted || !st.Stores[0].Locations[0].Recorded {
		t.Errorf("status after install: %+v, want trusted and recorded", st.Stores[0])
	}

	// issue: openssl verifies the leaf against the root.
	if _, _, err := devca("issue", "localhost", "127.0.0.1"); err != nil {
		t.Fatalf("issue: %v", err)
	}
	leaf := filepath.Join(work, "localhost+1.pem")
	if out, err := exec.CommandContext(ctx, openssl, "verify", "-CAfile", rootFile, "-purpose", "sslserver", "-verify_hostname", "localhost", leaf).CombinedOutput(); err != nil {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}

	// serve, fetched by curl that trusts only the root.
	site := filepath.Join(work, "site")
	os.MkdirAll(site, 0o700)
	os.WriteFile(filepath.Join(site, "hello.txt"), []byte("hello from wine\n"), 0o644)
	// The system chooses the port, and the URL serve prints says which:
	// a port picked here could be taken by the time serve binds it.
	srv := exec.CommandContext(ctx, wine, exe, "serve", "--quiet", "--addr", "127.0.0.1:0", "site")
	srv.Dir = work
	srv.Env = wineEnv
	srvOut := &syncBuffer{}
	srv.Stderr = srvOut
	srvStdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Process.Kill()
			srv.Wait()
		}
	}
	defer stop()
	firstLine := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(srvStdout)
		if sc.Scan() {
			firstLine <- strings.TrimSuffix(sc.Text(), "\r")
		}
		close(firstLine)
		io.Copy(srvOut, srvStdout)
	}()
	var port string
	select {
	case line := <-firstLine:
		u, err := url.Parse(line)
		if err != nil || u.Scheme != "https" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "0" {
			t.Fatalf("serve printed %q, want its https URL first\nserve said:\n%s", line, srvOut.String())
		}
		port = u.Port()
	case <-ctx.Done():
		t.Fatalf("serve printed no URL\nserve said:\n%s", srvOut.String())
	}
	fetch := func(path string) (int, string, error) {
		out, err := exec.CommandContext(ctx, curl, "--silent", "--show-error", "--max-time", "10", "--cacert", rootFile,
			"--resolve", "localhost:"+port+":127.0.0.1", "--write-out", "\n%{http_code}", "https://localhost:"+port+path).Output()
		// --write-out puts the status on a line of its own at the end.
		i := strings.LastIndex(string(out), "\n")
		if i < 0 {
			return 0, "", err
		}
		code, _ := strconv.Atoi(string(out[i+1:]))
		return code, string(out[:i]), err
	}
	code, body, err := fetch("/hello.txt")
	if err != nil || code != 200 {
		t.Fatalf("GET /hello.txt: %d %v\nserve said:\n%s", code, err, srvOut.String())
	}
	if body != "hello from wine\n" {
		t.Errorf("served %q", body)
	}
	if code, _, _ := fetch("/NUL"); code != 400 {
		t.Errorf("GET /NUL: %d, want 400", code)
	}
	stop()

	// uninstall takes the root out of the user store and the record.
	out, _, err = devca("uninstall", "--stores", "system")
	if err != nil || !strings.Contains(out, "removed") {
		t.Errorf("uninstall: %v, want removed", err)
	}
	if strings.Contains(regKeys(userRootKey), thumb) {
		t.Errorf("the root is still in %s after uninstall", userRootKey)
	}
	if st := status(); st.Trusted || st.Stores[0].Locations[0].Recorded {
		t.Errorf("status after uninstall: %+v, want untrusted and unrecorded", st.Stores[0])
	}
	record, err := os.ReadFile(filepath.Join(home, "trust.json"))
	if err != nil || strings.Contains(string(record), `"store"`) {
		t.Errorf("install record after uninstall: %v\n%s", err, record)
	}
}

// regImport returns a .reg file (UTF-16 with a byte order mark, as regedit
// writes them) that puts der into the certificate store key under its SHA-1
// thumbprint. The "Blob" value is the store's serialized form: one element
// of property 32 (CERT_CERT_PROP_ID), a reserved 1, the length, the
// certificate.
func regImport(key, thumb string, der []byte) []byte {
	blob := binary.LittleEndian.AppendUint32(nil, 32)
	blob = binary.LittleEndian.AppendUint32(blob, 1)
	blob = binary.LittleEndian.AppendUint32(blob, uint32(len(der)))
	blob = append(blob, der...)
	hexBytes := make([]string, len(blob))
	for i, b := range blob {
		hexBytes[i] = hex.EncodeToString([]byte{b})
	}
	full := strings.Replace(key, "HKLM", "HKEY_LOCAL_MACHINE", 1)
	text := "Windows Registry Editor Version 5.00\r\n\r\n[" + full + `\` + thumb + "]\r\n\"Blob\"=hex:" + strings.Join(hexBytes, ",") + "\r\n"
	out := []byte{0xff, 0xfe}
	for _, u := range utf16.Encode([]rune(text)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}
