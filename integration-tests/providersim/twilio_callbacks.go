package providersim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/plugins/twilio/signature"
)

// maxReceiverBody bounds what is read of a receiver's answer.
const maxReceiverBody = 1 << 20

// live is the goroutine of one accepted message: it waits the delay, settles the message and
// delivers its callbacks in mode's order. It gives up silently when g is cancelled.
func (t *Twilio) live(g *generation, sid, mode string, delay time.Duration) {
	if !g.sleep(delay) {
		return
	}
	m, ok := t.settle(g, sid, mode)
	if !ok {
		return
	}
	if m.StatusCallback == "" || mode == CallbackOff {
		return
	}
	for _, status := range deliveries(mode, m.Status) {
		if !t.deliver(g, m, status) {
			return
		}
	}
	t.lifeDone(g)
}

// settle moves the message to its final status and returns a copy of it; a message with no
// callbacks to send stops being pending. It reports false once g is no longer current (the
// message was forgotten by a Reset).
func (t *Twilio) settle(g *generation, sid, mode string) (TwilioMessage, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.bySID[sid]
	if !t.cb.currentLocked(g) || !ok {
		return TwilioMessage{}, false
	}
	now := t.opts.Now().UTC()
	m.Status, m.ErrorCode, m.DateUpdated = m.final, m.finalCode, now
	if m.final != TwilioFailed {
		m.DateSent = now
	}
	if m.StatusCallback == "" || mode == CallbackOff {
		t.tally.pending--
	}
	t.notifyLocked()
	return m.TwilioMessage, true
}

// callbackParams are the parameters Twilio posts to a StatusCallback for status.
func (t *Twilio) callbackParams(m TwilioMessage, status string) url.Values {
	p := url.Values{
		"MessageSid":    {m.SID},
		"SmsSid":        {m.SID},
		"AccountSid":    {t.opts.AccountSID},
		"From":          {m.From},
		"To":            {m.To},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"ApiVersion":    {twilioAPIVersion},
	}
	if status == TwilioUndelivered || status == TwilioFailed {
		p.Set("ErrorCode", strconv.Itoa(m.ErrorCode))
	}
	return p
}

// deliver posts one callback, retrying a failure with a doubling backoff, and records every
// attempt. It reports false when g was cancelled, and then records nothing more.
func (t *Twilio) deliver(g *generation, m TwilioMessage, status string) bool {
	params := t.callbackParams(m, status)
	sig := signature.Compute(t.opts.AuthToken, m.StatusCallback, params)
	// Twilio repeats the token on a redelivery of the same event, so receivers can dedupe.
	token := m.SID + "-" + status
	return deliverWithRetries(g, t.opts.CallbackRetries, t.opts.CallbackBackoff,
		func(ctx context.Context) (int, string) { return t.post(ctx, m.StatusCallback, params, sig, token) },
		func(a attempt) bool {
			return t.record(g, Callback{
				MessageSID: m.SID, MessageStatus: status, URL: m.StatusCallback, Params: params,
				Signature: sig, Attempt: a.n, Status: a.status, Error: a.err, Dropped: a.dropped,
			})
		})
}

// record appends a callback attempt, unless g is no longer current.
func (t *Twilio) record(g *generation, c Callback) bool {
	return t.ifCurrent(g, func() {
		c.Seq, c.At, c.Params = len(t.callbacks)+1, t.opts.Now().UTC(), cloneValues(c.Params)
		t.callbacks = append(t.callbacks, c)
		t.tally.countLocked(c.OK(), c.Dropped)
	})
}

// post sends a signed form post and returns the receiver's status, or 0 and why it failed.
// A non-2xx status comes with its text as the error.
func (t *Twilio) post(ctx context.Context, rawURL string, params url.Values, sig, token string) (int, string) {
	code, _, err := t.postForm(ctx, rawURL, params, sig, token)
	if err != nil {
		return 0, err.Error()
	}
	if code < 200 || code > 299 {
		return code, http.StatusText(code)
	}
	return code, ""
}

// postForm posts params to rawURL as Twilio does, signed with sig, and returns the receiver's
// status and answer.
func (t *Twilio) postForm(ctx context.Context, rawURL string, params url.Values, sig, token string) (int, string, error) {
	header := http.Header{}
	header.Set("Content-Type", "application/x-www-form-urlencoded")
	header.Set("X-Twilio-Signature", sig)
	header.Set("User-Agent", "TwilioProxy/1.1")
	if token != "" {
		header.Set("I-Twilio-Idempotency-Token", token)
	}
	return postTo(ctx, t.opts.Client, rawURL, strings.NewReader(params.Encode()), header)
}

// inboundParams are the parameters of Twilio's incoming-message webhook. Twilio sends the geo
// parameters it could not resolve as empty strings, and they are signed like the others.
func (t *Twilio) inboundParams(sid, from, to, body string) url.Values {
	segments, _ := message.Segments(body)
	return url.Values{
		"MessageSid":    {sid},
		"SmsMessageSid": {sid},
		"SmsSid":        {sid},
		"AccountSid":    {t.opts.AccountSID},
		"From":          {from},
		"To":            {to},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(segments)},
		"SmsStatus":     {"received"},
		"ApiVersion":    {twilioAPIVersion},
		"FromCountry":   {countryOf(from)},
		"ToCountry":     {countryOf(to)},
		"FromState":     {""},
		"ToState":       {""},
		"FromCity":      {""},
		"ToCity":        {""},
		"FromZip":       {""},
		"ToZip":         {""},
	}
}

// SendInbound posts a signed incoming-message webhook from → to to the inbound URL and
// returns what the receiver answered (status and body; the gateway answers TwiML). err is
// set only when no answer came: no inbound URL, a bad argument, or a failed connection.
func (t *Twilio) SendInbound(ctx context.Context, from, to, body string) (status int, respBody string, err error) {
	switch {
	case from == "":
		return 0, "", errors.New("send inbound: from is required")
	case to == "":
		return 0, "", errors.New("send inbound: to is required")
	}
	t.mu.Lock()
	target := t.inboundURL
	t.mu.Unlock()
	if target == "" {
		return 0, "", errors.New("send inbound: no inbound URL (TwilioOptions.InboundURL or SetInboundURL)")
	}
	params := t.inboundParams(newSID(), from, to, body)
	sig := signature.Compute(t.opts.AuthToken, target, params)
	t.mu.Lock()
	t.inbound++
	t.mu.Unlock()
	status, respBody, err = t.postForm(ctx, target, params, sig, "")
	if err != nil {
		return status, respBody, fmt.Errorf("send inbound from %s: %w", from, err)
	}
	return status, respBody, nil
}

// countryOf is the ISO country of a few calling codes, as Twilio's FromCountry/ToCountry;
// "" when unknown, as Twilio sends it.
func countryOf(number string) string {
	for _, c := range []struct{ prefix, country string }{
		{"+1", "US"}, {"+44", "GB"}, {"+49", "DE"}, {"+33", "FR"}, {"+31", "NL"},
		{"+61", "AU"}, {"+46", "SE"}, {"+34", "ES"}, {"+39", "IT"},
	} {
		if strings.HasPrefix(number, c.prefix) {
			return c.country
		}
	}
	return ""
}
