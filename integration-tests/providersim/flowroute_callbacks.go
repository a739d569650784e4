package providersim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/smsgw/smsgw/core/message"
)

// flowrouteTime is how Flowroute writes timestamps: UTC, to the hundredth of a second.
const flowrouteTime = "2006-01-02T15:04:05.00Z07:00"

// live is the goroutine of one accepted message: it waits the delay, gives the message its
// receipts and delivers them in mode's order. It gives up silently when g is cancelled.
func (f *Flowroute) live(g *generation, id, mode string, delay time.Duration) {
	if !g.sleep(delay) {
		return
	}
	m, rs, ok := f.settle(g, id, mode)
	if !ok {
		return
	}
	if m.DLRCallback == "" || mode == CallbackOff {
		return
	}
	for _, r := range receiptDeliveries(mode, rs) {
		if !f.deliver(g, m, r) {
			return
		}
	}
	f.lifeDone(g)
}

// settle gives the message its receipts and returns a copy of it and of them; a message
// with no callbacks to send stops being pending. It reports false once g is no longer
// current (the message was forgotten by a Reset).
func (f *Flowroute) settle(g *generation, id, mode string) (FlowrouteMessage, []FlowrouteReceipt, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.byID[id]
	if !f.cb.currentLocked(g) || !ok {
		return FlowrouteMessage{}, nil, false
	}
	m.final.Timestamp = f.opts.Now().UTC()
	rs := receipts(m.final)
	m.Receipts = append(m.Receipts, rs...)
	m.Status = m.final.Status
	if m.DLRCallback == "" || mode == CallbackOff {
		f.tally.pending--
	}
	f.notifyLocked()
	return m.copy(), rs, true
}

// frDocument is a JSON:API document with one resource, as Flowroute posts them.
type frDocument struct {
	Data frResource `json:"data"`
}

type frResource struct {
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	Attributes any               `json:"attributes,omitempty"`
	Links      map[string]string `json:"links,omitempty"`
}

// frReceiptAttributes are the attributes of a delivery_receipt callback. Flowroute documents
// status_code as a string; a receipt without one (level 1) has null.
type frReceiptAttributes struct {
	Body        string  `json:"body"`
	Level       int     `json:"level"`
	Status      string  `json:"status"`
	StatusCode  *string `json:"status_code"`
	Description string  `json:"status_code_description"`
	Timestamp   string  `json:"timestamp"`
}

// receiptDocument is the callback body of receipt r of message m.
func receiptDocument(m FlowrouteMessage, link string, r FlowrouteReceipt) []byte {
	attrs := frReceiptAttributes{
		Body: m.Body, Level: r.Level, Status: r.Status, Description: r.Description,
		Timestamp: r.Timestamp.UTC().Format(flowrouteTime),
	}
	if r.StatusCode != "" {
		code := r.StatusCode
		attrs.StatusCode = &code
	}
	doc := frDocument{Data: frResource{Type: "delivery_receipt", ID: m.ID, Attributes: attrs}}
	if link != "" {
		doc.Data.Links = map[string]string{"related": link}
	}
	b, _ := json.Marshal(doc) // plain structs of strings and ints always marshal
	return b
}

// deliver posts one receipt, retrying a failure with a doubling backoff, and records every
// attempt. It reports false when g was cancelled, and then records nothing more.
func (f *Flowroute) deliver(g *generation, m FlowrouteMessage, r FlowrouteReceipt) bool {
	f.mu.Lock()
	link := ""
	if fm, ok := f.byID[m.ID]; ok {
		link = fm.link
	}
	f.mu.Unlock()
	body := receiptDocument(m, link, r)
	post := func(ctx context.Context) (int, string) {
		code, _, err := f.postJSON(ctx, m.DLRCallback, body)
		switch {
		case err != nil:
			return code, err.Error()
		case code < 200 || code > 299:
			return code, http.StatusText(code)
		}
		return code, ""
	}
	return deliverWithRetries(g, f.opts.CallbackRetries, f.opts.CallbackBackoff, post, func(a attempt) bool {
		return f.record(g, FlowrouteCallback{
			MessageID: m.ID, Level: r.Level, DeliveryStatus: r.Status, StatusCode: r.StatusCode,
			URL: m.DLRCallback, Body: body, Attempt: a.n, Status: a.status, Error: a.err, Dropped: a.dropped,
		})
	})
}

