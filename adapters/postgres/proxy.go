package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// proxyNumberRow is a row of proxy_numbers.
type proxyNumberRow struct {
	Number    string    `db:"number"`
	Provider  string    `db:"provider"`
	AccountID string    `db:"account_id"`
	CreatedAt time.Time `db:"created_at"`
}

func (r proxyNumberRow) toNumber() proxy.Number {
	return proxy.Number{Number: r.Number, Provider: r.Provider, AccountID: r.AccountID, CreatedAt: r.CreatedAt.UTC()}
}

// proxySessionColumns is what every session query selects, into proxySessionRow.
const proxySessionColumns = `id, account_id, proxy_number, participant_a, participant_b, created_at, expires_at, closed_at`

// proxySessionRow is a row of proxy_sessions.
type proxySessionRow struct {
	ID           string     `db:"id"`
	AccountID    string     `db:"account_id"`
	ProxyNumber  string     `db:"proxy_number"`
	ParticipantA string     `db:"participant_a"`
	ParticipantB string     `db:"participant_b"`
	CreatedAt    time.Time  `db:"created_at"`
	ExpiresAt    *time.Time `db:"expires_at"`
	ClosedAt     *time.Time `db:"closed_at"`
}

func (r proxySessionRow) toSession() proxy.Session {
	return proxy.Session{ID: r.ID, AccountID: r.AccountID, ProxyNumber: r.ProxyNumber, ParticipantA: r.ParticipantA,
		ParticipantB: r.ParticipantB, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: utcPtr(r.ExpiresAt), ClosedAt: utcPtr(r.ClosedAt)}
}

// utcPtr is an optional time read back, in UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// tsPtr is an optional time as stored (ts).
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := ts(*t)
	return &u
}

// openAt is the condition of a session open at the parameter now (proxy.Session.Open);
// its negation is "closed". Its closed_at IS NULL term matches the partial indexes.
const openAt = `(closed_at IS NULL AND (expires_at IS NULL OR expires_at > %s))`

// usageRow is a pool number with one of its open sessions' participants (none: NULL).
type usageRow struct {
	proxyNumberRow
	ParticipantA *string `db:"participant_a"`
	ParticipantB *string `db:"participant_b"`
}

// poolUsage assembles usage rows ordered by number into the pool.
func poolUsage(rows []usageRow) []proxy.Usage {
	out := []proxy.Usage{}
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Number.Number != r.Number {
			out = append(out, proxy.Usage{Number: r.toNumber()})
		}
		if r.ParticipantA != nil && r.ParticipantB != nil {
			u := &out[len(out)-1]
			u.Participants = append(u.Participants, *r.ParticipantA, *r.ParticipantB)
		}
	}
	return out
}

// listProxyNumbers reads the pool and its open sessions in one statement (one snapshot).
const listProxyNumbers = `
SELECT n.number, n.provider, n.account_id, n.created_at, s.participant_a, s.participant_b
FROM proxy_numbers n
LEFT JOIN proxy_sessions s ON s.proxy_number = n.number
    AND s.closed_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > $2)
WHERE n.account_id = $1
ORDER BY n.number, s.created_at, s.id`

// ListProxyNumbers implements ports.ProxyStore.
func (s *Store) ListProxyNumbers(ctx context.Context, accountID string, now time.Time) ([]proxy.Usage, error) {
	var rows []usageRow
	if err := s.db.SelectContext(ctx, &rows, listProxyNumbers, accountID, ts(now)); err != nil {
		return nil, fmt.Errorf("list proxy numbers of %s: %w", accountID, mapErr(err))
	}
	return poolUsage(rows), nil
}

// GetProxySession implements ports.ProxyStore.
func (s *Store) GetProxySession(ctx context.Context, accountID, id string) (proxy.Session, error) {
	var r proxySessionRow
	if err := s.db.GetContext(ctx, &r, `SELECT `+proxySessionColumns+` FROM proxy_sessions
WHERE id = $1 AND account_id = $2`, id, accountID); err != nil {
		return proxy.Session{}, fmt.Errorf("get proxy session %s of %s: %w", id, accountID, mapErr(err))
	}
	return r.toSession(), nil
}

// ListProxySessions implements ports.ProxyStore, reading in list order from the position on:
// the open list from proxy_sessions_account_open (unclosed sessions only; expired ones are
// filtered out), the closed list from proxy_sessions_account_created.
func (s *Store) ListProxySessions(ctx context.Context, accountID string, q ports.ProxySessionQuery, now time.Time) (ports.ProxySessionPage, error) {
	if err := q.Validate(); err != nil {
		return ports.ProxySessionPage{}, fmt.Errorf("list proxy sessions of %s: %w", accountID, err)
	}
	query, args := proxySessionsQuery(accountID, q, now)
	var rows []proxySessionRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return ports.ProxySessionPage{}, fmt.Errorf("list proxy sessions of %s: %w", accountID, mapErr(err))
	}
	var page ports.ProxySessionPage
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		last := rows[q.Limit-1]
		page.Next = &ports.Cursor{CreatedAt: last.CreatedAt.UTC(), ID: last.ID}
	}
	page.Items = make([]proxy.Session, len(rows))
	for i, r := range rows {
		page.Items[i] = r.toSession()
	}
	return page, nil
}

