package routing

import (
	"sync"
	"time"
)

// BreakerState is the state of a provider's circuit breaker.
type BreakerState string

const (
	// BreakerClosed: the provider takes traffic.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen: the provider failed too often; traffic that has another provider goes
	// there until the cool-down ends.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen: the cool-down ended; one trial dispatch may go to the provider, and
	// its outcome closes or re-opens the breaker.
	BreakerHalfOpen BreakerState = "half_open"
)

// Default breaker policy when a provider block has no breaker block.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
)

// BreakerPolicy is when a breaker opens (Failures consecutive failed sends) and how long it
// stays open before it lets a trial through (Cooldown).
type BreakerPolicy struct {
	Failures int
	Cooldown time.Duration
}

func (p BreakerPolicy) withDefaults() BreakerPolicy {
	if p.Failures < 1 {
		p.Failures = DefaultBreakerFailures
	}
	if p.Cooldown <= 0 {
		p.Cooldown = DefaultBreakerCooldown
	}
	return p
}

// Breaker is one provider's circuit breaker. It lives in the memory of one gateway process:
// each replica judges the providers by the sends it makes itself, which is what a breaker
// is for (stop waiting on a provider that is down) and needs no coordination. Safe for
// concurrent use. The caller passes the time, so the core never reads a clock.
type Breaker struct {
	policy BreakerPolicy

	mu       sync.Mutex
	state    BreakerState
	failures int       // consecutive failures while closed
	until    time.Time // open: when the cool-down ends; half-open: when a lost trial expires
}

// NewBreaker makes a closed breaker; zero policy fields take the defaults.
func NewBreaker(p BreakerPolicy) *Breaker {
	return &Breaker{policy: p.withDefaults(), state: BreakerClosed}
}

// Allow reports whether a dispatch may go to the provider at now. While closed it always
// may. Once an open breaker's cool-down has passed, the first caller gets the half-open
// trial and the others are refused until its outcome is recorded; a trial whose outcome
// never comes (the process doing it died) is given up after another cool-down, and the
// next caller gets a new trial.
func (b *Breaker) Allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true
	default: // open or half-open: a trial is due when the period ran out
		if now.Before(b.until) {
			return false
		}
		b.state, b.until = BreakerHalfOpen, now.Add(b.policy.Cooldown)
		return true
	}
}

// Success records a send the provider answered (it took the message, or refused that
// message for a reason of the message's own): the breaker closes. It reports whether this
// success closed it (it was open or half-open).
func (b *Breaker) Success() (closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	closed = b.state != BreakerClosed
	b.state, b.failures, b.until = BreakerClosed, 0, time.Time{}
	return closed
}

// Failure records a send that failed because of the provider (down, timed out, refused our
// credentials or credit). The breaker opens at the policy's count of consecutive failures,
// and at once when the half-open trial fails. It reports whether this failure opened it.
func (b *Breaker) Failure(now time.Time) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		b.failures++
		if b.failures < b.policy.Failures {
			return false
		}
	case BreakerOpen:
		return false // a send that began before it opened: the cool-down stands
	}
	b.state, b.failures, b.until = BreakerOpen, 0, now.Add(b.policy.Cooldown)
	return true
}

// State is the breaker's state at now: an open breaker whose cool-down has passed shows as
// half-open, since the next dispatch will be its trial.
func (b *Breaker) State(now time.Time) BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && !now.Before(b.until) {
		return BreakerHalfOpen
	}
	return b.state
}

// Breakers holds one breaker per provider.
type Breakers struct {
	byName map[string]*Breaker
}

// NewBreakers makes a closed breaker for each provider, with its policy (missing ones take
// the defaults).
func NewBreakers(providers []string, policies map[string]BreakerPolicy) Breakers {
	bs := Breakers{byName: make(map[string]*Breaker, len(providers))}
	for _, p := range providers {
		bs.byName[p] = NewBreaker(policies[p])
	}
	return bs
}

// For returns the provider's breaker; an unknown provider gets a breaker of its own that
// nothing else shares (it never opens anyone else's circuit).
func (bs Breakers) For(provider string) *Breaker {
	if b, ok := bs.byName[provider]; ok {
		return b
	}
	return NewBreaker(BreakerPolicy{})
}
