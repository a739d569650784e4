package flowroute

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

var (
	textAArg = textNumberArg(keyParticipantA)
	textBArg = textNumberArg(keyParticipantB)
)

func TestCreateSession(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		cmd        *gateway.ProxySessionCommand // what the core gets; nil for no call
		status     int
		text       string         // the refusal
		want       map[string]any // the 200 body but session_id
	}{
		{
			name: "legacy numbers, expiry in minutes",
			body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 10}`,
			cmd:  &gateway.ProxySessionCommand{AccountID: compattest.User, ParticipantA: "+12065551212", ParticipantB: "+12065551213", TTL: 10 * time.Minute},
			want: map[string]any{"message": textCreated, "virtual_tn": "12065550001", "participant_a": "12065551212", "participant_b": "12065551213", "expiry_date": "2026-11-20 10:10:00"},
		},
		{
			name: "no expiry",
			body: `{"participant_a": "12065551212", "participant_b": "12065551213"}`,
			cmd:  &gateway.ProxySessionCommand{AccountID: compattest.User, ParticipantA: "+12065551212", ParticipantB: "+12065551213"},
			want: map[string]any{"message": textCreated, "virtual_tn": "12065550001", "participant_a": "12065551212", "participant_b": "12065551213", "expiry_date": nil},
		},
		{
			name: "null expiry is none",
			body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": null}`,
			cmd:  &gateway.ProxySessionCommand{AccountID: compattest.User, ParticipantA: "+12065551212", ParticipantB: "+12065551213"},
			want: map[string]any{"message": textCreated, "virtual_tn": "12065550001", "participant_a": "12065551212", "participant_b": "12065551213", "expiry_date": nil},
		},
		{
			name: "E.164 and integer numbers, the longest window",
			body: `{"participant_a": "+447911123456", "participant_b": 12065551213, "expiry_window": 5256000}`,
			cmd:  &gateway.ProxySessionCommand{AccountID: compattest.User, ParticipantA: "+447911123456", ParticipantB: "+12065551213", TTL: 5256000 * time.Minute},
			want: map[string]any{"message": textCreated, "virtual_tn": "12065550001", "participant_a": "+447911123456", "participant_b": "12065551213", "expiry_date": "2036-11-17 10:00:00"},
		},
		{
			name: "no number free", body: `{"participant_a": "12065551111", "participant_b": "12065551213"}`,
			cmd:    &gateway.ProxySessionCommand{AccountID: compattest.User, ParticipantA: "+12065551111", ParticipantB: "+12065551213"},
			status: 400, text: textNoTN,
		},
		{name: "a missing", body: `{"participant_b": "12065551213"}`, status: 400, text: textAArg},
		{name: "a null", body: `{"participant_a": null, "participant_b": "12065551213"}`, status: 400, text: textAArg},
		{name: "a bad", body: `{"participant_a": "206-555-1212", "participant_b": "12065551213"}`, status: 400, text: textAArg},
		{name: "a first", body: `{"participant_a": "x", "participant_b": "y", "expiry_window": 0}`, status: 400, text: textAArg},
		{name: "b missing", body: `{"participant_a": "12065551212"}`, status: 400, text: textBArg},
		{name: "b bad", body: `{"participant_a": "12065551212", "participant_b": {}}`, status: 400, text: textBArg},
		{name: "b before expiry", body: `{"participant_a": "12065551212", "participant_b": "", "expiry_window": "x"}`, status: 400, text: textBArg},
		{name: "the same number", body: `{"participant_a": "12065551212", "participant_b": "+12065551212"}`, status: 400, text: textSameParticipants},
		{name: "expiry 0", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 0}`, status: 400, text: textExpiryArg},
		{name: "expiry negative", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": -5}`, status: 400, text: textExpiryArg},
		{name: "expiry fraction", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 1.5}`, status: 400, text: textExpiryArg},
		{name: "expiry 10.0", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 10.0}`, status: 400, text: textExpiryArg},
		{name: "expiry exponent", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 1e2}`, status: 400, text: textExpiryArg},
		{name: "expiry string", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": "10"}`, status: 400, text: textExpiryArg},
		{name: "expiry over ten years", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 5256001}`, status: 400, text: textExpiryArg},
		{name: "expiry overflowing", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 99999999999999999999999}`, status: 400, text: textExpiryArg},
		{name: "not an object", body: `[1]`, status: 400, text: textNotObject},
		{name: "broken JSON", body: `{"participant_a"`, status: 400, text: "Failed to decode JSON object: unexpected end of JSON input"},
	}
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, prefix, nil)
				e.core.putNumber(compattest.User, "+12065550001")
				// 12065551111 holds the one number already: shared allocation has none for it.
				e.core.putSession(openSession("s-held", "+12065550001", "+12065551111", "+12065559999", start.Add(-time.Hour), 0))
				r := e.do(req{method: http.MethodPost, path: "/session", body: c.body})
				if c.want != nil {
					got := r.ok()
					id, _ := got["session_id"].(string)
					s, ok := e.core.session(id)
					if !ok || s.ProxyNumber != "+12065550001" {
						t.Fatalf("session_id %q is not the session the core opened", got["session_id"])
					}
					delete(got, "session_id")
					r.equalsMap(got, c.want)
				} else {
					r.is(c.status, c.text)
				}
				creates := e.core.recorded().creates
				switch {
				case c.cmd == nil && len(creates) != 0:
					t.Fatalf("the core got %+v", creates)
				case c.cmd != nil && (len(creates) != 1 || creates[0] != *c.cmd):
					t.Fatalf("the core got %+v, want %+v", creates, *c.cmd)
				}
			})
		}
	})
}

func TestCreateSessionCoreRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    error
		status int
		text   string
	}{
		{"wrapped no number", fmt.Errorf("allocate: %w", gateway.ErrNoProxyNumber), 400, textNoTN},
		{"participant_a", message.Invalid("participant_a", "participant_a is not a mobile number"), 400, textAArg},
		{"participant_b", message.Invalid("participant_b", "participant_b must differ"), 400, textBArg},
		{"ttl_seconds", message.Invalid("ttl_seconds", "ttl_seconds too long"), 400, textExpiryArg},
		{"another field", message.Invalid("account", "unknown account at 10.0.0.7"), 500, textFailure},
		{"another conflict", fmt.Errorf("insert at 10.0.0.7: %w", ports.ErrConflict), 500, textFailure},
		{"store down", fmt.Errorf("dial 10.0.0.7: %w", ports.ErrUnavailable), 500, textFailure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "/", nil)
			e.core.createErr = c.err
			e.do(req{method: http.MethodPost, path: "/session", body: `{"participant_a": "12065551212", "participant_b": "12065551213"}`}).
				is(c.status, c.text).notLeaking("10.0.0.7")
			if c.status == 500 {
				e.logged("10.0.0.7")
			}
		})
	}
}

func TestListSessions(t *testing.T) {
	t.Parallel()
	forEachPrefix(t, func(t *testing.T, prefix string) {
		t.Run("none", func(t *testing.T) {
			e := newEnv(t, prefix, nil)
			e.do(req{path: "/session"}).equals(map[string]any{"total_sessions": 0.0, "sessions": []any{}})
		})
		t.Run("every open session, newest first", func(t *testing.T) {
			e := newEnv(t, prefix, nil)
			e.core.putSession(openSession("s-a", "+12065550001", "+12065551111", "+12065552222", start.Add(-3*time.Hour), 0))
			e.core.putSession(openSession("s-b", "+447911123456", "+12065551111", "+447911654321", start.Add(-2*time.Hour), 150*time.Minute))
			e.core.putSession(openSession("s-c", "+12065550001", "+12065553333", "+12065554444", start.Add(-time.Hour+500*time.Millisecond), 0))
			closed := openSession("s-closed", "+12065550002", "+12065551111", "+12065554444", start.Add(-time.Hour), 0)
			at := start.Add(-time.Minute)
			closed.ClosedAt = &at
			e.core.putSession(closed)
			e.core.putSession(openSession("s-expired", "+12065550002", "+12065553333", "+12065552222", start.Add(-time.Hour), time.Hour))
			bob := openSession("s-bob", "+12065550009", "+12065551111", "+12065552222", start, 0)
			bob.AccountID = "bob"
			e.core.putSession(bob)
			e.core.pageCap = 2
			e.do(req{path: "/session"}).equals(map[string]any{
				"total_sessions": 3.0,
				"sessions": []any{
					map[string]any{"id": "s-c", "virtual_tn": "12065550001", "participant_a": "12065553333", "participant_b": "12065554444", "date_created": "2026-11-20 09:00:00", "expiry_date": nil},
					map[string]any{"id": "s-b", "virtual_tn": "+447911123456", "participant_a": "12065551111", "participant_b": "+447911654321", "date_created": "2026-11-20 08:00:00", "expiry_date": "2026-11-20 10:30:00"},
					map[string]any{"id": "s-a", "virtual_tn": "12065550001", "participant_a": "12065551111", "participant_b": "12065552222", "date_created": "2026-11-20 07:00:00", "expiry_date": nil},
				},
			})
			if lists := e.core.recorded().lists; len(lists) != 2 || lists[0].account != compattest.User || lists[1].q.After == nil || lists[1].q.After.ID != "s-b" {
				t.Errorf("list calls %+v", lists)
			}
		})
		t.Run("UTC whatever the zone", func(t *testing.T) {
			e := newEnv(t, prefix, nil)
			zone := time.FixedZone("UTC+2", 2*60*60)
			e.core.putSession(openSession("s1", "+12065550001", "+12065551111", "+12065552222", start.In(zone), time.Minute))
			got := e.do(req{path: "/session"}).ok()["sessions"].([]any)[0].(map[string]any)
			if got["date_created"] != "2026-11-20 10:00:00" || got["expiry_date"] != "2026-11-20 10:01:00" {
				t.Errorf("dates %v, %v", got["date_created"], got["expiry_date"])
			}
		})
	})
	t.Run("failures", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "/", nil)
		e.core.listErr = errors.New("sessions at 10.0.0.7 down")
		e.do(req{path: "/session"}).is(500, textFailure).notLeaking("10.0.0.7")
		e.logged("10.0.0.7")
		e = newEnv(t, "/", nil)
		e.core.putSession(openSession("s1", "+12065550001", "+12065551111", "+12065552222", start, 0))
		e.core.stuckCursor = true
		e.do(req{path: "/session"}).is(500, textFailure)
		e.logged("does not move on")
	})
}

