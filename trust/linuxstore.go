package trust

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// distro is one family of Linux distributions that share a system trust
// store layout: a folder of local anchors, the command that rebuilds the
// trust store from it, and the bundle file that command produces.
type distro struct {
	name string
	// ids are /etc/os-release ID or ID_LIKE values of the family.
	ids []string
	// anchors is where local roots go; refresh rebuilds the store.
	anchors string
	refresh []string
	// bundle is the generated PEM bundle OpenSSL, curl and Go read; it
	// holds the root exactly when the store trusts it.
	bundle string
	// install is the package manager command; caPackage provides the
	// refresh command and nssPackage certutil.
	install, caPackage, nssPackage string
	// debianHooks marks Debian's update-ca-certificates, which leaves
	// links and hook copies behind on removal (see debianLinks).
	debianHooks bool
}

// distros lists the supported families in probing order: when
// /etc/os-release names none of them, the first whose anchors folder exists
// wins. RHEL comes first because its /etc/pki/ca-trust is unambiguous, while
// some RHEL installs also have /usr/local/share/ca-certificates.
var distros = []distro{
	{
		name: "Fedora/RHEL", ids: []string{"fedora", "rhel", "centos", "rocky", "almalinux", "amzn", "ol"},
		anchors: "/etc/pki/ca-trust/source/anchors", refresh: []string{"update-ca-trust", "extract"},
		bundle:     "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		nssPackage: "nss-tools", install: "dnf install", caPackage: "ca-certificates",
	},
	{
		name: "Debian/Ubuntu", ids: []string{"debian", "ubuntu", "linuxmint", "pop", "raspbian"},
		anchors: "/usr/local/share/ca-certificates", refresh: []string{"update-ca-certificates"},
		bundle:     "/etc/ssl/certs/ca-certificates.crt",
		nssPackage: "libnss3-tools", install: "apt install", caPackage: "ca-certificates", debianHooks: true,
	},
	{
		name: "Alpine", ids: []string{"alpine"},
		anchors: "/usr/local/share/ca-certificates", refresh: []string{"update-ca-certificates"},
		bundle:     "/etc/ssl/certs/ca-certificates.crt",
		nssPackage: "nss-tools", install: "apk add", caPackage: "ca-certificates",
	},
	{
		name: "Arch", ids: []string{"arch", "manjaro", "endeavouros"},
		anchors: "/etc/ca-certificates/trust-source/anchors", refresh: []string{"trust", "extract-compat"},
		bundle:     "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
		nssPackage: "nss", install: "pacman -S", caPackage: "p11-kit",
	},
	{
		name: "openSUSE", ids: []string{"opensuse", "suse", "sles", "opensuse-leap", "opensuse-tumbleweed"},
		anchors: "/usr/share/pki/trust/anchors", refresh: []string{"update-ca-certificates"},
		bundle:     "/var/lib/ca-certificates/ca-bundle.pem",
		nssPackage: "mozilla-nss-tools", install: "zypper install", caPackage: "ca-certificates",
	},
}

// detectDistro returns the trust store layout of the Linux system under
// env.Root, or nil when none is recognised.
func detectDistro(env Env) *distro {
	id, like := env.osRelease()
	for _, want := range append([]string{id}, like...) {
		for i := range distros {
			d := &distros[i]
			if slices.Contains(d.ids, want) && isDir(filepath.Dir(env.path(d.anchors))) {
				return d
			}
		}
	}
	for i := range distros {
		if isDir(env.path(distros[i].anchors)) {
			return &distros[i]
		}
	}
	return nil
}

// linuxStore is the system trust store of a Linux distribution.
type linuxStore struct {
	env    Env
	distro *distro
}

func newLinuxStore(env Env) *linuxStore { return &linuxStore{env: env, distro: detectDistro(env)} }

func (s *linuxStore) Name() string { return StoreSystem }

func (s *linuxStore) Description() string {
	if s.distro == nil {
		return "Linux system store"
	}
	return s.distro.name + " system store"
}

func (s *linuxStore) Present(context.Context) bool { return s.distro != nil }

func (s *linuxStore) anchorPath(root *Root) string {
	return filepath.Join(s.env.path(s.distro.anchors), root.FileName())
}

