// Package providersim simulates the FastSMSing-style batch API of API.md §9 for tests and the
// benchmark, with admin knobs for faults and a record of every batch it received. Twilio
// (twilio.go) simulates the Twilio-style API of the same section.
//
// Vendor API (authenticated with `Authorization: Bearer <api key>`):
//
//	POST /batches          {"messages": [{"id", "phone_number", "message"}]} → 200 {"batch_id"}
//	GET  /updates?after=C  → {"updates": [{"id", "status"}], "cursor"}; optional limit=N
//	GET  /balance          → {"amount", "currency"}
//
// Admin API (no auth, JSON; see the admin* handlers):
//
//	POST /admin/latency  {"latency": "50ms"}
//	POST /admin/fail     {"next": N, "fraction": 0.3, "seed": 1}   503 instead of accepting
//	POST /admin/hang     {"next": N, "fraction": 0.1, "seed": 1}   record, then never answer
//	POST /admin/statuses {"rules": [{"pattern": "+1555666*", "status": "FAILED"}]}
//	POST /admin/inject   {"id": "m1", "status": "CONFIRMED"}   append an extra update
//	POST /admin/reset
//	GET  /admin/batches  → [Batch]
//	GET  /admin/stats    → Stats
//
// Messages are deduplicated by id, as a batch API with client ids would: a repeated id is
// acknowledged but produces no new updates, and is counted as a duplicate. Every accepted
// message produces CONFIRMED, then its final status (DELIVERED unless a status rule matches
// its number), in the order the messages were accepted. Inject appends an extra update (a
// late or repeated report, as real providers send), for any id.
package providersim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Update statuses of the vendor API.
const (
	StatusConfirmed = "CONFIRMED"
	StatusFailed    = "FAILED"
	StatusDelivered = "DELIVERED"
)

// Batch outcomes, as recorded.
const (
	OutcomeOK           = "ok"           // 200
	OutcomeFailed       = "failed"       // 503 from the fail knobs; nothing recorded as received
	OutcomeHung         = "hung"         // read and recorded as received, never answered
	OutcomeUnauthorized = "unauthorized" // 401
	OutcomeBadRequest   = "bad_request"  // 400
)

const (
	defaultPageSize = 500
	maxPageSize     = 5000
	cursorPrefix    = "fs1:"
)

// Options configure a Sim.
type Options struct {
	// APIKey is the bearer token the vendor API requires; empty accepts any request.
	APIKey string
	// Seed seeds the RNG behind the fraction knobs; the same seed and the same order of calls
	// give the same faults.
	Seed uint64
	// Balance is the starting balance in cents (default 100000, i.e. 1000.00) and Currency
	// its currency (default EUR); each accepted message costs PriceCents (default 1).
	Balance    int64
	Currency   string
	PriceCents int64
	// Now is the clock for batch records; default time.Now.
	Now func() time.Time
}

// StatusRule gives the final status of the messages to numbers matching Pattern (an exact
// number or a prefix ending in "*", like loopback's fail_numbers). The first match wins.
type StatusRule struct {
	Pattern string `json:"pattern"`
	Status  string `json:"status"`
}

