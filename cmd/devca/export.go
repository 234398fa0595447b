package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca"
	"github.com/devca/devca/trust"
)

// envCAP12Password is the password of an exported CA file, for export and
// for 'init --import'.
const envCAP12Password = "DEVCA_CA_P12_PASSWORD"

func newExportCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "export the root CA with its key, password-protected, to move it to another machine",
		UsageText: "devca export --p12 devca-ca.p12                 asks for a password\n" +
			envCAP12Password + "=… devca export --p12 devca-ca.p12\n" +
			"devca init --import devca-ca.p12                 (on the other machine)\n" +
			"devca export --java-truststore devca-trust.p12   for java -Djavax.net.ssl.trustStore=…",
		Description: "The PKCS#12 file holds the root certificate and its private key, encrypted with AES-256\n" +
			"under a key derived from the password (PBKDF2-HMAC-SHA-256, 600,000 iterations). Whoever\n" +
			"has the file and the password can sign certificates every machine trusting this CA accepts,\n" +
			"so share it only as a team shares one development CA. --no-password writes it unencrypted.\n" +
			"--java-truststore writes only the root certificate, as a PKCS#12 trust store (password\n" +
			"changeit) for Java apps started with -Djavax.net.ssl.trustStore, without touching the JDK.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "p12", Usage: "write the PKCS#12 file to `FILE`"},
			&cli.StringFlag{Name: "password", Usage: "encrypt with `PASSWORD` (visible to other users in the process list; prefer " + envCAP12Password + " or the prompt)"},
			&cli.BoolFlag{Name: "no-password", Usage: "write the key unencrypted (anyone who reads the file can sign certificates)"},
			&cli.StringFlag{Name: "java-truststore", Usage: "write the root certificate (no key) as a Java PKCS#12 trust store to `FILE`"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite FILE if it exists"},
		},
		Action: func(c *cli.Context) error { return runExport(c, e) },
	}
}

func runExport(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErrorf("export takes no arguments, got %q (write the file name after --p12)", c.Args().First())
	}
	if c.String("java-truststore") != "" {
		if c.String("p12") != "" || c.IsSet("password") || c.Bool("no-password") {
			return usageErrorf("--java-truststore exports the certificate alone; it cannot be combined with --p12, --password or --no-password")
		}
		return runExportJavaTrustStore(c, e)
	}
	if c.String("p12") == "" {
		return usageErrorf("export needs --p12 FILE (the root and its key) or --java-truststore FILE (the root only)")
	}
	if c.Bool("no-password") && c.IsSet("password") {
		return usageErrorf("--password and --no-password cannot be used together")
	}
	if c.String("p12") == stdoutPath {
		return usageErrorf("--p12 - would print the root key; devca writes it only to a file")
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	path := absPath(c.String("p12"))
	if err := checkExportTarget(auth, "PKCS#12 file", path, c.Bool("force")); err != nil {
		return fmt.Errorf("exporting the CA: %w", err)
	}
	// Unlock the key first, so a wrong passphrase fails before the export
	// password is typed twice.
	if _, err := auth.Signer(); err != nil {
		return err
	}
	var data []byte
	if c.Bool("no-password") {
		e.warnf("writing the root key unencrypted (--no-password): anyone who reads %q can sign certificates this CA's users trust", path)
		data, err = auth.ExportP12Unencrypted()
	} else {
		var password []byte
		password, err = e.exportPassword(c)
		if err != nil {
			return err
		}
		if err := ca.CheckP12Password(string(password)); err != nil {
			return withHints(err, p12PasswordHint)
		}
		data, err = auth.ExportP12(string(password))
	}
	if err != nil {
		return fmt.Errorf("exporting the CA: %w", err)
	}
	if err := ca.WriteFileAtomic(path, data, ca.KeyPerm); err != nil {
		return fmt.Errorf("exporting the CA: %w", err)
	}
	fmt.Fprintf(e.stdout, "exported the root CA and its key to %s\n", displayPath(path))
	fmt.Fprintf(e.stdout, "  fingerprint  SHA256 %s\n", ca.Fingerprint(auth.Cert))
	e.notef("import it on another machine with 'devca init --import %s'", filepath.Base(path))
	return nil
}

