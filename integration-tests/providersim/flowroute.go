package providersim

// This file is the Flowroute-style simulator of API.md §9: the parts of Flowroute's Messages
// API v2.1 the gateway's flowroute plugin uses, in Flowroute's wire format, with admin knobs
// for faults, a per-second cap, per-number fates, delivery-receipt callback modes and
// inbound callbacks.
//
// Vendor API (HTTP Basic AccessKey:SecretKey; JSON in and out):
//
//	POST /v2.1/messages        {"to", "from", "body"[, "dlr_callback"]} → 202
//	                           {"data": {"id": "mdr2-…", "type": "message", "links": {"self"}}}
//	GET  /v2.1/messages/{id}   → 200 the message detail record (MDR2) | 404
//
// The send body may also be the JSON:API resource Flowroute's SDKs post,
// {"data": {"type": "message", "attributes": {"to", "from", "body", "dlr_callback"}}}; unknown
// fields are ignored either way. Numbers are 11 digits without "+" (Flowroute's North
// American format, e.g. 12065551234).
//
// Errors are Flowroute's JSON:API error document {"errors": [{"id", "status", "title",
// "detail"}]}: 401 for missing or wrong credentials; 400 for a body that is not one JSON
// object; 422 for a missing or mistyped to/from/body, a number that is not 11 digits, or a
// dlr_callback that is not an absolute http(s) URL; 429 with Retry-After for more than the
// per-second cap of accepted sends within any one second (a sliding window on the clock
// Now) or a rate_limit fault; 503 for an unavailable fault; and the status of a refusal rule.
//
// Admin API (no auth, JSON; see flowroute_http.go):
//
//	POST /admin/latency       {"latency": "50ms"}
//	POST /admin/fail          {"next": N, "fraction": 0.3, "kind": "rate_limit", "seed": 1, "retry_after": "2s"}
//	POST /admin/per_second    {"per_second": 5}   (0: no cap)
//	POST /admin/rules         {"rules": [{"pattern": "1555666*", "status": "undeliverable", "status_code": "1100"}]}
//	POST /admin/callback_mode {"mode": "out_of_order", "delay": "100ms"}
//	POST /admin/inbound_url   {"url": "http://gateway/webhooks/flowroute/<token>/inbound"}
//	POST /admin/inbound       {"from", "to", "body", "legacy": false} → {"status", "body"}
//	POST /admin/reset
//	GET  /admin/messages      → [FlowrouteMessage]
//	GET  /admin/callbacks     → [FlowrouteCallback]
//	GET  /admin/stats         → FlowrouteStats
//
// A message's life: it is accepted with status "queued"; after the callback delay (measured
// from its acceptance, taken with the callback mode when it is accepted) it gets its two
// delivery receipts at once — level 1, Flowroute to the carrier ("smsc submit", or "smsc
// reject" by a rule, which ends it there), then level 2, the carrier's report from the
// handset ("delivered" unless a rule says otherwise) — whether or not any callback is
// delivered, so lookups see them; then, if it has a dlr_callback and the mode is not off,
// the receipts are POSTed to it as JSON:API delivery_receipt documents by a goroutine of its
// own, one after the other. A callback that is refused or answered non-2xx is retried
// (CallbackRetries times, backoff doubling from CallbackBackoff), then dropped and counted.
// Close and Reset cancel pending callbacks and wait for their goroutines.
//
// The DLR statuses and the level-1 description are Flowroute's; its published examples show
// only one level-2 code (1003, "Message accepted by Carrier", an intermediate report), so the
// default codes of the final level-2 statuses (FlowrouteDefaultCode) are the simulator's own.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
)

// Defaults of FlowrouteOptions. As with Twilio, there is no "accept anything" mode: the
// plugin under test must send the credentials it was configured with.
const (
	DefaultFlowrouteAccessKey = "providersim-flowroute-key"
	DefaultFlowrouteSecretKey = "providersim-flowroute-secret"
	// DefaultFlowroutePerSecond is Flowroute's documented limit: 5 SMS per second.
	DefaultFlowroutePerSecond = 5
)

