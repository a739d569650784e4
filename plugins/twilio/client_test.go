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

// configured returns a provider named "tw" configured against baseURL, with the gateway
// at testPublicURL.
func configured(t *testing.T, baseURL string, extra map[string]any) *provider {
	t.Helper()
	return configuredAt(t, baseURL, testPublicURL, extra)
}

// configuredAt is configured with the gateway at publicURL.
func configuredAt(t *testing.T, baseURL, publicURL string, extra map[string]any) *provider {
	t.Helper()
	p := newProvider(hclog.NewNullLogger())
	cfg := map[string]any{"account_sid": testSID, "auth_token": testToken, "base_url": baseURL, "timeout": "5s"}
	for k, v := range extra {
		cfg[k] = v
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(t.Context(), sdk.ConfigureRequest{Name: "tw", PublicURL: publicURL, Config: raw}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(p.transport.(*http.Transport).CloseIdleConnections)
	return p
}

func twilioError(code, status int) string {
	return fmt.Sprintf(`{"code": %d, "message": "error %d", "more_info": "https://www.twilio.com/docs/errors/%d", "status": %d}`,
		code, code, code, status)
}

func msg(id, to string) sdk.OutboundMessage {
	return sdk.OutboundMessage{ID: id, From: "+15550000000", To: to, Text: "hi " + id}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		httpStatus int
		code       int
		fromTwilio bool
		want       sdk.ErrorClass
		optOut     bool
	}{
		{"unsubscribed recipient", 400, 21610, true, sdk.ClassRejected, true},
		{"invalid To", 400, 21211, true, sdk.ClassInvalid, false},
		{"invalid From", 400, 21212, true, sdk.ClassInvalid, false},
		{"To not mobile", 400, 21614, true, sdk.ClassInvalid, false},
		{"To required", 400, 21604, true, sdk.ClassInvalid, false},
		{"body required", 400, 21602, true, sdk.ClassInvalid, false},
		{"From required", 400, 21603, true, sdk.ClassInvalid, false},
		{"From not capable", 400, 21606, true, sdk.ClassInvalid, false},
		{"body too long", 400, 21617, true, sdk.ClassInvalid, false},
		{"region not enabled", 400, 21408, true, sdk.ClassRejected, false},
		{"unreachable pair", 400, 21612, true, sdk.ClassRejected, false},
		{"trial unverified", 400, 21608, true, sdk.ClassRejected, false},
		{"filtered", 400, 30007, true, sdk.ClassRejected, false},
		{"auth code", 401, 20003, true, sdk.ClassAuth, false},
		{"account not active", 401, 20005, true, sdk.ClassCredit, false},
		{"account not active (10001)", 400, 10001, true, sdk.ClassCredit, false},
		{"too many requests code", 429, 20429, true, sdk.ClassRateLimited, false},
		{"sender queue full", 400, 21611, true, sdk.ClassRateLimited, false},
		{"send rate limit", 400, 14107, true, sdk.ClassRateLimited, false},
		{"internal error code", 500, 20500, true, sdk.ClassUnavailable, false},
		{"401 without a code", 401, 0, false, sdk.ClassAuth, false},
		{"403 without a code", 403, 0, false, sdk.ClassAuth, false},
		{"402", 402, 0, false, sdk.ClassCredit, false},
		{"429 without a code", 429, 0, false, sdk.ClassRateLimited, false},
		{"unknown 4xx code", 400, 21999, true, sdk.ClassRejected, false},
		{"404", 404, 20404, true, sdk.ClassRejected, false},
		{"500 from Twilio", 500, 0, true, sdk.ClassUnavailable, false},
		{"500 not from Twilio", 500, 0, false, sdk.ClassAmbiguous, false},
		{"502 from a proxy", 502, 0, false, sdk.ClassAmbiguous, false},
		{"504 from a proxy", 504, 0, false, sdk.ClassAmbiguous, false},
		{"503 from anyone", 503, 0, false, sdk.ClassUnavailable, false},
		{"redirect", 302, 0, false, sdk.ClassUnavailable, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			class, optOut := classify(tc.httpStatus, tc.code, tc.fromTwilio)
			if class != tc.want || optOut != tc.optOut {
				t.Errorf("classify(%d, %d, %v) = %s, opt-out %v; want %s, %v",
					tc.httpStatus, tc.code, tc.fromTwilio, class, optOut, tc.want, tc.optOut)
			}
		})
	}
}

