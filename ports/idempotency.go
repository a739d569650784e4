package ports

import (
	"context"
	"time"
)

// IdempotencyRecord is the state of one Idempotency-Key of one account (API.md §1). A request
// first claims its key in a transaction of its own (so a concurrent retry sees the claim and
// answers 409 at once); the accept transaction then marks it accepted, or releases it when
// the send is refused, so only accepted sends are replayed.
type IdempotencyRecord struct {
	AccountID string
	Key       string
	// RequestHash identifies the request body; the same key with another hash is a misuse.
	RequestHash string
	// MessageID is the id the request's message has (accepted) or will have (claimed); it is
	// also the claim's token: only the request holding it may accept or release the claim.
	MessageID string
	Accepted  bool
	CreatedAt time.Time
	// LeaseUntil bounds an unaccepted claim: after it, the claim counts as abandoned (its
	// request died between claim and accept) and another request may take the key over.
	LeaseUntil time.Time
}

// Stale reports whether the record no longer holds its key at now, so that a claim at now
// may replace it (see ClaimIdempotencyKey): it was created at or before now-ttl, or it is an
// unaccepted claim whose lease ended at or before now.
func (r IdempotencyRecord) Stale(now time.Time, ttl time.Duration) bool {
	return !r.CreatedAt.After(now.Add(-ttl)) || (!r.Accepted && !r.LeaseUntil.After(now))
}

// IdempotencyStore claims and sweeps idempotency keys outside a transaction.
type IdempotencyStore interface {
	// ClaimIdempotencyKey claims (r.AccountID, r.Key) for the request r describes, in its own
	// committed transaction, with r.CreatedAt the current time. With no record for the key,
	// or only one that is stale at r.CreatedAt — created at or before r.CreatedAt-ttl, or an
	// unaccepted claim whose lease ended at or before r.CreatedAt — it stores r (Accepted
	// false) and returns r, true. Otherwise it returns the record in force and false.
	// Concurrent claims of one key: exactly one wins. Times come back in UTC, truncated to
	// microseconds.
	ClaimIdempotencyKey(ctx context.Context, r IdempotencyRecord, ttl time.Duration) (IdempotencyRecord, bool, error)
	// PruneIdempotencyKeys deletes the records created at or before before and returns how
	// many, for a periodic sweep.
	PruneIdempotencyKeys(ctx context.Context, before time.Time) (int, error)
}

// IdempotencyTx is the part of a Tx that settles a claim in the accept transaction.
type IdempotencyTx interface {
	// AcceptIdempotencyKey marks the claim of (accountID, key) held by messageID accepted. It
	// reports false, changing nothing, when that claim is no longer there (it was taken over
	// after its lease ended, or pruned).
	AcceptIdempotencyKey(ctx context.Context, accountID, key, messageID string) (bool, error)
	// ReleaseIdempotencyKey deletes the unaccepted claim of (accountID, key) held by
	// messageID, if it is still there; anything else is left alone.
	ReleaseIdempotencyKey(ctx context.Context, accountID, key, messageID string) error
}
