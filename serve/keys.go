package serve

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
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
	name = strings.ToLower(name)
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".br")
	switch name {
	case "key.pem", "privkey.pem", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk":
		return true
	}
	for _, suffix := range []string{".key", ".p12", ".pfx", "-key.pem", "_key.pem", ".key.pem"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// keySniffName reports whether a file name is one a PEM private key is
// commonly saved under without saying so in its name: ".pem", ".crt",
// ".cer", ".p8", ".txt" or no extension at all (an OpenSSH key copied under
// another name). Only such files are read to look for a key: reading the
// start of every file would cost a read on every request for a page or an
// image, and nobody saves a key as app.js by accident.
func keySniffName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case "", ".pem", ".crt", ".cer", ".p8", ".txt":
		return true
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
	if h.cfg.ServeKeys || !fi.Mode().IsRegular() {
		return false
	}
	base, realBase := path.Base(name), path.Base(real)
	if keyName(base) || keyName(realBase) {
		return true
	}
	if keySniffName(base) || keySniffName(realBase) {
		return sniffKey(f)
	}
	return false
}

// sniffKey reads the start of f and looks for a private key. It is kept
// out of hiddenKey so that its buffer is not part of the frame of every
// request (see the note on frames in files.go).
//
//go:noinline
func sniffKey(f io.ReaderAt) bool {
	buf := make([]byte, keySniffSize)
	n, _ := f.ReadAt(buf, 0)
	return holdsPrivateKey(buf[:n])
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
