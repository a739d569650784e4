package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// selectMessage reads messages with their whole event history, which is a JSON array
// column (oldest first).
const selectMessage = `
SELECT m.id, m.account_id, m.direction, m.from_number, m.to_number, m.text, m.status,
       m.provider, m.route, m.provider_message_id, m.segments, m.encoding, m.tags,
       m.error_code, m.error_message, m.send_at, m.created_at, m.updated_at, m.events
FROM messages m`

// nonFinal lists the statuses that can still change, as the awaiting-status index does.
const nonFinal = `('scheduled', 'queued', 'sending', 'sent')`

// messageRow is a row of selectMessage.
type messageRow struct {
	ID                string         `db:"id"`
	AccountID         string         `db:"account_id"`
	Direction         string         `db:"direction"`
	From              string         `db:"from_number"`
	To                string         `db:"to_number"`
	Text              string         `db:"text"`
	Status            string         `db:"status"`
	Provider          string         `db:"provider"`
	Route             pq.StringArray `db:"route"`
	ProviderMessageID string         `db:"provider_message_id"`
	Segments          int            `db:"segments"`
	Encoding          string         `db:"encoding"`
	Tags              []byte         `db:"tags"`
	ErrorCode         *string        `db:"error_code"`
	ErrorMessage      *string        `db:"error_message"`
	SendAt            *time.Time     `db:"send_at"`
	CreatedAt         time.Time      `db:"created_at"`
	UpdatedAt         time.Time      `db:"updated_at"`
	Events            []byte         `db:"events"`
}

// eventJSON is one element of the events column. At is RFC 3339 in UTC, truncated to
// microseconds (ts), so it reads back exactly.
type eventJSON struct {
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail"`
}

func decodeEvents(b []byte) ([]message.Event, error) {
	var evs []eventJSON
	if err := json.Unmarshal(b, &evs); err != nil {
		return nil, fmt.Errorf("decode events: %w", err)
	}
	if len(evs) == 0 {
		return nil, nil
	}
	out := make([]message.Event, len(evs))
	for i, e := range evs {
		out[i] = message.Event{Status: message.Status(e.Status), At: e.At.UTC(), Detail: e.Detail}
	}
	return out, nil
}

func eventsJSON(evs []message.Event) []eventJSON {
	out := make([]eventJSON, len(evs))
	for i, e := range evs {
		out[i] = eventJSON{Status: string(e.Status), At: ts(e.At), Detail: e.Detail}
	}
	return out
}

// encodeEvents renders events for a jsonb parameter, as text (lib/pq would send a []byte as
// bytea).
func encodeEvents(evs []message.Event) (string, error) {
	b, err := json.Marshal(eventsJSON(evs))
	if err != nil {
		return "", fmt.Errorf("encode events: %w", err)
	}
	return string(b), nil
}

func (r messageRow) toMessage() (message.Message, error) {
	m := message.Message{
		ID:                r.ID,
		AccountID:         r.AccountID,
		Direction:         message.Direction(r.Direction),
		From:              r.From,
		To:                r.To,
		Text:              r.Text,
		Status:            message.Status(r.Status),
		Provider:          r.Provider,
		Route:             []string(r.Route),
		ProviderMessageID: r.ProviderMessageID,
		Segments:          r.Segments,
		Encoding:          message.Encoding(r.Encoding),
		CreatedAt:         r.CreatedAt.UTC(),
		UpdatedAt:         r.UpdatedAt.UTC(),
	}
	if r.Tags != nil {
		if err := json.Unmarshal(r.Tags, &m.Tags); err != nil {
			return message.Message{}, fmt.Errorf("message %s: decode tags: %w", r.ID, err)
		}
	}
	if r.ErrorCode != nil {
		m.Error = &message.Error{Code: *r.ErrorCode}
		if r.ErrorMessage != nil {
			m.Error.Message = *r.ErrorMessage
		}
	}
	if r.SendAt != nil {
		at := r.SendAt.UTC()
		m.SendAt = &at
	}
	evs, err := decodeEvents(r.Events)
	if err != nil {
		return message.Message{}, fmt.Errorf("message %s: %w", r.ID, err)
	}
	m.Events = evs
	return m, nil
}

