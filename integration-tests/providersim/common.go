package providersim

// This file holds the machinery the simulators share: the seeded fault knobs, per-number
// pattern rules, the waiter behind WaitCallbacks/WaitIdle, the callback goroutines of the
// Twilio and Flowroute simulators with their retries, and the admin API's plumbing. Each
// piece is guarded by its simulator's mutex ("Locked" methods: callers hold it); none has a
// lock of its own, so a simulator changes its state and its helpers' in one critical section.

import (
	"context"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// countStatuses is how many of ms have each status, for the simulators' Stats.
func countStatuses[M any](ms []M, status func(M) string) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[status(m)]++
	}
	return out
}

// newRNG is the RNG behind a simulator's fraction knobs. The fixed stream keeps the faults of
// a seed the same across simulators and releases.
func newRNG(seed uint64) *mathrand.Rand {
	return mathrand.New(mathrand.NewPCG(seed, 0x5eed))
}

// faultKnob is one "the next N calls, then each call with probability F" knob, with the kind
// of fault each part makes (FastSMSing's knobs have no kinds and leave them empty).
type faultKnob struct {
	next         int
	nextKind     string
	fraction     float64
	fractionKind string
}

// take consumes the knob for one call: the next-N part first, then a draw from rng (only
// when the fraction is set, so a simulator without fraction faults draws nothing). It
// reports whether the call faults, and as which kind.
func (k *faultKnob) take(rng *mathrand.Rand) (kind string, ok bool) {
	switch {
	case k.next > 0:
		k.next--
		return k.nextKind, true
	case k.fraction > 0 && rng.Float64() < k.fraction:
		return k.fractionKind, true
	}
	return "", false
}

// faults are the fail knobs of the Twilio and Flowroute simulators: FailNext and
// FailFraction, each with a kind (FailUnavailable or FailRateLimit), the seeded RNG behind
// the fraction, and the Retry-After of rate_limit faults.
type faults struct {
	rng        *mathrand.Rand
	fail       faultKnob
	retryAfter time.Duration
}

// reset clears the knobs and reseeds the RNG.
func (f *faults) reset(seed uint64, retryAfter time.Duration) {
	*f = faults{rng: newRNG(seed), retryAfter: retryAfter}
}

// setNext is FailNext: the next n calls fail as kind. It panics on a negative n or an
// unknown kind, which are mistakes in the test (a deferred unlock still runs).
func (f *faults) setNext(n int, kind string) {
	kind = mustFailKind(kind)
	if n < 0 {
		panic(fmt.Sprintf("providersim: FailNext(%d): n must be >= 0", n))
	}
	f.fail.next, f.fail.nextKind = n, kind
}

// setFraction is FailFraction: each call fails as kind with probability fraction, after the
// FailNext ones. It panics on a fraction outside [0, 1] or an unknown kind.
func (f *faults) setFraction(fraction float64, kind string) {
	kind = mustFailKind(kind)
	if !(fraction >= 0 && fraction <= 1) {
		panic(fmt.Sprintf("providersim: FailFraction(%v): fraction must be in [0, 1]", fraction))
	}
	f.fail.fraction, f.fail.fractionKind = fraction, kind
}

func mustFailKind(kind string) string {
	k, err := failKind(kind)
	if err != nil {
		panic("providersim: " + err.Error())
	}
	return k
}

func failKind(kind string) (string, error) {
	switch kind {
	case "", FailUnavailable:
		return FailUnavailable, nil
	case FailRateLimit:
		return FailRateLimit, nil
	}
	return "", fmt.Errorf("kind %q must be %s or %s", kind, FailUnavailable, FailRateLimit)
}

// matchPattern reports whether number matches a rule's pattern: an exact number, or a prefix
// ending in "*" (like loopback's fail_numbers).
func matchPattern(pattern, number string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(number, prefix)
	}
	return number == pattern
}

