package ca

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultHome(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	for _, tc := range []struct {
		name string
		goos string
		env  map[string]string
		want string
	}{
		{"ok/DEVCA_HOME wins", "linux", map[string]string{"DEVCA_HOME": "/srv/ca", "XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}, "/srv/ca"},
		{"ok/DEVCA_HOME relative is made absolute", "linux", map[string]string{"DEVCA_HOME": "rel/ca", "HOME": "/home/u"}, filepath.Join(cwd, "rel/ca")},
		{"ok/DEVCA_HOME cleaned", "linux", map[string]string{"DEVCA_HOME": "/srv//ca/../ca/"}, "/srv/ca"},
		{"ok/DEVCA_HOME on windows", "windows", map[string]string{"DEVCA_HOME": "/srv/ca", "LocalAppData": "/lad"}, "/srv/ca"},
		{"ok/XDG_DATA_HOME absolute", "linux", map[string]string{"XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/devca"},
		{"ok/XDG_DATA_HOME relative is ignored", "linux", map[string]string{"XDG_DATA_HOME": "xdg", "HOME": "/home/u"}, "/home/u/.local/share/devca"},
		{"ok/HOME fallback", "linux", map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/devca"},
		{"ok/freebsd like linux", "freebsd", map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/devca"},
		{"ok/darwin", "darwin", map[string]string{"HOME": "/Users/u", "XDG_DATA_HOME": "/xdg"}, "/Users/u/Library/Application Support/devca"},
		{"ok/windows LocalAppData", "windows", map[string]string{"LocalAppData": "/lad", "HOME": "/home/u"}, "/lad/devca"},
		{"fail/linux without HOME", "linux", map[string]string{"XDG_DATA_HOME": "relative"}, ""},
		{"fail/darwin without HOME", "darwin", map[string]string{"XDG_DATA_HOME": "/xdg"}, ""},
		{"fail/windows without LocalAppData", "windows", map[string]string{"HOME": "/home/u"}, ""},
		{"fail/nothing set", "linux", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DefaultHome(func(k string) string { return tc.env[k] }, tc.goos)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("DefaultHome = %q, want an error", got)
				}
				if !strings.Contains(err.Error(), "DEVCA_HOME") {
					t.Errorf("err %q should suggest DEVCA_HOME", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("DefaultHome = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing os.FileMode // 0: no existing file
		perm     os.FileMode
	}{
		{"ok/new key", 0, KeyPerm},
		{"ok/new cert", 0, CertPerm},
		{"ok/replace a world-readable file with a key", 0o644, KeyPerm},
		{"ok/replace a key with a cert", 0o600, CertPerm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.pem")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("old content that is longer"), tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFileAtomic(path, []byte("new"), tc.perm); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil || string(data) != "new" {
				t.Errorf("content = %q, %v", data, err)
			}
			if got := fileMode(t, path); got != tc.perm {
				t.Errorf("mode %04o, want %04o", got, tc.perm)
			}
			assertOnlyFiles(t, dir, "f.pem")
		})
	}

	t.Run("ok/relative path", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		if err := WriteFileAtomic("rel.pem", []byte("x"), CertPerm); err != nil {
			t.Fatal(err)
		}
		assertOnlyFiles(t, dir, "rel.pem")
	})

	t.Run("fail/missing folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := WriteFileAtomic(filepath.Join(dir, "nope", "f.pem"), []byte("x"), KeyPerm); err == nil {
			t.Error("WriteFileAtomic into a missing folder succeeded")
		}
		assertOnlyFiles(t, dir)
	})

	t.Run("fail/target is a folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "f.pem"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(filepath.Join(dir, "f.pem"), []byte("x"), KeyPerm); err == nil {
			t.Error("WriteFileAtomic over a folder succeeded")
		}
		// The temporary file is gone after the failed rename.
		assertOnlyFiles(t, dir, "f.pem")
	})
}

// assertOnlyFiles fails unless dir holds exactly names.
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Errorf("%s holds %q, want %q (temporary files left behind?)", dir, got, names)
	}
}
