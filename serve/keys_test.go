package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const (
	pemCert  = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	pemKey   = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"
	pemEC    = "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"
	pemRSA   = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
	pemEnc   = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n"
	pemSSH   = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n"
	pemPub   = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
	bagAttrs = "Bag Attributes\n    localKeyID: 01 02\nKey Attributes: <No Attributes>\n"
)

func TestHoldsPrivateKey(t *testing.T) {
	for i, tc := range []struct {
		in   string
		want bool
	}{
		{pemKey, true}, {pemEC, true}, {pemRSA, true}, {pemEnc, true}, {pemSSH, true},
		{bagAttrs + pemKey, true},
		{pemCert + pemCert + pemKey, true},
		{"-----BEGIN PGP PRIVATE KEY BLOCK-----\n", true},
		{pemCert, false}, {pemPub, false}, {"", false}, {"-----BEGIN ", false},
		{"-----BEGIN PRIVATE", false},
		{"a text that mentions a PRIVATE KEY in passing", false},
	} {
		if got := holdsPrivateKey([]byte(tc.in)); got != tc.want {
			t.Errorf("Test %d: holdsPrivateKey(%.40q) = %v", i, tc.in, got)
		}
	}
}

func TestKeyName(t *testing.T) {
	for i, tc := range []struct {
		name string
		want bool
	}{
		{"localhost+2-key.pem", true}, {"site.key", true}, {"SITE.KEY", true}, {"a.p12", true}, {"b.pfx", true},
		{"key.pem", true}, {"privkey.pem", true}, {"tls_key.pem", true}, {"app.key.pem", true}, {"id_ed25519", true},
		{"site-key.pem.gz", true}, {"a.p12.br", true},
		{"localhost+2.pem", false}, {"monkey.pem", false}, {"keyboard.html", false}, {"id_ed25519.pub", false},
		{"keys", false}, {"key.js", false},
	} {
		if got := keyName(tc.name); got != tc.want {
			t.Errorf("Test %d: keyName(%q) = %v", i, tc.name, got)
		}
	}
}

// keySite is a folder as devca's quick start leaves it, and more: keys
// under names that say so, keys under names that do not, and files that
// only look close to keys.
func keySite(t *testing.T) string {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"index-not-here.txt":  "x",
		"localhost+2.pem":     pemCert,
		"localhost+2-key.pem": pemKey,
		"localhost+2.p12":     "\x30\x82binary",
		"site.key":            pemRSA,
		"legacy.pfx":          "\x30\x82binary",
		"privkey.pem":         pemEC,
		"id_ed25519":          pemSSH,
		"id_ed25519.pub":      "ssh-ed25519 AAAA",
		"notes.txt":           "saved for later\n" + pemEC,
		"server.crt":          pemRSA,
		"bundle.pem":          pemCert + pemKey,
		"export.pem":          bagAttrs + pemEnc,
		"backup":              pemKey,
		"key.pem.gz":          "\x1f\x8bgzip",
		"monkey.pem":          pemCert,
		"public.pem":          pemPub,
		"app.js":              "console.log(1)",
		"keys/readme.txt":     "folders named keys are fine",
		"link-to-key.txt":     "->site.key",
		"link-to-recorded":    "->localhost+2-key.pem",
		"innocent.txt":        "->notes.txt",
		"recorded.js":         "a key devca wrote under a name no rule catches",
	})
	return dir
}

var (
	hiddenKeys = []string{
		"localhost+2-key.pem", "localhost+2.p12", "site.key", "legacy.pfx", "privkey.pem", "id_ed25519",
		"notes.txt", "server.crt", "bundle.pem", "export.pem", "backup", "key.pem.gz", "link-to-key.txt", "innocent.txt",
	}
	servedFiles = []string{"localhost+2.pem", "id_ed25519.pub", "monkey.pem", "public.pem", "app.js", "keys/readme.txt"}
)

