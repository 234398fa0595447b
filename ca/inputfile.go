package ca

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxInputFile is the largest certificate, key or PKCS#12 file devca reads
// as input. Real ones are a few KiB (an RSA-4096 root with its key in
// PKCS#12 is under 8 KiB); the bound makes a wrong path, such as a disk
// image or /dev/zero, fail at once instead of filling memory.
const MaxInputFile = 1 << 20

// TooLargeError reports an input file over the bound given to
// [ReadInputFile], so callers can say what the file should have been.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return "the file is larger than " + formatSize(e.Limit)
}

// ReadInputFile reads a file a person named as input, or one devca wrote
// earlier, of at most limit bytes. It refuses anything but a regular file
// without reading it: opening a named pipe blocks until someone writes to
// it, and a device may never end or act on being opened. Errors do not
// repeat the path, which callers name; a missing file gives an error that
// matches fs.ErrNotExist, and a file over the limit a *TooLargeError.
func ReadInputFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, pathCause(err)
	}
	if err := checkInputFile(fi, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the file be swapped for a named pipe after Stat,
	// opening it still returns at once, and the check below refuses it.
	// (Windows has no named pipes in the file system; the flag is 0 there.)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, pathCause(err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, pathCause(err)
	}
	if err := checkInputFile(fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, pathCause(err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return data, nil
}

func checkInputFile(fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("it is %s, not a regular file", FileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return &TooLargeError{Limit: limit}
	}
	return nil
}

// pathCause drops the operation and path from an *fs.PathError, which the
// caller's message already names.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// formatSize shows a bound in the unit it was chosen in.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// FileKind names the type of a file that is not a regular file, for
// messages: "a named pipe (FIFO)", "a character device", "a folder".
func FileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}
