package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// riverMigrationVersion is the goose version of the Go migration that applies River's
// schema. The SQL files take the other numbers. When a River upgrade brings new River
// migrations, add another goose Go migration running migrateRiver: it migrates up to the
// latest River version, whatever is already there.
const riverMigrationVersion = 2

// Migrate brings the database to the latest schema: the embedded SQL migrations and River's
// own tables, in goose order, each in its own transaction. Running it again does nothing.
func Migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", classify(err))
	}
	return nil
}

// newProvider builds the goose provider of the embedded migrations plus River's.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	river := goose.NewGoMigration(riverMigrationVersion,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return migrateRiver(ctx, db, tx, rivermigrate.DirectionUp, nil)
		}},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			// -1: every River down migration, River's schema removed.
			return migrateRiver(ctx, db, tx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})
		}})
	return goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithGoMigrations(river),
		goose.WithDisableGlobalRegistry(true))
}

// migrateRiver runs River's migrations inside goose's transaction tx. The driver only
// names the dialect here: every statement goes through tx (goose holds the pool's only
// connection meanwhile).
func migrateRiver(ctx context.Context, db *sql.DB, tx *sql.Tx, dir rivermigrate.Direction, opts *rivermigrate.MigrateOpts) error {
	m, err := rivermigrate.New(riversqlite.New(db), &rivermigrate.Config{
		Logger: slog.New(slog.DiscardHandler), // River logs to stdout by default
	})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.MigrateTx(ctx, tx, dir, opts); err != nil {
		return fmt.Errorf("river migrate %s: %w", dir, err)
	}
	return nil
}
