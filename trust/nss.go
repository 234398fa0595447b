package trust

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// nssStore is the set of NSS databases Chromium and Firefox read. NSS keeps
// its own list of trusted roots and ignores the system store: Chromium on
// Linux reads ~/.pki/nssdb, Firefox one database per profile.
type nssStore struct {
	env Env
}

func newNSSStore(env Env) *nssStore { return &nssStore{env: env} }

func (s *nssStore) Name() string { return StoreNSS }

func (s *nssStore) Description() string {
	if s.env.GOOS == "darwin" {
		return "Firefox NSS databases"
	}
	return "NSS databases (Chromium, Firefox)"
}

// nssDB is one NSS database folder.
type nssDB struct {
	dir string
	// create marks ~/.pki/nssdb, which devca creates when absent because
	// Chromium reads it as soon as it exists.
	create bool
}

// spec returns the certutil -d argument. cert9.db is the SQLite format that
// NSS 3.35 made the default ("sql:"); cert8.db is the legacy Berkeley DB
// format ("dbm:") that profiles from Firefox 57 and older still carry.
func (db nssDB) spec() string {
	if !exists(filepath.Join(db.dir, "cert9.db")) && exists(filepath.Join(db.dir, "cert8.db")) {
		return "dbm:" + db.dir
	}
	return "sql:" + db.dir
}

func (db nssDB) exists() bool {
	return exists(filepath.Join(db.dir, "cert9.db")) || exists(filepath.Join(db.dir, "cert8.db"))
}

// databases lists the NSS databases of this user, in a stable order.
func (s *nssStore) databases() []nssDB {
	home := s.env.Home
	var dbs []nssDB
	seen := map[string]bool{}
	add := func(dir string, create bool) {
		if dir = filepath.Clean(dir); seen[dir] {
			return
		}
		seen[dir] = true
		dbs = append(dbs, nssDB{dir: dir, create: create})
	}
	if s.env.GOOS != "darwin" {
		add(filepath.Join(home, ".pki", "nssdb"), true)
		// Recent Chromium releases keep their database in the XDG data
		// folder; Chromium 156 on Debian 12 creates it on first start
		// (seen in the end-to-end test).
		for _, dir := range []string{
			filepath.Join(home, ".local", "share", "pki", "nssdb"),
			filepath.Join(home, "snap", "chromium", "current", ".pki", "nssdb"),
			filepath.Join(home, ".var", "app", "org.chromium.Chromium", ".pki", "nssdb"),
		} {
			if (nssDB{dir: dir}).exists() {
				add(dir, false)
			}
		}
	}
	for _, base := range s.firefoxRoots() {
		for _, dir := range firefoxProfiles(base) {
			add(dir, false)
		}
	}
	return dbs
}

// firefoxRoots returns the folders that may hold a Firefox profiles.ini.
func (s *nssStore) firefoxRoots() []string {
	home := s.env.Home
	if s.env.GOOS == "darwin" {
		return []string{filepath.Join(home, "Library", "Application Support", "Firefox")}
	}
	xdg := s.env.getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(xdg) {
		xdg = filepath.Join(home, ".config")
	}
	return []string{
		filepath.Join(home, ".mozilla", "firefox"),
		// Firefox with XDG Base Directory support (Mozilla bug 259356)
		// puts new profiles in the XDG config folder.
		filepath.Join(xdg, "mozilla", "firefox"),
		filepath.Join(home, "snap", "firefox", "common", ".mozilla", "firefox"),
		filepath.Join(home, ".var", "app", "org.mozilla.firefox", ".mozilla", "firefox"),
	}
}

// firefoxProfiles returns the profile folders under base that hold an NSS
// database: those listed in profiles.ini, and any other subfolder with a
// cert9.db or cert8.db (profiles.ini may be missing or stale).
func firefoxProfiles(base string) []string {
	var out []string
	if f, err := os.Open(filepath.Join(base, "profiles.ini")); err == nil {
		var path string
		relative := true
		flush := func() {
			if path != "" {
				if relative {
					path = filepath.Join(base, filepath.FromSlash(path))
				}
				if (nssDB{dir: path}).exists() {
					out = append(out, filepath.Clean(path))
				}
			}
			path, relative = "", true
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "[") {
				flush()
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "Path":
				path = strings.TrimSpace(v)
			case "IsRelative":
				relative = strings.TrimSpace(v) != "0"
			}
		}
		flush()
		f.Close()
	}
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		if e.IsDir() && (nssDB{dir: dir}).exists() && !slices.Contains(out, dir) {
			out = append(out, dir)
		}
	}
	return out
}

// browsers are programs whose presence means NSS matters even before any
// database exists.
var browsers = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "brave-browser", "microsoft-edge", "firefox"}

func (s *nssStore) Present(context.Context) bool {
	for _, db := range s.databases() {
		if db.exists() {
			return true
		}
	}
	if s.env.GOOS == "darwin" {
		return false
	}
	return slices.ContainsFunc(browsers, s.env.hasTool)
}

