// Package pgtest runs a PostgreSQL server of the tests' own: a cluster made with initdb in
// a temporary folder, started with pg_ctl, listening on a Unix socket in that folder only
// (no TCP port to collide with), and removed when the tests are done. Each test gets a
// database of its own in it, so one cluster serves a whole package and the tests stay
// fast.
//
// The binaries come from Debian's postgresql package (/usr/lib/postgresql/VERSION/bin) or
// from PATH. When they are missing a test skips, except under CI=true, where it fails.
// PostgreSQL refuses to run as root; when the tests run as root, the cluster runs as the
// user nobody, in a folder nobody owns.
//
// The cluster is tuned for tests, not durability: fsync is off. Nothing here kills the
// server, only the devca processes in front of it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// superuser is the role initdb creates and the tests connect as.
const superuser = "devca"

// Cluster is a running PostgreSQL server.
type Cluster struct {
	dir    string // the temporary folder: data/, the socket, the log
	bin    string // the folder of initdb, pg_ctl and postgres
	runAs  *user.User
	mu     sync.Mutex
	nextDB int
}

// binDir returns the folder of the newest PostgreSQL binaries installed.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl on PATH); install Debian's postgresql package")
}

// Start starts a cluster and stops it when tb's test ends.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	c, err := start()
	if err != nil {
		skipOrFail(tb, err)
	}
	tb.Cleanup(func() {
		if err := c.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return c
}

func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	var missing *missingError
	if errors.As(err, &missing) && os.Getenv("CI") != "true" {
		tb.Skip(err)
	}
	tb.Fatal(err)
}

type missingError struct{ err error }

func (e *missingError) Error() string { return e.err.Error() }

func start() (_ *Cluster, err error) {
	bin, err := binDir()
	if err != nil {
		return nil, &missingError{err}
	}
	dir, err := os.MkdirTemp("", "devca-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if os.Geteuid() == 0 {
		if c.runAs, err = user.Lookup("nobody"); err != nil {
			return nil, fmt.Errorf("PostgreSQL refuses root, and there is no user nobody to run it as: %w", err)
		}
		uid, _ := strconv.Atoi(c.runAs.Uid)
		gid, _ := strconv.Atoi(c.runAs.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.command("initdb", "-D", data, "-U", superuser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf("\nlisten_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\nfull_page_writes = off\nmax_connections = 300\n", dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if out, err := c.command("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return c, nil
}

// command runs one of the PostgreSQL binaries as the cluster's user.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.runAs != nil {
		setUser(cmd, c.runAs)
	}
	return cmd
}

// Stop stops the server at once and removes its folder.
func (c *Cluster) Stop() error {
	var err error
	data := filepath.Join(c.dir, "data")
	if _, serr := os.Stat(filepath.Join(data, "postmaster.pid")); serr == nil {
		if out, cerr := c.command("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").CombinedOutput(); cerr != nil {
			err = fmt.Errorf("pg_ctl stop: %v\n%s", cerr, out)
		}
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

// URL returns the connection URL of database name.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s", superuser, name, c.dir)
}

// NewDatabase creates an empty database and returns its URL.
func (c *Cluster) NewDatabase(tb testing.TB) string {
	tb.Helper()
	c.mu.Lock()
	c.nextDB++
	name := fmt.Sprintf("test_%d", c.nextDB)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		tb.Fatalf("connecting to the test cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("creating database %s: %v", name, err)
	}
	return c.URL(name)
}

// Shared is one cluster for all the tests of a package, started by the first test that
// asks for a database. Declare it as a package variable and call Stop after m.Run in
// TestMain.
type Shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// NewDatabase creates an empty database in the shared cluster, starting it first if
// needed, and returns its URL. It skips tb when PostgreSQL is missing (fails under CI).
func (s *Shared) NewDatabase(tb testing.TB) string {
	tb.Helper()
	s.once.Do(func() { s.c, s.err = start() })
	if s.err != nil {
		skipOrFail(tb, s.err)
	}
	return s.c.NewDatabase(tb)
}

// Stop stops the shared cluster if a test started it.
func (s *Shared) Stop() error {
	if s.c == nil {
		return nil
	}
	return s.c.Stop()
}

// Main runs m and then stops s: func TestMain(m *testing.M) { os.Exit(shared.Main(m)) }.
func (s *Shared) Main(m *testing.M) int {
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the PostgreSQL test cluster:", strings.TrimSpace(err.Error()))
		if code == 0 {
			code = 1
		}
	}
	return code
}
