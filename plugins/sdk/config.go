package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// ConfigField is one key of a plugin's `config` block as the host passes it (JSON).
type ConfigField struct {
	Key   string
	Value json.RawMessage
}

// ConfigFields splits a plugin's raw config into its keys, sorted, so that a plugin
// validating them in turn reports the same first problem every time. An empty or null
// config has no keys; anything but a JSON object is a *ConfigError.
func ConfigFields(raw json.RawMessage) ([]ConfigField, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, &ConfigError{Field: "config", Message: "must be a JSON object"}
	}
	out := make([]ConfigField, 0, len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		out = append(out, ConfigField{Key: k, Value: fields[k]})
	}
	return out, nil
}

// Decode unmarshals the field into dst; on failure it is a *ConfigError saying what the
// value must be (e.g. "must be a string").
func (f ConfigField) Decode(dst any, what string) error {
	if err := json.Unmarshal(f.Value, dst); err != nil {
		return &ConfigError{Field: f.Key, Message: what}
	}
	return nil
}

// Duration reads the field as a Go duration string ("2s"), which must not be negative.
func (f ConfigField) Duration() (time.Duration, error) {
	var s string
	if err := f.Decode(&s, `must be a duration string such as "2s"`); err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &ConfigError{Field: f.Key, Message: fmt.Sprintf(`%q is not a duration such as "2s"`, s)}
	}
	if d < 0 {
		return 0, &ConfigError{Field: f.Key, Message: "must not be negative"}
	}
	return d, nil
}
