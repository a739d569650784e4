package main

import (
	"encoding/json"
	"fmt"
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
	fields, err := sdk.ConfigFields(raw)
	if err != nil {
		return config{}, err
	}
	for _, f := range fields {
		var err error
		switch f.Key {
		case "delivery_delay":
			cfg.deliveryDelay, err = f.Duration()
		case "timeout":
			cfg.timeout, err = f.Duration()
		case "fail_numbers":
			cfg.failNumbers, err = parseFailNumbers(f)
		case "traffic_file":
			err = f.Decode(&cfg.trafficFile, "must be a file path")
		case "subscribers":
			cfg.subscribers, err = parseSubscribers(f)
		default:
			err = &sdk.ConfigError{Field: f.Key, Message: "unknown key"}
		}
		if err != nil {
			return config{}, err
		}
	}
	return cfg, nil
}

func parseFailNumbers(f sdk.ConfigField) ([]string, error) {
	var patterns []string
	if err := f.Decode(&patterns, "must be a list of numbers or prefixes ending in *"); err != nil {
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

func parseSubscribers(f sdk.ConfigField) (map[string]string, error) {
	var subs map[string]string
	if err := f.Decode(&subs, `must map numbers to reply texts, e.g. {"+15551234567": "hi"}`); err != nil {
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