func TestEndSession(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		closes     string // the id the core is asked to close; "" for none
		status     int
		text       string
	}{
		{"open", `{"session_id": "s-open"}`, "s-open", 200, ""},
		{"open with expiry", `{"session_id": "s-expiring", "x": 1}`, "s-expiring", 200, ""},
		{"unknown", `{"session_id": "s-nope"}`, "", 404, textSessionUnknown},
		{"another account's", `{"session_id": "s-bob"}`, "", 404, textSessionUnknown},
		{"closed already", `{"session_id": "s-closed"}`, "", 404, textSessionUnknown},
		{"expired", `{"session_id": "s-expired"}`, "", 404, textSessionUnknown},
		{"not plausible", `{"session_id": "s open"}`, "", 404, textSessionUnknown},
		{"too long", jsonBody(map[string]string{"session_id": strings.Repeat("s", 129)}), "", 404, textSessionUnknown},
		{"missing", `{}`, "", 400, textSessionIDArg},
		{"null", `{"session_id": null}`, "", 400, textSessionIDArg},
		{"empty", `{"session_id": ""}`, "", 400, textSessionIDArg},
		{"a number", `{"session_id": 5}`, "", 400, textSessionIDArg},
		{"not an object", `"s-open"`, "", 400, textNotObject},
		{"no body", ``, "", 400, "Failed to decode JSON object: unexpected end of JSON input"},
	}
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, prefix, nil)
				e.core.putSession(openSession("s-open", "+12065550001", "+12065551111", "+12065552222", start.Add(-time.Hour), 0))
				e.core.putSession(openSession("s-expiring", "+12065550001", "+12065553333", "+12065552222", start.Add(-time.Hour), 2*time.Hour))
				e.core.putSession(openSession("s-expired", "+12065550001", "+12065553333", "+12065554444", start.Add(-time.Hour), time.Hour))
				closed := openSession("s-closed", "+12065550001", "+12065555555", "+12065554444", start.Add(-time.Hour), 0)
				at := start.Add(-time.Minute)
				closed.ClosedAt = &at
				e.core.putSession(closed)
				bob := openSession("s-bob", "+12065550009", "+12065551111", "+12065552222", start, 0)
				bob.AccountID = "bob"
				e.core.putSession(bob)
				r := e.do(req{method: http.MethodDelete, path: "/session", body: c.body})
				if c.status == 200 {
					r.equals(map[string]any{"message": textEnded, "session_id": c.closes})
				} else {
					r.is(c.status, c.text)
				}
				closes := e.core.recorded().closes
				switch {
				case c.closes == "" && len(closes) != 0:
					t.Fatalf("the core closed %+v", closes)
				case c.closes != "" && (len(closes) != 1 || closes[0] != idCall{compattest.User, c.closes}):
					t.Fatalf("the core closed %+v, want %s", closes, c.closes)
				}
				if c.status == 200 { // ended: not found afterwards
					e.do(req{method: http.MethodDelete, path: "/session", body: c.body}).is(404, textSessionUnknown)
					if s, _ := e.core.session(c.closes); s.ClosedAt == nil {
						t.Error("the session is still open")
					}
				}
			})
		}
	})
	// Two DELETEs of one session racing: the one whose close came second (the session was
	// open when it looked) is told it is gone, as the legacy service would have said.
	t.Run("ended by a racing request", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "/", nil)
		e.core.putSession(openSession("s-open", "+12065550001", "+12065551111", "+12065552222", start.Add(-time.Hour), 0))
		e.core.mu.Lock()
		e.core.closedByOther = true
		e.core.mu.Unlock()
		e.do(req{method: http.MethodDelete, path: "/session", body: `{"session_id": "s-open"}`}).is(404, textSessionUnknown)
	})
	t.Run("failures", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name   string
			set    func(*fakeCore)
			status int
			text   string
		}{
			{"get fails", func(f *fakeCore) { f.getErr = errors.New("store at 10.0.0.7 down") }, 500, textFailure},
			{"close fails", func(f *fakeCore) { f.closeErr = errors.New("store at 10.0.0.7 down") }, 500, textFailure},
			{"gone before the close", func(f *fakeCore) { f.closeErr = fmt.Errorf("close: %w", ports.ErrNotFound) }, 404, textSessionUnknown},
		} {
			e := newEnv(t, "/", nil)
			e.core.putSession(openSession("s-open", "+12065550001", "+12065551111", "+12065552222", start, 0))
			c.set(e.core)
			e.do(req{method: http.MethodDelete, path: "/session", body: `{"session_id": "s-open"}`}).is(c.status, c.text).notLeaking("10.0.0.7")
			if c.status == 500 {
				e.logged("10.0.0.7")
			}
		}
	})
}
