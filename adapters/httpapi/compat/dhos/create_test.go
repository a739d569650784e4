package dhos

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

const smsPath = Prefix + "/sms"

// A create sends from the sender as given to the receiver in E.164, tagged with the tenant
// (lower-cased) and the receiver as given, and answers the dict with the receiver as given.
func TestCreate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		region           string
		sender, receiver string
		tenant           [2]string // as sent
		wantTo           string
	}{
		{"national, spaced", "GB", "ACME", "07911 123456", [2]string{"ACME-Trust", "Pulse"}, "+447911123456"},
		{"international", "GB", "ACME Trust", "+44 7911 123456", [2]string{"acme-trust", "pulse"}, "+447911123456"},
		{"international with 00", "GB", "ACME", "0044-7911-123456", [2]string{"Acme-Trust", "PULSE"}, "+447911123456"},
		{"dots and parentheses", "GB", "ACME", "(07911) 123.456", [2]string{"ACME-TRUST", "Pulse"}, "+447911123456"},
		{"E.164 as is", "GB", "+447700900001", "+447911123456", [2]string{"ACME-Trust", "Pulse"}, "+447911123456"},
		{"another country's number", "GB", "ACME", "+1 415 555 0101", [2]string{"ACME-Trust", "Pulse"}, "+14155550101"},
		{"another region, lower-case option", "us", "ACME", "(415) 555-0101", [2]string{"ACME-Trust", "Pulse"}, "+14155550101"},
		{"unicode tenant lower-cased", "GB", "ACME", "07911123456", [2]string{"ÄCME Trust", "Pülse"}, "+447911123456"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(o *Options) { o.CountryCode = c.region })
			d := e.do(req{method: http.MethodPost, path: smsPath, body: createBody(c.sender, c.receiver, "hi <&> ü"),
				tenant: http.Header{headerTrustomer: {c.tenant[0]}, headerProduct: {c.tenant[1]}}}).dict()
			trustomer, product := strings.ToLower(c.tenant[0]), strings.ToLower(c.tenant[1])
			want := gateway.SendCommand{
				AccountID: compattest.User, From: c.sender, To: c.wantTo, Text: "hi <&> ü",
				Tags:     map[string]string{tagTrustomer: trustomer, tagProduct: product, tagReceiver: c.receiver},
				Verbatim: true,
			}
			calls := e.core.recorded()
			if len(calls.sends) != 1 || !reflect.DeepEqual(calls.sends[0], want) {
				t.Fatalf("sends %+v, want %+v", calls.sends, want)
			}
			checkDict(t, d, wantDict{
				"uuid": "m1", "sender": c.sender, "receiver": c.receiver, "content": "hi <&> ü",
				"trustomer_code": trustomer, "product_name": product,
				"created": "2026-11-20T09:30:00.123Z", "modified": "2026-11-20T09:30:00.123Z", "status": "queued",
			})
		})
	}
}

