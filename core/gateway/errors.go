package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/ports"
)

// Refusals of a send by policy. Both wrap ports.ErrRejected; callers tell them apart with
// errors.Is / errors.As.
var (
	// ErrOptedOut: the recipient has an unexpired block of sends from the sender (403
	// recipient_opted_out).
	ErrOptedOut = fmt.Errorf("recipient opted out of this sender: %w", ports.ErrRejected)
	// ErrIdempotencyKeyInUse: another request with the same Idempotency-Key is still in
	// flight (409 idempotency_key_in_use).
	ErrIdempotencyKeyInUse = fmt.Errorf("idempotency key in use by a request in flight: %w", ports.ErrConflict)
	// ErrIdempotencyKeyReused: the key was used for a different request (422
	// idempotency_key_reused).
	ErrIdempotencyKeyReused = fmt.Errorf("idempotency key reused with a different request: %w", ports.ErrInvalid)
)

// RateLimitedError refuses a send whose sender has used its window (429 rate_limited).
type RateLimitedError struct {
	Sender string
	// RetryAfter is how long until the oldest counted send leaves the window.
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("sender %q has used its rate limit; retry after %s", e.Sender, e.RetryAfter)
}

// Unwrap makes a RateLimitedError a ports.ErrRejected.
func (e *RateLimitedError) Unwrap() error { return ports.ErrRejected }

// AsRateLimited returns the RateLimitedError in err's chain, if any.
func AsRateLimited(err error) (*RateLimitedError, bool) {
	var rl *RateLimitedError
	ok := errors.As(err, &rl)
	return rl, ok
}