func TestTwilioCode(t *testing.T) {
	tests := []struct {
		json    string
		want    twilioCode
		wantErr bool
	}{
		{`null`, 0, false},
		{`30003`, 30003, false},
		{`"21610"`, 21610, false},
		{`""`, 0, false},
		{`1.5`, 0, true},
		{`"abc"`, 0, true},
		{`true`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.json, func(t *testing.T) {
			var v struct {
				C twilioCode `json:"c"`
			}
			err := json.Unmarshal([]byte(`{"c": `+tc.json+`}`), &v)
			if (err != nil) != tc.wantErr || v.C != tc.want {
				t.Errorf("decode %s = %d, %v; want %d, error %v", tc.json, v.C, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestSendRequest checks what a send puts on the wire.
func TestSendRequest(t *testing.T) {
	type seen struct {
		method, path, user, pass, contentType string
		form                                  map[string][]string
	}
	got := make(chan seen, 1)
	url := httpcalltest.Server(t, func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse form: %v", err)
		}
		got <- seen{r.Method, r.URL.Path, user, pass, r.Header.Get("Content-Type"), r.PostForm}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid": "SM0001", "status": "accepted", "error_code": null}`))
	})
	p := configured(t, url+"/", nil)
	res, err := p.Send(t.Context(), []sdk.OutboundMessage{{ID: "m1", From: "+15550000000", To: "+15551234567", Text: "héllo & bye"}})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res[0].Err != nil || res[0].ProviderMessageID != "SM0001" || res[0].Status != sdk.StatusQueued {
		t.Errorf("result %+v, want SM0001 queued", res[0])
	}
	s := <-got
	want := seen{
		method: "POST", path: "/2010-04-01/Accounts/" + testSID + "/Messages.json", user: testSID, pass: testToken,
		contentType: "application/x-www-form-urlencoded",
		form: map[string][]string{"To": {"+15551234567"}, "From": {"+15550000000"}, "Body": {"héllo & bye"},
			"StatusCallback": {testPublicURL + "/webhooks/tw/status?message_id=m1"}},
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
		to         string
		want       sdk.ErrorClass
		code       string
		optOut     bool
		retryAfter time.Duration
	}{
		{name: "connection refused", url: httpcalltest.RefusedURL, want: sdk.ClassUnavailable},
		{name: "timeout after the request was written", timeout: "100ms", url: httpcalltest.Hanging, want: sdk.ClassAmbiguous},
		{name: "connection reset after the request was read", url: httpcalltest.Resetting, want: sdk.ClassAmbiguous},
		{name: "201 with garbage", url: func(t *testing.T) string { return httpcalltest.Answering(t, 201, `<html>hi</html>`) }, want: sdk.ClassAmbiguous},
		{name: "201 without a sid", url: func(t *testing.T) string { return httpcalltest.Answering(t, 201, `{"status": "queued"}`) }, want: sdk.ClassAmbiguous},
		{name: "201 with an empty body", url: func(t *testing.T) string { return httpcalltest.Answering(t, 201, ``) }, want: sdk.ClassAmbiguous},
		{name: "500 from Twilio", url: func(t *testing.T) string { return httpcalltest.Answering(t, 500, twilioError(20500, 500)) },
			want: sdk.ClassUnavailable, code: "20500"},
		{name: "500 with no body", url: func(t *testing.T) string { return httpcalltest.Answering(t, 500, ``) }, want: sdk.ClassAmbiguous, code: ""},
		{name: "502 from a proxy", url: func(t *testing.T) string { return httpcalltest.Answering(t, 502, `<html>bad gateway</html>`) },
			want: sdk.ClassAmbiguous, code: ""},
		{name: "502 with a proxy's JSON", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 502, `{"message": "upstream timed out", "code": 1}`)
		}, want: sdk.ClassAmbiguous, code: ""},
		{name: "503 from a proxy", url: func(t *testing.T) string { return httpcalltest.Answering(t, 503, `<html>down</html>`) },
			want: sdk.ClassUnavailable, code: ""},
		{name: "429 with Retry-After", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 429, twilioError(20429, 429), "Retry-After", "7")
		}, want: sdk.ClassRateLimited, code: "20429", retryAfter: 7 * time.Second},
		{name: "429 without a body", url: func(t *testing.T) string { return httpcalltest.Answering(t, 429, ``, "Retry-After", "2") },
			want: sdk.ClassRateLimited, code: "", retryAfter: 2 * time.Second},
		{name: "401", url: func(t *testing.T) string { return httpcalltest.Answering(t, 401, twilioError(20003, 401)) }, want: sdk.ClassAuth, code: "20003"},
		{name: "21610", url: func(t *testing.T) string { return httpcalltest.Answering(t, 400, twilioError(21610, 400)) },
			want: sdk.ClassRejected, code: "21610", optOut: true},
		{name: "21211", url: func(t *testing.T) string { return httpcalltest.Answering(t, 400, twilioError(21211, 400)) }, want: sdk.ClassInvalid, code: "21211"},
		{name: "20005", url: func(t *testing.T) string { return httpcalltest.Answering(t, 401, twilioError(20005, 401)) }, want: sdk.ClassCredit, code: "20005"},
		{name: "redirect not followed", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 302, ``, "Location", "https://elsewhere.example.test/")
		}, want: sdk.ClassUnavailable},
		{name: "no recipient, no call", url: httpcalltest.RefusedURL, to: "-", want: sdk.ClassInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]any{}
			if tt.timeout != "" {
				extra["timeout"] = tt.timeout
			}
			p := configured(t, tt.url(t), extra)
			m := msg("m1", "+15551234567")
			if tt.to == "-" {
				m.To = ""
			}
			res, err := p.Send(t.Context(), []sdk.OutboundMessage{m})
			if err != nil {
				t.Fatalf("Send: %v (a failed request is a per-message error)", err)
			}
			e := res[0].Err
			if e == nil {
				t.Fatalf("result %+v, want an error", res[0])
			}
			if e.Class != tt.want || e.OptOut != tt.optOut || e.RetryAfter != tt.retryAfter || e.Code != tt.code {
				t.Errorf("error %+v; want class %s, code %q, opt-out %v, retry after %s", e, tt.want, tt.code, tt.optOut, tt.retryAfter)
			}
			if strings.Contains(e.Error(), testToken) {
				t.Errorf("error %q shows the auth token", e)
			}
		})
	}
}