// A refused body answers 400 with the first failing check, and nothing reaches the core.
func TestCreateRefusals(t *testing.T) {
	t.Parallel()
	const ok = `"sender": "ACME", "receiver": "07911123456", "content": "hi"`
	cases := []struct {
		name, body, want string
	}{
		// Not a usable JSON object.
		{"empty body", ``, "invalid JSON: unexpected end of JSON input"},
		{"broken", `{"sender": "ACME",`, "invalid JSON: unexpected end of JSON input"},
		{"trailing garbage", `{` + ok + `} x`, "invalid JSON: invalid character 'x' after top-level value"},
		{"trailing comma", `{` + ok + `,}`, "invalid JSON: invalid character '}' looking for beginning of object key string"},
		{"array", `[{` + ok + `}]`, "request body must be a JSON object"},
		{"string", `"hi"`, "request body must be a JSON object"},
		{"null", `null`, "request body must be a JSON object"},
		{"number", `5`, "request body must be a JSON object"},

		// Unknown keys, before any field check.
		{"unknown key", `{` + ok + `, "priority": 1}`, `unknown field "priority"`},
		{"unknown key first", `{"reciever": "07911123456"}`, `unknown field "reciever"`},
		{"keys are case-sensitive", `{"Sender": "ACME", "receiver": "07911123456", "content": "hi"}`, `unknown field "Sender"`},
		{"the first unknown key", `{"a": 1, "b": 2}`, `unknown field "a"`},

		// Presence and type, field by field in the order sender, receiver, content.
		{"empty object", `{}`, "sender is required"},
		{"sender absent", `{"receiver": "07911123456", "content": "hi"}`, "sender is required"},
		{"receiver absent", `{"sender": "ACME", "content": "hi"}`, "receiver is required"},
		{"content absent", `{"sender": "ACME", "receiver": "07911123456"}`, "content is required"},
		{"sender null", createBody(nil, "07911123456", "hi"), "sender must be a string"},
		{"receiver a number", createBody("ACME", 7911123456, "hi"), "receiver must be a string"},
		{"content an array", createBody("ACME", "07911123456", []string{"hi"}), "content must be a string"},
		{"content a bool", createBody("ACME", "07911123456", true), "content must be a string"},
		{"sender invalid before receiver absent", `{"sender": "", "content": "hi"}`, textSender},
		{"receiver invalid before content absent", `{"sender": "ACME", "receiver": "x"}`, textReceiverChars},

		// Sender.
		{"sender empty", createBody("", "07911123456", "hi"), textSender},
		{"sender 12 characters", createBody("ACME Trust12", "07911123456", "hi"), textSender},
		{"sender digits only", createBody("12345", "07911123456", "hi"), textSender},
		{"sender punctuation", createBody("ACME-Trust", "07911123456", "hi"), textSender},
		{"sender E.164 with spaces", createBody("+44 7911 123456", "07911123456", "hi"), textSender},
		{"sender national number", createBody("07911123456", "07911123456", "hi"), textSender},
		{"sender too short a number", createBody("+12345", "07911123456", "hi"), textSender},

		// Receiver.
		{"receiver empty", createBody("ACME", "", "hi"), "receiver must not be empty"},
		{"receiver letters", createBody("ACME", "0800-FLOWERS", "hi"), textReceiverChars},
		{"receiver plus only", createBody("ACME", "+", "hi"), textReceiverChars},
		{"receiver plus inside", createBody("ACME", "07911+123456", "hi"), textReceiverChars},
		{"receiver two plus", createBody("ACME", "++447911123456", "hi"), textReceiverChars},
		{"receiver extension", createBody("ACME", "07911123456 ext. 5", "hi"), textReceiverChars},
		{"receiver extension in RFC 3966", createBody("ACME", "07911123456;ext=5", "hi"), textReceiverChars},
		{"receiver fullwidth digits", createBody("ACME", "０７９１１１２３４５６", "hi"), textReceiverChars},
		{"receiver too long", createBody("ACME", strings.Repeat(" ", 60)+"07911123456", "hi"), textReceiverChars},
		{"receiver too short", createBody("ACME", "123", "hi"), textReceiverInvalid},
		{"receiver fictional range", createBody("ACME", "07700 900123", "hi"), textReceiverInvalid},
		{"receiver unknown country code", createBody("ACME", "+999 123456789", "hi"), textReceiverInvalid},
		{"receiver too many digits", createBody("ACME", "079111234567", "hi"), textReceiverInvalid},

		// Content.
		{"content empty", createBody("ACME", "07911123456", ""), "content must not be empty"},
		{"content 1601 characters", createBody("ACME", "07911123456", strings.Repeat("ж", message.MaxTextLength+1)), "content must be at most 1600 characters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.do(req{method: http.MethodPost, path: smsPath, body: c.body}).is(http.StatusBadRequest, c.want)
			e.noCoreCalls()
		})
	}
}

// The refusal texts of sender and receiver values.
const (
	textSender          = "sender must be an alphanumeric sender id (1 to 11 of A-Z, a-z, 0-9 and space, with a letter) or an E.164 number such as +447700900123"
	textReceiverChars   = "receiver must be a phone number (digits, optionally a leading +, spaces, dashes, dots and parentheses)"
	textReceiverInvalid = "receiver is not a valid phone number (numbers without a country code are read as GB numbers)"
)

// Bodies at the edges of the rules are accepted, as the rules say.
func TestCreateAccepts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body          string
		sender, to, content string
	}{
		{"sender 11 characters", createBody("ACME Trust1", "07911123456", "hi"), "ACME Trust1", "+447911123456", "hi"},
		{"sender one letter", createBody("A", "07911123456", "hi"), "A", "+447911123456", "hi"},
		{"sender 15 digits", createBody("+123456789012345", "07911123456", "hi"), "+123456789012345", "+447911123456", "hi"},
		{"content one space", createBody("ACME", "07911123456", " "), "ACME", "+447911123456", " "},
		{"content 1600 characters", createBody("ACME", "07911123456", strings.Repeat("ж", message.MaxTextLength)), "ACME", "+447911123456", strings.Repeat("ж", message.MaxTextLength)},
		{"repeated key: the last wins", `{"sender": "", "sender": "ACME", "receiver": "07911123456", "content": "a", "content": "b"}`, "ACME", "+447911123456", "b"},
		{"escaped keys", `{"\u0073ender": "ACME", "receiver": "07911123456", "content": "hi"}`, "ACME", "+447911123456", "hi"},
		{"invalid UTF-8 is replaced", "{\"sender\": \"ACME\", \"receiver\": \"07911123456\", \"content\": \"a\xffb\"}", "ACME", "+447911123456", "a\uFFFDb"},
		{"surrounding whitespace", " \n" + createBody("ACME", "07911123456", "hi") + "\n", "ACME", "+447911123456", "hi"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.do(req{method: http.MethodPost, path: smsPath, body: c.body}).code(http.StatusOK)
			sends := e.core.recorded().sends
			if len(sends) != 1 || sends[0].From != c.sender || sends[0].To != c.to || sends[0].Text != c.content {
				t.Fatalf("sends %+v, want from %q to %q text %q", sends, c.sender, c.to, c.content)
			}
		})
	}
}

