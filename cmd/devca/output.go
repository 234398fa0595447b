package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/devca/devca/ca"
)

// stdoutPath is the --cert-file value that writes the certificate to
// standard output, so it can be piped.
const stdoutPath = "-"

// outputTarget is one file a command is about to write.
type outputTarget struct {
	What string // for messages: "certificate", "key", "PKCS#12 file"
	Path string // absolute
}

// checkTargets refuses output paths that no flag can make safe, because
// writing them would destroy something: a path that resolves into the CA home
// (the root key, the record), a target that is not a regular file (writing
// replaces a device, FIFO, socket or symbolic link with a regular file), a
// folder, and two outputs that are the same file. It changes nothing.
func checkTargets(home string, targets []outputTarget) error {
	homeInfo, err := os.Stat(home)
	if err != nil {
		return fmt.Errorf("checking the CA home %q: %w", home, err)
	}
	type placed struct {
		outputTarget
		dir  os.FileInfo // the resolved parent folder
		base string
		file os.FileInfo // nil when the file does not exist yet
	}
	var done []placed
	for _, t := range targets {
		dir := filepath.Dir(t.Path)
		if di, err := os.Stat(dir); err != nil || !di.IsDir() {
			return withHints(fmt.Errorf("cannot write %q: the folder %q does not exist", t.Path, dir),
				"create the folder first, or choose another path")
		}
		realDir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return fmt.Errorf("checking %q: %w", t.Path, err)
		}
		resolved := filepath.Join(realDir, filepath.Base(t.Path))
		fi, err := os.Lstat(t.Path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checking %q: %w", t.Path, err)
		}
		if fi != nil && fi.Mode()&fs.ModeSymlink != 0 {
			// A link is refused below whatever it points to; if it points
			// into the CA home, that is the better reason to give.
			if r, err := filepath.EvalSymlinks(t.Path); err == nil {
				resolved = r
			}
		}
		if within(filepath.Dir(resolved), homeInfo) {
			return insideHomeError(t, resolved, home)
		}
		if fi != nil {
			if err := checkRegular(t, fi); err != nil {
				return err
			}
		}
		p := placed{outputTarget: t, base: filepath.Base(t.Path), file: fi}
		if p.dir, err = os.Stat(realDir); err != nil {
			return fmt.Errorf("checking %q: %w", t.Path, err)
		}
		for _, q := range done {
			sameName := os.SameFile(p.dir, q.dir) && p.base == q.base
			sameFile := p.file != nil && q.file != nil && os.SameFile(p.file, q.file)
			if sameName || sameFile {
				return usageErrorf("the %s and the %s would both be written to the same file (%q and %q); give them different names",
					q.What, t.What, q.Path, t.Path)
			}
		}
		done = append(done, p)
	}
	return nil
}

// within reports whether dir is the folder home or inside it. Comparing
// folders by identity rather than by name also catches a home reached
// through a bind mount or with different letter case.
func within(dir string, home os.FileInfo) bool {
	for {
		if fi, err := os.Stat(dir); err == nil && os.SameFile(fi, home) {
			return true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}

// insideHomeError explains why a path into the CA home is refused. It does
// not mention --force: nothing overrides this.
func insideHomeError(t outputTarget, resolved, home string) error {
	where := fmt.Sprintf("%q is inside the CA home %q", t.Path, home)
	if filepath.Clean(resolved) != filepath.Clean(t.Path) {
		where = fmt.Sprintf("%q resolves to %q, inside the CA home %q", t.Path, resolved, home)
	}
	return withHints(fmt.Errorf("refusing to write the %s: %s, where devca keeps the root key and its record", t.What, where),
		"write certificates and keys outside the CA home (DEVCA_HOME), for example in your project folder")
}

// checkRegular refuses an existing target that is not a regular file:
// devca writes a new file and renames it into place, which would replace a
// device, pipe, socket or link rather than write into it.
func checkRegular(t outputTarget, fi os.FileInfo) error {
	switch {
	case fi.IsDir():
		return withHints(fmt.Errorf("cannot write the %s to %q: it is a folder", t.What, t.Path),
			"choose a file name with --cert-file, --key-file or --p12-file")
	case fi.Mode()&fs.ModeSymlink != 0:
		return withHints(fmt.Errorf("refusing to write the %s to %q: it is a symbolic link, which devca would replace rather than follow", t.What, t.Path),
			"name the file the link points to, or remove the link first")
	case !fi.Mode().IsRegular():
		hints := []string{"choose a regular file"}
		if t.What == "certificate" {
			hints = append(hints, "to print the certificate, pass --cert-file - (standard output)")
		}
		return withHints(fmt.Errorf("refusing to write the %s to %q: it is %s, not a regular file", t.What, t.Path, ca.FileKind(fi.Mode())), hints...)
	}
	return nil
}

// checkOverwrite runs checkTargets and then refuses to replace a file that
// devca did not write, unless force is set. Files named in the CA's record
// are devca's. (Only renew also compares contents with the record: after a
// crash mid-publication the files may hold a certificate whose record line
// never landed, and issuing again is how that is repaired.)
func checkOverwrite(auth *ca.Authority, targets []outputTarget, force bool) error {
	if err := checkTargets(auth.Dir, targets); err != nil {
		return err
	}
	if force {
		return nil
	}
	var existing []outputTarget
	var paths []string
	for _, t := range targets {
		if _, err := os.Lstat(t.Path); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		existing, paths = append(existing, t), append(paths, t.Path)
	}
	if len(existing) == 0 {
		return nil
	}
	written, err := auth.Wrote(paths...)
	if err != nil {
		return err
	}
	for _, t := range existing {
		if !written[t.Path] {
			return withHints(fmt.Errorf("refusing to overwrite %q: devca did not write it", t.Path),
				"move it away, choose other names with --cert-file/--key-file, or pass --force to replace it")
		}
	}
	return nil
}

// baseName turns the first name and the count of the others into the file
// name stem mkcert users know: "localhost+2", "_wildcard.app.test".
func baseName(names ca.Names) string {
	first := names[0].Value
	first = strings.ReplaceAll(first, "*", "_wildcard")
	var b strings.Builder
	for _, r := range first {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '@', r == '+':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), ".")
	if s == "" {
		s = "cert"
	}
	if len(names) > 1 {
		s += fmt.Sprintf("+%d", len(names)-1)
	}
	return s
}

// absPath makes p absolute for the record, so renew finds it from anywhere.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// displayPath shows a path relative to the working folder when it is inside
// it, as people typed it.
func displayPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return "." + string(filepath.Separator) + rel
		}
	}
	return p
}