// proxySessionsQuery is the statement of ListProxySessions and its parameters.
func proxySessionsQuery(accountID string, q ports.ProxySessionQuery, now time.Time) (string, []any) {
	var f filter
	f.where("account_id = ?", accountID)
	if q.Closed {
		f.where("NOT "+fmt.Sprintf(openAt, "?"), ts(now))
	} else {
		f.where(fmt.Sprintf(openAt, "?"), ts(now))
	}
	if q.After != nil {
		f.where("(created_at, id) < (?, ?)", ts(q.After.CreatedAt), q.After.ID)
	}
	// One row more than asked tells whether there is a next page.
	return `SELECT ` + proxySessionColumns + ` FROM proxy_sessions
WHERE ` + f.sql() + `
ORDER BY created_at DESC, id DESC
LIMIT ` + f.limit(q.Limit+1), f.args
}

// closeExpiredProxySessions records the expiry of sessions expired at $1 as their closing.
const closeExpiredProxySessions = `UPDATE proxy_sessions SET closed_at = expires_at
WHERE closed_at IS NULL AND expires_at <= $1`

// CloseExpiredProxySessions implements ports.ProxyStore with one update on
// proxy_sessions_expires. A CloseProxySession racing it waits for the row and then finds it
// closed, or the other way round.
func (s *Store) CloseExpiredProxySessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, closeExpiredProxySessions, ts(now))
	if err != nil {
		return 0, fmt.Errorf("close proxy sessions expired at %s: %w", now.UTC().Format(time.RFC3339Nano), mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("close proxy sessions expired at %s: %w", now.UTC().Format(time.RFC3339Nano), mapErr(err))
	}
	return int(n), nil
}

