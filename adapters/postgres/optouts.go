package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/ports"
)

// optOutRow is a row of opt_outs.
type optOutRow struct {
	Sender    string     `db:"sender"`
	Recipient string     `db:"recipient"`
	Source    string     `db:"source"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt *time.Time `db:"expires_at"`
}

func (r optOutRow) toOptOut() ports.OptOut {
	o := ports.OptOut{Sender: r.Sender, Recipient: r.Recipient, Source: optout.Source(r.Source), CreatedAt: r.CreatedAt.UTC()}
	if r.ExpiresAt != nil {
		e := r.ExpiresAt.UTC()
		o.ExpiresAt = &e
	}
	return o
}

// unexpired is the condition of a block in force at the parameter now.
const unexpired = `(expires_at IS NULL OR expires_at > %s)`

// ListOptOuts implements ports.OptOutStore.
func (s *Store) ListOptOuts(ctx context.Context, q ports.OptOutQuery, now time.Time) (ports.OptOutPage, error) {
	var f filter
	f.where(fmt.Sprintf(unexpired, "?"), ts(now))
	if q.Sender != "" {
		f.where("sender = ?", q.Sender)
	}
	if q.Recipient != "" {
		f.where("recipient = ?", q.Recipient)
	}
	if q.After != nil {
		sender, recipient, err := ports.ParseOptOutCursorID(q.After.ID)
		if err != nil {
			return ports.OptOutPage{}, fmt.Errorf("list opt-outs: %w", err)
		}
		f.where("(created_at, sender, recipient) < (?, ?, ?)", ts(q.After.CreatedAt), sender, recipient)
	}
	// One row more than asked tells whether there is a next page; LIMIT NULL is no limit.
	var limit *int
	if q.Limit > 0 {
		n := q.Limit + 1
		limit = &n
	}
	query := `SELECT sender, recipient, source, created_at, expires_at FROM opt_outs
WHERE ` + f.sql() + `
ORDER BY created_at DESC, sender DESC, recipient DESC
LIMIT ` + f.limit(limit)

	var rows []optOutRow
	if err := s.db.SelectContext(ctx, &rows, query, f.args...); err != nil {
		return ports.OptOutPage{}, fmt.Errorf("list opt-outs (sender %q, recipient %q): %w", q.Sender, q.Recipient, mapErr(err))
	}
	page := ports.OptOutPage{Items: make([]ports.OptOut, 0, len(rows))}
	for _, r := range rows {
		page.Items = append(page.Items, r.toOptOut())
	}
	if q.Limit > 0 && len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		page.Next = ports.OptOutCursor(page.Items[q.Limit-1])
	}
	return page, nil
}

// PruneOptOuts implements ports.OptOutStore.
func (s *Store) PruneOptOuts(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM opt_outs WHERE expires_at <= $1`, ts(now))
	if err != nil {
		return 0, fmt.Errorf("prune opt-outs expired at %s: %w", now.UTC().Format(time.RFC3339Nano), mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune opt-outs expired at %s: %w", now.UTC().Format(time.RFC3339Nano), mapErr(err))
	}
	return int(n), nil
}

// OptedOut implements ports.Tx. It takes no lock: a block committed after this read is the
// same race as one arriving just after the send.
func (t *tx) OptedOut(ctx context.Context, sender, recipient string, now time.Time) (bool, error) {
	var out bool
	err := t.tx.QueryRowxContext(ctx, `SELECT EXISTS (
    SELECT 1 FROM opt_outs WHERE sender = $1 AND recipient = $2 AND `+fmt.Sprintf(unexpired, "$3")+`)`,
		sender, recipient, ts(now)).Scan(&out)
	if err != nil {
		return false, fmt.Errorf("check opt-out %s→%s: %w", sender, recipient, mapErr(err))
	}
	return out, nil
}

