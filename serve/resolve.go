package serve

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Errors of path resolution. They never reach a client as text: statusOf
// maps them to a status code and the client sees only that code's page.
var (
	// errBadPath is a request path that no file name can match: it holds
	// "..", a NUL byte, a backslash or an encoded slash.
	errBadPath = errors.New("malformed request path")
	// errHidden is a path that names, or leads through, a dotfile while
	// dotfiles are hidden.
	errHidden = errors.New("hidden path")
	// errEscapes is a symbolic link that leads out of the root.
	errEscapes = errors.New("path escapes the root")
	// errNotRegular is a FIFO, socket, device node or anything else that
	// is neither a regular file nor a folder. Such files are never opened
	// for reading: a FIFO would block the request, and opening a device
	// can have side effects.
	errNotRegular = errors.New("not a regular file or folder")
	// errSlowPath says the fast opener could not decide; the caller takes
	// the careful path.
	errSlowPath = errors.New("take the careful path")
)

// maxSymlinks bounds how many symbolic links one lookup follows, like the
// SYMLOOP_MAX minimum that os.Root also uses.
const maxSymlinks = 8

// cleanPath turns a decoded URL path into a slash-separated name relative to
// the served folder ("." for the folder itself). rawPath is the path as the
// client sent it (URL.EscapedPath), used to refuse encoded separators, which
// some servers and proxies treat as real ones.
//
// It refuses rather than repairs: a ".." segment, a backslash, a NUL or a
// control byte, an encoded "/" or "\" all return errBadPath, so that no
// normalisation trick can change which file is meant. With dotfiles false any
// segment starting with "." returns errHidden.
func cleanPath(urlPath, rawPath string, dotfiles bool) (string, error) {
	if !strings.HasPrefix(urlPath, "/") {
		return "", errBadPath
	}
	// One pass over the path checks its bytes and its segments and notes
	// whether path.Clean has anything to do: nearly every request path is
	// already clean, and skipping Clean saves an allocation per request.
	clean := true
	segStart := 1
	for i := 1; i <= len(urlPath); i++ {
		if i < len(urlPath) {
			c := urlPath[i]
			if c < 0x20 || c == 0x7f || c == '\\' {
				return "", errBadPath
			}
			if c != '/' {
				continue
			}
		}
		switch seg := urlPath[segStart:i]; {
		case seg == "..":
			return "", errBadPath
		case seg == "" || seg == ".":
			// "//", "/./" or a trailing "/." or "/": Clean removes them.
			clean = clean && seg == "" && i == len(urlPath)
		case !dotfiles && seg[0] == '.':
			return "", errHidden
		}
		segStart = i + 1
	}
	if hasEncodedSeparator(rawPath) {
		return "", errBadPath
	}
	var name string
	switch {
	case urlPath == "/":
		name = "."
	case clean:
		name = strings.TrimSuffix(urlPath[1:], "/")
	default:
		name = strings.TrimPrefix(path.Clean(urlPath), "/")
		if name == "" {
			name = "."
		}
	}
	if !fs.ValidPath(name) || !validOnWindows(name) {
		return "", errBadPath
	}
	return name, nil
}

// hasEncodedSeparator reports whether a raw (escaped) path holds "%2f",
// "%5c" or "%00" in any case: an encoded slash, backslash or NUL, which
// some servers and proxies decode into real ones.
func hasEncodedSeparator(raw string) bool {
	for {
		i := strings.IndexByte(raw, '%')
		if i < 0 || i+2 >= len(raw) {
			return false
		}
		switch hi, lo := raw[i+1], raw[i+2]|0x20; {
		case hi == '2' && lo == 'f', hi == '5' && lo == 'c', hi == '0' && lo == '0':
			return true
		}
		raw = raw[i+1:]
	}
}

// validOnWindows refuses names that Windows would read differently from what
// they say: alternate data streams ("a.txt:secret"), 8.3 short names
// ("SECRET~1.TXT"), trailing dots or spaces, which Windows drops, and
// reserved device names ("NUL", "com1.txt"), which name a device in every
// folder. The check runs on every system so that one table of attack paths
// holds everywhere; such names are rare on a development site.
func validOnWindows(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if strings.ContainsAny(seg, ":~") && isShortOrStream(seg) {
			return false
		}
		if isDeviceName(seg) {
			return false
		}
		if seg != "." && (strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " ")) {
			return false
		}
	}
	return true
}

// isShortOrStream reports whether seg looks like an alternate data stream or
// an 8.3 short name: a ":" anywhere, or "~" followed by a digit.
func isShortOrStream(seg string) bool {
	if strings.Contains(seg, ":") {
		return true
	}
	i := strings.IndexByte(seg, '~')
	return i >= 0 && i+1 < len(seg) && seg[i+1] >= '0' && seg[i+1] <= '9'
}

// isDeviceName reports whether seg is a name Windows reserves for a device
// in every folder, in any case and with any extension, spaces before the
// extension ignored: CON, PRN, AUX, NUL, COM0-9, LPT0-9 (with the
// superscript digits too), CONIN$ and CONOUT$. The list is Microsoft's
// "Naming Files, Paths, and Namespaces".
func isDeviceName(seg string) bool {
	base, _, _ := strings.Cut(seg, ".")
	base = strings.TrimRight(base, " ")
	switch len(base) {
	case 3:
		return strings.EqualFold(base, "CON") || strings.EqualFold(base, "PRN") ||
			strings.EqualFold(base, "AUX") || strings.EqualFold(base, "NUL")
	case 6, 7:
		return strings.EqualFold(base, "CONIN$") || strings.EqualFold(base, "CONOUT$")
	}
	if len(base) < 4 || !strings.EqualFold(base[:3], "COM") && !strings.EqualFold(base[:3], "LPT") {
		return false
	}
	switch base[3:] {
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
		return true
	}
	return false
}

