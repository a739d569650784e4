package fastsmsing

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

var sendPaths = []string{"/sms", "/sms/"}

type env struct {
	t        *testing.T
	h        http.Handler
	core     *fakeCore
	accounts *compattest.Accounts
	logs     *compattest.SyncBuffer
}

// newEnv serves the dialect (sender DefaultFrom) on the real v1 engine: shared middleware,
// real authenticator.
func newEnv(t *testing.T, anonymous string) *env {
	t.Helper()
	return newEnvFrom(t, "", anonymous)
}

func newEnvFrom(t *testing.T, from, anonymous string) *env {
	t.Helper()
	e := &env{t: t, core: &fakeCore{}, accounts: compattest.NewAccounts(), logs: &compattest.SyncBuffer{}}
	log := hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Debug, JSONFormat: true})
	e.h = httpapi.New(httpapi.Options{
		Accounts: e.accounts, Logger: log,
		Dialects: []httpapi.Dialect{New(e.core, log.Named("fastsmsing"), from, anonymous)},
	})
	return e
}

type req = compattest.Request

type resp struct {
	t   *testing.T
	rec *httptest.ResponseRecorder
	// fields is the (always checked) body: one key, a string value.
	key, val string
}

// do serves r on h and holds the answer to the dialect's shapes and to openapi.yaml.
func do(t *testing.T, h http.Handler, r req) *resp {
	t.Helper()
	hr := r.HTTP()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	out := checkShape(t, rec)
	checkSpec(t, hr, rec)
	return out
}

func (e *env) do(r req) *resp {
	e.t.Helper()
	return do(e.t, e.h, r)
}

// shapes are the bodies §8.2 allows, by status: the one key each has.
var shapes = map[int]string{202: "ID", 200: "Status", 404: "message", 400: "Error", 401: "Error", 403: "Error", 413: "Error", 500: "Error"}

// checkShape holds every answer to one of §8.2's shapes: a JSON object with exactly one key,
// whose value is a non-empty string, the key fixed by the status.
func checkShape(t *testing.T, rec *httptest.ResponseRecorder) *resp {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, body %s", ct, rec.Body)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil || len(fields) != 1 {
		t.Fatalf("%d: body %s is not an object with one key", rec.Code, rec.Body)
	}
	want, ok := shapes[rec.Code]
	if !ok {
		t.Fatalf("unexpected status %d (body %s)", rec.Code, rec.Body)
	}
	r := resp{t: t, rec: rec, key: want}
	if err := json.Unmarshal(fields[want], &r.val); err != nil || r.val == "" {
		t.Fatalf("%d: body %s, want a non-empty string %q", rec.Code, rec.Body, want)
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	return &r
}

func (r *resp) is(status int, val string) *resp {
	r.t.Helper()
	if r.rec.Code != status || r.val != val {
		r.t.Fatalf("got %d %s, want %d %s %q", r.rec.Code, r.rec.Body, status, shapes[status], val)
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

func (r *resp) notLeaking(secret string) *resp {
	r.t.Helper()
	if strings.Contains(r.rec.Body.String(), secret) {
		r.t.Errorf("internal error text leaked: %s", r.rec.Body)
	}
	return r
}

func (e *env) noCoreCalls() {
	e.t.Helper()
	if s, g := e.core.calls(); len(s)+len(g) != 0 {
		e.t.Fatalf("the core was called: sends %+v, gets %+v", s, g)
	}
}

func (e *env) logged(s string) {
	e.t.Helper()
	if !strings.Contains(e.logs.String(), s) {
		e.t.Errorf("%q was not logged; log:\n%s", s, e.logs)
	}
}

func body(phone, content any) string {
	b, err := json.Marshal(map[string]any{"PhoneNumber": phone, "Content": content})
	if err != nil {
		panic(err)
	}
	return string(b)
}

var valid = body("14155550101", "hello")

func TestSendOnBothPaths(t *testing.T) {
	t.Parallel()
	for _, from := range []string{"", "ACME Ltd"} {
		for _, p := range sendPaths {
			t.Run(fmt.Sprintf("%s from %q", p, from), func(t *testing.T) {
				t.Parallel()
				e := newEnvFrom(t, from, "")
				e.do(req{Path: p, Body: body("0044770090012", "hi <&> ü")}).is(202, "m1")
				sends, gets := e.core.calls()
				want := gateway.SendCommand{
					AccountID: compattest.User, From: DefaultFrom, To: "0044770090012", Text: "hi <&> ü",
					Verbatim: true, Unlimited: true,
				}
				if from != "" {
					want.From = from
				}
				if len(gets) != 0 || len(sends) != 1 || fmt.Sprintf("%+v", sends[0]) != fmt.Sprintf("%+v", want) {
					t.Fatalf("sends %+v, want %+v", sends, want)
				}
			})
		}
	}
}

// sendCase is a body and its answer: want "" is accepted (202), else a 400 with that text;
// phone and content are then what reaches the core.
type sendCase struct {
	name           string
	body           string
	want           string
	phone, content string
}

func runSendCases(t *testing.T, cases []sendCase) {
	t.Helper()
	for _, path := range sendPaths {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					e := newEnv(t, "")
					r := e.do(req{Path: path, Body: c.body})
					if c.want != "" {
						r.is(400, c.want)
						e.noCoreCalls()
						return
					}
					r.is(202, "m1")
					sends, _ := e.core.calls()
					if len(sends) != 1 || sends[0].To != c.phone || sends[0].Text != c.content {
						t.Fatalf("sends %+v, want to %q text %q", sends, c.phone, c.content)
					}
				})
			}
		})
	}
}

