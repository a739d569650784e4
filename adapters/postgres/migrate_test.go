package postgres

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/smsgw/smsgw/adapters/postgres/pgtest"
	"github.com/smsgw/smsgw/core/message"
)

// unmigrated opens a store on an empty database of its own, with the goose provider that
// migrates it step by step.
func unmigrated(t *testing.T) (*Store, *goose.Provider) {
	t.Helper()
	s, err := Open(context.Background(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	p, err := newProvider(s.DB())
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// TestInlineEventsMigration: histories written by the first schema (one row per event)
// read back the same after migration 3 moved them into the message row, and go back to
// event rows on the way down.
func TestInlineEventsMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, p := unmigrated(t)
	if _, err := p.UpTo(ctx, riverVersion); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 123456000, time.UTC)
	if _, err := s.DB().ExecContext(ctx, `
INSERT INTO messages (id, account_id, direction, from_number, to_number, text, status, created_at, updated_at, event_count)
VALUES ('m1', 'acc', 'outbound', '+14155550100', '+14155550101', 'hi', 'delivered', $1, $1, 3),
       ('m2', 'acc', 'outbound', '+14155550100', '+14155550101', 'no history', 'queued', $1, $1, 0)`, at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `
INSERT INTO message_events (message_id, seq, status, at, detail) VALUES
    ('m1', 1, 'queued', $1, ''), ('m1', 2, 'sent', $1::timestamptz + interval '1 second', 'via loop'),
    ('m1', 3, 'delivered', $1::timestamptz + interval '2.000001 second', '')`, at); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	want := []message.Event{
		{Status: message.StatusQueued, At: at},
		{Status: message.StatusSent, At: at.Add(time.Second), Detail: "via loop"},
		{Status: message.StatusDelivered, At: at.Add(2*time.Second + time.Microsecond)},
	}
	m, err := s.GetMessage(ctx, "", "m1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Events, want) {
		t.Fatalf("migrated events %+v, want %+v", m.Events, want)
	}
	if m2, err := s.GetMessage(ctx, "", "m2"); err != nil || m2.Events != nil {
		t.Fatalf("message without history: %+v, %v", m2.Events, err)
	}

	if _, err := p.DownTo(ctx, riverVersion); err != nil {
		t.Fatal(err)
	}
	var n, count int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*), max(m.event_count) FROM message_events e JOIN messages m ON m.id = e.message_id WHERE m.id = 'm1'`).Scan(&n, &count); err != nil {
		t.Fatal(err)
	}
	if n != 3 || count != 3 {
		t.Fatalf("down: %d event rows, event_count %d; want 3 and 3", n, count)
	}
}

// TestMigrationsUpDown: each migration creates its objects and its Down removes them again.
func TestMigrationsUpDown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version int64
		objects []string // tables and functions, as to_regclass / to_regprocedure name them
	}{
		{4, []string{"opt_outs"}},
		{5, []string{"rate_logs", "idempotency_keys", "rate_hits_after(timestamptz[],timestamptz)"}},
		{6, []string{"proxy_numbers", "proxy_sessions"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("migration %d", tc.version), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, p := unmigrated(t)
			exists := func(name string) bool {
				query := `SELECT to_regclass($1) IS NOT NULL`
				if strings.Contains(name, "(") {
					query = `SELECT to_regprocedure($1) IS NOT NULL`
				}
				var ok bool
				if err := s.DB().QueryRowContext(ctx, query, name).Scan(&ok); err != nil {
					t.Fatal(err)
				}
				return ok
			}
			check := func(when string, want bool) {
				t.Helper()
				for _, name := range tc.objects {
					if got := exists(name); got != want {
						t.Errorf("%s: %s exists = %v, want %v", when, name, got, want)
					}
				}
			}
			if _, err := p.UpTo(ctx, tc.version); err != nil {
				t.Fatal(err)
			}
			check("after migrating up", true)
			if _, err := p.DownTo(ctx, tc.version-1); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("after migrating down to %d", tc.version-1), false)
			if _, err := p.Up(ctx); err != nil {
				t.Fatal(err)
			}
			check("after migrating up again", true)
		})
	}
}
