package ca

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	entries, err := a.Record()
	if err != nil || len(entries) != 0 {
		t.Fatalf("a new CA has entries %v, %v", entries, err)
	}
	names := mustNames(t, "app.test", "127.0.0.1")
	leaf, err := a.Issue(LeafRequest{Names: names, KeyType: RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e := newIssued(leaf, names, now)
	if e.Serial != leaf.Cert.SerialNumber.Text(16) || !slices.Equal(e.Names, []string{"app.test", "127.0.0.1"}) ||
		e.Fingerprint != Fingerprint(leaf.Cert) || e.KeyType != string(RSA2048) ||
		!e.NotAfter.Equal(leaf.Cert.NotAfter) || !e.IssuedAt.Equal(now.UTC().Truncate(time.Second)) || !e.Current() {
		t.Errorf("NewEntry = %+v", e)
	}
	e.CertFile = filepath.Join(t.TempDir(), "app.test+1.pem")
	e.KeyFile = filepath.Join(t.TempDir(), "app.test+1-key.pem")
	if err := a.addEntry(e); err != nil {
		t.Fatal(err)
	}
	if mode := fileMode(t, filepath.Join(a.Dir, recordFile)); mode != KeyPerm {
		t.Errorf("record mode %04o, want %04o", mode, KeyPerm)
	}

	// A fresh Load sees the entry exactly.
	b, err := Load(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err = b.Record()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Serial != e.Serial || entries[0].CertFile != e.CertFile || !entries[0].NotAfter.Equal(e.NotAfter) {
		t.Fatalf("Entries = %+v, want [%+v]", entries, e)
	}

	for _, tc := range []struct {
		path string
		want bool
	}{
		{e.CertFile, true},
		{e.KeyFile, true},
		{filepath.Join(t.TempDir(), "other.pem"), false},
	} {
		t.Run(fmt.Sprintf("WroteFile(%q)", tc.path), func(t *testing.T) {
			got, err := wroteFile(b, tc.path)
			if err != nil || got != tc.want {
				t.Errorf("WroteFile = %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	// A later entry for the same certificate file replaces the earlier one.
	first := entries[0]
	if err := b.addEntry(Issued{Serial: "abc", CertFile: first.CertFile, P12File: "/tmp/x.p12"}); err != nil {
		t.Fatal(err)
	}
	entries, _ = b.Record()
	if len(entries) != 2 || entries[0].ReplacedBy != "abc" || !entries[1].Current() {
		t.Errorf("Entries after re-issue = %+v", entries)
	}
	if ok, _ := wroteFile(b, "/tmp/x.p12"); !ok {
		t.Error("WroteFile misses a recorded PKCS#12 file")
	}

	// A torn last line (a write cut short) is ignored, and the next append
	// cuts it off instead of burying it mid-record (recordio_test.go has
	// the details).
	recordPath := filepath.Join(a.Dir, recordFile)
	f, err := os.OpenFile(recordPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"serial":"torn`)
	f.Close()
	if entries, err := b.Record(); err != nil || len(entries) != 2 {
		t.Errorf("Entries with a torn last line = %d entries, %v; want 2, nil", len(entries), err)
	}
	if err := b.addEntry(Issued{Serial: "after"}); err != nil {
		t.Fatal(err)
	}
	if entries, err := b.Record(); err != nil || len(entries) != 3 || entries[2].Serial != "after" {
		t.Errorf("Entries after appending to a torn record = %+v, %v", entries, err)
	}
	if ws := b.RecordWarnings(); len(ws) != 0 {
		t.Errorf("warnings after a torn line was cut off: %v", ws)
	}
	data, _ := os.ReadFile(recordPath)
	if bytes.Contains(data, []byte("torn")) || !bytes.Contains(data, []byte("}\n{\"serial\":\"after\"")) || !bytes.HasSuffix(data, []byte("}\n")) {
		t.Errorf("record after a torn write:\n%s", data)
	}
}

// Concurrent writers (goroutines here, devca processes in real life) hold
// the home's file lock, so no entry is lost.
func TestRecordConcurrentAddEntry(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Authority values, as separate processes would have.
			b, err := Load(a.Dir)
			if err == nil {
				err = b.addEntry(Issued{Serial: fmt.Sprint(i)})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, err := a.Record()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Serial] = true
	}
	if len(entries) != n || len(seen) != n {
		t.Errorf("record holds %d entries (%d distinct), want %d", len(entries), len(seen), n)
	}
}

// wroteFile reports whether the record of a names path as a written file.
func wroteFile(a *Authority, path string) (bool, error) {
	files, err := a.WrittenFiles()
	return files[path], err
}
