package serve

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBareFileInfoMatchesOS: the fast opener's FileInfo says what os.Stat
// says about the same file or folder.
func TestBareFileInfoMatchesOS(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "hello", "sub/": ""})
	os.Chmod(filepath.Join(dir, "a.txt"), 0o640|os.ModeSetgid)
	o := newFastOpener(dir)
	defer o.close()
	for _, name := range []string{"a.txt", "sub"} {
		f, fi, err := o.open(name)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		f.Close()
		want, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Name() != want.Name() || fi.Size() != want.Size() || fi.Mode() != want.Mode() ||
			!fi.ModTime().Equal(want.ModTime()) || fi.IsDir() != want.IsDir() {
			t.Errorf("%s: fast FileInfo %v %d %v %v, os says %v %d %v %v", name,
				fi.Name(), fi.Size(), fi.Mode(), fi.ModTime(), want.Name(), want.Size(), want.Mode(), want.ModTime())
		}
		if _, ok := fi.Sys().(*syscall.Stat_t); !ok {
			t.Errorf("%s: Sys() = %T", name, fi.Sys())
		}
	}
}

// TestBareFileReads: Read, ReadAt and Seek behave as io asks, and Close
// twice is harmless.
func TestBareFileReads(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "0123456789"})
	o := newFastOpener(dir)
	defer o.close()
	f, _, err := o.open("a.txt")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, err := f.ReadAt(buf, 8); n != 2 || err != io.EOF || string(buf[:n]) != "89" {
		t.Errorf("ReadAt past the end = %d %v %q", n, err, buf[:n])
	}
	if n, err := f.ReadAt(buf, 2); n != 4 || err != nil || string(buf) != "2345" {
		t.Errorf("ReadAt = %d %v %q", n, err, buf)
	}
	if pos, err := f.Seek(6, io.SeekStart); pos != 6 || err != nil {
		t.Errorf("Seek = %d %v", pos, err)
	}
	if b, err := io.ReadAll(f); string(b) != "6789" || err != nil {
		t.Errorf("ReadAll after Seek = %q %v", b, err)
	}
	if n, err := f.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d %v", n, err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestBareFileEAGAIN: a file system that honours O_NONBLOCK answers a read
// with EAGAIN (a pipe stands in for one here); the read must then wait in
// blocking mode instead of failing.
func TestBareFileEAGAIN(t *testing.T) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[1])
	f := &bareFile{fd: p[0], name: "pipe"}
	defer f.Close()
	go func() {
		// Write once the read has met EAGAIN and cleared O_NONBLOCK.
		for {
			fl, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0)
			if err != nil || fl&unix.O_NONBLOCK == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		syscall.Write(p[1], []byte("late"))
	}()
	buf := make([]byte, 8)
	n, err := f.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Errorf("Read = %q, %v; want the late write", buf[:n], err)
	}
	if !f.blocking {
		t.Errorf("O_NONBLOCK was not cleared")
	}
}