// runExportJavaTrustStore writes the root alone as a PKCS#12 trust store
// that Java reads with its default password.
func runExportJavaTrustStore(c *cli.Context, e *env) error {
	if c.String("java-truststore") == stdoutPath {
		return usageErrorf("--java-truststore - would print a binary file; name a file")
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	path := absPath(c.String("java-truststore"))
	if err := checkExportTarget(auth, "trust store", path, c.Bool("force")); err != nil {
		return fmt.Errorf("exporting the trust store: %w", err)
	}
	data, err := trust.JavaTrustStore(auth.Cert, ca.DefaultP12Password)
	if err != nil {
		return fmt.Errorf("exporting the trust store: %w", err)
	}
	if err := ca.WriteFileAtomic(path, data, ca.CertPerm); err != nil {
		return fmt.Errorf("exporting the trust store: %w", err)
	}
	fmt.Fprintf(e.stdout, "wrote a Java trust store with the root CA to %s (password %s)\n", displayPath(path), ca.DefaultP12Password)
	e.notef("use it with: java -Djavax.net.ssl.trustStore=%s -Djavax.net.ssl.trustStorePassword=%s …", path, ca.DefaultP12Password)
	return nil
}

// checkExportTarget refuses what checkTargets refuses, whatever force says,
// and an existing file unless force is set.
func checkExportTarget(auth *ca.Authority, what, path string, force bool) error {
	if err := checkTargets(auth.Dir, []outputTarget{{What: what, Path: path}}); err != nil {
		return err
	}
	if force {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return withHints(fmt.Errorf("%q exists", path), "choose another name, or pass --force to overwrite it")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// exportPassword is --password, else $DEVCA_CA_P12_PASSWORD, else typed twice.
func (e *env) exportPassword(c *cli.Context) ([]byte, error) {
	if c.IsSet("password") {
		if c.String("password") == "" {
			return nil, usageErrorf("--password is empty; pass --no-password to write the key unencrypted")
		}
		return []byte(c.String("password")), nil
	}
	if p := e.getenv(envCAP12Password); p != "" {
		return []byte(p), nil
	}
	p, err := e.passphrase("password for the exported CA: ", envCAP12Password)
	if err != nil {
		return nil, err
	}
	again, err := e.passphrase("the same password again: ", envCAP12Password)
	if err != nil {
		return nil, err
	}
	if string(p) != string(again) {
		return nil, errors.New("the two passwords differ; nothing was written")
	}
	return p, nil
}

// importFlags are init's flags for adopting an existing root.
func importFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "from-mkcert", Usage: "adopt mkcert's root and key from [DIR] (default: the folder 'mkcert -CAROOT' prints); mkcert's files are left as they are"},
		&cli.StringFlag{Name: "import", Usage: "adopt the root and key in the PKCS#12 `FILE` written by 'devca export'"},
		&cli.StringFlag{Name: "import-password", Usage: "password of the --import file (or set " + envCAP12Password + ", or type it)"},
	}
}

// importRequested reports whether init is to adopt a root rather than create one.
func importRequested(c *cli.Context) bool {
	return c.Bool("from-mkcert") || c.String("import") != ""
}

// checkImportFlags rejects flag combinations that make no sense when adopting
// an existing root, whose key type and constraints are already fixed.
func checkImportFlags(c *cli.Context, args []string) error {
	if c.Bool("from-mkcert") && c.String("import") != "" {
		return usageErrorf("--from-mkcert and --import cannot be used together")
	}
	if len(args) > 0 && (!c.Bool("from-mkcert") || len(args) > 1) {
		return usageErrorf("init takes no arguments, got %q", args[0])
	}
	if c.IsSet("import-password") && c.String("import") == "" {
		return usageErrorf("--import-password only applies with --import")
	}
	if !importRequested(c) {
		return nil
	}
	for _, name := range []string{"key-type", "permit", "unconstrained"} {
		if c.IsSet(name) {
			return usageErrorf("--%s cannot be used when importing a root: its key and name constraints are fixed", name)
		}
	}
	return nil
}

