package message

// Status of a message. Outbound: scheduled, queued, sending, sent, delivered, undelivered,
// failed, canceled. Inbound: received.
type Status string

const (
	StatusScheduled   Status = "scheduled"
	StatusQueued      Status = "queued"
	StatusSending     Status = "sending"
	StatusSent        Status = "sent"
	StatusDelivered   Status = "delivered"
	StatusUndelivered Status = "undelivered"
	StatusFailed      Status = "failed"
	StatusCanceled    Status = "canceled"
	StatusReceived    Status = "received"
)

// rank orders the statuses; an update may only move forward. All final statuses share the
// top rank: once final, nothing moves. Unknown statuses rank -1.
func (s Status) rank() int {
	switch s {
	case StatusScheduled:
		return 0
	case StatusQueued:
		return 1
	case StatusSending:
		return 2
	case StatusSent:
		return 3
	case StatusDelivered, StatusUndelivered, StatusFailed, StatusCanceled, StatusReceived:
		return 4
	}
	return -1
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s.rank() >= 0 }

// Final reports whether s can never change again.
func (s Status) Final() bool {
	switch s {
	case StatusDelivered, StatusUndelivered, StatusFailed, StatusCanceled, StatusReceived:
		return true
	}
	return false
}

// Decision is what to do with a status update.
type Decision int

const (
	// Apply: move to the new status and record an event.
	Apply Decision = iota
	// Ignore: record an event with detail "ignored" but keep the current status (the update
	// would move backwards or overwrite a final status).
	Ignore
	// Drop: an exact repeat of the current status; no event.
	Drop
)

func (d Decision) String() string {
	switch d {
	case Apply:
		return "apply"
	case Ignore:
		return "ignore"
	default:
		return "drop"
	}
}

// Transition is the one transition table of the status state machine:
// queued → sending → sent → delivered | undelivered, scheduled → queued, failed/canceled from
// any non-final state, forward skips allowed (reports get lost), nothing backwards, final
// statuses immutable. A provider's "queued" while the message is sending is dropped: the
// provider's own queue (a batch API's acceptance, Twilio's "queued" callback) is part of the
// gateway's "sending", not a step back.
func Transition(from, to Status) Decision {
	if from == to || (from == StatusSending && to == StatusQueued) {
		return Drop
	}
	if from.Final() || !to.Valid() || to == StatusReceived {
		return Ignore
	}
	if to.rank() < from.rank() {
		return Ignore
	}
	return Apply
}
