// Package proxy holds the rules of anonymous proxy sessions (API.md §3, Twilio Proxy
// semantics): two participants talk through a number of the pool, each seeing only that
// number. It decides which pool number a new session gets and what an inbound message to a
// pool number makes the gateway do. It is pure domain: no I/O and no clock; callers pass the
// current time in.
package proxy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Allocation is how a new session picks its number (the proxy.allocation config).
type Allocation string

const (
	// Shared (the default): any pool number that neither participant holds in another open
	// session, so each participant still tells their sessions apart by number.
	Shared Allocation = "shared"
	// Exclusive: a number with no open session at all.
	Exclusive Allocation = "exclusive"
)

// Valid reports whether a is one of the modes above.
func (a Allocation) Valid() bool { return a == Shared || a == Exclusive }

// Number is a number of an account's proxy pool, reached through Provider.
type Number struct {
	Number    string // E.164
	Provider  string
	AccountID string // the account that added it; it owns the number's inbound traffic
	CreatedAt time.Time
}

// Session relays messages between ParticipantA and ParticipantB over ProxyNumber.
type Session struct {
	ID           string
	AccountID    string
	ProxyNumber  string
	ParticipantA string
	ParticipantB string
	CreatedAt    time.Time
	ExpiresAt    *time.Time // nil: no expiry
	ClosedAt     *time.Time // nil: never closed (it may still have expired; see Open)
}

// Session statuses, as the API names them.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Open reports whether s relays at now: not closed, and not expired (an expiry at or before
// now has passed). Expired sessions close silently, so an expired one is closed whether or
// not a sweep has recorded it yet.
func (s Session) Open(now time.Time) bool {
	return s.ClosedAt == nil && (s.ExpiresAt == nil || s.ExpiresAt.After(now))
}

// Status is StatusOpen or StatusClosed at now.
func (s Session) Status(now time.Time) string {
	if s.Open(now) {
		return StatusOpen
	}
	return StatusClosed
}

// At is s as of now: an expired session that no sweep has closed yet gets its expiry as its
// closing time, so that callers without a clock can read the status from ClosedAt alone.
func (s Session) At(now time.Time) Session {
	if s.ClosedAt == nil && !s.Open(now) {
		closed := *s.ExpiresAt
		s.ClosedAt = &closed
	}
	return s
}

// Other is the participant a message from `from` goes to; false when from is neither.
func (s Session) Other(from string) (string, bool) {
	switch from {
	case s.ParticipantA:
		return s.ParticipantB, true
	case s.ParticipantB:
		return s.ParticipantA, true
	}
	return "", false
}

// Validate checks what every store requires of a session it stores. The participants must
// differ: a session with oneself relays nothing.
func (s Session) Validate() error {
	switch {
	case s.ID == "" || s.AccountID == "" || s.ProxyNumber == "":
		return fmt.Errorf("proxy session %q: id, account and proxy number are required", s.ID)
	case s.ParticipantA == "" || s.ParticipantB == "":
		return fmt.Errorf("proxy session %s: both participants are required", s.ID)
	case s.ParticipantA == s.ParticipantB:
		return fmt.Errorf("proxy session %s: the participants are the same number", s.ID)
	case s.ExpiresAt != nil && !s.ExpiresAt.After(s.CreatedAt):
		return fmt.Errorf("proxy session %s: expires at or before its creation", s.ID)
	}
	return nil
}

// Usage is a pool number with the participants of its open sessions.
type Usage struct {
	Number Number
	// Participants of the number's open sessions, both sides, one entry per session side.
	Participants []string
}

// Sessions is how many open sessions use the number.
func (u Usage) Sessions() int { return len(u.Participants) / 2 }

// Holds reports whether participant is in one of the number's open sessions.
func (u Usage) Holds(participant string) bool { return slices.Contains(u.Participants, participant) }

// Allocate picks the number of a new session between a and b from pool, or false when no
// number is free under mode. Of the numbers that qualify it takes the least used, then the
// lowest number, so sessions spread over the pool and the choice is deterministic.
func Allocate(mode Allocation, pool []Usage, a, b string) (Number, bool) {
	var (
		best  Usage
		found bool
	)
	for _, u := range pool {
		switch mode {
		case Exclusive:
			if u.Sessions() > 0 {
				continue
			}
		default:
			if u.Holds(a) || u.Holds(b) {
				continue
			}
		}
		if !found || u.Sessions() < best.Sessions() || (u.Sessions() == best.Sessions() && u.Number.Number < best.Number.Number) {
			best, found = u, true
		}
	}
	return best.Number, found
}

// Action is what an inbound message to a pool number makes the gateway do.
type Action int

const (
	// Relay: send the text verbatim to To, from the proxy number.
	Relay Action = iota
	// NoSession: answer the sender with the no-session message, from the proxy number.
	NoSession
	// Nothing: an opt-out keyword (handled as any keyword is, never relayed), or a
	// no-session case with no message configured.
	Nothing
)

// Decision is an Action with the number it goes to.
type Decision struct {
	Action Action
	To     string // Relay: the other participant; NoSession: the sender
}

// Decide is what an inbound message from `from` to a pool number does, given the open
// session of that number that `from` is in (nil: none). keyword reports whether the text is
// an opt-out keyword (STOP, START, HELP …), which is never relayed nor answered here: the
// keyword rules answer it. noSessionMessage is the configured reply ("" = none).
func Decide(s *Session, from string, keyword bool, noSessionMessage string) Decision {
	if keyword {
		return Decision{Action: Nothing}
	}
	if s != nil {
		if to, ok := s.Other(from); ok {
			return Decision{Action: Relay, To: to}
		}
	}
	if noSessionMessage == "" {
		return Decision{Action: Nothing}
	}
	return Decision{Action: NoSession, To: from}
}

// SystemText is a message of the gateway itself in a session (start, end, no session):
// prefixed "[<ORG NAME IN CAPITALS>]: " when an org name is configured.
func SystemText(orgName, text string) string {
	if orgName == "" {
		return text
	}
	return "[" + strings.ToUpper(orgName) + "]: " + text
}