func TestKeyCaseIgnored(t *testing.T) {
	t.Parallel()
	runSendCases(t, []sendCase{
		{"as specified", `{"PhoneNumber": "1", "Content": "a"}`, "", "1", "a"},
		{"lower case", `{"phonenumber": "1", "content": "a"}`, "", "1", "a"},
		{"upper case", `{"PHONENUMBER": "1", "CONTENT": "a"}`, "", "1", "a"},
		{"mixed case", `{"pHoNeNuMbEr": "1", "cOnTeNt": "a"}`, "", "1", "a"},
		{"escaped key", `{"\u0050honeNumber": "1", "\u0063ontent": "a"}`, "", "1", "a"},
		{"unknown keys ignored", `{"PhoneNumber": "1", "Content": "a", "From": 5, "x": [{}]}`, "", "1", "a"},
		{"similar keys are other keys", `{"Phone_Number": "1", "Phone": "1", "Content": "a"}`, textNoPhone, "", ""},
		{"repeated key: the last wins", `{"PhoneNumber": "1", "PhoneNumber": "2", "Content": "a"}`, "", "2", "a"},
		{"keys differing by case: the last wins", `{"PhoneNumber": "1", "phonenumber": "2", "content": "b", "Content": "a"}`, "", "2", "a"},
		{"a later null empties", `{"PhoneNumber": "1", "Content": "a", "CONTENT": null}`, textEmptyMessage, "", ""},
		{"a later value replaces null", `{"PhoneNumber": null, "phoneNumber": "3", "Content": "a"}`, "", "3", "a"},
		{"a wrong type anywhere is malformed", `{"content": 5, "Content": "a", "PhoneNumber": "1"}`, "cannot unmarshal number into Content of type string", "", ""},
	})
}

