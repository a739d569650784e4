// Package pgtest gives tests a brand-new, empty PostgreSQL database each.
//
// The server is found once per test process, in this order (ARCHITECTURE.md §6):
//
//  1. SMSGW_TEST_DATABASE_URL, a lib/pq URL of a role allowed to CREATE DATABASE;
//  2. 127.0.0.1:5432 as user postgres (trust auth, sslmode=disable) if it answers within 2s;
//  3. a throwaway cluster made with the local initdb/pg_ctl (PATH, then
//     /usr/lib/postgresql/*/bin) in a temporary directory on a free port. As root, initdb and
//     pg_ctl run as the postgres OS user through runuser, because initdb refuses root.
//
// A throwaway cluster is stopped and removed by Main, which a package's TestMain wraps its
// *testing.M with. Tests cannot hook process exit otherwise: in a package without such a
// TestMain the cluster is left running in its temporary directory for the OS to reap.
//
// If no server can be had the test is skipped with a loud message, except when CI=true, where
// it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
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

	_ "github.com/lib/pq" // the "postgres" database/sql driver
)

// EnvURL names the variable that points the tests at a server of your choice.
const EnvURL = "SMSGW_TEST_DATABASE_URL"

const (
	localURL     = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	probeTimeout = 2 * time.Second
	adminTimeout = 30 * time.Second
)

// server is the test server of this process, resolved once.
type server struct {
	once  sync.Once
	admin *url.URL // a URL of the server's maintenance database, for CREATE/DROP DATABASE
	err   error    // why there is no server
	stop  func()   // stops a throwaway cluster; nil otherwise
}

// shared is the one server of the test process (the only package-level state here).
var shared server

// DSN returns the lib/pq URL of a new, empty database that is dropped when t ends, in the
// form postgres://postgres@127.0.0.1:5432/smsgw_test_<random>?sslmode=disable.
func DSN(t testing.TB) string {
	t.Helper()
	admin := Admin(t)
	name, err := newName()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := execAdmin(admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// WITH (FORCE) ends sessions a test forgot to close.
		if err := execAdmin(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(admin) // Admin returns a URL that parsed once already
	return withDatabase(u, name)
}

// Admin returns the URL of the test server's maintenance database (normally "postgres"). Tests
// must not change it; use DSN for a database of their own.
func Admin(t testing.TB) string {
	t.Helper()
	shared.once.Do(shared.resolve)
	if shared.err != nil {
		msg := "pgtest: NO POSTGRESQL FOR TESTS — " + shared.err.Error() +
			"; set " + EnvURL + ", run a server on 127.0.0.1:5432, or install initdb/pg_ctl"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return shared.admin.String()
}

// M is what TestMain receives; *testing.M satisfies it.
type M interface {
	Run() int
}

// Main wraps m so that a throwaway cluster started for its tests is stopped and removed once
// they have run. Use it as os.Exit(pgtest.Main(m).Run()) or goleak.VerifyTestMain(pgtest.Main(m)).
func Main(m M) M { return mainM{m} }

type mainM struct{ m M }

func (w mainM) Run() int {
	code := w.m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	return code
}

func (s *server) resolve() {
	if env := os.Getenv(EnvURL); env != "" {
		u, err := url.Parse(env)
		if err != nil {
			s.err = fmt.Errorf("parse %s: %w", EnvURL, err)
			return
		}
		s.admin = u
		if err := probe(u.String()); err != nil {
			s.err = fmt.Errorf("%s does not answer: %w", EnvURL, err)
		}
		return
	}
	u, _ := url.Parse(localURL)
	if err := probe(u.String()); err == nil {
		s.admin = u
		return
	}
	admin, stop, err := startCluster()
	if err != nil {
		s.err = fmt.Errorf("nothing answers on 127.0.0.1:5432 and no throwaway cluster: %w", err)
		return
	}
	s.admin, s.stop = admin, stop
}

// probe pings the server within probeTimeout.
func probe(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

func execAdmin(admin, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	db, err := sql.Open("postgres", admin)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

func newName() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return "smsgw_test_" + hex.EncodeToString(b), nil
}

func withDatabase(admin *url.URL, name string) string {
	u := *admin
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

// startCluster creates and starts a throwaway cluster; stop stops it and removes its files.
func startCluster() (admin *url.URL, stop func(), err error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "smsgw-pgtest-")
	if err != nil {
		return nil, nil, fmt.Errorf("temp dir: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	asUser, err := runAs(dir)
	if err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	data := filepath.Join(dir, "data")
	if out, err := asUser(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--no-sync").CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", port, dir)
	pgctl := filepath.Join(bin, "pg_ctl")
	if out, err := asUser(pgctl, "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60",
		"-o", opts, "start").CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("pg_ctl start: %w: %s", err, out)
	}
	stop = func() {
		_ = asUser(pgctl, "-D", data, "-m", "immediate", "-w", "stop").Run()
		_ = os.RemoveAll(dir)
	}
	u := &url.URL{Scheme: "postgres", User: url.User("postgres"), Host: "127.0.0.1:" + strconv.Itoa(port),
		Path: "/postgres", RawQuery: "sslmode=disable"}
	if err := probe(u.String()); err != nil {
		stop()
		return nil, nil, fmt.Errorf("throwaway cluster does not answer: %w", err)
	}
	return u, stop, nil
}

// runAs returns a command maker that runs programs as the current user, or — as root, which
// initdb refuses — as the postgres OS user through runuser, after giving it dir.
func runAs(dir string) (func(name string, args ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return exec.Command, nil
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres OS user: %w", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("chown %s: %w", dir, err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, fmt.Errorf("running as root and no runuser: %w", err)
	}
	return func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
		cmd.Dir = dir // the postgres user may not be able to enter the caller's directory
		return cmd
	}, nil
}

// findBinDir returns the directory holding initdb and pg_ctl: PATH first, then the newest
// /usr/lib/postgresql/*/bin.
func findBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no initdb/pg_ctl in PATH or /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(strings.SplitN(filepath.Base(filepath.Dir(binDir)), ".", 2)[0])
	return n
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