// GetMessage implements ports.MessageStore.
func (s *Store) GetMessage(ctx context.Context, accountID, id string) (message.Message, error) {
	var r messageRow
	err := s.db.GetContext(ctx, &r, selectMessage+`
WHERE m.id = $1 AND m.hidden_at IS NULL AND ($2 = '' OR m.account_id = $2)`, id, accountID)
	if err != nil {
		return message.Message{}, fmt.Errorf("get message %s: %w", id, mapErr(err))
	}
	return r.toMessage()
}

// ListMessages implements ports.MessageStore.
func (s *Store) ListMessages(ctx context.Context, accountID string, q ports.MessageQuery) (ports.MessagePage, error) {
	var f filter
	f.where("m.account_id = ?", accountID)
	f.where("m.hidden_at IS NULL")
	if q.Direction != "" {
		f.where("m.direction = ?", string(q.Direction))
	}
	if q.Status != "" {
		f.where("m.status = ?", string(q.Status))
	}
	if q.From != "" {
		f.where("m.from_number = ?", q.From)
	}
	if q.To != "" {
		f.where("m.to_number = ?", q.To)
	}
	if !q.CreatedAfter.IsZero() {
		f.where("m.created_at >= ?", ts(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		f.where("m.created_at <= ?", ts(q.CreatedBefore))
	}
	if len(q.Tags) > 0 {
		if tagsHoldNUL(q.Tags) {
			// jsonb cannot hold U+0000, so no stored message has such a tag; Postgres would
			// reject the parameter instead of matching nothing.
			return ports.MessagePage{}, nil
		}
		// Containment of string values is equality, key by key; a NULL (no tags) contains
		// nothing. The keys travel inside the bound JSON, never in the query text.
		tags, err := encodeTags(q.Tags)
		if err != nil {
			return ports.MessagePage{}, fmt.Errorf("list messages of %s: %w", accountID, err)
		}
		f.where("m.tags @> ?::jsonb", *tags)
	}
	if q.After != nil {
		f.where("(m.created_at, m.id) < (?, ?)", ts(q.After.CreatedAt), q.After.ID)
	}
	limit := max(q.Limit, 1)
	// One row more than asked tells whether there is a next page.
	query := selectMessage + "\nWHERE " + f.sql() +
		"\nORDER BY m.created_at DESC, m.id DESC\nLIMIT " + f.limit(limit+1)

	var rows []messageRow
	if err := s.db.SelectContext(ctx, &rows, query, f.args...); err != nil {
		return ports.MessagePage{}, fmt.Errorf("list messages of %s: %w", accountID, mapErr(err))
	}
	var page ports.MessagePage
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page.Next = &ports.Cursor{CreatedAt: last.CreatedAt.UTC(), ID: last.ID}
	}
	items, err := toMessages(rows)
	if err != nil {
		return ports.MessagePage{}, fmt.Errorf("list messages of %s: %w", accountID, err)
	}
	page.Items = items
	return page, nil
}

// tagsHoldNUL reports whether a tag key or value contains U+0000.
func tagsHoldNUL(tags map[string]string) bool {
	for k, v := range tags {
		if strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
			return true
		}
	}
	return false
}

// ListAwaitingStatus implements ports.MessageStore. Its conditions imply the predicate of
// the partial index messages_awaiting_status on (provider, created_at, id), which holds only
// the messages still waiting (a small, recent set), so the scan reads them in list order
// from the cursor position on. The account is a filter on those rows rather than an index
// column: without one every account's waiting messages are polled, and with one the scan
// skips the others' waiting messages, which are few — not worth another index to maintain
// on every send and status change.
func (s *Store) ListAwaitingStatus(ctx context.Context, q ports.AwaitingQuery) ([]message.Message, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("list messages awaiting status: %w", err)
	}
	query, args := awaitingQuery(q)
	var rows []messageRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("list messages awaiting status from %s: %w", q.Provider, mapErr(err))
	}
	out, err := toMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list messages awaiting status from %s: %w", q.Provider, err)
	}
	return out, nil
}

