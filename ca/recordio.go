package ca

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"unicode/utf8"
)

// How the record survives damage. The record is only ever appended to, so
// a process killed (or a disk that fills up) mid-write can leave an
// unfinished last line. The writer cuts such a line off under the CA home's
// lock before appending, and rolls back its own partial write when the write
// fails; readers ignore an unfinished last line (it may be a write in
// progress) and skip any other line they cannot read with a RecordWarning,
// so that one bad line never makes the whole record unusable.

// RecordWarning describes a line of the certificate record that devca could
// not read and skipped. The certificate it describes is then unknown to list
// and renew, and its files count as not written by devca.
type RecordWarning struct {
	// File is the record's path and Line the 1-based line number.
	File string
	Line int
	Err  error
}

func (w RecordWarning) String() string {
	return fmt.Sprintf("skipped line %d of the certificate record %q: %v; list and renew leave out the certificate it describes; to repair, fix or delete that line (the other lines are safe)",
		w.Line, w.File, w.Err)
}

// errNoSerial marks a record line that is valid JSON but no entry.
var errNoSerial = errors.New("it names no serial number")

// readRecord reads the record at path: its entries, oldest first, and a
// warning for each line that was skipped. A missing record is empty.
func readRecord(path string) ([]Issued, []RecordWarning, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the certificate record: %w", err)
	}
	recordBytesRead.Add(int64(len(data)))
	var entries []Issued
	var warnings []RecordWarning
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		e, err := parseRecordLine(line)
		if err != nil {
			if complete {
				warnings = append(warnings, RecordWarning{File: path, Line: n, Err: err})
			}
			// An unfinished last line was never acknowledged to anyone,
			// or is being written right now: not worth a warning.
			continue
		}
		entries = append(entries, e)
	}
	return entries, warnings, nil
}

// parseRecordLine decodes one line of the record.
func parseRecordLine(line []byte) (Issued, error) {
	var e Issued
	if err := json.Unmarshal(line, &e); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return Issued{}, fmt.Errorf("it is not valid JSON (%v)", err)
		}
		return Issued{}, fmt.Errorf("it is not a certificate entry (%v)", err)
	}
	if e.Serial == "" {
		return Issued{}, errNoSerial
	}
	e.ReplacedBy = ""
	return e, nil
}

// appendRecord adds e as one line at the end of the record in the CA home
// dir. The caller holds the home's lock. An unfinished last line left by an
// interrupted writer is cut off first (or, when it is a whole entry that only
// lacks its newline, kept and terminated), and a write that fails part-way is
// rolled back, so the record never keeps a torn line.
func appendRecord(dir string, e Issued) error {
	e.ReplacedBy = ""
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding the certificate record: %w", err)
	}
	path := filepath.Join(dir, recordFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, KeyPerm)
	if err != nil {
		return fmt.Errorf("opening the certificate record: %w", err)
	}
	defer f.Close()
	end, terminate, err := recordTail(f)
	if err != nil {
		return fmt.Errorf("reading the end of the certificate record %q: %w", path, err)
	}
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("cutting an unfinished line off the certificate record %q: %w", path, err)
	}
	out := make([]byte, 0, len(line)+2)
	if terminate {
		out = append(out, '\n')
	}
	out = append(append(out, line...), '\n')
	if _, err := f.WriteAt(out, end); err != nil {
		// A full disk or quota can fail the write part-way: take back what
		// landed, so the record keeps whole lines only.
		f.Truncate(end)
		return fmt.Errorf("writing the certificate record %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Truncate(end)
		return fmt.Errorf("syncing the certificate record %q: %w", path, err)
	}
	return nil
}

// tailChunk is how much of the record recordTail reads at a time, backwards
// from its end: one read normally covers the last line.
const tailChunk = 4096

// recordTail finds where the next line of the record f should start: end is
// the size to keep, and terminate says a newline must be written first.
// Normally end is the file's size. When the file ends in an unfinished line,
// end is just after the last newline (cutting the line off), unless that line
// is a whole entry that only lacks its newline (a person's editor may save it
// so): then it is kept and terminated.
func recordTail(f *os.File) (end int64, terminate bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	size := fi.Size()
	if size == 0 {
		return 0, false, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, false, err
	}
	recordBytesRead.Add(1)
	if last[0] == '\n' {
		return size, false, nil
	}
	// Search backwards for the newline that ends the last whole line.
	start := int64(0)
	buf := make([]byte, tailChunk)
	for pos := size; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return 0, false, err
		}
		recordBytesRead.Add(n)
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			start = pos + int64(i) + 1
			break
		}
	}
	tail := make([]byte, size-start)
	if _, err := f.ReadAt(tail, start); err != nil && err != io.EOF {
		return 0, false, err
	}
	recordBytesRead.Add(int64(len(tail)))
	if _, err := parseRecordLine(tail); err == nil {
		return size, true, nil
	}
	return start, false, nil
}

