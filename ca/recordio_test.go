package ca

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	lineA = `{"serial":"a","cert_file":"/x/a.pem"}` + "\n"
	lineB = `{"serial":"b","cert_file":"/x/b.pem"}` + "\n"
)

// appendRecord cuts off an unfinished last line before it appends, so that a
// torn write never becomes a damaged line in the middle of the record.
func TestAppendRecordRepairsTail(t *testing.T) {
	// newLine stands for the appended entry in the table below.
	const newLine = "NEW\n"
	line, err := json.Marshal(Issued{Serial: "new"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		before string // "" with missing set means no file at all
		want   string
	}{
		{"ok/no record yet", "", newLine},
		{"ok/whole lines", lineA + lineB, lineA + lineB + newLine},
		{"ok/torn last line cut off", lineA + `{"serial":"to`, lineA + newLine},
		{"ok/torn only line cut off", `{"ser`, newLine},
		{"ok/blank tail cut off", lineA + "   ", lineA + newLine},
		{"ok/long torn line cut off", lineA + strings.Repeat("x", 3*tailChunk+7), lineA + newLine},
		{"ok/torn line ending on a chunk edge", lineA + strings.Repeat("x", tailChunk), lineA + newLine},
		// A person's editor may save the last line without its newline: a
		// whole entry is kept.
		{"ok/whole entry without newline kept", lineA + strings.TrimSuffix(lineB, "\n"), lineA + lineB + newLine},
		// Damage in the middle is left for a person to repair, never
		// silently removed.
		{"ok/damaged middle line kept", lineA + "garbage\n" + lineB, lineA + "garbage\n" + lineB + newLine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.ReplaceAll(tc.want, newLine, string(line)+"\n")
			dir := t.TempDir()
			path := filepath.Join(dir, recordFile)
			if tc.before != "" {
				if err := os.WriteFile(path, []byte(tc.before), KeyPerm); err != nil {
					t.Fatal(err)
				}
			}
			if err := appendRecord(dir, Issued{Serial: "new"}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("record after append:\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// readRecord skips what it cannot read, with a warning naming the line,
// instead of failing the whole record.
func TestReadRecordSkipsDamagedLines(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		serials []string
		lines   []int  // lines warned about
		reason  string // in the first warning
	}{
		{"ok/clean", lineA + lineB, []string{"a", "b"}, nil, ""},
		{"ok/blank lines", "\n" + lineA + "  \n" + lineB, []string{"a", "b"}, nil, ""},
		{"ok/torn last line is silent", lineA + `{"serial":"b`, []string{"a"}, nil, ""},
		{"ok/whole last entry without newline", lineA + strings.TrimSuffix(lineB, "\n"), []string{"a", "b"}, nil, ""},
		{"fail/garbage middle line", lineA + "garbage\n" + lineB, []string{"a", "b"}, []int{2}, "not valid JSON"},
		{"fail/terminated torn line", lineA + `{"serial":"to` + "\n" + lineB, []string{"a", "b"}, []int{2}, "not valid JSON"},
		{"fail/not an object", "[1]\n" + lineA, []string{"a"}, []int{1}, "not a certificate entry"},
		{"fail/no serial", lineA + "{}\nnull\n" + lineB, []string{"a", "b"}, []int{2, 3}, "names no serial"},
		{"fail/wrong field type", `{"serial":"c","names":"x"}` + "\n" + lineB, []string{"b"}, []int{1}, "not a certificate entry"},
		{"fail/binary", "\x00\xff\xfe\n" + lineA, []string{"a"}, []int{1}, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), recordFile)
			if err := os.WriteFile(path, []byte(tc.data), KeyPerm); err != nil {
				t.Fatal(err)
			}
			entries, warnings, err := readRecord(path)
			if err != nil {
				t.Fatal(err)
			}
			var serials []string
			for _, e := range entries {
				serials = append(serials, e.Serial)
			}
			if !slices.Equal(serials, tc.serials) {
				t.Errorf("serials %v, want %v", serials, tc.serials)
			}
			var lines []int
			for _, w := range warnings {
				lines = append(lines, w.Line)
				if w.File != path {
					t.Errorf("warning names file %q, want %q", w.File, path)
				}
			}
			if !slices.Equal(lines, tc.lines) {
				t.Errorf("warned about lines %v, want %v", lines, tc.lines)
			}
			if len(warnings) > 0 {
				msg := warnings[0].String()
				for _, want := range []string{tc.reason, "line " + strconv.Itoa(tc.lines[0]), path, "to repair, fix or delete that line"} {
					if !strings.Contains(msg, want) {
						t.Errorf("warning %q lacks %q", msg, want)
					}
				}
			}
		})
	}
}

// Entries reports each damaged line once per Authority, however often the
// record is read, and the warnings go to the caller rather than anywhere
// else.
func TestEntriesRecordWarningsOnce(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	path := filepath.Join(a.Dir, recordFile)
	if err := os.WriteFile(path, []byte(lineA+"garbage\n"+lineB), KeyPerm); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		entries, err := a.Record()
		if err != nil || len(entries) != 2 || entries[0].ReplacedBy != "" {
			t.Fatalf("Entries = %+v, %v", entries, err)
		}
		if _, err := a.WrittenFiles(); err != nil {
			t.Fatal(err)
		}
	}
	if ws := a.RecordWarnings(); len(ws) != 1 || ws[0].Line != 2 {
		t.Errorf("RecordWarnings = %v, want one for line 2", ws)
	}
	a.Record()
	if ws := a.RecordWarnings(); len(ws) != 0 {
		t.Errorf("RecordWarnings after reporting = %v, want none", ws)
	}
}

// A crash after the journal was saved but before the record line was whole
// still ends with the files in place and recorded (by the next Load).
func TestRecoverPendingRecordsEntry(t *testing.T) {
	a := newTestCA(t, ECDSAP256)
	out := t.TempDir()
	final := filepath.Join(out, "app.pem")
	tmp, err := writeTemp(outputFile{Path: final, Data: []byte("cert"), Perm: CertPerm})
	if err != nil {
		t.Fatal(err)
	}
	entry := Issued{Serial: "c0ffee", CertFile: final}
	if _, err := saveJournal(a.Dir, journal{Renames: [][2]string{{tmp, final}}, Issued: &entry}); err != nil {
		t.Fatal(err)
	}
	// The append was cut short.
	if err := os.WriteFile(filepath.Join(a.Dir, recordFile), []byte(lineA+`{"serial":"c0f`), KeyPerm); err != nil {
		t.Fatal(err)
	}
	b, err := Load(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(final); err != nil || string(data) != "cert" {
		t.Errorf("file after recovery: %q, %v", data, err)
	}
	entries, err := b.Record()
	if err != nil || len(entries) != 2 || entries[1].Serial != "c0ffee" || entries[1].CertFile != final {
		t.Errorf("entries after recovery = %+v, %v", entries, err)
	}
	if ws := b.RecordWarnings(); len(ws) != 0 {
		t.Errorf("warnings after recovery: %v", ws)
	}
	// Recovering again (a journal left by a crash after the append) adds
	// nothing twice.
	if err := ensureRecorded(a.Dir, entry); err != nil {
		t.Fatal(err)
	}
	if entries, _ := b.Record(); len(entries) != 2 {
		t.Errorf("entries after a second recovery = %d, want 2", len(entries))
	}
}