// checkPattern is the check of rules[i]'s pattern; given is the pattern as the caller gave
// it, for the error (a simulator may normalise pattern before matching it).
func checkPattern(i int, pattern, given string) error {
	if pattern == "" || strings.Contains(strings.TrimSuffix(pattern, "*"), "*") {
		return fmt.Errorf("rules[%d]: pattern %q must be a number or a prefix ending in *", i, given)
	}
	return nil
}

// checkCallbackMode is the check of SetCallbackMode's arguments.
func checkCallbackMode(mode string, delay time.Duration) error {
	switch mode {
	case CallbackNormal, CallbackOff, CallbackTwice, CallbackOutOfOrder:
	default:
		return fmt.Errorf("callback mode %q must be %s, %s, %s or %s",
			mode, CallbackNormal, CallbackOff, CallbackTwice, CallbackOutOfOrder)
	}
	if delay < 0 {
		return fmt.Errorf("callback delay %s must not be negative", delay)
	}
	return nil
}

// deliveryOrder is the order in which mode posts a message's callbacks, given in the order
// they happen: none (off), each twice in a row (twice), reversed (out_of_order) or as they
// are. seq itself is never changed.
func deliveryOrder[T any](mode string, seq []T) []T {
	switch mode {
	case CallbackOff:
		return nil
	case CallbackTwice:
		out := make([]T, 0, 2*len(seq))
		for _, s := range seq {
			out = append(out, s, s)
		}
		return out
	case CallbackOutOfOrder:
		out := make([]T, len(seq))
		for i, s := range seq {
			out[len(seq)-1-i] = s
		}
		return out
	}
	return seq
}

// waiter lets callers block until a condition on a simulator's state holds. The state's
// changers call notifyLocked; its zero value is ready to use.
type waiter struct {
	changed chan struct{} // closed by notifyLocked; nil until someone waits
}

