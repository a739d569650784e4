package ports

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smsgw/smsgw/core/optout"
)

// OptOut blocks sends from Sender to Recipient (API.md §2). Opt-outs are global: the pair is
// the key, whatever account sent or received. A block of A→B does not block B→A.
type OptOut struct {
	Sender, Recipient string
	Source            optout.Source
	CreatedAt         time.Time
	ExpiresAt         *time.Time // nil = permanent
}

// Active reports whether the block is in force at now: permanent, or expiring after now. A
// block whose expiry is at or before now is expired: it blocks nothing and is not listed.
func (o OptOut) Active(now time.Time) bool {
	return o.ExpiresAt == nil || o.ExpiresAt.After(now)
}

// Validate checks what every store requires of a block it stores: both numbers, a known
// source, and an expiry (if any) after its creation — a block expired as it is written would
// silently ignore a STOP. Failures wrap ErrInvalid.
func (o OptOut) Validate() error {
	switch {
	case o.Sender == "" || o.Recipient == "":
		return fmt.Errorf("opt-out %q→%q: empty number: %w", o.Sender, o.Recipient, ErrInvalid)
	case !o.Source.Valid():
		return fmt.Errorf("opt-out %s→%s: source %q: %w", o.Sender, o.Recipient, o.Source, ErrInvalid)
	case o.ExpiresAt != nil && !o.ExpiresAt.After(o.CreatedAt):
		return fmt.Errorf("opt-out %s→%s: expires at %s, not after its creation at %s: %w",
			o.Sender, o.Recipient, o.ExpiresAt.Format(time.RFC3339Nano), o.CreatedAt.Format(time.RFC3339Nano), ErrInvalid)
	}
	return nil
}

// OptOutPair is the key of a block: sends from Sender to Recipient.
type OptOutPair struct {
	Sender, Recipient string
}

// OptOutQuery filters an opt-out list. Empty strings mean "any".
type OptOutQuery struct {
	Sender    string
	Recipient string
	Limit     int     // 1..500 as the API allows; below 1 lists everything (internal use)
	After     *Cursor // continue after this position (exclusive); its ID from OptOutCursorID
}

// OptOutPage is one page of opt-outs, newest first by (created_at, sender, recipient).
type OptOutPage struct {
	Items []OptOut
	// Next is the position to continue from, or nil on the last page.
	Next *Cursor
}

// OptOutCursor is the position of o in an opt-out list.
func OptOutCursor(o OptOut) *Cursor {
	return &Cursor{CreatedAt: o.CreatedAt, ID: OptOutCursorID(o.Sender, o.Recipient)}
}

// OptOutCursorID renders the tie-break of an opt-out list position, the (sender, recipient)
// pair, as a Cursor.ID: the sender's length in bytes, a colon, the sender, the recipient
// (e.g. "3:abc+15550100"). Lengths make it unambiguous whatever the numbers contain — the
// smsapp dialect accepts any characters, newlines included.
func OptOutCursorID(sender, recipient string) string {
	return strconv.Itoa(len(sender)) + ":" + sender + recipient
}

// ParseOptOutCursorID splits an id made by OptOutCursorID; anything else wraps ErrInvalid.
func ParseOptOutCursorID(id string) (sender, recipient string, err error) {
	n, rest, ok := strings.Cut(id, ":")
	size, convErr := strconv.Atoi(n)
	if !ok || convErr != nil || size < 0 || size > len(rest) || n != strconv.Itoa(size) {
		return "", "", fmt.Errorf("opt-out cursor %q: %w", id, ErrInvalid)
	}
	return rest[:size], rest[size:], nil
}
