package ports

import (
	"context"
	"time"

	"github.com/smsgw/smsgw/core/message"
)

// SendJob asks the queue to dispatch outbound messages accepted together for one provider
// (one job per group keeps the queue's own writes per message low). Each message succeeds
// or fails on its own; the job is done when every message is.
type SendJob struct {
	// Provider is the provider the messages go to; the job leaves alone a message that has
	// since failed over to another one.
	Provider   string
	MessageIDs []string
	// RunAt is when the job may first run (a scheduled send); zero means now.
	RunAt time.Time
	// MaxAttempts is the provider's retry.max_attempts (at least 1).
	MaxAttempts int
	// Backoff is the base of the exponential retry backoff (with jitter).
	Backoff time.Duration
}

// JobQueue is the durable queue. Jobs are enqueued inside the caller's transaction, so a
// job exists if and only if that transaction commits.
type JobQueue interface {
	// EnqueueSends inserts the jobs in tx, all in one statement where the queue can.
	EnqueueSends(ctx context.Context, tx Tx, jobs ...SendJob) error
}

// DispatchAttempt describes the run of a send job the core is asked to carry out.
type DispatchAttempt struct {
	// Provider is the job's provider; "" (jobs enqueued before jobs named one) means each
	// message's own.
	Provider    string
	MessageIDs  []string
	Attempt     int // 1-based
	MaxAttempts int
	// Complete marks the job done inside tx, so the provider results and the job completion
	// commit together. The core calls it exactly once when it finishes the job (every
	// message sent, failed for good, or with nothing to do), and never when it asks for a
	// retry.
	Complete func(ctx context.Context, tx Tx) error
}

// The types of the application events (API.md §6).
const (
	EventMessageReceived = "message.received" // an inbound message was stored
	EventMessageStatus   = "message.status"   // an outbound message changed status
)

// AppEvent is an event for the applications' webhooks: Message is the message as it was
// right after the change (a snapshot, not re-read at delivery).
type AppEvent struct {
	ID        string // "evt_<uuid>", what receivers dedupe by
	Type      string // EventMessageReceived or EventMessageStatus
	CreatedAt time.Time
	Message   message.Message
}

// EventQueue queues application events for delivery to the configured webhooks. Like
// JobQueue, it writes in the caller's transaction: an event exists if and only if the
// change it reports commits.
type EventQueue interface {
	// EnqueueEvents queues one delivery per webhook subscribed to each event's type, in tx.
	// Events no webhook subscribes to are dropped.
	EnqueueEvents(ctx context.Context, tx Tx, evs ...AppEvent) error
}
