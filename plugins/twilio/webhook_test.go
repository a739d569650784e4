package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall/httpcalltest"
	"github.com/smsgw/smsgw/plugins/twilio/signature"
)

// hookURL is the public URL of one of the "tw" provider's webhooks.
func hookURL(path string) string { return testPublicURL + "/webhooks/tw" + path }

// signed is a POST of params to path, signed as Twilio signs it for rawURL.
func signed(path, rawURL string, params url.Values) sdk.WebhookRequest {
	return sdk.WebhookRequest{
		Method: http.MethodPost,
		URL:    rawURL,
		Path:   path,
		Headers: map[string][]string{
			"Content-Type":       {"application/x-www-form-urlencoded"},
			"X-Twilio-Signature": {signature.Compute(testToken, rawURL, params)},
		},
		Body: []byte(params.Encode()),
	}
}

func statusParams(sid, status string) url.Values {
	return url.Values{
		"AccountSid": {testSID}, "ApiVersion": {"2010-04-01"}, "From": {"+15550000000"}, "To": {"+15551234567"},
		"MessageSid": {sid}, "SmsSid": {sid}, "MessageStatus": {status}, "SmsStatus": {status},
	}
}

func inboundParams() url.Values {
	return url.Values{
		"AccountSid": {testSID}, "ApiVersion": {"2010-04-01"}, "MessageSid": {"SMin1"}, "SmsMessageSid": {"SMin1"},
		"From": {"+15551234567"}, "To": {"+15550000000"}, "Body": {"STOP please"}, "NumMedia": {"0"}, "FromCountry": {"US"},
	}
}

// webhookProvider is a configured provider whose clock says fixedNow.
func webhookProvider(t *testing.T) *provider {
	t.Helper()
	p := configured(t, httpcalltest.RefusedURL(t), nil) // webhooks never call the API
	p.now = func() time.Time { return fixedNow }
	return p
}

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestStatusCallbackMapping(t *testing.T) {
	tests := []struct {
		twilio string
		want   string // "" = ignored: 200 and no update
	}{
		{"accepted", sdk.StatusQueued},
		{"scheduled", sdk.StatusQueued},
		{"queued", sdk.StatusQueued},
		{"sending", sdk.StatusQueued},
		{"sent", sdk.StatusSent},
		{"delivered", sdk.StatusDelivered},
		{"read", sdk.StatusDelivered},
		{"undelivered", sdk.StatusUndelivered},
		{"partially_delivered", sdk.StatusUndelivered},
		{"failed", sdk.StatusFailed},
		{"canceled", sdk.StatusFailed},
		{"receiving", ""},
		{"received", ""},
		{"something_new", ""},
	}
	p := webhookProvider(t)
	for _, tc := range tests {
		t.Run(tc.twilio, func(t *testing.T) {
			resp, err := p.HandleWebhook(t.Context(), signed(statusPath, hookURL(statusPath), statusParams("SM1", tc.twilio)))
			if err != nil {
				t.Fatalf("HandleWebhook: %v", err)
			}
			if resp.StatusCode != 200 || len(resp.Body) != 0 || len(resp.Inbound) != 0 {
				t.Errorf("answer %d %q with %d inbound, want 200, empty, none", resp.StatusCode, resp.Body, len(resp.Inbound))
			}
			if tc.want == "" {
				if len(resp.Statuses) != 0 {
					t.Errorf("statuses %+v, want none", resp.Statuses)
				}
				return
			}
			if len(resp.Statuses) != 1 {
				t.Fatalf("statuses %+v, want one", resp.Statuses)
			}
			u := resp.Statuses[0]
			if u.ProviderMessageID != "SM1" || u.Status != tc.want || u.OptOut || !u.At.Equal(fixedNow) {
				t.Errorf("update %+v, want SM1 %s at %s", u, tc.want, fixedNow)
			}
		})
	}
}

func TestStatusCallbackErrorCode(t *testing.T) {
	tests := []struct {
		name   string
		code   string
		want   string // the update's code
		optOut bool
	}{
		{"undeliverable", "30003", "30003", false},
		{"unsubscribed", "21610", "21610", true},
		{"padded", " 30003 ", "30003", false},
		{"none", "", "", false},
		// 0 is "no error", as the Messages API's error_code of null or 0 (twilioCode).
		{"zero", "0", "", false},
	}
	p := webhookProvider(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := statusParams("SM1", "undelivered")
			params.Set("ErrorCode", tc.code)
			resp, err := p.HandleWebhook(t.Context(), signed(statusPath, hookURL(statusPath), params))
			if err != nil || resp.StatusCode != 200 || len(resp.Statuses) != 1 {
				t.Fatalf("HandleWebhook = %d %+v, %v", resp.StatusCode, resp.Statuses, err)
			}
			u := resp.Statuses[0]
			if u.ErrorCode != tc.want || u.OptOut != tc.optOut || u.Status != sdk.StatusUndelivered {
				t.Errorf("update %+v, want undelivered, code %q, opt-out %v", u, tc.want, tc.optOut)
			}
		})
	}
}