// TestKeyFilesHidden: files that look like private keys are 404 and not
// listed, by name or by their first bytes, also through links; with
// ServeKeys they are served. Recorded keys stay hidden either way.
func TestKeyFilesHidden(t *testing.T) {
	dir := keySite(t)
	recorded := []string{filepath.Join(dir, "recorded.js"), filepath.Join(dir, "localhost+2-key.pem"), "/elsewhere/key.pem"}
	for _, serveKeys := range []bool{false, true} {
		h := newHandler(t, Config{Dir: dir, ServeKeys: serveKeys, RecordedKeys: recorded})
		listing := body(t, do(t, h, "GET", "/"))
		var entries []listingEntry
		if err := json.Unmarshal([]byte(body(t, do(t, h, "GET", "/", "Accept: application/json"))), &entries); err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, e := range entries {
			listed[e.Name] = true
		}
		check := func(name string, want bool) {
			t.Helper()
			resp := do(t, h, "GET", "/"+name)
			got := body(t, resp)
			if served := resp.StatusCode == 200; served != want {
				t.Errorf("ServeKeys=%v: GET /%s = %d %.30q, want served=%v", serveKeys, name, resp.StatusCode, got, want)
			}
			if strings.Contains(name, "/") {
				return
			}
			// html/template writes "+" as "&#43;".
			if in := strings.Contains(listing, `href="./`+strings.ReplaceAll(name, "+", "&#43;")+`"`); in != want || listed[name] != want {
				t.Errorf("ServeKeys=%v: %s listed %v (JSON %v), want %v", serveKeys, name, in, listed[name], want)
			}
		}
		for _, name := range hiddenKeys {
			if name == "localhost+2-key.pem" {
				continue // recorded, checked below
			}
			check(name, serveKeys)
		}
		for _, name := range servedFiles {
			check(name, true)
		}
		check("recorded.js", false)
		check("localhost+2-key.pem", false)
		// A link to a recorded key is no way around it.
		check("link-to-recorded", false)
	}
}

// TestRecordedKeysThroughLinkedFolder: the served folder and the recorded
// paths may name the same files through different links.
func TestRecordedKeysThroughLinkedFolder(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	writeTree(t, real, map[string]string{"app/secret.js": "k", "app/ok.js": "ok"})
	if err := os.Symlink(real, filepath.Join(base, "alias")); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, Config{Dir: filepath.Join(base, "alias"), RecordedKeys: []string{filepath.Join(real, "app", "secret.js")}})
	if resp := do(t, h, "GET", "/app/secret.js"); resp.StatusCode != 404 {
		t.Errorf("GET /app/secret.js = %d", resp.StatusCode)
	}
	if resp := do(t, h, "GET", "/app/ok.js"); resp.StatusCode != 200 {
		t.Errorf("GET /app/ok.js = %d", resp.StatusCode)
	}
}

// TestRecordedKeysThroughHardLinks: a hard link to a recorded key is that
// key under another name, which neither its name nor a path comparison
// gives away; it is hidden by inode, in requests and listings, with
// --serve-keys too.
func TestRecordedKeysThroughHardLinks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("recorded keys are matched by inode on Linux only")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"app-key.pem": "-----BEGIN PRIVATE KEY-----\n", "ok.js": "ok"})
	if err := os.Link(filepath.Join(dir, "app-key.pem"), filepath.Join(dir, "copy.js")); err != nil {
		t.Fatal(err)
	}
	for _, serveKeys := range []bool{false, true} {
		t.Run(fmt.Sprintf("serve-keys=%v", serveKeys), func(t *testing.T) {
			h := newHandler(t, Config{Dir: dir, ServeKeys: serveKeys, RecordedKeys: []string{filepath.Join(dir, "app-key.pem")}})
			for p, want := range map[string]int{"/copy.js": 404, "/app-key.pem": 404, "/ok.js": 200} {
				if resp := do(t, h, "GET", p); resp.StatusCode != want {
					t.Errorf("GET %s = %d, want %d", p, resp.StatusCode, want)
				}
			}
			resp := do(t, h, "GET", "/")
			body, _ := io.ReadAll(resp.Body)
			if strings.Contains(string(body), "copy.js") || !strings.Contains(string(body), "ok.js") {
				t.Errorf("listing shows the link or hides ok.js:\n%s", body)
			}
		})
	}
}
