package smsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	inboundPaths  = []string{"/inbound/sms", "/inbound/sms/"}
	outboundPaths = []string{"/outbound/sms", "/outbound/sms/"}
	allPaths      = append(append([]string(nil), inboundPaths...), outboundPaths...)
)

type env struct {
	t        *testing.T
	h        http.Handler
	core     *fakeCore
	accounts *compattest.Accounts
	logs     *compattest.SyncBuffer
}

// newEnv serves the dialect on the real v1 engine (shared middleware, real authenticator).
func newEnv(t *testing.T, anonymous string) *env {
	t.Helper()
	e := &env{t: t, core: &fakeCore{}, accounts: compattest.NewAccounts(), logs: &compattest.SyncBuffer{}}
	log := hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Debug, JSONFormat: true})
	e.h = httpapi.New(httpapi.Options{
		Accounts: e.accounts, Logger: log,
		Dialects: []httpapi.Dialect{New(e.core, log.Named("smsapp"), anonymous)},
	})
	return e
}

type req = compattest.Request

type resp struct {
	t   *testing.T
	rec *httptest.ResponseRecorder
	// Message and Error of the (always checked) smsapp body.
	Message, Error string
}

func (e *env) do(r req) *resp {
	e.t.Helper()
	hr := r.HTTP()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	r2 := checkShape(e.t, rec)
	if hr.Method == http.MethodPost {
		checkSpec(e.t, r.Path, rec)
	}
	return r2
}

// checkShape holds every answer to §8.1's shape: a JSON object with exactly the string keys
// message and error, exactly one of them non-empty.
func checkShape(t *testing.T, rec *httptest.ResponseRecorder) *resp {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, body %s", ct, rec.Body)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil || len(fields) != 2 {
		t.Fatalf("body %s is not {message, error}", rec.Body)
	}
	var r resp
	if json.Unmarshal(fields["message"], &r.Message) != nil || json.Unmarshal(fields["error"], &r.Error) != nil {
		t.Fatalf("body %s: message and error must be strings", rec.Body)
	}
	if (r.Message == "") == (r.Error == "") {
		t.Fatalf("body %s: exactly one of message and error must be non-empty", rec.Body)
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	r.t, r.rec = t, rec
	return &r
}

func (r *resp) ok(status int, msg string) *resp {
	r.t.Helper()
	if r.rec.Code != status || r.Message != msg {
		r.t.Fatalf("got %d %s, want %d message %q", r.rec.Code, r.rec.Body, status, msg)
	}
	return r
}

func (r *resp) refused(status int, text string) *resp {
	r.t.Helper()
	if r.rec.Code != status || r.Error != text {
		r.t.Fatalf("got %d %s, want %d error %q", r.rec.Code, r.rec.Body, status, text)
	}
	return r
}

func (r *resp) header(name, want string) *resp {
	r.t.Helper()
	if got := r.rec.Header().Get(name); got != want {
		r.t.Errorf("%s: %q, want %q", name, got, want)
	}
	return r
}

func (e *env) noCoreCalls() {
	e.t.Helper()
	if s, r := e.core.calls(); len(s)+len(r) != 0 {
		e.t.Fatalf("the core was called: sends %+v, receives %+v", s, r)
	}
}

