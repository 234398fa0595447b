package ca

import (
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

// ReadInputFile reads a file a person named as input, of at most limit
// bytes. It refuses anything but a regular file: opening a named pipe blocks
// until someone writes to it, and a device may never end or act on being
// opened. Errors name the file and say what is wrong with it; a missing file
// gives an error that matches fs.ErrNotExist.
func ReadInputFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkInputFile(path, fi, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the file be swapped for a named pipe after Stat,
	// opening it still returns at once, and the check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkInputFile(path, fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

func checkInputFile(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is %s, not a regular file", path, fileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return tooLarge(path, limit)
	}
	return nil
}

func tooLarge(path string, limit int64) error {
	size := fmt.Sprintf("%d bytes", limit)
	switch {
	case limit >= 1<<20 && limit%(1<<20) == 0:
		size = fmt.Sprintf("%d MiB", limit>>20)
	case limit >= 1<<10 && limit%(1<<10) == 0:
		size = fmt.Sprintf("%d KiB", limit>>10)
	}
	return fmt.Errorf("%q is larger than %s, far more than a certificate or key file: is it the right file?", path, size)
}

// fileKind names what a non-regular file is, for error messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