func TestInboundWebhook(t *testing.T) {
	p := webhookProvider(t)
	resp, err := p.HandleWebhook(t.Context(), signed(inboundPath, hookURL(inboundPath), inboundParams()))
	if err != nil {
		t.Fatalf("HandleWebhook: %v", err)
	}
	if resp.StatusCode != 200 || string(resp.Body) != emptyTwiML || !strings.HasPrefix(header(resp.Headers, "Content-Type"), "text/xml") {
		t.Errorf("answer %d %v %q, want 200 text/xml %q", resp.StatusCode, resp.Headers, resp.Body, emptyTwiML)
	}
	want := sdk.InboundMessage{ProviderMessageID: "SMin1", From: "+15551234567", To: "+15550000000", Text: "STOP please", At: fixedNow}
	if len(resp.Inbound) != 1 || resp.Inbound[0] != want || len(resp.Statuses) != 0 {
		t.Errorf("parsed %+v and %+v, want only %+v", resp.Inbound, resp.Statuses, want)
	}
}

// TestWebhookSignature: only a request signed with the auth token, over exactly the URL and
// the parameters it arrived with, is read at all.
func TestWebhookSignature(t *testing.T) {
	status := statusParams("SM1", "delivered")
	withParam := func(v url.Values, k, val string) url.Values {
		c := url.Values{}
		for kk, vv := range v {
			c[kk] = append([]string(nil), vv...)
		}
		c.Set(k, val)
		return c
	}
	tests := []struct {
		name   string
		req    func() sdk.WebhookRequest
		wantOK bool
	}{
		{"valid", func() sdk.WebhookRequest { return signed(statusPath, hookURL(statusPath), status) }, true},
		{"missing signature", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			delete(r.Headers, "X-Twilio-Signature")
			return r
		}, false},
		{"empty signature", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.Headers["X-Twilio-Signature"] = []string{""}
			return r
		}, false},
		{"garbage signature", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.Headers["X-Twilio-Signature"] = []string{"bm90IGEgc2lnbmF0dXJl"}
			return r
		}, false},
		{"signed with another token", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.Headers["X-Twilio-Signature"] = []string{signature.Compute("other-token", hookURL(statusPath), status)}
			return r
		}, false},
		{"header name in lower case", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.Headers["x-twilio-signature"] = r.Headers["X-Twilio-Signature"]
			delete(r.Headers, "X-Twilio-Signature")
			return r
		}, true},
		{"unknown parameter, signed", func() sdk.WebhookRequest {
			return signed(statusPath, hookURL(statusPath), withParam(status, "NewTwilioField", "x"))
		}, true},
		{"unknown parameter added after signing", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.Body = []byte(withParam(status, "NewTwilioField", "x").Encode())
			return r
		}, false},
		{"tampered status", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.Body = []byte(withParam(status, "MessageStatus", "failed").Encode())
			return r
		}, false},
		{"parameter dropped", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			c := withParam(status, "ApiVersion", "")
			delete(c, "ApiVersion")
			r.Body = []byte(c.Encode())
			return r
		}, false},
		{"signed for another URL", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.URL = "https://sms.example.test/webhooks/other/status"
			return r
		}, false},
		{"query tampered", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath)+"?a=1", status)
			r.URL = hookURL(statusPath) + "?a=2"
			return r
		}, false},
		{"query signed", func() sdk.WebhookRequest { return signed(statusPath, hookURL(statusPath)+"?a=1", status) }, true},
		{"Twilio signed with :443, our URL has none", func() sdk.WebhookRequest {
			r := signed(statusPath, "https://sms.example.test:443/webhooks/tw/status", status)
			r.URL = hookURL(statusPath)
			return r
		}, true},
		{"our URL has :443, Twilio signed without", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.URL = "https://sms.example.test:443/webhooks/tw/status"
			return r
		}, true},
		{"a form that is not a form", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), status)
			r.Headers["Content-Type"] = []string{"application/json"}
			return r
		}, false},
	}
	p := webhookProvider(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.HandleWebhook(t.Context(), tc.req())
			if err != nil {
				t.Fatalf("HandleWebhook: %v", err)
			}
			if tc.wantOK {
				if resp.StatusCode != 200 || len(resp.Statuses) != 1 {
					t.Errorf("answer %d %q with %+v, want 200 and the status", resp.StatusCode, resp.Body, resp.Statuses)
				}
				return
			}
			if resp.StatusCode != 403 || string(resp.Body) != "forbidden\n" || len(resp.Statuses)+len(resp.Inbound) != 0 {
				t.Errorf("answer %d %q with %+v %+v, want a bare 403 and nothing parsed", resp.StatusCode, resp.Body, resp.Statuses, resp.Inbound)
			}
		})
	}
}

