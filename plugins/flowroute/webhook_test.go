package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall/httpcalltest"
)

// hookPath is the path of one of the "fr" provider's webhooks after /webhooks/fr, with our
// token.
func hookPath(kind string) string { return "/" + testToken + kind }

// post is a POST of body to the webhook at path (after /webhooks/fr), with query.
func post(path, query, body string) sdk.WebhookRequest {
	u := testPublicURL + "/webhooks/fr" + path
	if query != "" {
		u += "?" + query
	}
	return sdk.WebhookRequest{
		Method:  http.MethodPost,
		URL:     u,
		Path:    path,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
		Body:    []byte(body),
	}
}

func dlrBody(level int, status, code, description string) string {
	return fmt.Sprintf(`{"data": {"type": "delivery_receipt", "id": "mdr2-1", "attributes": {"body": "hi", "level": %d,
		"status": %q, "status_code": %s, "status_code_description": %q, "timestamp": "2025-06-01T12:00:05.00Z"},
		"links": {"related": "https://api.flowroute.com/v2.1/messages/mdr2-1"}}}`, level, status, code, description)
}

const inboundBody = `{"data": {"type": "message", "id": "mdr2-in1", "attributes": {"amount_display": "$0.0040",
	"amount_nanodollars": 4000000, "body": "STOP please", "delivery_receipts": [], "direction": "inbound",
	"from": "15551234567", "is_mms": false, "message_callback_url": "https://sms.example.test/x", "message_encoding": 0,
	"message_type": "longcode", "status": "delivered", "timestamp": "2025-06-01T12:00:03.00Z", "to": "15550000000"}}}`

// webhookProvider is a configured provider whose clock says fixedNow.
func webhookProvider(t *testing.T) *provider {
	t.Helper()
	p := configured(t, httpcalltest.RefusedURL(t), nil) // webhooks never call the API
	p.now = func() time.Time { return fixedNow }
	return p
}

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestDLRWebhook(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)
	tests := []struct {
		name string
		body string
		want *sdk.StatusUpdate // nil: ignored, 200 and no update
	}{
		{"level 1 smsc submit", dlrBody(1, "smsc submit", "null", "Message has been sent"),
			&sdk.StatusUpdate{Status: sdk.StatusSent}},
		{"level 1 message buffered", dlrBody(1, "message buffered", `""`, "Message buffered"),
			&sdk.StatusUpdate{Status: sdk.StatusSent}},
		{"level 2 message buffered", dlrBody(2, "message buffered", `"1003"`, "Message accepted by Carrier"),
			&sdk.StatusUpdate{Status: sdk.StatusSent}},
		{"level 2 delivered", dlrBody(2, "delivered", `"1000"`, "Delivered"),
			&sdk.StatusUpdate{Status: sdk.StatusDelivered}},
		{"level 2 delivered, code a number", dlrBody(2, "delivered", `1000`, "Delivered"),
			&sdk.StatusUpdate{Status: sdk.StatusDelivered}},
		{"level 2 undeliverable", dlrBody(2, "undeliverable", `"1100"`, "Unknown subscriber"),
			&sdk.StatusUpdate{Status: sdk.StatusUndelivered, ErrorCode: "1100", ErrorMessage: "Unknown subscriber"}},
		{"level 2 expired", dlrBody(2, "expired", `"1101"`, "Expired"),
			&sdk.StatusUpdate{Status: sdk.StatusUndelivered, ErrorCode: "1101", ErrorMessage: "Expired"}},
		{"level 2 rejected, no description", dlrBody(2, "rejected", `1102`, ""),
			&sdk.StatusUpdate{Status: sdk.StatusUndelivered, ErrorCode: "1102", ErrorMessage: "rejected"}},
		{"level 2 failed", dlrBody(2, "failed", `"1103"`, "Failed"),
			&sdk.StatusUpdate{Status: sdk.StatusFailed, ErrorCode: "1103", ErrorMessage: "Failed"}},
		{"level 1 smsc reject", dlrBody(1, "smsc reject", `"1104"`, "Refused"),
			&sdk.StatusUpdate{Status: sdk.StatusFailed, ErrorCode: "1104", ErrorMessage: "Refused"}},
		{"level as a string", strings.Replace(dlrBody(2, "delivered", "null", ""), `"level": 2`, `"level": "2"`, 1),
			&sdk.StatusUpdate{Status: sdk.StatusDelivered}},
		{"no timestamp", `{"data": {"type": "delivery_receipt", "id": "mdr2-1", "attributes": {"level": 2, "status": "delivered"}}}`,
			&sdk.StatusUpdate{Status: sdk.StatusDelivered, At: fixedNow}},
		{"unknown status", dlrBody(2, "unknown", "null", ""), nil},
	}
	p := webhookProvider(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.HandleWebhook(t.Context(), post(hookPath(dlrPath), "message_id=m1", tc.body))
			if err != nil {
				t.Fatalf("HandleWebhook: %v", err)
			}
			if resp.StatusCode != 200 || len(resp.Body) != 0 || len(resp.Inbound) != 0 {
				t.Errorf("answer %d %q with %d inbound, want 200, empty, none", resp.StatusCode, resp.Body, len(resp.Inbound))
			}
			if tc.want == nil {
				if len(resp.Statuses) != 0 {
					t.Errorf("statuses %+v, want none", resp.Statuses)
				}
				return
			}
			want := *tc.want
			want.ProviderMessageID, want.MessageID = "mdr2-1", "m1"
			if want.At.IsZero() {
				want.At = at
			}
			if len(resp.Statuses) != 1 || resp.Statuses[0] != want {
				t.Errorf("statuses %+v, want [%+v]", resp.Statuses, want)
			}
		})
	}
	t.Run("without message_id", func(t *testing.T) {
		resp, err := p.HandleWebhook(t.Context(), post(hookPath(dlrPath), "", dlrBody(2, "delivered", "null", "")))
		if err != nil || resp.StatusCode != 200 || len(resp.Statuses) != 1 || resp.Statuses[0].MessageID != "" {
			t.Errorf("HandleWebhook = %d %+v, %v; want the update with no message id", resp.StatusCode, resp.Statuses, err)
		}
	})
}

