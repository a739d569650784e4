package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func TestHandleWebhook(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string // a substring of the body
		wantMsg    *sdk.InboundMessage
	}{
		{
			name: "inbound", method: "POST", path: "/inbound",
			body:       `{"from": "+15550001111", "to": "+15550002222", "text": "hello ☃", "extra": 1}`,
			wantStatus: 200, wantBody: `{"ok":true}`,
			wantMsg: &sdk.InboundMessage{From: "+15550001111", To: "+15550002222", Text: "hello ☃"},
		},
		{name: "bad JSON", method: "POST", path: "/inbound", body: `{"from": `, wantStatus: 400, wantBody: "invalid JSON"},
		{name: "not an object", method: "POST", path: "/inbound", body: `["+1"]`, wantStatus: 400, wantBody: "invalid JSON"},
		{name: "wrong type", method: "POST", path: "/inbound", body: `{"from": 1, "to": "+2", "text": "x"}`, wantStatus: 400, wantBody: "invalid JSON"},
		{name: "empty body", method: "POST", path: "/inbound", body: ``, wantStatus: 400, wantBody: "invalid JSON"},
		{name: "null", method: "POST", path: "/inbound", body: `null`, wantStatus: 400, wantBody: "from, to, text"},
		{name: "missing to", method: "POST", path: "/inbound", body: `{"from": "+1", "text": "x"}`, wantStatus: 400, wantBody: "to"},
		{name: "empty text", method: "POST", path: "/inbound", body: `{"from": "+1", "to": "+2", "text": ""}`, wantStatus: 400, wantBody: "text"},
		{name: "trailing data", method: "POST", path: "/inbound", body: `{"from": "+1", "to": "+2", "text": "x"} {}`, wantStatus: 400, wantBody: "invalid JSON"},
		{name: "GET", method: "GET", path: "/inbound", wantStatus: 405},
		{name: "other path", method: "POST", path: "/status", body: `{}`, wantStatus: 404},
		{name: "sub path", method: "POST", path: "/inbound/x", body: `{}`, wantStatus: 404},
		{name: "no path", method: "POST", path: "", body: `{}`, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, clk := newTestLoopback(t)
			resp, err := l.HandleWebhook(t.Context(), sdk.WebhookRequest{
				Method: tc.method, Path: tc.path, URL: "https://h/webhooks/loopback" + tc.path, Body: []byte(tc.body),
			})
			if err != nil {
				t.Fatalf("HandleWebhook: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			if !json.Valid(resp.Body) || resp.Headers["Content-Type"][0] != "application/json" {
				t.Errorf("body %q is not JSON", resp.Body)
			}
			if !strings.Contains(string(resp.Body), tc.wantBody) {
				t.Errorf("body %s, want it to contain %q", resp.Body, tc.wantBody)
			}
			if tc.wantMsg == nil {
				if len(resp.Inbound) != 0 || len(resp.Statuses) != 0 {
					t.Errorf("unexpected messages %+v", resp)
				}
				return
			}
			if len(resp.Inbound) != 1 {
				t.Fatalf("%d inbound messages, want 1", len(resp.Inbound))
			}
			got := resp.Inbound[0]
			if !strings.HasPrefix(got.ProviderMessageID, inboundIDPrefix) || !got.At.Equal(clk.Now()) {
				t.Errorf("inbound id %q at %v", got.ProviderMessageID, got.At)
			}
			got.ProviderMessageID, got.At = "", tc.wantMsg.At
			if got != *tc.wantMsg {
				t.Errorf("inbound %+v, want %+v", got, *tc.wantMsg)
			}
		})
	}
}

func FuzzDecodeInbound(f *testing.F) {
	for _, seed := range []string{
		`{"from": "+15550001111", "to": "+15550002222", "text": "hello"}`,
		`{"from": "", "to": "+2", "text": "x"}`,
		`{"FROM": "+1", "To": "+2", "text": "\u2603"}`,
		`{"from": "+1", "to": "+2", "text": "x", "from": ""}`,
		`null`, `[]`, `{`, ``, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeInbound(body)
		if err != nil {
			if p != (inboundPayload{}) {
				t.Errorf("error %v with a non-empty payload %+v", err, p)
			}
			return
		}
		if p.From == "" || p.To == "" || p.Text == "" {
			t.Fatalf("accepted %q with an empty field: %+v", body, p)
		}
		// What we accept must survive being encoded and decoded again.
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeInbound(b)
		if err != nil || again != p {
			t.Errorf("re-decoding %s = %+v, %v; want %+v", b, again, err, p)
		}
	})
}