func (s *linuxStore) bundleHas(der []byte) (bool, error) {
	data, err := readFileIfExists(s.env.path(s.distro.bundle))
	if err != nil {
		return false, fmt.Errorf("reading system bundle: %w", err)
	}
	return containsDER(data, der), nil
}

func (s *linuxStore) Check(_ context.Context, root *Root) ([]Location, error) {
	if s.distro == nil {
		return nil, ErrUnsupported
	}
	path := s.anchorPath(root)
	trusted, err := s.bundleHas(root.Cert.Raw)
	if err != nil {
		return nil, err
	}
	loc := Location{Path: path, Trusted: trusted}
	if data, _ := readFileIfExists(path); !trusted && containsDER(data, root.Cert.Raw) {
		loc.Note = "file present but the store was not rebuilt"
	}
	return []Location{loc}, nil
}

func (s *linuxStore) refreshCmd(why string) Cmd {
	return Cmd{Name: s.distro.refresh[0], Args: s.distro.refresh[1:], Privileged: true, Why: why}
}

func (s *linuxStore) Install(ctx context.Context, root *Root) ([]Installation, error) {
	if s.distro == nil {
		return nil, ErrUnsupported
	}
	path := s.anchorPath(root)
	data, err := readFileIfExists(path)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	inFile := containsDER(data, root.Cert.Raw)
	inBundle, err := s.bundleHas(root.Cert.Raw)
	if err != nil {
		return nil, err
	}
	entry := entryFor(StoreSystem, root, path, root.FileName(), true)
	if inBundle {
		// Trusted already: through devca's anchor from an earlier run,
		// or one another tool (mkcert -install) or an administrator put
		// in, which is not devca's to add to or remove.
		entry.Changed = false
		return []Installation{entry}, nil
	}
	if !s.env.hasTool(s.distro.refresh[0]) {
		return nil, &ToolMissingError{Tool: s.distro.refresh[0], Hint: fmt.Sprintf("install it with '%s %s'", s.distro.install, s.distro.caPackage)}
	}
	const why = "add the devca root to the system trust store"
	cmds := []Cmd{
		// The root goes in through stdin, from the bytes devca checked,
		// not from the CA home: root may not read a home on NFS, and the
		// file could change between the check and the copy.
		{Name: "install", Args: []string{"-D", "-m", "0644", "/dev/stdin", path}, Stdin: root.PEM, StdinFrom: root.File, Privileged: true, Why: why},
		s.refreshCmd(why),
	}
	if inFile {
		// A previous run copied the file but could not rebuild the store.
		cmds = cmds[1:]
	}
	if err := s.run(ctx, cmds); err != nil {
		if inFile || errors.Is(err, errRefresh) {
			return []Installation{entry}, err
		}
		return nil, err
	}
	if ok, err := s.bundleHas(root.Cert.Raw); err != nil {
		return []Installation{entry}, err
	} else if !ok {
		return []Installation{entry}, fmt.Errorf("%s ran but %q does not hold the root", s.distro.refresh[0], s.env.path(s.distro.bundle))
	}
	return []Installation{entry}, nil
}

// errRefresh marks a failure of the refresh command, after the anchor file
// changed.
var errRefresh = errors.New("rebuilding the system store")

// run runs cmds in order. When one needs root and cannot get it, the
// returned *PrivilegeError lists the remaining commands too, so the user can
// finish by hand.
func (s *linuxStore) run(ctx context.Context, cmds []Cmd) error {
	for i, c := range cmds {
		if _, err := s.env.Runner.Run(ctx, c); err != nil {
			var pe *PrivilegeError
			if errors.As(err, &pe) {
				rest := make([]string, 0, len(cmds)-i)
				for _, r := range cmds[i:] {
					rest = append(rest, r.String())
				}
				return &PrivilegeError{Why: pe.Why, Commands: rest}
			}
			if c.Name == s.distro.refresh[0] {
				return fmt.Errorf("%w: %w", errRefresh, err)
			}
			return err
		}
	}
	return nil
}