// The core's refusals: the rate limit (429 with Retry-After), an opt-out (403), and
// failures (500, the cause only logged).
func TestCreateCoreRefusals(t *testing.T) {
	t.Parallel()
	const secret = "pq: connection to 10.0.0.7 refused"
	cases := []struct {
		name       string
		err        error
		status     int
		text       string
		retryAfter string
		logged     string
	}{
		{"rate limited", &gateway.RateLimitedError{Sender: "ACME", RetryAfter: 2500 * time.Millisecond}, 429, "rate limit reached for sender ACME", "3", ""},
		{"rate limited, wrapped", fmt.Errorf("accept: %w", &gateway.RateLimitedError{Sender: "ACME", RetryAfter: time.Millisecond}), 429, "rate limit reached for sender ACME", "1", ""},
		{"opted out", gateway.ErrOptedOut, 403, textOptedOut, "", ""},
		{"opted out, wrapped", fmt.Errorf("check opt-out: %w", gateway.ErrOptedOut), 403, textOptedOut, "", ""},
		{"store unavailable", fmt.Errorf("insert message: %s: %w", secret, ports.ErrUnavailable), 500, textFailure, "", secret},
		{"unexpected", errors.New(secret), 500, textFailure, "", secret},
		{"core field error", message.Invalid("provider", "provider %q is not configured", "x"), 500, textFailure, "", "is not configured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.core.sendErr = c.err
			e.do(req{method: http.MethodPost, path: smsPath, body: createBody("ACME", "07911123456", "hi")}).
				is(c.status, c.text).header("Retry-After", c.retryAfter).notLeaking("10.0.0.7")
			if c.logged != "" {
				e.logged(c.logged)
			}
		})
	}
}

// The tenancy headers are required on create, list and delete, checked before the body
// and anything else; not on the other operations.
func TestTenancyHeaders(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxTenantLen+1)
	cases := []struct {
		name   string
		tenant http.Header
		want   string
	}{
		{"none", http.Header{}, "X-Trustomer header is required"},
		{"no trustomer", http.Header{headerProduct: {"Pulse"}}, "X-Trustomer header is required"},
		{"no product", http.Header{headerTrustomer: {"ACME"}}, "X-Product header is required"},
		{"empty trustomer", http.Header{headerTrustomer: {""}, headerProduct: {"Pulse"}}, "X-Trustomer header is required"},
		{"empty product", http.Header{headerTrustomer: {"ACME"}, headerProduct: {""}}, "X-Product header is required"},
		{"trustomer twice", http.Header{headerTrustomer: {"ACME", "Other"}, headerProduct: {"Pulse"}}, "X-Trustomer header must be given once"},
		{"product twice", http.Header{headerTrustomer: {"ACME"}, headerProduct: {"Pulse", "Pulse"}}, "X-Product header must be given once"},
		{"trustomer too long", http.Header{headerTrustomer: {long}, headerProduct: {"Pulse"}}, "X-Trustomer header must be 1 to 255 printable characters"},
		{"product control character", http.Header{headerTrustomer: {"ACME"}, headerProduct: {"Pul\x7fse"}}, "X-Product header must be 1 to 255 printable characters"},
		{"product invalid UTF-8", http.Header{headerTrustomer: {"ACME"}, headerProduct: {"Pul\xffse"}}, "X-Product header must be 1 to 255 printable characters"},
	}
	ops := []req{
		{method: http.MethodPost, path: smsPath, body: `not even JSON`},
		{method: http.MethodGet, path: smsPath + "?limit=0"},
		{method: http.MethodDelete, path: smsPath + "/m1"},
	}
	for _, op := range ops {
		for _, c := range cases {
			t.Run(op.method+" "+c.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, nil)
				e.core.put(dhosMessage("m1", tenantTrustomer, tenantProduct))
				r := op
				r.tenant = c.tenant
				e.do(r).is(http.StatusBadRequest, c.want)
				e.noCoreCalls()
			})
		}
	}
	t.Run("at the bounds", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		max := strings.Repeat("É", maxTenantLen)
		e.do(req{method: http.MethodPost, path: smsPath, body: createBody("ACME", "07911123456", "hi"),
			tenant: http.Header{headerTrustomer: {max}, headerProduct: {"x"}}}).code(http.StatusOK)
		if got := e.core.recorded().sends[0].Tags[tagTrustomer]; got != strings.ToLower(max) {
			t.Errorf("trustomer tag %q", got)
		}
	})
	t.Run("not needed elsewhere", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.core.put(dhosMessage("m1", "other", "tenant"))
		none := http.Header{}
		e.do(req{path: smsPath + "/m1", tenant: none}).code(http.StatusOK)
		e.do(req{path: Prefix + "/sms/bulk_update", tenant: none}).code(http.StatusNoContent)
		e.do(req{path: Prefix + "/sms_status_counts?start_date=2026-11-20&end_date=2026-11-20", tenant: none}).code(http.StatusOK)
		e.do(req{path: "/running", tenant: none}).code(http.StatusOK)
	})
}
