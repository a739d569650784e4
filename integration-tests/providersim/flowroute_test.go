package providersim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	frKey    = "fr-access-key"
	frSecret = "fr-s3cret"
	frFrom   = "15550001111"
)

// newFlowrouteServer serves a fresh Flowroute simulator with the test credentials and no
// per-second cap unless opts sets one.
func newFlowrouteServer(t *testing.T, opts FlowrouteOptions) (*Flowroute, *httptest.Server) {
	t.Helper()
	if opts.AccessKey == "" {
		opts.AccessKey = frKey
	}
	if opts.SecretKey == "" {
		opts.SecretKey = frSecret
	}
	if opts.PerSecond == 0 {
		opts.PerSecond = -1
	}
	if opts.CallbackBackoff == 0 {
		opts.CallbackBackoff = time.Millisecond
	}
	sim := NewFlowroute(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close() // stops the callbacks first, so no goroutine outlives the test
		srv.Close()
	})
	return sim, srv
}

// frCall makes one call with the given Basic credentials (none when user is "") and raw
// body (none when "").
func frCall(t *testing.T, method, rawURL, user, pass, body string) twResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.api+json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return twResponse{status: resp.StatusCode, body: b, header: resp.Header}
}

func frSendBody(to, body, callback string) string {
	m := map[string]string{"to": to, "from": frFrom, "body": body}
	if callback != "" {
		m["dlr_callback"] = callback
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func frPost(t *testing.T, srv *httptest.Server, body string) twResponse {
	t.Helper()
	return frCall(t, "POST", srv.URL+"/v2.1/messages", frKey, frSecret, body)
}

type frAccepted struct {
	Data struct {
		ID    string            `json:"id"`
		Type  string            `json:"type"`
		Links map[string]string `json:"links"`
	} `json:"data"`
}

// frSend sends a message and returns its id; it fails the test unless 202.
func frSend(t *testing.T, srv *httptest.Server, to, body, callback string) string {
	t.Helper()
	r := frPost(t, srv, frSendBody(to, body, callback))
	if r.status != http.StatusAccepted {
		t.Fatalf("send to %s = %d %s, want 202", to, r.status, r.body)
	}
	var a frAccepted
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("202 body %s: %v", r.body, err)
	}
	return a.Data.ID
}

type frErrorDoc struct {
	Errors []struct {
		ID     string `json:"id"`
		Status int    `json:"status"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// checkFlowrouteError checks r is Flowroute's error document with status, and returns its
// detail.
func checkFlowrouteError(t *testing.T, r twResponse, status int) string {
	t.Helper()
	var e frErrorDoc
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if r.status != status || len(e.Errors) != 1 || e.Errors[0].Status != status || e.Errors[0].Title != http.StatusText(status) ||
		e.Errors[0].Detail == "" || !uuidPattern.MatchString(e.Errors[0].ID) {
		t.Errorf("answer %d %s, want %d with Flowroute's error document", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != jsonAPIType {
		t.Errorf("Content-Type %q, want %s", ct, jsonAPIType)
	}
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Detail
}

var (
	mdrPattern  = regexp.MustCompile(`^mdr2-[0-9a-f]{32}$`)
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func TestFlowrouteSendRefused(t *testing.T) {
	ok := frSendBody("15551230000", "hi", "")
	tests := []struct {
		name        string
		user, pass  string
		body        string
		wantStatus  int
		wantDetail  string // a part of the detail
		wantOutcome string
	}{
		{"no credentials", "", "", ok, 401, "Authentication", FlowrouteOutcomeUnauthorized},
		{"wrong secret", frKey, "nope", ok, 401, "Authentication", FlowrouteOutcomeUnauthorized},
		{"wrong key", "other", frSecret, ok, 401, "Authentication", FlowrouteOutcomeUnauthorized},
		{"not JSON", frKey, frSecret, `to=1`, 400, "JSON object", FlowrouteOutcomeBadRequest},
		{"a JSON array", frKey, frSecret, `[]`, 400, "JSON object", FlowrouteOutcomeBadRequest},
		{"JSON null", frKey, frSecret, `null`, 400, "JSON object", FlowrouteOutcomeBadRequest},
		{"two objects", frKey, frSecret, ok + ok, 400, "JSON object", FlowrouteOutcomeBadRequest},
		{"empty object", frKey, frSecret, `{}`, 422, "to: required", FlowrouteOutcomeUnprocessable},
		{"missing from", frKey, frSecret, `{"to": "15551230000", "body": "x"}`, 422, "from: required", FlowrouteOutcomeUnprocessable},
		{"missing body", frKey, frSecret, `{"to": "15551230000", "from": "` + frFrom + `"}`, 422, "body: required", FlowrouteOutcomeUnprocessable},
		{"null body", frKey, frSecret, `{"to": "15551230000", "from": "` + frFrom + `", "body": null}`, 422, "body: required", FlowrouteOutcomeUnprocessable},
		{"empty body", frKey, frSecret, frSendBody("15551230000", "", ""), 422, "body: must not be empty", FlowrouteOutcomeUnprocessable},
		{"to a number", frKey, frSecret, `{"to": 15551230000, "from": "` + frFrom + `", "body": "x"}`, 422, "to: must be a string", FlowrouteOutcomeUnprocessable},
		{"to with a plus", frKey, frSecret, frSendBody("+15551230000", "x", ""), 422, "11-digit", FlowrouteOutcomeUnprocessable},
		{"to of 10 digits", frKey, frSecret, frSendBody("5551230000", "x", ""), 422, "11-digit", FlowrouteOutcomeUnprocessable},
		{"to of 12 digits", frKey, frSecret, frSendBody("447700900123", "x", ""), 422, "11-digit", FlowrouteOutcomeUnprocessable},
		{"from alphanumeric", frKey, frSecret, `{"to": "15551230000", "from": "ACME", "body": "x"}`, 422, "from:", FlowrouteOutcomeUnprocessable},
		{"relative dlr_callback", frKey, frSecret, frSendBody("15551230000", "x", "/dlr"), 422, "dlr_callback", FlowrouteOutcomeUnprocessable},
		{"ftp dlr_callback", frKey, frSecret, frSendBody("15551230000", "x", "ftp://gw/dlr"), 422, "dlr_callback", FlowrouteOutcomeUnprocessable},
		{"dlr_callback a number", frKey, frSecret, `{"to": "15551230000", "from": "` + frFrom + `", "body": "x", "dlr_callback": 1}`, 422, "dlr_callback: must be a string", FlowrouteOutcomeUnprocessable},
		{"data not an object", frKey, frSecret, `{"data": "x"}`, 422, "data:", FlowrouteOutcomeUnprocessable},
		{"data null", frKey, frSecret, `{"data": null}`, 422, "data:", FlowrouteOutcomeUnprocessable},
		{"data of another type", frKey, frSecret, `{"data": {"type": "route", "attributes": {}}}`, 422, "data.type", FlowrouteOutcomeUnprocessable},
		{"data without attributes", frKey, frSecret, `{"data": {"type": "message"}}`, 422, "data.attributes", FlowrouteOutcomeUnprocessable},
		{"data with a bad to", frKey, frSecret, `{"data": {"type": "message", "attributes": {"to": "1", "from": "` + frFrom + `", "body": "x"}}}`, 422, "to:", FlowrouteOutcomeUnprocessable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv := newFlowrouteServer(t, FlowrouteOptions{})
			r := frCall(t, "POST", srv.URL+"/v2.1/messages", tt.user, tt.pass, tt.body)
			if detail := checkFlowrouteError(t, r, tt.wantStatus); !strings.Contains(detail, tt.wantDetail) {
				t.Errorf("detail %q, want it to mention %q", detail, tt.wantDetail)
			}
			if tt.wantStatus == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if got := sim.Messages(); len(got) != 0 {
				t.Errorf("a refused call accepted %v", got)
			}
			if st := sim.Stats(); st.Sends != 1 || st.ByOutcome[tt.wantOutcome] != 1 || st.Pending != 0 {
				t.Errorf("stats %+v, want one %s send and nothing pending", st, tt.wantOutcome)
			}
		})
	}
}

func TestFlowrouteSendAccepted(t *testing.T) {
	now := time.Date(2024, 3, 5, 7, 8, 9, 120_000_000, time.UTC)
	tests := []struct {
		name string
		body string
	}{
		{"flat", `{"to": "15551230000", "from": "` + frFrom + `", "body": "hello", "dlr_callback": "https://gw.example/dlr?message_id=m1", "media_urls": []}`},
		{"JSON:API", `{"data": {"type": "message", "attributes": {"to": "15551230000", "from": "` + frFrom +
			`", "body": "hello", "dlr_callback": "https://gw.example/dlr?message_id=m1", "is_mms": false}}}`},
		{"JSON:API without type", `{"data": {"attributes": {"to": "15551230000", "from": "` + frFrom +
			`", "body": "hello", "dlr_callback": "https://gw.example/dlr?message_id=m1"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv := newFlowrouteServer(t, FlowrouteOptions{Now: func() time.Time { return now }})
			// Held queued by the delay, so the record is the one of a fresh message.
			must(t, sim.SetCallbackMode(CallbackNormal, time.Hour))
			r := frPost(t, srv, tt.body)
			if r.status != http.StatusAccepted {
				t.Fatalf("send = %d %s, want 202", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != jsonAPIType {
				t.Errorf("Content-Type %q", ct)
			}
			var a frAccepted
			if err := json.Unmarshal(r.body, &a); err != nil {
				t.Fatal(err)
			}
			if !mdrPattern.MatchString(a.Data.ID) || a.Data.Type != "message" || a.Data.Links["self"] != srv.URL+"/v2.1/messages/"+a.Data.ID {
				t.Errorf("202 body %s, want an mdr2- id, type message and a self link", r.body)
			}
			msgs := sim.Messages()
			want := FlowrouteMessage{ID: a.Data.ID, To: "15551230000", From: frFrom, Body: "hello", Status: "queued",
				DLRCallback: "https://gw.example/dlr?message_id=m1", Receipts: []FlowrouteReceipt{}, Timestamp: now}
			if len(msgs) != 1 || fmt.Sprint(msgs[0]) != fmt.Sprint(want) {
				t.Errorf("Messages() = %+v, want [%+v]", msgs, want)
			}
			if n, np := sim.Count("15551230000"), sim.Count("+15551230000"); n != 1 || np != 1 {
				t.Errorf("Count = %d, %d (with +), want 1", n, np)
			}
			if st := sim.Stats(); st.Sends != 1 || st.ByOutcome[FlowrouteOutcomeAccepted] != 1 || st.Pending != 1 || st.ByStatus["queued"] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// frMDR decodes a message detail record as a client would, keeping nulls visible.
type frMDR struct {
	Data struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			AmountDisplay     string `json:"amount_display"`
			AmountNanodollars int64  `json:"amount_nanodollars"`
			Body              string `json:"body"`
			DeliveryReceipts  []struct {
				Level       int             `json:"level"`
				Status      string          `json:"status"`
				StatusCode  json.RawMessage `json:"status_code"`
				Description string          `json:"status_code_description"`
				Timestamp   string          `json:"timestamp"`
			} `json:"delivery_receipts"`
			Direction       string `json:"direction"`
			From            string `json:"from"`
			IsMMS           bool   `json:"is_mms"`
			MessageEncoding int    `json:"message_encoding"`
			MessageType     string `json:"message_type"`
			Status          string `json:"status"`
			Timestamp       string `json:"timestamp"`
			To              string `json:"to"`
		} `json:"attributes"`
		Links map[string]string `json:"links"`
	} `json:"data"`
}

func frLookup(t *testing.T, srv *httptest.Server, id string) frMDR {
	t.Helper()
	r := frCall(t, "GET", srv.URL+"/v2.1/messages/"+id, frKey, frSecret, "")
	if r.status != http.StatusOK {
		t.Fatalf("lookup %s = %d %s, want 200", id, r.status, r.body)
	}
	var m frMDR
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode MDR %s: %v", r.body, err)
	}
	return m
}

func TestFlowrouteLookup(t *testing.T) {
	now := time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
	sim, srv := newFlowrouteServer(t, FlowrouteOptions{Now: func() time.Time { return now }})
	must(t, sim.SetRules([]FlowrouteRule{
		{Pattern: "1555666*", Status: FlowrouteUndeliverable, StatusCode: "1234", Description: "Handset off"},
		{Pattern: "+1555777*", Status: FlowrouteSMSCReject}, // the + is ignored
	}))
	must(t, sim.SetCallbackMode(CallbackOff, 0))
	delivered := frSend(t, srv, "15551230000", "hello", "")
	undeliverable := frSend(t, srv, "15556660001", "жжж", "")
	rejected := frSend(t, srv, "15557770001", "x", "")
	// With callbacks off the receipts still come: lookups see them.
	must(t, sim.WaitIdle(t.Context()))
	type receipt struct {
		level        int
		status, code string // code as JSON
	}
	tests := []struct {
		name     string
		id       string
		status   string
		receipts []receipt // newest first
		encoding int
	}{
		{"delivered", delivered, "delivered", []receipt{{2, "delivered", "1000"}, {1, "smsc submit", "null"}}, 0},
		{"undeliverable", undeliverable, "undeliverable", []receipt{{2, "undeliverable", "1234"}, {1, "smsc submit", "null"}}, 8},
		{"smsc reject", rejected, "smsc reject", []receipt{{1, "smsc reject", "1104"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := frLookup(t, srv, tt.id)
			a := m.Data.Attributes
			if m.Data.ID != tt.id || m.Data.Type != "message" || a.Status != tt.status || a.Direction != "outbound" ||
				a.From != frFrom || a.MessageEncoding != tt.encoding || a.MessageType != "longcode" || a.IsMMS ||
				a.AmountNanodollars != 4_000_000 || a.AmountDisplay != "$0.0040" || a.Timestamp != "2024-03-05T07:08:09.00Z" ||
				m.Data.Links["self"] != srv.URL+"/v2.1/messages/"+tt.id {
				t.Errorf("MDR %+v", m)
			}
			var got []receipt
			for _, r := range a.DeliveryReceipts {
				got = append(got, receipt{r.Level, r.Status, string(r.StatusCode)})
				if r.Description == "" || r.Timestamp != "2024-03-05T07:08:09.00Z" {
					t.Errorf("receipt %+v", r)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.receipts) {
				t.Errorf("receipts %v, want %v", got, tt.receipts)
			}
		})
	}
	if d := frLookup(t, srv, undeliverable).Data.Attributes.DeliveryReceipts[0].Description; d != "Handset off" {
		t.Errorf("the rule's description: %q", d)
	}
	t.Run("not found", func(t *testing.T) {
		id := "mdr2-" + strings.Repeat("0", 32)
		if d := checkFlowrouteError(t, frCall(t, "GET", srv.URL+"/v2.1/messages/"+id, frKey, frSecret, ""), 404); !strings.Contains(d, id) {
			t.Errorf("404 detail %q does not name the record", d)
		}
	})
	t.Run("unauthorized", func(t *testing.T) {
		checkFlowrouteError(t, frCall(t, "GET", srv.URL+"/v2.1/messages/"+delivered, frKey, "bad", ""), 401)
	})
	if st := sim.Stats(); st.Fetches < 5 || st.ByStatus[FlowrouteDelivered] != 1 || st.ByStatus[FlowrouteUndeliverable] != 1 ||
		st.ByStatus[FlowrouteSMSCReject] != 1 || st.Sends != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestFlowrouteRules(t *testing.T) {
	sim, srv := newFlowrouteServer(t, FlowrouteOptions{})
	must(t, sim.SetCallbackMode(CallbackOff, 0))
	must(t, sim.SetRules([]FlowrouteRule{
		{Pattern: "15550000001", Refuse: true},
		{Pattern: "1555000*", Refuse: true, HTTPStatus: 403, Detail: "From number not enabled for this destination"},
		{Pattern: "1555666*", Status: FlowrouteExpired},    // default code
		{Pattern: "15556660*", Status: FlowrouteDelivered}, // shadowed: the first match wins
		{Pattern: "1555777*", Status: FlowrouteRejected},
		{Pattern: "1555888*", Status: FlowrouteFailed},
	}))
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			to     string
			status int
			detail string
		}{
			{"15550000001", 422, "The message was refused for this destination"},
			{"15550000002", 403, "From number not enabled for this destination"},
		} {
			if d := checkFlowrouteError(t, frPost(t, srv, frSendBody(tc.to, "x", "https://gw.example/dlr")), tc.status); d != tc.detail {
				t.Errorf("refusal detail %q, want %q", d, tc.detail)
			}
			if n := sim.Count(tc.to); n != 0 {
				t.Errorf("Count(%s) = %d after a refusal", tc.to, n)
			}
		}
		if st := sim.Stats(); st.Messages != 0 || st.ByOutcome[FlowrouteOutcomeRefused] != 2 || st.Pending != 0 {
			t.Errorf("stats %+v, want 2 refusals and nothing accepted", st)
		}
	})
	t.Run("fates", func(t *testing.T) {
		want := map[string][2]string{
			"15556660001": {FlowrouteExpired, "1101"},
			"15557770001": {FlowrouteRejected, "1102"},
			"15558880001": {FlowrouteFailed, "1103"},
			"15559990001": {FlowrouteDelivered, "1000"},
		}
		ids := map[string]string{}
		for to := range want {
			ids[to] = frSend(t, srv, to, "x", "")
		}
		must(t, sim.WaitIdle(t.Context()))
		for to, w := range want {
			m, ok := sim.Message(ids[to])
			if !ok || m.Status != w[0] || len(m.Receipts) != 2 || m.Receipts[1].StatusCode != w[1] || m.Receipts[1].Level != 2 ||
				m.Receipts[0].Status != FlowrouteSMSCSubmit || m.Receipts[1].Description == "" {
				t.Errorf("message to %s: %+v, want %s with code %s", to, m, w[0], w[1])
			}
		}
	})
	t.Run("bad rules are refused and change nothing", func(t *testing.T) {
		for _, bad := range [][]FlowrouteRule{
			{{Pattern: "", Status: FlowrouteDelivered}},
			{{Pattern: "+", Status: FlowrouteDelivered}},
			{{Pattern: "1*5", Status: FlowrouteDelivered}},
			{{Pattern: "1", Status: "lost"}},
			{{Pattern: "1", Status: FlowrouteBuffered}}, // not final
			{{Pattern: "1"}},
			{{Pattern: "1", Status: FlowrouteFailed, StatusCode: "12a"}},
			{{Pattern: "1", Status: FlowrouteFailed, StatusCode: "1234567890"}},
			{{Pattern: "1", Refuse: true, HTTPStatus: 500}},
			{{Pattern: "1", Status: FlowrouteDelivered}, {Pattern: "*x*", Status: FlowrouteDelivered}},
		} {
			if err := sim.SetRules(bad); err == nil {
				t.Errorf("SetRules(%+v) succeeded", bad)
			}
		}
		checkFlowrouteError(t, frPost(t, srv, frSendBody("15550000001", "x", "")), 422)
	})
}

// frReceiptDoc is a delivery_receipt callback as a receiver decodes it.
type frReceiptDoc struct {
	Data struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		Attributes struct {
			Body        string  `json:"body"`
			Level       int     `json:"level"`
			Status      string  `json:"status"`
			StatusCode  *string `json:"status_code"`
			Description string  `json:"status_code_description"`
			Timestamp   string  `json:"timestamp"`
		} `json:"attributes"`
		Links map[string]string `json:"links"`
	} `json:"data"`
}

func decodeReceipt(t *testing.T, body []byte) frReceiptDoc {
	t.Helper()
	var d frReceiptDoc
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("callback body %s: %v", body, err)
	}
	return d
}

// receiptsByID groups "level:status" of callbacks by message, in arrival order.
func receiptsByID(t *testing.T, reqs []receivedRequest) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range reqs {
		d := decodeReceipt(t, r.body)
		out[d.Data.ID] = append(out[d.Data.ID], fmt.Sprintf("%d:%s", d.Data.Attributes.Level, d.Data.Attributes.Status))
	}
	return out
}

func TestFlowrouteCallbackModes(t *testing.T) {
	type fate struct {
		to     string
		code   string   // the final receipt's status_code
		normal []string // the callbacks in order
	}
	fates := []fate{
		{"15551230000", "1000", []string{"1:smsc submit", "2:delivered"}},
		{"15556660000", "1100", []string{"1:smsc submit", "2:undeliverable"}},
		{"15557770000", "1104", []string{"1:smsc reject"}},
	}
	tests := []struct {
		mode string
		want func([]string) []string
	}{
		{CallbackNormal, func(s []string) []string { return s }},
		{CallbackTwice, func(s []string) []string {
			var out []string
			for _, x := range s {
				out = append(out, x, x)
			}
			return out
		}},
		{CallbackOutOfOrder, func(s []string) []string {
			out := slices.Clone(s)
			slices.Reverse(out)
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			now := time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
			sim, srv := newFlowrouteServer(t, FlowrouteOptions{Now: func() time.Time { return now }})
			rc := newReceiver(t, nil)
			must(t, sim.SetRules([]FlowrouteRule{
				{Pattern: "1555666*", Status: FlowrouteUndeliverable},
				{Pattern: "1555777*", Status: FlowrouteSMSCReject},
			}))
			must(t, sim.SetCallbackMode(tt.mode, 0))
			cbURL := rc.srv.URL + "/webhooks/flowroute/tok/dlr?message_id=m1"
			want := map[string][]string{}
			total := 0
			for _, f := range fates {
				id := frSend(t, srv, f.to, "hi "+f.to, cbURL)
				want[id] = tt.want(f.normal)
				total += len(want[id])
			}
			must(t, sim.WaitCallbacks(t.Context(), total))
			must(t, sim.WaitIdle(t.Context()))
			reqs := rc.requests()
			if len(reqs) != total {
				t.Fatalf("%d callbacks, want %d", len(reqs), total)
			}
			if got := receiptsByID(t, reqs); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("callbacks by message\n%v\nwant\n%v", got, want)
			}
			for _, req := range reqs {
				if req.url != cbURL || req.header.Get("Content-Type") != "application/json" {
					t.Errorf("posted to %s as %q, want %s as JSON", req.url, req.header.Get("Content-Type"), cbURL)
				}
				d := decodeReceipt(t, req.body).Data
				a := d.Attributes
				f := fates[slices.IndexFunc(fates, func(f fate) bool { return a.Body == "hi "+f.to })]
				if d.Type != "delivery_receipt" || !mdrPattern.MatchString(d.ID) || d.Links["related"] != srv.URL+"/v2.1/messages/"+d.ID ||
					a.Timestamp != "2024-03-05T07:08:09.00Z" || a.Description == "" {
					t.Errorf("callback %s", req.body)
				}
				switch {
				case a.Status == FlowrouteSMSCSubmit && a.StatusCode != nil:
					t.Errorf("level 1 submit with status_code %q, want null", *a.StatusCode)
				case a.Status != FlowrouteSMSCSubmit && (a.StatusCode == nil || *a.StatusCode != f.code):
					t.Errorf("final receipt %s, want status_code %q", req.body, f.code)
				}
			}
			recs := sim.Callbacks()
			if len(recs) != total {
				t.Fatalf("%d callback records, want %d", len(recs), total)
			}
			for i, c := range recs {
				d := decodeReceipt(t, c.Body).Data
				if c.Seq != i+1 || !c.OK() || c.Attempt != 1 || c.Dropped || c.URL != cbURL || c.Error != "" ||
					d.ID != c.MessageID || d.Attributes.Level != c.Level || d.Attributes.Status != c.DeliveryStatus {
					t.Errorf("record %d: %+v", i, c)
				}
			}
			if st := sim.Stats(); st.Callbacks != total || st.CallbacksOK != total || st.CallbacksDropped != 0 || st.Pending != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestFlowrouteCallbacksOff(t *testing.T) {
	sim, srv := newFlowrouteServer(t, FlowrouteOptions{})
	rc := newReceiver(t, nil)
	// A message keeps the mode and delay it was accepted with.
	must(t, sim.SetCallbackMode(CallbackNormal, time.Hour))
	held := frSend(t, srv, "15551230000", "held", rc.srv.URL+"/dlr")
	must(t, sim.SetCallbackMode(CallbackOff, 0))
	off := frSend(t, srv, "15551230001", "off", rc.srv.URL+"/dlr")
	must(t, sim.SetCallbackMode(CallbackNormal, 0))
	plain := frSend(t, srv, "15551230002", "no callback URL", "")
	// Only held is pending then; wait on the other two through lookups, as a plugin would.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, id := range []string{off, plain} {
		for frLookup(t, srv, id).Data.Attributes.Status != FlowrouteDelivered {
			if err := sim.wait(ctx, func() bool { return sim.byID[id].Status == FlowrouteDelivered }, func() string { return "delivered " + id }); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := frLookup(t, srv, held).Data.Attributes; got.Status != "queued" || len(got.DeliveryReceipts) != 0 {
		t.Errorf("held message %+v, want queued without receipts until its delay", got)
	}
	if st := sim.Stats(); st.Pending != 1 {
		t.Errorf("pending %d, want only the held message", st.Pending)
	}
	if n := len(rc.requests()) + len(sim.Callbacks()); n != 0 {
		t.Errorf("%d callbacks with mode off / no dlr_callback / a pending delay", n)
	}
}

func TestFlowrouteCallbackDelay(t *testing.T) {
	sim, srv := newFlowrouteServer(t, FlowrouteOptions{})
	rc := newReceiver(t, nil)
	const delay = 60 * time.Millisecond
	must(t, sim.SetCallbackMode(CallbackNormal, delay))
	id := frSend(t, srv, "15551230000", "late", rc.srv.URL+"/dlr")
	must(t, sim.WaitCallbacks(t.Context(), 2))
	m, _ := sim.Message(id)
	if d := m.Receipts[0].Timestamp.Sub(m.Timestamp); d < delay {
		t.Errorf("receipts %s after acceptance, want at least the %s delay", d, delay)
	}
	if d := sim.Callbacks()[0].At.Sub(m.Timestamp); d < delay {
		t.Errorf("first callback %s after acceptance, want at least %s", d, delay)
	}
	if got := receiptsByID(t, rc.requests())[id]; !slices.Equal(got, []string{"1:smsc submit", "2:delivered"}) {
		t.Errorf("late callbacks %v", got)
	}
	if err := sim.SetCallbackMode(CallbackNormal, -time.Second); err == nil {
		t.Error("a negative delay was accepted")
	}
	if err := sim.SetCallbackMode("loud", 0); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

func TestFlowrouteInbound(t *testing.T) {
	rc := newReceiver(t, func(n int, _ *http.Request) (int, string) {
		if n == 3 {
			return http.StatusNotFound, "not found"
		}
		return http.StatusOK, ""
	})
	inboundURL := rc.srv.URL + "/webhooks/flowroute/tok/inbound"
	now := time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
	sim, _ := newFlowrouteServer(t, FlowrouteOptions{Now: func() time.Time { return now }})

	if _, _, err := sim.SendInbound(t.Context(), "15551230000", "15550001111", "hi"); err == nil {
		t.Fatal("SendInbound without an inbound URL succeeded")
	}
	sim.SetInboundURL(inboundURL)
	t.Run("JSON:API", func(t *testing.T) {
		status, body, err := sim.SendInbound(t.Context(), "+15551230000", "15550001111", "STOP ж")
		if err != nil || status != 200 || body != "" {
			t.Fatalf("SendInbound = %d %q %v, want the receiver's 200", status, body, err)
		}
		req := rc.requests()[0]
		if req.url != inboundURL || req.header.Get("Content-Type") != "application/json" {
			t.Errorf("posted to %s as %q", req.url, req.header.Get("Content-Type"))
		}
		var doc struct {
			Data struct {
				Type       string         `json:"type"`
				ID         string         `json:"id"`
				Attributes map[string]any `json:"attributes"`
			} `json:"data"`
		}
		if err := json.Unmarshal(req.body, &doc); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"to": "15550001111", "from": "15551230000", "body": "STOP ж", "direction": "inbound", "is_mms": false,
			"message_encoding": 8.0, "message_type": "longcode", "status": "delivered", "timestamp": "2024-03-05T07:08:09.00Z",
			"message_callback_url": inboundURL, "amount_display": "$0.0040", "amount_nanodollars": 4e6, "delivery_receipts": []any{},
		}
		if doc.Data.Type != "message" || !mdrPattern.MatchString(doc.Data.ID) || fmt.Sprint(doc.Data.Attributes) != fmt.Sprint(want) {
			t.Errorf("inbound %s\nwant attributes %v", req.body, want)
		}
	})
	t.Run("legacy", func(t *testing.T) {
		status, _, err := sim.SendLegacyInbound(t.Context(), "15551230000", "+15550001111", "hello")
		if err != nil || status != 200 {
			t.Fatalf("SendLegacyInbound = %d %v", status, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(rc.requests()[1].body, &doc); err != nil {
			t.Fatal(err)
		}
		if want := map[string]any{"to": "15550001111", "from": "15551230000", "body": "hello"}; fmt.Sprint(doc) != fmt.Sprint(want) {
			t.Errorf("legacy inbound %v, want exactly %v", doc, want)
		}
	})
	// The receiver's refusal is an answer, not an error.
	if status, body, err := sim.SendInbound(t.Context(), "15551230000", "15550001111", "x"); err != nil || status != 404 || body != "not found" {
		t.Errorf("refused inbound = %d %q %v, want 404 with the receiver's body", status, body, err)
	}
	for _, bad := range [][2]string{{"", "15550001111"}, {"5551230000", "15550001111"}, {"15551230000", "+4477009001234"}, {"1555123000a", "15550001111"}} {
		if _, _, err := sim.SendInbound(t.Context(), bad[0], bad[1], "x"); err == nil {
			t.Errorf("SendInbound from %q to %q succeeded", bad[0], bad[1])
		}
	}
	rc.srv.Close()
	if _, _, err := sim.SendLegacyInbound(t.Context(), "15551230000", "15550001111", "x"); err == nil {
		t.Error("SendLegacyInbound to a closed receiver succeeded")
	}
	if st := sim.Stats(); st.Inbound != 4 {
		t.Errorf("inbound %d, want the 4 posted", st.Inbound)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestFlowroutePerSecond(t *testing.T) {
	clock := &fakeClock{now: time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)}
	sim, srv := newFlowrouteServer(t, FlowrouteOptions{PerSecond: 3, Now: clock.Now})
	must(t, sim.SetCallbackMode(CallbackOff, 0))
	send := func(to string) twResponse {
		t.Helper()
		return frPost(t, srv, frSendBody(to, "x", ""))
	}
	expect := func(step string, r twResponse, status int, retryAfter string) {
		t.Helper()
		if status == 202 {
			if r.status != 202 {
				t.Errorf("%s: %d %s, want 202", step, r.status, r.body)
			}
			return
		}
		checkFlowrouteError(t, r, 429)
		if got := r.header.Get("Retry-After"); got != retryAfter {
			t.Errorf("%s: Retry-After %q, want %q", step, got, retryAfter)
		}
	}
	// t=0: three sends fill the second; an invalid one and a fault do not count.
	checkFlowrouteError(t, send("1"), 422)
	sim.FailNext(1, FailUnavailable)
	checkFlowrouteError(t, send("15551230000"), 503)
	for i := range 3 {
		expect(fmt.Sprintf("t=0 send %d", i), send("15551230000"), 202, "")
	}
	expect("t=0 fourth", send("15551230000"), 429, "1")
	// t=0.4: the first accept leaves the window at t=1, 0.6s away (rounded up to 1s).
	clock.Advance(400 * time.Millisecond)
	expect("t=0.4", send("15551230000"), 429, "1")
	// t=1: the three of t=0 are exactly a second old and no longer count: sliding, not by
	// wall-clock second, so the 429s did not extend it.
	clock.Advance(600 * time.Millisecond)
	expect("t=1 first", send("15551230000"), 202, "")
	clock.Advance(500 * time.Millisecond)
	expect("t=1.5 second", send("15551230000"), 202, "")
	expect("t=1.5 third", send("15551230000"), 202, "")
	expect("t=1.5 fourth", send("15551230000"), 429, "1")
	// The cap is per accepted send, whatever the number.
	expect("t=1.5 another number", send("15559990000"), 429, "1")
	if st := sim.Stats(); st.ByOutcome[FlowrouteOutcomeThrottled] != 4 || st.Messages != 6 || st.ByOutcome[FlowrouteOutcomeUnavailable] != 1 {
		t.Errorf("stats %+v, want 4 throttled and 6 accepted", st)
	}
	// No cap.
	sim.SetPerSecond(0)
	for i := range 10 {
		expect(fmt.Sprintf("no cap %d", i), send("15551230000"), 202, "")
	}
	sim.SetPerSecond(2)
	expect("cap 2 over the uncapped ones", send("15551230000"), 429, "1")
	// Reset restores the options' cap, and forgets the window.
	sim.Reset()
	must(t, sim.SetCallbackMode(CallbackOff, 0))
	for i := range 3 {
		expect(fmt.Sprintf("after reset %d", i), send("15551230000"), 202, "")
	}
	expect("after reset fourth", send("15551230000"), 429, "1")

	t.Run("default is Flowroute's 5", func(t *testing.T) {
		sim := NewFlowroute(FlowrouteOptions{AccessKey: frKey, SecretKey: frSecret, Now: clock.Now})
		t.Cleanup(sim.Close)
		must(t, sim.SetCallbackMode(CallbackOff, 0))
		var codes []int
		for range 6 {
			req := httptest.NewRequest("POST", "/v2.1/messages", strings.NewReader(frSendBody("15551230000", "x", "")))
			req.SetBasicAuth(frKey, frSecret)
			w := httptest.NewRecorder()
			sim.ServeHTTP(w, req)
			codes = append(codes, w.Code)
		}
		if want := []int{202, 202, 202, 202, 202, 429}; !slices.Equal(codes, want) {
			t.Errorf("six sends in one instant: %v, want %v", codes, want)
		}
	})
}

func TestFlowrouteAdminAPI(t *testing.T) {
	// A clock that stands still, so the per-second cap set below cannot run out on a slow
	// machine.
	clock := &fakeClock{now: time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)}
	sim, srv := newFlowrouteServer(t, FlowrouteOptions{Now: clock.Now})
	rc := newReceiver(t, nil)
	admin := func(method, path, body string) twResponse {
		t.Helper()
		return frCall(t, method, srv.URL+path, "", "", body)
	}
	steps := []struct {
		path, body string
		wantStatus int
	}{
		{"/admin/latency", `{"latency": "1ms"}`, 200},
		{"/admin/latency", `{"latency": "soon"}`, 400},
		{"/admin/fail", `{"next": 1, "kind": "rate_limit", "seed": 3, "retry_after": "2s"}`, 200},
		{"/admin/fail", `{"next": 1, "kind": "boom"}`, 400},
		{"/admin/fail", `{"fraction": 2}`, 400},
		{"/admin/fail", `{"next": -1}`, 400},
		{"/admin/fail", `{"retry_after": "0s"}`, 400},
		{"/admin/per_second", `{"per_second": 1}`, 200},
		{"/admin/per_second", `{"per_second": -1}`, 400},
		{"/admin/per_second", `{}`, 400},
		{"/admin/rules", `{"rules": [{"pattern": "1999*", "refuse": true, "http_status": 403}]}`, 200},
		{"/admin/rules", `{"rules": [{"pattern": "1*9", "status": "failed"}]}`, 400},
		{"/admin/rules", `{"rules": [{"pattern": "1", "status": "delivered", "colour": "red"}]}`, 400},
		{"/admin/callback_mode", `{"mode": "twice"}`, 200},
		{"/admin/callback_mode", `{"mode": "loud"}`, 400},
		{"/admin/callback_mode", `{"mode": "normal", "delay": "-1s"}`, 400},
		{"/admin/callback_mode", `{"mode": "normal", "delay": "later"}`, 400},
		{"/admin/inbound", `{"from": "15551230000", "to": "15550001111", "body": "x"}`, 409},
		{"/admin/inbound_url", `{"url": "/relative"}`, 400},
		{"/admin/inbound_url", `{"url": "` + rc.srv.URL + `/in"}`, 200},
		{"/admin/inbound", `{"to": "15550001111", "body": "x"}`, 400},
		{"/admin/inbound", `{"from": "555", "to": "15550001111", "body": "x"}`, 400},
		{"/admin/fail", `{`, 400},
	}
	for _, s := range steps {
		if r := admin("POST", s.path, s.body); r.status != s.wantStatus {
			t.Errorf("POST %s %s = %d %s, want %d", s.path, s.body, r.status, r.body, s.wantStatus)
		}
	}

	// The knobs set over HTTP apply.
	r := frPost(t, srv, frSendBody("15551230000", "x", rc.srv.URL+"/dlr"))
	checkFlowrouteError(t, r, 429)
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
	checkFlowrouteError(t, frPost(t, srv, frSendBody("19990000000", "x", "")), 403)
	id := frSend(t, srv, "15551230000", "x", rc.srv.URL+"/dlr")
	must(t, sim.WaitCallbacks(t.Context(), 4))                                      // twice: 2 × level 1, level 2
	checkFlowrouteError(t, frPost(t, srv, frSendBody("15551230000", "x", "")), 429) // per_second 1
	for _, legacy := range []bool{false, true} {
		r = admin("POST", "/admin/inbound", fmt.Sprintf(`{"from": "+15551230000", "to": "15550001111", "body": "hello", "legacy": %v}`, legacy))
		var in struct {
			Status int    `json:"status"`
			Body   string `json:"body"`
		}
		if err := json.Unmarshal(r.body, &in); err != nil || r.status != 200 || in.Status != 200 {
			t.Errorf("POST /admin/inbound legacy=%v = %d %s, want the receiver's 200", legacy, r.status, r.body)
		}
		reqs := rc.requests()
		last := string(reqs[len(reqs)-1].body)
		if strings.Contains(last, `"data"`) == legacy || !strings.Contains(last, `"hello"`) {
			t.Errorf("legacy=%v inbound posted %s", legacy, last)
		}
	}

	var msgs []FlowrouteMessage
	if err := json.Unmarshal(admin("GET", "/admin/messages", "").body, &msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ID != id || msgs[0].DLRCallback != rc.srv.URL+"/dlr" || msgs[0].To != "15551230000" || len(msgs[0].Receipts) != 2 {
		t.Errorf("GET /admin/messages = %+v", msgs)
	}
	var cbs []FlowrouteCallback
	if err := json.Unmarshal(admin("GET", "/admin/callbacks", "").body, &cbs); err != nil {
		t.Fatal(err)
	}
	if len(cbs) != 4 || cbs[0].MessageID != id || cbs[0].Level != 1 || decodeReceipt(t, cbs[0].Body).Data.ID != id {
		t.Errorf("GET /admin/callbacks = %+v", cbs)
	}
	var st FlowrouteStats
	if err := json.Unmarshal(admin("GET", "/admin/stats", "").body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Sends != 4 || st.Messages != 1 || st.ByOutcome[FlowrouteOutcomeRateLimited] != 1 || st.ByOutcome[FlowrouteOutcomeRefused] != 1 ||
		st.ByOutcome[FlowrouteOutcomeThrottled] != 1 || st.CallbacksOK != 4 || st.Inbound != 2 {
		t.Errorf("GET /admin/stats = %+v", st)
	}

	rc.srv.Close()
	if r := admin("POST", "/admin/inbound", `{"from": "15551230000", "to": "15550001111"}`); r.status != 502 {
		t.Errorf("inbound to a closed receiver = %d %s, want 502", r.status, r.body)
	}
	if r := admin("POST", "/admin/reset", ""); r.status != 200 {
		t.Fatalf("reset = %d", r.status)
	}
	if st := sim.Stats(); st.Sends != 0 || st.Messages != 0 || st.Callbacks != 0 || st.Inbound != 0 {
		t.Errorf("stats after reset %+v, want empty", st)
	}
	if sim.InboundURL() != rc.srv.URL+"/in" {
		t.Error("reset forgot the inbound URL")
	}
	// The knobs are gone too: latency, rules, cap (back to none), mode.
	for range 3 {
		if r := frPost(t, srv, frSendBody("19990000000", "x", "")); r.status != 202 {
			t.Errorf("send after reset = %d %s, want 202", r.status, r.body)
		}
	}
}

// FuzzFlowrouteSend feeds arbitrary bodies to the send call: it answers 202 with a message
// made of exactly the fields sent, or Flowroute's 400/422 error document and accepts nothing.
func FuzzFlowrouteSend(f *testing.F) {
	for _, seed := range []string{
		frSendBody("15551230000", "hi", ""),
		frSendBody("15551230000", "hi", "https://gw.example/dlr?message_id=a"),
		`{"data": {"type": "message", "attributes": {"to": "15551230000", "from": "15550001111", "body": "€"}}}`,
		`{"data": {"attributes": null}}`,
		`{"to": "15551230000", "from": "15550001111", "body": "x", "to": "1"}`,
		`{"to": "+15551230000", "from": "15550001111", "body": "x"}`,
		`{"to": "15551230000", "from": "15550001111", "body": "x", "dlr_callback": "://"}`,
		`[1]`, `{`, ``, `"x"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sim := NewFlowroute(FlowrouteOptions{AccessKey: frKey, SecretKey: frSecret, PerSecond: -1})
		defer sim.Close()
		must(t, sim.SetCallbackMode(CallbackNormal, time.Hour))
		req := httptest.NewRequest("POST", "/v2.1/messages", strings.NewReader(body))
		req.SetBasicAuth(frKey, frSecret)
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		msgs := sim.Messages()
		switch w.Code {
		case 202:
			parsed, status, _ := decodeFlowrouteSend([]byte(body))
			if status != 0 || len(msgs) != 1 {
				t.Fatalf("202 for %q (decode status %d) with %d messages", body, status, len(msgs))
			}
			m := msgs[0]
			if m.To != parsed.To || m.From != parsed.From || m.Body != parsed.Body || m.DLRCallback != parsed.DLRCallback ||
				!isFlowrouteNumber(m.To) || !isFlowrouteNumber(m.From) || m.Body == "" {
				t.Fatalf("accepted %+v from %q", m, body)
			}
			var a frAccepted
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.Data.ID != m.ID || a.Data.Type != "message" {
				t.Fatalf("202 body %s for %+v", w.Body.Bytes(), m)
			}
		case 400, 422:
			var e frErrorDoc
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Status != w.Code || e.Errors[0].Detail == "" {
				t.Fatalf("%d body %s", w.Code, w.Body.Bytes())
			}
			if len(msgs) != 0 {
				t.Fatalf("a %d accepted %+v", w.Code, msgs)
			}
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
