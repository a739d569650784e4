package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// config is the loopback provider's `config` block (API.md §9).
type config struct {
	deliveryDelay time.Duration
	// failNumbers are exact numbers or prefixes ending in "*".
	failNumbers []string
	trafficFile string
	// subscribers maps a number to the text it replies to any message.
	subscribers map[string]string
	// timeout is accepted like every plugin's, though the loopback never waits on anything.
	timeout time.Duration
}

const defaultTimeout = 10 * time.Second

// parseConfig validates raw completely; every problem is a *sdk.ConfigError naming the key.
func parseConfig(raw json.RawMessage) (config, error) {
	cfg := config{timeout: defaultTimeout}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return cfg, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return config{}, &sdk.ConfigError{Field: "config", Message: "must be a JSON object"}
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
		case "delivery_delay":
			cfg.deliveryDelay, err = parseDuration(k, v)
		case "timeout":
			cfg.timeout, err = parseDuration(k, v)
		case "fail_numbers":
			cfg.failNumbers, err = parseFailNumbers(v)
		case "traffic_file":
			err = decodeField(k, v, &cfg.trafficFile, "must be a file path")
		case "subscribers":
			cfg.subscribers, err = parseSubscribers(v)
		default:
			err = &sdk.ConfigError{Field: k, Message: "unknown key"}
		}
		if err != nil {
			return config{}, err
		}
	}
	return cfg, nil
}

func decodeField(field string, v json.RawMessage, dst any, what string) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return &sdk.ConfigError{Field: field, Message: what}
	}
	return nil
}

func parseDuration(field string, v json.RawMessage) (time.Duration, error) {
	var s string
	if err := decodeField(field, v, &s, `must be a duration string such as "2s"`); err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &sdk.ConfigError{Field: field, Message: fmt.Sprintf(`%q is not a duration such as "2s"`, s)}
	}
	if d < 0 {
		return 0, &sdk.ConfigError{Field: field, Message: "must not be negative"}
	}
	return d, nil
}

func parseFailNumbers(v json.RawMessage) ([]string, error) {
	var patterns []string
	if err := decodeField("fail_numbers", v, &patterns, "must be a list of numbers or prefixes ending in *"); err != nil {
		return nil, err
	}
	for i, p := range patterns {
		field := fmt.Sprintf("fail_numbers[%d]", i)
		if p == "" {
			return nil, &sdk.ConfigError{Field: field, Message: "must not be empty"}
		}
		if strings.Contains(strings.TrimSuffix(p, "*"), "*") {
			return nil, &sdk.ConfigError{Field: field, Message: fmt.Sprintf("%q: * may only end a prefix", p)}
		}
	}
	return patterns, nil
}

func parseSubscribers(v json.RawMessage) (map[string]string, error) {
	var subs map[string]string
	if err := decodeField("subscribers", v, &subs, `must map numbers to reply texts, e.g. {"+15551234567": "hi"}`); err != nil {
		return nil, err
	}
	for number, reply := range subs {
		if number == "" {
			return nil, &sdk.ConfigError{Field: "subscribers", Message: "a number must not be empty"}
		}
		if reply == "" {
			return nil, &sdk.ConfigError{Field: fmt.Sprintf("subscribers[%q]", number), Message: "the reply text must not be empty"}
		}
	}
	return subs, nil
}

// failPattern returns the fail_numbers entry that matches to, if any.
func (c config) failPattern(to string) (string, bool) {
	for _, p := range c.failNumbers {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(to, prefix) {
				return p, true
			}
		} else if to == p {
			return p, true
		}
	}
	return "", false
}
