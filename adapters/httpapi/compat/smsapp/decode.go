package smsapp

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// request is a valid smsapp body; the values are exactly as the client sent them.
type request struct {
	From, To, Text string
}

// param is a body parameter with its length bounds in Unicode code points (API.md §8.1).
type param struct {
	name     string
	min, max int
}

// params are checked in this order; the first failing one is reported.
var params = [...]param{{"from", 6, 16}, {"to", 6, 16}, {"text", 1, 120}}

// paramError names the first failing parameter of a body; its text is the dialect's answer.
type paramError struct {
	param   string
	missing bool // absent; otherwise present but null, not a string, or out of bounds
}

func (e *paramError) Error() string {
	if e.missing {
		return e.param + " is missing"
	}
	return e.param + " is invalid"
}

// decode checks a body by the rules of API.md §8.1. A body that is not a JSON object (an
// array, a scalar, broken or empty JSON) counts as {}. Keys are case-sensitive and unknown
// keys are ignored; of repeated keys the last one counts. The error is a *paramError.
func decode(body []byte) (request, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		fields = nil
	}
	var vals [len(params)]string
	for i, p := range params {
		raw, ok := fields[p.name]
		if !ok {
			return request{}, &paramError{param: p.name, missing: true}
		}
		s, ok := stringValue(raw)
		if n := utf8.RuneCountInString(s); !ok || n < p.min || n > p.max {
			return request{}, &paramError{param: p.name}
		}
		vals[i] = s
	}
	return request{From: vals[0], To: vals[1], Text: vals[2]}, nil
}

// stringValue decodes a JSON string; false for null and every other type (json.Unmarshal
// would silently accept null into a string).
func stringValue(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}
