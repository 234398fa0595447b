package ca

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// copyHome copies the named files of the CA home from into a new home.
func copyHome(t *testing.T, from string, names ...string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(to, DirPerm); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, n), data, KeyPerm); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// A home with the key or ca.json but no root certificate is an
// IncompleteError for Load, Create and Import alike, and neither writes a
// thing into it.
func TestIncompleteHome(t *testing.T) {
	full := newTestCA(t, ECDSAP256)
	for _, tc := range []struct {
		name  string
		files []string
		want  []string // IncompleteError.Files; nil means ErrNoCA
	}{
		{"ok/empty", nil, nil},
		{"ok/only the record", []string{recordFile}, nil},
		{"ok/only a temporary copy", []string{".rootCA-key.pem.tmp-1"}, nil},
		{"fail/key and metadata", []string{RootKeyFile, metaFile}, []string{metaFile, RootKeyFile}},
		{"fail/key", []string{RootKeyFile}, []string{RootKeyFile}},
		{"fail/metadata", []string{metaFile, recordFile}, []string{metaFile}},
		{"fail/encrypted key", []string{"rootCA-key.0123456789abcdef.p12"}, []string{"rootCA-key.0123456789abcdef.p12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := filepath.Join(t.TempDir(), "home")
			if err := os.Mkdir(home, DirPerm); err != nil {
				t.Fatal(err)
			}
			for _, n := range tc.files {
				src := filepath.Join(full.Dir, n)
				data, err := os.ReadFile(src)
				if err != nil {
					data = []byte("x")
				}
				if err := os.WriteFile(filepath.Join(home, n), data, KeyPerm); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(home)
			var inc *IncompleteError
			if tc.want == nil {
				if !errors.Is(err, ErrNoCA) {
					t.Fatalf("Load = %v, want ErrNoCA", err)
				}
				return
			}
			if !errors.As(err, &inc) || !slices.Equal(inc.Files, tc.want) || inc.Dir != home {
				t.Fatalf("Load = %#v, want an IncompleteError for %v", err, tc.want)
			}
			if slices.Contains(tc.files, metaFile) && inc.Fingerprint != full.Meta.Fingerprint {
				t.Errorf("Fingerprint = %q, want ca.json's %q", inc.Fingerprint, full.Meta.Fingerprint)
			}
			before := listHome(t, home)
			if _, err := Create(home, CreateOptions{}); !errors.As(err, &inc) {
				t.Errorf("Create = %v, want an IncompleteError", err)
			}
			key, _ := full.Signer()
			if _, err := Import(home, &ImportedRoot{Cert: full.Cert, Key: key}, ImportOptions{}); !errors.As(err, &inc) {
				t.Errorf("Import = %v, want an IncompleteError", err)
			}
			if after := listHome(t, home); !slices.Equal(after, before) {
				t.Errorf("the home changed: %v, was %v", after, before)
			}
		})
	}
}

// listHome lists a home's files with their sizes and modification times.
func listHome(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == lockFile {
			continue
		}
		out = append(out, e.Name()+" "+fi.ModTime().String()+" "+fi.Mode().String())
	}
	return out
}

// A Load that finds the key without the certificate while a Create holds
// the lock is looking at a Create in progress: it waits and loads the CA.
func TestLoadWaitsForCreate(t *testing.T) {
	full := newTestCA(t, ECDSAP256)
	home := copyHome(t, full.Dir, RootKeyFile, metaFile)
	unlock, err := lockHome(home)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Load(home)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(home, RootCertFile), full.CertPEM, CertPerm); err != nil {
		t.Fatal(err)
	}
	unlock()
	if err := <-done; err != nil {
		t.Errorf("Load during a Create = %v, want the new CA", err)
	}
}

func TestRootFiles(t *testing.T) {
	home := t.TempDir()
	for _, n := range []string{
		RootCertFile, RootKeyFile, metaFile, recordFile, lockFile, "rootCA-key.0123456789abcdef.p12",
		".rootCA-key.pem.tmp-1", ".ca.json.tmp-2", ".rootCA.pem.tmp-3", ".rootCA-key.0123456789abcdef.p12.tmp-4",
		".issued.jsonl.tmp-5", "pending-00.json", "rootCA-key.x/y.p12", "trust.json", "notes.txt", ".rootCA.pem",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(home, n)), DirPerm)
		if err := os.WriteFile(filepath.Join(home, n), nil, KeyPerm); err != nil {
			t.Fatal(err)
		}
	}
	got, err := RootFiles(home)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".ca.json.tmp-2", ".rootCA-key.0123456789abcdef.p12.tmp-4", ".rootCA-key.pem.tmp-1", ".rootCA.pem.tmp-3",
		metaFile, "rootCA-key.0123456789abcdef.p12", RootKeyFile, RootCertFile}
	if !slices.Equal(got, want) {
		t.Errorf("RootFiles = %v\nwant %v", got, want)
	}
}
