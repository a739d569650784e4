// Package sqlite is the embedded default store: the storage ports on one SQLite file
// (modernc.org/sqlite, pure Go), shared with River's riversqlite driver.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/smsgw/smsgw/ports"
)

// busyTimeoutMillis is how long a statement waits for another process's write lock before
// failing with SQLITE_BUSY (mapped to ports.ErrUnavailable).
const busyTimeoutMillis = 10000

var (
	_ ports.Store = (*Store)(nil)
	_ ports.Tx    = (*Tx)(nil)
	_ ports.SQLTx = (*Tx)(nil)
)

// Store implements ports.Store on SQLite.
type Store struct {
	db *sql.DB
}

// Open opens (creating it and its directory if needed) the SQLite database at path and
// checks it answers. Run Migrate before using the store.
//
// The pool holds exactly one connection, shared by the store and River. SQLite has a
// single writer anyway, and River's riversqlite documents SQLITE_BUSY errors from its
// concurrent internal operations unless the pool is limited to one connection; with one
// connection writers queue in process instead of racing for the file lock. The price is
// that reads do not run beside a write, and that code inside InTx must use the Tx (never
// the Store or DB() directly), or it would wait for the connection its own transaction
// holds. busy_timeout still covers other processes (e.g. `smsgw migrate`), and
// _txlock=immediate makes every transaction take the write lock at BEGIN, so none fails
// half-way trying to upgrade a read lock.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite %s: create directory: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, classify(err))
	}
	return &Store{db: db}, nil
}

// dsn adds the connection settings every connection of the pool gets.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// DB returns the connection pool, for River's riversqlite driver and Migrate.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database. Stop River first: it uses the same pool.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite: %w", err)
	}
	return nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", classify(err))
	}
	return nil
}

// InTx runs fn in one immediate (write-locked) transaction: commit when fn returns nil,
// returning Commit's error, else roll back and return fn's error. A panic in fn rolls back
// too, so the pool's only connection is never left inside a transaction.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	return s.inTx(ctx, func(ctx context.Context, tx *Tx) error { return fn(ctx, tx) })
}

// inTx is InTx for the store's own multi-statement operations (a claim).
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin tx: %w", classify(err))
	}
	done := false
	defer func() {
		if !done {
			_ = sqlTx.Rollback() // fn's error (or panic) is what the caller needs
		}
	}()
	if err := fn(ctx, &Tx{tx: sqlTx}); err != nil {
		return err
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	return nil
}

// Tx is a ports.Tx on one SQLite transaction.
type Tx struct {
	tx *sql.Tx
}

// SQLTx returns the underlying transaction, so River can insert and complete jobs in it.
func (t *Tx) SQLTx() *sql.Tx { return t.tx }

// querier is what *sql.DB and *sql.Tx share: reads run on either.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// classify wraps err with the ports error it stands for, keeping err inspectable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", ports.ErrNotFound, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch code := se.Code(); code & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			if code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
				return fmt.Errorf("%w: %w", ports.ErrConflict, err)
			}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
		}
	}
	// database/sql has no exported sentinel for a closed pool, only this message.
	if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "sql: database is closed") {
		return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
	}
	return err
}
