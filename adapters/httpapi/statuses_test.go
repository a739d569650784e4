package httpapi

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestStatusCounts: GET /v1/messages/status-counts counts the account's messages per UTC day
// and status, inclusive at both ends, and validates start and end.
func TestStatusCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "day one"}`)
	e.clock.Set(t0.Add(24 * time.Hour))
	e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "day two"}`)
	e.do(request{method: "POST", path: "/v1/inbound", body: `{"from": "+14155550101", "to": "+14155550100", "text": "hi"}`}).status(http.StatusCreated)
	e.do(request{method: "POST", path: "/v1/messages", user: "bob", pass: bobPass, body: `{"from": "+14155550100", "to": "+14155550101", "text": "bob's"}`}).status(http.StatusAccepted)

	q := func(start, end time.Time) string {
		return "/v1/messages/status-counts?start=" + url.QueryEscape(start.Format(time.RFC3339Nano)) + "&end=" + url.QueryEscape(end.Format(time.RFC3339Nano))
	}
	tests := []struct {
		name       string
		start, end time.Time
		want       string
	}{
		{"both days", t0, t0.Add(24 * time.Hour),
			`{"start":"2026-11-20T10:00:00.000Z","end":"2026-11-21T10:00:00.000Z","days":{"2026-11-20":{"queued":1},"2026-11-21":{"queued":1,"received":1}}}`},
		{"the ends are inclusive", t0, t0,
			`{"start":"2026-11-20T10:00:00.000Z","end":"2026-11-20T10:00:00.000Z","days":{"2026-11-20":{"queued":1}}}`},
		{"nothing in range", t0.Add(time.Hour), t0.Add(2 * time.Hour),
			`{"start":"2026-11-20T11:00:00.000Z","end":"2026-11-20T12:00:00.000Z","days":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(request{method: "GET", path: q(tt.start, tt.end)}).status(http.StatusOK)
			if got := r.Body.String(); got != tt.want {
				t.Errorf("body %s\nwant %s", got, tt.want)
			}
		})
	}

	bad := []struct {
		name, path, code, field string
	}{
		{"no start", "/v1/messages/status-counts?end=2026-11-20T10:00:00Z", "missing_parameter", "start"},
		{"no end", "/v1/messages/status-counts?start=2026-11-20T10:00:00Z", "missing_parameter", "end"},
		{"bad start", "/v1/messages/status-counts?start=yesterday&end=2026-11-20T10:00:00Z", "invalid_parameter", "start"},
		{"empty end", "/v1/messages/status-counts?start=2026-11-20T10:00:00Z&end=", "invalid_parameter", "end"},
		{"end before start", "/v1/messages/status-counts?start=2026-11-20T10:00:00Z&end=2026-11-19T10:00:00Z", "invalid_parameter", "end"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			e.do(request{method: "GET", path: tt.path}).apiError(http.StatusBadRequest, tt.code, tt.field)
		})
	}
	e.do(request{method: "GET", path: q(t0, t0), noAuth: true}).apiError(http.StatusUnauthorized, "unauthorized", "")
}

// TestRefreshStatuses: POST /v1/messages/refresh-statuses answers what it did and validates
// since. (What a refresh applies is the gateway's, tested in core/gateway and end to end.)
func TestRefreshStatuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/v1/messages/refresh-statuses", "/v1/messages/refresh-statuses?since=2026-11-01T00:00:00Z"} {
		r := e.do(request{method: "POST", path: path}).status(http.StatusOK)
		if got := r.Body.String(); got != `{"checked":0,"updated":0}` {
			t.Errorf("POST %s: %s", path, got)
		}
	}
	e.do(request{method: "POST", path: "/v1/messages/refresh-statuses?since=last-week"}).apiError(http.StatusBadRequest, "invalid_parameter", "since")
	e.do(request{method: "POST", path: "/v1/messages/refresh-statuses", noAuth: true}).apiError(http.StatusUnauthorized, "unauthorized", "")
}