// AddProxyNumber implements ports.ProxyTx. ON CONFLICT DO NOTHING keeps the transaction
// usable on a number already pooled, which a failed statement would abort; a racing
// addition of the same number waits for the other transaction and then conflicts (or, if
// that one rolled back, inserts).
func (t *tx) AddProxyNumber(ctx context.Context, n proxy.Number) error {
	if err := ports.ValidateProxyNumber(n); err != nil {
		return fmt.Errorf("add proxy number: %w", err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO proxy_numbers (number, provider, account_id, created_at)
VALUES ($1, $2, $3, $4) ON CONFLICT (number) DO NOTHING`, n.Number, n.Provider, n.AccountID, ts(n.CreatedAt))
	if err != nil {
		return fmt.Errorf("add proxy number %s to %s: %w", n.Number, n.AccountID, mapErr(err))
	}
	added, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("add proxy number %s to %s: %w", n.Number, n.AccountID, mapErr(err))
	}
	if added == 0 {
		return fmt.Errorf("add proxy number %s to %s: already in a pool: %w", n.Number, n.AccountID, ports.ErrConflict)
	}
	return nil
}

// lockPool locks the account's numbers, in number order so that two lockers of one pool
// queue on its first number rather than deadlock.
const lockPool = `SELECT number, provider, account_id, created_at FROM proxy_numbers
WHERE account_id = $1
ORDER BY number
FOR UPDATE`

// poolSessions reads the open sessions of the locked numbers, on proxy_sessions_open_a.
var poolSessions = `SELECT proxy_number, participant_a, participant_b FROM proxy_sessions
WHERE proxy_number = ANY($1::text[]) AND ` + fmt.Sprintf(openAt, "$2") + `
ORDER BY created_at, id`

// LockProxyPool implements ports.ProxyTx with the row locks of the pool's numbers, taken by
// lockPool, then reads their sessions in a second statement. The order matters: in READ
// COMMITTED each statement sees what was committed when it began, so a locker that waited
// for another allocation's locks sees that allocation's session only in a statement begun
// after the wait — one statement locking and reading both would see the numbers' newest
// versions but the sessions of before the wait, and hand out a number just taken.
//
// Every allocation and removal of the account locks all of its numbers first, so they run
// one at a time per pool, on any replica. An empty pool locks nothing, and need not: an
// allocation that finds no number answers "none", which is right as of its snapshot, and a
// number added meanwhile by another transaction (invisible to the lock, a row that did not
// exist) is the same as one added just after; the next allocation locks it. Nothing is
// allocated without the number's row lock, so no session is ever placed on a number that a
// concurrent locker has read as free.
func (t *tx) LockProxyPool(ctx context.Context, accountID string, now time.Time) ([]proxy.Usage, error) {
	var numbers []proxyNumberRow
	if err := t.tx.SelectContext(ctx, &numbers, lockPool, accountID); err != nil {
		return nil, fmt.Errorf("lock proxy pool of %s: %w", accountID, mapErr(err))
	}
	pool := make([]proxy.Usage, len(numbers))
	if len(numbers) == 0 {
		return pool, nil
	}
	names := make(pq.StringArray, len(numbers))
	at := make(map[string]int, len(numbers))
	for i, n := range numbers {
		pool[i], names[i], at[n.Number] = proxy.Usage{Number: n.toNumber()}, n.Number, i
	}
	var sessions []struct {
		ProxyNumber  string `db:"proxy_number"`
		ParticipantA string `db:"participant_a"`
		ParticipantB string `db:"participant_b"`
	}
	if err := t.tx.SelectContext(ctx, &sessions, poolSessions, names, ts(now)); err != nil {
		return nil, fmt.Errorf("lock proxy pool of %s: read its sessions: %w", accountID, mapErr(err))
	}
	for _, s := range sessions {
		u := &pool[at[s.ProxyNumber]]
		u.Participants = append(u.Participants, s.ParticipantA, s.ParticipantB)
	}
	return pool, nil
}

// RemoveProxyNumber implements ports.ProxyTx.
func (t *tx) RemoveProxyNumber(ctx context.Context, accountID, number string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM proxy_numbers WHERE number = $1 AND account_id = $2`, number, accountID)
	if err != nil {
		return fmt.Errorf("remove proxy number %s of %s: %w", number, accountID, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("remove proxy number %s of %s: %w", number, accountID, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("remove proxy number %s of %s: %w", number, accountID, ports.ErrNotFound)
	}
	return nil
}

// GetProxyNumber implements ports.ProxyTx.
func (t *tx) GetProxyNumber(ctx context.Context, number string) (proxy.Number, error) {
	var r proxyNumberRow
	if err := t.tx.GetContext(ctx, &r, `SELECT number, provider, account_id, created_at FROM proxy_numbers
WHERE number = $1`, number); err != nil {
		return proxy.Number{}, fmt.Errorf("get proxy number %s: %w", number, mapErr(err))
	}
	return r.toNumber(), nil
}

// InsertProxySession implements ports.ProxyTx; ON CONFLICT DO NOTHING keeps the
// transaction usable on a duplicate id.
func (t *tx) InsertProxySession(ctx context.Context, s proxy.Session) error {
	s.CreatedAt, s.ExpiresAt, s.ClosedAt = ts(s.CreatedAt), tsPtr(s.ExpiresAt), tsPtr(s.ClosedAt)
	if err := s.Validate(); err != nil {
		return fmt.Errorf("insert proxy session: %w: %w", err, ports.ErrInvalid)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO proxy_sessions (`+proxySessionColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		s.ID, s.AccountID, s.ProxyNumber, s.ParticipantA, s.ParticipantB, s.CreatedAt, s.ExpiresAt, s.ClosedAt)
	if err != nil {
		return fmt.Errorf("insert proxy session %s: %w", s.ID, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("insert proxy session %s: %w", s.ID, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("insert proxy session %s: %w", s.ID, ports.ErrConflict)
	}
	return nil
}

// closeProxySession closes the session if it is open at $3. The row lock makes a racing
// close (or the sweep) wait and then re-check the condition on the closed row.
var closeProxySession = `UPDATE proxy_sessions SET closed_at = $3
WHERE id = $1 AND account_id = $2 AND ` + fmt.Sprintf(openAt, "$3") + `
RETURNING ` + proxySessionColumns

// CloseProxySession implements ports.ProxyTx: the update, and when it changed nothing a
// read of the session as it is (a new statement, so it sees a racing close's result).
func (t *tx) CloseProxySession(ctx context.Context, accountID, id string, at time.Time) (proxy.Session, bool, error) {
	var rows []proxySessionRow
	if err := t.tx.SelectContext(ctx, &rows, closeProxySession, id, accountID, ts(at)); err != nil {
		return proxy.Session{}, false, fmt.Errorf("close proxy session %s of %s: %w", id, accountID, mapErr(err))
	}
	if len(rows) == 1 {
		return rows[0].toSession(), true, nil
	}
	var r proxySessionRow
	if err := t.tx.GetContext(ctx, &r, `SELECT `+proxySessionColumns+` FROM proxy_sessions
WHERE id = $1 AND account_id = $2`, id, accountID); err != nil {
		return proxy.Session{}, false, fmt.Errorf("close proxy session %s of %s: %w", id, accountID, mapErr(err))
	}
	return r.toSession(), false, nil
}

// findOpenProxySession reads the number's open sessions of the participant from the two
// partial indexes (one per side).
var findOpenProxySession = `SELECT ` + proxySessionColumns + ` FROM proxy_sessions
WHERE proxy_number = $1 AND (participant_a = $2 OR participant_b = $2) AND ` + fmt.Sprintf(openAt, "$3") + `
ORDER BY created_at DESC, id DESC
LIMIT 1`

// FindOpenProxySession implements ports.ProxyTx.
func (t *tx) FindOpenProxySession(ctx context.Context, proxyNumber, participant string, now time.Time) (proxy.Session, error) {
	var r proxySessionRow
	if err := t.tx.GetContext(ctx, &r, findOpenProxySession, proxyNumber, participant, ts(now)); err != nil {
		return proxy.Session{}, fmt.Errorf("find open proxy session on %s with %s: %w", proxyNumber, participant, mapErr(err))
	}
	return r.toSession(), nil
}