// Batch is the record of one POST /batches.
type Batch struct {
	Seq     int       `json:"seq"`
	BatchID string    `json:"batch_id,omitempty"` // set when the batch was received (ok, hung)
	IDs     []string  `json:"ids"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
	// Duplicates is how many of IDs had been received before.
	Duplicates int `json:"duplicates"`
}

// Stats sum up the batches.
type Stats struct {
	Batches      int            `json:"batches"`
	ByOutcome    map[string]int `json:"by_outcome"`
	Messages     int            `json:"messages"`   // distinct ids received
	Received     int            `json:"received"`   // ids in received batches, repeats included
	Duplicates   int            `json:"duplicates"` // Received - Messages
	DuplicateIDs map[string]int `json:"duplicate_ids"`
	Updates      int            `json:"updates"` // updates produced since the last reset
}

// Update is one item of GET /updates.
type Update struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type update struct {
	seq uint64
	Update
}

// Sim is the simulator; it is an http.Handler (see Handler for the routes).
type Sim struct {
	opts    Options
	handler http.Handler

	mu         sync.Mutex
	rng        *mathrand.Rand
	latency    time.Duration
	failFault  faultKnob // drawn before hangFault, from the same rng
	hangFault  faultKnob
	rules      []StatusRule
	counts     map[string]int // times each id was received
	batches    []Batch
	updates    []update // seq ascending
	polls      []string // the after cursor of every GET /updates, oldest first
	lastSeq    uint64   // survives Reset, so cursors stay monotonic
	spentCents int64
	// released is closed by Reset and Close to free hung requests.
	released chan struct{}
	// hangs counts requests currently hung, for tests that wait for one.
	hanging int
	hungCh  chan struct{} // signalled when a request starts hanging
}

// New returns a simulator with no faults.
func New(opts Options) *Sim {
	if opts.Balance == 0 {
		opts.Balance = 100_000
	}
	if opts.Currency == "" {
		opts.Currency = "EUR"
	}
	if opts.PriceCents == 0 {
		opts.PriceCents = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Sim{opts: opts, hungCh: make(chan struct{}, 1)}
	s.resetLocked()
	s.handler = s.mux()
	return s
}

func (s *Sim) resetLocked() {
	s.rng = newRNG(s.opts.Seed)
	s.latency, s.failFault, s.hangFault = 0, faultKnob{}, faultKnob{}
	s.rules = nil
	s.counts = map[string]int{}
	s.batches = nil
	s.updates = nil
	s.polls = nil
	s.spentCents = 0
	if s.released != nil {
		close(s.released)
	}
	s.released = make(chan struct{})
}

// Reset forgets every knob, batch, count and update, and frees hung requests. Cursors stay
// monotonic: updates after a reset come after every cursor handed out before it.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// Close frees hung requests (call it before closing an httptest.Server, which waits for them).
func (s *Sim) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.released)
	s.released = make(chan struct{})
}

// SetLatency delays every vendor API call by d.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// FailNext makes the next n batch calls answer 503 without receiving anything.
func (s *Sim) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failFault.next = n
}

// FailFraction makes each batch call answer 503 with probability f.
func (s *Sim) FailFraction(f float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failFault.fraction = f
}

// HangNext makes the next n batch calls be received and recorded, then never answered (until
// the client gives up, or Reset/Close).
func (s *Sim) HangNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangFault.next = n
}

// HangFraction makes each batch call hang (as HangNext) with probability f.
func (s *Sim) HangFraction(f float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangFault.fraction = f
}

// Seed reseeds the RNG behind the fraction knobs.
func (s *Sim) Seed(seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rng = newRNG(seed)
}

// SetStatusRules replaces the final status rules; it fails on a bad pattern or status.
func (s *Sim) SetStatusRules(rules []StatusRule) error {
	for i, r := range rules {
		if err := checkPattern(i, r.Pattern, r.Pattern); err != nil {
			return err
		}
		if r.Status != StatusDelivered && r.Status != StatusFailed {
			return fmt.Errorf("rules[%d]: status %q must be %s or %s", i, r.Status, StatusDelivered, StatusFailed)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append([]StatusRule(nil), rules...)
	return nil
}

// Batches returns a copy of the record of every batch call, oldest first.
func (s *Sim) Batches() []Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Batch, len(s.batches))
	for i, b := range s.batches {
		b.IDs = append([]string(nil), b.IDs...)
		out[i] = b
	}
	return out
}

// Count is how many times id was received (0 = never, >1 = duplicates).
func (s *Sim) Count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[id]
}

// Counts returns a copy of the per-id receive counts.
func (s *Sim) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for id, n := range s.counts {
		out[id] = n
	}
	return out
}

// Stats sums up what the simulator received.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Batches:      len(s.batches),
		ByOutcome:    map[string]int{},
		Messages:     len(s.counts),
		DuplicateIDs: map[string]int{},
		Updates:      len(s.updates),
	}
	for _, b := range s.batches {
		st.ByOutcome[b.Outcome]++
	}
	for id, n := range s.counts {
		st.Received += n
		if n > 1 {
			st.DuplicateIDs[id] = n
		}
	}
	st.Duplicates = st.Received - st.Messages
	return st
}

// Inject appends an update for id to the update log, after every update so far, whether or
// not id was ever received: a late, repeated or contradictory report as a real provider may
// send one. status is one of CONFIRMED, DELIVERED and FAILED.
func (s *Sim) Inject(id, status string) error {
	if id == "" {
		return errors.New("id: required")
	}
	switch status {
	case StatusConfirmed, StatusDelivered, StatusFailed:
	default:
		return fmt.Errorf("status %q must be %s, %s or %s", status, StatusConfirmed, StatusDelivered, StatusFailed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendUpdateLocked(id, status)
	return nil
}

// UpdatePolls returns the `after` cursor of every GET /updates since the last reset, oldest
// first ("" for a reader starting from the beginning), so tests can see where a restarted
// reader resumed.
func (s *Sim) UpdatePolls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.polls...)
}

// WaitHanging blocks until a batch request is hanging or ctx ends; for tests that must know
// the simulator has the request before they act.
func (s *Sim) WaitHanging(ctx context.Context) error {
	for {
		s.mu.Lock()
		n := s.hanging
		s.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-s.hungCh:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// decision is what to do with a batch call.
type decision int

const (
	decideAccept decision = iota
	decideFail
	decideHang
)

// decide consumes the fault knobs for one batch call. Callers hold mu.
func (s *Sim) decideLocked() decision {
	if _, ok := s.failFault.take(s.rng); ok {
		return decideFail
	}
	if _, ok := s.hangFault.take(s.rng); ok {
		return decideHang
	}
	return decideAccept
}

// wireMessage is one message of POST /batches.
type wireMessage struct {
	ID          string `json:"id"`
	PhoneNumber string `json:"phone_number"`
	Message     string `json:"message"`
}

// receive records a batch call and, unless it fails, takes its messages. It returns the
// decision and the batch id.
func (s *Sim) receive(msgs []wireMessage) (decision, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.decideLocked()
	b := Batch{Seq: len(s.batches) + 1, At: s.opts.Now().UTC(), IDs: make([]string, len(msgs))}
	for i, m := range msgs {
		b.IDs[i] = m.ID
	}
	if d == decideFail {
		b.Outcome = OutcomeFailed
		s.batches = append(s.batches, b)
		return d, ""
	}
	b.BatchID = newBatchID()
	b.Outcome = OutcomeOK
	if d == decideHang {
		b.Outcome = OutcomeHung
	}
	for _, m := range msgs {
		s.counts[m.ID]++
		if s.counts[m.ID] > 1 {
			b.Duplicates++
			continue
		}
		s.spentCents += s.opts.PriceCents
		s.appendUpdateLocked(m.ID, StatusConfirmed)
		s.appendUpdateLocked(m.ID, s.finalStatusLocked(m.PhoneNumber))
	}
	s.batches = append(s.batches, b)
	return d, b.BatchID
}

func (s *Sim) appendUpdateLocked(id, status string) {
	s.lastSeq++
	s.updates = append(s.updates, update{seq: s.lastSeq, Update: Update{ID: id, Status: status}})
}

func (s *Sim) finalStatusLocked(number string) string {
	for _, r := range s.rules {
		if matchPattern(r.Pattern, number) {
			return r.Status
		}
	}
	return StatusDelivered
}

// updatesAfter records a poll from rawAfter (the cursor as given, whose position is after)
// and returns up to limit updates after that position and the new cursor.
func (s *Sim) updatesAfter(rawAfter string, after uint64, limit int) ([]Update, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls = append(s.polls, rawAfter)
	// Updates are seq-ascending and contiguous since the last reset.
	var first int
	if len(s.updates) > 0 && after >= s.updates[0].seq {
		first = int(after - s.updates[0].seq + 1)
	}
	first = min(first, len(s.updates))
	last := min(first+limit, len(s.updates))
	out := make([]Update, 0, last-first)
	for _, u := range s.updates[first:last] {
		out = append(out, u.Update)
	}
	pos := max(after, s.lastSeq-uint64(len(s.updates)))
	if last > 0 && last > first {
		pos = s.updates[last-1].seq
	}
	return out, encodeCursor(pos)
}

func (s *Sim) balance() (amount, currency string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return formatCents(s.opts.Balance - s.spentCents), s.opts.Currency
}

func encodeCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatUint(seq, 10)))
}

var errBadCursor = errors.New("bad cursor")

func decodeCursor(c string) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, errBadCursor
	}
	n, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, errBadCursor
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return 0, errBadCursor
	}
	return seq, nil
}

func newBatchID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "b-" + hex.EncodeToString(b[:])
}
