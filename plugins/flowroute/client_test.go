package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall/httpcalltest"
)

const testPublicURL = "https://sms.example.test"

// configured returns a provider named "fr" configured against baseURL, with the gateway at
// testPublicURL.
func configured(t *testing.T, baseURL string, extra map[string]any) *provider {
	t.Helper()
	return configuredAt(t, baseURL, testPublicURL, extra)
}

// configuredAt is configured with the gateway at publicURL.
func configuredAt(t *testing.T, baseURL, publicURL string, extra map[string]any) *provider {
	t.Helper()
	p := newProvider(hclog.NewNullLogger())
	configure(t, p, baseURL, publicURL, extra)
	return p
}

func configure(t *testing.T, p *provider, baseURL, publicURL string, extra map[string]any) {
	t.Helper()
	cfg := map[string]any{"access_key": testKey, "secret_key": testSecret, "webhook_token": testToken, "base_url": baseURL, "timeout": "5s"}
	for k, v := range extra {
		cfg[k] = v
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(t.Context(), sdk.ConfigureRequest{Name: "fr", PublicURL: publicURL, Config: raw}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(p.transport.(*http.Transport).CloseIdleConnections)
}

func flowrouteError(status int, detail string) string {
	return fmt.Sprintf(`{"errors": [{"id": "3f1c2b9e-0000-4000-8000-000000000000", "status": %d, "title": %q, "detail": %q}]}`,
		status, http.StatusText(status), detail)
}

func msg(id, to string) sdk.OutboundMessage {
	return sdk.OutboundMessage{ID: id, From: "+15550000000", To: to, Text: "hi " + id}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name          string
		httpStatus    int
		fromFlowroute bool
		want          sdk.ErrorClass
	}{
		{"401", 401, true, sdk.ClassAuth},
		{"401 from a proxy", 401, false, sdk.ClassAuth},
		{"403 from number not ours", 403, true, sdk.ClassAuth},
		{"402", 402, false, sdk.ClassCredit},
		{"429", 429, true, sdk.ClassRateLimited},
		{"429 without a body", 429, false, sdk.ClassRateLimited},
		{"422 bad value", 422, true, sdk.ClassInvalid},
		{"400 bad request", 400, true, sdk.ClassInvalid},
		{"413 too large", 413, true, sdk.ClassInvalid},
		{"422 not from Flowroute", 422, false, sdk.ClassRejected},
		{"400 from a WAF", 400, false, sdk.ClassRejected},
		{"404", 404, true, sdk.ClassRejected},
		{"409", 409, true, sdk.ClassRejected},
		{"500 from Flowroute", 500, true, sdk.ClassUnavailable},
		{"500 not from Flowroute", 500, false, sdk.ClassAmbiguous},
		{"502 from a proxy", 502, false, sdk.ClassAmbiguous},
		{"504 from a proxy", 504, false, sdk.ClassAmbiguous},
		{"503 from anyone", 503, false, sdk.ClassUnavailable},
		{"redirect", 302, false, sdk.ClassUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.httpStatus, tc.fromFlowroute); got != tc.want {
				t.Errorf("classify(%d, %v) = %s, want %s", tc.httpStatus, tc.fromFlowroute, got, tc.want)
			}
		})
	}
}

