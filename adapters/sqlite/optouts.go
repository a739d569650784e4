package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/ports"
)

// optOutColumns is the column list every opt-out query selects, in scanOptOut's order.
const optOutColumns = `sender, recipient, source, created_at, expires_at`

// unexpired is the condition of a block in force at the bound now.
const unexpired = `(expires_at IS NULL OR expires_at > ?)`

// nullTime renders an optional timestamp as stored.
func nullTime(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toDB(*t), Valid: true}
}

// scanOptOut reads one row of optOutColumns.
func scanOptOut(scan func(dest ...any) error) (ports.OptOut, error) {
	var (
		o       ports.OptOut
		source  string
		created int64
		expires sql.NullInt64
	)
	if err := scan(&o.Sender, &o.Recipient, &source, &created, &expires); err != nil {
		return ports.OptOut{}, err
	}
	o.Source, o.CreatedAt = optout.Source(source), fromDB(created)
	if expires.Valid {
		e := fromDB(expires.Int64)
		o.ExpiresAt = &e
	}
	return o, nil
}

// ListOptOuts implements ports.OptOutStore.
func (s *Store) ListOptOuts(ctx context.Context, q ports.OptOutQuery, now time.Time) (ports.OptOutPage, error) {
	where := []string{unexpired}
	args := []any{toDB(now)}
	if q.Sender != "" {
		where, args = append(where, "sender = ?"), append(args, q.Sender)
	}
	if q.Recipient != "" {
		where, args = append(where, "recipient = ?"), append(args, q.Recipient)
	}
	if q.After != nil {
		sender, recipient, err := ports.ParseOptOutCursorID(q.After.ID)
		if err != nil {
			return ports.OptOutPage{}, fmt.Errorf("list opt-outs: %w", err)
		}
		where = append(where, "(created_at, sender, recipient) < (?, ?, ?)")
		args = append(args, toDB(q.After.CreatedAt), sender, recipient)
	}
	query := `SELECT ` + optOutColumns + ` FROM opt_outs WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at DESC, sender DESC, recipient DESC`
	if q.Limit > 0 {
		// One row more than asked tells whether there is a next page.
		query += ` LIMIT ?`
		args = append(args, q.Limit+1)
	}
	page, err := listOptOuts(ctx, s.db, query, args...)
	if err != nil {
		return ports.OptOutPage{}, fmt.Errorf("list opt-outs (sender %q, recipient %q): %w", q.Sender, q.Recipient, err)
	}
	if q.Limit > 0 && len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		page.Next = ports.OptOutCursor(page.Items[q.Limit-1])
	}
	return page, nil
}

func listOptOuts(ctx context.Context, q querier, query string, args ...any) (ports.OptOutPage, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return ports.OptOutPage{}, classify(err)
	}
	defer rows.Close()
	page := ports.OptOutPage{Items: []ports.OptOut{}}
	for rows.Next() {
		o, err := scanOptOut(rows.Scan)
		if err != nil {
			return ports.OptOutPage{}, classify(err)
		}
		page.Items = append(page.Items, o)
	}
	if err := rows.Err(); err != nil {
		return ports.OptOutPage{}, classify(err)
	}
	return page, nil
}

// PruneOptOuts implements ports.OptOutStore.
func (s *Store) PruneOptOuts(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM opt_outs WHERE expires_at <= ?`, toDB(now))
	if err != nil {
		return 0, fmt.Errorf("prune opt-outs expired at %s: %w", now.UTC().Format(time.RFC3339Nano), classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune opt-outs expired at %s: %w", now.UTC().Format(time.RFC3339Nano), classify(err))
	}
	return int(n), nil
}

// OptedOut implements ports.Tx.
func (t *Tx) OptedOut(ctx context.Context, sender, recipient string, now time.Time) (bool, error) {
	var out bool
	err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM opt_outs
		WHERE sender = ? AND recipient = ? AND `+unexpired+`)`, sender, recipient, toDB(now)).Scan(&out)
	if err != nil {
		return false, fmt.Errorf("check opt-out %s→%s: %w", sender, recipient, classify(err))
	}
	return out, nil
}

