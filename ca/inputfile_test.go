package ca

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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
	fifo := filepath.Join(dir, "fifo")
	if runtime.GOOS != "windows" {
		if out, err := exec.Command("mkfifo", fifo).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v: %s", err, out)
		}
	}
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
		{"fail/over the limit", write("over", limit+1), "the file is larger than 100 bytes"},
		{"fail/folder", dir, "it is a folder, not a regular file"},
		{"fail/missing", filepath.Join(dir, "missing"), "no such file"},
		{"fail/fifo", fifo, "it is a named pipe (FIFO), not a regular file"},
		{"fail/device", os.DevNull, "it is a character device, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && (tc.name == "fail/fifo" || tc.name == "fail/device") {
				t.Skip("no FIFOs or /dev/null on Windows")
			}
			var data []byte
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				data, err = ReadInputFile(tc.path, limit)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ReadInputFile blocked")
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := os.ReadFile(tc.path); string(data) != string(want) {
					t.Errorf("read %d bytes, want %d", len(data), len(want))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadInputFile = %v, want an error with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), tc.path) {
				t.Errorf("ReadInputFile = %v: callers name the file, the error should not", err)
			}
		})
	}
	if _, err := ReadInputFile(filepath.Join(dir, "missing"), limit); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file gives %v, want fs.ErrNotExist", err)
	}
}