func TestAnswerError(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		body    string
		header  http.Header
		want    sdk.Error
		comment string
	}{
		{"Flowroute's 422", 422, flowrouteError(422, "to: must be 11 digits"), nil,
			sdk.Error{Class: sdk.ClassInvalid, Code: "422", Message: "Unprocessable Entity: to: must be 11 digits"}, ""},
		{"status as a string", 422, `{"errors": [{"id": "x", "status": "422", "detail": "bad"}]}`, nil,
			sdk.Error{Class: sdk.ClassInvalid, Code: "422", Message: "bad"}, "JSON:API allows it"},
		{"a document for another status", 422, flowrouteError(500, "x"), nil,
			sdk.Error{Class: sdk.ClassRejected, Code: "422", Message: "HTTP 422 Unprocessable Entity"}, "not Flowroute's"},
		{"no errors", 500, `{"errors": []}`, nil,
			sdk.Error{Class: sdk.ClassAmbiguous, Code: "500", Message: "HTTP 500 Internal Server Error"}, ""},
		{"HTML", 502, `<html>bad gateway</html>`, nil,
			sdk.Error{Class: sdk.ClassAmbiguous, Code: "502", Message: "HTTP 502 Bad Gateway"}, ""},
		{"429 with Retry-After", 429, flowrouteError(429, "slow down"), http.Header{"Retry-After": {"7"}},
			sdk.Error{Class: sdk.ClassRateLimited, Code: "429", Message: "Too Many Requests: slow down", RetryAfter: 7 * time.Second}, ""},
		{"long detail", 422, flowrouteError(422, strings.Repeat("é", 400)), nil,
			sdk.Error{Class: sdk.ClassInvalid, Code: "422", Message: httpcall.Truncate("Unprocessable Entity: "+strings.Repeat("é", 400), maxErrorMessage)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			if got := answerError(tc.status, h, []byte(tc.body), now); *got != tc.want {
				t.Errorf("answerError = %+v, want %+v %s", *got, tc.want, tc.comment)
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		in         string
		wire       string // "" = not sendable
		e164       string // "" = not accepted from a callback
		wireOK, ok bool
	}{
		{"+15551234567", "15551234567", "+15551234567", true, true},
		{"15551234567", "", "+15551234567", false, true},
		{" 15551234567 ", "", "+15551234567", false, true},
		{"+5551234567", "", "", false, false},
		{"+155512345678", "", "", false, false},
		{"+1555123456a", "", "", false, false},
		{"+447700900123", "", "", false, false},
		{"ACME", "", "", false, false},
		{"", "", "", false, false},
		{"++15551234567", "", "", false, false},
		{"+１５５５１２３４５６７", "", "", false, false}, // full-width digits are not digits here
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if w, ok := wireNumber(tc.in); w != tc.wire || ok != tc.wireOK {
				t.Errorf("wireNumber(%q) = %q, %v; want %q, %v", tc.in, w, ok, tc.wire, tc.wireOK)
			}
			if e, ok := e164(tc.in); e != tc.e164 || ok != tc.ok {
				t.Errorf("e164(%q) = %q, %v; want %q, %v", tc.in, e, ok, tc.e164, tc.ok)
			}
		})
	}
}

