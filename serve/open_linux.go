package serve

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// fastOpener opens files below the served folder with one openat2 system
// call that refuses every symbolic link and anything outside the folder
// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, Linux 5.6+). A path without links
// needs no further checks: its name is its real path, and cleanPath already
// refused dot-names. A path with a link, or an older kernel, takes the
// careful way: resolve, then os.Root. On a file server where links are rare
// this saves a system call per path component on nearly every request.
//
// Nothing but a regular file or a folder is opened. An fstatat call looks
// first, so that a FIFO, socket or device found there is refused without
// being opened: a FIFO would block the open until a writer came, and a
// device's open routine can have side effects. The open itself is
// non-blocking and checked again with fstat, in case the name changed hands
// in between. (Opening with O_PATH and reopening the checked inode through
// /proc would close even that window, at about twice the cost per request
// on a virtual machine's slow system calls.)
type fastOpener struct {
	dir *os.File
	fd  int
}

func newFastOpener(dir string) *fastOpener {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	return &fastOpener{dir: f, fd: int(f.Fd())}
}

func (o *fastOpener) open(name string) (*os.File, fs.FileInfo, error) {
	if o == nil {
		return nil, nil, errSlowPath
	}
	var st unix.Stat_t
	if err := unix.Fstatat(o.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		// A link passes here: openat2 refuses it below and the careful
		// path decides. Errors are openat2's to report.
		if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR && t != unix.S_IFLNK {
			return nil, nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
		}
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | openNoBlock,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(o.fd, name, &how)
	for err == unix.EINTR {
		fd, err = unix.Openat2(o.fd, name, &how)
	}
	switch {
	case err == nil:
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	default:
		// ELOOP (a link on the way), EXDEV (an escape attempt), ENOSYS (an
		// old kernel), EPERM (a seccomp filter), anything else: let the
		// careful path decide.
		return nil, nil, errSlowPath
	}
	// Blocking again before os.NewFile sees it, so that a regular file is
	// read with plain system calls rather than tried on the poller (F_SETFL
	// changes only status flags, and O_NONBLOCK is the only one set).
	unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0)
	return checkOpened(os.NewFile(uintptr(fd), name), name)
}

func (o *fastOpener) close() {
	if o != nil {
		o.dir.Close()
	}
}