// awaitingQuery is the statement of ListAwaitingStatus and its parameters.
func awaitingQuery(q ports.AwaitingQuery) (string, []any) {
	var f filter
	f.where("m.provider = ?", q.Provider)
	f.where("m.direction = 'outbound' AND m.provider_message_id <> '' AND m.hidden_at IS NULL")
	f.where("m.status IN " + nonFinal)
	// Only the tighter lower bound: a cursor at or after Since implies Since, and a Since
	// after the cursor implies the cursor. With one range condition the index scan starts
	// at the position, rather than at Since with every row up to the cursor filtered out.
	switch {
	case q.After != nil && !ts(q.After.CreatedAt).Before(ts(q.Since)):
		f.where("(m.created_at, m.id) > (?, ?)", ts(q.After.CreatedAt), q.After.ID)
	case !q.Since.IsZero():
		f.where("m.created_at >= ?", ts(q.Since))
	}
	if q.AccountID != "" {
		f.where("m.account_id = ?", q.AccountID)
	}
	query := selectMessage + "\nWHERE " + f.sql() + "\nORDER BY m.created_at, m.id\nLIMIT " + f.limit(q.Limit)
	return query, f.args
}

// countStatuses groups on the UTC day as text, in ports.DayLayout; the range condition on
// created_at uses messages_account_created.
const countStatuses = `
SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, status, count(*) AS n
FROM messages
WHERE account_id = $1 AND created_at >= $2 AND created_at <= $3 AND hidden_at IS NULL
GROUP BY 1, 2`

// CountStatuses implements ports.MessageStore.
func (s *Store) CountStatuses(ctx context.Context, accountID string, start, end time.Time) (map[string]map[message.Status]int, error) {
	var rows []struct {
		Day    string `db:"day"`
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, countStatuses, accountID, ts(start), ts(end)); err != nil {
		return nil, fmt.Errorf("count statuses of %s: %w", accountID, mapErr(err))
	}
	out := make(map[string]map[message.Status]int)
	for _, r := range rows {
		if out[r.Day] == nil {
			out[r.Day] = make(map[message.Status]int)
		}
		out[r.Day][message.Status(r.Status)] = r.N
	}
	return out, nil
}

