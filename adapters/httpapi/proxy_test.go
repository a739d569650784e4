package httpapi

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/smsgw/smsgw/core/gateway"
)

// TestProxyAPI walks the v1 proxy endpoints through the real gateway on SQLite: the pool,
// sessions with their validation, the allocation refusal, lists, close and removal; every
// answer is held to openapi.yaml.
func TestProxyAPI(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, newSQLiteStore(t), gateway.Config{DefaultAccount: "alice", Proxy: gateway.ProxyConfig{StartMessage: "start", EndMessage: "end"}})
	const pool = "+18005550100"
	r := e.do(request{method: "POST", path: "/v1/proxy/numbers", body: `{"number": "+1 800 555 0100", "provider": "loopback"}`}).status(http.StatusCreated)
	if got := r.Body.String(); got != `{"number":"+18005550100","provider":"loopback","active_sessions":0}` {
		t.Fatalf("add: %s", got)
	}
	bad := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"duplicate number", "POST", "/v1/proxy/numbers", `{"number": "+18005550100", "provider": "loopback"}`, 409, "conflict", ""},
		{"no number", "POST", "/v1/proxy/numbers", `{"provider": "loopback"}`, 400, "missing_parameter", "number"},
		{"bad number", "POST", "/v1/proxy/numbers", `{"number": "call me", "provider": "loopback"}`, 400, "invalid_parameter", "number"},
		{"number not a string", "POST", "/v1/proxy/numbers", `{"number": 18005550100, "provider": "loopback"}`, 400, "invalid_parameter", "number"},
		{"unknown provider", "POST", "/v1/proxy/numbers", `{"number": "+18005550199", "provider": "nope"}`, 400, "invalid_parameter", "provider"},
		{"not JSON", "POST", "/v1/proxy/numbers", `[1]`, 400, "invalid_json", ""},
		{"no participant_a", "POST", "/v1/proxy/sessions", `{"participant_b": "+14155550002"}`, 400, "missing_parameter", "participant_a"},
		{"bad participant_b", "POST", "/v1/proxy/sessions", `{"participant_a": "+14155550001", "participant_b": "x"}`, 400, "invalid_parameter", "participant_b"},
		{"the same participant", "POST", "/v1/proxy/sessions", `{"participant_a": "+14155550001", "participant_b": "+1 415 555 0001"}`, 400, "invalid_parameter", "participant_b"},
		{"ttl zero", "POST", "/v1/proxy/sessions", `{"participant_a": "+14155550001", "participant_b": "+14155550002", "ttl_seconds": 0}`, 400, "invalid_parameter", "ttl_seconds"},
		{"ttl fraction", "POST", "/v1/proxy/sessions", `{"participant_a": "+14155550001", "participant_b": "+14155550002", "ttl_seconds": 1.5}`, 400, "invalid_parameter", "ttl_seconds"},
		{"ttl string", "POST", "/v1/proxy/sessions", `{"participant_a": "+14155550001", "participant_b": "+14155550002", "ttl_seconds": "60"}`, 400, "invalid_parameter", "ttl_seconds"},
		{"bad status filter", "GET", "/v1/proxy/sessions?status=expired", "", 400, "invalid_parameter", "status"},
		{"unknown session", "GET", "/v1/proxy/sessions/nope", "", 404, "not_found", ""},
		{"close unknown session", "DELETE", "/v1/proxy/sessions/nope", "", 404, "not_found", ""},
		{"remove unknown number", "DELETE", "/v1/proxy/numbers/%2B18005550199", "", 404, "not_found", ""},
		{"remove a non-number", "DELETE", "/v1/proxy/numbers/abc", "", 404, "not_found", ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e.do(request{method: tt.method, path: tt.path, body: tt.body}).apiError(tt.status, tt.code, tt.field)
		})
	}

	s := e.do(request{method: "POST", path: "/v1/proxy/sessions", body: `{"participant_a": "+14155550001", "participant_b": "+14155550002", "ttl_seconds": 3600}`}).
		status(http.StatusCreated).json()
	if s["proxy_number"] != pool || s["status"] != "open" || s["expires_at"] != "2026-11-20T11:00:00.000Z" {
		t.Fatalf("session %v", s)
	}
	id := s["id"].(string)
	// Shared: both participants hold the only number, so the pair gets no second session.
	e.do(request{method: "POST", path: "/v1/proxy/sessions", body: `{"participant_a": "+14155550002", "participant_b": "+14155550001"}`}).
		apiError(http.StatusConflict, "no_proxy_number_available", "")
	pool1 := e.do(request{method: "GET", path: "/v1/proxy/numbers"}).status(http.StatusOK)
	if got := pool1.Body.String(); got != `{"items":[{"number":"+18005550100","provider":"loopback","active_sessions":1}],"pool_size":1,"in_use":1,"available":0}` {
		t.Fatalf("pool: %s", got)
	}
	e.do(request{method: "DELETE", path: "/v1/proxy/numbers/" + url.PathEscape(pool)}).apiError(http.StatusConflict, "conflict", "")
	if got := e.do(request{method: "GET", path: "/v1/proxy/sessions"}).json(); len(got["items"].([]any)) != 1 {
		t.Fatalf("open sessions: %v", got)
	}
	e.do(request{method: "GET", path: "/v1/proxy/sessions/" + id, user: "bob", pass: bobPass}).apiError(http.StatusNotFound, "not_found", "")
	e.do(request{method: "DELETE", path: "/v1/proxy/sessions/" + id}).status(http.StatusNoContent)
	e.do(request{method: "DELETE", path: "/v1/proxy/sessions/" + id}).status(http.StatusNoContent) // closed already: nothing changes
	if got := e.do(request{method: "GET", path: "/v1/proxy/sessions/" + id}).json(); got["status"] != "closed" {
		t.Fatalf("after close: %v", got)
	}
	if got := e.do(request{method: "GET", path: "/v1/proxy/sessions?status=closed"}).json(); len(got["items"].([]any)) != 1 || got["next_cursor"] != nil {
		t.Fatalf("closed sessions: %v", got)
	}
	// The start and end messages are ordinary outbound messages of the account, through the
	// number's provider: two of each.
	msgs := e.do(request{method: "GET", path: "/v1/messages?direction=outbound&from=%2B18005550100"}).json()["items"].([]any)
	if len(msgs) != 4 {
		t.Fatalf("%d messages from the pool number, want 4 (start and end to both)", len(msgs))
	}
	// "+" may come as is in the path.
	e.do(request{method: "DELETE", path: "/v1/proxy/numbers/+18005550100"}).status(http.StatusNoContent)
	e.do(request{method: "GET", path: "/v1/proxy/sessions/" + id}).status(http.StatusOK) // its sessions stay
	e.do(request{method: "GET", path: "/v1/proxy/numbers", noAuth: true}).apiError(http.StatusUnauthorized, "unauthorized", "")
}