func TestChecks(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ж", message.MaxTextLength+1)
	cases := []sendCase{
		// The order of §8.2: content, then the phone's presence, then its digits.
		{"all absent", `{}`, textEmptyMessage, "", ""},
		{"content empty, phone bad", body("+1 555", ""), textEmptyMessage, "", ""},
		{"content absent, phone bad", `{"PhoneNumber": "abc"}`, textEmptyMessage, "", ""},
		{"content null", body("1", nil), textEmptyMessage, "", ""},
		{"content whitespace is not empty", body("1", " "), "", "1", " "},
		{"phone absent", `{"Content": "hi"}`, textNoPhone, "", ""},
		{"phone empty", body("", "hi"), textNoPhone, "", ""},
		{"phone null", body(nil, "hi"), textNoPhone, "", ""},
		{"phone with +", body("+15551234567", "hi"), textNotDigits, "", ""},
		{"phone with spaces", body("1555 123 4567", "hi"), textNotDigits, "", ""},
		{"phone with leading space", body(" 15551234567", "hi"), textNotDigits, "", ""},
		{"phone with a dash", body("1555-1234", "hi"), textNotDigits, "", ""},
		{"phone with parentheses", body("(555)1234", "hi"), textNotDigits, "", ""},
		{"phone with letters", body("1555CALLME", "hi"), textNotDigits, "", ""},
		{"phone of Arabic-Indic digits", body("٣٣٣٣", "hi"), textNotDigits, "", ""},
		{"phone of fullwidth digits", body("１２３４", "hi"), textNotDigits, "", ""},
		{"phone with NUL", body("1\u0000", "hi"), textNotDigits, "", ""},
		{"phone digits", body("15551234567", "hi"), "", "15551234567", "hi"},
		{"phone one digit", body("0", "hi"), "", "0", "hi"},
		{"phone leading zeros as given", body("0044770090012", "hi"), "", "0044770090012", "hi"},

		// Beyond §8.2: the core's text bound, checked after everything §8.2 lists.
		{"content 1600 code points", body("1", long[len("ж"):]), "", "1", long[len("ж"):]},
		{"content 1601 code points", body("1", long), textTooLong, "", ""},
		{"content too long, phone bad", body("+1", long), textNotDigits, "", ""},
		{"content too long, phone empty", body("", long), textNoPhone, "", ""},

		// Malformed JSON: the decoder's reason (parsed before any field is checked).
		{"empty body", ``, "unexpected end of JSON input", "", ""},
		{"whitespace body", " \n", "unexpected end of JSON input", "", ""},
		{"truncated", `{"Content": "hi",`, "unexpected end of JSON input", "", ""},
		{"trailing garbage", `{"Content": "hi", "PhoneNumber": "1"} x`, "invalid character 'x' after top-level value", "", ""},
		{"two objects", `{} {}`, "invalid character '{' after top-level value", "", ""},
		{"unquoted key", `{Content: "hi"}`, "invalid character 'C' looking for beginning of object key string", "", ""},
		{"single quotes", `{'Content': 'hi'}`, "invalid character '\\'' looking for beginning of object key string", "", ""},
		{"trailing comma", `{"Content": "hi",}`, "invalid character '}' looking for beginning of object key string", "", ""},
		{"bad escape", `{"Content": "\x"}`, "invalid character 'x' in string escape code", "", ""},
		{"array", `[{"Content": "hi", "PhoneNumber": "1"}]`, textNotObject, "", ""},
		{"string", `"hi"`, textNotObject, "", ""},
		{"number", `42`, textNotObject, "", ""},
		{"null", `null`, textNotObject, "", ""},
		{"content a number", `{"Content": 5, "PhoneNumber": "1"}`, "cannot unmarshal number into Content of type string", "", ""},
		{"content a bool", `{"Content": true, "PhoneNumber": "1"}`, "cannot unmarshal bool into Content of type string", "", ""},
		{"content an array", `{"Content": ["hi"], "PhoneNumber": "1"}`, "cannot unmarshal array into Content of type string", "", ""},
		{"content an object", `{"Content": {}, "PhoneNumber": "1"}`, "cannot unmarshal object into Content of type string", "", ""},
		{"phone a number", `{"Content": "hi", "PhoneNumber": 15551234567}`, "cannot unmarshal number into PhoneNumber of type string", "", ""},
		{"the first wrong type counts", `{"phonenumber": false, "Content": 1}`, "cannot unmarshal bool into PhoneNumber of type string", "", ""},
		{"a wrong type before the empty checks", `{"Content": "", "PhoneNumber": 1}`, "cannot unmarshal number into PhoneNumber of type string", "", ""},
		{"unknown keys may have any type", `{"Content": "hi", "PhoneNumber": "1", "Priority": 5}`, "", "1", "hi"},
		{"invalid UTF-8 is replaced", "{\"Content\": \"a\xffb\", \"PhoneNumber\": \"1\"}", "", "1", "a\uFFFDb"},
	}
	runSendCases(t, cases)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	msgs := map[string]message.Message{}
	statuses := map[message.Status]string{
		message.StatusScheduled: "ACCEPTED", message.StatusQueued: "ACCEPTED", message.StatusSending: "ACCEPTED",
		message.StatusSent: "CONFIRMED", message.StatusDelivered: "DELIVERED",
		message.StatusFailed: "FAILED", message.StatusUndelivered: "FAILED", message.StatusCanceled: "FAILED",
	}
	type statusCase struct {
		id       string // the message id (the path is built from it, escaped)
		want     string
		asksCore bool
	}
	var cases []statusCase
	for st, want := range statuses {
		id := "out-" + string(st)
		msgs[id] = message.Message{ID: id, AccountID: compattest.User, Direction: message.Outbound, Status: st}
		cases = append(cases, statusCase{id, want, true})
	}
	msgs["in-1"] = message.Message{ID: "in-1", AccountID: compattest.User, Direction: message.Inbound, Status: message.StatusReceived}
	msgs["bobs"] = message.Message{ID: "bobs", AccountID: "bob", Direction: message.Outbound, Status: message.StatusDelivered}
	cases = append(cases,
		statusCase{"in-1", "NOT_FOUND", true},                                 // inbound: not an SMS this dialect sent
		statusCase{"bobs", "NOT_FOUND", true},                                 // another account's
		statusCase{"unknown", "NOT_FOUND", true},                              // unknown
		statusCase{"0190a5b2-7e4c-7d1a-9c3e-1f2a3b4c5d6e", "NOT_FOUND", true}, // a well-formed unknown id
		statusCase{strings.Repeat("a", httpapi.MaxLookupID), "NOT_FOUND", true},
		// Malformed: the store is not asked.
		statusCase{strings.Repeat("a", httpapi.MaxLookupID+1), "NOT_FOUND", false},
		statusCase{"a b", "NOT_FOUND", false},
		statusCase{"\x00", "NOT_FOUND", false},
		statusCase{"é", "NOT_FOUND", false},
		statusCase{"\xff", "NOT_FOUND", false},
	)
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q", c.id), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			e.core.msgs = msgs
			e.do(req{Method: http.MethodGet, Path: "/sms/" + pathEscape(c.id)}).is(200, c.want)
			sends, gets := e.core.calls()
			switch {
			case len(sends) != 0:
				t.Errorf("sends %+v", sends)
			case c.asksCore && (len(gets) != 1 || gets[0] != getCall{compattest.User, c.id}):
				t.Errorf("gets %+v, want one of %q as %s", gets, c.id, compattest.User)
			case !c.asksCore && len(gets) != 0:
				t.Errorf("a malformed id reached the core: %+v", gets)
			}
		})
	}
}

