package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// messageColumns is the column list every message query selects, in scanMessage's order.
const messageColumns = `id, account_id, direction, "from", "to", text, status, provider, route,
	provider_message_id, segments, encoding, tags, error_code, error_message, send_at,
	created_at, updated_at`

// awaitingStatus repeats the predicate of messages_awaiting_status_idx term for term, so
// SQLite can use that partial index. The status list is message.Status.Final.
const awaitingStatus = `direction = 'outbound' AND provider_message_id <> ''
	AND status NOT IN ('delivered', 'undelivered', 'failed', 'canceled', 'received')
	AND hidden_at IS NULL`

// eventChunk bounds the ids bound into one IN list (SQLite limits host parameters).
const eventChunk = 500

// toDB renders a timestamp as stored: unix microseconds, UTC.
func toDB(t time.Time) int64 { return t.UnixMicro() }

// fromDB reads a stored timestamp back as UTC.
func fromDB(us int64) time.Time { return time.UnixMicro(us).UTC() }

// GetMessage returns the account's visible message (any account's if accountID is empty).
func (s *Store) GetMessage(ctx context.Context, accountID, id string) (message.Message, error) {
	m, err := getMessage(ctx, s.db, `id = ? AND hidden_at IS NULL AND (? = '' OR account_id = ?)`, id, accountID, accountID)
	if err != nil {
		return message.Message{}, fmt.Errorf("get message %s: %w", id, err)
	}
	return m, nil
}

