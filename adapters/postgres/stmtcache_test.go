package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/smsgw/smsgw/adapters/postgres/pgtest"
)

// TestStatementCache: a query with parameters is prepared once per connection and then
// reused; the least recently used statement is closed past the cache size; queries without
// parameters are not prepared at all.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	c, err := newCachingConnector(pgtest.DSN(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1) // one connection: every query below shares its cache
	ctx := context.Background()

	prepared := func() (names []string) {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT statement FROM pg_prepared_statements ORDER BY prepare_time`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			names = append(names, s)
		}
		return names
	}
	query := func(q string, arg int) {
		t.Helper()
		var got int
		if err := db.QueryRowContext(ctx, q, arg).Scan(&got); err != nil || got != arg {
			t.Fatalf("%s with %d: %d, %v", q, arg, got, err)
		}
	}
	const a, b, c2 = "SELECT $1::int AS a", "SELECT $1::int AS b", "SELECT $1::int AS c"

	for i := range 5 {
		query(a, i)
	}
	if got := prepared(); fmt.Sprint(got) != fmt.Sprint([]string{a}) {
		t.Fatalf("after 5 runs of one query: prepared %q, want it once", got)
	}
	query(b, 1)
	query(a, 2) // a is now the most recently used
	query(c2, 3)
	if got := prepared(); fmt.Sprint(got) != fmt.Sprint([]string{a, c2}) {
		t.Fatalf("past the cache size: prepared %q, want b closed", got)
	}
	if _, err := db.ExecContext(ctx, `CREATE TEMP TABLE t (x int); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatalf("several statements without parameters: %v", err)
	}
}
