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