func (s *linuxStore) Uninstall(ctx context.Context, e Installation) (bool, error) {
	if s.distro == nil {
		return false, ErrUnsupported
	}
	const why = "remove the devca root from the system trust store"
	var cmds []Cmd
	data, err := os.ReadFile(e.Location)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Already gone; the links and the rebuild below may still be due.
	case err != nil:
		return false, fmt.Errorf("reading %q: %w", e.Location, err)
	default:
		der, err := firstCertDER(data)
		if err != nil || sha256Hex(der) != e.SHA256 {
			return false, fmt.Errorf("%q holds another certificate than the one devca installed, so devca left it alone", e.Location)
		}
		cmds = append(cmds, Cmd{Name: "rm", Args: []string{"-f", "--", e.Location}, Privileged: true, Why: why})
	}
	if links := s.debianLinks(e); len(links) > 0 {
		cmds = append(cmds, Cmd{Name: "rm", Args: append([]string{"-f", "--"}, links...), Privileged: true, Why: why})
	}
	inBundle, err := s.bundleHas(e.Cert)
	if err != nil {
		return false, err
	}
	if len(cmds) > 0 || inBundle {
		cmds = append(cmds, s.refreshCmd(why))
	}
	if err := s.run(ctx, cmds); err != nil {
		return len(cmds) > 0, err
	}
	javaChanged, err := s.debianJavaCleanup(ctx, e)
	if err != nil {
		return true, fmt.Errorf("removing the copy Debian's Java hook made: %w", err)
	}
	return len(cmds) > 0 || javaChanged, nil
}

// debianLinks returns the links update-ca-certificates made in
// /etc/ssl/certs for the anchor of e: "<name>.pem" and its OpenSSL hash
// link. Debian's update-ca-certificates never removes them for a deleted
// local file (it only drops roots listed with "!" in ca-certificates.conf),
// so without this they would dangle and its hooks would never hear of the
// removal.
func (s *linuxStore) debianLinks(e Installation) []string {
	if !s.distro.debianHooks {
		return nil
	}
	dir := s.env.path("/etc/ssl/certs")
	pemName := strings.TrimSuffix(filepath.Base(e.Location), ".crt") + ".pem"
	entries, _ := os.ReadDir(dir)
	var links []string
	for _, de := range entries {
		if de.Type()&os.ModeSymlink == 0 {
			continue
		}
		path := filepath.Join(dir, de.Name())
		target, err := os.Readlink(path)
		if err != nil {
			continue
		}
		if target == e.Location || strings.TrimPrefix(target, s.env.Root) == strings.TrimPrefix(e.Location, s.env.Root) || filepath.Base(target) == pemName {
			links = append(links, path)
		}
	}
	// Hash links first point at the .pem link; remove them together.
	sort.Strings(links)
	return links
}

// debianJavaCleanup removes the copy of e that Debian's ca-certificates-java
// hook put into the system cacerts as "debian:<name>.pem" when the root was
// added. The hook only learns of removals through update-ca-certificates'
// removal list, which never includes local anchors, so devca removes the
// copy itself, after checking it is exactly the recorded certificate.
func (s *linuxStore) debianJavaCleanup(ctx context.Context, e Installation) (bool, error) {
	if !s.distro.debianHooks {
		return false, nil
	}
	cacerts := s.env.path("/etc/ssl/certs/java/cacerts")
	if !exists(cacerts) || !s.env.hasTool("keytool") {
		// Without keytool there is no Java to have run the hook.
		return false, nil
	}
	alias := "debian:" + strings.TrimSuffix(filepath.Base(e.Location), ".crt") + ".pem"
	js := &javaStore{env: s.env}
	certs, err := js.list(ctx, "keytool", cacerts)
	if err != nil {
		return false, fmt.Errorf("reading %q: %w", cacerts, err)
	}
	der, ok := certs[alias]
	if !ok || sha256Hex(der) != e.SHA256 {
		return false, nil
	}
	_, err = s.env.Runner.Run(ctx, Cmd{Name: "keytool", Args: []string{"-delete", "-alias", alias, "-keystore", cacerts, "-storepass", js.storePass()},
		Privileged: !s.env.writable(cacerts), Why: "remove the devca root from the Java trust store"})
	return err == nil, err
}