func toMessages(rows []messageRow) ([]message.Message, error) {
	out := make([]message.Message, 0, len(rows))
	for _, r := range rows {
		m, err := r.toMessage()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// GetMessageForUpdate implements ports.Tx.
func (t *tx) GetMessageForUpdate(ctx context.Context, id string) (message.Message, error) {
	m, err := t.lockedMessage(ctx, lockByIDQuery, id)
	if err != nil {
		return message.Message{}, fmt.Errorf("get message %s for update: %w", id, err)
	}
	return m, nil
}

// FindByProviderIDForUpdate implements ports.Tx. An empty provider message id matches nothing.
func (t *tx) FindByProviderIDForUpdate(ctx context.Context, dir message.Direction, provider, providerMessageID string) (message.Message, error) {
	if providerMessageID == "" {
		return message.Message{}, fmt.Errorf("find %s message %s/<empty>: %w", dir, provider, ports.ErrNotFound)
	}
	m, err := t.lockedMessage(ctx, lockByProviderIDQuery, string(dir), provider, providerMessageID)
	if err != nil {
		return message.Message{}, fmt.Errorf("find %s message %s/%s for update: %w", dir, provider, providerMessageID, err)
	}
	return m, nil
}

// MessageIDsByProviderID implements ports.Tx with one non-locking read.
func (t *tx) MessageIDsByProviderID(ctx context.Context, dir message.Direction, provider string, pids []string) (map[string]string, error) {
	var rows []struct {
		PID string `db:"provider_message_id"`
		ID  string `db:"id"`
	}
	err := t.tx.SelectContext(ctx, &rows, `
SELECT DISTINCT ON (provider_message_id) provider_message_id, id
FROM messages
WHERE direction = $1 AND provider = $2 AND provider_message_id = ANY($3::text[]) AND provider_message_id <> ''
ORDER BY provider_message_id, created_at DESC, id DESC`, string(dir), provider, pq.StringArray(pids))
	if err != nil {
		return nil, fmt.Errorf("look up %d %s message(s) of %s by provider id: %w", len(pids), dir, provider, mapErr(err))
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.PID] = r.ID
	}
	return out, nil
}

// The locking reads of lockedMessage.
const (
	lockByIDQuery         = selectMessage + "\nWHERE m.id = $1\nFOR UPDATE OF m"
	lockByProviderIDQuery = selectMessage + `
WHERE m.direction = $1 AND m.provider = $2 AND m.provider_message_id = $3
ORDER BY m.created_at DESC, m.id DESC
LIMIT 1
FOR UPDATE OF m`
)

// lockedMessage selects one message FOR UPDATE. When it had to wait for another
// transaction's lock, the row it returns is the newest version, events included.
func (t *tx) lockedMessage(ctx context.Context, query string, args ...any) (message.Message, error) {
	var r messageRow
	if err := t.tx.GetContext(ctx, &r, query, args...); err != nil {
		return message.Message{}, mapErr(err)
	}
	return r.toMessage()
}

// insertMessage inserts the message with its events. ON CONFLICT DO NOTHING (on the primary
// key and the inbound dedupe index) keeps the transaction usable on a duplicate, which a
// failed statement would abort; no row returned means a conflict.
const insertMessage = `
WITH ins AS (
    INSERT INTO messages (id, account_id, direction, from_number, to_number, text, status,
        provider, route, provider_message_id, segments, encoding, tags, error_code,
        error_message, send_at, created_at, updated_at, events)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16, $17, $18,
        $19::jsonb)
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT count(*) FROM ins`

// InsertMessage implements ports.Tx.
func (t *tx) InsertMessage(ctx context.Context, m message.Message) error {
	tags, err := encodeTags(m.Tags)
	if err != nil {
		return fmt.Errorf("insert message %s: %w", m.ID, err)
	}
	code, msg := errorColumns(m.Error)
	var sendAt *time.Time
	if m.SendAt != nil {
		at := ts(*m.SendAt)
		sendAt = &at
	}
	evs, err := encodeEvents(m.Events)
	if err != nil {
		return fmt.Errorf("insert message %s: %w", m.ID, err)
	}
	var n int
	err = t.tx.QueryRowxContext(ctx, insertMessage,
		m.ID, m.AccountID, string(m.Direction), m.From, m.To, m.Text, string(m.Status),
		m.Provider, routeArray(m.Route), m.ProviderMessageID, m.Segments, string(m.Encoding), tags,
		code, msg, sendAt, ts(m.CreatedAt), ts(m.UpdatedAt), evs).Scan(&n)
	if err != nil {
		return fmt.Errorf("insert message %s: %w", m.ID, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("insert message %s: %w", m.ID, ports.ErrConflict)
	}
	return nil
}

// insertMessages is insertMessage for many messages: one JSON document in, one statement.
const insertMessages = `
WITH ins AS (
    INSERT INTO messages (id, account_id, direction, from_number, to_number, text, status,
        provider, route, provider_message_id, segments, encoding, tags, error_code,
        error_message, send_at, created_at, updated_at, events)
    SELECT id, account_id, direction, from_number, to_number, text, status, provider, route,
        provider_message_id, segments, encoding, tags, error_code, error_message, send_at,
        created_at, updated_at, events
    FROM jsonb_to_recordset($1::jsonb) AS x(id text, account_id text, direction text,
        from_number text, to_number text, text text, status text, provider text, route text[],
        provider_message_id text, segments int, encoding text, tags jsonb, error_code text,
        error_message text, send_at timestamptz, created_at timestamptz, updated_at timestamptz,
        events jsonb)
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT count(*) FROM ins`

// insertRow is one message of insertMessages' JSON input.
type insertRow struct {
	ID                string            `json:"id"`
	AccountID         string            `json:"account_id"`
	Direction         string            `json:"direction"`
	From              string            `json:"from_number"`
	To                string            `json:"to_number"`
	Text              string            `json:"text"`
	Status            string            `json:"status"`
	Provider          string            `json:"provider"`
	Route             []string          `json:"route"` // nil stays NULL
	ProviderMessageID string            `json:"provider_message_id"`
	Segments          int               `json:"segments"`
	Encoding          string            `json:"encoding"`
	Tags              map[string]string `json:"tags"` // nil stays NULL
	ErrorCode         *string           `json:"error_code"`
	ErrorMessage      *string           `json:"error_message"`
	SendAt            *time.Time        `json:"send_at"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	Events            []eventJSON       `json:"events"`
}

// InsertMessages implements ports.Tx with one statement for all of ms.
func (t *tx) InsertMessages(ctx context.Context, ms []message.Message) error {
	if len(ms) == 1 {
		return t.InsertMessage(ctx, ms[0])
	}
	rows := make([]insertRow, len(ms))
	for i, m := range ms {
		code, msg := errorColumns(m.Error)
		r := insertRow{
			ID: m.ID, AccountID: m.AccountID, Direction: string(m.Direction), From: m.From, To: m.To,
			Text: m.Text, Status: string(m.Status), Provider: m.Provider, Route: m.Route,
			ProviderMessageID: m.ProviderMessageID, Segments: m.Segments, Encoding: string(m.Encoding),
			Tags: m.Tags, ErrorCode: code, ErrorMessage: msg,
			CreatedAt: ts(m.CreatedAt), UpdatedAt: ts(m.UpdatedAt), Events: eventsJSON(m.Events),
		}
		if m.SendAt != nil {
			at := ts(*m.SendAt)
			r.SendAt = &at
		}
		rows[i] = r
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("insert %d messages: %w", len(ms), err)
	}
	var n int
	// As text: lib/pq would send a []byte as bytea.
	if err := t.tx.QueryRowxContext(ctx, insertMessages, string(doc)).Scan(&n); err != nil {
		return fmt.Errorf("insert %d messages: %w", len(ms), mapErr(err))
	}
	if n != len(ms) {
		return fmt.Errorf("insert %d messages: %d already stored: %w", len(ms), len(ms)-n, ports.ErrConflict)
	}
	return nil
}

// lockManyQuery locks several messages in id order (see ports.Tx.GetMessagesForUpdate).
const lockManyQuery = selectMessage + `
WHERE m.id = ANY($1::text[])
ORDER BY m.id
FOR UPDATE OF m`

// GetMessagesForUpdate implements ports.Tx with one locking statement.
func (t *tx) GetMessagesForUpdate(ctx context.Context, ids []string) ([]message.Message, error) {
	var rows []messageRow
	if err := t.tx.SelectContext(ctx, &rows, lockManyQuery, pq.StringArray(ids)); err != nil {
		return nil, fmt.Errorf("get %d messages for update: %w", len(ids), mapErr(err))
	}
	out := make([]message.Message, len(rows))
	for i, r := range rows {
		m, err := r.toMessage()
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// updateMessages is updateMessage for many messages: one JSON document in, one statement.
const updateMessages = `
UPDATE messages m SET status = i.status, provider = i.provider, route = i.route,
    provider_message_id = i.provider_message_id, error_code = i.error_code,
    error_message = i.error_message, updated_at = i.updated_at, events = m.events || i.events
FROM jsonb_to_recordset($1::jsonb) AS i(id text, status text, provider text, route text[],
    provider_message_id text, error_code text, error_message text, updated_at timestamptz,
    events jsonb)
-- The id list lets the planner see how many rows change: it cannot tell from the JSON (a
-- function scan is estimated at 100 rows), and would hash-join a seq scan of messages while
-- the table is small.
WHERE m.id = i.id AND m.id = ANY($2::text[])`

type updateRow struct {
	ID                string      `json:"id"`
	Status            string      `json:"status"`
	Provider          string      `json:"provider"`
	Route             []string    `json:"route"`
	ProviderMessageID string      `json:"provider_message_id"`
	ErrorCode         *string     `json:"error_code"`
	ErrorMessage      *string     `json:"error_message"`
	UpdatedAt         time.Time   `json:"updated_at"`
	Events            []eventJSON `json:"events"`
}

// UpdateMessages implements ports.Tx with one statement for all updates.
func (t *tx) UpdateMessages(ctx context.Context, updates []ports.MessageUpdate) error {
	if len(updates) == 1 {
		return t.UpdateMessage(ctx, updates[0].Message, updates[0].NewEvents...)
	}
	rows := make([]updateRow, len(updates))
	ids := make(pq.StringArray, len(updates))
	for i, u := range updates {
		m := u.Message
		ids[i] = m.ID
		code, msg := errorColumns(m.Error)
		r := updateRow{
			ID: m.ID, Status: string(m.Status), Provider: m.Provider, Route: m.Route,
			ProviderMessageID: m.ProviderMessageID, ErrorCode: code, ErrorMessage: msg,
			UpdatedAt: ts(m.UpdatedAt), Events: eventsJSON(u.NewEvents),
		}
		rows[i] = r
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("update %d messages: %w", len(updates), err)
	}
	res, err := t.tx.ExecContext(ctx, updateMessages, string(doc), ids)
	if err != nil {
		return fmt.Errorf("update %d messages: %w", len(updates), mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update %d messages: %w", len(updates), mapErr(err))
	}
	if int(n) != len(updates) {
		return fmt.Errorf("update %d messages: %d unknown: %w", len(updates), len(updates)-int(n), ports.ErrNotFound)
	}
	return nil
}

// updateMessage updates the row and appends the events, under the row lock.
const updateMessage = `
UPDATE messages SET status = $2, provider = $3, route = $4, provider_message_id = $5,
    error_code = $6, error_message = $7, updated_at = $8, events = events || $9::jsonb
WHERE id = $1`

// UpdateMessage implements ports.Tx.
func (t *tx) UpdateMessage(ctx context.Context, m message.Message, newEvents ...message.Event) error {
	code, msg := errorColumns(m.Error)
	evs, err := encodeEvents(newEvents)
	if err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, err)
	}
	res, err := t.tx.ExecContext(ctx, updateMessage,
		m.ID, string(m.Status), m.Provider, routeArray(m.Route), m.ProviderMessageID,
		code, msg, ts(m.UpdatedAt), evs)
	if err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("update message %s: %w", m.ID, ports.ErrNotFound)
	}
	return nil
}

// HideMessage implements ports.Tx. Hiding twice keeps the first time.
func (t *tx) HideMessage(ctx context.Context, id string, at time.Time) error {
	res, err := t.tx.ExecContext(ctx,
		`UPDATE messages SET hidden_at = coalesce(hidden_at, $2) WHERE id = $1`, id, ts(at))
	if err != nil {
		return fmt.Errorf("hide message %s: %w", id, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("hide message %s: %w", id, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("hide message %s: %w", id, ports.ErrNotFound)
	}
	return nil
}

// ts is how a time is stored: UTC, truncated to Postgres' microsecond precision (rather
// than rounded by the server), so what is read back is what a cursor encodes.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// routeArray keeps a nil route NULL, so it reads back as nil.
func routeArray(route []string) pq.StringArray { return pq.StringArray(route) }

// encodeTags keeps nil tags NULL, so they read back as nil. The JSON goes as text: lib/pq
// would send a []byte as bytea.
func encodeTags(tags map[string]string) (*string, error) {
	if tags == nil {
		return nil, nil
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encode tags: %w", err)
	}
	s := string(b)
	return &s, nil
}

func errorColumns(e *message.Error) (code, msg *string) {
	if e == nil {
		return nil, nil
	}
	return &e.Code, &e.Message
}