func body(from, to, text any) string {
	b, err := json.Marshal(map[string]any{"from": from, "to": to, "text": text})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Multi-byte strings: a byte count would put them on the other side of every bound.
var (
	cp5   = strings.Repeat("é", 5)  // 10 bytes
	cp6   = strings.Repeat("é", 6)  // 12 bytes
	cp16  = strings.Repeat("€", 16) // 48 bytes
	cp17  = strings.Repeat("€", 17)
	t1    = "😀" // 4 bytes
	t120  = strings.Repeat("ü", 120)
	t121  = strings.Repeat("ü", 121)
	a17   = strings.Repeat("a", 17)
	a121  = strings.Repeat("a", 121)
	valid = body("+14155550100", "+14155550101", "hello")
)

func TestOKOnEveryPath(t *testing.T) {
	t.Parallel()
	for _, p := range allPaths {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			want := outboundOK
			if strings.HasPrefix(p, "/inbound") {
				want = inboundOK
			}
			e.do(req{Path: p, Body: valid}).ok(200, want)
			s, r := e.core.calls()
			if len(s)+len(r) != 1 {
				t.Fatalf("core calls: sends %d, receives %d", len(s), len(r))
			}
		})
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	const f, to, x = "+14155550100", "+14155550101", "hello"
	cases := []struct {
		name string
		body string
		want string // "" = valid
	}{
		{"all absent", `{}`, "from is missing"},
		{"from absent", `{"to": "+14155550101", "text": "hi"}`, "from is missing"},
		{"to absent", `{"from": "+14155550100", "text": "hi"}`, "to is missing"},
		{"text absent", `{"from": "+14155550100", "to": "+14155550101"}`, "text is missing"},
		{"key case matters", `{"From": "+14155550100", "to": "+14155550101", "text": "hi"}`, "from is missing"},
		{"unknown keys ignored", `{"from": "abcdef", "to": "ghijkl", "text": "hi", "extra": [1, {}]}`, ""},
		{"last of repeated keys", `{"from": 1, "from": "abcdef", "to": "ghijkl", "text": "hi"}`, ""},

		{"from 5 code points", body(cp5, to, x), "from is invalid"},
		{"from 6 code points", body(cp6, to, x), ""},
		{"from 16 code points", body(cp16, to, x), ""},
		{"from 17 code points", body(cp17, to, x), "from is invalid"},
		{"from 17 ascii", body(a17, to, x), "from is invalid"},
		{"from empty", body("", to, x), "from is invalid"},
		{"from any characters", body("abcdef", to, x), ""},
		{"from spaces and symbols", body("+1 (415) <&>", to, x), ""},
		{"to 5 code points", body(f, cp5, x), "to is invalid"},
		{"to 6 code points", body(f, cp6, x), ""},
		{"to 16 code points", body(f, cp16, x), ""},
		{"to 17 code points", body(f, cp17, x), "to is invalid"},
		{"to 17 ascii", body(f, a17, x), "to is invalid"},
		{"to any characters", body(f, "ghijkl", x), ""},
		{"text 0 code points", body(f, to, ""), "text is invalid"},
		{"text 1 code point", body(f, to, t1), ""},
		{"text 120 code points", body(f, to, t120), ""},
		{"text 121 code points", body(f, to, t121), "text is invalid"},
		{"text 121 ascii", body(f, to, a121), "text is invalid"},
		{"text whitespace only", body(f, to, " "), ""},

		{"first failing wins: from invalid, to missing", `{"from": 1, "text": ""}`, "from is invalid"},
		{"first failing wins: to missing, text invalid", `{"from": "abcdef", "text": 5}`, "to is missing"},
		{"first failing wins: to invalid, text missing", `{"from": "abcdef", "to": null}`, "to is invalid"},
		{"first failing wins: text last", body(f, to, a121), "text is invalid"},

		{"array body", `[{"from": "abcdef", "to": "ghijkl", "text": "hi"}]`, "from is missing"},
		{"string body", `"from"`, "from is missing"},
		{"number body", `42`, "from is missing"},
		{"null body", `null`, "from is missing"},
		{"invalid JSON", `{"from": "abcdef",`, "from is missing"},
		{"trailing garbage", `{"from": "abcdef", "to": "ghijkl", "text": "hi"} x`, "from is missing"},
		{"empty body", ``, "from is missing"},
	}
	// Every field with every JSON type that is not a string.
	for _, p := range []string{"from", "to", "text"} {
		for tname, v := range map[string]string{"number": `12345678`, "bool": `true`, "object": `{}`, "array": `["abcdef"]`, "null": `null`} {
			fields := map[string]string{"from": `"abcdef"`, "to": `"ghijkl"`, "text": `"hi"`}
			fields[p] = v
			cases = append(cases, struct{ name, body, want string }{
				p + " " + tname,
				fmt.Sprintf(`{"from": %s, "to": %s, "text": %s}`, fields["from"], fields["to"], fields["text"]),
				p + " is invalid",
			})
		}
	}
	for _, path := range allPaths {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					e := newEnv(t, "")
					r := e.do(req{Path: path, Body: c.body})
					if c.want != "" {
						r.refused(400, c.want)
						e.noCoreCalls()
						return
					}
					if r.rec.Code != 200 {
						t.Fatalf("got %d %s, want 200", r.rec.Code, r.rec.Body)
					}
				})
			}
		})
	}
}