// recordBytesRead counts the bytes read from certificate records, so that
// tests can tell how much of the record an operation reads.
var recordBytesRead atomic.Int64

// backChunk is how much of the record scanRecordBackward reads at a time.
const backChunk = 64 << 10

// scanRecordBackward calls visit with each non-blank line of the record at
// path, last first, with the offset where the line starts and whether it
// ends in a newline, until visit returns false. It reads the record from its
// end in chunks, so a scan that stops early reads only the lines after the
// one it stopped at (and a chunk's worth before). A missing record has no
// lines.
func scanRecordBackward(path string, visit func(off int64, line []byte, complete bool) bool) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the certificate record: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading the certificate record: %w", err)
	}
	// data holds the record's bytes from pos up to the end of the line
	// visited next, its newline excluded.
	pos, data := fi.Size(), []byte(nil)
	readBack := func() error {
		n := min(int64(backChunk), pos)
		pos -= n
		buf := make([]byte, n+int64(len(data)))
		if _, err := f.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return fmt.Errorf("reading the certificate record: %w", err)
		}
		recordBytesRead.Add(n)
		copy(buf[n:], data)
		data = buf
		return nil
	}
	if err := readBack(); err != nil {
		return err
	}
	// A record that does not end in a newline ends in an unfinished line.
	complete := bytes.HasSuffix(data, []byte("\n"))
	if complete {
		data = data[:len(data)-1]
	}
	for {
		i := bytes.LastIndexByte(data, '\n')
		if i < 0 && pos > 0 {
			if err := readBack(); err != nil {
				return err
			}
			continue
		}
		line := data[i+1:]
		if len(bytes.TrimSpace(line)) > 0 && !visit(pos+int64(i+1), line, complete) {
			return nil
		}
		if i < 0 {
			return nil
		}
		data, complete = data[:i], true
	}
}

// recordLineNumber returns the 1-based number of the line starting at off in
// the record at path, for a warning. It reads the record up to off, which is
// fine for the rare damaged line.
func recordLineNumber(path string, off int64) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	data := make([]byte, off)
	n, _ := io.ReadFull(f, data)
	recordBytesRead.Add(int64(n))
	return bytes.Count(data[:n], []byte("\n")) + 1
}

// searchRecord reads the record at path backwards, last entry first, and
// calls found with each entry whose line holds one of values as a JSON
// string, until found returns false. A line that holds none of them is not
// decoded: that is what makes a search cheap. It warns about the damaged
// lines that it had to decode.
func searchRecord(path string, values []string, found func(off int64, e Issued) bool) ([]RecordWarning, error) {
	needles := make([][]byte, len(values))
	for i, v := range values {
		needles[i] = jsonStringMinimal(v)
	}
	var warnings []RecordWarning
	err := scanRecordBackward(path, func(off int64, line []byte, complete bool) bool {
		if !mayHoldAny(line, needles) {
			return true
		}
		e, err := parseRecordLine(line)
		if err != nil {
			if complete {
				warnings = append(warnings, RecordWarning{File: path, Line: recordLineNumber(path, off), Err: err})
			}
			return true
		}
		return found(off, e)
	})
	// The scan met the damaged lines last first.
	slices.Reverse(warnings)
	return warnings, err
}

// jsonStringMinimal encodes s as a JSON string escaping only what JSON
// requires: quotes, backslashes and control characters.
func jsonStringMinimal(s string) []byte {
	b := []byte{'"'}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = fmt.Appendf(b, `\u%04x`, c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// mayHoldAny reports whether line may hold one of needles (JSON strings as
// jsonStringMinimal writes them) as a string value. A line holds the value
// needle encodes only if it contains needle literally, unless it writes some
// string differently: with an escape other than \" and \\ (json.Marshal
// writes <, > and & as \u003c and so on) or with bytes that are not UTF-8
// (which decode to U+FFFD). Such lines are decoded to be sure.
func mayHoldAny(line []byte, needles [][]byte) bool {
	for _, n := range needles {
		if bytes.Contains(line, n) {
			return true
		}
	}
	for i := bytes.IndexByte(line, '\\'); i >= 0 && i+1 < len(line); {
		if c := line[i+1]; c != '"' && c != '\\' {
			return true
		}
		j := bytes.IndexByte(line[i+2:], '\\')
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return !utf8.Valid(line)
}
