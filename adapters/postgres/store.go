// Package postgres implements the storage ports on PostgreSQL with sqlx and lib/pq, for
// several stateless replicas sharing one database. Migrate creates the schema (goose, under
// a session lock) including River's tables, so the queue adapter can share the *sql.DB.
//
// Round trips: each write is one statement (a message with its events, an update with its
// appended events). Every statement with parameters is prepared once per connection and then
// executed in one round trip (stmtcache.go), this package's and River's alike. Open adds
// binary_parameters=yes unless the DSN sets it: lib/pq then sends []byte parameters in
// binary form instead of escaping them as text (this package sends none; River's
// database/sql driver runs with it).
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" database/sql driver

	"github.com/smsgw/smsgw/ports"
)

const (
	defaultMaxOpenConns = 20
	connMaxLifetime     = 30 * time.Minute
	connMaxIdleTime     = 5 * time.Minute
)

type options struct {
	maxOpenConns int
}

// Option configures Open.
type Option func(*options)

// WithMaxOpenConns caps the connection pool (default 20); idle connections are kept up to
// the same number. n < 1 keeps the default.
func WithMaxOpenConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxOpenConns = n
		}
	}
}

// Store is the PostgreSQL ports.Store. It is safe for concurrent use.
type Store struct {
	db *sqlx.DB
}

var _ ports.Store = (*Store)(nil)

// Open connects to the database at dsn (a lib/pq URL or key=value string) and checks that it
// answers. A database that cannot be reached yields an error wrapping ports.ErrUnavailable.
// Open does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{maxOpenConns: defaultMaxOpenConns}
	for _, opt := range opts {
		opt(&o)
	}
	connector, err := newCachingConnector(withBinaryParameters(dsn), stmtCacheSize)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := sqlx.NewDb(sql.OpenDB(connector), "postgres")
	db.SetMaxOpenConns(o.maxOpenConns)
	db.SetMaxIdleConns(o.maxOpenConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			// A server that does not answer in time is as unreachable as a refused one.
			return nil, fmt.Errorf("open postgres: %w: %w", ports.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("open postgres: %w", mapErr(err))
	}
	return &Store{db: db}, nil
}

// withBinaryParameters adds binary_parameters=yes to a URL or key=value DSN that does not
// set it (see the package comment).
func withBinaryParameters(dsn string) string {
	if strings.Contains(dsn, "binary_parameters") {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " binary_parameters=yes"
}

// DB returns the connection pool, for River and Migrate.
func (s *Store) DB() *sql.DB { return s.db.DB }

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", mapErr(err))
	}
	return nil
}

// InTx runs fn in one READ COMMITTED transaction; see ports.Store. The Tx given to fn also
// implements ports.SQLTx.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	sqlTx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", mapErr(err))
	}
	defer func() {
		// Never hand a connection back to the pool inside an open transaction.
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(ctx, &tx{tx: sqlTx}); err != nil {
		_ = sqlTx.Rollback()
		if stalePlan(err) {
			// Nothing was written: the caller may retry at once, and the retry prepares the
			// statement afresh (see stmtcache.go).
			return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// tx is the ports.Tx of InTx.
type tx struct {
	tx *sqlx.Tx
}

var (
	_ ports.Tx    = (*tx)(nil)
	_ ports.SQLTx = (*tx)(nil)
)

// SQLTx returns the underlying transaction so that other adapters (River's InsertTx,
// JobCompleteTx) can write in it.
func (t *tx) SQLTx() *sql.Tx { return t.tx.Tx }
