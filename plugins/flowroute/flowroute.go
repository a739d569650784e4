package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

const (
	name    = "flowroute"
	version = "0.1.0"

	// maxBatch is what Info announces. Flowroute takes one message per request and allows 5
	// SMS per second, so a batch is sent as at most that many requests at once
	// (sendConcurrency = maxBatch): a bigger batch would only turn its tail into 429s. Those
	// come back as rate_limited with Flowroute's Retry-After for those messages only.
	maxBatch        = 5
	sendConcurrency = maxBatch
	// pollConcurrency bounds the lookups of one PollStatus call.
	pollConcurrency = 8
)

// provider is the flowroute plugin. Provider message ids are Flowroute's message detail
// record ids ("mdr2-…"): the API has no client id to dedupe on, so a retried ambiguous send
// may send twice, which is why ambiguous is kept apart from "definitely not sent"
// (client.go).
type provider struct {
	log       hclog.Logger
	now       func() time.Time
	transport http.RoundTripper

	mu  sync.Mutex // guards cfg and api
	cfg config
	api *apiClient
}

var (
	_ sdk.Provider       = (*provider)(nil)
	_ sdk.StatusPoller   = (*provider)(nil)
	_ sdk.WebhookHandler = (*provider)(nil)
)

func newProvider(log hclog.Logger) *provider {
	// Enough idle connections for the concurrent sends of the host's batches in flight.
	return &provider{log: log, now: time.Now, transport: httpcall.NewTransport(32)}
}

func (p *provider) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:            name,
		Version:         version,
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: sdk.Capabilities{
			MaxBatch:   maxBatch,
			StatusPoll: true,
			Inbound:    true, // through webhooks; there is no event stream, and no balance API
		},
	}, nil
}

func (p *provider) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	cfg, err := parseConfig(req)
	if err != nil {
		return err
	}
	api := newAPIClient(cfg, p.transport, p.now)
	p.mu.Lock()
	p.cfg, p.api = cfg, api
	p.mu.Unlock()
	p.log.Debug("configured", "access_key", cfg.accessKey, "base_url", cfg.baseURL,
		"webhooks", cfg.redactedHooks(), "timeout", cfg.timeout)
	return nil
}

var errNotConfigured = sdk.Errorf(sdk.ClassUnavailable, "not configured")

func (p *provider) state() (config, *apiClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.api == nil {
		return config{}, nil, errNotConfigured
	}
	return p.cfg, p.api, nil
}

// Send sends one Flowroute message per OutboundMessage, at most sendConcurrency at a time.
// Each message gets its own result: one request failing says nothing about the others, so
// the call itself fails only when the plugin is not configured.
func (p *provider) Send(ctx context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	results := make([]sdk.SendResult, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	cfg, api, err := p.state()
	if err != nil {
		return nil, err
	}
	httpcall.ForEach(len(msgs), sendConcurrency, func(i int) {
		results[i] = p.sendOne(ctx, cfg, api, msgs[i])
	})
	return results, nil
}

func (p *provider) sendOne(ctx context.Context, cfg config, api *apiClient, m sdk.OutboundMessage) sdk.SendResult {
	to, toOK := wireNumber(m.To)
	from, fromOK := wireNumber(m.From)
	switch {
	case !toOK:
		return sdk.SendResult{Err: sdk.Errorf(sdk.ClassInvalid,
			"message %s: recipient %q is not + and 11 digits, the only numbers Flowroute's v2.1 API takes", m.ID, m.To)}
	case !fromOK:
		return sdk.SendResult{Err: sdk.Errorf(sdk.ClassInvalid,
			"message %s: sender %q is not + and 11 digits (a Flowroute number of the account)", m.ID, m.From)}
	case m.Text == "":
		return sdk.SendResult{Err: sdk.Errorf(sdk.ClassInvalid, "message %s has no text", m.ID)}
	}
	id, err := api.sendMessage(ctx, sendBody{To: to, From: from, Body: m.Text, DLRCallback: cfg.dlrCallback(m.ID)})
	if err != nil {
		var e *sdk.Error
		if !errors.As(err, &e) {
			e = &sdk.Error{Class: sdk.ClassAmbiguous, Message: err.Error()}
		}
		p.log.Warn("send failed", "id", m.ID, "class", e.Class, "code", e.Code, "error", err)
		return sdk.SendResult{Err: e}
	}
	p.log.Debug("sent", "id", m.ID, "mdr", id)
	return sdk.SendResult{ProviderMessageID: id, Status: sdk.StatusQueued}
}

// PollStatus looks each message up, at most pollConcurrency at a time. Messages Flowroute
// does not know (404), and ones whose status says nothing about delivery, are left out. Any
// other failure stops the poll and is the call's error.
func (p *provider) PollStatus(ctx context.Context, ids []string) ([]sdk.StatusUpdate, error) {
	_, api, err := p.state()
	if err != nil {
		return nil, err
	}
	return httpcall.PollEach(ctx, ids, pollConcurrency, func(ctx context.Context, id string) (sdk.StatusUpdate, bool, error) {
		m, ok, err := api.lookupMessage(ctx, id)
		if err != nil || !ok {
			return sdk.StatusUpdate{}, false, err
		}
		// Reported under the id asked about: that is the one the host knows.
		u, ok := mdrUpdate(id, m, p.now().UTC())
		return u, ok, nil
	})
}

// wireNumber is an E.164 number as Flowroute's v2.1 API writes it: "+" and 11 digits become
// the 11 digits; ok is false for anything else (a shorter or longer number, or an
// alphanumeric sender), which Flowroute would refuse.
func wireNumber(e164 string) (string, bool) {
	digits, ok := strings.CutPrefix(e164, "+")
	if !ok || !elevenDigits(digits) {
		return "", false
	}
	return digits, true
}

// e164 is a number from a Flowroute callback in E.164: 11 digits (what v2.1 sends), or "+"
// and 11 digits (what v2.2 sends), become "+" and the 11 digits. Opt-outs and proxy sessions
// are keyed on E.164, so nothing else is let through.
func e164(number string) (string, bool) {
	digits := strings.TrimPrefix(strings.TrimSpace(number), "+")
	if !elevenDigits(digits) {
		return "", false
	}
	return "+" + digits, true
}

func elevenDigits(s string) bool {
	if len(s) != 11 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// receiptAttr is a delivery receipt as the DLR callback and the MDR carry it.
type receiptAttr struct {
	Level       receiptLevel `json:"level"`
	Status      string       `json:"status"`
	StatusCode  receiptCode  `json:"status_code"`
	Description string       `json:"status_code_description"`
	Timestamp   string       `json:"timestamp"`
}

// receiptCode is a status code as Flowroute writes it: a string in callbacks, a number in
// MDRs, or null (""). It is kept as the digits Flowroute sent.
type receiptCode string

func (c *receiptCode) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*c = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = receiptCode(strings.TrimSpace(s))
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("status_code %.20s is neither a string nor a number", b)
	}
	*c = receiptCode(n.String())
	return nil
}

