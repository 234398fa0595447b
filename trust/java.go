package trust

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// defaultStorePass is the password every JDK ships its cacerts with; it
// protects nothing (the file is world-readable) and only guards integrity.
// DEVCA_JAVA_STOREPASS overrides it for JDKs whose cacerts was re-keyed.
const defaultStorePass = "changeit"

// javaStore is the cacerts keystore of each JDK devca can find: the one in
// $JAVA_HOME and the one of the java on PATH. Java ignores the system store
// on most systems and reads only its own cacerts.
type javaStore struct {
	env Env
}

func newJavaStore(env Env) *javaStore { return &javaStore{env: env} }

func (s *javaStore) Name() string        { return StoreJava }
func (s *javaStore) Description() string { return "Java cacerts" }

// keystore is one cacerts file found, or expected and missing.
type keystore struct {
	path    string // resolved through symbolic links when present
	keytool string // keytool of the same JDK, if it has one
	missing bool
}

// keystores finds the cacerts of $JAVA_HOME and of the java on PATH, without
// duplicates (Debian links every JDK's cacerts to /etc/ssl/certs/java).
func (s *javaStore) keystores() []keystore {
	var homes []string
	if h := s.env.getenv("JAVA_HOME"); h != "" {
		homes = append(homes, h)
	}
	if java, err := s.env.lookPath("java"); err == nil {
		if real, err := s.env.evalSymlinks(java); err == nil {
			java = real
		}
		// /usr/bin/java on macOS is a launcher stub, not a JDK.
		if !(s.env.GOOS == "darwin" && filepath.Dir(java) == "/usr/bin") {
			homes = append(homes, filepath.Dir(filepath.Dir(java)))
		}
	}
	var out []keystore
	seen := map[string]bool{}
	for _, home := range homes {
		ks := keystore{missing: true, path: filepath.Join(home, "lib", "security", "cacerts")}
		// JDK 8 and older keep the runtime under jre/.
		for _, p := range []string{ks.path, filepath.Join(home, "jre", "lib", "security", "cacerts")} {
			if exists(p) {
				ks.path, ks.missing = p, false
				if real, err := s.env.evalSymlinks(p); err == nil {
					ks.path = real
				}
				break
			}
		}
		for _, name := range []string{"keytool", "keytool.exe"} {
			if p := filepath.Join(home, "bin", name); exists(p) {
				ks.keytool = p
				break
			}
		}
		if seen[ks.path] {
			continue
		}
		seen[ks.path] = true
		out = append(out, ks)
	}
	return out
}

func (s *javaStore) Present(context.Context) bool {
	for _, ks := range s.keystores() {
		if !ks.missing {
			return true
		}
	}
	return false
}

func (s *javaStore) keytool(ks keystore) (string, error) {
	if ks.keytool != "" {
		return ks.keytool, nil
	}
	if s.env.hasTool("keytool") {
		return "keytool", nil
	}
	return "", &ToolMissingError{Tool: "keytool", Hint: "install a JDK or set JAVA_HOME to one"}
}

func (s *javaStore) storePass() string {
	if p := s.env.getenv("DEVCA_JAVA_STOREPASS"); p != "" {
		return p
	}
	return defaultStorePass
}

// list returns the certificates of the keystore by alias (lowercase, as
// keytool reports them).
func (s *javaStore) list(ctx context.Context, keytool, path string) (map[string][]byte, error) {
	out, err := s.env.Runner.Run(ctx, Cmd{Name: keytool, Args: []string{"-list", "-rfc", "-keystore", path, "-storepass", s.storePass()}})
	if err != nil {
		return nil, err
	}
	return parseKeytoolList(out), nil
}

// parseKeytoolList reads the output of keytool -list -rfc: an "Alias name:"
// line, then other fields, then the certificate in PEM. Aliases are
// lowercased, as keytool compares them case-insensitively.
func parseKeytoolList(out []byte) map[string][]byte {
	certs := map[string][]byte{}
	alias := ""
	rest := out
	for len(rest) > 0 {
		line, tail, _ := strings.Cut(string(rest), "\n")
		if a, ok := strings.CutPrefix(line, "Alias name: "); ok {
			alias = strings.ToLower(strings.TrimSpace(a))
		}
		if strings.HasPrefix(line, "-----BEGIN CERTIFICATE-----") {
			b, after := pem.Decode(rest)
			if b == nil {
				break
			}
			if alias != "" {
				certs[alias] = b.Bytes
				alias = ""
			}
			rest = after
			continue
		}
		rest = []byte(tail)
	}
	return certs
}