// record appends a callback attempt, unless g is no longer current.
func (f *Flowroute) record(g *generation, c FlowrouteCallback) bool {
	return f.ifCurrent(g, func() {
		c.Seq, c.At = len(f.callbacks)+1, f.opts.Now().UTC()
		f.callbacks = append(f.callbacks, c)
		f.tally.countLocked(c.OK(), c.Dropped)
	})
}

// postJSON posts body to rawURL as Flowroute posts its callbacks and returns the receiver's
// status and answer; err is set only when no whole answer came.
func (f *Flowroute) postJSON(ctx context.Context, rawURL string, body []byte) (int, string, error) {
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", "Go-http-client/1.1")
	return postTo(ctx, f.opts.Client, rawURL, bytes.NewReader(body), header)
}

// frInboundAttributes are the attributes of Flowroute's inbound SMS callback.
type frInboundAttributes struct {
	AmountDisplay      string          `json:"amount_display"`
	AmountNanodollars  int64           `json:"amount_nanodollars"`
	Body               string          `json:"body"`
	DeliveryReceipts   []frWireReceipt `json:"delivery_receipts"`
	Direction          string          `json:"direction"`
	From               string          `json:"from"`
	IsMMS              bool            `json:"is_mms"`
	MessageCallbackURL string          `json:"message_callback_url"`
	MessageEncoding    int             `json:"message_encoding"`
	MessageType        string          `json:"message_type"`
	Status             string          `json:"status"`
	Timestamp          string          `json:"timestamp"`
	To                 string          `json:"to"`
}

// SendInbound posts Flowroute's JSON:API inbound SMS callback from → to to the inbound URL
// and returns what the receiver answered. from and to are sent as 11 digits: a leading "+"
// is dropped, and anything else than 11 digits is refused. err is set only when no answer
// came: no inbound URL, a bad argument, or a failed connection.
func (f *Flowroute) SendInbound(ctx context.Context, from, to, body string) (status int, respBody string, err error) {
	return f.sendInbound(ctx, from, to, body, false)
}

// SendLegacyInbound posts the legacy inbound callback {"to", "from", "body"} (what
// Flowroute's v2 messaging and the flowroute_proxy dialect of API.md §8.4 take) from → to,
// with numbers and answers as SendInbound.
func (f *Flowroute) SendLegacyInbound(ctx context.Context, from, to, body string) (status int, respBody string, err error) {
	return f.sendInbound(ctx, from, to, body, true)
}

func (f *Flowroute) sendInbound(ctx context.Context, from, to, body string, legacy bool) (int, string, error) {
	from, to = strings.TrimPrefix(from, "+"), strings.TrimPrefix(to, "+")
	switch {
	case !isFlowrouteNumber(from):
		return 0, "", fmt.Errorf("send inbound: from %q must be 11 digits", from)
	case !isFlowrouteNumber(to):
		return 0, "", fmt.Errorf("send inbound: to %q must be 11 digits", to)
	}
	f.mu.Lock()
	target := f.inboundURL
	now := f.opts.Now().UTC()
	f.mu.Unlock()
	if target == "" {
		return 0, "", errors.New("send inbound: no inbound URL (FlowrouteOptions.InboundURL or SetInboundURL)")
	}
	var doc any = map[string]string{"to": to, "from": from, "body": body}
	if !legacy {
		encoding := 0
		if _, enc := message.Segments(body); enc == message.UCS2 {
			encoding = 8
		}
		doc = frDocument{Data: frResource{Type: "message", ID: newMDRID(), Attributes: frInboundAttributes{
			AmountDisplay: formatNanodollars(f.opts.PriceNanodollars), AmountNanodollars: f.opts.PriceNanodollars,
			Body: body, DeliveryReceipts: []frWireReceipt{}, Direction: "inbound", From: from,
			MessageCallbackURL: target, MessageEncoding: encoding, MessageType: "longcode",
			Status: FlowrouteDelivered, Timestamp: now.Format(flowrouteTime), To: to,
		}}}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return 0, "", fmt.Errorf("send inbound from %s: %w", from, err)
	}
	f.mu.Lock()
	f.inbound++
	f.mu.Unlock()
	status, respBody, err := f.postJSON(ctx, target, b)
	if err != nil {
		return status, respBody, fmt.Errorf("send inbound from %s: %w", from, err)
	}
	return status, respBody, nil
}

// formatNanodollars is Flowroute's amount_display: dollars to four decimals.
func formatNanodollars(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return fmt.Sprintf("%s$%d.%04d", sign, n/1_000_000_000, n%1_000_000_000/100_000)
}