// receiptLevel is a receipt's level: a number (or, leniently, a numeric string); 0 when
// absent or null.
type receiptLevel int

func (l *receiptLevel) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		if string(bytes.TrimSpace(b)) == "null" {
			*l = 0
			return nil
		}
		return fmt.Errorf("level %.20s is not a number", b)
	}
	v, err := strconv.Atoi(n.String())
	if err != nil || v < 0 {
		return fmt.Errorf("level %.20s is not a whole number", b)
	}
	*l = receiptLevel(v)
	return nil
}

// statusOf maps a Flowroute delivery status to the sdk's; ok is false for the ones that say
// nothing about an outbound message's delivery (a status this plugin does not know).
//
//   - Level 1 is Flowroute's hand-off to the carrier: "smsc submit" is sent, and nothing a
//     level-1 receipt says can be delivered, which only the handset's report (level 2)
//     knows. "smsc reject" is the carrier refusing the message: it never went out, failed.
//   - "message buffered" (level 2, code 1003: the carrier has it, the handset not yet) is
//     still sent.
//   - "undeliverable", "expired", "rejected" and "deleted" are the carrier's final word
//     after it had the message: undelivered, as Twilio says of a carrier's failure.
//   - "failed" is Flowroute's own failure: failed.
//   - "queued" and friends are what an MDR says before any receipt: queued.
func statusOf(level int, status string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(status))
	var out string
	switch s {
	case "queued", "accepted", "pending":
		out = sdk.StatusQueued
	case "smsc submit", "message buffered", "sent", "buffered":
		out = sdk.StatusSent
	case "delivered":
		out = sdk.StatusDelivered
	case "undeliverable", "expired", "rejected", "deleted":
		out = sdk.StatusUndelivered
	case "failed", "smsc reject":
		out = sdk.StatusFailed
	default:
		return "", false
	}
	if level == 1 && out == sdk.StatusDelivered {
		out = sdk.StatusSent
	}
	return out, true
}

// receiptUpdate builds the update for one receipt of message id; ok is false when statusOf
// says to ignore it. A receipt's code and description are kept only when the message did
// not get through: on a delivered message they are not an error.
func receiptUpdate(id string, r receiptAttr, fallback time.Time) (sdk.StatusUpdate, bool) {
	status, ok := statusOf(int(r.Level), r.Status)
	if !ok {
		return sdk.StatusUpdate{}, false
	}
	u := sdk.StatusUpdate{ProviderMessageID: id, Status: status, At: parseTime(r.Timestamp, fallback)}
	if status == sdk.StatusUndelivered || status == sdk.StatusFailed {
		u.ErrorCode = string(r.StatusCode)
		u.ErrorMessage = httpcall.Truncate(strings.TrimSpace(r.Description), maxErrorMessage)
		if u.ErrorMessage == "" {
			u.ErrorMessage = r.Status
		}
	}
	return u, true
}

// mdrUpdate is the update a message detail record gives: its status, with the code and
// time of its newest receipt of that status (the MDR lists them newest first, but the
// timestamps decide). ok is false when the status says nothing about delivery.
func mdrUpdate(id string, m mdr, fallback time.Time) (sdk.StatusUpdate, bool) {
	a := m.Data.Attributes
	var best *receiptAttr
	var bestAt time.Time
	for i := range a.DeliveryReceipts {
		r := &a.DeliveryReceipts[i]
		if a.Status != "" && !strings.EqualFold(strings.TrimSpace(r.Status), strings.TrimSpace(a.Status)) {
			continue
		}
		at := parseTime(r.Timestamp, time.Time{})
		if best == nil || at.After(bestAt) || (at.Equal(bestAt) && r.Level > best.Level) {
			best, bestAt = r, at
		}
	}
	if best != nil {
		return receiptUpdate(id, *best, fallback)
	}
	if a.Status == "" {
		return sdk.StatusUpdate{}, false
	}
	return receiptUpdate(id, receiptAttr{Status: a.Status, Timestamp: a.Timestamp}, fallback)
}

// parseTime reads Flowroute's ISO 8601 UTC timestamps; fallback when absent or unreadable.
func parseTime(s string, fallback time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
		return t.UTC()
	}
	return fallback
}
