package serve

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

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

func (o *fastOpener) open(name string) (servedFile, fs.FileInfo, error) {
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
	// One allocation holds the file, its FileInfo and the stat buffer.
	f := &bareFile{fd: fd, name: name}
	if err := ignoringEINTR(func() error { return syscall.Fstat(fd, &f.info.sys) }); err != nil {
		f.Close()
		return nil, nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	fi := f.info.fill(path.Base(name))
	if !servable(fi) {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	return f, fi, nil
}

// bareFile is a file the fast opener opened, read with plain system calls.
// It is not an *os.File: os.NewFile would ask the descriptor's flags and
// set up poller state and a cleanup, and the descriptor would need its
// O_NONBLOCK cleared first, three system calls and two allocations on
// every request for a file that is read once and closed. O_NONBLOCK stays
// set: regular files ignore it, except on a few FUSE file systems, where
// the first EAGAIN clears it and the read is tried again. Every bareFile is
// closed by the handler that opened it.
type bareFile struct {
	fd       int
	name     string
	blocking bool // O_NONBLOCK has been cleared
	info     bareFileInfo
}

func (f *bareFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := syscall.Read(f.fd, p)
		if err == nil {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if !f.retry(err) {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
	}
}

// ReadAt reads len(p) bytes from off, or fewer with an error, as
// io.ReaderAt asks.
func (f *bareFile) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.Pread(f.fd, p[done:], off+int64(done))
		if err != nil {
			if f.retry(err) {
				continue
			}
			return done, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if n == 0 {
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}

// retry reports whether a read that failed with err should be tried
// again: after EINTR, and after the first EAGAIN, once O_NONBLOCK is off.
func (f *bareFile) retry(err error) bool {
	switch err {
	case syscall.EINTR:
		return true
	case syscall.EAGAIN:
		if f.blocking {
			return false
		}
		f.blocking = true
		return syscall.SetNonblock(f.fd, false) == nil
	}
	return false
}

func (f *bareFile) Seek(offset int64, whence int) (int64, error) {
	pos, err := syscall.Seek(f.fd, offset, whence)
	if err != nil {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: err}
	}
	return pos, nil
}

// Close closes the descriptor once; later calls do nothing.
func (f *bareFile) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := syscall.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// bareFileInfo is the fs.FileInfo of a bareFile, as os.File.Stat makes it
// for the two kinds of file served (regular files and folders); other
// kinds get their type bit only to be refused. Sys is the *syscall.Stat_t,
// as with os.
type bareFileInfo struct {
	name string
	mode fs.FileMode
	sys  syscall.Stat_t
}

// fill sets name and mode from fi.sys, which Fstat filled, and returns fi.
func (fi *bareFileInfo) fill(name string) *bareFileInfo {
	st := &fi.sys
	mode := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	default:
		mode |= fs.ModeIrregular
	}
	if st.Mode&syscall.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if st.Mode&syscall.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if st.Mode&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	fi.name, fi.mode = name, mode
	return fi
}

func (fi *bareFileInfo) Name() string       { return fi.name }
func (fi *bareFileInfo) Size() int64        { return fi.sys.Size }
func (fi *bareFileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *bareFileInfo) ModTime() time.Time { return time.Unix(fi.sys.Mtim.Unix()) }
func (fi *bareFileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *bareFileInfo) Sys() any           { return &fi.sys }

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}

func (o *fastOpener) close() {
	if o != nil {
		o.dir.Close()
	}
}

// fileID identifies one version of a file's contents: see keyVerdicts.
type fileID struct {
	dev, ino         uint64
	size             int64
	mtimeNs, ctimeNs int64
}

func (id fileID) changed() time.Time { return time.Unix(0, id.ctimeNs) }

// fileIdentity returns fi's identity, when fi came from a stat call.
func fileIdentity(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{
		dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size,
		mtimeNs: st.Mtim.Nano(), ctimeNs: st.Ctim.Nano(),
	}, true
}

// inode identifies a file whatever its name: a hard link has its target's.
type inode struct{ dev, ino uint64 }

// inodeOf returns fi's inode, when fi came from a stat call.
func inodeOf(fi fs.FileInfo) (inode, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return inode{}, false
	}
	return inode{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}
