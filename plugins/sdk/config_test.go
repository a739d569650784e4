package sdk

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestConfigFields(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		keys    []string
		wantErr bool
	}{
		{"", nil, false},
		{" null ", nil, false},
		{`{"b": 1, "a": "x", "c": null}`, []string{"a", "b", "c"}, false},
		{`[1]`, nil, true},
		{`{`, nil, true},
	} {
		fields, err := ConfigFields(json.RawMessage(tc.raw))
		var ce *ConfigError
		if tc.wantErr != (err != nil) || (err != nil && (!errors.As(err, &ce) || ce.Field != "config")) {
			t.Errorf("ConfigFields(%q) error %v, want error %v", tc.raw, err, tc.wantErr)
			continue
		}
		if len(fields) != len(tc.keys) {
			t.Errorf("ConfigFields(%q) = %v, want keys %v", tc.raw, fields, tc.keys)
			continue
		}
		for i, f := range fields {
			if f.Key != tc.keys[i] {
				t.Errorf("ConfigFields(%q) key %d = %s, want %s (sorted)", tc.raw, i, f.Key, tc.keys[i])
			}
		}
	}
}

func TestConfigFieldDuration(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{`"2s"`, 2 * time.Second, true},
		{`"0s"`, 0, true},
		{`"-1s"`, 0, false},
		{`"soon"`, 0, false},
		{`5`, 0, false},
	} {
		d, err := ConfigField{Key: "timeout", Value: json.RawMessage(tc.value)}.Duration()
		var ce *ConfigError
		if tc.ok != (err == nil) || d != tc.want || (err != nil && (!errors.As(err, &ce) || ce.Field != "timeout")) {
			t.Errorf("Duration(%s) = %v, %v; want %v ok %v", tc.value, d, err, tc.want, tc.ok)
		}
	}
}
