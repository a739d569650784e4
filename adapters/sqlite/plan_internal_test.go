package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/ports"
)

// TestQueryPlans: ListAwaitingStatus reads the partial index messages_awaiting_status_idx in
// list order from one range condition (so its terms match the index predicate), and
// CountStatuses reads messages_account_created_idx. The proxy pool reads each number's
// unclosed sessions, the relay's lookup both partial indexes by (number, participant), the
// session lists their account index in list order from the position, and the sweep only
// unclosed sessions by expiry.
func TestQueryPlans(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := Migrate(t.Context(), s.DB()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	awaiting := func(q ports.AwaitingQuery) (string, []any) {
		q.Limit = 500
		return awaitingQuery(q)
	}
	type stmt func() (string, []any)
	tests := []struct {
		name string
		stmt stmt
		want string // the plan, exactly
	}{
		{"awaiting by provider", func() (string, []any) { return awaiting(ports.AwaitingQuery{Provider: "p"}) },
			"SEARCH messages USING INDEX messages_awaiting_status_idx (provider=?)"},
		{"awaiting since", func() (string, []any) { return awaiting(ports.AwaitingQuery{Provider: "p", Since: since}) },
			"SEARCH messages USING INDEX messages_awaiting_status_idx (provider=? AND created_at>?)"},
		{"awaiting after a cursor", func() (string, []any) {
			return awaiting(ports.AwaitingQuery{Provider: "p", Since: since, AccountID: "a", After: &ports.Cursor{CreatedAt: since, ID: "m"}})
		}, "SEARCH messages USING INDEX messages_awaiting_status_idx (provider=? AND (created_at,id)>(?,?))"},
		{"awaiting since after the cursor", func() (string, []any) {
			return awaiting(ports.AwaitingQuery{Provider: "p", Since: since, After: &ports.Cursor{CreatedAt: since.Add(-time.Hour), ID: "m"}})
		}, "SEARCH messages USING INDEX messages_awaiting_status_idx (provider=? AND created_at>?)"},
		{"count statuses", func() (string, []any) { return countStatuses, []any{"a", 0, 1} },
			"SEARCH messages USING INDEX messages_account_created_idx (account_id=? AND created_at>? AND created_at<?)\nUSE TEMP B-TREE FOR GROUP BY"},
		{"proxy pool", func() (string, []any) { return poolQuery, []any{0, "a"} },
			"SEARCH n USING INDEX proxy_numbers_account_idx (account_id=?)\n" +
				"SEARCH s USING INDEX proxy_sessions_open_b_idx (proxy_number=?) LEFT-JOIN\nUSE TEMP B-TREE FOR LAST 2 TERMS OF ORDER BY"},
		{"open proxy session", func() (string, []any) { return findOpenProxySession, []any{"n", "p", 0, "n", "p", 0} },
			"MERGE (UNION ALL)\nLEFT\nSEARCH proxy_sessions USING INDEX proxy_sessions_open_a_idx (proxy_number=? AND participant_a=?)\nUSE TEMP B-TREE FOR ORDER BY\n" +
				"RIGHT\nSEARCH proxy_sessions USING INDEX proxy_sessions_open_b_idx (proxy_number=? AND participant_b=?)\nUSE TEMP B-TREE FOR ORDER BY"},
		{"open proxy sessions", func() (string, []any) {
			return proxySessionsQuery("a", ports.ProxySessionQuery{Limit: 50, After: &ports.Cursor{CreatedAt: since, ID: "s"}}, since)
		}, "SEARCH proxy_sessions USING INDEX proxy_sessions_account_open_idx (account_id=? AND (created_at,id)<(?,?))"},
		{"closed proxy sessions", func() (string, []any) {
			return proxySessionsQuery("a", ports.ProxySessionQuery{Closed: true, Limit: 50, After: &ports.Cursor{CreatedAt: since, ID: "s"}}, since)
		}, "SEARCH proxy_sessions USING INDEX proxy_sessions_account_created_idx (account_id=? AND (created_at,id)<(?,?))"},
		{"proxy session sweep", func() (string, []any) { return closeExpiredProxySessions, []any{0} },
			"SEARCH proxy_sessions USING INDEX proxy_sessions_expires_idx (expires_at<?)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			query, args := tc.stmt()
			rows, err := s.DB().QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
			if err != nil {
				t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(plan, "\n"); got != tc.want {
				t.Errorf("plan of\n%s\n got %s\nwant %s", query, got, tc.want)
			}
		})
	}
}