func TestInboundWebhook(t *testing.T) {
	tests := []struct {
		name string
		body string
		want sdk.InboundMessage
	}{
		{"JSON:API", inboundBody, sdk.InboundMessage{ProviderMessageID: "mdr2-in1", From: "+15551234567", To: "+15550000000",
			Text: "STOP please", At: time.Date(2025, 6, 1, 12, 0, 3, 0, time.UTC)}},
		{"JSON:API with E.164 numbers (v2.2)", strings.NewReplacer(`"from": "15551234567"`, `"from": "+15551234567"`,
			`"to": "15550000000"`, `"to": "+15550000000"`).Replace(inboundBody),
			sdk.InboundMessage{ProviderMessageID: "mdr2-in1", From: "+15551234567", To: "+15550000000",
				Text: "STOP please", At: time.Date(2025, 6, 1, 12, 0, 3, 0, time.UTC)}},
		{"JSON:API without timestamp or body", `{"data": {"type": "message", "id": "mdr2-in2", "attributes": {"from": "15551234567", "to": "15550000000"}}}`,
			sdk.InboundMessage{ProviderMessageID: "mdr2-in2", From: "+15551234567", To: "+15550000000", At: fixedNow}},
		{"legacy", `{"to": "15550000000", "from": "15551234567", "body": "hello"}`,
			sdk.InboundMessage{From: "+15551234567", To: "+15550000000", Text: "hello", At: fixedNow}},
		{"legacy with unknown fields", `{"to": "15550000000", "from": "15551234567", "body": "", "id": 5}`,
			sdk.InboundMessage{From: "+15551234567", To: "+15550000000", At: fixedNow}},
	}
	p := webhookProvider(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.HandleWebhook(t.Context(), post(hookPath(inboundPath), "", tc.body))
			if err != nil {
				t.Fatalf("HandleWebhook: %v", err)
			}
			if resp.StatusCode != 200 || len(resp.Body) != 0 {
				t.Errorf("answer %d %q, want 200 and empty", resp.StatusCode, resp.Body)
			}
			if len(resp.Inbound) != 1 || resp.Inbound[0] != tc.want || len(resp.Statuses) != 0 {
				t.Errorf("parsed %+v and %+v, want only %+v", resp.Inbound, resp.Statuses, tc.want)
			}
		})
	}
}

