package ca

import (
	"path/filepath"
	"testing"
	"time"
)

// Two roots made on one machine by one user on one day must still differ in
// subject: NSS files all certificates of a subject under one nickname, so a
// replaced root would otherwise shadow the new one in Chromium and Firefox.
func TestRootSubjectsAreUnique(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC) }
	opts := CreateOptions{User: "dev", Host: "box", Now: now}
	a, err := Create(filepath.Join(t.TempDir(), "a"), opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Create(filepath.Join(t.TempDir(), "b"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Cert.Subject.String() == b.Cert.Subject.String() {
		t.Errorf("two roots share the subject %q", a.Cert.Subject)
	}
	if a.Cert.Subject.CommonName != b.Cert.Subject.CommonName {
		t.Errorf("common names differ (%q, %q); they should stay readable and alike", a.Cert.Subject.CommonName, b.Cert.Subject.CommonName)
	}
}
