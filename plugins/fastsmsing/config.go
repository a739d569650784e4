package main

import (
	"encoding/json"
	"fmt"
	"net/url"
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
	fields, err := sdk.ConfigFields(raw)
	if err != nil {
		return config{}, err
	}
	for _, f := range fields {
		k := f.Key
		var err error
		switch k {
		case "base_url":
			cfg.baseURL, err = parseBaseURL(f)
		case "api_key":
			err = f.Decode(&cfg.apiKey, "must be a string")
		case "max_batch":
			err = f.Decode(&cfg.maxBatch, "must be a whole number")
			if err == nil && (cfg.maxBatch < 1 || cfg.maxBatch > maxMaxBatch) {
				err = &sdk.ConfigError{Field: k, Message: fmt.Sprintf("must be 1..%d", maxMaxBatch)}
			}
		case "poll_interval":
			cfg.pollInterval, err = positiveDuration(f)
		case "timeout":
			cfg.timeout, err = positiveDuration(f)
		case "cursor_file":
			err = f.Decode(&cfg.cursorFile, "must be a file path")
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

func parseBaseURL(f sdk.ConfigField) (string, error) {
	var s string
	if err := f.Decode(&s, "must be a URL string"); err != nil {
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

func positiveDuration(f sdk.ConfigField) (time.Duration, error) {
	d, err := f.Duration()
	if err == nil && d == 0 {
		err = &sdk.ConfigError{Field: f.Key, Message: "must be positive"}
	}
	return d, err
}