// ListMessages lists the account's visible messages newest first, by (created_at, id).
func (s *Store) ListMessages(ctx context.Context, accountID string, q ports.MessageQuery) (ports.MessagePage, error) {
	where := []string{"account_id = ?", "hidden_at IS NULL"}
	args := []any{accountID}
	add := func(cond string, arg ...any) {
		where = append(where, cond)
		args = append(args, arg...)
	}
	if q.Direction != "" {
		add("direction = ?", string(q.Direction))
	}
	if q.Status != "" {
		add("status = ?", string(q.Status))
	}
	if q.From != "" {
		add(`"from" = ?`, q.From)
	}
	if q.To != "" {
		add(`"to" = ?`, q.To)
	}
	if !q.CreatedAfter.IsZero() {
		add("created_at >= ?", toDB(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		add("created_at <= ?", toDB(q.CreatedBefore))
	}
	// One condition per tag, in key order so that a set of keys always makes the same
	// statement. json_each takes the key as a bound value: a JSON path would have to quote
	// it, and SQLite's paths cannot express every key (a double quote, for one).
	for _, k := range slices.Sorted(maps.Keys(q.Tags)) {
		add("EXISTS (SELECT 1 FROM json_each(messages.tags) AS t WHERE t.key = ? AND t.type = 'text' AND t.value = ?)", k, q.Tags[k])
	}
	if q.After != nil {
		add("(created_at, id) < (?, ?)", toDB(q.After.CreatedAt), q.After.ID)
	}
	query := `SELECT ` + messageColumns + ` FROM messages WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at DESC, id DESC`
	if q.Limit > 0 {
		// One row more than asked tells whether there is a next page, so the last page
		// never hands out a cursor to an empty one.
		query += ` LIMIT ?`
		args = append(args, q.Limit+1)
	}
	msgs, err := listMessages(ctx, s.db, query, args...)
	if err != nil {
		return ports.MessagePage{}, fmt.Errorf("list messages of %s: %w", accountID, err)
	}
	var page ports.MessagePage
	if q.Limit > 0 && len(msgs) > q.Limit {
		msgs = msgs[:q.Limit]
		last := msgs[len(msgs)-1]
		page.Next = &ports.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	page.Items = msgs
	return page, nil
}

// ListAwaitingStatus implements ports.MessageStore on the partial index
// messages_awaiting_status_idx (provider, created_at, id), which holds only the messages
// still waiting: the query repeats its predicate (awaitingStatus) and reads it in list order
// from the cursor position on. The account is filtered on those rows; see the Postgres store
// for why it has no index of its own.
func (s *Store) ListAwaitingStatus(ctx context.Context, q ports.AwaitingQuery) ([]message.Message, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("list messages awaiting status: %w", err)
	}
	query, args := awaitingQuery(q)
	msgs, err := listMessages(ctx, s.db, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages awaiting status from %s: %w", q.Provider, err)
	}
	return msgs, nil
}

// awaitingQuery is the statement of ListAwaitingStatus.
func awaitingQuery(q ports.AwaitingQuery) (string, []any) {
	where := []string{"provider = ?", awaitingStatus}
	args := []any{q.Provider}
	// Only the tighter lower bound: a cursor at or after Since implies Since, and a Since
	// after the cursor implies the cursor. With one range condition the index scan starts
	// at the position, rather than at Since with every row up to the cursor filtered out.
	switch {
	case q.After != nil && toDB(q.After.CreatedAt) >= toDB(q.Since):
		where = append(where, "(created_at, id) > (?, ?)")
		args = append(args, toDB(q.After.CreatedAt), q.After.ID)
	case !q.Since.IsZero():
		where = append(where, "created_at >= ?")
		args = append(args, toDB(q.Since))
	}
	if q.AccountID != "" {
		where = append(where, "account_id = ?")
		args = append(args, q.AccountID)
	}
	query := `SELECT ` + messageColumns + ` FROM messages WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at, id LIMIT ?`
	return query, append(args, q.Limit)
}

// countStatuses groups on the start of the UTC day in created_at's unit (86400000000 µs a
// day): unix time has no leap seconds, so every UTC day starts at a multiple of it. The
// modulo is taken twice so that the floor is right before 1970 too (% truncates towards
// zero). SQLite's date functions would go through floating-point seconds, which near
// midnight can round a microsecond into the next day. The range condition uses
// messages_account_created_idx.
const countStatuses = `SELECT created_at - (created_at % 86400000000 + 86400000000) % 86400000000 AS day,
		status, count(*)
	FROM messages
	WHERE account_id = ? AND created_at >= ? AND created_at <= ? AND hidden_at IS NULL
	GROUP BY day, status`

// CountStatuses implements ports.MessageStore.
func (s *Store) CountStatuses(ctx context.Context, accountID string, start, end time.Time) (map[string]map[message.Status]int, error) {
	rows, err := s.db.QueryContext(ctx, countStatuses, accountID, toDB(start), toDB(end))
	if err != nil {
		return nil, fmt.Errorf("count statuses of %s: %w", accountID, classify(err))
	}
	defer rows.Close()
	out := make(map[string]map[message.Status]int)
	for rows.Next() {
		var (
			day    int64
			status string
			n      int
		)
		if err := rows.Scan(&day, &status, &n); err != nil {
			return nil, fmt.Errorf("count statuses of %s: %w", accountID, err)
		}
		key := fromDB(day).Format(ports.DayLayout)
		if out[key] == nil {
			out[key] = make(map[message.Status]int)
		}
		out[key][message.Status(status)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count statuses of %s: %w", accountID, classify(err))
	}
	return out, nil
}

// GetMessageForUpdate loads a message, hidden or not. The transaction began IMMEDIATE and
// so already holds SQLite's write lock: no other writer can touch the row until it ends.
func (t *Tx) GetMessageForUpdate(ctx context.Context, id string) (message.Message, error) {
	m, err := getMessage(ctx, t.tx, `id = ?`, id)
	if err != nil {
		return message.Message{}, fmt.Errorf("get message %s for update: %w", id, err)
	}
	return m, nil
}

// FindByProviderIDForUpdate is GetMessageForUpdate by (direction, provider, provider id).
// An empty provider id never matches. Should several outbound messages share one (they
// are not unique), the newest wins.
func (t *Tx) FindByProviderIDForUpdate(ctx context.Context, dir message.Direction, provider, providerMessageID string) (message.Message, error) {
	if providerMessageID == "" {
		return message.Message{}, fmt.Errorf("find %s message by empty provider id: %w", dir, ports.ErrNotFound)
	}
	m, err := getMessage(ctx, t.tx, `provider = ? AND provider_message_id = ? AND direction = ? AND provider_message_id <> ''
		ORDER BY created_at DESC, id DESC LIMIT 1`, provider, providerMessageID, string(dir))
	if err != nil {
		return message.Message{}, fmt.Errorf("find %s message %s/%s: %w", dir, provider, providerMessageID, err)
	}
	return m, nil
}

// MessageIDsByProviderID implements ports.Tx (under the write lock the transaction holds,
// like every read here).
func (t *Tx) MessageIDsByProviderID(ctx context.Context, dir message.Direction, provider string, pids []string) (map[string]string, error) {
	out := make(map[string]string, len(pids))
	for _, pid := range pids {
		if pid == "" {
			continue
		}
		if _, done := out[pid]; done {
			continue
		}
		var id string
		err := t.tx.QueryRowContext(ctx, `SELECT id FROM messages
			WHERE provider = ? AND provider_message_id = ? AND direction = ?
			ORDER BY created_at DESC, id DESC LIMIT 1`, provider, pid, string(dir)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up %s message %s/%s: %w", dir, provider, pid, classify(err))
		}
		out[pid] = id
	}
	return out, nil
}

// InsertMessage inserts m and its events. ON CONFLICT DO NOTHING turns a duplicate id or
// a duplicate inbound provider id into "no row inserted", reported as ErrConflict, and
// leaves the transaction usable.
func (t *Tx) InsertMessage(ctx context.Context, m message.Message) error {
	route, tags, err := encodeCollections(m)
	if err != nil {
		return fmt.Errorf("insert message %s: %w", m.ID, err)
	}
	errCode, errMsg := encodeError(m.Error)
	var sendAt sql.NullInt64
	if m.SendAt != nil {
		sendAt = sql.NullInt64{Int64: toDB(*m.SendAt), Valid: true}
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO messages (`+messageColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		m.ID, m.AccountID, string(m.Direction), m.From, m.To, m.Text, string(m.Status), m.Provider, route,
		m.ProviderMessageID, m.Segments, string(m.Encoding), tags, errCode, errMsg, sendAt,
		toDB(m.CreatedAt), toDB(m.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert message %s: %w", m.ID, classify(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("insert message %s: %w", m.ID, classify(err))
	} else if n == 0 {
		return fmt.Errorf("insert message %s: id or inbound provider id exists: %w", m.ID, ports.ErrConflict)
	}
	if err := insertEvents(ctx, t.tx, m.ID, 0, m.Events); err != nil {
		return fmt.Errorf("insert message %s: %w", m.ID, err)
	}
	return nil
}

// UpdateMessage stores m's mutable fields and appends newEvents to its history.
func (t *Tx) UpdateMessage(ctx context.Context, m message.Message, newEvents ...message.Event) error {
	route, err := json.Marshal(nonNilRoute(m.Route))
	if err != nil {
		return fmt.Errorf("update message %s: encode route: %w", m.ID, err)
	}
	errCode, errMsg := encodeError(m.Error)
	res, err := t.tx.ExecContext(ctx, `UPDATE messages SET status = ?, provider = ?, route = ?,
		provider_message_id = ?, error_code = ?, error_message = ?, updated_at = ? WHERE id = ?`,
		string(m.Status), m.Provider, string(route), m.ProviderMessageID, errCode, errMsg, toDB(m.UpdatedAt), m.ID)
	if err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, classify(err))
	}
	if err := wantOneRow(res); err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, err)
	}
	if len(newEvents) == 0 {
		return nil
	}
	var last int
	if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM message_events WHERE message_id = ?`, m.ID).Scan(&last); err != nil {
		return fmt.Errorf("update message %s: last event: %w", m.ID, classify(err))
	}
	if err := insertEvents(ctx, t.tx, m.ID, last, newEvents); err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, err)
	}
	return nil
}

// HideMessage marks the message deleted; hiding it again keeps the first time.
func (t *Tx) HideMessage(ctx context.Context, id string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE messages SET hidden_at = COALESCE(hidden_at, ?) WHERE id = ?`, toDB(at), id)
	if err != nil {
		return fmt.Errorf("hide message %s: %w", id, classify(err))
	}
	if err := wantOneRow(res); err != nil {
		return fmt.Errorf("hide message %s: %w", id, err)
	}
	return nil
}

func wantOneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err)
	}
	if n == 0 {
		return ports.ErrNotFound
	}
	return nil
}

// insertEvents appends evs to the message's history, numbered after seq last.
func insertEvents(ctx context.Context, q querier, id string, last int, evs []message.Event) error {
	for i, e := range evs {
		if _, err := q.ExecContext(ctx, `INSERT INTO message_events (message_id, seq, status, at, detail) VALUES (?, ?, ?, ?, ?)`,
			id, last+i+1, string(e.Status), toDB(e.At), e.Detail); err != nil {
			return fmt.Errorf("insert event %d: %w", last+i+1, classify(err))
		}
	}
	return nil
}

// getMessage loads the one message matching where (a condition on messages, possibly
// followed by ORDER BY / LIMIT) with its events.
func getMessage(ctx context.Context, q querier, where string, args ...any) (message.Message, error) {
	row := q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE `+where, args...)
	m, err := scanMessage(row.Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return message.Message{}, ports.ErrNotFound
	}
	if err != nil {
		return message.Message{}, classify(err)
	}
	msgs := []message.Message{m}
	if err := loadEvents(ctx, q, msgs); err != nil {
		return message.Message{}, err
	}
	return msgs[0], nil
}

// listMessages runs a message query and loads the events of what it returns. The rows are
// closed before the events are read: the pool has a single connection.
func listMessages(ctx context.Context, q querier, query string, args ...any) ([]message.Message, error) {
	msgs, err := scanMessages(ctx, q, query, args...)
	if err != nil {
		return nil, err
	}
	if err := loadEvents(ctx, q, msgs); err != nil {
		return nil, err
	}
	return msgs, nil
}

func scanMessages(ctx context.Context, q querier, query string, args ...any) ([]message.Message, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var msgs []message.Message
	for rows.Next() {
		m, err := scanMessage(rows.Scan)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return msgs, nil
}

// scanMessage reads one row of messageColumns.
func scanMessage(scan func(dest ...any) error) (message.Message, error) {
	var (
		m                    message.Message
		dir, status, enc     string
		route, tags          string
		errCode, errMsg      sql.NullString
		sendAt               sql.NullInt64
		createdAt, updatedAt int64
	)
	if err := scan(&m.ID, &m.AccountID, &dir, &m.From, &m.To, &m.Text, &status, &m.Provider, &route,
		&m.ProviderMessageID, &m.Segments, &enc, &tags, &errCode, &errMsg, &sendAt,
		&createdAt, &updatedAt); err != nil {
		return message.Message{}, err
	}
	m.Direction, m.Status, m.Encoding = message.Direction(dir), message.Status(status), message.Encoding(enc)
	if err := json.Unmarshal([]byte(route), &m.Route); err != nil {
		return message.Message{}, fmt.Errorf("message %s: decode route: %w", m.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &m.Tags); err != nil {
		return message.Message{}, fmt.Errorf("message %s: decode tags: %w", m.ID, err)
	}
	if errCode.Valid {
		m.Error = &message.Error{Code: errCode.String, Message: errMsg.String}
	}
	if sendAt.Valid {
		t := fromDB(sendAt.Int64)
		m.SendAt = &t
	}
	m.CreatedAt, m.UpdatedAt = fromDB(createdAt), fromDB(updatedAt)
	return m, nil
}

// loadEvents fills in the event history (oldest first) of msgs.
func loadEvents(ctx context.Context, q querier, msgs []message.Message) error {
	index := make(map[string]int, len(msgs))
	for i := range msgs {
		index[msgs[i].ID] = i
	}
	for start := 0; start < len(msgs); start += eventChunk {
		chunk := msgs[start:min(start+eventChunk, len(msgs))]
		args := make([]any, len(chunk))
		for i, m := range chunk {
			args[i] = m.ID
		}
		query := `SELECT message_id, status, at, detail FROM message_events WHERE message_id IN (` +
			strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + `) ORDER BY message_id, seq`
		if err := scanEvents(ctx, q, query, args, func(id string, e message.Event) {
			i := index[id]
			msgs[i].Events = append(msgs[i].Events, e)
		}); err != nil {
			return err
		}
	}
	return nil
}

func scanEvents(ctx context.Context, q querier, query string, args []any, add func(id string, e message.Event)) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("load events: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, status string
			at         int64
			e          message.Event
		)
		if err := rows.Scan(&id, &status, &at, &e.Detail); err != nil {
			return fmt.Errorf("load events: %w", err)
		}
		e.Status, e.At = message.Status(status), fromDB(at)
		add(id, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load events: %w", classify(err))
	}
	return nil
}

// encodeCollections renders route and tags as JSON; nil is stored as empty.
func encodeCollections(m message.Message) (route, tags string, err error) {
	r, err := json.Marshal(nonNilRoute(m.Route))
	if err != nil {
		return "", "", fmt.Errorf("encode route: %w", err)
	}
	tg := m.Tags
	if tg == nil {
		tg = map[string]string{}
	}
	t, err := json.Marshal(tg)
	if err != nil {
		return "", "", fmt.Errorf("encode tags: %w", err)
	}
	return string(r), string(t), nil
}

func nonNilRoute(r []string) []string {
	if r == nil {
		return []string{}
	}
	return r
}

// encodeError splits a message error into its nullable columns.
func encodeError(e *message.Error) (code, msg sql.NullString) {
	if e == nil {
		return sql.NullString{}, sql.NullString{}
	}
	return sql.NullString{String: e.Code, Valid: true}, sql.NullString{String: e.Message, Valid: true}
}

// InsertMessages implements ports.Tx, one message at a time (the single SQLite connection makes a
// statement per message as cheap as a multi-row one).
func (t *Tx) InsertMessages(ctx context.Context, ms []message.Message) error {
	return ports.InsertEach(ctx, t.InsertMessage, ms)
}

// GetMessagesForUpdate implements ports.Tx, one message at a time (one connection: no round trips to save).
func (t *Tx) GetMessagesForUpdate(ctx context.Context, ids []string) ([]message.Message, error) {
	return ports.GetEachForUpdate(ctx, t.GetMessageForUpdate, ids)
}

// UpdateMessages implements ports.Tx, one message at a time.
func (t *Tx) UpdateMessages(ctx context.Context, updates []ports.MessageUpdate) error {
	return ports.UpdateEach(ctx, t.UpdateMessage, updates)
}
