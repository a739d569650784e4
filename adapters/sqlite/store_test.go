package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/adapters/sqlite"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
	"github.com/smsgw/smsgw/ports/porttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openStore opens and migrates a fresh database file in t's temp dir.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "data", "smsgw.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := sqlite.Migrate(ctx, s.DB()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	porttest.RunStore(t, func(t *testing.T) ports.Store { return openStore(t) })
}

func TestMigrateIdempotent(t *testing.T) {
	s := openStore(t)
	for range 2 {
		if err := sqlite.Migrate(t.Context(), s.DB()); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
}

func TestMigrateCreatesRiverTables(t *testing.T) {
	s := openStore(t)
	for _, table := range []string{"river_job", "river_leader", "river_queue", "river_migration", "river_client", "messages", "message_events", "accounts", "opt_outs", "rate_logs", "idempotency_keys", "proxy_numbers", "proxy_sessions"} {
		var n int
		err := s.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v; want it to exist", table, n, err)
		}
	}
	var version int
	if err := s.DB().QueryRowContext(t.Context(), `SELECT max(version) FROM river_migration`).Scan(&version); err != nil || version < 6 {
		t.Errorf("river_migration max version = %d, %v; want >= 6", version, err)
	}
}

func TestOpenSettings(t *testing.T) {
	s := openStore(t)
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	}
	for _, tc := range tests {
		var got string
		if err := s.DB().QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
}

func TestTxExposesSQLTx(t *testing.T) {
	s := openStore(t)
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		stx, ok := tx.(ports.SQLTx)
		if !ok {
			t.Fatal("Tx does not implement ports.SQLTx")
		}
		// A write through the raw transaction commits with the rest.
		_, err := stx.SQLTx().ExecContext(ctx, `INSERT INTO accounts (id, password_hash, created_at) VALUES ('raw', 'h', 0)`)
		return err
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if _, err := s.GetAccount(t.Context(), "raw"); err != nil {
		t.Errorf("GetAccount(raw): %v", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("Ping after Close = %v, want ErrUnavailable", err)
	}
	err = s.InTx(t.Context(), func(context.Context, ports.Tx) error { return nil })
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("InTx after Close = %v, want ErrUnavailable", err)
	}
	if _, err := s.GetMessage(t.Context(), "", "m"); !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("GetMessage after Close = %v, want ErrUnavailable", err)
	}
}

func TestInTxPanicRollsBack(t *testing.T) {
	s := openStore(t)
	func() {
		defer func() { _ = recover() }()
		_ = s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
			if err := tx.InsertMessage(ctx, message.Message{ID: "p", AccountID: "a", Direction: message.Outbound, Status: message.StatusQueued}); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	// The connection was released and the insert rolled back.
	if _, err := s.GetMessage(t.Context(), "", "p"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetMessage after panic = %v, want ErrNotFound", err)
	}
}
