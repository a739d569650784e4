package pgtest

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m).Run()) }

func TestDSNGivesAnEmptyDatabase(t *testing.T) {
	dsn := DSN(t)
	if !strings.HasPrefix(dsn, "postgres://postgres@") || !strings.Contains(dsn, "/smsgw_test_") || !strings.HasSuffix(dsn, "sslmode=disable") {
		t.Fatalf("DSN = %q", dsn)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(),
		"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("new database has %d tables", n)
	}
	if other := DSN(t); other == dsn {
		t.Fatalf("two calls gave the same database %q", dsn)
	}
}

func TestThrowawayCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	admin, stop, err := startCluster()
	if err != nil {
		t.Skipf("no throwaway cluster here: %v", err)
	}
	defer stop()
	if err := probe(admin.String()); err != nil {
		t.Fatal(err)
	}
}