// TestWebhookRefusals: the answers for requests that are not one of our readable webhooks.
func TestWebhookRefusals(t *testing.T) {
	other := "tok-0123456789abcdeX" // our token but for its last character
	tests := []struct {
		name     string
		req      sdk.WebhookRequest
		want     int
		wantBody string // a part of the body
	}{
		{"wrong token", post("/"+other+dlrPath, "", dlrBody(2, "delivered", "null", "")), 404, "not found"},
		{"token prefix", post("/"+testToken[:16]+dlrPath, "", dlrBody(2, "delivered", "null", "")), 404, "not found"},
		{"token longer", post("/"+testToken+"x"+dlrPath, "", dlrBody(2, "delivered", "null", "")), 404, "not found"},
		{"no token", post(dlrPath, "", dlrBody(2, "delivered", "null", "")), 404, "not found"},
		{"empty token", post("/"+dlrPath, "", dlrBody(2, "delivered", "null", "")), 404, "not found"},
		{"unknown path under the token", post("/"+testToken+"/status", "", dlrBody(2, "delivered", "null", "")), 404, "not found"},
		{"trailing slash", post(hookPath(dlrPath)+"/", "", dlrBody(2, "delivered", "null", "")), 404, "not found"},
		{"just the token", post("/"+testToken, "", ""), 404, "not found"},
		{"root", post("/", "", ""), 404, "not found"},
		{"GET with a wrong token", func() sdk.WebhookRequest {
			r := post("/"+other+inboundPath, "", "")
			r.Method = "GET"
			return r
		}(), 404, "not found"},
		{"GET", func() sdk.WebhookRequest {
			r := post(hookPath(inboundPath), "", "")
			r.Method = "GET"
			return r
		}(), 405, "method not allowed"},
		{"not JSON", post(hookPath(inboundPath), "", "to=1&from=2"), 400, "JSON object"},
		{"JSON array", post(hookPath(dlrPath), "", "[]"), 400, "JSON object"},
		{"empty body", post(hookPath(dlrPath), "", ""), 400, "JSON object"},
		{"DLR without data", post(hookPath(dlrPath), "", `{"id": "mdr2-1", "status": "delivered"}`), 400, "data: required"},
		{"DLR data null", post(hookPath(dlrPath), "", `{"data": null}`), 400, "data:"},
		{"DLR of another type", post(hookPath(dlrPath), "", inboundBody), 400, "data.type"},
		{"DLR without id", post(hookPath(dlrPath), "", strings.Replace(dlrBody(2, "delivered", "null", ""), `"id": "mdr2-1", `, "", 1)), 400, "data.id"},
		{"DLR without attributes", post(hookPath(dlrPath), "", `{"data": {"type": "delivery_receipt", "id": "mdr2-1"}}`), 400, "data.attributes"},
		{"DLR without status", post(hookPath(dlrPath), "", `{"data": {"type": "delivery_receipt", "id": "mdr2-1", "attributes": {"level": 2}}}`), 400, "status"},
		{"DLR status a number", post(hookPath(dlrPath), "", `{"data": {"type": "delivery_receipt", "id": "mdr2-1", "attributes": {"status": 2}}}`), 400, "data.attributes.status"},
		{"DLR level a word", post(hookPath(dlrPath), "", strings.Replace(dlrBody(2, "delivered", "null", ""), `"level": 2`, `"level": "two"`, 1)), 400, "level"},
		{"DLR code an object", post(hookPath(dlrPath), "", dlrBody(2, "failed", "{}", "")), 400, "status_code"},
		{"inbound DLR", post(hookPath(inboundPath), "", dlrBody(2, "delivered", "null", "")), 400, "data.type"},
		{"inbound without id", post(hookPath(inboundPath), "", strings.Replace(inboundBody, `"id": "mdr2-in1", `, "", 1)), 400, "data.id"},
		{"inbound without from", post(hookPath(inboundPath), "", strings.Replace(inboundBody, `"from": "15551234567",`, "", 1)), 400, "data.attributes.from: required"},
		{"inbound from 10 digits", post(hookPath(inboundPath), "", strings.Replace(inboundBody, `"from": "15551234567"`, `"from": "5551234567"`, 1)), 400, "data.attributes.from"},
		{"inbound to a number", post(hookPath(inboundPath), "", strings.Replace(inboundBody, `"to": "15550000000"`, `"to": 15550000000`, 1)), 400, "data.attributes.to"},
		{"legacy without to", post(hookPath(inboundPath), "", `{"from": "15551234567", "body": "x"}`), 400, "to: required"},
		{"legacy to a short code", post(hookPath(inboundPath), "", `{"to": "12345", "from": "15551234567", "body": "x"}`), 400, "to:"},
		{"legacy body a number", post(hookPath(inboundPath), "", `{"to": "15550000000", "from": "15551234567", "body": 5}`), 400, "body"},
	}
	p := webhookProvider(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.HandleWebhook(t.Context(), tc.req)
			if err != nil {
				t.Fatalf("HandleWebhook: %v", err)
			}
			if resp.StatusCode != tc.want || !strings.Contains(string(resp.Body), tc.wantBody) || len(resp.Statuses)+len(resp.Inbound) != 0 {
				t.Errorf("answer %d %q with %+v %+v, want %d (%q) and nothing parsed", resp.StatusCode, resp.Body, resp.Statuses, resp.Inbound, tc.want, tc.wantBody)
			}
			if tc.want == 404 && string(resp.Body) != "not found\n" {
				t.Errorf("404 body %q: it must give no hint", resp.Body)
			}
			if tc.want == 405 && fmt.Sprint(resp.Headers["Allow"]) != "[POST]" {
				t.Errorf("405 without Allow: POST: %v", resp.Headers)
			}
			if strings.Contains(string(resp.Body), testToken) {
				t.Errorf("answer %q shows the token", resp.Body)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"/" + testToken + "/dlr", dlrPath},
		{"/" + testToken + "/inbound", inboundPath},
		{"/" + testToken + "/DLR", ""},
		{"/" + testToken + "/dlr/x", ""},
		{testToken + "/dlr", ""},
		{"/" + testToken + "//dlr", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, ok := route(testToken, tc.path)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("route(%q) = %q, %v; want %q", tc.path, got, ok, tc.want)
		}
	}
}

