package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/devca/devca/ca"
)

// Environment variables of key storage.
const (
	envKeyStorage     = "DEVCA_KEY_STORAGE"       // default for --key-storage
	envPassphrase     = "DEVCA_CA_PASSPHRASE"     // passphrase of passphrase storage
	envNewPassphrase  = "DEVCA_CA_NEW_PASSPHRASE" // new passphrase when changing it
	envKeyringTimeout = "DEVCA_KEYRING_TIMEOUT"   // bound on each keyring call, e.g. 2s
)

func newKeyStorageCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "key-storage",
		Usage: "show or change where the root key is kept",
		UsageText: "devca key-storage                     show the current storage\n" +
			"devca key-storage --to keyring        encrypt the key with a secret in the OS keyring\n" +
			"devca key-storage --to passphrase     encrypt the key with a passphrase (asked on every signing)\n" +
			"devca key-storage --to file           keep the key unencrypted, mode 0600, like mkcert",
		Description: "The root certificate does not change, so nothing needs to be trusted again. The key is\n" +
			"written to the new storage first and the old copy is removed only after the switch, so\n" +
			"an interrupted or failed move leaves the CA usable as before. --to passphrase with a\n" +
			"passphrase already set changes it (the new one comes from a prompt or " + envNewPassphrase + ").",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "move the key to `STORAGE`: keyring, passphrase or file"},
		},
		Action: func(c *cli.Context) error { return runKeyStorage(c, e) },
	}
}

func runKeyStorage(c *cli.Context, e *env) error {
	if c.NArg() > 0 {
		return usageErrorf("key-storage takes no arguments, got %q", c.Args().First())
	}
	auth, err := e.loadCA()
	if err != nil {
		return err
	}
	if !c.IsSet("to") {
		fmt.Fprintf(e.stdout, "%s\n", auth.Meta.KeyStorage)
		e.notef("the root key is %s", auth.KeyStorageDescription())
		if account := auth.KeyringAccount(); account != "" {
			e.notef("its secret is the keyring entry with service %q and account %q", ca.KeyringService, account)
		}
		return nil
	}
	to, err := ca.ParseKeyStorage(c.String("to"))
	if err != nil {
		return &usageError{err: err}
	}
	from := auth.Meta.KeyStorage
	if to == ca.StorageFile && from == ca.StorageFile {
		e.notef("the root key already is in file storage; nothing changed")
		return nil
	}
	// Unlock the key before asking for anything new, so a wrong passphrase
	// or a missing keyring entry is reported first.
	if _, err := auth.Signer(); err != nil {
		return withHints(err, "nothing was changed")
	}
	sec := ca.Secrets{Keyring: e.hintingKeyring("the key stays where it was; 'devca key-storage --to passphrase' encrypts it without a keyring")}
	if to == ca.StoragePassphrase {
		sec.Passphrase = func() ([]byte, error) { return e.newPassphrase(from == ca.StoragePassphrase) }
	}
	warnings, err := auth.MoveKey(to, sec)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		e.warnf("%s", w)
	}
	switch {
	case from == to && to == ca.StorageKeyring:
		fmt.Fprintf(e.stdout, "re-encrypted the root key under a new keyring secret\n")
	case from == to:
		fmt.Fprintf(e.stdout, "changed the root key's passphrase\n")
	default:
		fmt.Fprintf(e.stdout, "moved the root key from %s to %s storage\n", from, to)
	}
	fmt.Fprintf(e.stdout, "  key  %s\n", auth.KeyStorageDescription())
	if to == ca.StorageFile {
		e.warnf("the root key is now unencrypted on disk: any program running as you can read it")
	}
	return nil
}

// keyStorageFlag is init's --key-storage.
func keyStorageFlag() cli.Flag {
	return &cli.StringFlag{Name: "key-storage", Usage: "keep the root key in `STORAGE`: keyring (default when a keyring answers), passphrase or file (or set " + envKeyStorage + ")"}
}

// chooseKeyStorage returns the storage for a new root key and the secrets it
// needs: --key-storage, else $DEVCA_KEY_STORAGE, else the keyring when one
// answers and a plain file when none does. warnings are for the caller to
// print once the key is stored that way: a failed or cancelled init stores
// nothing.
func (e *env) chooseKeyStorage(c *cli.Context, dir string) (_ ca.KeyStorage, _ ca.Secrets, warnings []string, _ error) {
	return e.keyStorageChoice(c.String("key-storage"), dir)
}

