package main

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func TestParseConfig(t *testing.T) {
	base := `"base_url": "https://api.example.test/v1/", "api_key": "k"`
	defaults := config{baseURL: "https://api.example.test/v1", apiKey: "k", maxBatch: defaultMaxBatch,
		pollInterval: defaultPollInterval, timeout: defaultTimeout}
	tests := []struct {
		name      string
		raw       string
		want      config
		wantField string // non-empty: a *sdk.ConfigError for this field
	}{
		{name: "required only", raw: `{` + base + `}`, want: defaults},
		{
			name: "everything",
			raw:  `{` + base + `, "max_batch": 80, "poll_interval": "1s", "timeout": "3s", "cursor_file": "/tmp/c.json"}`,
			want: config{baseURL: "https://api.example.test/v1", apiKey: "k", maxBatch: 80,
				pollInterval: time.Second, timeout: 3 * time.Second, cursorFile: "/tmp/c.json"},
		},
		{name: "empty", raw: ``, wantField: "base_url"},
		{name: "no api key", raw: `{"base_url": "http://x"}`, wantField: "api_key"},
		{name: "not an object", raw: `[1]`, wantField: "config"},
		{name: "unknown key", raw: `{` + base + `, "maxbatch": 5}`, wantField: "maxbatch"},
		{name: "base_url not a string", raw: `{"base_url": 5, "api_key": "k"}`, wantField: "base_url"},
		{name: "base_url not http", raw: `{"base_url": "ftp://x", "api_key": "k"}`, wantField: "base_url"},
		{name: "base_url without host", raw: `{"base_url": "http://", "api_key": "k"}`, wantField: "base_url"},
		{name: "base_url with query", raw: `{"base_url": "http://x/?a=1", "api_key": "k"}`, wantField: "base_url"},
		{name: "api_key not a string", raw: `{"base_url": "http://x", "api_key": 1}`, wantField: "api_key"},
		{name: "max_batch zero", raw: `{` + base + `, "max_batch": 0}`, wantField: "max_batch"},
		{name: "max_batch too big", raw: `{` + base + `, "max_batch": 100000}`, wantField: "max_batch"},
		{name: "max_batch a string", raw: `{` + base + `, "max_batch": "100"}`, wantField: "max_batch"},
		{name: "poll_interval zero", raw: `{` + base + `, "poll_interval": "0s"}`, wantField: "poll_interval"},
		{name: "poll_interval not a duration", raw: `{` + base + `, "poll_interval": "fast"}`, wantField: "poll_interval"},
		{name: "timeout a number", raw: `{` + base + `, "timeout": 10}`, wantField: "timeout"},
		{name: "timeout negative", raw: `{` + base + `, "timeout": "-1s"}`, wantField: "timeout"},
		{name: "cursor_file not a string", raw: `{` + base + `, "cursor_file": true}`, wantField: "cursor_file"},
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
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
