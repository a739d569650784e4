package providersim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/smsgw/smsgw/core/message"
)

const (
	// maxFlowrouteBody bounds a send call's body.
	maxFlowrouteBody      = 1 << 20
	flowrouteMessagesPath = "/v2.1/messages"
	jsonAPIType           = "application/vnd.api+json"
)

var _ http.Handler = (*Flowroute)(nil)

// ServeHTTP serves the vendor and admin APIs (see the comment at the top of flowroute.go).
func (f *Flowroute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.handler.ServeHTTP(w, r)
}

func (f *Flowroute) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST "+flowrouteMessagesPath, f.vendor(f.postMessage))
	m.HandleFunc("GET "+flowrouteMessagesPath+"/{id}", f.vendor(f.getMessage))
	handleCallbackAdmin(m, f)
	m.HandleFunc("POST /admin/per_second", f.adminPerSecond())
	m.HandleFunc("POST /admin/rules", adminRules(f.SetRules))
	m.HandleFunc("POST /admin/inbound", f.adminInbound())
	m.HandleFunc("GET /admin/messages", adminGet(f.Messages))
	m.HandleFunc("GET /admin/callbacks", adminGet(f.Callbacks))
	m.HandleFunc("GET /admin/stats", adminGet(f.Stats))
	return m
}

// vendor wraps a vendor API handler with the latency knob and the Basic authentication.
func (f *Flowroute) vendor(h http.HandlerFunc) http.HandlerFunc {
	return f.guard(h, f.authorized, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			f.countSend(FlowrouteOutcomeUnauthorized)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Flowroute API"`)
		writeFlowrouteError(w, http.StatusUnauthorized, "Authentication failed: check your access key and secret key")
	})
}

func (f *Flowroute) authorized(r *http.Request) bool {
	return basicAuthIs(r, f.opts.AccessKey, f.opts.SecretKey)
}

// countSend counts a send call that ended before send.
func (f *Flowroute) countSend(outcome string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends++
	f.outcomes[outcome]++
}

func (f *Flowroute) postMessage(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFlowrouteBody))
	if err != nil {
		f.countSend(FlowrouteOutcomeBadRequest)
		writeFlowrouteError(w, http.StatusBadRequest, "The request body could not be read (at most 1 MiB)")
		return
	}
	req, status, detail := decodeFlowrouteSend(raw)
	if status != 0 {
		outcome := FlowrouteOutcomeUnprocessable
		if status == http.StatusBadRequest {
			outcome = FlowrouteOutcomeBadRequest
		}
		f.countSend(outcome)
		writeFlowrouteError(w, status, detail)
		return
	}
	base := baseURL(r)
	d := f.send(base, req.To, req.From, req.Body, req.DLRCallback)
	switch d.outcome {
	case FlowrouteOutcomeUnavailable:
		writeFlowrouteError(w, http.StatusServiceUnavailable, "The messaging service is temporarily unavailable")
	case FlowrouteOutcomeRateLimited, FlowrouteOutcomeThrottled:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(d.retry)))
		writeFlowrouteError(w, http.StatusTooManyRequests, "Too many messages: slow down")
	case FlowrouteOutcomeRefused:
		writeFlowrouteError(w, d.status, d.detail)
	default:
		writeAPIJSON(w, http.StatusAccepted, frDocument{Data: frResource{
			Type: "message", ID: d.msg.ID, Links: map[string]string{"self": base + flowrouteMessagesPath + "/" + d.msg.ID},
		}})
	}
}

// frSendRequest is a decoded, valid send call.
type frSendRequest struct {
	To, From, Body, DLRCallback string
}

// decodeFlowrouteSend reads a send call's body: the flat {"to", "from", "body",
// "dlr_callback"} object, or the JSON:API resource {"data": {"type": "message",
// "attributes": {...}}}. It returns the HTTP status and detail of the first problem (400
// for a body that is not one JSON object, 422 for a bad field, in the order to, from, body,
// dlr_callback), or status 0.
func decodeFlowrouteSend(raw []byte) (frSendRequest, int, string) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return frSendRequest{}, http.StatusBadRequest, "The request body must be a JSON object"
	}
	fields := top
	if data, ok := top["data"]; ok {
		var res struct {
			Type       *string                    `json:"type"`
			Attributes map[string]json.RawMessage `json:"attributes"`
		}
		switch {
		case json.Unmarshal(data, &res) != nil || bytes.Equal(bytes.TrimSpace(data), []byte("null")):
			return frSendRequest{}, http.StatusUnprocessableEntity, "data: must be a message resource object"
		case res.Type != nil && *res.Type != "message":
			return frSendRequest{}, http.StatusUnprocessableEntity, fmt.Sprintf("data.type: %q must be message", *res.Type)
		case res.Attributes == nil:
			return frSendRequest{}, http.StatusUnprocessableEntity, "data.attributes: required"
		}
		fields = res.Attributes
	}
	var out frSendRequest
	for _, p := range []struct {
		name     string
		dst      *string
		required bool
	}{{"to", &out.To, true}, {"from", &out.From, true}, {"body", &out.Body, true}, {"dlr_callback", &out.DLRCallback, false}} {
		v, ok := fields[p.name]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			if p.required {
				return frSendRequest{}, http.StatusUnprocessableEntity, p.name + ": required"
			}
			continue
		}
		if err := json.Unmarshal(v, p.dst); err != nil {
			return frSendRequest{}, http.StatusUnprocessableEntity, p.name + ": must be a string"
		}
		if p.required && *p.dst == "" {
			return frSendRequest{}, http.StatusUnprocessableEntity, p.name + ": must not be empty"
		}
		if (p.name == "to" || p.name == "from") && !isFlowrouteNumber(*p.dst) {
			return frSendRequest{}, http.StatusUnprocessableEntity,
				fmt.Sprintf("%s: %q must be an 11-digit number without +, e.g. 12065551234", p.name, *p.dst)
		}
	}
	if out.DLRCallback != "" {
		if !isHTTPURL(out.DLRCallback) {
			return frSendRequest{}, http.StatusUnprocessableEntity, "dlr_callback: must be an absolute http(s) URL"
		}
	}
	return out, 0, ""
}