// TestWebhookRefusals: the answers for requests that are not a readable Twilio webhook.
func TestWebhookRefusals(t *testing.T) {
	without := func(v url.Values, keys ...string) url.Values {
		for _, k := range keys {
			v.Del(k)
		}
		return v
	}
	tests := []struct {
		name string
		req  sdk.WebhookRequest
		want int
	}{
		{"GET", sdk.WebhookRequest{Method: "GET", URL: hookURL(statusPath), Path: statusPath}, 405},
		{"GET signed", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), url.Values{})
			r.Method = "GET"
			return r
		}(), 405},
		{"unknown path", signed("/sms", hookURL("/sms"), statusParams("SM1", "sent")), 404},
		{"unknown path, unsigned", sdk.WebhookRequest{Method: "POST", URL: hookURL("/"), Path: "/"}, 404},
		{"status without MessageSid", signed(statusPath, hookURL(statusPath), without(statusParams("SM1", "sent"), "MessageSid", "SmsSid")), 400},
		{"status without MessageStatus", signed(statusPath, hookURL(statusPath), without(statusParams("SM1", "sent"), "MessageStatus", "SmsStatus")), 400},
		{"inbound without From", signed(inboundPath, hookURL(inboundPath), without(inboundParams(), "From")), 400},
		{"inbound without MessageSid", signed(inboundPath, hookURL(inboundPath), without(inboundParams(), "MessageSid")), 400},
		{"inbound with no parameters", signed(inboundPath, hookURL(inboundPath), url.Values{}), 400},
		{"malformed form, signed as far as it parses", func() sdk.WebhookRequest {
			params := statusParams("SM1", "sent")
			r := signed(statusPath, hookURL(statusPath), params)
			r.Body = append(r.Body, []byte("&bad=%zz")...)
			return r
		}(), 400},
		{"JSON body, signed over the URL alone", func() sdk.WebhookRequest {
			r := signed(statusPath, hookURL(statusPath), url.Values{})
			r.Headers["Content-Type"] = []string{"application/json"}
			r.Body = []byte(`{"MessageSid": "SM1", "MessageStatus": "sent"}`)
			return r
		}(), 400},
	}
	p := webhookProvider(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.HandleWebhook(t.Context(), tc.req)
			if err != nil {
				t.Fatalf("HandleWebhook: %v", err)
			}
			if resp.StatusCode != tc.want || len(resp.Statuses)+len(resp.Inbound) != 0 {
				t.Errorf("answer %d %q with %+v %+v, want %d and nothing parsed", resp.StatusCode, resp.Body, resp.Statuses, resp.Inbound, tc.want)
			}
			if tc.want == 405 && fmt.Sprint(resp.Headers["Allow"]) != "[POST]" {
				t.Errorf("405 without Allow: POST: %v", resp.Headers)
			}
		})
	}
}

// FuzzHandleWebhook feeds arbitrary bodies through the webhook, signed (so the parser
// behind the signature check is reached) or not. It must never panic, and must answer only
// with what it parsed from a verified request.
func FuzzHandleWebhook(f *testing.F) {
	f.Add(statusPath, statusParams("SM1", "delivered").Encode(), "application/x-www-form-urlencoded", true)
	f.Add(inboundPath, inboundParams().Encode(), "application/x-www-form-urlencoded", true)
	f.Add(statusPath, "MessageSid=SM1&MessageStatus=undelivered&ErrorCode=21610", "", true)
	f.Add(inboundPath, "From=%2B1&To=%2B2&MessageSid=SM&Body=%zz", "application/x-www-form-urlencoded; charset=utf-8", true)
	f.Add(statusPath, "MessageSid=SM1&MessageStatus=sent", "application/x-www-form-urlencoded", false)
	f.Add("/other", ";;;", "text/plain", true)
	p := newProvider(hclog.NewNullLogger())
	p.now = func() time.Time { return fixedNow }
	if err := p.Configure(f.Context(), sdk.ConfigureRequest{Name: "tw", PublicURL: testPublicURL,
		Config: []byte(`{"account_sid": "` + testSID + `", "auth_token": "` + testToken + `"}`)}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, body, contentType string, sign bool) {
		rawURL := hookURL(path)
		req := sdk.WebhookRequest{Method: "POST", URL: rawURL, Path: path, Body: []byte(body),
			Headers: map[string][]string{"Content-Type": {contentType}}}
		if sign {
			params, _ := url.ParseQuery(body)
			req.Headers["X-Twilio-Signature"] = []string{signature.Compute(testToken, rawURL, params)}
		}
		resp, err := p.HandleWebhook(t.Context(), req)
		if err != nil {
			t.Fatalf("HandleWebhook: %v", err)
		}
		parsed := len(resp.Statuses) + len(resp.Inbound)
		switch resp.StatusCode {
		case 200:
		case 400, 403, 404:
			if parsed != 0 {
				t.Fatalf("answer %d with %d parsed items", resp.StatusCode, parsed)
			}
		default:
			t.Fatalf("answer %d", resp.StatusCode)
		}
		if !sign && resp.StatusCode == 200 {
			t.Fatal("an unsigned request was accepted")
		}
		for _, u := range resp.Statuses {
			if u.ProviderMessageID == "" || u.Status == "" || u.OptOut != (u.ErrorCode == optOutCode) {
				t.Fatalf("bad update %+v", u)
			}
		}
		for _, m := range resp.Inbound {
			if m.ProviderMessageID == "" || m.From == "" || m.To == "" {
				t.Fatalf("bad inbound %+v", m)
			}
		}
	})
}