// keyStorageFor is chooseKeyStorage for an explicit choice ("" for none),
// for commands without a --key-storage flag such as serve. It prints the
// warnings at once.
func (e *env) keyStorageFor(choice, dir string) (ca.KeyStorage, ca.Secrets, error) {
	storage, sec, warnings, err := e.keyStorageChoice(choice, dir)
	for _, w := range warnings {
		e.warnf("%s", w)
	}
	return storage, sec, err
}

func (e *env) keyStorageChoice(choice, dir string) (ca.KeyStorage, ca.Secrets, []string, error) {
	if choice == "" {
		choice = e.getenv(envKeyStorage)
	}
	sec := ca.Secrets{Keyring: e.hintingKeyring("or keep the key elsewhere: --key-storage passphrase, or --key-storage file (unencrypted, like mkcert)")}
	if choice == "" {
		if err := ca.ProbeKeyring(e.systemKeyring()); err != nil {
			return ca.StorageFile, sec, []string{fmt.Sprintf("no keyring answered (%v): the root key is stored unencrypted in %q; move it later with 'devca key-storage --to keyring'", err, filepath.Join(dir, ca.RootKeyFile))}, nil
		}
		return ca.StorageKeyring, sec, nil, nil
	}
	storage, err := ca.ParseKeyStorage(choice)
	if err != nil {
		return "", sec, nil, &usageError{err: err}
	}
	if storage == ca.StoragePassphrase {
		pass, err := e.newPassphrase(false)
		if err != nil {
			return "", sec, nil, err
		}
		sec.Passphrase = func() ([]byte, error) { return pass, nil }
	}
	return storage, sec, nil, nil
}

// secrets returns what unlocks auth's key: the system keyring with hints on
// its errors, and the passphrase from $DEVCA_CA_PASSPHRASE or a prompt.
func (e *env) secrets() ca.Secrets {
	sec := ca.Secrets{Keyring: e.hintingKeyring("once the keyring answers, 'devca key-storage --to passphrase' or '--to file' moves the key out of it"), Attempts: 1}
	asked := 0
	sec.Passphrase = func() ([]byte, error) {
		if asked++; asked > 1 {
			e.notef("wrong passphrase, try again")
		}
		return e.passphrase("passphrase for the devca root key: ", envPassphrase)
	}
	if e.getenv(envPassphrase) == "" {
		// A person types it: allow a typo or two, as sudo does.
		sec.Attempts = 3
	}
	return sec
}

// systemKeyring is the keyring devca uses: env.keyring in tests, else the
// operating system's, bounded by $DEVCA_KEYRING_TIMEOUT.
func (e *env) systemKeyring() ca.Keyring {
	if e.keyring != nil {
		return e.keyring
	}
	timeout := ca.DefaultKeyringTimeout
	if s := e.getenv(envKeyringTimeout); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			timeout = d
		} else {
			return brokenKeyring{fmt.Errorf("%s=%q is not a duration such as 10s", envKeyringTimeout, s)}
		}
	}
	return ca.NewSystemKeyring(ca.SystemKeyringOptions{Timeout: timeout, Getenv: e.getenv, GOOS: e.goos()})
}

// brokenKeyring fails every call with err, for a keyring devca cannot set up.
type brokenKeyring struct{ err error }

func (b brokenKeyring) Get(string, string) (string, error) { return "", b.err }
func (b brokenKeyring) Set(string, string, string) error   { return b.err }
func (b brokenKeyring) Delete(string, string) error        { return b.err }

// hintingKeyring wraps the keyring so that its failures carry the hints that
// fix them, followed by way, the way out that fits the command at hand.
func (e *env) hintingKeyring(way string) ca.Keyring {
	return &hintingKeyring{kr: e.systemKeyring(), e: e, way: way}
}

type hintingKeyring struct {
	kr  ca.Keyring
	e   *env
	way string
}

func (h *hintingKeyring) Get(service, account string) (string, error) {
	s, err := h.kr.Get(service, account)
	return s, h.explain(err)
}

