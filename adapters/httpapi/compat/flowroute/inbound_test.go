package flowroute

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/gateway"
)

var textToArg = textNumberArg(keyTo)

func TestInbound(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 1600)
	cases := []struct {
		name, body string
		cmd        *gateway.ReceiveCommand // what the core gets; nil for no call
		text       string                  // the refusal (400)
	}{
		{
			name: "legacy numbers",
			body: `{"to": "12065550001", "from": "12065551111", "body": "hello from a"}`,
			cmd:  &gateway.ReceiveCommand{AccountID: compattest.User, Provider: testProvider, From: "+12065551111", To: "+12065550001", Text: "hello from a"},
		},
		{
			name: "E.164, integers, unknown keys",
			body: `{"to": 12065550001, "from": "+447911123456", "body": "STOP", "id": "mdr2-1", "To": "x"}`,
			cmd:  &gateway.ReceiveCommand{AccountID: compattest.User, Provider: testProvider, From: "+447911123456", To: "+12065550001", Text: "STOP"},
		},
		{
			name: "alphanumeric sender, the longest body",
			body: jsonBody(map[string]any{"to": "+12065550001", "from": "ACME Co", "body": long}),
			cmd:  &gateway.ReceiveCommand{AccountID: compattest.User, Provider: testProvider, From: "ACME Co", To: "+12065550001", Text: long},
		},
		{name: "to missing", body: `{"from": "12065551111", "body": "x"}`, text: textToArg},
		{name: "to first", body: `{"to": "ACME", "from": 5, "body": 5}`, text: textToArg},
		{name: "to alphanumeric", body: `{"to": "ACME", "from": "12065551111", "body": "x"}`, text: textToArg},
		{name: "to null", body: `{"to": null, "from": "12065551111", "body": "x"}`, text: textToArg},
		{name: "from missing", body: `{"to": "12065550001", "body": "x"}`, text: textFromArg},
		{name: "from short code", body: `{"to": "12065550001", "from": "12345", "body": "x"}`, text: textFromArg},
		{name: "from too long an id", body: `{"to": "12065550001", "from": "ACME Company", "body": "x"}`, text: textFromArg},
		{name: "from an object", body: `{"to": "12065550001", "from": {}, "body": "x"}`, text: textFromArg},
		{name: "body missing", body: `{"to": "12065550001", "from": "12065551111"}`, text: textBodyArg},
		{name: "body empty", body: `{"to": "12065550001", "from": "12065551111", "body": ""}`, text: textBodyArg},
		{name: "body a number", body: `{"to": "12065550001", "from": "12065551111", "body": 5}`, text: textBodyArg},
		{name: "body too long", body: jsonBody(map[string]any{"to": "12065550001", "from": "12065551111", "body": long + "x"}), text: textBodyArg},
		{name: "not an object", body: `[]`, text: textNotObject},
		{name: "no body", body: ``, text: "Failed to decode JSON object: unexpected end of JSON input"},
	}
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, prefix, nil)
				r := e.do(req{method: http.MethodPost, path: "/", body: c.body})
				if c.cmd != nil {
					r.equals(map[string]any{"message": textReceived})
				} else {
					r.is(http.StatusBadRequest, c.text)
				}
				got := e.core.recorded().receives
				switch {
				case c.cmd == nil && len(got) != 0:
					t.Fatalf("the core got %+v", got)
				case c.cmd != nil && (len(got) != 1 || got[0] != *c.cmd):
					t.Fatalf("the core got %+v, want %+v", got, *c.cmd)
				}
			})
		}
	})
	// Under a prefix, the prefix itself is the callback too.
	t.Run("the prefix without /", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "/proxy", nil)
		e.do(req{method: http.MethodPost, path: "/proxy", raw: true, body: `{"to": "12065550001", "from": "12065551111", "body": "hi"}`}).
			equals(map[string]any{"message": textReceived})
		if n := len(e.core.recorded().receives); n != 1 {
			t.Errorf("%d receives", n)
		}
	})
	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, "/", nil)
		e.core.receiveErr = errors.New("store at 10.0.0.7 down")
		e.do(req{method: http.MethodPost, path: "/", body: `{"to": "12065550001", "from": "12065551111", "body": "hi"}`}).
			is(500, textFailure).notLeaking("10.0.0.7")
		e.logged("10.0.0.7")
	})
}
