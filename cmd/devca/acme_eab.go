package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/devca/devca/ca/acme/store"
	"github.com/devca/devca/ca/acme/store/boltstore"
)

// eabKeyBytes is the HMAC key's length: 256 bits, for HS256.
const eabKeyBytes = 32

// maxEABNote bounds --note, which every 'eab list' prints.
const maxEABNote = 200

func newACMEEABCommand(e *env) *cli.Command {
	dbFlag := &cli.StringFlag{Name: "db", Usage: "the server's state: `FILE` (default acme.db in the CA home) or a postgres:// URL, as given to 'devca acme --db'"}
	return &cli.Command{
		Name:  "eab",
		Usage: "create, list and revoke external account binding keys for 'devca acme --require-eab'",
		Description: "A server started with --require-eab accepts a new ACME account only with an external\n" +
			"account binding: a key ID and an HMAC key made here, handed to one client. Each key\n" +
			"binds one account; a revoked key binds no more (accounts it bound keep working).\n" +
			"Keys live in the server's store (--db), so every server on a PostgreSQL database sees\n" +
			"them at once. A bbolt file is locked while 'devca acme' runs on it: stop the server to\n" +
			"change keys, or keep the state in PostgreSQL.",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "create a key and print what each ACME client needs to use it",
				UsageText: "devca acme eab create --note 'CI runners'\ndevca acme eab create --db postgres://devca@db/devca --server https://acme.team.test/directory",
				Flags: []cli.Flag{
					dbFlag,
					&cli.StringFlag{Name: "note", Usage: "say whom the key is for, as `TEXT` that 'eab list' shows"},
					&cli.StringFlag{Name: "server", Usage: "the directory `URL` clients use, for the printed command lines", Value: "https://" + defaultACMEAddr + "/directory"},
				},
				Action: func(c *cli.Context) error { return runACMEEABCreate(c, e) },
			},
			{
				Name:      "list",
				Usage:     "list the keys: ID, creation, whether unused, bound (to which account) or revoked, note",
				UsageText: "devca acme eab list",
				Flags:     []cli.Flag{dbFlag},
				Action:    func(c *cli.Context) error { return runACMEEABList(c, e) },
			},
			{
				Name:      "revoke",
				Usage:     "revoke a key so that it binds no new account",
				UsageText: "devca acme eab revoke KID",
				Flags:     []cli.Flag{dbFlag},
				Action:    func(c *cli.Context) error { return runACMEEABRevoke(c, e) },
			},
		},
	}
}

// eabArgs returns the positional arguments of 'devca acme eab SUB', refusing
// more than want.
func eabArgs(c *cli.Context, e *env, sub string, want int) ([]string, error) {
	args, err := positionalArgs(c, e.args)
	if err != nil {
		return nil, err
	}
	if len(args) > want {
		return nil, &usageError{err: withHints(fmt.Errorf("acme eab %s takes %d argument(s), got %q", sub, want, args),
			fmt.Sprintf("run 'devca acme eab %s --help' for usage", sub))}
	}
	return args, nil
}