// pathEscape escapes every byte that is not unreserved, so the server decodes exactly id.
func pathEscape(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func TestOtherRoutesAreNotFound(t *testing.T) {
	t.Parallel()
	cases := []struct{ method, path string }{
		{http.MethodGet, "/sms"},
		{http.MethodGet, "/sms/"},
		{http.MethodGet, "/sms/x/"},
		{http.MethodGet, "/sms/x/y"},
		{http.MethodGet, "/sms/a%2Fb"}, // decoded to /sms/a/b
		{http.MethodGet, "/sms//x"},
		{http.MethodPost, "/sms/x"},
		{http.MethodPost, "/sms/x/y"},
		{http.MethodPost, "/sms//"},
		{http.MethodPut, "/sms"},
		{http.MethodPut, "/sms/x"},
		{http.MethodPatch, "/sms/"},
		{http.MethodDelete, "/sms"},
		{http.MethodDelete, "/sms/x"},
		{http.MethodOptions, "/sms"},
		{http.MethodConnect, "/sms/x"},
		{http.MethodTrace, "/sms/"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			t.Parallel()
			for _, r := range []req{
				{Method: c.method, Path: c.path, Body: valid},
				{Method: c.method, Path: c.path, Body: valid, NoAuth: true}, // no route, nothing to guard
				{Method: c.method, Path: c.path, Body: `{`, User: "mallory", Pass: "x"},
			} {
				e := newEnv(t, "")
				e.do(r).is(404, "not found").header("WWW-Authenticate", "")
				e.noCoreCalls()
			}
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	bad := compattest.BadCredentials()
	ops := []req{
		{Path: "/sms", Body: valid},
		{Path: "/sms/", Body: `[]`}, // 401 before the body is looked at
		{Method: http.MethodGet, Path: "/sms/m1"},
	}
	for _, op := range ops {
		for _, c := range bad {
			t.Run(op.Method+" "+op.Path+" "+c.Name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, "")
				r := c.Req
				r.Method, r.Path, r.Body = op.Method, op.Path, op.Body
				e.do(r).is(401, "unauthorized").header("WWW-Authenticate", `Basic realm="smsgw"`)
				e.noCoreCalls()
			})
		}
	}
	t.Run("store unavailable", func(t *testing.T) {
		t.Parallel()
		for _, op := range ops {
			e := newEnv(t, "")
			e.accounts.SetErr(fmt.Errorf("ping 10.0.0.7: %w", ports.ErrUnavailable))
			e.do(op).is(500, unknownFailure).header("WWW-Authenticate", "").notLeaking("10.0.0.7")
			e.logged("10.0.0.7")
			e.noCoreCalls()
		}
	})
}

func TestAnonymousAccount(t *testing.T) {
	t.Parallel()
	for _, creds := range []req{
		{NoAuth: true},
		{User: "mallory", Pass: "whatever"}, // credentials are ignored, not checked
		{},
	} {
		e := newEnv(t, "legacy")
		e.accounts.SetErr(errors.New("the store is never asked"))
		e.core.msgs = map[string]message.Message{"m1": {ID: "m1", AccountID: "legacy", Direction: message.Outbound, Status: message.StatusSent}}
		r := creds
		r.Path, r.Body = "/sms", valid
		e.do(r).is(202, "m1")
		r.Method, r.Path, r.Body = http.MethodGet, "/sms/m1", ""
		e.do(r).is(200, "CONFIRMED")
		sends, gets := e.core.calls()
		if len(sends) != 1 || sends[0].AccountID != "legacy" || len(gets) != 1 || gets[0].account != "legacy" {
			t.Fatalf("sends %+v, gets %+v", sends, gets)
		}
	}
	// The checks still apply.
	e := newEnv(t, "legacy")
	e.do(req{Path: "/sms/", NoAuth: true, Body: `{}`}).is(400, textEmptyMessage)
	e.noCoreCalls()
}

func TestSendRefusals(t *testing.T) {
	t.Parallel()
	const secret = "pq: connection to 10.0.0.7 refused (password=hunter2)"
	cases := []struct {
		name   string
		err    error
		status int
		text   string
		logged string
	}{
		{"opted out", gateway.ErrOptedOut, 403, textOptedOut, ""},
		{"opted out, wrapped", fmt.Errorf("check opt-out: %w", gateway.ErrOptedOut), 403, textOptedOut, ""},
		{"store unavailable", fmt.Errorf("insert message: %s: %w", secret, ports.ErrUnavailable), 500, unknownFailure, secret},
		{"unexpected", errors.New(secret), 500, unknownFailure, secret},
		{"core field error", message.Invalid("text", "text must be valid UTF-8"), 500, unknownFailure, "text must be valid UTF-8"},
		// Unlimited sends are never rate limited; should the core refuse one anyway, that is a bug.
		{"rate limited", &gateway.RateLimitedError{Sender: DefaultFrom, RetryAfter: time.Second}, 500, unknownFailure, "rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			e.core.sendErr = c.err
			e.do(req{Path: "/sms", Body: valid}).is(c.status, c.text).notLeaking("10.0.0.7").header("Retry-After", "")
			if c.logged != "" {
				e.logged(c.logged)
			}
		})
	}
}

func TestStatusFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.core.getErr = fmt.Errorf("select message: disk on fire at /var/lib/smsgw: %w", ports.ErrUnavailable)
	e.do(req{Method: http.MethodGet, Path: "/sms/m1"}).is(500, unknownFailure).notLeaking("disk")
	e.logged("disk on fire")
}

func TestPanicIsUnknownFailure(t *testing.T) {
	t.Parallel()
	for _, r := range []req{{Path: "/sms", Body: valid}, {Method: http.MethodGet, Path: "/sms/m1"}} {
		e := newEnv(t, "")
		e.core.panicV = "boom in core"
		e.do(r).is(500, unknownFailure)
		e.logged("boom in core")
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	big := `{"PhoneNumber": "1", "Content": "hi", "pad": "` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`
	for _, p := range sendPaths {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "")
			// Declared Content-Length: refused by the shared limit before the handler runs.
			e.do(req{Path: p, Body: big}).is(413, textTooLarge)
			// Chunked: refused while the handler reads.
			e.do(req{Path: p, BodyReader: io.MultiReader(strings.NewReader(big))}).is(413, textTooLarge)
			e.noCoreCalls()
			// At the limit it is read (and here valid).
			atLimit := `{"PhoneNumber": "1", "Content": "hi", "pad": "`
			atLimit += strings.Repeat("x", httpapi.MaxBodyBytes-len(atLimit)-2) + `"}`
			if len(atLimit) != httpapi.MaxBodyBytes {
				t.Fatal(len(atLimit))
			}
			e.do(req{Path: p, BodyReader: bytes.NewReader([]byte(atLimit))}).is(202, "m1")
		})
	}
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		// GET bodies are limited too (and otherwise ignored).
		e := newEnv(t, "")
		e.do(req{Method: http.MethodGet, Path: "/sms/m1", Body: big}).is(413, textTooLarge)
		e.noCoreCalls()
	})
	t.Run("no route", func(t *testing.T) {
		t.Parallel()
		// Not an operation of the dialect: 404, whatever the body.
		e := newEnv(t, "")
		e.do(req{Method: http.MethodPut, Path: "/sms/x", Body: big}).is(404, "not found")
		e.noCoreCalls()
	})
}

// The v1 API is untouched by the dialect: its own errors keep v1's shape.
func TestV1Unaffected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodPost, "/v1/messages", 401, "unauthorized"},
		{http.MethodPost, "/smsx", 404, "not_found"},
		{http.MethodGet, "/SMS/m1", 404, "not_found"},
	} {
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), `"code":"`+c.code+`"`) {
			t.Errorf("%s %s answered %d %s", c.method, c.path, rec.Code, rec.Body)
		}
	}
}