// readImportedRoot reads the root and key that --from-mkcert or --import name.
func (e *env) readImportedRoot(c *cli.Context, args []string) (*ca.ImportedRoot, error) {
	if c.Bool("from-mkcert") {
		dir := ""
		if len(args) == 1 {
			dir = args[0]
		} else {
			var err error
			if dir, err = ca.MkcertCAROOT(e.getenv, e.goos()); err != nil {
				return nil, withHints(err, "name the folder: 'devca init --from-mkcert DIR'")
			}
		}
		root, err := ca.ReadMkcertCA(dir)
		if err != nil {
			return nil, withHints(err, "name mkcert's folder ('mkcert -CAROOT' prints it): 'devca init --from-mkcert DIR'")
		}
		return root, nil
	}
	path := absPath(c.String("import"))
	data, err := ca.ReadInputFile(path, ca.MaxInputFile)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	password := c.String("import-password")
	if !c.IsSet("import-password") {
		if password = e.getenv(envCAP12Password); password == "" {
			// An unencrypted export needs no password; try that first.
			if root, err := ca.DecodeP12(data, ""); err == nil {
				root.From = "PKCS#12 file " + path
				return root, nil
			}
			p, err := e.passphrase("password of "+filepath.Base(path)+": ", envCAP12Password)
			if err != nil {
				return nil, err
			}
			password = string(p)
		}
	}
	root, err := ca.DecodeP12(data, password)
	if errors.Is(err, ca.ErrIncorrectPassword) {
		return nil, withHints(fmt.Errorf("reading %q: wrong password", path), "give the password used with 'devca export' in --import-password or "+envCAP12Password)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	root.From = "PKCS#12 file " + path
	return root, nil
}

// rootPlan is what init is about to make: a new root or an adopted one, and
// where its key goes. Everything that can fail for want of a secret or a
// file is settled before the old CA (with --new) is retired.
type rootPlan struct {
	storage ca.KeyStorage
	secrets ca.Secrets
	// root is the adopted root, nil for a new one.
	root *ca.ImportedRoot
	// warnings are printed once the root is stored (see chooseKeyStorage).
	warnings []string
}

// planNewRoot reads the root to import, if any, and chooses the key storage.
func (e *env) planNewRoot(c *cli.Context, dir string, args []string) (*rootPlan, error) {
	p := &rootPlan{}
	if importRequested(c) {
		root, err := e.readImportedRoot(c, args)
		if err != nil {
			return nil, err
		}
		p.root = root
	}
	storage, sec, warnings, err := e.chooseKeyStorage(c, dir)
	if err != nil {
		return nil, err
	}
	p.storage, p.secrets, p.warnings = storage, sec, warnings
	return p, nil
}

// create makes or imports the root in dir.
func (p *rootPlan) create(e *env, dir string, opts ca.CreateOptions) (*ca.Authority, error) {
	if p.root == nil {
		opts.KeyStorage, opts.Secrets = p.storage, p.secrets
		return ca.Create(dir, opts)
	}
	auth, err := ca.Import(dir, p.root, ca.ImportOptions{KeyStorage: p.storage, Secrets: p.secrets})
	if err != nil {
		return nil, err
	}
	if !auth.Constraints().Constrained() {
		e.warnf("the imported root has no name constraints: anyone who obtains its key can impersonate any website to machines that trust it")
	}
	return auth, nil
}

// done says what create did, for init's first output line.
func (p *rootPlan) done() string {
	if p.root == nil {
		return "created a new root CA"
	}
	return "imported the root CA from " + p.root.From
}
