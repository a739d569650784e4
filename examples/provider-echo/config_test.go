package main

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func TestParseConfig(t *testing.T) {
	def := defaultConfig()
	with := func(f func(*config)) config {
		c := def
		f(&c)
		return c
	}
	tests := []struct {
		name      string
		raw       string
		want      config
		wantField string // non-empty: a *sdk.ConfigError for this key
	}{
		{name: "absent", raw: ``, want: def},
		{name: "null", raw: `null`, want: def},
		{name: "empty", raw: `{}`, want: def},
		{
			name: "everything",
			raw:  `{"credits": 3, "reply": false, "reply_prefix": "re: ", "max_batch": 7}`,
			want: config{limited: true, credits: 3, reply: false, replyPrefix: "re: ", maxBatch: 7},
		},
		{name: "no credits at all", raw: `{"credits": 0}`, want: with(func(c *config) { c.limited, c.credits = true, 0 })},
		{name: "replies", raw: `{"reply": true}`, want: with(func(c *config) { c.reply = true })},
		{name: "empty prefix", raw: `{"reply_prefix": ""}`, want: with(func(c *config) { c.replyPrefix = "" })},
		{name: "largest batch", raw: `{"max_batch": 1000}`, want: with(func(c *config) { c.maxBatch = 1000 })},
		{name: "not an object", raw: `["credits"]`, wantField: "config"},
		{name: "unknown key", raw: `{"credits": 1, "credit": 1}`, wantField: "credit"},
		{name: "credits not a number", raw: `{"credits": "many"}`, wantField: "credits"},
		{name: "fractional credits", raw: `{"credits": 1.5}`, wantField: "credits"},
		{name: "negative credits", raw: `{"credits": -1}`, wantField: "credits"},
		{name: "reply not a bool", raw: `{"reply": "yes"}`, wantField: "reply"},
		{name: "prefix not a string", raw: `{"reply_prefix": 1}`, wantField: "reply_prefix"},
		{name: "batch of zero", raw: `{"max_batch": 0}`, wantField: "max_batch"},
		{name: "batch too large", raw: `{"max_batch": 1001}`, wantField: "max_batch"},
		// Keys are checked in sorted order, so the first problem is always the same one.
		{name: "two problems", raw: `{"reply": 1, "credits": -1}`, wantField: "credits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(json.RawMessage(tc.raw))
			if tc.wantField != "" {
				var ce *sdk.ConfigError
				if !errors.As(err, &ce) || ce.Field != tc.wantField {
					t.Fatalf("parseConfig(%s) = %+v, %v; want a *sdk.ConfigError for %q", tc.raw, got, err, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%s): %v", tc.raw, err)
			}
			if got != tc.want {
				t.Errorf("parseConfig(%s) = %+v, want %+v", tc.raw, got, tc.want)
			}
		})
	}
}
