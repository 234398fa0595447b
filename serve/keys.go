package serve

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Private keys are hidden twice over. The key and PKCS#12 files devca's
// record says it wrote (Config.RecordedKeys) are never served, like the CA
// home. Files that merely look like keys are hidden unless Config.ServeKeys
// says otherwise, like dotfiles: by name (keyName), and, for the few kinds
// of name a PEM key is saved under, by their first bytes (keySniffName,
// holdsPrivateKey).

// keyName reports whether a file name says it holds a private key:
// "*.key", "*-key.pem" (devca's and mkcert's naming), "*_key.pem",
// "key.pem", "privkey.pem" (certbot), PKCS#12 files ("*.p12", "*.pfx") and
// OpenSSH's default key names, also when gzip- or brotli-compressed.
func keyName(name string) bool {
	name = foldNonASCII(name)
	name = trimSuffixFold(trimSuffixFold(name, ".gz"), ".br")
	for _, n := range [...]string{"key.pem", "privkey.pem", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"} {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	for _, suffix := range [...]string{".key", ".p12", ".pfx", "-key.pem", "_key.pem", ".key.pem"} {
		if hasSuffixFold(name, suffix) {
			return true
		}
	}
	return false
}

// foldNonASCII lowers the case of a name that is not plain ASCII, so that
// the ASCII comparisons after it see what strings.ToLower would: "K"
// (the Kelvin sign) lowers to "k", and a file system that normalises names
// may open "site.Key" as "site.key". ASCII names, nearly all, are left
// to the case-blind comparisons and cost no copy.
func foldNonASCII(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return strings.ToLower(name)
		}
	}
	return name
}

// hasSuffixFold is strings.HasSuffix ignoring ASCII case, without the
// copy strings.ToLower makes of a name with capitals.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func trimSuffixFold(s, suffix string) string {
	if hasSuffixFold(s, suffix) {
		return s[:len(s)-len(suffix)]
	}
	return s
}

// keySniffName reports whether a file name is one a PEM private key is
// commonly saved under without saying so in its name: ".pem", ".crt",
// ".cer", ".p8", ".txt" or no extension at all (an OpenSSH key copied under
// another name). Only such files are read to look for a key: reading the
// start of every file would cost a read on every request for a page or an
// image, and nobody saves a key as app.js by accident.
func keySniffName(name string) bool {
	ext := path.Ext(foldNonASCII(name))
	if ext == "" {
		return true
	}
	for _, e := range [...]string{".pem", ".crt", ".cer", ".p8", ".txt"} {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

// keySniffSize is how much of a file holdsPrivateKey sees: enough for a
// certificate chain of two before the key in a combined PEM file, or
// OpenSSL's "Bag Attributes" lines before it.
const keySniffSize = 4096

// holdsPrivateKey reports whether b holds the start of a PEM private key
// block: "-----BEGIN PRIVATE KEY-----", and the RSA, EC, ENCRYPTED,
// OPENSSH and PGP forms alike.
func holdsPrivateKey(b []byte) bool {
	begin := []byte("-----BEGIN ")
	for {
		i := bytes.Index(b, begin)
		if i < 0 {
			return false
		}
		b = b[i+len(begin):]
		label, _, ok := bytes.Cut(b, []byte("-----"))
		if !ok {
			return false
		}
		if len(label) < 80 && bytes.Contains(label, []byte("PRIVATE KEY")) {
			return true
		}
	}
}

// hiddenKey reports whether f, opened as name (a request path) that
// resolved to real, looks like a private key and key files are not served.
func (h *Handler) hiddenKey(name, real string, f io.ReaderAt, fi fs.FileInfo) bool {
	if !fi.Mode().IsRegular() {
		return false
	}
	if h.isRecordedKey(fi) {
		return true
	}
	if h.cfg.ServeKeys {
		return false
	}
	base := path.Base(name)
	if keyName(base) {
		return true
	}
	sniff := keySniffName(base)
	// real is name unless a link was followed on the way.
	if real != name {
		realBase := path.Base(real)
		if keyName(realBase) {
			return true
		}
		sniff = sniff || keySniffName(realBase)
	}
	return sniff && h.keys.holdsKey(f, fi)
}

// sniffKey reads the start of f and looks for a private key. It is kept
// out of hiddenKey so that its buffer is not part of the frame of every
// request (see the note on frames in files.go).
//
//go:noinline
func sniffKey(f io.ReaderAt) bool {
	bp := sniffBufPool.Get().(*[keySniffSize]byte)
	defer sniffBufPool.Put(bp)
	n, _ := f.ReadAt(bp[:], 0)
	return holdsPrivateKey(bp[:n])
}

var sniffBufPool = sync.Pool{New: func() any { return new([keySniffSize]byte) }}

// keyVerdicts remembers what sniffKey found in files that have not changed
// since, so that a text file served again costs no read: the answer is
// kept per file identity (device, inode, size, modification and change
// times, see fileIdentity). Writing a file changes its change time, which
// no one can set by hand, so a changed file is read again. A file changed
// within the last keyVerdictSettle is read every time: its change time may
// not move on a second write within the file system's clock tick (the
// "racily clean" case git knows).
type keyVerdicts struct {
	mu sync.Mutex
	m  map[fileID]bool
}

// keyVerdictSettle is a variable for tests only.
var keyVerdictSettle = 2 * time.Second

// maxKeyVerdicts bounds the memory of a huge site: past it the table
// starts over.
const maxKeyVerdicts = 4096

// holdsKey reports whether f, whose FileInfo is fi, starts with a private
// key, from the table when it can.
func (v *keyVerdicts) holdsKey(f io.ReaderAt, fi fs.FileInfo) bool {
	id, ok := fileIdentity(fi)
	if !ok || time.Since(id.changed()) < keyVerdictSettle {
		return sniffKey(f)
	}
	v.mu.Lock()
	verdict, known := v.m[id]
	v.mu.Unlock()
	if known {
		return verdict
	}
	verdict = sniffKey(f)
	v.mu.Lock()
	if v.m == nil || len(v.m) >= maxKeyVerdicts {
		v.m = make(map[fileID]bool)
	}
	v.m[id] = verdict
	v.mu.Unlock()
	return verdict
}

// isRecordedKey reports whether fi is one of the key files devca recorded,
// under whatever name: a hard link to a recorded key (copy.js) is that key,
// and no path comparison finds it.
func (h *Handler) isRecordedKey(fi fs.FileInfo) bool {
	if len(h.recordedInodes) == 0 {
		return false
	}
	id, ok := inodeOf(fi)
	return ok && h.recordedInodes[id]
}

// recordedInodes returns the inodes of the recorded key files that exist.
func recordedInodes(keys []string) map[inode]bool {
	set := map[inode]bool{}
	for _, k := range keys {
		fi, err := os.Stat(k)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if id, ok := inodeOf(fi); ok {
			set[id] = true
		}
	}
	return set
}

// recordedKeys turns Config.RecordedKeys into the set of those inside dir,
// as slash paths relative to it with links resolved on both sides, the
// form h.open compares.
func recordedKeys(dir string, keys []string) map[string]bool {
	realDir, err := realPath(dir)
	if err != nil || len(keys) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, k := range keys {
		real, err := realPath(k)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(realDir, real); err == nil && filepath.IsLocal(rel) {
			set[filepath.ToSlash(rel)] = true
		}
	}
	return set
}
