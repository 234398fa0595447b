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

// checkOverwrite refuses to replace a file that devca did not write, unless
// force is set. Files named in the CA's record are devca's.
func checkOverwrite(auth *ca.Authority, files []ca.OutputFile, force bool) error {
	seen := map[string]bool{}
	var written map[string]bool // read from the record once, when first needed
	for _, f := range files {
		if seen[f.Path] {
			return usageErrorf("two outputs would both go to %q; give them different names", f.Path)
		}
		seen[f.Path] = true
		if di, err := os.Stat(filepath.Dir(f.Path)); err != nil || !di.IsDir() {
			return withHints(fmt.Errorf("cannot write %q: the folder %q does not exist", f.Path, filepath.Dir(f.Path)),
				"create the folder first, or choose another path")
		}
		fi, err := os.Lstat(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("checking %q: %w", f.Path, err)
		}
		if fi.IsDir() {
			return withHints(fmt.Errorf("%q is a folder", f.Path), "choose a file name with --cert-file, --key-file or --p12-file")
		}
		if force {
			continue
		}
		if written == nil {
			if written, err = auth.WrittenFiles(); err != nil {
				return err
			}
		}
		if !written[f.Path] || fi.Mode()&fs.ModeSymlink != 0 {
			return withHints(fmt.Errorf("refusing to overwrite %q: devca did not write it", f.Path),
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
			return "./" + rel
		}
	}
	return p
}