// baseURL is the vendor API's base URL as r reached it, for the resources' links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (f *Flowroute) getMessage(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.fetches++
	f.mu.Unlock()
	m, ok := f.Message(r.PathValue("id"))
	if !ok {
		writeFlowrouteError(w, http.StatusNotFound, fmt.Sprintf("No message record %q", r.PathValue("id")))
		return
	}
	writeAPIJSON(w, http.StatusOK, frDocument{Data: frResource{
		Type: "message", ID: m.ID, Attributes: f.mdrAttributes(m),
		Links: map[string]string{"self": baseURL(r) + flowrouteMessagesPath + "/" + m.ID},
	}})
}

// frMDRAttributes are the attributes of an outbound message detail record (MDR2).
type frMDRAttributes struct {
	AmountDisplay     string          `json:"amount_display"`
	AmountNanodollars int64           `json:"amount_nanodollars"`
	Body              string          `json:"body"`
	DeliveryReceipts  []frWireReceipt `json:"delivery_receipts"` // newest first
	Direction         string          `json:"direction"`
	From              string          `json:"from"`
	IsMMS             bool            `json:"is_mms"`
	MessageEncoding   int             `json:"message_encoding"` // 0 GSM/UTF-8, 8 UCS-2
	MessageType       string          `json:"message_type"`
	Status            string          `json:"status"`
	Timestamp         string          `json:"timestamp"`
	To                string          `json:"to"`
}

// frWireReceipt is a receipt as an MDR lists it: there, status_code is a number or null.
type frWireReceipt struct {
	Level       int    `json:"level"`
	Status      string `json:"status"`
	StatusCode  *int   `json:"status_code"`
	Description string `json:"status_code_description"`
	Timestamp   string `json:"timestamp"`
}

func (f *Flowroute) mdrAttributes(m FlowrouteMessage) frMDRAttributes {
	encoding := 0
	if _, enc := message.Segments(m.Body); enc == message.UCS2 {
		encoding = 8
	}
	rs := make([]frWireReceipt, 0, len(m.Receipts))
	for _, r := range slices.Backward(m.Receipts) {
		wr := frWireReceipt{Level: r.Level, Status: r.Status, Description: r.Description, Timestamp: r.Timestamp.UTC().Format(flowrouteTime)}
		if n, err := strconv.Atoi(r.StatusCode); err == nil { // the rules keep codes to 9 digits
			wr.StatusCode = &n
		}
		rs = append(rs, wr)
	}
	return frMDRAttributes{
		AmountDisplay: formatNanodollars(f.opts.PriceNanodollars), AmountNanodollars: f.opts.PriceNanodollars,
		Body: m.Body, DeliveryReceipts: rs, Direction: "outbound", From: m.From, MessageEncoding: encoding,
		MessageType: "longcode", Status: m.Status, Timestamp: m.Timestamp.UTC().Format(flowrouteTime), To: m.To,
	}
}

// writeFlowrouteError writes Flowroute's JSON:API error document with one error.
func writeFlowrouteError(w http.ResponseWriter, status int, detail string) {
	writeAPIJSON(w, status, map[string]any{"errors": []map[string]any{{
		"id": newErrorID(), "status": status, "title": http.StatusText(status), "detail": detail,
	}}})
}

func writeAPIJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", jsonAPIType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newErrorID is an error's id, a UUID-shaped random string as Flowroute's are.
func newErrorID() string {
	id := newMDRID()[len("mdr2-"):]
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// adminPerSecond is POST /admin/per_second {"per_second": 5} (0: no cap).
func (f *Flowroute) adminPerSecond() http.HandlerFunc {
	return adminJSON(func(req struct {
		PerSecond *int `json:"per_second"`
	}) error {
		if req.PerSecond == nil || *req.PerSecond < 0 {
			return errors.New("per_second: required, >= 0 (0: no cap)")
		}
		f.SetPerSecond(*req.PerSecond)
		return nil
	})
}

// adminInbound sends an inbound message (the legacy shape with "legacy": true) and answers
// with the receiver's answer (see adminInbound); 400 for bad numbers.
func (f *Flowroute) adminInbound() http.HandlerFunc {
	type request struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Body   string `json:"body"`
		Legacy bool   `json:"legacy"`
	}
	return adminInbound(func(req request) error {
		if !isFlowrouteNumber(strings.TrimPrefix(req.From, "+")) || !isFlowrouteNumber(strings.TrimPrefix(req.To, "+")) {
			return errors.New("from and to: required, 11 digits (a leading + is dropped)")
		}
		return nil
	}, f.InboundURL, func(ctx context.Context, req request) (int, string, error) {
		return f.sendInbound(ctx, req.From, req.To, req.Body, req.Legacy)
	})
}
