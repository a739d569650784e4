package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		want      config
		wantField string // non-empty: a *sdk.ConfigError for this field
	}{
		{name: "empty", raw: ``, want: config{timeout: defaultTimeout}},
		{name: "null", raw: `null`, want: config{timeout: defaultTimeout}},
		{name: "empty object", raw: `{}`, want: config{timeout: defaultTimeout}},
		{
			name: "everything",
			raw: `{"delivery_delay": "1.5s", "timeout": "3s", "fail_numbers": ["+1555*", "+4412345"],
				"traffic_file": "/tmp/x.jsonl", "subscribers": {"+15550001111": "pong"}}`,
			want: config{
				deliveryDelay: 1500 * time.Millisecond,
				timeout:       3 * time.Second,
				failNumbers:   []string{"+1555*", "+4412345"},
				trafficFile:   "/tmp/x.jsonl",
				subscribers:   map[string]string{"+15550001111": "pong"},
			},
		},
		{name: "not an object", raw: `[1]`, wantField: "config"},
		{name: "unknown key", raw: `{"delivery_delay": "1s", "deliverydelay": "1s"}`, wantField: "deliverydelay"},
		{name: "delay not a string", raw: `{"delivery_delay": 5}`, wantField: "delivery_delay"},
		{name: "delay not a duration", raw: `{"delivery_delay": "5"}`, wantField: "delivery_delay"},
		{name: "negative delay", raw: `{"delivery_delay": "-5s"}`, wantField: "delivery_delay"},
		{name: "bad timeout", raw: `{"timeout": "fast"}`, wantField: "timeout"},
		{name: "fail_numbers not a list", raw: `{"fail_numbers": "+1*"}`, wantField: "fail_numbers"},
		{name: "empty fail number", raw: `{"fail_numbers": ["+1", ""]}`, wantField: "fail_numbers[1]"},
		{name: "star inside", raw: `{"fail_numbers": ["+1*2*"]}`, wantField: "fail_numbers[0]"},
		{name: "traffic_file not a string", raw: `{"traffic_file": true}`, wantField: "traffic_file"},
		{name: "subscribers not a map", raw: `{"subscribers": ["+1"]}`, wantField: "subscribers"},
		{name: "empty reply", raw: `{"subscribers": {"+1": ""}}`, wantField: `subscribers["+1"]`},
		{name: "empty subscriber number", raw: `{"subscribers": {"": "x"}}`, wantField: "subscribers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(json.RawMessage(tc.raw))
			if tc.wantField != "" {
				var ce *sdk.ConfigError
				if !errors.As(err, &ce) || ce.Field != tc.wantField {
					t.Fatalf("got %v, want a ConfigError for %q", err, tc.wantField)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFailPattern(t *testing.T) {
	cfg := config{failNumbers: []string{"+1555666*", "+15557770000", "+44*"}}
	tests := []struct {
		to      string
		want    string
		matches bool
	}{
		{to: "+15556660000", want: "+1555666*", matches: true},
		{to: "+1555666", want: "+1555666*", matches: true},
		{to: "+15557770000", want: "+15557770000", matches: true},
		{to: "+155577700001", matches: false}, // exact entries are not prefixes
		{to: "+1555777000", matches: false},
		{to: "+447700900000", want: "+44*", matches: true},
		{to: "+15551234567", matches: false},
		{to: "", matches: false},
	}
	for _, tc := range tests {
		t.Run(tc.to, func(t *testing.T) {
			got, ok := cfg.failPattern(tc.to)
			if ok != tc.matches || got != tc.want {
				t.Errorf("failPattern(%q) = %q, %v; want %q, %v", tc.to, got, ok, tc.want, tc.matches)
			}
		})
	}
	if _, ok := (config{failNumbers: []string{"*"}}).failPattern("+1"); !ok {
		t.Error(`"*" must match every number`)
	}
}
