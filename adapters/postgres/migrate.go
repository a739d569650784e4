package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// riverVersion is the goose version of the Go migration that applies River's schema. SQL
// migrations of this package take other numbers.
const riverVersion = 2

// migrateLockID is the advisory lock (per database) that serialises replicas migrating at the
// same time.
const migrateLockID int64 = 0x736d7367 // "smsg"

// Migrate brings the database schema up to date: the SQL migrations under migrations/ and
// River's own tables. Replicas may call it at the same moment: a Postgres session lock lets
// one migrate while the others wait, then find nothing to do. The lock holds one connection of
// db while River's migrations use another, so db must allow at least two.
func Migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", mapErr(err))
	}
	return nil
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	// Retry the lock every second for up to 5 minutes (goose's default probes every 5s).
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("session locker: %w", err)
	}
	return goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(goose.NewGoMigration(riverVersion,
			&goose.GoFunc{RunDB: migrateRiver},
			&goose.GoFunc{RunDB: unmigrateRiver},
		)),
	)
}

// migrateRiver applies River's migrations with River's own migrator. It runs outside goose's
// transaction on purpose: River applies each of its versions in its own transaction (some
// need an earlier one committed) and records them in river_migration, so a crash part way
// resumes where it stopped, and the goose session lock already keeps replicas apart.
func migrateRiver(ctx context.Context, db *sql.DB) error {
	m, err := riverMigrator(db)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate up: %w", err)
	}
	return nil
}

func unmigrateRiver(ctx context.Context, db *sql.DB) error {
	m, err := riverMigrator(db)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
		return fmt.Errorf("river migrate down: %w", err)
	}
	return nil
}

func riverMigrator(db *sql.DB) (*rivermigrate.Migrator[*sql.Tx], error) {
	// River logs to stdout by default; Migrate's caller reports errors itself.
	m, err := rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	return m, nil
}