// FuzzHandleWebhook feeds arbitrary paths, methods and bodies through the webhook. It must
// never panic, must answer 200 only on one of our two paths with our token, and must
// answer only with what it parsed: E.164 numbers, known statuses.
func FuzzHandleWebhook(f *testing.F) {
	f.Add(hookPath(dlrPath), "POST", dlrBody(2, "delivered", `"1000"`, "ok"))
	f.Add(hookPath(dlrPath), "POST", dlrBody(1, "smsc reject", `1104`, "refused"))
	f.Add(hookPath(inboundPath), "POST", inboundBody)
	f.Add(hookPath(inboundPath), "POST", `{"to": "15550000000", "from": "+15551234567", "body": "x"}`)
	f.Add(hookPath(inboundPath), "POST", `{"data": {"type": "message", "id": "x", "attributes": {"to": null}}}`)
	f.Add("/"+testToken+"x/dlr", "POST", dlrBody(2, "delivered", "null", ""))
	f.Add(hookPath(dlrPath), "GET", "")
	f.Add("/other", "POST", "{")
	p := newProvider(hclog.NewNullLogger())
	p.now = func() time.Time { return fixedNow }
	if err := p.Configure(f.Context(), sdk.ConfigureRequest{Name: "fr", PublicURL: testPublicURL,
		Config: []byte(`{"access_key": "` + testKey + `", "secret_key": "` + testSecret + `", "webhook_token": "` + testToken + `"}`)}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, method, body string) {
		req := sdk.WebhookRequest{Method: method, URL: testPublicURL + "/webhooks/fr" + path, Path: path, Body: []byte(body)}
		resp, err := p.HandleWebhook(t.Context(), req)
		if err != nil {
			t.Fatalf("HandleWebhook: %v", err)
		}
		parsed := len(resp.Statuses) + len(resp.Inbound)
		kind, ours := route(testToken, path)
		switch resp.StatusCode {
		case 200:
			if !ours || method != "POST" {
				t.Fatalf("200 for %s %q", method, path)
			}
		case 400, 405:
			if !ours || parsed != 0 {
				t.Fatalf("answer %d for %q with %d parsed items", resp.StatusCode, path, parsed)
			}
		case 404:
			if ours || parsed != 0 {
				t.Fatalf("404 for our path %q, or with %d parsed items", path, parsed)
			}
		default:
			t.Fatalf("answer %d", resp.StatusCode)
		}
		if len(resp.Statuses) > 0 && kind != dlrPath || len(resp.Inbound) > 0 && kind != inboundPath {
			t.Fatalf("parsed %+v %+v on %q", resp.Statuses, resp.Inbound, path)
		}
		for _, u := range resp.Statuses {
			if u.ProviderMessageID == "" || u.Status == "" || u.At.IsZero() || u.OptOut {
				t.Fatalf("bad update %+v", u)
			}
		}
		for _, m := range resp.Inbound {
			if _, ok := wireNumber(m.From); !ok {
				t.Fatalf("inbound from %q is not E.164 with 11 digits", m.From)
			}
			if _, ok := wireNumber(m.To); !ok {
				t.Fatalf("inbound to %q is not E.164 with 11 digits", m.To)
			}
		}
	})
}
