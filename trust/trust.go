// Package trust installs a devca root certificate into the trust stores that
// browsers, tools and runtimes read, reports where it is trusted, and removes
// exactly what it installed.
//
// # Stores
//
// A [Store] is one kind of trust store: the operating system's ("system"),
// the NSS databases of Chromium and Firefox ("nss"), the JDK cacerts files
// ("java") and, under WSL, the Windows user's Root store ("windows").
// [Stores] lists the ones that exist for an [Env]; [InstallAll],
// [UninstallAll] and [StatusAll] run over them and return one [Result] per
// store. A failure in one store never stops the others: the errors are
// joined and every store still gets its Result.
//
// # Platforms
//
// On Linux the system store is the distribution's anchor folder and rebuild
// command (Debian/Ubuntu, Alpine, Fedora/RHEL, Arch, openSUSE); on macOS it
// is the System keychain with admin trust settings; on Windows the current
// user's Root store through crypt32. Which code runs is chosen by
// [Env.GOOS], not by build tags, so Linux tests cover every platform's
// command lines; only the crypt32 calls live in a Windows-only file.
//
// Runtimes that keep their own roots are covered by [WriteBundle] (a bundle
// of the system roots plus the devca root, for REQUESTS_CA_BUNDLE and the
// like) and [JavaTrustStore] (a trust store file for one Java program).
//
// # The install record
//
// Every certificate devca adds is written down in the record file
// ([InstallRecordFile], in the CA home), with the store, the exact location and the
// certificate itself. A location that trusted the root before devca touched
// it is not recorded, whoever put the root there. Uninstall works from the record alone, so it still
// removes an old root after the CA home got a new one, and it never removes a
// certificate it did not add: before deleting, each store checks that the
// entry still holds exactly the recorded certificate.
//
// # Environment
//
// Nothing here reads the process environment or runs a command on its own.
// Paths, environment variables, PATH lookups and commands all go through an
// [Env], which [DefaultEnv] builds for the running process. Commands that
// need root are marked [Cmd.Privileged]; [ExecRunner] runs them through sudo
// when devca is not root, or fails with a [*PrivilegeError] naming the exact
// command to run.
package trust

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Store names, as accepted by --stores and DEVCA_TRUST_STORES.
const (
	StoreSystem  = "system"
	StoreNSS     = "nss"
	StoreJava    = "java"
	StoreWindows = "windows"
)

// KnownStores returns every store name, in the order stores are processed.
// Each call returns a fresh slice, so a caller that sorts or appends to it
// cannot change what the package accepts.
func KnownStores() []string {
	return []string{StoreSystem, StoreNSS, StoreJava, StoreWindows}
}

// Store is one kind of trust store on this machine. A store may hold the root
// in several places (NSS has one database per browser profile, Java one
// cacerts per JDK); each is a [Location].
type Store interface {
	// Name is the store's name, one of [KnownStores].
	Name() string
	// Description says in a few words what the store is on this machine,
	// such as "Debian/Ubuntu system store".
	Description() string
	// Present reports whether the store exists on this machine, so that
	// status can skip stores nobody reads.
	Present(ctx context.Context) bool
	// Check reports, for each location, whether it trusts root.
	Check(ctx context.Context, root *Root) ([]Location, error)
	// Install adds root wherever it is missing and returns one Installation per
	// location that now holds it under devca's name; entries whose
	// Changed field is false were there already. A location that trusts
	// the root already, under any name, is left alone and its entry is
	// unchanged, so that it is never recorded. On a partial failure it
	// returns the entries that succeeded together with the error.
	Install(ctx context.Context, root *Root) ([]Installation, error)
	// Uninstall removes the certificate recorded in e, after checking that
	// the location still holds exactly that certificate. It reports
	// whether anything changed; an entry that is already gone is not an
	// error.
	Uninstall(ctx context.Context, e Installation) (changed bool, err error)
}

// Location is one place of a store, such as one NSS database or one cacerts
// file.
type Location struct {
	Path    string `json:"path"`
	Trusted bool   `json:"trusted"`
	// Missing marks a location that should exist but does not, such as
	// the cacerts of a broken $JAVA_HOME. It is reported, never fatal, and
	// does not count against the store being trusted.
	Missing bool `json:"missing,omitempty"`
	// Note adds what the user should know, such as "certutil missing".
	Note string `json:"note,omitempty"`
}

