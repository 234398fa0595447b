package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestRecordFullDisk fills a real file system (a small tmpfs) so that an
// issue's append to the certificate record fails part-way, then frees space:
// the record must hold whole lines only, and list, issue, re-issue and renew
// must all work again (issue 9, item 3).
func TestRecordFullDisk(t *testing.T) {
	disk := mountSmallTmpfs(t)
	home, out := filepath.Join(disk, "home"), t.TempDir()
	record := filepath.Join(home, "issued.jsonl")
	mustRun(t, devcaCommand(t, home, out, "init", "--no-trust"))
	mustRun(t, devcaCommand(t, home, out, "issue", "first.test"))

	// Pad the record (with a blank line, which readers skip) so that its
	// last page has only a few bytes free: the next line starts there and
	// needs one more page to finish.
	page := os.Getpagesize()
	size := fileSize(t, record)
	pad := (page - int(size%int64(page)) - 64 + page) % page
	appendFile(t, record, strings.Repeat(" ", max(pad-1, 0))+"\n")
	before := readFile(t, record)

	// Fill the disk, then give back one page at a time until devca gets as
	// far as the record: earlier attempts fail sooner (saving the journal)
	// and must leave the record alone too.
	filler := filepath.Join(disk, "filler")
	full := fillDisk(t, filler, page)
	var failedOnRecord bool
	for free := 0; free <= 8 && !failedOnRecord; free++ {
		if err := os.Truncate(filler, full-int64(free*page)); err != nil {
			t.Fatal(err)
		}
		cmd := devcaCommand(t, home, out, "issue", "second.test")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil {
			t.Fatalf("with %d free pages, issue succeeded although the record could not grow", free)
		}
		if !strings.Contains(stderr.String(), "no space left on device") {
			t.Fatalf("with %d free pages, issue failed for another reason: %s", free, stderr.String())
		}
		failedOnRecord = strings.Contains(stderr.String(), "writing the certificate record")
		t.Logf("%d free pages: %s", free, strings.TrimSpace(stderr.String()))
		if got := readFile(t, record); !bytes.Equal(got, before) {
			t.Fatalf("a failed issue (%d free pages) changed the record; it ends\n%q\nwant\n%q", free, tail(got), tail(before))
		}
		if _, err := os.Stat(filepath.Join(out, "second.test.pem")); err == nil {
			t.Fatalf("a failed issue (%d free pages) left second.test.pem", free)
		}
	}
	if !failedOnRecord {
		t.Fatal("never got an issue to fail while appending to the record")
	}

	// Space again: everything works, and the record has only whole lines.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"list"},
		{"issue", "second.test"},
		{"issue", "first.test"}, // over the files devca wrote before
		{"renew", "--all"},
		{"list"},
	} {
		cmd := devcaCommand(t, home, out, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("devca %s after freeing space: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		if strings.Contains(stderr.String(), "warning") {
			t.Errorf("devca %s warns: %s", strings.Join(args, " "), stderr.String())
		}
	}
	data := readFile(t, record)
	if !bytes.HasSuffix(data, []byte("\n")) {
		t.Errorf("record ends in an unfinished line: %q", tail(data))
	}
	lines := 0
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		lines++
		if !json.Valid(line) {
			t.Errorf("record line is not JSON: %q", line)
		}
	}
	// first.test three times (issue, re-issue, renew), second.test twice.
	if lines != 5 {
		t.Errorf("record has %d entries, want 5:\n%s", lines, data)
	}
}

// mountSmallTmpfs mounts a 256 KiB tmpfs in a temporary folder and returns
// it; it is unmounted when the test ends. It needs root on Linux: elsewhere
// the test skips, except under CI=true, where it fails.
func mountSmallTmpfs(t *testing.T) string {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if runtime.GOOS != "linux" {
		t.Skip("needs a Linux tmpfs")
	}
	if os.Geteuid() != 0 {
		skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		skip("mounting a tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %q: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes whole pages to path until the file system is full and
// returns the file's size.
func fillDisk(t *testing.T, path string, page int) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, page)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	// A short write may have filled part of a page: round down, so that
	// each page given back below is a whole free page.
	size := fi.Size() / int64(page) * int64(page)
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return size
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// tail is the end of a record, enough to show a torn line.
func tail(data []byte) []byte { return data[max(len(data)-160, 0):] }
