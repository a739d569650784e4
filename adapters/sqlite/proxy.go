package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// proxySessionColumns is the column list every session query selects, in scanSession's
// order.
const proxySessionColumns = `id, account_id, proxy_number, participant_a, participant_b, created_at, expires_at, closed_at`

// openAt is the condition of a session open at the bound now (proxy.Session.Open); its
// negation is "closed". Its closed_at IS NULL term matches the partial indexes.
const openAt = `(closed_at IS NULL AND (expires_at IS NULL OR expires_at > ?))`

// optionalTime reads back a nullable timestamp.
func optionalTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromDB(v.Int64)
	return &t
}

// scanSession reads one row of proxySessionColumns.
func scanSession(scan func(dest ...any) error) (proxy.Session, error) {
	var (
		s                 proxy.Session
		created           int64
		expires, closedAt sql.NullInt64
	)
	if err := scan(&s.ID, &s.AccountID, &s.ProxyNumber, &s.ParticipantA, &s.ParticipantB, &created, &expires, &closedAt); err != nil {
		return proxy.Session{}, err
	}
	s.CreatedAt, s.ExpiresAt, s.ClosedAt = fromDB(created), optionalTime(expires), optionalTime(closedAt)
	return s, nil
}

// getSession reads the account's session.
func getSession(ctx context.Context, q querier, accountID, id string) (proxy.Session, error) {
	s, err := scanSession(q.QueryRowContext(ctx, `SELECT `+proxySessionColumns+` FROM proxy_sessions
		WHERE id = ? AND account_id = ?`, id, accountID).Scan)
	if err != nil {
		return proxy.Session{}, classify(err)
	}
	return s, nil
}

// poolQuery reads an account's pool in number order with the participants of the numbers'
// open sessions (none: NULL), oldest session first, in one statement.
const poolQuery = `SELECT n.number, n.provider, n.account_id, n.created_at, s.participant_a, s.participant_b
	FROM proxy_numbers AS n
	LEFT JOIN proxy_sessions AS s ON s.proxy_number = n.number
		AND s.closed_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > ?)
	WHERE n.account_id = ?
	ORDER BY n.number, s.created_at, s.id`