// resolve follows the symbolic links in name, a result of cleanPath, and
// returns the path of the file it finally names, relative to the root. It
// refuses links that leave the root (errEscapes) and, when dotfiles are
// hidden, links that lead to a dotfile or through a dot-folder (errHidden),
// so a link cannot reveal what the URL could not name.
//
// Confinement itself is os.Root's job: every open goes through it, and it
// refuses escaping links even if one appears after this check. resolve only
// adds the dotfile rule and reports the resolved name, so that precompressed
// siblings and clean URLs are looked up next to the real file. That is why it
// may look at dir, the served folder's absolute path, with plain lstat calls:
// one system call per path component, where os.Root.Lstat would walk from
// the root again for each prefix.
func resolve(dir, name string, dotfiles bool) (string, error) {
	if name == "." {
		return ".", nil
	}
	var done []string // resolved components
	todo := strings.Split(name, "/")
	links := 0
	for len(todo) > 0 {
		seg := todo[0]
		todo = todo[1:]
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", errEscapes
			}
			done = done[:len(done)-1]
			continue
		}
		if !dotfiles && seg[0] == '.' {
			return "", errHidden
		}
		cur := strings.Join(append(done, seg), "/")
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(cur)))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, seg)
			continue
		}
		links++
		if links > maxSymlinks {
			return "", errEscapes
		}
		target, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(cur)))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") || strings.Contains(target, "\\") || (len(target) > 1 && target[1] == ':') {
			// os.Root refuses absolute links; so do we, whatever the system.
			return "", errEscapes
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return strings.Join(done, "/"), nil
}

// open opens name, a result of cleanPath, and returns the file, its
// FileInfo and its real name: the same name when the fast opener could open
// it (no links on the way), else resolve's answer opened through os.Root.
// The file is a regular file or a folder (anything else is errNotRegular,
// and is not opened), and neither denied nor a hidden key file.
func (h *Handler) open(name string) (servedFile, fs.FileInfo, string, error) {
	f, fi, err := h.fast.open(name)
	real := name
	if errors.Is(err, errSlowPath) {
		if real, err = resolve(h.dir, name, h.cfg.Dotfiles); err != nil {
			return nil, nil, "", err
		}
		if h.denied(real) {
			return nil, nil, "", errHidden
		}
		f, fi, err = h.openRoot(real)
	}
	if err != nil {
		return nil, nil, "", err
	}
	if h.denied(real) || h.hiddenKey(name, real, f, fi) {
		f.Close()
		return nil, nil, "", errHidden
	}
	return f, fi, real, nil
}

// openReal opens real, a name resolve returned, if it is a regular file or
// a folder. It applies no hiding rules: callers have.
func (h *Handler) openReal(real string) (servedFile, fs.FileInfo, error) {
	f, fi, err := h.fast.open(real)
	if errors.Is(err, errSlowPath) {
		rf, rfi, err := h.openRoot(real)
		if err != nil {
			// Not a nil *os.File inside a non-nil servedFile.
			return nil, nil, err
		}
		return rf, rfi, nil
	}
	return f, fi, err
}

// openRoot is the careful open through os.Root. Like the fast opener it
// looks before it opens, so that a FIFO or device found there is never
// opened, and opens without blocking and checks again what it opened, in
// case the name changed hands in between.
func (h *Handler) openRoot(real string) (*os.File, fs.FileInfo, error) {
	fi, err := h.root.Lstat(real)
	if err != nil {
		return nil, nil, err
	}
	if !servable(fi) {
		return nil, nil, &fs.PathError{Op: "open", Path: real, Err: errNotRegular}
	}
	f, err := h.root.OpenFile(real, os.O_RDONLY|openNoBlock, 0)
	if err != nil {
		return nil, nil, err
	}
	clearNoBlock(f)
	return checkOpened(f, real)
}

// servedFile is an open file being served: an *os.File from the careful
// path, or the fast opener's bare descriptor (see open_linux.go).
type servedFile interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
}

// checkOpened returns f with its FileInfo if it is a regular file or a
// folder, and closes it otherwise.
func checkOpened(f *os.File, name string) (*os.File, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err == nil && !servable(fi) {
		err = &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// servable reports whether fi is a regular file or a folder, the only
// kinds of file devca serves.
func servable(fi fs.FileInfo) bool {
	return fi.Mode().IsRegular() || fi.IsDir()
}

// statusOf maps a lookup or open error to the status the client sees. Like
// net/http's toHTTPError it never exposes the error's text. A path that is
// hidden or leaves the root looks exactly like one that does not exist.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errBadPath):
		return http.StatusBadRequest
	case errors.Is(err, errHidden), errors.Is(err, errEscapes), errors.Is(err, errNotRegular),
		errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.ENAMETOOLONG):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	}
	if isEscapeError(err) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// isEscapeError recognises os.Root's refusal of a path outside the root. The
// os package does not export that error, so its text is the only handle; the
// text is matched here and never shown.
func isEscapeError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes from parent")
}