// Delivery-receipt statuses. Level 1 is Flowroute's hand-off to the carrier, level 2 what
// the carrier reports about the handset.
const (
	FlowrouteSMSCSubmit      = "smsc submit"      // level 1: sent to the carrier
	FlowrouteSMSCReject      = "smsc reject"      // level 1: the carrier refused it; final
	FlowrouteBuffered        = "message buffered" // level 2, intermediate (code 1003)
	FlowrouteDelivered       = "delivered"        // level 2, final
	FlowrouteUndeliverable   = "undeliverable"    // level 2, final
	FlowrouteExpired         = "expired"          // level 2, final
	FlowrouteRejected        = "rejected"         // level 2, final
	FlowrouteFailed          = "failed"           // level 2, final
	flowrouteQueued          = "queued"           // the MDR status before any receipt
	flowrouteSubmitDescribed = "Message has been sent"
)

// Outcomes of send calls, counted in FlowrouteStats.ByOutcome.
const (
	FlowrouteOutcomeAccepted      = "accepted"      // 202
	FlowrouteOutcomeRefused       = "refused"       // a Refuse rule's status
	FlowrouteOutcomeBadRequest    = "bad_request"   // 400: not one JSON object
	FlowrouteOutcomeUnprocessable = "unprocessable" // 422 from validation
	FlowrouteOutcomeUnauthorized  = "unauthorized"  // 401
	FlowrouteOutcomeUnavailable   = "unavailable"   // 503 from the fail knobs
	FlowrouteOutcomeRateLimited   = "rate_limited"  // 429 from the fail knobs
	FlowrouteOutcomeThrottled     = "throttled"     // 429 from the per-second cap
)

// FlowrouteOptions configure a Flowroute simulator. Zero values take the defaults given.
type FlowrouteOptions struct {
	// AccessKey and SecretKey are the only Basic credentials the vendor API accepts;
	// default DefaultFlowrouteAccessKey and DefaultFlowrouteSecretKey.
	AccessKey string
	SecretKey string
	// InboundURL is where SendInbound and SendLegacyInbound post; SetInboundURL changes it.
	InboundURL string
	// PerSecond caps the sends accepted within any one second (default
	// DefaultFlowroutePerSecond; negative: no cap). SetPerSecond changes it.
	PerSecond int
	// Seed seeds the RNG behind FailFraction; the same seed and order of calls give the same
	// faults.
	Seed uint64
	// Now is the clock of the per-second cap and of every timestamp; default time.Now.
	// Delays use real timers.
	Now func() time.Time
	// Client posts callbacks and inbound messages; default an http.Client with a 10s timeout.
	Client *http.Client
	// CallbackRetries is how many times a failed callback is retried before it is dropped
	// (default 3; negative: never retried), waiting CallbackBackoff (default 50ms) before the
	// first retry and twice as long before each next one.
	CallbackRetries int
	CallbackBackoff time.Duration
	// RetryAfter is the Retry-After of a rate_limit fault (default 1s; whole seconds on the
	// wire, at least 1). The per-second cap computes its own.
	RetryAfter time.Duration
	// PriceNanodollars is what a message costs in its MDR (default 4,000,000, i.e. $0.0040).
	PriceNanodollars int64
}

