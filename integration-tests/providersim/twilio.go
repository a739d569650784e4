package providersim

// This file is the Twilio-style simulator of API.md §9: the parts of Twilio's REST API the
// gateway's twilio plugin uses, in Twilio's wire format, with admin knobs for faults, per-number
// fates, status-callback modes and inbound webhooks.
//
// Vendor API (HTTP Basic AccountSid:AuthToken; form-encoded requests, JSON answers):
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json  To, From, Body[, StatusCallback] → 201
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json → 200 | 404 (20404)
//	GET  /2010-04-01/Accounts/{AccountSid}/Balance.json → {"account_sid", "balance", "currency"}
//
// Errors are Twilio's JSON body {"code", "message", "more_info", "status"}: 401 20003 for
// missing or wrong credentials (or another account's path), 400 21604/21603/21602 for a
// missing To/From/Body, 400 21211 for a To that is not E.164, 400 21617 for a Body over 1600
// characters, 400 21609 for a StatusCallback that is not an absolute http(s) URL, 400 20001
// (the simulator's own "invalid parameter") for a body that is no form or a parameter that is
// not UTF-8, and the codes of the rules and fail knobs below. Unknown parameters are ignored.
//
// Admin API (no auth, JSON; see twilio_http.go):
//
//	POST /admin/latency       {"latency": "50ms"}
//	POST /admin/fail          {"next": N, "fraction": 0.3, "kind": "rate_limit", "seed": 1, "retry_after": "2s"}
//	POST /admin/rules         {"rules": [{"pattern": "+1555*", "status": "undelivered", "error_code": 30003}]}
//	POST /admin/callback_mode {"mode": "out_of_order", "delay": "100ms"}
//	POST /admin/inbound_url   {"url": "http://gateway/webhooks/twilio/inbound"}
//	POST /admin/inbound       {"from", "to", "body"} → {"status", "body"} (the receiver's answer)
//	POST /admin/reset
//	GET  /admin/messages      → [TwilioMessage]
//	GET  /admin/callbacks     → [Callback]
//	GET  /admin/stats         → TwilioStats
//
// A message's life: it is created "queued"; after the callback delay (measured from its
// creation, taken with the callback mode when it is created) it moves straight to its final
// status — delivered unless a rule says otherwise — whether or not any callback is delivered,
// so polling sees it; then, if it has a StatusCallback and the mode is not off, its callbacks
// (queued, sent, final; a failed message has no sent) are POSTed by a goroutine of its own, one
// after the other, signed with X-Twilio-Signature. A callback that is refused or answered
// non-2xx is retried (CallbackRetries times, backoff doubling from CallbackBackoff), then dropped
// and counted. Close and Reset cancel pending callbacks and wait for their goroutines.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/smsgw/smsgw/core/message"
)

// Defaults of TwilioOptions. The simulator never accepts any password: without an AuthToken
// it has these credentials, which callers read back with AccountSID and AuthToken.
const (
	DefaultTwilioAccountSID = "AC00000000000000000000000000000000"
	DefaultTwilioAuthToken  = "providersim-twilio-token"
	twilioAPIVersion        = "2010-04-01"
)

// Message statuses of Twilio's message resource, as the simulator uses them.
const (
	TwilioQueued      = "queued"
	TwilioSent        = "sent"
	TwilioDelivered   = "delivered"
	TwilioUndelivered = "undelivered"
	TwilioFailed      = "failed"
)

// Callback modes of SetCallbackMode.
const (
	CallbackNormal     = "normal"       // queued, sent, final, once each
	CallbackOff        = "off"          // none: the status only advances (for polling)
	CallbackTwice      = "twice"        // each callback delivered two times in a row
	CallbackOutOfOrder = "out_of_order" // a message's callbacks in reverse: final first
)

// Kinds of the fail knobs.
const (
	FailUnavailable = "unavailable" // 503, code 20503
	FailRateLimit   = "rate_limit"  // 429, code 20429, with Retry-After
)

// Outcomes of create calls, counted in TwilioStats.ByOutcome.
const (
	TwilioOutcomeCreated      = "created"      // 201
	TwilioOutcomeRefused      = "refused"      // 400 from a Refuse rule
	TwilioOutcomeBadRequest   = "bad_request"  // 400 from validation
	TwilioOutcomeUnauthorized = "unauthorized" // 401
	TwilioOutcomeUnavailable  = "unavailable"  // 503 from the fail knobs
	TwilioOutcomeRateLimited  = "rate_limited" // 429 from the fail knobs
)