func (h *hintingKeyring) Set(service, account, secret string) error {
	return h.explain(h.kr.Set(service, account, secret))
}

func (h *hintingKeyring) Delete(service, account string) error {
	return h.explain(h.kr.Delete(service, account))
}

func (h *hintingKeyring) explain(err error) error {
	if err == nil {
		return nil
	}
	name := ca.KeyringName(h.e.goos())
	if errors.Is(err, ca.ErrKeyringNotFound) {
		return withHints(err,
			"a CA home moved or copied to another folder or machine cannot use its keyring secret: run devca with the original folder,",
			"or move the CA with 'devca export --p12 FILE' there and 'devca init --import FILE' here")
	}
	var ke *ca.KeyringError
	if !errors.As(err, &ke) {
		return withHints(err, "unset "+envKeyringTimeout+" or set it to a duration such as 10s")
	}
	unlock := "log in to the desktop, or run 'gnome-keyring-daemon --unlock' on a headless machine"
	check := "check that a Secret Service (gnome-keyring, KWallet) runs in this session and that its default collection is unlocked"
	switch h.e.goos() {
	case "darwin":
		unlock = "run 'security unlock-keychain' or unlock it in Keychain Access"
		check = "check that the login keychain exists and is unlocked ('security show-keychain-info')"
	case "windows":
		unlock = "sign in to Windows interactively"
		check = "check that Credential Manager works for this user (Control Panel, Credential Manager)"
	}
	var hint string
	switch {
	case errors.Is(err, ca.ErrNoSessionBus):
		hint = "the " + name + " is reached over D-Bus: run devca in a desktop session, or start one with 'dbus-run-session -- $SHELL' and 'gnome-keyring-daemon --unlock --components=secrets'"
	case errors.Is(err, ca.ErrKeyringTimeout):
		hint = "the " + name + " is probably locked and waiting for an unlock prompt: " + unlock + ", or wait longer with " + envKeyringTimeout + "=30s"
	default:
		hint = check
	}
	return withHints(err, hint, h.way)
}

// passphrase returns the passphrase in the variable name, else asks for it
// on the terminal without echo.
func (e *env) passphrase(prompt, name string) ([]byte, error) {
	if p := e.getenv(name); p != "" {
		return []byte(p), nil
	}
	read := e.readPassword
	if read == nil {
		read = e.readTerminalPassword
	}
	p, err := read(prompt)
	if errors.Is(err, errNoTerminal) {
		hint := "set " + name + ", or run devca in a terminal to type it"
		if name == envPassphrase {
			hint = "set " + envPassphrase + " (and " + envNewPassphrase + " when changing it), or run devca in a terminal to type it"
		}
		return nil, withHints(fmt.Errorf("%s is not set and stdin is not a terminal to type it", name), hint)
	}
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, withHints(errors.New("the passphrase is empty"), "type the passphrase, or set "+name)
	}
	return p, nil
}

// newPassphrase asks for a new passphrase twice (or reads the variable).
// changing says a passphrase is set already, so the new one comes from
// $DEVCA_CA_NEW_PASSPHRASE rather than $DEVCA_CA_PASSPHRASE.
func (e *env) newPassphrase(changing bool) ([]byte, error) {
	name := envPassphrase
	if changing {
		name = envNewPassphrase
	}
	if p := e.getenv(name); p != "" {
		return []byte(p), nil
	}
	p, err := e.passphrase("new passphrase for the devca root key: ", name)
	if err != nil {
		return nil, err
	}
	again, err := e.passphrase("the same passphrase again: ", name)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, errors.New("the two passphrases differ; nothing was changed")
	}
	return p, nil
}

// errNoTerminal means a secret is needed and there is no terminal to type it.
var errNoTerminal = errors.New("a secret is needed and stdin is not a terminal to type it")

// readTerminalPassword reads a line from stdin with echo off, prompting on
// stderr. It refuses when stdin is not a terminal, where the typed secret
// would be echoed or a script would hang.
func (e *env) readTerminalPassword(prompt string) ([]byte, error) {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, errNoTerminal
	}
	fmt.Fprint(e.stderr, prompt)
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return nil, fmt.Errorf("reading the passphrase: %w", err)
	}
	return p, nil
}