// pool runs poolQuery.
func pool(ctx context.Context, q querier, accountID string, now time.Time) ([]proxy.Usage, error) {
	rows, err := q.QueryContext(ctx, poolQuery, toDB(now), accountID)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	out := []proxy.Usage{}
	for rows.Next() {
		var (
			n       proxy.Number
			created int64
			a, b    sql.NullString
		)
		if err := rows.Scan(&n.Number, &n.Provider, &n.AccountID, &created, &a, &b); err != nil {
			return nil, classify(err)
		}
		if len(out) == 0 || out[len(out)-1].Number.Number != n.Number {
			n.CreatedAt = fromDB(created)
			out = append(out, proxy.Usage{Number: n})
		}
		if a.Valid && b.Valid {
			u := &out[len(out)-1]
			u.Participants = append(u.Participants, a.String, b.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// ListProxyNumbers implements ports.ProxyStore.
func (s *Store) ListProxyNumbers(ctx context.Context, accountID string, now time.Time) ([]proxy.Usage, error) {
	out, err := pool(ctx, s.db, accountID, now)
	if err != nil {
		return nil, fmt.Errorf("list proxy numbers of %s: %w", accountID, err)
	}
	return out, nil
}

// GetProxySession implements ports.ProxyStore.
func (s *Store) GetProxySession(ctx context.Context, accountID, id string) (proxy.Session, error) {
	ps, err := getSession(ctx, s.db, accountID, id)
	if err != nil {
		return proxy.Session{}, fmt.Errorf("get proxy session %s of %s: %w", id, accountID, err)
	}
	return ps, nil
}

// ListProxySessions implements ports.ProxyStore, reading in list order from the position on:
// the open list from proxy_sessions_account_open_idx (unclosed sessions only; expired ones
// are filtered out), the closed list from proxy_sessions_account_created_idx.
func (s *Store) ListProxySessions(ctx context.Context, accountID string, q ports.ProxySessionQuery, now time.Time) (ports.ProxySessionPage, error) {
	if err := q.Validate(); err != nil {
		return ports.ProxySessionPage{}, fmt.Errorf("list proxy sessions of %s: %w", accountID, err)
	}
	query, args := proxySessionsQuery(accountID, q, now)
	items, err := listSessions(ctx, s.db, query, args...)
	if err != nil {
		return ports.ProxySessionPage{}, fmt.Errorf("list proxy sessions of %s: %w", accountID, err)
	}
	page := ports.ProxySessionPage{Items: items}
	if len(items) > q.Limit {
		page.Items = items[:q.Limit]
		last := page.Items[q.Limit-1]
		page.Next = &ports.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// proxySessionsQuery is the statement of ListProxySessions and its parameters.
func proxySessionsQuery(accountID string, q ports.ProxySessionQuery, now time.Time) (string, []any) {
	where := []string{"account_id = ?", openAt}
	if q.Closed {
		where[1] = "NOT " + openAt
	}
	args := []any{accountID, toDB(now)}
	if q.After != nil {
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, toDB(q.After.CreatedAt), q.After.ID)
	}
	// One row more than asked tells whether there is a next page.
	query := `SELECT ` + proxySessionColumns + ` FROM proxy_sessions WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at DESC, id DESC LIMIT ?`
	return query, append(args, q.Limit+1)
}

func listSessions(ctx context.Context, q querier, query string, args ...any) ([]proxy.Session, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	out := []proxy.Session{}
	for rows.Next() {
		s, err := scanSession(rows.Scan)
		if err != nil {
			return nil, classify(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// closeExpiredProxySessions records the expiry of sessions expired at the bound now as
// their closing, on proxy_sessions_expires_idx.
const closeExpiredProxySessions = `UPDATE proxy_sessions SET closed_at = expires_at
	WHERE closed_at IS NULL AND expires_at <= ?`

// CloseExpiredProxySessions implements ports.ProxyStore with one update.
func (s *Store) CloseExpiredProxySessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, closeExpiredProxySessions, toDB(now))
	if err != nil {
		return 0, fmt.Errorf("close proxy sessions expired at %s: %w", now.UTC().Format(time.RFC3339Nano), classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("close proxy sessions expired at %s: %w", now.UTC().Format(time.RFC3339Nano), classify(err))
	}
	return int(n), nil
}

// AddProxyNumber implements ports.ProxyTx; ON CONFLICT DO NOTHING reports a pooled number
// as no row changed.
func (t *Tx) AddProxyNumber(ctx context.Context, n proxy.Number) error {
	if err := ports.ValidateProxyNumber(n); err != nil {
		return fmt.Errorf("add proxy number: %w", err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO proxy_numbers (number, provider, account_id, created_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (number) DO NOTHING`, n.Number, n.Provider, n.AccountID, toDB(n.CreatedAt))
	if err != nil {
		return fmt.Errorf("add proxy number %s to %s: %w", n.Number, n.AccountID, classify(err))
	}
	added, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("add proxy number %s to %s: %w", n.Number, n.AccountID, classify(err))
	}
	if added == 0 {
		return fmt.Errorf("add proxy number %s to %s: already in a pool: %w", n.Number, n.AccountID, ports.ErrConflict)
	}
	return nil
}

// LockProxyPool implements ports.ProxyTx. The transaction began IMMEDIATE and holds
// SQLite's write lock, the whole database's, so reading the pool is locking it: no other
// allocation or removal, of any account, runs until this transaction ends.
func (t *Tx) LockProxyPool(ctx context.Context, accountID string, now time.Time) ([]proxy.Usage, error) {
	out, err := pool(ctx, t.tx, accountID, now)
	if err != nil {
		return nil, fmt.Errorf("lock proxy pool of %s: %w", accountID, err)
	}
	return out, nil
}

// RemoveProxyNumber implements ports.ProxyTx.
func (t *Tx) RemoveProxyNumber(ctx context.Context, accountID, number string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM proxy_numbers WHERE number = ? AND account_id = ?`, number, accountID)
	if err != nil {
		return fmt.Errorf("remove proxy number %s of %s: %w", number, accountID, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("remove proxy number %s of %s: %w", number, accountID, classify(err))
	}
	if n == 0 {
		return fmt.Errorf("remove proxy number %s of %s: %w", number, accountID, ports.ErrNotFound)
	}
	return nil
}

// GetProxyNumber implements ports.ProxyTx.
func (t *Tx) GetProxyNumber(ctx context.Context, number string) (proxy.Number, error) {
	var (
		n       proxy.Number
		created int64
	)
	err := t.tx.QueryRowContext(ctx, `SELECT number, provider, account_id, created_at FROM proxy_numbers
		WHERE number = ?`, number).Scan(&n.Number, &n.Provider, &n.AccountID, &created)
	if err != nil {
		return proxy.Number{}, fmt.Errorf("get proxy number %s: %w", number, classify(err))
	}
	n.CreatedAt = fromDB(created)
	return n, nil
}

// InsertProxySession implements ports.ProxyTx; ON CONFLICT DO NOTHING reports an existing
// id as no row changed.
func (t *Tx) InsertProxySession(ctx context.Context, s proxy.Session) error {
	// Validate the times as stored: an expiry within the creation's microsecond is none.
	stored := s
	stored.CreatedAt, stored.ExpiresAt, stored.ClosedAt = fromDB(toDB(s.CreatedAt)), asStored(s.ExpiresAt), asStored(s.ClosedAt)
	if err := stored.Validate(); err != nil {
		return fmt.Errorf("insert proxy session: %w: %w", err, ports.ErrInvalid)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO proxy_sessions (`+proxySessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		s.ID, s.AccountID, s.ProxyNumber, s.ParticipantA, s.ParticipantB, toDB(s.CreatedAt), nullTime(s.ExpiresAt), nullTime(s.ClosedAt))
	if err != nil {
		return fmt.Errorf("insert proxy session %s: %w", s.ID, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("insert proxy session %s: %w", s.ID, classify(err))
	}
	if n == 0 {
		return fmt.Errorf("insert proxy session %s: %w", s.ID, ports.ErrConflict)
	}
	return nil
}

// asStored is an optional time as it reads back.
func asStored(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := fromDB(toDB(*t))
	return &s
}

// CloseProxySession implements ports.ProxyTx: the update if the session is open at `at`,
// else a read of it as it is.
func (t *Tx) CloseProxySession(ctx context.Context, accountID, id string, at time.Time) (proxy.Session, bool, error) {
	s, err := scanSession(t.tx.QueryRowContext(ctx, `UPDATE proxy_sessions SET closed_at = ?
		WHERE id = ? AND account_id = ? AND `+openAt+`
		RETURNING `+proxySessionColumns, toDB(at), id, accountID, toDB(at)).Scan)
	if err == nil {
		return s, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return proxy.Session{}, false, fmt.Errorf("close proxy session %s of %s: %w", id, accountID, classify(err))
	}
	s, err = getSession(ctx, t.tx, accountID, id)
	if err != nil {
		return proxy.Session{}, false, fmt.Errorf("close proxy session %s of %s: %w", id, accountID, err)
	}
	return s, false, nil
}

// findOpenProxySession reads the number's open sessions of the participant, one side from
// each partial index: as a UNION ALL, because without statistics (no ANALYZE) SQLite
// answers the OR of the sides from the number's whole index range.
const findOpenProxySession = `SELECT ` + proxySessionColumns + ` FROM (
		SELECT ` + proxySessionColumns + ` FROM proxy_sessions WHERE proxy_number = ? AND participant_a = ? AND ` + openAt + `
		UNION ALL
		SELECT ` + proxySessionColumns + ` FROM proxy_sessions WHERE proxy_number = ? AND participant_b = ? AND ` + openAt + `
	) ORDER BY created_at DESC, id DESC LIMIT 1`

// FindOpenProxySession implements ports.ProxyTx.
func (t *Tx) FindOpenProxySession(ctx context.Context, proxyNumber, participant string, now time.Time) (proxy.Session, error) {
	s, err := scanSession(t.tx.QueryRowContext(ctx, findOpenProxySession,
		proxyNumber, participant, toDB(now), proxyNumber, participant, toDB(now)).Scan)
	if err != nil {
		return proxy.Session{}, fmt.Errorf("find open proxy session on %s with %s: %w", proxyNumber, participant, classify(err))
	}
	return s, nil
}
