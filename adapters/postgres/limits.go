package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

// hitQuery applies a batch of demands in one statement: $1 the keys, $2 their N, $3 now, $4
// the window's start (exclusive: now - period), $5 its limit. The rows are inserted, or
// their conflicts updated, in key order, and each conflicting row is locked as it is
// reached, so concurrent batches lock in one order and cannot deadlock. An update waits for
// a transaction holding the row and then works on its newest version, which keeps the count
// exact across transactions and processes.
//
// The admitted count of a demand is least(N, limit) for a new key; an existing log keeps
// its hits after $4 (rate_hits_after) and admits least(N, limit - kept) more, at now. Since
// limit - kept <= limit, the inserted row's admitted (excluded.admitted) stands in for N in
// the update. The row keeps what it admitted, because RETURNING sees only the new row; the
// first hit of the new log is the oldest kept, whence the caller's RetryAfter.
const hitQuery = `
INSERT INTO rate_logs AS r (key, hits, admitted, newest)
SELECT d.key, array_fill($3::timestamptz, ARRAY[a.n]), a.n,
    CASE WHEN a.n > 0 THEN $3::timestamptz ELSE '-infinity' END
FROM unnest($1::text[], $2::int[]) AS d(key, n)
CROSS JOIN LATERAL (SELECT least(d.n, greatest($5::int, 0)) AS n) AS a
ORDER BY d.key COLLATE "C"
ON CONFLICT (key) DO UPDATE SET (hits, admitted, newest) = (
    SELECT k.hits || array_fill($3::timestamptz, ARRAY[a.n]), a.n,
        coalesce(greatest(k.hits[cardinality(k.hits)], CASE WHEN a.n > 0 THEN $3::timestamptz END), '-infinity')
    FROM (SELECT rate_hits_after(r.hits, $4::timestamptz) AS hits) AS k
    CROSS JOIN LATERAL (SELECT least(excluded.admitted, greatest($5::int - cardinality(k.hits), 0)) AS n) AS a
)
RETURNING r.key, r.admitted, r.hits[1] AS oldest`

// Hit implements ports.Limiter with the one statement hitQuery for all demands.
func (t *tx) Hit(ctx context.Context, w ratelimit.Window, now time.Time, demands []ports.RateDemand) ([]ports.RateGrant, error) {
	if err := ports.ValidateDemands(demands); err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	if len(demands) == 0 {
		return []ports.RateGrant{}, nil
	}
	keys := make(pq.StringArray, len(demands))
	ns := make(pq.Int64Array, len(demands))
	for i, d := range demands {
		keys[i], ns[i] = d.Key, int64(d.N)
	}
	now = ts(now)
	since := ts(w.Since(now))
	var rows []struct {
		Key      string     `db:"key"`
		Admitted int        `db:"admitted"`
		Oldest   *time.Time `db:"oldest"`
	}
	if err := t.tx.SelectContext(ctx, &rows, hitQuery, keys, ns, now, since, w.Limit); err != nil {
		return nil, fmt.Errorf("rate limit %d key(s) from %q: %w", len(demands), demands[0].Key, mapErr(err))
	}
	byKey := make(map[string]int, len(rows))
	for i, r := range rows {
		byKey[r.Key] = i
	}
	grants := make([]ports.RateGrant, len(demands))
	for i, d := range demands {
		j, ok := byKey[d.Key]
		if !ok {
			return nil, fmt.Errorf("rate limit %q: no row returned", d.Key)
		}
		r := rows[j]
		grants[i].Admitted = r.Admitted
		if r.Admitted < d.N && r.Oldest != nil {
			grants[i].RetryAfter = w.RetryAfter(*r.Oldest, now)
		}
	}
	return grants, nil
}

// PruneRateLogs implements ports.RateLogStore with one delete (a scan: see the migration). A
// Hit racing with it either updates the row first (the delete re-checks newest and keeps
// it) or waits for the delete and inserts a new log.
func (s *Store) PruneRateLogs(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM rate_logs WHERE newest <= $1`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("prune rate logs up to %s: %w", before.UTC().Format(time.RFC3339Nano), mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune rate logs up to %s: %w", before.UTC().Format(time.RFC3339Nano), mapErr(err))
	}
	return int(n), nil
}
