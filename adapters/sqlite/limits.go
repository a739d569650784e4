package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

// Hit implements ports.Limiter: it reads the demanded logs, decides with the window's own
// rule (ratelimit.Window.Admit) and writes them back. The transaction holds SQLite's write
// lock from BEGIN, so no other writer can interleave and the count is exact; the lock is
// the whole database's, so there is no key order to keep.
func (t *Tx) Hit(ctx context.Context, w ratelimit.Window, now time.Time, demands []ports.RateDemand) ([]ports.RateGrant, error) {
	if err := ports.ValidateDemands(demands); err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	if len(demands) == 0 {
		return []ports.RateGrant{}, nil
	}
	logs, err := t.rateLogs(ctx, demands)
	if err != nil {
		return nil, fmt.Errorf("rate limit %d key(s) from %q: %w", len(demands), demands[0].Key, err)
	}
	now = fromDB(toDB(now)) // as stored
	grants := make([]ports.RateGrant, len(demands))
	for i, d := range demands {
		kept, admitted, retry := w.Admit(logs[d.Key], now, d.N)
		grants[i] = ports.RateGrant{Admitted: admitted, RetryAfter: retry}
		if err := t.putRateLog(ctx, d.Key, kept); err != nil {
			return nil, fmt.Errorf("rate limit %q: %w", d.Key, err)
		}
	}
	return grants, nil
}

// rateLogs reads the stored hits of the demanded keys (keys without a log are left out).
func (t *Tx) rateLogs(ctx context.Context, demands []ports.RateDemand) (map[string][]time.Time, error) {
	keys := make([]string, len(demands))
	for i, d := range demands {
		keys[i] = d.Key
	}
	doc, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT key, hits FROM rate_logs WHERE key IN (SELECT value FROM json_each(?))`, string(doc))
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	logs := make(map[string][]time.Time, len(demands))
	for rows.Next() {
		var (
			key, hits string
			us        []int64
		)
		if err := rows.Scan(&key, &hits); err != nil {
			return nil, classify(err)
		}
		if err := json.Unmarshal([]byte(hits), &us); err != nil {
			return nil, fmt.Errorf("log of %q: %w", key, err)
		}
		log := make([]time.Time, len(us))
		for i, u := range us {
			log[i] = fromDB(u)
		}
		logs[key] = log
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return logs, nil
}

// putRateLog stores a key's log as Admit returned it (oldest first).
func (t *Tx) putRateLog(ctx context.Context, key string, hits []time.Time) error {
	us := make([]int64, len(hits))
	var newest sql.NullInt64
	for i, h := range hits {
		us[i] = toDB(h)
		if !newest.Valid || us[i] > newest.Int64 {
			newest = sql.NullInt64{Int64: us[i], Valid: true}
		}
	}
	doc, err := json.Marshal(us)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO rate_logs (key, hits, newest) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET hits = excluded.hits, newest = excluded.newest`, key, string(doc), newest)
	return classify(err)
}

// PruneRateLogs implements ports.RateLogStore.
func (s *Store) PruneRateLogs(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM rate_logs WHERE newest IS NULL OR newest <= ?`, toDB(before))
	if err != nil {
		return 0, fmt.Errorf("prune rate logs up to %s: %w", before.UTC().Format(time.RFC3339Nano), classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune rate logs up to %s: %w", before.UTC().Format(time.RFC3339Nano), classify(err))
	}
	return int(n), nil
}