// FlowrouteRule decides the fate of messages to numbers matching Pattern (an exact number or
// a prefix ending in "*", matched against the 11-digit wire number; a leading "+" is
// ignored); the first match wins, and a number no rule matches is delivered.
//
// With Refuse, the send call answers HTTPStatus (400, 403 or 422; default 422) with Detail
// (default a generic one) and nothing is accepted; Status is then ignored. Otherwise Status
// is the final receipt: smsc reject (level 1; no level 2 follows) or one of the final level-2
// statuses, with StatusCode (default FlowrouteDefaultCode of the status) and Description
// (default that of the code).
type FlowrouteRule struct {
	Pattern     string `json:"pattern"`
	Status      string `json:"status,omitempty"`
	StatusCode  string `json:"status_code,omitempty"`
	Description string `json:"description,omitempty"`
	Refuse      bool   `json:"refuse,omitempty"`
	HTTPStatus  int    `json:"http_status,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

// FlowrouteReceipt is one delivery receipt of a message, as its MDR and its callback carry it.
type FlowrouteReceipt struct {
	Level       int       `json:"level"`
	Status      string    `json:"status"`
	StatusCode  string    `json:"status_code,omitempty"` // "" is null on the wire
	Description string    `json:"status_code_description"`
	Timestamp   time.Time `json:"timestamp"`
}

// FlowrouteMessage is the record of one accepted message, with its current status (the
// status of its newest receipt, or "queued") and its receipts, oldest first.
type FlowrouteMessage struct {
	ID          string             `json:"id"`
	To          string             `json:"to"`
	From        string             `json:"from"`
	Body        string             `json:"body"`
	Status      string             `json:"status"`
	DLRCallback string             `json:"dlr_callback,omitempty"`
	Receipts    []FlowrouteReceipt `json:"receipts"`
	Timestamp   time.Time          `json:"timestamp"` // accepted at
}

// FlowrouteCallback is the record of one attempt to deliver a delivery-receipt callback.
type FlowrouteCallback struct {
	Seq            int             `json:"seq"` // 1-based, in the order attempts ended
	MessageID      string          `json:"message_id"`
	Level          int             `json:"level"`
	DeliveryStatus string          `json:"delivery_status"` // the receipt's status
	StatusCode     string          `json:"status_code,omitempty"`
	URL            string          `json:"url"`
	Body           json.RawMessage `json:"body"`              // the JSON document posted
	Attempt        int             `json:"attempt"`           // 1 for the first try of this delivery
	Status         int             `json:"status"`            // the receiver's HTTP status; 0 if none
	Error          string          `json:"error,omitempty"`   // why no 2xx came back
	Dropped        bool            `json:"dropped,omitempty"` // the last attempt, given up
	At             time.Time       `json:"at"`
}

// OK reports whether the receiver answered 2xx.
func (c FlowrouteCallback) OK() bool { return c.Status >= 200 && c.Status < 300 }

// FlowrouteStats sum up what the simulator received and sent since the last reset.
type FlowrouteStats struct {
	Sends            int            `json:"sends"`      // POST /v2.1/messages calls
	ByOutcome        map[string]int `json:"by_outcome"` // FlowrouteOutcome* → calls
	Messages         int            `json:"messages"`   // accepted
	ByStatus         map[string]int `json:"by_status"`  // current status → messages
	Fetches          int            `json:"fetches"`    // GET /v2.1/messages/{id} calls
	Callbacks        int            `json:"callbacks"`  // attempts
	CallbacksOK      int            `json:"callbacks_ok"`
	CallbacksDropped int            `json:"callbacks_dropped"`
	Pending          int            `json:"pending"` // messages without receipts, or with callbacks still to go
	Inbound          int            `json:"inbound"` // inbound callbacks posted, both shapes
}

// FlowrouteDefaultCode is the status code a rule's final receipt gets when it names none.
func FlowrouteDefaultCode(status string) string {
	switch status {
	case FlowrouteDelivered:
		return "1000"
	case FlowrouteUndeliverable:
		return "1100"
	case FlowrouteExpired:
		return "1101"
	case FlowrouteRejected:
		return "1102"
	case FlowrouteFailed:
		return "1103"
	case FlowrouteSMSCReject:
		return "1104"
	}
	return ""
}

// flowrouteDescription is the status_code_description of a code the simulator uses.
func flowrouteDescription(code string) string {
	switch code {
	case "1000":
		return "Message delivered to handset"
	case "1003":
		return "Message accepted by Carrier"
	case "1100":
		return "Unknown or unreachable subscriber"
	case "1101":
		return "Message validity period expired"
	case "1102":
		return "Message rejected by carrier"
	case "1103":
		return "Message delivery failed"
	case "1104":
		return "Message refused by the SMSC"
	case "":
		return flowrouteSubmitDescribed
	}
	return "Status " + code
}

// frMessage is a message with its planned fate.
type frMessage struct {
	FlowrouteMessage
	final FlowrouteReceipt // level 1 (smsc reject) or 2; Timestamp set when it happens
	link  string           // the message's URL at the vendor API, for the receipts' links
}

// Flowroute is the Flowroute-style simulator; it is an http.Handler (see the comment at the
// top of this file for the routes). It is safe for concurrent use.
type Flowroute struct {
	opts    FlowrouteOptions
	handler http.Handler

	callbackSim
	perSecond      int         // 0: no cap
	window         []time.Time // accept times within the last second, oldest first
	rules          []FlowrouteRule
	messages       []*frMessage // acceptance order
	byID           map[string]*frMessage
	byTo           map[string]int
	outcomes       map[string]int
	sends, fetches int
	callbacks      []FlowrouteCallback
	inbound        int
}

// NewFlowroute returns a simulator with no faults, the default per-second cap, every number
// delivered and callbacks normal.
func NewFlowroute(opts FlowrouteOptions) *Flowroute {
	if opts.AccessKey == "" {
		opts.AccessKey = DefaultFlowrouteAccessKey
	}
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultFlowrouteSecretKey
	}
	if opts.PerSecond == 0 {
		opts.PerSecond = DefaultFlowroutePerSecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.CallbackRetries == 0 {
		opts.CallbackRetries = 3
	}
	if opts.CallbackBackoff <= 0 {
		opts.CallbackBackoff = 50 * time.Millisecond
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.PriceNanodollars == 0 {
		opts.PriceNanodollars = 4_000_000
	}
	f := &Flowroute{opts: opts, callbackSim: newCallbackSim(opts.InboundURL)}
	f.resetLocked()
	f.handler = f.mux()
	return f
}

func (f *Flowroute) resetLocked() {
	f.resetKnobsLocked(f.opts.Seed, f.opts.RetryAfter)
	f.perSecond = max(f.opts.PerSecond, 0)
	f.window = nil
	f.rules = nil
	f.messages = nil
	f.byID = map[string]*frMessage{}
	f.byTo = map[string]int{}
	f.outcomes = map[string]int{}
	f.sends, f.fetches = 0, 0
	f.callbacks = nil
	f.inbound = 0
	f.notifyLocked()
}

// AccessKey is the access key the simulator accepts (the default one if none was given).
func (f *Flowroute) AccessKey() string { return f.opts.AccessKey }

// SecretKey is the secret key the simulator accepts.
func (f *Flowroute) SecretKey() string { return f.opts.SecretKey }

// Reset forgets every knob, rule, message, callback record and count, restores the
// per-second cap of the options and the callback mode to normal with no delay, and cancels
// pending callbacks, waiting for their goroutines. The inbound URL is wiring, not a knob: it
// is kept.
func (f *Flowroute) Reset() {
	f.reset(f.resetLocked)
}

// SetPerSecond caps the sends accepted within any one second at n; n <= 0 lifts the cap.
// The sends already counted stay counted.
func (f *Flowroute) SetPerSecond(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.perSecond = max(n, 0)
}

// SetRules replaces the per-number rules (see FlowrouteRule); on a bad rule it fails and
// keeps the rules it had.
func (f *Flowroute) SetRules(rules []FlowrouteRule) error {
	out := make([]FlowrouteRule, len(rules))
	for i, r := range rules {
		r.Pattern = strings.TrimPrefix(r.Pattern, "+")
		if err := checkPattern(i, r.Pattern, rules[i].Pattern); err != nil {
			return err
		}
		if r.Refuse {
			switch r.HTTPStatus {
			case 0:
				r.HTTPStatus = http.StatusUnprocessableEntity
			case http.StatusBadRequest, http.StatusForbidden, http.StatusUnprocessableEntity:
			default:
				return fmt.Errorf("rules[%d]: http_status %d must be 400, 403 or 422", i, r.HTTPStatus)
			}
			if r.Detail == "" {
				r.Detail = "The message was refused for this destination"
			}
			out[i] = r
			continue
		}
		switch r.Status {
		case FlowrouteDelivered, FlowrouteUndeliverable, FlowrouteExpired, FlowrouteRejected,
			FlowrouteFailed, FlowrouteSMSCReject:
		default:
			return fmt.Errorf("rules[%d]: status %q must be %s, %s, %s, %s, %s or %s (or refuse: true)", i, r.Status,
				FlowrouteDelivered, FlowrouteUndeliverable, FlowrouteExpired, FlowrouteRejected, FlowrouteFailed, FlowrouteSMSCReject)
		}
		if r.StatusCode == "" {
			r.StatusCode = FlowrouteDefaultCode(r.Status)
		}
		if !allDigits(r.StatusCode) || len(r.StatusCode) > 9 {
			return fmt.Errorf("rules[%d]: status_code %q must be 1 to 9 digits", i, r.StatusCode)
		}
		if r.Description == "" {
			r.Description = flowrouteDescription(r.StatusCode)
		}
		out[i] = r
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = out
	return nil
}

// Messages returns a copy of every accepted message, oldest first, with its current status.
func (f *Flowroute) Messages() []FlowrouteMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FlowrouteMessage, len(f.messages))
	for i, m := range f.messages {
		out[i] = m.copy()
	}
	return out
}

// Message returns the accepted message id, if there is one.
func (f *Flowroute) Message(id string) (FlowrouteMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.byID[id]
	if !ok {
		return FlowrouteMessage{}, false
	}
	return m.copy(), true
}

func (m *frMessage) copy() FlowrouteMessage {
	c := m.FlowrouteMessage
	c.Receipts = append([]FlowrouteReceipt{}, m.Receipts...)
	return c
}

// Count is how many messages to the number to were accepted; to is the 11-digit wire number
// (a leading "+" is ignored).
func (f *Flowroute) Count(to string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byTo[strings.TrimPrefix(to, "+")]
}

// Stats sums up the simulator's traffic since the last reset.
func (f *Flowroute) Stats() FlowrouteStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := FlowrouteStats{
		Sends:            f.sends,
		ByOutcome:        maps.Clone(f.outcomes), // not nil: resetLocked makes outcomes
		Messages:         len(f.messages),
		ByStatus:         countStatuses(f.messages, func(m *frMessage) string { return m.Status }),
		Fetches:          f.fetches,
		Callbacks:        len(f.callbacks),
		CallbacksOK:      f.tally.ok,
		CallbacksDropped: f.tally.dropped,
		Pending:          f.tally.pending,
		Inbound:          f.inbound,
	}
	return st
}

// Callbacks returns a copy of the record of every callback attempt, in the order they ended.
func (f *Flowroute) Callbacks() []FlowrouteCallback {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FlowrouteCallback, len(f.callbacks))
	for i, c := range f.callbacks {
		c.Body = append(json.RawMessage(nil), c.Body...)
		out[i] = c
	}
	return out
}

// sendDecision is what became of a valid send call.
type sendDecision struct {
	outcome string // FlowrouteOutcome*
	status  int    // the HTTP status of a refusal
	detail  string // the error detail of a refusal
	retry   time.Duration
	msg     FlowrouteMessage // the accepted message, as accepted
}

// send consumes the fault knobs, the per-second cap and the rules for a valid send call and,
// unless it is refused, records the message and starts its life. Callers do not hold mu.
// base is the vendor API's base URL as the caller reached it.
func (f *Flowroute) send(base, to, from, body, dlrCallback string) sendDecision {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends++
	now := f.opts.Now().UTC()
	d := f.decideLocked(to, now)
	f.outcomes[d.outcome]++
	if d.outcome != FlowrouteOutcomeAccepted {
		return d
	}
	f.window = append(f.window, now)
	m := &frMessage{FlowrouteMessage: FlowrouteMessage{
		ID: newMDRID(), To: to, From: from, Body: body, Status: flowrouteQueued,
		DLRCallback: dlrCallback, Receipts: []FlowrouteReceipt{}, Timestamp: now,
	}}
	m.final = f.fateLocked(to)
	m.link = base + flowrouteMessagesPath + "/" + m.ID
	f.messages = append(f.messages, m)
	f.byID[m.ID] = m
	f.byTo[to]++
	d.msg = m.copy() // the message's goroutine changes m from now on
	mode, delay, key := f.mode, f.delay, m.ID
	if f.cb.startLocked(func(g *generation) { f.live(g, key, mode, delay) }) {
		f.tally.pending++
	}
	f.notifyLocked()
	return d
}

// decideLocked applies the fail knobs, the per-second cap, then the refusal rules. Callers
// hold mu.
func (f *Flowroute) decideLocked(to string, now time.Time) sendDecision {
	kind, _ := f.faults.fail.take(f.faults.rng)
	switch kind {
	case FailUnavailable:
		return sendDecision{outcome: FlowrouteOutcomeUnavailable}
	case FailRateLimit:
		return sendDecision{outcome: FlowrouteOutcomeRateLimited, retry: f.faults.retryAfter}
	}
	// A sliding window: the accepts of the last second, whatever second they fell in.
	cutoff := now.Add(-time.Second)
	drop := 0
	for drop < len(f.window) && !f.window[drop].After(cutoff) {
		drop++
	}
	f.window = f.window[drop:]
	if f.perSecond > 0 && len(f.window) >= f.perSecond {
		// Room comes back when the oldest counted accept leaves the window.
		return sendDecision{outcome: FlowrouteOutcomeThrottled, retry: f.window[0].Add(time.Second).Sub(now)}
	}
	if r, ok := f.ruleLocked(to); ok && r.Refuse {
		return sendDecision{outcome: FlowrouteOutcomeRefused, status: r.HTTPStatus, detail: r.Detail}
	}
	return sendDecision{outcome: FlowrouteOutcomeAccepted}
}

func (f *Flowroute) ruleLocked(number string) (FlowrouteRule, bool) {
	for _, r := range f.rules {
		if matchPattern(r.Pattern, number) {
			return r, true
		}
	}
	return FlowrouteRule{}, false
}

// fateLocked is the final receipt of a message to number (without its timestamp).
func (f *Flowroute) fateLocked(number string) FlowrouteReceipt {
	if r, ok := f.ruleLocked(number); ok && !r.Refuse {
		level := 2
		if r.Status == FlowrouteSMSCReject {
			level = 1
		}
		return FlowrouteReceipt{Level: level, Status: r.Status, StatusCode: r.StatusCode, Description: r.Description}
	}
	code := FlowrouteDefaultCode(FlowrouteDelivered)
	return FlowrouteReceipt{Level: 2, Status: FlowrouteDelivered, StatusCode: code, Description: flowrouteDescription(code)}
}

// receipts is the receipts of a message ending with final, in the order they happen.
func receipts(final FlowrouteReceipt) []FlowrouteReceipt {
	if final.Level == 1 {
		return []FlowrouteReceipt{final}
	}
	submit := FlowrouteReceipt{Level: 1, Status: FlowrouteSMSCSubmit, Description: flowrouteSubmitDescribed, Timestamp: final.Timestamp}
	return []FlowrouteReceipt{submit, final}
}

// receiptDeliveries is the order in which mode posts the receipts rs.
func receiptDeliveries(mode string, rs []FlowrouteReceipt) []FlowrouteReceipt {
	return deliveryOrder(mode, rs)
}

// isFlowrouteNumber reports whether s is a number as Flowroute's v2.1 API takes it: 11
// digits, no "+".
func isFlowrouteNumber(s string) bool {
	return len(s) == 11 && allDigits(s)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func newMDRID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "mdr2-" + hex.EncodeToString(b[:])
}
