package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

// The webhook paths under /webhooks/<provider>/<webhook_token>.
const (
	inboundPath = "/inbound" // the number's SMS callback
	dlrPath     = "/dlr"     // delivery receipts (the dlr_callback of every send)
)

// HandleWebhook answers Flowroute's JSON callbacks. Flowroute signs nothing, so the token in
// the path is all that stands between the gateway and a forged message or receipt: a path
// whose token is not ours, or that is not one of ours, gets a bare 404 (no hint that the
// provider or the token exists), whatever the method.
func (p *provider) HandleWebhook(_ context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	cfg, _, err := p.state()
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	kind, ok := route(cfg.webhookToken, req.Path)
	if !ok {
		// Neither the path nor the token is logged: a near miss may be a real token.
		p.log.Warn("webhook refused: unknown path or token")
		return plainText(http.StatusNotFound, "not found"), nil
	}
	if req.Method != http.MethodPost {
		resp := plainText(http.StatusMethodNotAllowed, "method not allowed")
		resp.Headers["Allow"] = []string{http.MethodPost}
		return resp, nil
	}
	now := p.now().UTC()
	if kind == dlrPath {
		u, ok, err := parseDLR(req.Body, now)
		if err != nil {
			return plainText(http.StatusBadRequest, err.Error()), nil
		}
		resp := sdk.WebhookResponse{StatusCode: http.StatusOK}
		if ok {
			u.MessageID = httpcall.CallbackMessageID(req.URL)
			resp.Statuses = []sdk.StatusUpdate{u}
			p.log.Debug("delivery receipt", "mdr", u.ProviderMessageID, "status", u.Status, "error_code", u.ErrorCode)
		} else {
			p.log.Debug("delivery receipt ignored: a status that says nothing about delivery")
		}
		return resp, nil
	}
	m, err := parseInbound(req.Body, now)
	if err != nil {
		return plainText(http.StatusBadRequest, err.Error()), nil
	}
	p.log.Debug("inbound message", "mdr", m.ProviderMessageID)
	return sdk.WebhookResponse{StatusCode: http.StatusOK, Inbound: []sdk.InboundMessage{m}}, nil
}

// route says which webhook path is "/<token>/inbound" or "/<token>/dlr"; ok is false for
// any other path. The token is compared in constant time, over digests so that not even its
// length shows.
func route(token, path string) (kind string, ok bool) {
	rest, found := strings.CutPrefix(path, "/")
	if !found {
		return "", false
	}
	got, sub, found := strings.Cut(rest, "/")
	if !found || (sub != "inbound" && sub != "dlr") {
		return "", false
	}
	want, have := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
		return "", false
	}
	return "/" + sub, true
}

// resource is one JSON:API resource of a callback, its attributes left raw for the kind.
type resource struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Attributes json.RawMessage `json:"attributes"`
}

// parseDocument reads {"data": {...}}; hasData is false for a JSON object without "data"
// (the legacy inbound shape).
func parseDocument(body []byte) (res resource, hasData bool, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return resource{}, false, errors.New("body: must be a JSON object")
	}
	data, ok := top["data"]
	if !ok {
		return resource{}, false, nil
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) || json.Unmarshal(data, &res) != nil {
		return resource{}, true, errors.New("data: must be a JSON:API resource object")
	}
	return res, true, nil
}

// parseDLR reads a delivery_receipt callback; ok is false for a status that says nothing
// about an outbound message's delivery (see statusOf).
func parseDLR(body []byte, now time.Time) (sdk.StatusUpdate, bool, error) {
	res, hasData, err := parseDocument(body)
	switch {
	case err != nil:
		return sdk.StatusUpdate{}, false, err
	case !hasData:
		return sdk.StatusUpdate{}, false, errors.New("data: required (a delivery_receipt resource)")
	case res.Type != "delivery_receipt":
		return sdk.StatusUpdate{}, false, fmt.Errorf("data.type: %.40q must be delivery_receipt", res.Type)
	case res.ID == "":
		return sdk.StatusUpdate{}, false, errors.New("data.id: required")
	}
	var r receiptAttr
	if err := decodeAttributes(res.Attributes, &r); err != nil {
		return sdk.StatusUpdate{}, false, err
	}
	if strings.TrimSpace(r.Status) == "" {
		return sdk.StatusUpdate{}, false, errors.New("data.attributes.status: required")
	}
	u, ok := receiptUpdate(res.ID, r, now)
	return u, ok, nil
}

// inboundFields are the fields of an inbound SMS, in either shape.
type inboundFields struct {
	To        *string `json:"to"`
	From      *string `json:"from"`
	Body      *string `json:"body"`
	Timestamp string  `json:"timestamp"`
}

// parseInbound reads an inbound SMS callback: the JSON:API message resource, or the legacy
// {"to", "from", "body"} (which has no id to dedupe on). Both numbers become E.164.
func parseInbound(body []byte, now time.Time) (sdk.InboundMessage, error) {
	res, hasData, err := parseDocument(body)
	if err != nil {
		return sdk.InboundMessage{}, err
	}
	var f inboundFields
	prefix := ""
	if hasData {
		switch {
		case res.Type != "message":
			return sdk.InboundMessage{}, fmt.Errorf("data.type: %.40q must be message", res.Type)
		case res.ID == "":
			return sdk.InboundMessage{}, errors.New("data.id: required")
		}
		prefix = "data.attributes."
		if err := decodeAttributes(res.Attributes, &f); err != nil {
			return sdk.InboundMessage{}, err
		}
	} else if err := decodeFields(body, &f, ""); err != nil {
		return sdk.InboundMessage{}, err
	}
	m := sdk.InboundMessage{ProviderMessageID: res.ID, At: now}
	for _, n := range []struct {
		field string
		in    *string
		out   *string
	}{{"from", f.From, &m.From}, {"to", f.To, &m.To}} {
		if n.in == nil {
			return sdk.InboundMessage{}, fmt.Errorf("%s%s: required", prefix, n.field)
		}
		number, ok := e164(*n.in)
		if !ok {
			return sdk.InboundMessage{}, fmt.Errorf("%s%s: %.20q is not an 11-digit number", prefix, n.field, *n.in)
		}
		*n.out = number
	}
	if f.Body != nil {
		m.Text = *f.Body // may be empty: an MMS with media only
	}
	if hasData {
		m.At = parseTime(f.Timestamp, now)
	}
	return m, nil
}

// decodeAttributes reads a resource's attributes object into dst, naming the field at fault.
func decodeAttributes(raw json.RawMessage, dst any) error {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return errors.New("data.attributes: required")
	}
	return decodeFields(raw, dst, "data.attributes.")
}

// decodeFields reads a JSON object into dst; a field of the wrong type is named, after
// prefix.
func decodeFields(raw []byte, dst any, prefix string) error {
	err := json.Unmarshal(raw, dst)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("%s%s: a JSON %s is the wrong type", prefix, te.Field, te.Value)
	case prefix == "":
		return fmt.Errorf("body: %v", err)
	}
	return fmt.Errorf("%s %v", strings.TrimSuffix(prefix, "."), err)
}

func plainText(code int, body string) sdk.WebhookResponse {
	return sdk.WebhookResponse{
		StatusCode: code,
		Headers:    map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:       []byte(body + "\n"),
	}
}
