package ca

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadInputFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", size)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const limit = 100
	atLimit := write("at-limit", limit)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(atLimit, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		want string // in the error; "" for success
	}{
		{"ok/small", write("small", 3), ""},
		{"ok/at the limit", atLimit, ""},
		{"ok/symlink to a file", link, ""},
		{"fail/over the limit", write("over", limit+1), "is larger than 100 bytes"},
		{"fail/folder", dir, "is a folder, not a regular file"},
		{"fail/missing", filepath.Join(dir, "missing"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := ReadInputFile(tc.path, limit)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := os.ReadFile(tc.path); string(data) != string(want) {
					t.Errorf("read %d bytes, want %d", len(data), len(want))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("ReadInputFile = %v, want an error naming %q with %q", err, tc.path, tc.want)
			}
		})
	}
	if _, err := ReadInputFile(filepath.Join(dir, "missing"), limit); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file gives %v, want fs.ErrNotExist", err)
	}
}
