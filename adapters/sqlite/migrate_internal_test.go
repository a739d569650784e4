package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsgw/smsgw/core/message"
)

// TestMigrateDownAndUp checks every down migration (River's included) undoes its up.
func TestMigrateDownAndUp(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := Migrate(t.Context(), s.DB()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	p, err := newProvider(s.DB())
	if err != nil {
		t.Fatalf("newProvider: %v", err)
	}
	if _, err := p.DownTo(t.Context(), 0); err != nil {
		t.Fatalf("DownTo(0): %v", err)
	}
	var n int
	if err := s.DB().QueryRowContext(t.Context(),
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND (name LIKE 'river%' OR name LIKE 'message%' OR name IN ('accounts', 'opt_outs', 'rate_logs', 'idempotency_keys', 'proxy_numbers', 'proxy_sessions'))`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d tables left after DownTo(0) (%v), want 0", n, err)
	}
	if err := Migrate(t.Context(), s.DB()); err != nil {
		t.Fatalf("Migrate after down: %v", err)
	}
}

// TestAwaitingStatusMatchesFinal keeps the SQL list of final statuses in step with
// message.Status.Final.
func TestAwaitingStatusMatchesFinal(t *testing.T) {
	for _, st := range []message.Status{
		message.StatusScheduled, message.StatusQueued, message.StatusSending, message.StatusSent,
		message.StatusDelivered, message.StatusUndelivered, message.StatusFailed, message.StatusCanceled,
		message.StatusReceived,
	} {
		listed := strings.Contains(awaitingStatus, "'"+string(st)+"'")
		if listed != st.Final() {
			t.Errorf("status %s: in the final list of awaitingStatus = %v, Final() = %v", st, listed, st.Final())
		}
	}
}
