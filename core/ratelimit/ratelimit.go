// Package ratelimit holds the sliding-log window policy of the per-sender rate limit
// (API.md §1): at most Limit counted hits per key in any Period. The counting itself is the
// ports.Limiter of a store, exact across replicas; stores that keep the log themselves
// (SQLite, the in-memory test store) decide with Window.Admit, and the Postgres statement
// implements the same rule in SQL.
package ratelimit

import (
	"math"
	"time"
)

// Window is a sliding-log limit: at most Limit hits per key in any Period. A hit at time h
// is inside the window at now while h > now-Period; a hit exactly Period old has left it.
type Window struct {
	Limit  int
	Period time.Duration
}

// Enabled reports whether the window limits anything (both fields positive).
func (w Window) Enabled() bool { return w.Limit > 0 && w.Period > 0 }

// Since is the earliest time a hit still counts at now (exclusive bound).
func (w Window) Since(now time.Time) time.Time { return now.Add(-w.Period) }

// Admit decides n new hits at now against a key's stored hits (any order). It returns the
// hits to store — those still inside the window, oldest first, then one at now for each
// admitted hit — how many of the n it admitted (always the first ones: as many as the window
// has room for), and, when it refused any, how long until the oldest kept hit leaves the
// window, which is when room next opens.
func (w Window) Admit(hits []time.Time, now time.Time, n int) (kept []time.Time, admitted int, retryAfter time.Duration) {
	since := w.Since(now)
	kept = make([]time.Time, 0, len(hits)+n)
	for _, h := range hits {
		if h.After(since) {
			kept = append(kept, h)
		}
	}
	sortTimes(kept)
	admitted = max(0, min(n, w.Limit-len(kept)))
	for range admitted {
		kept = append(kept, now)
	}
	if admitted < n && len(kept) > 0 {
		retryAfter = w.RetryAfter(kept[0], now)
	}
	return kept, admitted, retryAfter
}

// RetryAfter is how long after now the hit at oldest leaves the window, at most Period: a
// caller reads now before it waits for the key's lock, so the log may hold a concurrent
// caller's hit stamped later than now; every counted hit was made before the answer, so the
// window itself is a bound that is never too early.
func (w Window) RetryAfter(oldest, now time.Time) time.Duration {
	return max(0, min(oldest.Sub(w.Since(now)), w.Period))
}

// RetryAfterSeconds renders a wait as the whole seconds of a Retry-After header: rounded up,
// at least 1 (a client told 0 would retry at once and be refused again).
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// sortTimes sorts ascending; logs are short (at most Limit entries) and nearly sorted.
func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}
