package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/core/ratelimit"
)

// RateDemand asks a Limiter for N hits on Key's window.
type RateDemand struct {
	Key string
	N   int
}

// RateGrant answers one RateDemand.
type RateGrant struct {
	// Admitted is how many of the N hits were counted (the first ones, while the window had
	// room); the rest are refused and not counted.
	Admitted int
	// RetryAfter, when some were refused, is how long until the oldest counted hit leaves the
	// window, at most the window (ratelimit.Window.RetryAfter).
	RetryAfter time.Duration
}

// Limiter counts hits on per-key sliding windows (core/ratelimit) inside a transaction; a Tx
// is one. It is exact under concurrency and across replicas: a key's log is read and written
// under the key's row lock (SQLite: the database write lock), held until the transaction
// ends, and a rolled-back transaction counts nothing.
type Limiter interface {
	// Hit applies every demand at now against window w, in one round trip where the store
	// can, and returns one grant per demand, in order. Keys must be distinct and every N at
	// least 0 (ErrInvalid otherwise); keys are locked in key order (bytewise), so concurrent
	// callers cannot deadlock. Hits that left the window are dropped from the log as it is
	// written. Demands with N = 0 are allowed (they only prune).
	Hit(ctx context.Context, w ratelimit.Window, now time.Time, demands []RateDemand) ([]RateGrant, error)
}

// RateLogStore sweeps rate-limit logs outside a transaction.
type RateLogStore interface {
	// PruneRateLogs deletes the logs of keys whose every hit is at or before before (for a
	// periodic sweep with before = now - window) and returns how many; a log left empty (its
	// hits all left the window, or it only ever had N = 0 demands) has no hit after before
	// and goes too. Logs with some recent hits are trimmed by their next Hit instead.
	PruneRateLogs(ctx context.Context, before time.Time) (int, error)
}

// ValidateDemands checks what every Limiter requires of a batch: distinct keys and no N
// below 0. Failures wrap ErrInvalid.
func ValidateDemands(demands []RateDemand) error {
	seen := make(map[string]bool, len(demands))
	for _, d := range demands {
		switch {
		case d.N < 0:
			return fmt.Errorf("rate demand %q: N = %d: %w", d.Key, d.N, ErrInvalid)
		case seen[d.Key]:
			return fmt.Errorf("rate demand %q: key demanded twice: %w", d.Key, ErrInvalid)
		}
		seen[d.Key] = true
	}
	return nil
}