func TestReceiptCode(t *testing.T) {
	tests := []struct {
		json    string
		want    receiptCode
		wantErr bool
	}{
		{`null`, "", false},
		{`1003`, "1003", false},
		{`"1003"`, "1003", false},
		{`" 1100 "`, "1100", false},
		{`""`, "", false},
		{`1.5`, "1.5", false},
		{`true`, "", true},
		{`{}`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.json, func(t *testing.T) {
			var v struct {
				C receiptCode `json:"c"`
			}
			err := json.Unmarshal([]byte(`{"c": `+tc.json+`}`), &v)
			if (err != nil) != tc.wantErr || v.C != tc.want {
				t.Errorf("decode %s = %q, %v; want %q, error %v", tc.json, v.C, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestSendRequest checks what a send puts on the wire.
func TestSendRequest(t *testing.T) {
	type seen struct {
		method, path, user, pass, contentType, accept string
		body                                          map[string]any
	}
	got := make(chan seen, 1)
	url := httpcalltest.Server(t, func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		got <- seen{r.Method, r.URL.Path, user, pass, r.Header.Get("Content-Type"), r.Header.Get("Accept"), body}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"data": {"id": "mdr2-0001", "type": "message", "links": {"self": "x"}}}`))
	})
	p := configured(t, url+"/", nil)
	res, err := p.Send(t.Context(), []sdk.OutboundMessage{{ID: "m1", From: "+15550000000", To: "+15551234567", Text: "héllo & bye"}})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res[0].Err != nil || res[0].ProviderMessageID != "mdr2-0001" || res[0].Status != sdk.StatusQueued {
		t.Errorf("result %+v, want mdr2-0001 queued", res[0])
	}
	s := <-got
	want := seen{
		method: "POST", path: "/v2.1/messages", user: testKey, pass: testSecret, contentType: jsonAPI, accept: jsonAPI,
		body: map[string]any{"to": "15551234567", "from": "15550000000", "body": "héllo & bye",
			"dlr_callback": testPublicURL + "/webhooks/fr/" + testToken + "/dlr?message_id=m1"},
	}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("request\n got %+v\nwant %+v", s, want)
	}
}

func TestSendErrorClasses(t *testing.T) {
	tests := []struct {
		name       string
		url        func(t *testing.T) string
		timeout    string
		msg        func(sdk.OutboundMessage) sdk.OutboundMessage
		want       sdk.ErrorClass
		code       string
		retryAfter time.Duration
	}{
		{name: "connection refused", url: httpcalltest.RefusedURL, want: sdk.ClassUnavailable},
		{name: "timeout after the request was written", timeout: "100ms", url: httpcalltest.Hanging, want: sdk.ClassAmbiguous},
		{name: "connection reset after the request was read", url: httpcalltest.Resetting, want: sdk.ClassAmbiguous},
		{name: "202 with garbage", url: func(t *testing.T) string { return httpcalltest.Answering(t, 202, `<html>hi</html>`) }, want: sdk.ClassAmbiguous},
		{name: "202 without an id", url: func(t *testing.T) string { return httpcalltest.Answering(t, 202, `{"data": {"type": "message"}}`) }, want: sdk.ClassAmbiguous},
		{name: "202 with an empty body", url: func(t *testing.T) string { return httpcalltest.Answering(t, 202, ``) }, want: sdk.ClassAmbiguous},
		{name: "500 from Flowroute", url: func(t *testing.T) string { return httpcalltest.Answering(t, 500, flowrouteError(500, "oops")) },
			want: sdk.ClassUnavailable, code: "500"},
		{name: "500 with no body", url: func(t *testing.T) string { return httpcalltest.Answering(t, 500, ``) }, want: sdk.ClassAmbiguous, code: "500"},
		{name: "502 from a proxy", url: func(t *testing.T) string { return httpcalltest.Answering(t, 502, `<html>bad gateway</html>`) },
			want: sdk.ClassAmbiguous, code: "502"},
		{name: "502 with a proxy's JSON", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 502, `{"errors": [{"status": 504, "detail": "upstream timed out"}]}`)
		}, want: sdk.ClassAmbiguous, code: "502"},
		{name: "503 from a proxy", url: func(t *testing.T) string { return httpcalltest.Answering(t, 503, `<html>down</html>`) },
			want: sdk.ClassUnavailable, code: "503"},
		{name: "429 with Retry-After", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 429, flowrouteError(429, "slow down"), "Retry-After", "7")
		}, want: sdk.ClassRateLimited, code: "429", retryAfter: 7 * time.Second},
		{name: "429 without a body", url: func(t *testing.T) string { return httpcalltest.Answering(t, 429, ``, "Retry-After", "2") },
			want: sdk.ClassRateLimited, code: "429", retryAfter: 2 * time.Second},
		{name: "401", url: func(t *testing.T) string { return httpcalltest.Answering(t, 401, flowrouteError(401, "bad key")) }, want: sdk.ClassAuth, code: "401"},
		{name: "403", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 403, flowrouteError(403, "not your number"))
		}, want: sdk.ClassAuth, code: "403"},
		{name: "422", url: func(t *testing.T) string { return httpcalltest.Answering(t, 422, flowrouteError(422, "to: bad")) }, want: sdk.ClassInvalid, code: "422"},
		{name: "redirect not followed", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 302, ``, "Location", "https://elsewhere.example.test/")
		}, want: sdk.ClassUnavailable, code: "302"},
		{name: "recipient not E.164, no call", url: httpcalltest.RefusedURL, want: sdk.ClassInvalid,
			msg: func(m sdk.OutboundMessage) sdk.OutboundMessage { m.To = "15551234567"; return m }},
		{name: "recipient outside North America, no call", url: httpcalltest.RefusedURL, want: sdk.ClassInvalid,
			msg: func(m sdk.OutboundMessage) sdk.OutboundMessage { m.To = "+447700900123"; return m }},
		{name: "no recipient, no call", url: httpcalltest.RefusedURL, want: sdk.ClassInvalid,
			msg: func(m sdk.OutboundMessage) sdk.OutboundMessage { m.To = ""; return m }},
		{name: "alphanumeric sender, no call", url: httpcalltest.RefusedURL, want: sdk.ClassInvalid,
			msg: func(m sdk.OutboundMessage) sdk.OutboundMessage { m.From = "ACME"; return m }},
		{name: "no text, no call", url: httpcalltest.RefusedURL, want: sdk.ClassInvalid,
			msg: func(m sdk.OutboundMessage) sdk.OutboundMessage { m.Text = ""; return m }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]any{}
			if tt.timeout != "" {
				extra["timeout"] = tt.timeout
			}
			p := configured(t, tt.url(t), extra)
			m := msg("m1", "+15551234567")
			if tt.msg != nil {
				m = tt.msg(m)
			}
			res, err := p.Send(t.Context(), []sdk.OutboundMessage{m})
			if err != nil {
				t.Fatalf("Send: %v (a failed request is a per-message error)", err)
			}
			e := res[0].Err
			if e == nil {
				t.Fatalf("result %+v, want an error", res[0])
			}
			if e.Class != tt.want || e.OptOut || e.RetryAfter != tt.retryAfter || (tt.code != "" && e.Code != tt.code) {
				t.Errorf("error %+v; want class %s, code %q, retry after %s", e, tt.want, tt.code, tt.retryAfter)
			}
			for _, secret := range []string{testSecret, testToken} {
				if strings.Contains(e.Error(), secret) {
					t.Errorf("error %q shows a secret", e)
				}
			}
		})
	}
}

func TestSendCancelledBeforeWrite(t *testing.T) {
	var calls atomic.Int32
	url := httpcalltest.Server(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(202)
		_, _ = w.Write([]byte(`{"data": {"id": "mdr2-1"}}`))
	})
	p := configured(t, url, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := p.Send(ctx, []sdk.OutboundMessage{msg("m1", "+15551234567"), msg("m2", "+15551234568")})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	for i, r := range res {
		if r.Err == nil || r.Err.Class != sdk.ClassUnavailable {
			t.Errorf("result %d = %+v, want unavailable: nothing was written", i, r)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d calls reached the API", n)
	}
}

// TestSendBatchConcurrency: a batch goes out as concurrent requests, never more than
// sendConcurrency at once, and each message keeps its own result in order.
func TestSendBatchConcurrency(t *testing.T) {
	var n atomic.Int32
	url, peak := httpcalltest.Concurrent(t, sendConcurrency, func(w http.ResponseWriter, r *http.Request) {
		var body sendBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("decode body: %v", err)
		}
		if strings.HasSuffix(body.To, "9") {
			w.WriteHeader(422)
			_, _ = w.Write([]byte(flowrouteError(422, "to: not a mobile number")))
			return
		}
		w.WriteHeader(202)
		_, _ = fmt.Fprintf(w, `{"data": {"id": "mdr2-%d-%s", "type": "message"}}`, n.Add(1), body.To)
	})
	p := configured(t, url, nil)
	msgs := make([]sdk.OutboundMessage, 2*sendConcurrency)
	for i := range msgs {
		msgs[i] = msg(fmt.Sprintf("m%d", i), fmt.Sprintf("+155512345%02d", i))
	}
	res, err := p.Send(t.Context(), msgs)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	for i, r := range res {
		if strings.HasSuffix(msgs[i].To, "9") {
			if r.Err == nil || r.Err.Class != sdk.ClassInvalid {
				t.Errorf("result %d (to %s) = %+v, want invalid", i, msgs[i].To, r)
			}
			continue
		}
		if r.Err != nil || !strings.HasSuffix(r.ProviderMessageID, "-"+strings.TrimPrefix(msgs[i].To, "+")) {
			t.Errorf("result %d (to %s) = %+v, want its own id", i, msgs[i].To, r)
		}
	}
	if got := peak(); got != sendConcurrency {
		t.Errorf("peak concurrency %d, want %d", got, sendConcurrency)
	}
}

func TestNotConfigured(t *testing.T) {
	p := newProvider(hclog.NewNullLogger())
	ctx := t.Context()
	_, sendErr := p.Send(ctx, []sdk.OutboundMessage{msg("m1", "+15551234567")})
	_, pollErr := p.PollStatus(ctx, []string{"mdr2-1"})
	_, hookErr := p.HandleWebhook(ctx, sdk.WebhookRequest{Method: "POST", Path: "/" + testToken + dlrPath})
	for _, err := range []error{sendErr, pollErr, hookErr} {
		if !errors.Is(err, errNotConfigured) {
			t.Errorf("got %v, want %v", err, errNotConfigured)
		}
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		level  int
		status string
		want   string // "" = ignored
	}{
		{0, "queued", sdk.StatusQueued},
		{1, "smsc submit", sdk.StatusSent},
		{1, "SMSC Submit", sdk.StatusSent},
		{2, "message buffered", sdk.StatusSent},
		{1, "message buffered", sdk.StatusSent},
		{2, "delivered", sdk.StatusDelivered},
		{1, "delivered", sdk.StatusSent}, // the carrier level cannot know about the handset
		{0, "delivered", sdk.StatusDelivered},
		{2, "undeliverable", sdk.StatusUndelivered},
		{2, "expired", sdk.StatusUndelivered},
		{2, "rejected", sdk.StatusUndelivered},
		{2, "deleted", sdk.StatusUndelivered},
		{2, "failed", sdk.StatusFailed},
		{1, "smsc reject", sdk.StatusFailed},
		{2, "unknown", ""},
		{2, "", ""},
		{2, "something new", ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d %s", tc.level, tc.status), func(t *testing.T) {
			got, ok := statusOf(tc.level, tc.status)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("statusOf(%d, %q) = %q, %v; want %q", tc.level, tc.status, got, ok, tc.want)
			}
		})
	}
}

func TestPollStatusAnswers(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)
	mdrOf := func(status, receipts string) string {
		return `{"data": {"type": "message", "id": "mdr2-1", "attributes": {"status": "` + status +
			`", "direction": "outbound", "timestamp": "2025-06-01T12:00:00.00Z", "delivery_receipts": [` + receipts + `]}}}`
	}
	tests := []struct {
		name    string
		body    string
		status  int
		want    []sdk.StatusUpdate
		wantErr sdk.ErrorClass
	}{
		{
			name: "delivered", status: 200,
			body: mdrOf("delivered", `{"level": 2, "status": "delivered", "status_code": 1000, "status_code_description": "ok", "timestamp": "2025-06-01T12:00:05.00Z"},
				{"level": 1, "status": "smsc submit", "status_code": null, "status_code_description": "Message has been sent", "timestamp": "2025-06-01T12:00:01.00Z"}`),
			want: []sdk.StatusUpdate{{ProviderMessageID: "mdr2-1", Status: sdk.StatusDelivered, At: at}},
		},
		{
			name: "undeliverable with its code", status: 200,
			body: mdrOf("undeliverable", `{"level": 2, "status": "undeliverable", "status_code": 1100, "status_code_description": "Unknown subscriber", "timestamp": "2025-06-01T12:00:05.00Z"},
				{"level": 1, "status": "smsc submit", "status_code": null, "timestamp": "2025-06-01T12:00:01.00Z"}`),
			want: []sdk.StatusUpdate{{ProviderMessageID: "mdr2-1", Status: sdk.StatusUndelivered, ErrorCode: "1100", ErrorMessage: "Unknown subscriber", At: at}},
		},
		{
			name: "newest receipt of the status by time", status: 200,
			body: mdrOf("message buffered", `{"level": 2, "status": "message buffered", "status_code": "1003", "timestamp": "2025-06-01T12:00:02.00Z"},
				{"level": 2, "status": "message buffered", "status_code": "1003", "timestamp": "2025-06-01T12:00:05.00Z"}`),
			want: []sdk.StatusUpdate{{ProviderMessageID: "mdr2-1", Status: sdk.StatusSent, At: at}},
		},
		{
			name: "smsc reject", status: 200,
			body: mdrOf("smsc reject", `{"level": 1, "status": "smsc reject", "status_code": 1104, "status_code_description": "refused", "timestamp": "2025-06-01T12:00:05.00Z"}`),
			want: []sdk.StatusUpdate{{ProviderMessageID: "mdr2-1", Status: sdk.StatusFailed, ErrorCode: "1104", ErrorMessage: "refused", At: at}},
		},
		{
			name: "no receipts yet", status: 200, body: mdrOf("queued", ``),
			want: []sdk.StatusUpdate{{ProviderMessageID: "mdr2-1", Status: sdk.StatusQueued, At: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}},
		},
		{name: "a status about nothing", status: 200, body: mdrOf("unknown", ``), want: []sdk.StatusUpdate{}},
		{name: "not found", status: 404, body: flowrouteError(404, "no such record"), want: []sdk.StatusUpdate{}},
		{name: "auth", status: 401, body: flowrouteError(401, "bad key"), wantErr: sdk.ClassAuth},
		{name: "garbage", status: 200, body: `{"data": `, wantErr: sdk.ClassAmbiguous},
		{name: "no id", status: 200, body: `{"data": {"attributes": {"status": "delivered"}}}`, wantErr: sdk.ClassAmbiguous},
		{name: "bad status code", status: 200, body: mdrOf("failed", `{"level": 2, "status": "failed", "status_code": {}}`), wantErr: sdk.ClassAmbiguous},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := httpcalltest.Server(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != "GET" || r.URL.Path != "/v2.1/messages/mdr2-1" {
					t.Errorf("%s %s, want GET /v2.1/messages/mdr2-1", r.Method, r.URL.Path)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			p := configured(t, url, nil)
			got, err := p.PollStatus(t.Context(), []string{"mdr2-1"})
			if tc.wantErr != "" {
				if sdk.ClassOf(err) != tc.wantErr {
					t.Fatalf("PollStatus = %+v, %v; want a %s error", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("PollStatus: %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestPollStatusConcurrency: ids are looked up at most pollConcurrency at a time, each path
// escaped, and the answer leaves out the unknown ones.
func TestPollStatusConcurrency(t *testing.T) {
	url, peak := httpcalltest.Concurrent(t, pollConcurrency, func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if strings.HasPrefix(id, "unknown") {
			w.WriteHeader(404)
			_, _ = w.Write([]byte(flowrouteError(404, "no such record")))
			return
		}
		_, _ = fmt.Fprintf(w, `{"data": {"id": %q, "attributes": {"status": "smsc submit"}}}`, id)
	})
	p := configured(t, url, nil)
	var ids []string
	for i := range 3 * pollConcurrency {
		if i%5 == 0 {
			ids = append(ids, fmt.Sprintf("unknown%d", i))
			continue
		}
		ids = append(ids, fmt.Sprintf("mdr2-%d", i))
	}
	ids = append(ids, "")
	got, err := p.PollStatus(t.Context(), ids)
	if err != nil {
		t.Fatalf("PollStatus: %v", err)
	}
	var want []string
	for _, id := range ids {
		if strings.HasPrefix(id, "mdr2-") {
			want = append(want, id)
		}
	}
	var gotIDs []string
	for _, u := range got {
		gotIDs = append(gotIDs, u.ProviderMessageID)
		if u.Status != sdk.StatusSent {
			t.Errorf("update %+v, want sent", u)
		}
	}
	if fmt.Sprint(gotIDs) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", gotIDs, want)
	}
	if n := peak(); n != pollConcurrency {
		t.Errorf("peak concurrency %d, want %d", n, pollConcurrency)
	}
}