func TestSendCancelledBeforeWrite(t *testing.T) {
	var calls atomic.Int32
	url := httpcalltest.Server(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(201)
		_, _ = w.Write([]byte(`{"sid": "SM1", "status": "queued"}`))
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
		to := r.PostFormValue("To")
		if strings.HasSuffix(to, "9") {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(twilioError(21211, 400)))
			return
		}
		w.WriteHeader(201)
		_, _ = fmt.Fprintf(w, `{"sid": "SM%d-%s", "status": "queued"}`, n.Add(1), to)
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
		if r.Err != nil || !strings.HasSuffix(r.ProviderMessageID, "-"+msgs[i].To) {
			t.Errorf("result %d (to %s) = %+v, want its own sid", i, msgs[i].To, r)
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
	_, pollErr := p.PollStatus(ctx, []string{"SM1"})
	_, balErr := p.Balance(ctx)
	_, hookErr := p.HandleWebhook(ctx, sdk.WebhookRequest{Method: "POST", Path: statusPath})
	for _, err := range []error{sendErr, pollErr, balErr, hookErr} {
		if !errors.Is(err, errNotConfigured) {
			t.Errorf("got %v, want %v", err, errNotConfigured)
		}
	}
}

func TestPollStatusAnswers(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		status  int
		want    []sdk.StatusUpdate
		wantErr sdk.ErrorClass
	}{
		{
			name: "error code a number", status: 200,
			body: `{"sid": "SM1", "status": "undelivered", "error_code": 30003, "error_message": "Unreachable", "date_updated": "Sun, 01 Jun 2025 12:00:05 +0000"}`,
			want: []sdk.StatusUpdate{{ProviderMessageID: "SM1", Status: sdk.StatusUndelivered, ErrorCode: "30003",
				ErrorMessage: "Unreachable", At: time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)}},
		},
		{
			name: "error code null", status: 200,
			body: `{"sid": "SM1", "status": "delivered", "error_code": null, "error_message": null, "date_updated": "Sun, 01 Jun 2025 12:00:05 +0000"}`,
			want: []sdk.StatusUpdate{{ProviderMessageID: "SM1", Status: sdk.StatusDelivered, At: time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)}},
		},
		{
			name: "opt-out", status: 200,
			body: `{"sid": "SM1", "status": "failed", "error_code": "21610", "date_updated": "Sun, 01 Jun 2025 12:00:05 +0000"}`,
			want: []sdk.StatusUpdate{{ProviderMessageID: "SM1", Status: sdk.StatusFailed, ErrorCode: "21610", OptOut: true,
				At: time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)}},
		},
		{name: "not a delivery status", status: 200, body: `{"sid": "SM1", "status": "received"}`, want: []sdk.StatusUpdate{}},
		{name: "not found", status: 404, body: twilioError(20404, 404), want: []sdk.StatusUpdate{}},
		{name: "auth", status: 401, body: twilioError(20003, 401), wantErr: sdk.ClassAuth},
		{name: "garbage", status: 200, body: `{"sid": `, wantErr: sdk.ClassAmbiguous},
		{name: "bad error code", status: 200, body: `{"sid": "SM1", "status": "failed", "error_code": {}}`, wantErr: sdk.ClassAmbiguous},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := httpcalltest.Server(t, func(w http.ResponseWriter, r *http.Request) {
				if want := "/2010-04-01/Accounts/" + testSID + "/Messages/SM1.json"; r.Method != "GET" || r.URL.Path != want {
					t.Errorf("%s %s, want GET %s", r.Method, r.URL.Path, want)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			p := configured(t, url, nil)
			got, err := p.PollStatus(t.Context(), []string{"SM1"})
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

// TestPollStatusConcurrency: ids are fetched at most pollConcurrency at a time, each path
// escaped, and the answer leaves out the unknown ones.
func TestPollStatusConcurrency(t *testing.T) {
	url, peak := httpcalltest.Concurrent(t, pollConcurrency, func(w http.ResponseWriter, r *http.Request) {
		sid := strings.TrimSuffix(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], ".json")
		if strings.HasPrefix(sid, "unknown") {
			w.WriteHeader(404)
			_, _ = w.Write([]byte(twilioError(20404, 404)))
			return
		}
		_, _ = fmt.Fprintf(w, `{"sid": %q, "status": "sent"}`, sid)
	})
	p := configured(t, url, nil)
	var ids []string
	for i := range 3 * pollConcurrency {
		if i%5 == 0 {
			ids = append(ids, fmt.Sprintf("unknown%d", i))
			continue
		}
		ids = append(ids, fmt.Sprintf("SM%d", i))
	}
	ids = append(ids, "")
	got, err := p.PollStatus(t.Context(), ids)
	if err != nil {
		t.Fatalf("PollStatus: %v", err)
	}
	var want []string
	for _, id := range ids {
		if strings.HasPrefix(id, "SM") {
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

func TestBalanceAnswers(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    sdk.Balance
		wantErr bool
	}{
		{"string", `{"currency": "USD", "balance": "12.50", "account_sid": "` + testSID + `"}`, sdk.Balance{Amount: "12.50", Currency: "USD"}, false},
		{"number", `{"currency": "EUR", "balance": -0.25}`, sdk.Balance{Amount: "-0.25", Currency: "EUR"}, false},
		{"no currency", `{"balance": "1"}`, sdk.Balance{}, true},
		{"not a number", `{"balance": "lots", "currency": "USD"}`, sdk.Balance{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := httpcalltest.Server(t, func(w http.ResponseWriter, r *http.Request) {
				if want := "/2010-04-01/Accounts/" + testSID + "/Balance.json"; r.URL.Path != want {
					t.Errorf("path %s, want %s", r.URL.Path, want)
				}
				_, _ = w.Write([]byte(tc.body))
			})
			got, err := configured(t, url, nil).Balance(t.Context())
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("Balance = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// FuzzAnswerError: whatever a non-2xx answer holds (body, Retry-After), answerError gives a
// known class, a code and a message, keeps the provider's text within maxErrorMessage, and
// never asks for a wait outside [0, httpcall.MaxRetryAfter].
func FuzzAnswerError(f *testing.F) {
	f.Add(400, []byte(`{"code": 21211, "message": "The 'To' number is not valid.", "status": 400}`), "")
	f.Add(400, []byte(`{"code": "21610", "message": "unsubscribed", "status": 400}`), "")
	f.Add(429, []byte(`{"code": 20429, "message": "Too Many Requests", "status": 429}`), "3")
	f.Add(429, []byte(`{}`), "Wed, 02 Dec 2026 10:00:00 GMT")
	f.Add(502, []byte(`<html>Bad Gateway</html>`), "")
	f.Add(503, []byte(`{"code": null, "message": "`+strings.Repeat("é", 400)+`", "status": 503}`), "-1")
	f.Add(302, []byte(nil), "99999999999999999999")
	known := map[sdk.ErrorClass]bool{
		sdk.ClassInvalid: true, sdk.ClassRejected: true, sdk.ClassUnavailable: true, sdk.ClassAmbiguous: true,
		sdk.ClassRateLimited: true, sdk.ClassAuth: true, sdk.ClassCredit: true,
	}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, body []byte, retry string) {
		if status < 100 || status > 999 || status/100 == 2 {
			return // not an error answer: do never calls answerError with it
		}
		e := answerError(status, http.Header{"Retry-After": {retry}}, body, now)
		switch {
		case !known[e.Class]:
			t.Fatalf("class %q", e.Class)
		case e.Message == "":
			t.Fatalf("error without a message: %+v", e)
		case e.Code != "" && strings.Trim(e.Code, "0123456789") != "":
			t.Fatalf("code %q is not one of Twilio's numeric codes", e.Code)
		case len(e.Message) > maxErrorMessage+len("…"):
			t.Fatalf("message of %d bytes, want at most %d", len(e.Message), maxErrorMessage)
		case e.RetryAfter < 0 || e.RetryAfter > httpcall.MaxRetryAfter:
			t.Fatalf("retry after %v", e.RetryAfter)
		case e.RetryAfter != 0 && e.Class != sdk.ClassRateLimited:
			t.Fatalf("retry after %v on a %s error", e.RetryAfter, e.Class)
		}
	})
}