func runACMEEABCreate(c *cli.Context, e *env) error {
	if _, err := eabArgs(c, e, "create", 0); err != nil {
		return err
	}
	note := c.String("note")
	if len(note) > maxEABNote || strings.ContainsFunc(note, unicode.IsControl) {
		return &usageError{err: withHints(fmt.Errorf("invalid --note: use one line of at most %d bytes", maxEABNote),
			"run 'devca acme eab create --help' for usage")}
	}
	server := c.String("server")
	if !strings.HasPrefix(server, "https://") || strings.ContainsAny(server, " '\"\\") {
		return &usageError{err: withHints(fmt.Errorf("invalid --server %q: use the https URL of the directory", server),
			"for example https://acme.team.test:14000/directory")}
	}
	key := &store.EABKey{Key: make([]byte, eabKeyBytes), Note: note, CreatedAt: time.Now().UTC()}
	kid := make([]byte, 10)
	for _, b := range [][]byte{key.Key, kid} {
		if _, err := io.ReadFull(rand.Reader, b); err != nil {
			return fmt.Errorf("reading random key: %w", err)
		}
	}
	key.KID = "kid-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(kid))
	st, where, err := openEABStore(c.Context, e, c.String("db"), true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateEABKey(c.Context, key); err != nil {
		return fmt.Errorf("storing the external account key in %s: %w", where, err)
	}
	printEABClientLines(e.stdout, server, key.KID, base64.RawURLEncoding.EncodeToString(key.Key))
	e.notef("created external account key %s in %s; it binds one account, and the HMAC key is not shown again", key.KID, where)
	return nil
}

// printEABClientLines prints the key ID and the HMAC key (base64url, as RFC
// 8555 clients take it), then one line per common client.
func printEABClientLines(w io.Writer, dirURL, kid, hmac string) {
	fmt.Fprintf(w, "kid:          %s\n", kid)
	fmt.Fprintf(w, "hmac-key:     %s\n", hmac)
	fmt.Fprintf(w, "certbot:      certbot register --server %s --eab-kid %s --eab-hmac-key %s --agree-tos -m dev@app.test\n", dirURL, kid, hmac)
	fmt.Fprintf(w, "lego:         lego --server %s --eab --kid %s --hmac %s --accept-tos --email dev@app.test --http --domains app.test run\n", dirURL, kid, hmac)
	fmt.Fprintf(w, "acme.sh:      acme.sh --register-account --server %s --eab-kid %s --eab-hmac-key %s\n", dirURL, kid, hmac)
	fmt.Fprintf(w, "cert-manager: kubectl create secret generic devca-eab --namespace cert-manager --from-literal=secret=%s; "+
		"then in the ClusterIssuer's spec.acme: externalAccountBinding: {keyID: %s, keySecretRef: {name: devca-eab, key: secret}}\n", hmac, kid)
}

func runACMEEABList(c *cli.Context, e *env) error {
	if _, err := eabArgs(c, e, "list", 0); err != nil {
		return err
	}
	st, _, err := openEABStore(c.Context, e, c.String("db"), false)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListEABKeys(c.Context)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tCREATED\tSTATUS\tNOTE")
	for _, k := range keys {
		status := "unused"
		switch {
		case k.Revoked():
			status = "revoked " + k.RevokedAt.UTC().Format(time.RFC3339)
		case k.AccountID != "":
			status = "bound to account " + k.AccountID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.CreatedAt.UTC().Format(time.RFC3339), status, k.Note)
	}
	return tw.Flush()
}

func runACMEEABRevoke(c *cli.Context, e *env) error {
	args, err := eabArgs(c, e, "revoke", 1)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return &usageError{err: withHints(errors.New("acme eab revoke needs the KID of the key to revoke"), "'devca acme eab list' shows the keys")}
	}
	kid := args[0]
	st, where, err := openEABStore(c.Context, e, c.String("db"), false)
	if err != nil {
		return err
	}
	defer st.Close()
	err = st.RevokeEABKey(c.Context, kid, time.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return withHints(fmt.Errorf("no external account key %q in %s", kid, where), "'devca acme eab list' shows the keys")
	}
	if err != nil {
		return err
	}
	e.notef("revoked external account key %s: it binds no new account; an account it bound already keeps working", kid)
	return nil
}

// openEABStore opens the store of 'devca acme' as --db names it. create may
// make a new bbolt file in an existing folder; list and revoke need the file.
// A bbolt file that a running server holds is locked: the error says what to do.
func openEABStore(ctx context.Context, e *env, db string, create bool) (store.Store, string, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		st, _, where, err := openACMEStore(ctx, db, "")
		return st, where, err
	}
	if db == "" {
		home, err := e.home()
		if err != nil {
			return nil, "", err
		}
		db = filepath.Join(home, acmeDBFile)
	}
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		if !create {
			return nil, "", withHints(fmt.Errorf("no ACME state at %q", db),
				"create a key with 'devca acme eab create', or pass the --db that 'devca acme' uses")
		}
		if _, err := os.Stat(filepath.Dir(db)); err != nil {
			return nil, "", withHints(fmt.Errorf("cannot create the ACME state at %q: %w", db, err),
				"run 'devca acme' (or 'devca init') once to create the CA home, or pass --db")
		}
	}
	st, err := boltstore.Open(db)
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, "", withHints(err,
			"a running 'devca acme' holds this file: stop it, run this command again, then start the server (it reads the keys at every new account)",
			"or keep the state in PostgreSQL (devca acme --db postgres://…), where 'devca acme eab' and running servers share the database")
	}
	if err != nil {
		return nil, "", err
	}
	return st, fmt.Sprintf("%q", db), nil
}