// notifyLocked wakes every waiter. Callers hold the simulator's mutex.
func (w *waiter) notifyLocked() {
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// wait blocks until done holds or ctx ends; mu is the simulator's mutex, held while done and
// describe run. The error says what was awaited (describe) and wraps ctx's error.
func (w *waiter) wait(ctx context.Context, mu *sync.Mutex, done func() bool, describe func() string) error {
	for {
		mu.Lock()
		ok := done()
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		ch := w.changed
		var what string
		if !ok && ctx.Err() != nil {
			what = describe()
		}
		mu.Unlock()
		if ok {
			return nil
		}
		if what != "" {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
}

// callbackTally is what the Twilio and Flowroute simulators count of their messages' lives,
// with the waiter behind WaitCallbacks and WaitIdle. It is guarded by the simulator's mutex.
type callbackTally struct {
	waiter      // notified whenever a callback or message changes
	ok      int // callback attempts answered 2xx
	dropped int // callback deliveries given up
	pending int // messages not settled yet, or with callbacks still to go
}

// resetLocked forgets the counts; the caller notifies once its whole state is reset.
func (c *callbackTally) resetLocked() { c.ok, c.dropped, c.pending = 0, 0, 0 }

// countLocked counts a recorded callback attempt and wakes the waiters.
func (c *callbackTally) countLocked(ok, dropped bool) {
	if ok {
		c.ok++
	}
	if dropped {
		c.dropped++
	}
	c.notifyLocked()
}

// doneLocked counts a message whose life is over (settled, callbacks sent or dropped) and
// wakes the waiters.
func (c *callbackTally) doneLocked() {
	c.pending--
	c.notifyLocked()
}

// waitOK blocks until at least n callback attempts were answered 2xx, or ctx ends; mu is the
// simulator's mutex.
func (c *callbackTally) waitOK(ctx context.Context, mu *sync.Mutex, n int) error {
	return c.wait(ctx, mu, func() bool { return c.ok >= n }, func() string {
		return fmt.Sprintf("wait for %d callbacks answered 2xx (have %d)", n, c.ok)
	})
}

// waitIdle blocks until no message is pending, or ctx ends; mu is the simulator's mutex.
func (c *callbackTally) waitIdle(ctx context.Context, mu *sync.Mutex) error {
	return c.wait(ctx, mu, func() bool { return c.pending == 0 }, func() string {
		return fmt.Sprintf("wait for the simulator to be idle (%d messages pending)", c.pending)
	})
}

// generation owns the callback goroutines started since the last Reset: Reset cancels it
// and starts a new one, so a goroutine of a forgotten message neither records nor counts.
type generation struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newGeneration() *generation {
	ctx, cancel := context.WithCancel(context.Background())
	return &generation{ctx: ctx, cancel: cancel}
}

// stop cancels the generation's goroutines and waits for them. Callers do not hold the
// simulator's mutex, which the goroutines take.
func (g *generation) stop() {
	g.cancel()
	g.wg.Wait()
}

// sleep waits d; false when the generation was cancelled first.
func (g *generation) sleep(d time.Duration) bool { return waitLatency(g.ctx, d) }

// callbackRunner runs the goroutines of a simulator's accepted messages (one each: settle,
// then deliver its callbacks) and cancels them on Reset and Close. After Close it starts no
// more, and Reset keeps it closed.
type callbackRunner struct {
	closed bool
	gen    *generation
}

func newCallbackRunner() callbackRunner { return callbackRunner{gen: newGeneration()} }

// startLocked runs live in a goroutine of the current generation, unless the runner is
// closed; it reports whether it did. Callers hold the simulator's mutex.
func (c *callbackRunner) startLocked(live func(g *generation)) bool {
	if c.closed {
		return false
	}
	g := c.gen
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		live(g)
	}()
	return true
}

// currentLocked reports whether g is still the current generation (no Reset since it
// started). Callers hold the simulator's mutex.
func (c *callbackRunner) currentLocked(g *generation) bool { return c.gen == g }

// resetLocked starts a new generation (unless closed) and returns the old one, which the
// caller stops once it has released the simulator's mutex.
func (c *callbackRunner) resetLocked() *generation {
	old := c.gen
	if !c.closed {
		c.gen = newGeneration()
	}
	return old
}

// closeLocked closes the runner and returns the generation the caller stops once it has
// released the simulator's mutex.
func (c *callbackRunner) closeLocked() *generation {
	c.closed = true
	return c.gen
}

// attempt is the outcome of one try to deliver a callback.
type attempt struct {
	n       int    // 1 for the first try of this delivery
	status  int    // the receiver's HTTP status; 0 if none
	err     string // why no 2xx came back
	dropped bool   // the last attempt, given up
}

func (a attempt) ok() bool { return a.status >= 200 && a.status < 300 }

// deliverWithRetries tries post until the receiver answers 2xx or retries retries are used
// up, waiting backoff before the first retry and twice as long before each next one, and
// hands every attempt to record. It reports false when g was cancelled or record refused
// the attempt (g is no longer current), and then records nothing more.
func deliverWithRetries(g *generation, retries int, backoff time.Duration,
	post func(ctx context.Context) (status int, errText string), record func(attempt) bool) bool {
	for n := 1; ; n++ {
		status, errText := post(g.ctx)
		if g.ctx.Err() != nil {
			return false
		}
		a := attempt{n: n, status: status, err: errText}
		last := a.ok() || n > retries
		a.dropped = !a.ok() && last
		if !record(a) {
			return false
		}
		if last {
			return true
		}
		if !g.sleep(backoff) {
			return false
		}
		backoff *= 2
	}
}

// postTo posts body to rawURL with header through client and returns the receiver's status
// and answer (at most maxReceiverBody of it); err is set only when no whole answer came.
func postTo(ctx context.Context, client *http.Client, rawURL string, body io.Reader, header http.Header) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, body)
	if err != nil {
		return 0, "", fmt.Errorf("post %s: %w", rawURL, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("post %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxReceiverBody))
	if err != nil {
		return resp.StatusCode, string(answer), fmt.Errorf("read answer of %s: %w", rawURL, err)
	}
	return resp.StatusCode, string(answer), nil
}