func TestInboundPassesLegacyStopAndExactStrings(t *testing.T) {
	t.Parallel()
	for _, p := range inboundPaths {
		for _, text := range []string{" STOP\n", "stop", "hello <&> ü"} {
			e := newEnv(t, "")
			e.do(req{Path: p, Body: body(" abc def ", "+44 7700 900", text)}).ok(200, inboundOK)
			sends, got := e.core.calls()
			want := gateway.ReceiveCommand{AccountID: compattest.User, From: " abc def ", To: "+44 7700 900", Text: text, Keywords: gateway.LegacyStop}
			if len(sends) != 0 || len(got) != 1 || got[0] != want {
				t.Fatalf("%s: receives %+v, want %+v (sends %+v)", p, got, want, sends)
			}
		}
	}
}

func TestOutboundPassesVerbatim(t *testing.T) {
	t.Parallel()
	for _, p := range outboundPaths {
		e := newEnv(t, "")
		e.do(req{Path: p, Body: body("abcdef", "0044 7700 900", "STOP")}).ok(200, outboundOK)
		got, receives := e.core.calls()
		want := gateway.SendCommand{AccountID: compattest.User, From: "abcdef", To: "0044 7700 900", Text: "STOP", Verbatim: true}
		if len(receives) != 0 || len(got) != 1 || fmt.Sprintf("%+v", got[0]) != fmt.Sprintf("%+v", want) {
			t.Fatalf("%s: sends %+v, want %+v", p, got, want)
		}
	}
}

func TestOutboundRefusals(t *testing.T) {
	t.Parallel()
	const secret = "pq: connection to 10.0.0.7 refused (password=hunter2)"
	cases := []struct {
		name       string
		err        error
		status     int
		text       string
		retryAfter string
		logged     string
	}{
		{"rate limited", &gateway.RateLimitedError{Sender: "abcdef", RetryAfter: 1500 * time.Millisecond}, 429, "limit reached for from abcdef", "2", ""},
		{"rate limited, wrapped, under a second", fmt.Errorf("accept: %w", &gateway.RateLimitedError{Sender: "abcdef", RetryAfter: time.Millisecond}), 429, "limit reached for from abcdef", "1", ""},
		{"rate limited, an hour", &gateway.RateLimitedError{Sender: "abcdef", RetryAfter: time.Hour}, 429, "limit reached for from abcdef", "3600", ""},
		{"opted out", gateway.ErrOptedOut, 403, "sms from abcdef and to ghijkl blocked by STOP request", "", ""},
		{"opted out, wrapped", fmt.Errorf("check opt-out: %w", gateway.ErrOptedOut), 403, "sms from abcdef and to ghijkl blocked by STOP request", "", ""},
		{"another rejection", ports.ErrRejected, 500, unknownFailure, "", `"error":"rejected"`},
		{"store unavailable", fmt.Errorf("insert message: %s: %w", secret, ports.ErrUnavailable), 500, unknownFailure, "", secret},
		{"unexpected", errors.New(secret), 500, unknownFailure, "", secret},
		{"core field error", message.Invalid("from", "from must be an E.164 number"), 500, unknownFailure, "", "from must be an E.164 number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			e.core.err = c.err
			r := e.do(req{Path: "/outbound/sms", Body: body("abcdef", "ghijkl", "hi")}).refused(c.status, c.text)
			r.header("Retry-After", c.retryAfter)
			if strings.Contains(r.rec.Body.String(), "10.0.0.7") {
				t.Errorf("internal error text leaked: %s", r.rec.Body)
			}
			if c.logged != "" && !strings.Contains(e.logs.String(), c.logged) {
				t.Errorf("the error was not logged; log:\n%s", e.logs)
			}
		})
	}
}

func TestInboundFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.core.err = errors.New("disk on fire at /var/lib/smsgw")
	r := e.do(req{Path: "/inbound/sms", Body: valid}).refused(500, unknownFailure)
	if strings.Contains(r.rec.Body.String(), "disk") || !strings.Contains(e.logs.String(), "disk on fire") {
		t.Errorf("body %s; log:\n%s", r.rec.Body, e.logs)
	}
}

