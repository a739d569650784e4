package providersim

import (
	"context"
	"crypto/subtle"
	"net/http"
	"sync"
	"time"
)

// callbackSim is the state and the knobs the Twilio and Flowroute simulators share, embedded
// in both: their mutex, the goroutines of their messages' lives, the fail knobs, latency,
// callback mode and delay, inbound URL, and the callback tally with its waiter. Its exported
// methods are theirs; "calls" below are Twilio's create and Flowroute's send calls, and
// "callbacks" Twilio's status callbacks and Flowroute's delivery receipts.
type callbackSim struct {
	mu         sync.Mutex
	cb         callbackRunner
	faults     faults
	latency    time.Duration
	mode       string
	delay      time.Duration
	inboundURL string
	tally      callbackTally
}

func newCallbackSim(inboundURL string) callbackSim {
	return callbackSim{cb: newCallbackRunner(), inboundURL: inboundURL}
}

// resetKnobsLocked forgets the knobs and the tally; the inbound URL is wiring, not a knob,
// and is kept. Callers hold mu and notify once their whole state is reset.
func (s *callbackSim) resetKnobsLocked(seed uint64, retryAfter time.Duration) {
	s.faults.reset(seed, retryAfter)
	s.latency = 0
	s.mode, s.delay = CallbackNormal, 0
	s.tally.resetLocked()
}

// reset runs resetLocked (the simulator's whole reset) under mu with a new generation of
// message goroutines, then cancels the old one and waits for its goroutines.
func (s *callbackSim) reset(resetLocked func()) {
	s.mu.Lock()
	old := s.cb.resetLocked()
	resetLocked()
	s.mu.Unlock()
	old.stop()
}

// lifeDone counts the life of a message of generation g as over (its callbacks sent or
// dropped), unless a Reset has forgotten the message since.
func (s *callbackSim) lifeDone(g *generation) {
	s.ifCurrent(g, s.tally.doneLocked)
}

// ifCurrent runs fn under mu unless a Reset has started a new generation since g, and
// reports whether it ran: a goroutine of a forgotten message changes nothing.
func (s *callbackSim) ifCurrent(g *generation, fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cb.currentLocked(g) {
		return false
	}
	fn()
	return true
}

// notifyLocked wakes every waiter. Callers hold mu.
func (s *callbackSim) notifyLocked() { s.tally.notifyLocked() }

// wait blocks until done holds or ctx ends (see waiter.wait); done and describe run under mu.
func (s *callbackSim) wait(ctx context.Context, done func() bool, describe func() string) error {
	return s.tally.wait(ctx, &s.mu, done, describe)
}

// Close cancels pending callbacks and waits for their goroutines. Messages accepted after
// Close are recorded but stay queued; nothing more is sent.
func (s *callbackSim) Close() {
	s.mu.Lock()
	g := s.cb.closeLocked()
	s.mu.Unlock()
	g.stop()
}

// SetLatency delays every vendor API call by d.
func (s *callbackSim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// latencyNow is the latency knob, for the vendor API's wrapper.
func (s *callbackSim) latencyNow() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

// FailNext makes the next n valid calls fail as kind (FailUnavailable or FailRateLimit; ""
// is FailUnavailable) without accepting anything. It panics on a negative n or an unknown
// kind, which are mistakes in the test.
func (s *callbackSim) FailNext(n int, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.setNext(n, kind)
}

// FailFraction makes each valid call fail as kind with probability fraction (from the
// seeded RNG), after any FailNext ones. It panics on a fraction outside [0, 1] or an unknown
// kind.
func (s *callbackSim) FailFraction(fraction float64, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.setFraction(fraction, kind)
}

// SetRetryAfter sets the Retry-After of rate_limit faults (rounded up to whole seconds, at
// least 1).
func (s *callbackSim) SetRetryAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.retryAfter = d
}

// Seed reseeds the RNG behind FailFraction.
func (s *callbackSim) Seed(seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rng = newRNG(seed)
}

// SetCallbackMode sets how the callbacks of messages accepted from now on are delivered (one
// of the Callback* modes) and how long after its acceptance a message settles and its
// callbacks start (delay >= 0). Messages already accepted keep the mode and delay they were
// accepted with.
func (s *callbackSim) SetCallbackMode(mode string, delay time.Duration) error {
	if err := checkCallbackMode(mode, delay); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode, s.delay = mode, delay
	return nil
}

// SetInboundURL sets where the inbound messages are posted (the URL is used, and for Twilio
// signed, exactly as given).
func (s *callbackSim) SetInboundURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inboundURL = u
}

// InboundURL is where the inbound messages are posted.
func (s *callbackSim) InboundURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inboundURL
}

// WaitCallbacks blocks until at least n callback attempts were answered 2xx since the last
// reset, or ctx ends.
func (s *callbackSim) WaitCallbacks(ctx context.Context, n int) error {
	return s.tally.waitOK(ctx, &s.mu, n)
}

// WaitIdle blocks until every accepted message is settled and has no callback left to send
// (delivered or dropped), or ctx ends: for tests of polling and of failing receivers.
// Messages accepted after Close, which stay queued, do not count.
func (s *callbackSim) WaitIdle(ctx context.Context) error {
	return s.tally.waitIdle(ctx, &s.mu)
}

// guard wraps a vendor API handler with the latency knob and then authorized: a call it
// turns down is answered by unauthorized instead of h.
func (s *callbackSim) guard(h http.HandlerFunc, authorized func(*http.Request) bool, unauthorized http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !waitLatency(r.Context(), s.latencyNow()) {
			return
		}
		if !authorized(r) {
			unauthorized(w, r)
			return
		}
		h(w, r)
	}
}

// basicAuthIs reports whether r carries exactly the Basic credentials user and pass, compared
// in constant time.
func basicAuthIs(r *http.Request, user, pass string) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(p), []byte(pass)) == 1
	return userOK && passOK
}
