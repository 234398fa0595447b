package ca

import (
	"errors"
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
	entries, err := a.Entries()
	if err != nil || len(entries) != 0 {
		t.Fatalf("a new CA has entries %v, %v", entries, err)
	}
	names := mustNames(t, "app.test", "127.0.0.1")
	leaf, err := a.Issue(LeafRequest{Names: names, KeyType: RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e := NewEntry(leaf, names, now)
	if e.Serial != leaf.Cert.SerialNumber.Text(16) || !slices.Equal(e.Names, []string{"app.test", "127.0.0.1"}) ||
		e.Fingerprint != Fingerprint(leaf.Cert) || e.KeyType != string(RSA2048) ||
		!e.NotAfter.Equal(leaf.Cert.NotAfter) || !e.IssuedAt.Equal(now.UTC().Truncate(time.Second)) || !e.Current() {
		t.Errorf("NewEntry = %+v", e)
	}
	e.CertFile = filepath.Join(t.TempDir(), "app.test+1.pem")
	e.KeyFile = filepath.Join(t.TempDir(), "app.test+1-key.pem")
	if err := a.AddEntry(e); err != nil {
		t.Fatal(err)
	}
	if mode := fileMode(t, filepath.Join(a.Dir, RecordFile)); mode != KeyPerm {
		t.Errorf("record mode %04o, want %04o", mode, KeyPerm)
	}

	// A fresh Load sees the entry exactly.
	b, err := Load(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err = b.Entries()
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
			got, err := b.WroteFile(tc.path)
			if err != nil || got != tc.want {
				t.Errorf("WroteFile = %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	// UpdateRecord replaces entries; a failing change leaves the record alone.
	if err := b.UpdateRecord(func(es []Entry) ([]Entry, error) {
		es[0].ReplacedBy = "abc"
		return append(es, Entry{Serial: "abc", P12File: "/tmp/x.p12"}), nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := b.UpdateRecord(func(es []Entry) ([]Entry, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("UpdateRecord err = %v, want the change's error", err)
	}
	entries, _ = b.Entries()
	if len(entries) != 2 || entries[0].Current() || !entries[1].Current() {
		t.Errorf("Entries after update = %+v", entries)
	}
	if ok, _ := b.WroteFile("/tmp/x.p12"); !ok {
		t.Error("WroteFile misses a recorded PKCS#12 file")
	}

	// A damaged record is an error, not an empty record that the next
	// AddEntry would overwrite.
	if err := os.WriteFile(filepath.Join(a.Dir, RecordFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Entries(); err == nil {
		t.Error("Entries read a damaged record")
	}
	if err := b.AddEntry(Entry{Serial: "1"}); err == nil {
		t.Error("AddEntry overwrote a damaged record")
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
				err = b.AddEntry(Entry{Serial: fmt.Sprint(i)})
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
	entries, err := a.Entries()
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