// TwilioOptions configure a Twilio simulator. Zero values take the defaults given.
type TwilioOptions struct {
	// AccountSID and AuthToken are the only Basic credentials the vendor API accepts, and
	// AuthToken signs every callback and inbound webhook. Default DefaultTwilioAccountSID and
	// DefaultTwilioAuthToken: there is no "accept anything" mode, because the plugin under
	// test must send its configured credentials and check signatures made with them.
	AccountSID string
	AuthToken  string
	// InboundURL is where SendInbound posts; SetInboundURL changes it later.
	InboundURL string
	// Seed seeds the RNG behind FailFraction; the same seed and order of calls give the same
	// faults.
	Seed uint64
	// Now is the clock of the resources' dates; default time.Now. Delays use real timers.
	Now func() time.Time
	// Client posts callbacks and inbound webhooks; default an http.Client with a 10s timeout.
	Client *http.Client
	// Balance is the starting balance in cents (default 2000, i.e. 20.00) and Currency its
	// currency (default USD); each accepted message costs PriceCents (default 1).
	Balance    int64
	Currency   string
	PriceCents int64
	// CallbackRetries is how many times a failed callback is retried before it is dropped
	// (default 3; negative: never retried), waiting CallbackBackoff (default 50ms) before the
	// first retry and twice as long before each next one.
	CallbackRetries int
	CallbackBackoff time.Duration
	// RetryAfter is the Retry-After of a rate_limit fault (default 1s; whole seconds on the
	// wire, at least 1).
	RetryAfter time.Duration
}

// TwilioRule decides the fate of messages to numbers matching Pattern (an exact number or a
// prefix ending in "*"); the first match wins, and a number no rule matches is delivered.
// With Refuse, the create call answers 400 with ErrorCode (e.g. 21610 unsubscribed, 21211
// invalid To) and nothing is queued; Status is then ignored. Otherwise Status is the final
// status: delivered (ErrorCode must be 0), undelivered (ErrorCode default 30003) or failed
// (ErrorCode default 30008).
type TwilioRule struct {
	Pattern   string `json:"pattern"`
	Status    string `json:"status,omitempty"`
	ErrorCode int    `json:"error_code,omitempty"`
	Refuse    bool   `json:"refuse,omitempty"`
}

// TwilioMessage is the record of one accepted message, with its current status.
type TwilioMessage struct {
	SID            string    `json:"sid"`
	To             string    `json:"to"`
	From           string    `json:"from"`
	Body           string    `json:"body"`
	Status         string    `json:"status"`
	ErrorCode      int       `json:"error_code,omitempty"`
	StatusCallback string    `json:"status_callback,omitempty"`
	NumSegments    int       `json:"num_segments"`
	DateCreated    time.Time `json:"date_created"`
	DateUpdated    time.Time `json:"date_updated"`
	DateSent       time.Time `json:"date_sent,omitzero"`
}

// Callback is the record of one attempt to deliver a status callback.
type Callback struct {
	Seq           int        `json:"seq"` // 1-based, in the order attempts ended
	MessageSID    string     `json:"message_sid"`
	MessageStatus string     `json:"message_status"`
	URL           string     `json:"url"`
	Params        url.Values `json:"params"`
	Signature     string     `json:"signature"`
	Attempt       int        `json:"attempt"`           // 1 for the first try of this delivery
	Status        int        `json:"status"`            // the receiver's HTTP status; 0 if none
	Error         string     `json:"error,omitempty"`   // why no 2xx came back
	Dropped       bool       `json:"dropped,omitempty"` // the last attempt, given up
	At            time.Time  `json:"at"`
}

// OK reports whether the receiver answered 2xx.
func (c Callback) OK() bool { return c.Status >= 200 && c.Status < 300 }

// TwilioStats sum up what the simulator received and sent since the last reset.
type TwilioStats struct {
	Creates          int            `json:"creates"`    // POST Messages.json calls
	ByOutcome        map[string]int `json:"by_outcome"` // TwilioOutcome* → calls
	Messages         int            `json:"messages"`   // accepted
	ByStatus         map[string]int `json:"by_status"`  // current status → messages
	Fetches          int            `json:"fetches"`    // GET Messages/{sid}.json calls
	Callbacks        int            `json:"callbacks"`  // attempts
	CallbacksOK      int            `json:"callbacks_ok"`
	CallbacksDropped int            `json:"callbacks_dropped"`
	Pending          int            `json:"pending"` // messages not final, or with callbacks still to go
	Inbound          int            `json:"inbound"` // inbound webhooks posted
}

// twMessage is a message with its planned fate.
type twMessage struct {
	TwilioMessage
	final     string
	finalCode int
}

// Twilio is the Twilio-style simulator; it is an http.Handler (see the comment at the top of
// this file for the routes). It is safe for concurrent use.
type Twilio struct {
	opts    TwilioOptions
	handler http.Handler

	callbackSim
	rules            []TwilioRule
	messages         []*twMessage // creation order
	bySID            map[string]*twMessage
	byTo             map[string]int
	outcomes         map[string]int
	creates, fetches int
	callbacks        []Callback
	inbound          int
	spentCents       int64
}

