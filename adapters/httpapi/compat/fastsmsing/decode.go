package fastsmsing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/smsgw/smsgw/core/message"
)

// The body's keys as API.md §8.2 spells them; matched without regard to case.
const (
	keyPhone   = "PhoneNumber"
	keyContent = "Content"
)

// The 400 texts of a body that parses (API.md §8.2, and textTooLong where it is silent).
const (
	textEmptyMessage = "empty message"
	textNoPhone      = "empty phone number"
	textNotDigits    = "phone number can only contain digits"
	textNotObject    = "request body must be a JSON object"
	// §8.2 names no upper bound; the v1 core refuses texts over 1600 code points, so this
	// dialect does too, with its own text, rather than answer 500 for the core's refusal.
	textTooLong = "message too long: at most 1600 characters"
)

// request is a send body as the client sent it; the values are not checked yet.
type request struct {
	PhoneNumber, Content string
}

// decodeError is a body that is not a usable JSON object; its text is the answer's reason.
type decodeError struct{ reason string }

func (e *decodeError) Error() string { return e.reason }

// decode parses a send body, the way Go's encoding/json would decode it into a struct with
// the fields PhoneNumber and Content (the legacy service's behaviour), but with reasons that
// name no Go types:
//   - Keys match PhoneNumber and Content with case ignored (as encoding/json matches them);
//     other keys are ignored. Of several keys that match the same field (repeated, or
//     differing only by case) the last one wins, as in encoding/json.
//   - null is an empty value (it wins like any other value, so {"Content": "hi",
//     "content": null} has an empty Content).
//   - A matching key with a value that is not a string or null makes the body malformed:
//     "cannot unmarshal number into Content of type string" (the first such key counts).
//   - Broken JSON answers the decoder's own reason (e.g. "unexpected end of JSON input" for
//     an empty body); valid JSON that is not an object answers textNotObject.
//
// The error is a *decodeError.
func decode(body []byte) (request, error) {
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return request{}, &decodeError{reason: syn.Error()}
		}
		return request{}, &decodeError{reason: "malformed JSON"}
	}
	if raw[0] != '{' { // Unmarshal into RawMessage trims the surrounding whitespace
		return request{}, &decodeError{reason: textNotObject}
	}
	var (
		req     request
		typeErr error
	)
	// raw is known to be one valid object, so the decoder below cannot fail; the checks
	// only keep it honest.
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return request{}, &decodeError{reason: "malformed JSON"}
	}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return request{}, &decodeError{reason: "malformed JSON"}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return request{}, &decodeError{reason: "malformed JSON"}
		}
		var dst *string
		var name string
		switch {
		case strings.EqualFold(key, keyPhone):
			dst, name = &req.PhoneNumber, keyPhone
		case strings.EqualFold(key, keyContent):
			dst, name = &req.Content, keyContent
		default:
			continue
		}
		s, kind := stringValue(v)
		if kind != "" {
			if typeErr == nil {
				typeErr = &decodeError{reason: fmt.Sprintf("cannot unmarshal %s into %s of type string", kind, name)}
			}
			continue
		}
		*dst = s
	}
	if typeErr != nil {
		return request{}, typeErr
	}
	return req, nil
}

// stringValue decodes a JSON string, or null as "". For any other value it returns the JSON
// kind it is instead (number, bool, array, object).
func stringValue(raw json.RawMessage) (string, string) {
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s) // cannot fail: raw is one valid JSON string
		return s, ""
	case 'n':
		return "", ""
	case 't', 'f':
		return "", "bool"
	case '[':
		return "", "array"
	case '{':
		return "", "object"
	}
	return "", "number"
}

// check applies API.md §8.2's checks, in its order, to a decoded body and returns the
// refusal text, or "" when the send may go to the core. The length bound comes last: every
// body the legacy service refused keeps the legacy answer.
func (r request) check() string {
	switch {
	case r.Content == "":
		return textEmptyMessage
	case r.PhoneNumber == "":
		return textNoPhone
	case !digitsOnly(r.PhoneNumber):
		return textNotDigits
	case utf8.RuneCountInString(r.Content) > message.MaxTextLength:
		return textTooLong
	}
	return ""
}

// digitsOnly: ASCII 0-9 only; no +, spaces, dashes or other scripts' digits.
func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
