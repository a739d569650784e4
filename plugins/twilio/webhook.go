package main

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
	"github.com/smsgw/smsgw/plugins/twilio/signature"
)

// The webhook paths under /webhooks/<provider>.
const (
	statusPath  = "/status"  // delivery reports (the StatusCallback of every send)
	inboundPath = "/inbound" // the number's "a message comes in" webhook
)

// emptyTwiML answers an inbound message without replying to it.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

const signatureHeader = "X-Twilio-Signature"

// HandleWebhook answers Twilio's form posts. Nothing of a request is believed before its
// X-Twilio-Signature checks out against every POST parameter, known or not: a forged or
// altered request gets a bare 403 and parses to nothing.
func (p *provider) HandleWebhook(_ context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	if req.Method != http.MethodPost {
		resp := plainText(http.StatusMethodNotAllowed, "method not allowed")
		resp.Headers["Allow"] = []string{http.MethodPost}
		return resp, nil
	}
	if req.Path != statusPath && req.Path != inboundPath {
		return plainText(http.StatusNotFound, "not found"), nil
	}
	cfg, _, err := p.state()
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	params, formErr := formParams(req)
	if !signature.Valid(cfg.authToken, req.URL, params, header(req.Headers, signatureHeader)) {
		p.log.Warn("webhook refused: missing or bad signature", "path", req.Path)
		return plainText(http.StatusForbidden, "forbidden"), nil
	}
	if formErr != nil {
		return plainText(http.StatusBadRequest, formErr.Error()), nil
	}
	now := p.now().UTC()
	if req.Path == statusPath {
		u, ok, err := parseStatusCallback(params, now)
		if err != nil {
			return plainText(http.StatusBadRequest, err.Error()), nil
		}
		u.MessageID = httpcall.CallbackMessageID(req.URL)
		resp := sdk.WebhookResponse{StatusCode: http.StatusOK}
		if ok {
			resp.Statuses = []sdk.StatusUpdate{u}
			p.log.Debug("status callback", "sid", u.ProviderMessageID, "status", u.Status, "error_code", u.ErrorCode)
		} else {
			p.log.Debug("status callback ignored", "sid", params.Get("MessageSid"), "status", params.Get("MessageStatus"))
		}
		return resp, nil
	}
	m, err := parseInbound(params, now)
	if err != nil {
		return plainText(http.StatusBadRequest, err.Error()), nil
	}
	p.log.Debug("inbound message", "sid", m.ProviderMessageID)
	return sdk.WebhookResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string][]string{"Content-Type": {"text/xml; charset=utf-8"}},
		Body:       []byte(emptyTwiML),
		Inbound:    []sdk.InboundMessage{m},
	}, nil
}

// formParams are the POST parameters of req, as the signature covers them. A body that is
// not a well-formed form still yields the parameters that parsed (so the signature check
// sees what was sent) along with the error.
func formParams(req sdk.WebhookRequest) (url.Values, error) {
	if ct := header(req.Headers, "Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return url.Values{}, fmt.Errorf("content type %.60q is not a form", ct)
		}
	}
	params, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return params, errors.New("malformed form body")
	}
	return params, nil
}

// parseStatusCallback reads a delivery report; ok is false for a status that says nothing
// about an outbound message's delivery (see statusOf).
func parseStatusCallback(params url.Values, now time.Time) (u sdk.StatusUpdate, ok bool, err error) {
	sid := first(params, "MessageSid", "SmsSid")
	status := first(params, "MessageStatus", "SmsStatus")
	if err := required("MessageSid", sid, "MessageStatus", status); err != nil {
		return sdk.StatusUpdate{}, false, err
	}
	u, ok = statusUpdate(sid, status, callbackErrorCode(params.Get("ErrorCode")), params.Get("ErrorMessage"), now)
	return u, ok, nil
}

// callbackErrorCode is a callback's ErrorCode as the sdk carries it: "" for none, and for 0,
// which is "no error" here as in the Messages API's error_code (twilioCode), so that a
// callback and a poll of the same message report the same code.
func callbackErrorCode(v string) string {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n == 0 {
		return ""
	}
	return v
}

// parseInbound reads an incoming message. Body may be empty (a message with only media).
func parseInbound(params url.Values, now time.Time) (sdk.InboundMessage, error) {
	m := sdk.InboundMessage{
		ProviderMessageID: first(params, "MessageSid", "SmsSid"),
		From:              params.Get("From"),
		To:                params.Get("To"),
		Text:              params.Get("Body"),
		At:                now,
	}
	if err := required("MessageSid", m.ProviderMessageID, "From", m.From, "To", m.To); err != nil {
		return sdk.InboundMessage{}, err
	}
	return m, nil
}

// required names the empty ones of its name, value pairs.
func required(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// first is the first non-empty one of the named parameters (Twilio sends both the current
// Message* names and the older Sms* ones).
func first(params url.Values, names ...string) string {
	for _, n := range names {
		if v := params.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// header is the first value of a header, whatever the case of its name in the map (the
// canonical spelling first, so the answer does not depend on map order).
func header(h map[string][]string, name string) string {
	if vs := h[http.CanonicalHeaderKey(name)]; len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func plainText(code int, body string) sdk.WebhookResponse {
	return sdk.WebhookResponse{
		StatusCode: code,
		Headers:    map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:       []byte(body + "\n"),
	}
}