// NewTwilio returns a simulator with no faults, every number delivered and callbacks normal.
func NewTwilio(opts TwilioOptions) *Twilio {
	if opts.AccountSID == "" {
		opts.AccountSID = DefaultTwilioAccountSID
	}
	if opts.AuthToken == "" {
		opts.AuthToken = DefaultTwilioAuthToken
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Balance == 0 {
		opts.Balance = 2000
	}
	if opts.Currency == "" {
		opts.Currency = "USD"
	}
	if opts.PriceCents == 0 {
		opts.PriceCents = 1
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
	t := &Twilio{opts: opts, callbackSim: newCallbackSim(opts.InboundURL)}
	t.resetLocked()
	t.handler = t.mux()
	return t
}

func (t *Twilio) resetLocked() {
	t.resetKnobsLocked(t.opts.Seed, t.opts.RetryAfter)
	t.rules = nil
	t.messages = nil
	t.bySID = map[string]*twMessage{}
	t.byTo = map[string]int{}
	t.outcomes = map[string]int{}
	t.creates, t.fetches = 0, 0
	t.callbacks = nil
	t.inbound = 0
	t.spentCents = 0
	t.notifyLocked()
}

// AccountSID is the account the simulator accepts (the default one if none was given).
func (t *Twilio) AccountSID() string { return t.opts.AccountSID }

// AuthToken is the token the simulator accepts and signs with.
func (t *Twilio) AuthToken() string { return t.opts.AuthToken }

// Reset forgets every knob, rule, message, callback record and count, restores the callback
// mode to normal with no delay, and cancels pending callbacks, waiting for their goroutines.
// The inbound URL is wiring, not a knob: it is kept.
func (t *Twilio) Reset() {
	t.reset(t.resetLocked)
}

// SetRules replaces the per-number rules (see TwilioRule); on a bad rule it fails and keeps
// the rules it had.
func (t *Twilio) SetRules(rules []TwilioRule) error {
	out := make([]TwilioRule, len(rules))
	for i, r := range rules {
		if err := checkPattern(i, r.Pattern, r.Pattern); err != nil {
			return err
		}
		if r.ErrorCode < 0 {
			return fmt.Errorf("rules[%d]: error_code %d must be positive", i, r.ErrorCode)
		}
		switch {
		case r.Refuse:
			if r.ErrorCode == 0 {
				return fmt.Errorf("rules[%d]: a refusal needs an error_code (e.g. 21610, 21211)", i)
			}
		case r.Status == TwilioDelivered:
			if r.ErrorCode != 0 {
				return fmt.Errorf("rules[%d]: a delivered message has no error_code", i)
			}
		case r.Status == TwilioUndelivered:
			if r.ErrorCode == 0 {
				r.ErrorCode = 30003
			}
		case r.Status == TwilioFailed:
			if r.ErrorCode == 0 {
				r.ErrorCode = 30008
			}
		default:
			return fmt.Errorf("rules[%d]: status %q must be %s, %s or %s (or refuse: true)",
				i, r.Status, TwilioDelivered, TwilioUndelivered, TwilioFailed)
		}
		out[i] = r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = out
	return nil
}

// Messages returns a copy of every accepted message, oldest first, with its current status.
func (t *Twilio) Messages() []TwilioMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]TwilioMessage, len(t.messages))
	for i, m := range t.messages {
		out[i] = m.TwilioMessage
	}
	return out
}

// Message returns the accepted message sid, if there is one.
func (t *Twilio) Message(sid string) (TwilioMessage, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.bySID[sid]
	if !ok {
		return TwilioMessage{}, false
	}
	return m.TwilioMessage, true
}

// Count is how many messages to the number to were accepted.
func (t *Twilio) Count(to string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byTo[to]
}

// Stats sums up the simulator's traffic since the last reset.
func (t *Twilio) Stats() TwilioStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := TwilioStats{
		Creates:          t.creates,
		ByOutcome:        maps.Clone(t.outcomes), // not nil: resetLocked makes outcomes
		Messages:         len(t.messages),
		ByStatus:         countStatuses(t.messages, func(m *twMessage) string { return m.Status }),
		Fetches:          t.fetches,
		Callbacks:        len(t.callbacks),
		CallbacksOK:      t.tally.ok,
		CallbacksDropped: t.tally.dropped,
		Pending:          t.tally.pending,
		Inbound:          t.inbound,
	}
	return st
}

// Callbacks returns a copy of the record of every callback attempt, in the order they ended.
func (t *Twilio) Callbacks() []Callback {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Callback, len(t.callbacks))
	for i, c := range t.callbacks {
		c.Params = cloneValues(c.Params)
		out[i] = c
	}
	return out
}