// Result is what happened to one store.
type Result struct {
	Store       string `json:"store"`
	Description string `json:"description"`
	Present     bool   `json:"present"`
	// Trusted reports whether every location of the store trusts the root
	// after the operation.
	Trusted bool `json:"trusted"`
	// Changed reports whether the operation changed the store.
	Changed   bool       `json:"changed"`
	Locations []Location `json:"locations,omitempty"`
	// Err is why the store failed; it is nil on success.
	Err error `json:"-"`
}

// ParseStores splits a comma-separated list of store names, as given to
// --stores or DEVCA_TRUST_STORES, and checks each name. An empty list means
// every store and returns nil.
func ParseStores(list string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(list, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		if err := checkStoreName(n); err != nil {
			return nil, err
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// checkStoreName reports an error naming the known stores unless n is one.
func checkStoreName(n string) error {
	if !slices.Contains(KnownStores(), n) {
		return fmt.Errorf("unknown trust store %q (known stores: %s)", n, strings.Join(KnownStores(), ", "))
	}
	return nil
}

// Stores returns the stores devca knows for env's operating system, present
// or not. It returns ErrUnsupported for an operating system without any.
func Stores(env Env) ([]Store, error) {
	switch env.GOOS {
	case "linux":
		return []Store{newLinuxStore(env), newNSSStore(env), newJavaStore(env), newWSLStore(env)}, nil
	case "darwin":
		return []Store{newMacStore(env), newNSSStore(env), newJavaStore(env)}, nil
	case "windows":
		return []Store{newWindowsStore(env), newJavaStore(env)}, nil
	}
	return nil, fmt.Errorf("installing trust on %s: %w", env.GOOS, ErrUnsupported)
}

// selectStores returns the stores named in names, or, when names is empty,
// every store that is present.
func selectStores(ctx context.Context, env Env, names []string) ([]Store, error) {
	all, err := Stores(env)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		var out []Store
		for _, s := range all {
			if s.Present(ctx) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []Store
	for _, n := range names {
		if err := checkStoreName(n); err != nil {
			return nil, err
		}
		for _, s := range all {
			if s.Name() == n {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// NotPresentError reports that a store asked for by name does not exist on
// this machine.
type NotPresentError struct {
	Store       string
	Description string
}

func (e *NotPresentError) Error() string {
	return fmt.Sprintf("%s not found on this machine", e.Description)
}

// InstallAll installs root into the stores named in stores (every present
// store when stores is empty) and records what it added in the record file in
// recordDir, the CA home. rootFile is the root's PEM file (the CA home's
// rootCA.pem); commands read the root from it. It returns one Result per
// store and the per-store errors joined.
func InstallAll(ctx context.Context, env Env, root *x509.Certificate, rootFile, recordDir string, stores []string) ([]Result, error) {
	r, err := NewRoot(root, rootFile, recordDir)
	if err != nil {
		return nil, err
	}
	sel, err := selectStores(ctx, env, stores)
	if err != nil {
		return nil, err
	}
	unlock, err := lockRecord(recordDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := loadRecord(recordDir)
	if err != nil {
		return nil, err
	}
	var results []Result
	var errs []error
	for _, s := range sel {
		res := Result{Store: s.Name(), Description: s.Description(), Present: s.Present(ctx)}
		if !res.Present {
			res.Err = &NotPresentError{Store: s.Name(), Description: s.Description()}
		} else {
			entries, ierr := s.Install(ctx, r)
			for _, e := range entries {
				// Only what this run added is devca's to remove: a
				// location that trusted the root already may have got
				// it from an administrator or another tool.
				if e.Changed {
					rec.add(e)
				}
				res.Changed = res.Changed || e.Changed
			}
			if ierr != nil {
				res.Err = fmt.Errorf("installing root into %s: %w", s.Description(), ierr)
			}
			locs, cerr := s.Check(ctx, r)
			res.Locations = locs
			res.Trusted = ierr == nil && cerr == nil && allTrusted(locs)
			if res.Err == nil && cerr != nil {
				res.Err = fmt.Errorf("checking %s: %w", s.Description(), cerr)
			}
		}
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
		results = append(results, res)
	}
	if err := rec.save(recordDir); err != nil {
		errs = append(errs, err)
	}
	return results, errors.Join(errs...)
}

// UninstallAll removes from the stores named in stores (every store when
// empty) each certificate that the record in recordDir says devca installed,
// and updates the record. root may be nil; when given, a store that trusts it
// without a record entry is reported with ErrNotRecorded and left alone.
func UninstallAll(ctx context.Context, env Env, root *x509.Certificate, recordDir string, stores []string) ([]Result, error) {
	return uninstall(ctx, env, root, recordDir, stores, func(Installation) bool { return true })
}

// UninstallRoot is UninstallAll for one root only: it removes the recorded
// entries of old and leaves every other root devca installed in place. It
// suits replacing a CA: take the old root out, put the new one in.
func UninstallRoot(ctx context.Context, env Env, old *x509.Certificate, recordDir string, stores []string) ([]Result, error) {
	fp := sha256Hex(old.Raw)
	return uninstall(ctx, env, old, recordDir, stores, func(e Installation) bool { return e.SHA256 == fp })
}

func uninstall(ctx context.Context, env Env, root *x509.Certificate, recordDir string, stores []string, match func(Installation) bool) ([]Result, error) {
	all, err := Stores(env)
	if err != nil {
		return nil, err
	}
	unlock, err := lockRecord(recordDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := loadRecord(recordDir)
	if err != nil {
		return nil, err
	}
	var r *Root
	if root != nil {
		r = &Root{Cert: root}
	}
	var results []Result
	var errs []error
	for _, s := range all {
		if len(stores) > 0 && !slices.Contains(stores, s.Name()) {
			continue
		}
		entries := slices.DeleteFunc(rec.forStore(s.Name()), func(e Installation) bool { return !match(e) })
		present := s.Present(ctx)
		if len(entries) == 0 && !present {
			continue
		}
		res := Result{Store: s.Name(), Description: s.Description(), Present: present}
		var serrs []error
		for _, e := range entries {
			changed, uerr := s.Uninstall(ctx, e)
			res.Changed = res.Changed || changed
			if uerr != nil {
				serrs = append(serrs, fmt.Errorf("removing root from %s %q: %w", s.Description(), e.Location, uerr))
				continue
			}
			rec.remove(e)
		}
		if r != nil && present && len(serrs) == 0 {
			if locs, cerr := s.Check(ctx, r); cerr == nil {
				res.Locations = locs
				for _, l := range locs {
					if l.Trusted {
						serrs = append(serrs, fmt.Errorf("%s %q still trusts the root: %w, so devca left it alone", s.Description(), l.Path, ErrNotRecorded))
					}
				}
			}
		}
		res.Err = errors.Join(serrs...)
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
		results = append(results, res)
	}
	if err := rec.save(recordDir); err != nil {
		errs = append(errs, err)
	}
	return results, errors.Join(errs...)
}

// StatusAll reports, for the stores named in stores (every store when
// empty), whether each is present and trusts root. It changes nothing. The
// error joins the stores that could not be checked; a store that simply does
// not trust the root is not an error.
func StatusAll(ctx context.Context, env Env, root *x509.Certificate, stores []string) ([]Result, error) {
	all, err := Stores(env)
	if err != nil {
		return nil, err
	}
	r := &Root{Cert: root}
	var results []Result
	var errs []error
	for _, s := range all {
		if len(stores) > 0 && !slices.Contains(stores, s.Name()) {
			continue
		}
		res := Result{Store: s.Name(), Description: s.Description(), Present: s.Present(ctx)}
		if res.Present {
			locs, cerr := s.Check(ctx, r)
			res.Locations = locs
			res.Trusted = cerr == nil && allTrusted(locs)
			if cerr != nil {
				res.Err = fmt.Errorf("checking %s: %w", s.Description(), cerr)
				errs = append(errs, res.Err)
			}
		}
		results = append(results, res)
	}
	return results, errors.Join(errs...)
}

// allTrusted reports whether every location that exists trusts the root,
// and at least one does.
func allTrusted(locs []Location) bool {
	n := 0
	for _, l := range locs {
		if l.Missing {
			continue
		}
		if !l.Trusted {
			return false
		}
		n++
	}
	return n > 0
}
