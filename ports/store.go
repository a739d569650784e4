package ports

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/core/message"
)

// Clock gives the current time; the core never calls time.Now itself.
type Clock interface {
	Now() time.Time
}

// IDGenerator makes new unique, opaque ids (UUIDs).
type IDGenerator interface {
	NewID() string
}

// Account is an API user. Its ID is its name: names are unique and never change.
type Account struct {
	ID           string
	PasswordHash string // bcrypt
	CreatedAt    time.Time
}

// AccountStore keeps accounts.
type AccountStore interface {
	// GetAccount returns the account with that id, or ErrNotFound.
	GetAccount(ctx context.Context, id string) (Account, error)
	// PutAccount creates the account or replaces its password hash (idempotent).
	PutAccount(ctx context.Context, a Account) error
	// ListAccounts returns all accounts ordered by id.
	ListAccounts(ctx context.Context) ([]Account, error)
}

// MessageQuery filters a message list. Zero values mean "any".
type MessageQuery struct {
	Direction     message.Direction
	Status        message.Status
	From          string
	To            string
	CreatedAfter  time.Time // inclusive
	CreatedBefore time.Time // inclusive
	// Tags: the message has every one of these tags (keys compare exactly, case included),
	// each with exactly this value; "" matches only a tag that is there with an empty value,
	// and a message without tags matches no non-empty Tags. nil or empty = any.
	Tags  map[string]string
	Limit int     // 1..500; the store uses it as given
	After *Cursor // continue after this position (exclusive)
}

// MaxAwaitingLimit is the largest AwaitingQuery.Limit.
const MaxAwaitingLimit = 500

// AwaitingQuery selects outbound messages that wait for a status from their provider: they
// have a provider message id and a non-final status, and are not hidden.
type AwaitingQuery struct {
	Provider  string    // required
	AccountID string    // "" = every account
	Since     time.Time // created at or after (inclusive)
	// After continues after this (created_at, id) position, exclusive. The list is oldest
	// first, so the items come after it in ascending order (unlike ListMessages' cursors).
	After *Cursor
	Limit int // 1..MaxAwaitingLimit
}

// Validate checks what every store requires of the query: a provider and a limit in
// 1..MaxAwaitingLimit. Failures wrap ErrInvalid.
func (q AwaitingQuery) Validate() error {
	switch {
	case q.Provider == "":
		return fmt.Errorf("awaiting-status query: empty provider: %w", ErrInvalid)
	case q.Limit < 1 || q.Limit > MaxAwaitingLimit:
		return fmt.Errorf("awaiting-status query of %s: limit %d not in 1..%d: %w", q.Provider, q.Limit, MaxAwaitingLimit, ErrInvalid)
	}
	return nil
}

// DayLayout is the layout of the day keys of CountStatuses.
const DayLayout = "2006-01-02"

// MessagePage is one page of a list, newest first.
type MessagePage struct {
	Items []message.Message
	// Next is the position to continue from, or nil on the last page.
	Next *Cursor
}

// MessageStore reads messages. Reads never return hidden (deleted) messages and always
// return a message with its full event history (oldest first).
type MessageStore interface {
	// GetMessage returns the account's message, or ErrNotFound (also for another account's id).
	// An empty accountID matches any account (internal use).
	GetMessage(ctx context.Context, accountID, id string) (message.Message, error)
	// ListMessages lists the account's messages newest first, ordered by (created_at, id) desc.
	ListMessages(ctx context.Context, accountID string, q MessageQuery) (MessagePage, error)
	// ListAwaitingStatus returns up to q.Limit messages that q selects, oldest first, ordered
	// by (created_at, id) ascending. It returns fewer (possibly none) on the last page; the
	// caller continues with After set to the last item's position, which is exact even when
	// many messages share one created_at. A query that fails q.Validate wraps ErrInvalid.
	ListAwaitingStatus(ctx context.Context, q AwaitingQuery) ([]message.Message, error)
	// CountStatuses counts the account's visible messages, outbound and inbound, created
	// from start to end (both inclusive), by the UTC calendar day of their creation (keyed
	// in DayLayout) and status. Days without messages are absent; the result is never nil —
	// it is empty when nothing matches, start after end included. The bounds are compared at
	// the store's microsecond precision.
	CountStatuses(ctx context.Context, accountID string, start, end time.Time) (map[string]map[message.Status]int, error)
}