// blockOptOut is BlockOptOut's upsert. cur locks the pair's row before anything is decided
// (FOR UPDATE waits for a transaction holding it and then reads its newest version), so the
// row the ON CONFLICT branch updates is exactly the row in cur, and whether it was expired at
// the new block's created_at ($4) decides both the new values and "created":
//   - no row: cur is empty, the INSERT goes in, created;
//   - an expired row: replaced by the new block, created;
//   - an unexpired row: its source and created_at stay, its expiry becomes the later of the
//     two (NULL, permanent, wins), not created.
//
// One race is left to the caller: a row inserted by a transaction that committed after this
// statement's snapshot is invisible to cur yet conflicts with the INSERT. The WHERE then
// declines the update (the row is locked by now, but not decided on) and the statement
// returns no row; run again, it sees that row in cur and decides as above.
const blockOptOut = `
WITH cur AS MATERIALIZED (
    SELECT expires_at FROM opt_outs WHERE sender = $1 AND recipient = $2 FOR UPDATE
)
INSERT INTO opt_outs AS o (sender, recipient, source, created_at, expires_at)
SELECT $1, $2, $3::text, $4::timestamptz, $5::timestamptz FROM (SELECT) AS one LEFT JOIN cur ON true
ON CONFLICT (sender, recipient) DO UPDATE SET
    source     = CASE WHEN o.expires_at <= excluded.created_at THEN excluded.source ELSE o.source END,
    created_at = CASE WHEN o.expires_at <= excluded.created_at THEN excluded.created_at ELSE o.created_at END,
    expires_at = CASE WHEN o.expires_at <= excluded.created_at THEN excluded.expires_at
                      WHEN o.expires_at IS NULL OR excluded.expires_at IS NULL THEN NULL
                      ELSE greatest(o.expires_at, excluded.expires_at) END
    WHERE EXISTS (SELECT FROM cur)
RETURNING o.sender, o.recipient, o.source, o.created_at, o.expires_at,
    NOT EXISTS (SELECT FROM cur WHERE cur.expires_at IS NULL OR cur.expires_at > $4) AS created`

// BlockOptOut implements ports.Tx with the one statement blockOptOut, run a second time only
// in the race its comment describes.
func (t *tx) BlockOptOut(ctx context.Context, o ports.OptOut) (ports.OptOut, bool, error) {
	if err := o.Validate(); err != nil {
		return ports.OptOut{}, false, fmt.Errorf("block opt-out: %w", err)
	}
	var expires *time.Time
	if o.ExpiresAt != nil {
		e := ts(*o.ExpiresAt)
		expires = &e
	}
	for range 2 {
		var rows []struct {
			optOutRow
			Created bool `db:"created"`
		}
		if err := t.tx.SelectContext(ctx, &rows, blockOptOut,
			o.Sender, o.Recipient, string(o.Source), ts(o.CreatedAt), expires); err != nil {
			return ports.OptOut{}, false, fmt.Errorf("block opt-out %s→%s: %w", o.Sender, o.Recipient, mapErr(err))
		}
		if len(rows) == 1 {
			return rows[0].toOptOut(), rows[0].Created, nil
		}
	}
	// The second run holds the row's lock and sees it committed: this cannot happen.
	return ports.OptOut{}, false, fmt.Errorf("block opt-out %s→%s: the row changed under its lock: %w", o.Sender, o.Recipient, ports.ErrUnavailable)
}

// LiftOptOut implements ports.Tx with one DELETE.
func (t *tx) LiftOptOut(ctx context.Context, sender, recipient string, now time.Time) (bool, error) {
	var active []bool
	err := t.tx.SelectContext(ctx, &active, `DELETE FROM opt_outs WHERE sender = $1 AND recipient = $2
RETURNING `+fmt.Sprintf(unexpired, "$3"), sender, recipient, ts(now))
	if err != nil {
		return false, fmt.Errorf("lift opt-out %s→%s: %w", sender, recipient, mapErr(err))
	}
	return len(active) == 1 && active[0], nil
}

// BlockedPairs implements ports.Tx with one join of the pairs to opt_outs, locking nothing
// (as OptedOut).
func (t *tx) BlockedPairs(ctx context.Context, pairs []ports.OptOutPair, now time.Time) (map[ports.OptOutPair]bool, error) {
	out := map[ports.OptOutPair]bool{}
	if len(pairs) == 0 {
		return out, nil
	}
	senders := make(pq.StringArray, len(pairs))
	recipients := make(pq.StringArray, len(pairs))
	for i, p := range pairs {
		senders[i], recipients[i] = p.Sender, p.Recipient
	}
	var rows []struct {
		Sender    string `db:"sender"`
		Recipient string `db:"recipient"`
	}
	err := t.tx.SelectContext(ctx, &rows, `SELECT o.sender, o.recipient
FROM unnest($1::text[], $2::text[]) AS p(sender, recipient)
JOIN opt_outs o ON o.sender = p.sender AND o.recipient = p.recipient
WHERE (o.expires_at IS NULL OR o.expires_at > $3)`, senders, recipients, ts(now))
	if err != nil {
		return nil, fmt.Errorf("check %d opt-out pair(s): %w", len(pairs), mapErr(err))
	}
	for _, r := range rows {
		out[ports.OptOutPair{Sender: r.Sender, Recipient: r.Recipient}] = true
	}
	return out, nil
}
