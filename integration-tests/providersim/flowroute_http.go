package providersim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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
	m.HandleFunc("POST /admin/latency", f.adminLatency)
	m.HandleFunc("POST /admin/fail", f.adminFail)
	m.HandleFunc("POST /admin/per_second", f.adminPerSecond)
	m.HandleFunc("POST /admin/rules", f.adminRules)
	m.HandleFunc("POST /admin/callback_mode", f.adminCallbackMode)
	m.HandleFunc("POST /admin/inbound_url", f.adminInboundURL)
	m.HandleFunc("POST /admin/inbound", f.adminInbound)
	m.HandleFunc("POST /admin/reset", func(w http.ResponseWriter, _ *http.Request) {
		f.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("GET /admin/messages", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, f.Messages())
	})
	m.HandleFunc("GET /admin/callbacks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, f.Callbacks())
	})
	m.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, f.Stats())
	})
	return m
}

// vendor wraps a vendor API handler with the latency knob and the Basic authentication.
func (f *Flowroute) vendor(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		d := f.latency
		f.mu.Unlock()
		if !waitLatency(r.Context(), d) {
			return
		}
		if !f.authorized(r) {
			if r.Method == http.MethodPost {
				f.countSend(FlowrouteOutcomeUnauthorized)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="Flowroute API"`)
			writeFlowrouteError(w, http.StatusUnauthorized, "Authentication failed: check your access key and secret key")
			return
		}
		h(w, r)
	}
}

func (f *Flowroute) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(f.opts.AccessKey)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(f.opts.SecretKey)) == 1
	return userOK && passOK
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
		u, err := url.Parse(out.DLRCallback)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
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

func (f *Flowroute) adminLatency(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Latency string `json:"latency"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := time.ParseDuration(req.Latency)
	if err != nil || d < 0 {
		writeError(w, http.StatusBadRequest, `latency: must be a duration such as "50ms"`)
		return
	}
	f.SetLatency(d)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// adminFail sets both fail knobs, with one kind; the Go methods set them apart.
func (f *Flowroute) adminFail(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Next       int     `json:"next"`
		Fraction   float64 `json:"fraction"`
		Kind       string  `json:"kind"`
		Seed       *uint64 `json:"seed"`
		RetryAfter string  `json:"retry_after"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	kind, err := failKind(req.Kind)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Next < 0 || req.Fraction < 0 || req.Fraction > 1 {
		writeError(w, http.StatusBadRequest, "next must be >= 0 and fraction in [0, 1]")
		return
	}
	var retryAfter time.Duration
	if req.RetryAfter != "" {
		if retryAfter, err = time.ParseDuration(req.RetryAfter); err != nil || retryAfter <= 0 {
			writeError(w, http.StatusBadRequest, `retry_after: must be a positive duration such as "2s"`)
			return
		}
	}
	if req.Seed != nil {
		f.Seed(*req.Seed)
	}
	if retryAfter > 0 {
		f.SetRetryAfter(retryAfter)
	}
	f.FailNext(req.Next, kind)
	f.FailFraction(req.Fraction, kind)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (f *Flowroute) adminPerSecond(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PerSecond *int `json:"per_second"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.PerSecond == nil || *req.PerSecond < 0 {
		writeError(w, http.StatusBadRequest, "per_second: required, >= 0 (0: no cap)")
		return
	}
	f.SetPerSecond(*req.PerSecond)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (f *Flowroute) adminRules(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Rules []FlowrouteRule `json:"rules"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := f.SetRules(req.Rules); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (f *Flowroute) adminCallbackMode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Mode  string `json:"mode"`
		Delay string `json:"delay"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var delay time.Duration
	if req.Delay != "" {
		var err error
		if delay, err = time.ParseDuration(req.Delay); err != nil {
			writeError(w, http.StatusBadRequest, `delay: must be a duration such as "100ms"`)
			return
		}
	}
	if err := f.SetCallbackMode(req.Mode, delay); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (f *Flowroute) adminInboundURL(w http.ResponseWriter, r *http.Request) {
	var req struct {
		URL string `json:"url"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writeError(w, http.StatusBadRequest, "url: must be an absolute http(s) URL")
		return
	}
	f.SetInboundURL(req.URL)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// adminInbound sends an inbound message (the legacy shape with "legacy": true) and answers
// with the receiver's answer; 400 for bad numbers, 409 when there is no inbound URL yet, 502
// when the receiver could not be reached.
func (f *Flowroute) adminInbound(w http.ResponseWriter, r *http.Request) {
	var req struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Body   string `json:"body"`
		Legacy bool   `json:"legacy"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !isFlowrouteNumber(strings.TrimPrefix(req.From, "+")) || !isFlowrouteNumber(strings.TrimPrefix(req.To, "+")) {
		writeError(w, http.StatusBadRequest, "from and to: required, 11 digits (a leading + is dropped)")
		return
	}
	if f.InboundURL() == "" {
		writeError(w, http.StatusConflict, "no inbound URL: POST /admin/inbound_url first")
		return
	}
	send := f.SendInbound
	if req.Legacy {
		send = f.SendLegacyInbound
	}
	status, body, err := send(r.Context(), req.From, req.To, req.Body)
	if err != nil && status == 0 {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "body": body})
}