// certutil returns the certutil program or a *ToolMissingError telling how
// to install it.
func (s *nssStore) certutil() (string, error) {
	if s.env.hasTool("certutil") {
		return "certutil", nil
	}
	if s.env.GOOS == "darwin" {
		for _, p := range []string{"/opt/homebrew/opt/nss/bin/certutil", "/usr/local/opt/nss/bin/certutil"} {
			if exists(s.env.path(p)) {
				return s.env.path(p), nil
			}
		}
		return "", &ToolMissingError{Tool: "certutil", Hint: "install it with 'brew install nss'"}
	}
	hint := "install the NSS tools package of your distribution"
	if d := detectDistro(s.env); d != nil {
		hint = fmt.Sprintf("install it with '%s %s'", d.install, d.nssPackage)
	}
	return "", &ToolMissingError{Tool: "certutil", Hint: hint}
}

// lookup returns the DER certificate stored under nickname in db, or nil
// when there is none.
func (s *nssStore) lookup(ctx context.Context, certutil, spec, nickname string) ([]byte, error) {
	out, err := s.env.Runner.Run(ctx, Cmd{Name: certutil, Args: []string{"-L", "-d", spec, "-n", nickname, "-a"}})
	if err != nil {
		text := string(out) + err.Error()
		if isExitError(err) && (strings.Contains(text, "PR_FILE_NOT_FOUND") || strings.Contains(text, "Could not find cert")) {
			return nil, nil
		}
		return nil, err
	}
	der, err := firstCertDER(out)
	if err != nil {
		return nil, fmt.Errorf("reading certutil output: %w", err)
	}
	return der, nil
}

func (s *nssStore) Check(ctx context.Context, root *Root) ([]Location, error) {
	certutil, toolErr := s.certutil()
	var locs []Location
	var errs []error
	for _, db := range s.databases() {
		loc := Location{Path: db.spec()}
		switch {
		case !db.exists():
			loc.Note = "missing, created on install"
		case toolErr != nil:
			loc.Note = "certutil missing"
		default:
			der, err := s.lookup(ctx, certutil, db.spec(), root.ID())
			if err != nil {
				errs = append(errs, fmt.Errorf("reading %q: %w", db.spec(), err))
				loc.Note = "unreadable"
			}
			loc.Trusted = der != nil && string(der) == string(root.Cert.Raw)
		}
		locs = append(locs, loc)
	}
	if toolErr != nil {
		errs = append([]error{toolErr}, errs...)
	}
	return locs, errors.Join(errs...)
}

func (s *nssStore) Install(ctx context.Context, root *Root) ([]Installation, error) {
	certutil, err := s.certutil()
	if err != nil {
		return nil, err
	}
	var entries []Installation
	var errs []error
	for _, db := range s.databases() {
		if !db.exists() {
			if !db.create {
				continue
			}
			if err := s.create(ctx, certutil, db); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		spec := db.spec()
		der, err := s.lookup(ctx, certutil, spec, root.ID())
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %q: %w", spec, err))
			continue
		}
		if der != nil && string(der) == string(root.Cert.Raw) {
			entries = append(entries, entryFor(StoreNSS, root, spec, root.ID(), false))
			continue
		}
		// Trust flags "C,,": a trusted CA for TLS servers, nothing else.
		_, err = s.env.Runner.Run(ctx, Cmd{Name: certutil, Args: []string{"-A", "-d", spec, "-t", "C,,", "-n", root.ID(), "-i", root.File}})
		if err != nil {
			errs = append(errs, fmt.Errorf("adding root to %q: %w", spec, err))
			continue
		}
		entries = append(entries, entryFor(StoreNSS, root, spec, root.ID(), true))
	}
	return entries, errors.Join(errs...)
}

// create makes an empty NSS database without a password, as Chromium
// would on first start.
func (s *nssStore) create(ctx context.Context, certutil string, db nssDB) error {
	if err := os.MkdirAll(db.dir, 0o700); err != nil {
		return fmt.Errorf("creating NSS database folder: %w", err)
	}
	if _, err := s.env.Runner.Run(ctx, Cmd{Name: certutil, Args: []string{"-N", "-d", "sql:" + db.dir, "--empty-password"}}); err != nil {
		return fmt.Errorf("creating NSS database %q: %w", db.dir, err)
	}
	return nil
}

func (s *nssStore) Uninstall(ctx context.Context, e Installation) (bool, error) {
	dir := strings.TrimPrefix(strings.TrimPrefix(e.Location, "sql:"), "dbm:")
	if !(nssDB{dir: dir}).exists() {
		return false, nil
	}
	certutil, err := s.certutil()
	if err != nil {
		return false, err
	}
	der, err := s.lookup(ctx, certutil, e.Location, e.Name)
	if err != nil {
		return false, err
	}
	if der == nil {
		return false, nil
	}
	if sha256Hex(der) != e.SHA256 {
		return false, fmt.Errorf("nickname %q holds another certificate than the one devca installed, so devca left it alone", e.Name)
	}
	if _, err := s.env.Runner.Run(ctx, Cmd{Name: certutil, Args: []string{"-D", "-d", e.Location, "-n", e.Name}}); err != nil {
		return false, err
	}
	return true, nil
}