// Tx is a unit of work: everything done through it commits or rolls back together.
// A Tx is used by one goroutine only and must not be used after InTx returns.
type Tx interface {
	// GetMessageForUpdate loads a message by id (hidden ones included) and locks it until the
	// transaction ends. ErrNotFound when there is none.
	GetMessageForUpdate(ctx context.Context, id string) (message.Message, error)
	// FindByProviderIDForUpdate is GetMessageForUpdate by (provider, provider message id) for
	// the given direction.
	FindByProviderIDForUpdate(ctx context.Context, dir message.Direction, provider, providerMessageID string) (message.Message, error)
	// MessageIDsByProviderID maps provider message ids of the provider to the ids of the
	// messages of that direction that carry them, without locking anything (callers then lock
	// them in id order with GetMessagesForUpdate). Unknown and empty provider ids are left
	// out; should several messages share one, the newest wins, as in
	// FindByProviderIDForUpdate.
	MessageIDsByProviderID(ctx context.Context, dir message.Direction, provider string, providerMessageIDs []string) (map[string]string, error)
	// InsertMessage inserts m and its Events. It returns ErrConflict — without aborting the
	// transaction — when the id exists, or when m is inbound with a non-empty
	// ProviderMessageID that is already stored for the same provider (webhook dedupe).
	InsertMessage(ctx context.Context, m message.Message) error
	// InsertMessages inserts several new messages and their events, in as few statements as
	// the store can (the accept path writes concurrent sends together). It returns
	// ErrConflict when any of them conflicts as InsertMessage would; the others may then have
	// been inserted, so the caller rolls the transaction back.
	InsertMessages(ctx context.Context, ms []message.Message) error
	// UpdateMessage stores m's mutable fields (Status, Provider, Route, ProviderMessageID,
	// Error, UpdatedAt) and appends newEvents to its history. ErrNotFound if m.ID is unknown.
	UpdateMessage(ctx context.Context, m message.Message, newEvents ...message.Event) error
	// GetMessagesForUpdate is GetMessageForUpdate for several ids in one go: it locks and
	// returns the messages that exist (hidden ones included) in id order, leaving unknown ids
	// out. Callers that lock several messages always do it in id order, so they cannot
	// deadlock each other.
	GetMessagesForUpdate(ctx context.Context, ids []string) ([]message.Message, error)
	// UpdateMessages is UpdateMessage for several messages in one go. ErrNotFound if an id is
	// unknown (the others may have been updated; the caller rolls back).
	UpdateMessages(ctx context.Context, updates []MessageUpdate) error
	// HideMessage marks the message deleted: reads no longer return it. ErrNotFound if unknown.
	HideMessage(ctx context.Context, id string, at time.Time) error

	// The opt-out writes and the check the send and inbound transactions make. A block is
	// keyed by the (sender, recipient) pair alone and is unexpired at now when it is
	// permanent or expires after now (OptOut.Active).

	// OptedOut reports whether an unexpired block of sends from sender to recipient exists.
	OptedOut(ctx context.Context, sender, recipient string, now time.Time) (bool, error)
	// BlockedPairs is OptedOut for several pairs in one round trip: it returns the pairs
	// (of those given) that have an unexpired block at now. It locks nothing.
	BlockedPairs(ctx context.Context, pairs []OptOutPair, now time.Time) (map[OptOutPair]bool, error)
	// BlockOptOut creates or renews the block o, atomically even when transactions race on
	// the pair; o.CreatedAt is the current time. With no row for the pair, or only an
	// expired one, it stores o and reports created. With an unexpired block it keeps that
	// block's Source and CreatedAt and extends its expiry to the later of the two (permanent
	// wins; a shorter one never shortens it), reporting !created. It returns the record as
	// stored: times in UTC, truncated to microseconds. A block that fails o.Validate wraps
	// ErrInvalid.
	BlockOptOut(ctx context.Context, o OptOut) (stored OptOut, created bool, err error)
	// LiftOptOut deletes the pair's block. It reports true only if an unexpired block was
	// there; an expired row is deleted too but reports false.
	LiftOptOut(ctx context.Context, sender, recipient string, now time.Time) (bool, error)

	Limiter
	IdempotencyTx
	ProxyTx
}

// OptOutStore reads and sweeps opt-outs outside a transaction. They are global: every
// account sees all of them.
type OptOutStore interface {
	// ListOptOuts lists the blocks unexpired at now, newest first, ordered by (created_at,
	// sender, recipient) desc. A q.After whose ID was not made by OptOutCursorID wraps
	// ErrInvalid.
	ListOptOuts(ctx context.Context, q OptOutQuery, now time.Time) (OptOutPage, error)
	// PruneOptOuts deletes the blocks expired at now (expiry at or before now) and returns
	// how many, for a periodic sweep. Expired rows block nothing meanwhile.
	PruneOptOuts(ctx context.Context, now time.Time) (int, error)
}

// MessageUpdate is one message's new state and the events to append, for UpdateMessages.
type MessageUpdate struct {
	Message   message.Message
	NewEvents []message.Event
}

// SQLTx is implemented by the Tx of stores built on database/sql, so that the queue adapter
// can enlist its own writes (River's InsertTx / JobCompleteTx) in the same transaction.
type SQLTx interface {
	SQLTx() *sql.Tx
}

// TxWrapper is implemented by a Tx that decorates another one (the core's event recording),
// so that adapters can still reach the store's own transaction through it.
type TxWrapper interface {
	UnwrapTx() Tx
}

// SQLTxOf returns the *sql.Tx under tx, looking through TxWrappers; false when there is
// none.
func SQLTxOf(tx Tx) (*sql.Tx, bool) {
	for tx != nil {
		if s, ok := tx.(SQLTx); ok {
			return s.SQLTx(), true
		}
		w, ok := tx.(TxWrapper)
		if !ok {
			break
		}
		tx = w.UnwrapTx()
	}
	return nil, false
}

// Store is the transactional storage the core runs on.
type Store interface {
	MessageStore
	AccountStore
	OptOutStore
	RateLogStore
	IdempotencyStore
	ProxyStore
	// InTx runs fn in one transaction and commits if fn returns nil, returning the error of
	// Commit; otherwise it rolls back and returns fn's error. A store that cannot be reached
	// yields an error wrapping ErrUnavailable.
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Ping checks the store answers.
	Ping(ctx context.Context) error
}
