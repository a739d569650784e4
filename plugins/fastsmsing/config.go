package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// config is the fastsmsing provider's `config` block (API.md §9).
type config struct {
	baseURL      string // without a trailing "/"
	apiKey       string
	maxBatch     int
	pollInterval time.Duration
	timeout      time.Duration
	// cursorFile, when set, keeps the /updates cursor across plugin restarts (see cursors).
	cursorFile string
}

const (
	defaultMaxBatch     = 100
	maxMaxBatch         = 1000
	defaultPollInterval = 200 * time.Millisecond
	defaultTimeout      = 10 * time.Second
)

// parseConfig validates raw completely; every problem is a *sdk.ConfigError naming the key.
func parseConfig(raw json.RawMessage) (config, error) {
	cfg := config{maxBatch: defaultMaxBatch, pollInterval: defaultPollInterval, timeout: defaultTimeout}
	raw = bytes.TrimSpace(raw)
	var fields map[string]json.RawMessage
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return config{}, &sdk.ConfigError{Field: "config", Message: "must be a JSON object"}
		}
	}
	// Sorted, so the error for a config with several problems is always the same.
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := fields[k]
		var err error
		switch k {
		case "base_url":
			cfg.baseURL, err = parseBaseURL(v)
		case "api_key":
			err = decodeField(k, v, &cfg.apiKey, "must be a string")
		case "max_batch":
			err = decodeField(k, v, &cfg.maxBatch, "must be a whole number")
			if err == nil && (cfg.maxBatch < 1 || cfg.maxBatch > maxMaxBatch) {
				err = &sdk.ConfigError{Field: k, Message: fmt.Sprintf("must be 1..%d", maxMaxBatch)}
			}
		case "poll_interval":
			cfg.pollInterval, err = parsePositiveDuration(k, v)
		case "timeout":
			cfg.timeout, err = parsePositiveDuration(k, v)
		case "cursor_file":
			err = decodeField(k, v, &cfg.cursorFile, "must be a file path")
		default:
			err = &sdk.ConfigError{Field: k, Message: "unknown key"}
		}
		if err != nil {
			return config{}, err
		}
	}
	switch {
	case cfg.baseURL == "":
		return config{}, &sdk.ConfigError{Field: "base_url", Message: "is required"}
	case cfg.apiKey == "":
		return config{}, &sdk.ConfigError{Field: "api_key", Message: "is required"}
	}
	return cfg, nil
}

func decodeField(field string, v json.RawMessage, dst any, what string) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return &sdk.ConfigError{Field: field, Message: what}
	}
	return nil
}

func parseBaseURL(v json.RawMessage) (string, error) {
	var s string
	if err := decodeField("base_url", v, &s, "must be a URL string"); err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &sdk.ConfigError{Field: "base_url", Message: fmt.Sprintf("%q is not an http(s) URL", s)}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", &sdk.ConfigError{Field: "base_url", Message: "must not have a query or fragment"}
	}
	return strings.TrimRight(s, "/"), nil
}

func parsePositiveDuration(field string, v json.RawMessage) (time.Duration, error) {
	var s string
	if err := decodeField(field, v, &s, `must be a duration string such as "2s"`); err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &sdk.ConfigError{Field: field, Message: fmt.Sprintf(`%q is not a duration such as "2s"`, s)}
	}
	if d <= 0 {
		return 0, &sdk.ConfigError{Field: field, Message: "must be positive"}
	}
	return d, nil
}
