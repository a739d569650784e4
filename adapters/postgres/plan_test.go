package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/postgres/pgtest"
	"github.com/smsgw/smsgw/ports"
)

// TestAwaitingStatusPlan: every form of ListAwaitingStatus' statement can be answered from
// the partial index messages_awaiting_status in list order — its conditions imply the
// index predicate, and one range condition starts the scan at the position. Sequential
// scans are off so that the empty test table does not make them the cheapest plan.
func TestAwaitingStatusPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := Migrate(ctx, s.DB()); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		q         ports.AwaitingQuery
		indexCond string // in the plan's Index Cond
	}{
		{"provider", ports.AwaitingQuery{Provider: "p"}, "(provider = 'p'::text)"},
		{"since", ports.AwaitingQuery{Provider: "p", Since: since}, "created_at >= "},
		{"cursor after since", ports.AwaitingQuery{Provider: "p", Since: since, After: &ports.Cursor{CreatedAt: since.Add(time.Hour), ID: "m"}},
			"ROW(created_at, id) > ROW("},
		{"since after cursor", ports.AwaitingQuery{Provider: "p", Since: since, After: &ports.Cursor{CreatedAt: since.Add(-time.Hour), ID: "m"}},
			"created_at >= "},
		{"account", ports.AwaitingQuery{Provider: "p", AccountID: "a", After: &ports.Cursor{CreatedAt: since, ID: "m"}},
			"ROW(created_at, id) > ROW("},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Limit = 500
			query, args := awaitingQuery(q)
			plan := explain(t, s, query, args...)
			if !strings.Contains(plan, "Index Scan using messages_awaiting_status on messages") ||
				strings.Contains(plan, "Sort") || !strings.Contains(plan, tc.indexCond) {
				t.Errorf("plan of\n%s\n%s\nwant an index scan of messages_awaiting_status in order, with %q in its Index Cond", query, plan, tc.indexCond)
			}
		})
	}
}

// explain returns the plan of query with sequential and bitmap scans off.
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	tx, err := s.db.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.Exec(`SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
		t.Fatal(err)
	}
	var lines []string
	if err := tx.Select(&lines, "EXPLAIN (COSTS OFF) "+query, args...); err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	return strings.Join(lines, "\n")
}

// TestProxyPlans: on a table of many sessions, mostly closed, the relay's lookup of an
// inbound sender reads both partial indexes of unclosed sessions by (number, participant),
// the lists read the account's sessions in list order (the open one only its unclosed
// sessions), and the sweep reads only the unclosed sessions by expiry. The table is analysed, so the plans are those of a real one.
func TestProxyPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := Migrate(ctx, s.DB()); err != nil {
		t.Fatal(err)
	}
	// 100000 sessions of 50 accounts on 200 numbers, one in ten unclosed: enough that reading
	// only what a query needs is cheaper than reading every unclosed session and sorting.
	if _, err := s.db.ExecContext(ctx, `
INSERT INTO proxy_sessions (id, account_id, proxy_number, participant_a, participant_b, created_at, expires_at, closed_at)
SELECT 's' || i, 'a' || (i % 50), 'n' || (i % 200), 'pa' || i, 'pb' || i, now() - i * interval '1 minute',
    CASE WHEN i % 2 = 0 THEN now() + interval '1 day' END, CASE WHEN (i / 200) % 10 <> 0 THEN now() END
FROM generate_series(1, 100000) AS i;
ANALYZE proxy_sessions`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	after := &ports.Cursor{CreatedAt: now, ID: "s"}
	open, openArgs := proxySessionsQuery("a7", ports.ProxySessionQuery{Limit: 50, After: after}, now)
	closed, closedArgs := proxySessionsQuery("a7", ports.ProxySessionQuery{Closed: true, Limit: 50, After: after}, now)
	tests := []struct {
		name  string
		query string
		args  []any
		want  []string // in the plan
		sorts bool     // the plan may sort (a bitmap scan reads in no order)
	}{
		{"find open session", findOpenProxySession, []any{"n7", "pa7", now},
			[]string{"Bitmap Index Scan on proxy_sessions_open_a", "Bitmap Index Scan on proxy_sessions_open_b"}, true},
		{"list open sessions", open, openArgs,
			[]string{"Index Scan using proxy_sessions_account_open on proxy_sessions", "ROW(created_at, id) < ROW("}, false},
		{"list closed sessions", closed, closedArgs,
			[]string{"Index Scan using proxy_sessions_account_created on proxy_sessions", "ROW(created_at, id) < ROW("}, false},
		{"sweep", closeExpiredProxySessions, []any{now},
			[]string{"Index Scan using proxy_sessions_expires on proxy_sessions", "Index Cond: (expires_at <= "}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			if err := s.db.SelectContext(ctx, &lines, "EXPLAIN (COSTS OFF) "+tc.query, tc.args...); err != nil {
				t.Fatalf("EXPLAIN: %v", err)
			}
			plan := strings.Join(lines, "\n")
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan of\n%s\n%s\nwant %q in it", tc.query, plan, w)
				}
			}
			if !tc.sorts && strings.Contains(plan, "Sort") {
				t.Errorf("plan of\n%s\n%s\nwant no sort", tc.query, plan)
			}
		})
	}
}