func TestPanicIsUnknownFailure(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/inbound/sms", "/outbound/sms/"} {
		e := newEnv(t, "")
		e.core.panicV = "boom in core"
		e.do(req{Path: p, Body: valid}).refused(500, unknownFailure)
		if !strings.Contains(e.logs.String(), "boom in core") {
			t.Errorf("panic not logged:\n%s", e.logs)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	cases := compattest.BadCredentials()
	for _, p := range allPaths {
		for _, c := range cases {
			t.Run(p+" "+c.Name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, "")
				r := c.Req
				r.Path, r.Body = p, valid
				e.do(r).refused(401, "unauthorized").header("WWW-Authenticate", `Basic realm="smsgw"`)
				e.noCoreCalls()
			})
		}
	}
	t.Run("invalid body still 401 first", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "")
		e.do(req{Path: "/outbound/sms", Body: `[]`, NoAuth: true}).refused(401, "unauthorized")
	})
	t.Run("store unavailable", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "")
		e.accounts.SetErr(fmt.Errorf("ping 10.0.0.7: %w", ports.ErrUnavailable))
		r := e.do(req{Path: "/inbound/sms", Body: valid}).refused(500, unknownFailure).header("WWW-Authenticate", "")
		if strings.Contains(r.rec.Body.String(), "10.0.0.7") || !strings.Contains(e.logs.String(), "10.0.0.7") {
			t.Errorf("body %s; log:\n%s", r.rec.Body, e.logs)
		}
		e.noCoreCalls()
	})
}

func TestAnonymousAccount(t *testing.T) {
	t.Parallel()
	for _, r := range []req{
		{NoAuth: true},
		{User: "mallory", Pass: "whatever"}, // credentials are ignored, not checked
		{},
	} {
		e := newEnv(t, "legacy")
		e.accounts.SetErr(errors.New("the store is never asked"))
		r.Path, r.Body = "/outbound/sms", valid
		e.do(r).ok(200, outboundOK)
		r.Path = "/inbound/sms/"
		e.do(r).ok(200, inboundOK)
		sends, receives := e.core.calls()
		if len(sends) != 1 || sends[0].AccountID != "legacy" || len(receives) != 1 || receives[0].AccountID != "legacy" {
			t.Fatalf("sends %+v, receives %+v", sends, receives)
		}
	}
	// Validation still applies.
	e := newEnv(t, "legacy")
	e.do(req{Path: "/outbound/sms", NoAuth: true, Body: `{}`}).refused(400, "from is missing")
	e.noCoreCalls()
}

func TestWrongMethod(t *testing.T) {
	t.Parallel()
	for _, p := range allPaths {
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
			e := newEnv(t, "")
			e.do(req{Method: m, Path: p, Body: valid}).refused(405, textMethod).header("Allow", "POST")
			e.noCoreCalls()
		}
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	big := `{"from": "abcdef", "to": "ghijkl", "text": "hi", "pad": "` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`
	for _, p := range []string{"/inbound/sms", "/outbound/sms/"} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			// Declared Content-Length: refused by the shared limit before the handler runs.
			e.do(req{Path: p, Body: big}).refused(413, textTooLarge)
			// Chunked: refused while the handler reads.
			e.do(req{Path: p, BodyReader: io.MultiReader(strings.NewReader(big))}).refused(413, textTooLarge)
			e.noCoreCalls()
			// At the limit it is read (and here valid).
			atLimit := `{"from": "abcdef", "to": "ghijkl", "text": "hi", "pad": "`
			atLimit += strings.Repeat("x", httpapi.MaxBodyBytes-len(atLimit)-2) + `"}`
			if len(atLimit) != httpapi.MaxBodyBytes {
				t.Fatal(len(atLimit))
			}
			e.do(req{Path: p, BodyReader: bytes.NewReader([]byte(atLimit))}).rec.Result().Body.Close()
			if s, r := e.core.calls(); len(s)+len(r) != 1 {
				t.Errorf("a body of exactly MaxBodyBytes was not served")
			}
		})
	}
}

// The v1 API is untouched by the dialect: its own errors keep v1's shape.
func TestV1Unaffected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/messages", nil))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), `"code":"unauthorized"`) {
		t.Errorf("v1 answered %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/inbound/smsx", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"code":"not_found"`) {
		t.Errorf("unknown path answered %d %s", rec.Code, rec.Body)
	}
}