// createDecision is what to do with a valid create call.
type createDecision struct {
	outcome string // TwilioOutcome*
	code    int    // the Twilio error code of a refusal
	retry   time.Duration
	msg     TwilioMessage // the created message, as created
}

// create consumes the fault knobs and the rules for a valid create call and, unless it is
// refused, records the message and starts its life. Callers do not hold mu.
func (t *Twilio) create(to, from, body, statusCallback string) createDecision {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.creates++
	d := t.decideLocked(to)
	t.outcomes[d.outcome]++
	if d.outcome != TwilioOutcomeCreated {
		return d
	}
	now := t.opts.Now().UTC()
	segments, _ := message.Segments(body)
	m := &twMessage{TwilioMessage: TwilioMessage{
		SID: newSID(), To: to, From: from, Body: body, Status: TwilioQueued,
		StatusCallback: statusCallback, NumSegments: segments, DateCreated: now, DateUpdated: now,
	}}
	m.final, m.finalCode = t.fateLocked(to)
	t.messages = append(t.messages, m)
	t.bySID[m.SID] = m
	t.byTo[to]++
	t.spentCents += t.opts.PriceCents
	d.msg = m.TwilioMessage // a copy: the message's goroutine changes m from now on
	mode, delay, key := t.mode, t.delay, m.SID
	if t.cb.startLocked(func(g *generation) { t.live(g, key, mode, delay) }) {
		t.tally.pending++
	}
	t.notifyLocked()
	return d
}

// decideLocked applies the fail knobs, then the refusal rules. Callers hold mu.
func (t *Twilio) decideLocked(to string) createDecision {
	kind, _ := t.faults.fail.take(t.faults.rng)
	switch kind {
	case FailUnavailable:
		return createDecision{outcome: TwilioOutcomeUnavailable}
	case FailRateLimit:
		return createDecision{outcome: TwilioOutcomeRateLimited, retry: t.faults.retryAfter}
	}
	if r, ok := t.ruleLocked(to); ok && r.Refuse {
		return createDecision{outcome: TwilioOutcomeRefused, code: r.ErrorCode}
	}
	return createDecision{outcome: TwilioOutcomeCreated}
}

func (t *Twilio) ruleLocked(number string) (TwilioRule, bool) {
	for _, r := range t.rules {
		if matchPattern(r.Pattern, number) {
			return r, true
		}
	}
	return TwilioRule{}, false
}

// fateLocked is the final status and error code of a message to number.
func (t *Twilio) fateLocked(number string) (string, int) {
	if r, ok := t.ruleLocked(number); ok && !r.Refuse {
		return r.Status, r.ErrorCode
	}
	return TwilioDelivered, 0
}

// balance is the balance left, formatted as Twilio does ("12.34"), and its currency.
func (t *Twilio) balance() (string, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return formatCents(t.opts.Balance - t.spentCents), t.opts.Currency
}

func formatCents(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// sequence is the statuses a message's callbacks report, in the order they happen.
func sequence(final string) []string {
	if final == TwilioFailed {
		return []string{TwilioQueued, TwilioFailed}
	}
	return []string{TwilioQueued, TwilioSent, final}
}

// deliveries is the order in which mode posts the callbacks of a message ending final.
func deliveries(mode, final string) []string {
	return deliveryOrder(mode, sequence(final))
}

// isE164 reports whether s is what Twilio accepts as a To number here: a plus, then 2 to 15
// digits, the first not 0.
func isE164(s string) bool {
	digits, ok := strings.CutPrefix(s, "+")
	if !ok || len(digits) < 2 || len(digits) > 15 || digits[0] == '0' {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func newSID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "SM" + hex.EncodeToString(b[:])
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// twilioErrorMessage is the message of an error code the simulator produces or is told to
// use; another code gets a generic one.
func twilioErrorMessage(code int) string {
	switch code {
	case 20003:
		return "Authenticate"
	case 20404:
		return "The requested resource was not found"
	case 20429:
		return "Too Many Requests"
	case 20503:
		return "Service Unavailable"
	case 21211:
		return "Invalid 'To' Phone Number"
	case 21408:
		return "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"
	case 21602:
		return "Message body is required."
	case 21603:
		return "A 'From' phone number is required."
	case 21604:
		return "A 'To' phone number is required."
	case 21609:
		return "Invalid StatusCallback url"
	case 21610:
		return "Attempt to send to unsubscribed recipient"
	case 21614:
		return "'To' number is not a valid mobile number"
	case 21617:
		return "The concatenated message body exceeds the 1600 character limit."
	case 30003:
		return "Unreachable destination handset"
	case 30004:
		return "Message blocked"
	case 30005:
		return "Unknown destination handset"
	case 30006:
		return "Landline or unreachable carrier"
	case 30007:
		return "Message filtered"
	case 30008:
		return "Unknown error"
	}
	return fmt.Sprintf("Error %d", code)
}
