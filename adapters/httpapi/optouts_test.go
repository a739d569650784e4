package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/ratelimit"
)

// newPolicyEnv is the handler on SQLite with a rate limit of limit per hour and the
// opt-out keyword policy on.
func newPolicyEnv(t *testing.T, limit int) *testEnv {
	t.Helper()
	return newEnvConfig(t, newSQLiteStore(t), gateway.Config{
		DefaultAccount: "alice",
		RateLimit:      ratelimit.Window{Limit: limit, Period: time.Hour},
		OptOut:         optout.Policy{StopReply: "bye", StartReply: "hi again", HelpReply: "help"},
	})
}

func TestOptOutsAPI(t *testing.T) {
	t.Parallel()
	e := newPolicyEnv(t, 50)
	created := e.do(request{method: "POST", path: "/v1/opt-outs", body: `{"sender": "+1 415 555 0100", "recipient": "+14155550101"}`}).status(http.StatusCreated).json()
	want := map[string]any{"sender": "+14155550100", "recipient": "+14155550101", "source": "api", "created_at": "2026-11-20T10:00:00.000Z", "expires_at": nil}
	for k, v := range want {
		if created[k] != v {
			t.Errorf("created %s = %#v, want %#v", k, created[k], v)
		}
	}
	e.clock.Advance(time.Minute)
	again := e.do(request{method: "POST", path: "/v1/opt-outs", body: `{"sender": "+14155550100", "recipient": "+14155550101"}`}).status(http.StatusOK).json()
	if again["created_at"] != "2026-11-20T10:00:00.000Z" {
		t.Errorf("existing block = %v, want the original record", again)
	}
	// Another account sees it, and it blocks that account's sends too: opt-outs are global.
	list := e.do(request{method: "GET", path: "/v1/opt-outs?recipient=%2B14155550101", user: "bob", pass: bobPass}).status(http.StatusOK).json()
	if items, _ := list["items"].([]any); len(items) != 1 || list["next_cursor"] != nil {
		t.Errorf("bob's list = %v", list)
	}
	e.do(request{method: "POST", path: "/v1/messages", user: "bob", pass: bobPass, body: `{"from": "+14155550100", "to": "+14155550101", "text": "x"}`}).
		apiError(http.StatusForbidden, "recipient_opted_out", "to")
	// The reverse direction is not blocked.
	e.send(`{"from": "+14155550101", "to": "+14155550100", "text": "x"}`)
	e.do(request{method: "DELETE", path: "/v1/opt-outs?sender=%2B14155550100&recipient=%2B14155550101"}).status(http.StatusNoContent)
	e.do(request{method: "DELETE", path: "/v1/opt-outs?sender=%2B14155550100&recipient=%2B14155550101"}).apiError(http.StatusNotFound, "not_found", "")
	e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "x"}`)
}

func TestOptOutsValidation(t *testing.T) {
	t.Parallel()
	e := newPolicyEnv(t, 50)
	for _, tc := range []struct {
		method, path, body string
		code, field        string
	}{
		{"POST", "/v1/opt-outs", `[]`, "invalid_json", ""},
		{"POST", "/v1/opt-outs", `{}`, "missing_parameter", "sender"},
		{"POST", "/v1/opt-outs", `{"sender": null, "recipient": "+14155550101"}`, "missing_parameter", "sender"},
		{"POST", "/v1/opt-outs", `{"sender": 5, "recipient": "+14155550101"}`, "invalid_parameter", "sender"},
		{"POST", "/v1/opt-outs", `{"sender": "!!", "recipient": "+14155550101"}`, "invalid_parameter", "sender"},
		{"POST", "/v1/opt-outs", `{"sender": "+14155550100"}`, "missing_parameter", "recipient"},
		{"POST", "/v1/opt-outs", `{"sender": "+14155550100", "recipient": "ACME"}`, "invalid_parameter", "recipient"},
		{"DELETE", "/v1/opt-outs?recipient=%2B14155550101", "", "missing_parameter", "sender"},
		{"DELETE", "/v1/opt-outs?sender=%2B14155550101", "", "missing_parameter", "recipient"},
		{"GET", "/v1/opt-outs?limit=501", "", "invalid_parameter", "limit"},
		{"GET", "/v1/opt-outs?cursor=%25%25", "", "invalid_parameter", "cursor"},
	} {
		e.do(request{method: tc.method, path: tc.path, body: tc.body}).apiError(http.StatusBadRequest, tc.code, tc.field)
	}
	if items, _ := e.do(request{method: "GET", path: "/v1/opt-outs"}).status(http.StatusOK).json()["items"].([]any); len(items) != 0 {
		t.Errorf("refused requests stored %v", items)
	}
}

func TestOptOutsPaging(t *testing.T) {
	t.Parallel()
	e := newPolicyEnv(t, 50)
	for i := range 5 {
		e.do(request{method: "POST", path: "/v1/opt-outs", body: fmt.Sprintf(`{"sender": "+1415555010%d", "recipient": "+14155550199"}`, i)}).status(http.StatusCreated)
		e.clock.Advance(time.Millisecond)
	}
	var senders []string
	path := "/v1/opt-outs?limit=2"
	for range 5 {
		page := e.do(request{method: "GET", path: path}).status(http.StatusOK).json()
		for _, it := range page["items"].([]any) {
			senders = append(senders, it.(map[string]any)["sender"].(string))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/v1/opt-outs?limit=2&cursor=" + next
	}
	if got := strings.Join(senders, ","); got != "+14155550104,+14155550103,+14155550102,+14155550101,+14155550100" {
		t.Errorf("paged senders = %s", got)
	}
}

func TestInboundKeywordBlocksReverseSend(t *testing.T) {
	t.Parallel()
	e := newPolicyEnv(t, 50)
	e.do(request{method: "POST", path: "/v1/inbound", body: `{"from": "+14155550101", "to": "+14155550100", "text": " Stop "}`}).status(http.StatusCreated)
	e.do(request{method: "POST", path: "/v1/messages", body: `{"from": "+14155550100", "to": "+14155550101", "text": "x"}`}).
		apiError(http.StatusForbidden, "recipient_opted_out", "to")
	list := e.do(request{method: "GET", path: "/v1/opt-outs"}).status(http.StatusOK).json()
	if items, _ := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["source"] != "keyword" {
		t.Errorf("opt-outs = %v", list)
	}
	// The confirmation went out from the number that got the STOP.
	out := e.do(request{method: "GET", path: "/v1/messages?direction=outbound&to=%2B14155550101"}).status(http.StatusOK).json()
	if items, _ := out["items"].([]any); len(items) != 1 || items[0].(map[string]any)["text"] != "bye" || items[0].(map[string]any)["from"] != "+14155550100" {
		t.Errorf("replies = %v", out)
	}
	e.do(request{method: "POST", path: "/v1/inbound", body: `{"from": "+14155550101", "to": "+14155550100", "text": "START"}`}).status(http.StatusCreated)
	e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "x"}`)
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	e := newPolicyEnv(t, 2)
	e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "x"}`)
	e.clock.Advance(20 * time.Minute)
	e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "x"}`)
	e.clock.Advance(10*time.Minute + 500*time.Millisecond)
	r := e.do(request{method: "POST", path: "/v1/messages", body: `{"from": "+14155550100", "to": "+14155550101", "text": "x"}`})
	r.apiError(http.StatusTooManyRequests, "rate_limited", "")
	// The oldest hit leaves the window 29m59.5s from now: rounded up.
	if got := r.Header().Get("Retry-After"); got != "1800" {
		t.Errorf("Retry-After = %q, want 1800", got)
	}
	// Validation comes first: an invalid send is 400, not 429.
	e.do(request{method: "POST", path: "/v1/messages", body: `{"from": "+14155550100", "to": "1", "text": "x"}`}).apiError(http.StatusBadRequest, "invalid_parameter", "to")
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newPolicyEnv(t, 50)
	body := `{"from": "+14155550100", "to": "+14155550101", "text": "x"}`
	key := map[string]string{"Idempotency-Key": "order-17"}
	first := e.do(request{method: "POST", path: "/v1/messages", body: body, header: key}).status(http.StatusAccepted).json()
	again := e.do(request{method: "POST", path: "/v1/messages", body: "{\n \"text\": \"x\", \"to\": \"+14155550101\", \"from\": \"+14155550100\"}", header: key}).status(http.StatusAccepted).json()
	if first["id"] != again["id"] {
		t.Errorf("replay id = %v, want %v", again["id"], first["id"])
	}
	e.do(request{method: "POST", path: "/v1/messages", body: `{"from": "+14155550100", "to": "+14155550101", "text": "y"}`, header: key}).
		apiError(http.StatusUnprocessableEntity, "idempotency_key_reused", "Idempotency-Key")
	// Keys are per account.
	e.do(request{method: "POST", path: "/v1/messages", body: body, header: key, user: "bob", pass: bobPass}).status(http.StatusAccepted)
	e.do(request{method: "POST", path: "/v1/messages", body: body, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}).
		apiError(http.StatusBadRequest, "invalid_parameter", "Idempotency-Key")
	e.do(request{method: "POST", path: "/v1/messages", body: body, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 255)}}).status(http.StatusAccepted)
}