// trustedBy reports whether any alias of a keystore listing holds der.
func trustedBy(certs map[string][]byte, der []byte) bool {
	for _, c := range certs {
		if string(c) == string(der) {
			return true
		}
	}
	return false
}

func (s *javaStore) Check(ctx context.Context, root *Root) ([]Location, error) {
	var locs []Location
	var errs []error
	for _, ks := range s.keystores() {
		loc := Location{Path: ks.path}
		if ks.missing {
			loc.Missing, loc.Note = true, "cacerts missing"
			locs = append(locs, loc)
			continue
		}
		keytool, err := s.keytool(ks)
		if err != nil {
			errs = append(errs, err)
			loc.Note = "keytool missing"
			locs = append(locs, loc)
			continue
		}
		certs, err := s.list(ctx, keytool, ks.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %q: %w", ks.path, err))
			loc.Note = "unreadable"
		}
		// Any alias counts: Debian's ca-certificates-java hook copies
		// system anchors into cacerts under its own names.
		loc.Trusted = trustedBy(certs, root.Cert.Raw)
		locs = append(locs, loc)
	}
	return locs, errors.Join(errs...)
}

func (s *javaStore) Install(ctx context.Context, root *Root) ([]Installation, error) {
	var entries []Installation
	var errs []error
	for _, ks := range s.keystores() {
		if ks.missing {
			continue
		}
		keytool, err := s.keytool(ks)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		certs, err := s.list(ctx, keytool, ks.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %q: %w", ks.path, err))
			continue
		}
		alias := strings.ToLower(root.ID())
		if trustedBy(certs, root.Cert.Raw) {
			// Trusted already, under devca's alias from an earlier run
			// or another one (Debian's ca-certificates-java hook copies
			// the system anchors in): nothing to add or record.
			entries = append(entries, entryFor(StoreJava, root, ks.path, alias, false))
			continue
		}
		if _, ok := certs[alias]; ok {
			errs = append(errs, fmt.Errorf("alias %q in %q holds another certificate, so devca left it alone", alias, ks.path))
			continue
		}
		// Without -file keytool reads the certificate from stdin: the
		// checked bytes, readable even when root cannot read the CA home.
		c := Cmd{Name: keytool, Args: []string{"-importcert", "-noprompt", "-alias", alias, "-keystore", ks.path, "-storepass", s.storePass()},
			Stdin: root.PEM, StdinFrom: root.File, Privileged: !s.env.writable(ks.path), Why: "add the devca root to the Java trust store"}
		if _, err := s.env.Runner.Run(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("adding root to %q: %w", ks.path, err))
			continue
		}
		entries = append(entries, entryFor(StoreJava, root, ks.path, alias, true))
	}
	return entries, errors.Join(errs...)
}

func (s *javaStore) Uninstall(ctx context.Context, e Installation) (bool, error) {
	if !exists(e.Location) {
		return false, nil
	}
	ks := keystore{path: e.Location}
	for _, k := range s.keystores() {
		if k.path == e.Location {
			ks = k
		}
	}
	keytool, err := s.keytool(ks)
	if err != nil {
		return false, err
	}
	certs, err := s.list(ctx, keytool, e.Location)
	if err != nil {
		return false, fmt.Errorf("reading %q: %w", e.Location, err)
	}
	der, ok := certs[e.Name]
	if !ok {
		return false, nil
	}
	if sha256Hex(der) != e.SHA256 {
		return false, fmt.Errorf("alias %q holds another certificate than the one devca installed, so devca left it alone", e.Name)
	}
	c := Cmd{Name: keytool, Args: []string{"-delete", "-alias", e.Name, "-keystore", e.Location, "-storepass", s.storePass()},
		Privileged: !s.env.writable(e.Location), Why: "remove the devca root from the Java trust store"}
	if _, err := s.env.Runner.Run(ctx, c); err != nil {
		return false, err
	}
	return true, nil
}
