//go:build unix

package serve

import (
	"os"
	"syscall"
)

// openNoBlock is added to every open of a served file: should a FIFO take
// the place of a checked file between the check and the open, the open
// returns at once instead of waiting for a writer, and the fstat after it
// refuses the FIFO. O_NOCTTY keeps a terminal from becoming ours.
const openNoBlock = syscall.O_NONBLOCK | syscall.O_NOCTTY

// clearNoBlock puts f, opened with openNoBlock, back into blocking mode, so
// that a regular file on a file system that honours O_NONBLOCK (some FUSE
// ones) never answers a read with EAGAIN.
func clearNoBlock(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { syscall.SetNonblock(int(fd), false) })
	}
}
