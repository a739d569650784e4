package flowroute

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

var textValueArg = textNumberArg(keyValue)

func TestAddTN(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		e164       string // the number the core gets; "" when it gets none
		status     int
		answer     string // the value answered (200) or the refusal text
	}{
		{"legacy 11 digits", `{"value": "12062992129"}`, "+12062992129", 200, "12062992129"},
		{"E.164 of 11 digits answers without +", `{"value": "+12062992129"}`, "+12062992129", 200, "12062992129"},
		{"E.164 of another length keeps its +", `{"value": "+447911123456"}`, "+447911123456", 200, "+447911123456"},
		{"JSON integer", `{"value": 12062992129}`, "+12062992129", 200, "12062992129"},
		{"unknown keys ignored", `{"value": "12062992129", "x": [1], "Value": 5}`, "+12062992129", 200, "12062992129"},
		{"repeated key keeps the last", `{"value": "bad", "value": "12062992129"}`, "+12062992129", 200, "12062992129"},
		{"duplicate", `{"value": "12065550000"}`, "+12065550000", 400, textDuplicate},
		{"another account's number", `{"value": "12065550001"}`, "+12065550001", 400, textDuplicate},
		{"missing", `{}`, "", 400, textValueArg},
		{"null", `{"value": null}`, "", 400, textValueArg},
		{"key case matters", `{"VALUE": "12062992129"}`, "", 400, textValueArg},
		{"empty", `{"value": ""}`, "", 400, textValueArg},
		{"10 digits", `{"value": "2062992129"}`, "", 400, textValueArg},
		{"12 digits without +", `{"value": "447911123456"}`, "", 400, textValueArg},
		{"separators", `{"value": "1-206-299-2129"}`, "", 400, textValueArg},
		{"spaces in E.164", `{"value": "+1 206 299 2129"}`, "", 400, textValueArg},
		{"letters", `{"value": "1206299212a"}`, "", 400, textValueArg},
		{"+ only", `{"value": "+"}`, "", 400, textValueArg},
		{"E.164 too short", `{"value": "+12345"}`, "", 400, textValueArg},
		{"E.164 too long", `{"value": "+1234567890123456"}`, "", 400, textValueArg},
		{"negative integer", `{"value": -12062992129}`, "", 400, textValueArg},
		{"float", `{"value": 12062992129.0}`, "", 400, textValueArg},
		{"exponent", `{"value": 1.2062992129e10}`, "", 400, textValueArg},
		{"boolean", `{"value": true}`, "", 400, textValueArg},
		{"array", `{"value": ["12062992129"]}`, "", 400, textValueArg},
		{"array body", `["12062992129"]`, "", 400, textNotObject},
		{"string body", `"12062992129"`, "", 400, textNotObject},
		{"null body", `null`, "", 400, textNotObject},
		{"empty body", ``, "", 400, "Failed to decode JSON object: unexpected end of JSON input"},
		{"broken JSON", `{"value": "1`, "", 400, "Failed to decode JSON object: unexpected end of JSON input"},
		{"trailing garbage", `{"value": "12062992129"} x`, "", 400, "Failed to decode JSON object: invalid character 'x' after top-level value"},
	}
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, prefix, nil)
				e.core.putNumber(compattest.User, "+12065550000")
				e.core.putNumber("bob", "+12065550001")
				r := e.do(req{method: http.MethodPost, path: "/tn", body: c.body})
				if c.status == 200 {
					r.equals(map[string]any{"message": textAdded, "value": c.answer})
				} else {
					r.is(c.status, c.answer)
				}
				adds := e.core.recorded().adds
				switch {
				case c.e164 == "" && len(adds) != 0:
					t.Fatalf("the core got %+v", adds)
				case c.e164 != "" && (len(adds) != 1 || adds[0] != addCall{compattest.User, c.e164, testProvider}):
					t.Fatalf("the core got %+v, want %s through %s", adds, c.e164, testProvider)
				}
			})
		}
	})
}

func TestAddTNCoreRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    error
		status int
		text   string
		logged string // what the log has of it
	}{
		{"the core's number rule", message.Invalid("number", "number must be a mobile number"), 400, textValueArg, "must be a mobile number"},
		{"wrapped conflict", fmt.Errorf("insert: %w", ports.ErrConflict), 400, textDuplicate, ""},
		{"provider field error is a config error", message.Invalid("provider", "provider %s is not configured", testProvider), 500, textFailure, "provider flowroute is not configured"},
		{"store down", fmt.Errorf("dial 10.0.0.7: %w", ports.ErrUnavailable), 500, textFailure, "dial 10.0.0.7: unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "/", nil)
			e.core.addErr = c.err
			e.do(req{method: http.MethodPost, path: "/tn", body: `{"value": "12062992129"}`}).is(c.status, c.text).notLeaking("10.0.0.7").notLeaking("configured")
			if c.logged != "" {
				e.logged(c.logged)
			}
		})
	}
}

func TestListTNs(t *testing.T) {
	t.Parallel()
	forEachPrefix(t, func(t *testing.T, prefix string) {
		t.Run("empty pool", func(t *testing.T) {
			e := newEnv(t, prefix, nil)
			e.do(req{path: "/tn"}).equals(map[string]any{"virtual_tns": []any{}, "pool_size": 0.0, "available": 0.0, "in_use": 0.0})
			if calls := e.core.recorded(); len(calls.pools) != 1 || calls.pools[0] != compattest.User || len(calls.lists) != 0 {
				t.Errorf("calls %+v: the sessions are read only when a number is in use", calls)
			}
		})
		t.Run("numbers and their newest open session", func(t *testing.T) {
			e := newEnv(t, prefix, nil)
			for _, n := range []string{"+12065550002", "+12065550001", "+447911123456", "+12065550003"} {
				e.core.putNumber(compattest.User, n)
			}
			e.core.putNumber("bob", "+12065550009")
			// …0001: two open sessions (shared allocation), the newer one shown; …0002: one
			// closed and one expired, so free; +447911123456: one open.
			e.core.putSession(openSession("s-old", "+12065550001", "+12065551111", "+12065552222", start.Add(-2*time.Hour), 0))
			e.core.putSession(openSession("s-new", "+12065550001", "+12065553333", "+12065554444", start.Add(-time.Hour), 0))
			closed := openSession("s-closed", "+12065550002", "+12065551111", "+12065554444", start.Add(-time.Hour), 0)
			at := start.Add(-time.Minute)
			closed.ClosedAt = &at
			e.core.putSession(closed)
			e.core.putSession(openSession("s-expired", "+12065550002", "+12065553333", "+12065552222", start.Add(-time.Hour), time.Hour))
			e.core.putSession(openSession("s-uk", "+447911123456", "+12065551111", "+12065555555", start.Add(-time.Hour), 2*time.Hour))
			bob := openSession("s-bob", "+12065550009", "+12065551111", "+12065552222", start, 0)
			bob.AccountID = "bob"
			e.core.putSession(bob)
			e.core.pageCap = 1 // every session on a page of its own: all pages are read
			e.do(req{path: "/tn"}).equals(map[string]any{
				"virtual_tns": []any{
					map[string]any{"value": "12065550001", "session_id": "s-new"},
					map[string]any{"value": "12065550002", "session_id": nil},
					map[string]any{"value": "12065550003", "session_id": nil},
					map[string]any{"value": "+447911123456", "session_id": "s-uk"},
				},
				"pool_size": 4.0, "available": 2.0, "in_use": 2.0,
			})
			lists := e.core.recorded().lists
			if len(lists) != 3 || lists[0].q.Limit != pageLimit || lists[0].q.After != nil || lists[0].q.Closed || lists[2].q.After == nil {
				t.Errorf("list calls %+v: want every page of the open sessions, 500 at a time", lists)
			}
		})
		t.Run("a session that expired after the store's read is not shown", func(t *testing.T) {
			e := newEnv(t, prefix, nil)
			e.core.putNumber(compattest.User, "+12065550001")
			e.core.putSession(openSession("s1", "+12065550001", "+12065551111", "+12065552222", start.Add(-time.Hour), time.Hour+time.Second))
			d, err := New(e.core, nil, Options{Provider: testProvider, Prefix: prefix, Now: func() time.Time { return start.Add(time.Second) }})
			if err != nil {
				t.Fatal(err)
			}
			e.h = newHandler(e, d)
			got := e.do(req{path: "/tn"}).ok()["virtual_tns"].([]any)[0].(map[string]any)
			if got["session_id"] != nil {
				t.Errorf("session_id %v of a session expired at the dialect's clock", got["session_id"])
			}
		})
	})
	t.Run("failures", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name string
			set  func(*fakeCore)
		}{
			{"pool", func(f *fakeCore) { f.numbersErr = errors.New("pool at 10.0.0.7 down") }},
			{"sessions", func(f *fakeCore) { f.listErr = errors.New("sessions at 10.0.0.7 down") }},
			{"stuck cursor", func(f *fakeCore) { f.stuckCursor = true }},
		} {
			e := newEnv(t, "/", nil)
			e.core.putNumber(compattest.User, "+12065550001")
			e.core.putSession(openSession("s1", "+12065550001", "+12065551111", "+12065552222", start, 0))
			c.set(e.core)
			e.do(req{path: "/tn"}).is(500, textFailure).notLeaking("10.0.0.7")
			if c.name == "stuck cursor" {
				e.logged("does not move on")
				if n := len(e.core.recorded().lists); n != 2 {
					t.Errorf("%d pages read of a stuck list", n)
				}
			} else {
				e.logged("10.0.0.7")
			}
		}
	})
}