// BlockOptOut implements ports.Tx. The transaction began IMMEDIATE and holds SQLite's write
// lock, so reading the pair's row and then writing it cannot interleave with another writer.
func (t *Tx) BlockOptOut(ctx context.Context, o ports.OptOut) (ports.OptOut, bool, error) {
	if err := o.Validate(); err != nil {
		return ports.OptOut{}, false, fmt.Errorf("block opt-out: %w", err)
	}
	cur, err := scanOptOut(t.tx.QueryRowContext(ctx, `SELECT `+optOutColumns+` FROM opt_outs
		WHERE sender = ? AND recipient = ?`, o.Sender, o.Recipient).Scan)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ports.OptOut{}, false, fmt.Errorf("block opt-out %s→%s: %w", o.Sender, o.Recipient, classify(err))
	}
	// Compare as stored: microseconds.
	stored := ports.OptOut{Sender: o.Sender, Recipient: o.Recipient, Source: o.Source, CreatedAt: fromDB(toDB(o.CreatedAt))}
	if o.ExpiresAt != nil {
		e := fromDB(toDB(*o.ExpiresAt))
		stored.ExpiresAt = &e
	}
	created := !found || !cur.Active(stored.CreatedAt)
	if !created {
		if cur.ExpiresAt != nil && (stored.ExpiresAt == nil || stored.ExpiresAt.After(*cur.ExpiresAt)) {
			cur.ExpiresAt = stored.ExpiresAt
		}
		stored = cur
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO opt_outs (`+optOutColumns+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (sender, recipient) DO UPDATE SET source = excluded.source,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
		stored.Sender, stored.Recipient, string(stored.Source), toDB(stored.CreatedAt), nullTime(stored.ExpiresAt))
	if err != nil {
		return ports.OptOut{}, false, fmt.Errorf("block opt-out %s→%s: %w", o.Sender, o.Recipient, classify(err))
	}
	return stored, created, nil
}

// LiftOptOut implements ports.Tx with one DELETE.
func (t *Tx) LiftOptOut(ctx context.Context, sender, recipient string, now time.Time) (bool, error) {
	var active bool
	err := t.tx.QueryRowContext(ctx, `DELETE FROM opt_outs WHERE sender = ? AND recipient = ?
		RETURNING `+unexpired, sender, recipient, toDB(now)).Scan(&active)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lift opt-out %s→%s: %w", sender, recipient, classify(err))
	}
	return active, nil
}

// BlockedPairs implements ports.Tx with one join of the pairs (a JSON array of [sender,
// recipient]) to opt_outs.
func (t *Tx) BlockedPairs(ctx context.Context, pairs []ports.OptOutPair, now time.Time) (map[ports.OptOutPair]bool, error) {
	out := map[ports.OptOutPair]bool{}
	if len(pairs) == 0 {
		return out, nil
	}
	list := make([][2]string, len(pairs))
	for i, p := range pairs {
		list[i] = [2]string{p.Sender, p.Recipient}
	}
	doc, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("check %d opt-out pair(s): %w", len(pairs), err)
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT o.sender, o.recipient FROM json_each(?) AS p
		JOIN opt_outs AS o ON o.sender = p.value ->> 0 AND o.recipient = p.value ->> 1
		WHERE `+unexpired, string(doc), toDB(now))
	if err != nil {
		return nil, fmt.Errorf("check %d opt-out pair(s): %w", len(pairs), classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var p ports.OptOutPair
		if err := rows.Scan(&p.Sender, &p.Recipient); err != nil {
			return nil, fmt.Errorf("check %d opt-out pair(s): %w", len(pairs), classify(err))
		}
		out[p] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check %d opt-out pair(s): %w", len(pairs), classify(err))
	}
	return out, nil
}