func TestRemoveTN(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		e164       string // the number the core gets; "" when none
		status     int
		answer     string
	}{
		{"legacy 11 digits", `{"value": "12065550001"}`, "+12065550001", 200, "12065550001"},
		{"E.164", `{"value": "+12065550001"}`, "+12065550001", 200, "12065550001"},
		{"JSON integer", `{"value": 12065550001}`, "+12065550001", 200, "12065550001"},
		{"E.164 of another length", `{"value": "+447911123456"}`, "+447911123456", 200, "+447911123456"},
		{"unknown", `{"value": "12065559999"}`, "+12065559999", 404, textTNUnknown},
		{"another account's", `{"value": "12065550009"}`, "+12065550009", 404, textTNUnknown},
		{"in use", `{"value": "12065550002"}`, "+12065550002", 400, textTNInUse},
		{"missing", `{}`, "", 400, textValueArg},
		{"bad number", `{"value": "206-555-0001"}`, "", 400, textValueArg},
		{"no body", ``, "", 400, "Failed to decode JSON object: unexpected end of JSON input"},
		{"not an object", `[]`, "", 400, textNotObject},
	}
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, prefix, nil)
				for _, n := range []string{"+12065550001", "+12065550002", "+447911123456"} {
					e.core.putNumber(compattest.User, n)
				}
				e.core.putNumber("bob", "+12065550009")
				e.core.putSession(openSession("s1", "+12065550002", "+12065551111", "+12065552222", start, 0))
				r := e.do(req{method: http.MethodDelete, path: "/tn", body: c.body})
				if c.status == 200 {
					r.equals(map[string]any{"message": textRemoved, "value": c.answer})
				} else {
					r.is(c.status, c.answer)
				}
				removes := e.core.recorded().removes
				switch {
				case c.e164 == "" && len(removes) != 0:
					t.Fatalf("the core got %+v", removes)
				case c.e164 != "" && (len(removes) != 1 || removes[0] != idCall{compattest.User, c.e164}):
					t.Fatalf("the core got %+v, want %s", removes, c.e164)
				}
				if c.status == 200 {
					e.do(req{method: http.MethodDelete, path: "/tn", body: c.body}).is(404, textTNUnknown)
				}
			})
		}
	})
	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "/", nil)
		e.core.removeErr = errors.New("store at 10.0.0.7 down")
		e.do(req{method: http.MethodDelete, path: "/tn", body: `{"value": "12065550001"}`}).is(500, textFailure).notLeaking("10.0.0.7")
		e.logged("10.0.0.7")
	})
}
