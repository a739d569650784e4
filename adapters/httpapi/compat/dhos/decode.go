package dhos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/smsgw/smsgw/core/message"
)

// The keys of a create body (API.md §8.3), in the order their checks run. Keys are
// case-sensitive, as in the legacy service (a JSON object is a Python dict there).
const (
	keySender   = "sender"
	keyReceiver = "receiver"
	keyContent  = "content"
)

// maxReceiverLen bounds a receiver before it is parsed: the longest number with national
// formatting is far shorter, and phonenumbers refuses anything over 250 characters anyway.
const maxReceiverLen = 64

// createRequest is a create body that passed every check.
type createRequest struct {
	Sender, Receiver, Content string
	// To is Receiver in E.164, what the message is sent to.
	To string
}

// badRequest is a request the dialect refuses with 400; its text is the answer's message.
type badRequest struct{ text string }

func (e *badRequest) Error() string { return e.text }

func refusal(format string, args ...any) error {
	return &badRequest{text: fmt.Sprintf(format, args...)}
}

// decodeCreate parses and checks a create body strictly, first failure first:
//   - broken JSON answers the decoder's reason; valid JSON that is not an object is refused;
//   - the first key that is not sender, receiver or content is refused ("unknown keys →
//     400", §8.3), so a typo such as "reciever" is not silently dropped;
//   - then each field in the order sender, receiver, content: absent is "required", a value
//     that is not a JSON string (null included) "must be a string", then its value's rule
//     (checkSender, normalizeReceiver with region, checkContent).
//
// A repeated key keeps its last value, as Python's json module (the legacy service) does.
// The error is a *badRequest.
func decodeCreate(body []byte, region string) (createRequest, error) {
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return createRequest{}, refusal("invalid JSON: %s", syn.Error())
		}
		return createRequest{}, refusal("invalid JSON")
	}
	if raw[0] != '{' { // Unmarshal into RawMessage trims the surrounding whitespace
		return createRequest{}, refusal("request body must be a JSON object")
	}
	values := map[string]json.RawMessage{}
	// raw is one valid object, so the decoder below cannot fail; the checks keep it honest.
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return createRequest{}, refusal("invalid JSON")
	}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return createRequest{}, refusal("invalid JSON")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return createRequest{}, refusal("invalid JSON")
		}
		switch key {
		case keySender, keyReceiver, keyContent:
			values[key] = v
		default:
			return createRequest{}, refusal("unknown field %s", strconv.Quote(key))
		}
	}
	var req createRequest
	for _, f := range []struct {
		key   string
		dst   *string
		check func(string) error
	}{
		{keySender, &req.Sender, checkSender},
		{keyReceiver, &req.Receiver, func(s string) (err error) {
			req.To, err = normalizeReceiver(s, region, keyReceiver)
			return err
		}},
		{keyContent, &req.Content, checkContent},
	} {
		v, ok := values[f.key]
		if !ok {
			return createRequest{}, refusal("%s is required", f.key)
		}
		if v[0] != '"' {
			return createRequest{}, refusal("%s must be a string", f.key)
		}
		_ = json.Unmarshal(v, f.dst) // cannot fail: v is one valid JSON string
		if err := f.check(*f.dst); err != nil {
			return createRequest{}, err
		}
	}
	return req, nil
}

// checkSender accepts what a provider can send from: an alphanumeric sender id by v1's rule
// (1-11 of [A-Za-z0-9 ], at least one letter) or an E.164 number written strictly ("+" and
// 6-15 digits, no separators). It is passed to the provider as given (§8: dialects pass
// numbers through), so only forms that need no rewriting are accepted.
func checkSender(s string) error {
	if message.IsAlphanumericSender(s) || isStrictE164(s) {
		return nil
	}
	return refusal("sender must be an alphanumeric sender id (1 to 11 of A-Z, a-z, 0-9 and space, with a letter) or an E.164 number such as +447700900123")
}

func isStrictE164(s string) bool {
	n, ok := message.NormalizeE164(s)
	return ok && n == s
}

// normalizeReceiver turns a receiver as the client wrote it ("07700 900123", "+44 7700
// 900123", "0044-7700-900123") into E.164 with region as the default country. Only digits,
// a leading "+", spaces, dashes, dots and parentheses are allowed: phonenumbers would
// otherwise read letters as keypad digits (1-800-FLOWERS) and drop extensions silently. The
// number must be valid by phonenumbers' metadata (not just of a possible length), so that a
// mistyped number is refused now rather than failing at the provider later; numbers in
// ranges reserved for fiction (e.g. the UK's 07700 900xxx) are not valid.
func normalizeReceiver(s, region, field string) (string, error) {
	if s == "" {
		return "", refusal("%s must not be empty", field)
	}
	if len(s) > maxReceiverLen || !phoneChars(s) {
		return "", refusal("%s must be a phone number (digits, optionally a leading +, spaces, dashes, dots and parentheses)", field)
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(n) || n.GetExtension() != "" {
		return "", refusal("%s is not a valid phone number (numbers without a country code are read as %s numbers)", field, region)
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	if _, ok := message.NormalizeE164(e164); !ok { // cannot happen for a valid number; kept honest
		return "", refusal("%s is not a valid phone number", field)
	}
	return e164, nil
}

func phoneChars(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '+':
			if strings.TrimLeft(s[:i], " ") != "" {
				return false
			}
		case c == ' ', c == '-', c == '.', c == '(', c == ')':
		default:
			return false
		}
	}
	return digits > 0
}

// checkContent: at least one character (§8.3) and at most the core's bound, which the
// legacy service did not have; refusing here keeps the core's refusal from becoming a 500.
func checkContent(s string) error {
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return refusal("content must not be empty")
	case n > message.MaxTextLength:
		return refusal("content must be at most %d characters", message.MaxTextLength)
	}
	return nil
}

// The layouts parseInstant accepts after the date alone.
const (
	layoutDate      = "2006-01-02"
	layoutLocalTime = "2006-01-02T15:04:05.999999999" // no offset: UTC
)

// parseInstant reads an ISO 8601 value of a status-count bound: a calendar date
// (2026-11-20), an RFC 3339 date-time (2026-11-20T10:00:00Z, 2026-11-20T10:00:00.5+01:00),
// or a date-time without an offset, taken as UTC (the legacy service stored UTC). A date
// means the start of that UTC day, or with endOfDay its last instant, so that
// end_date=2026-11-20 includes the whole day. An offset's "+" that arrived as a space (a
// client that did not escape it in the query string) is read as "+". The result is in UTC.
func parseInstant(s string, endOfDay bool) (time.Time, bool) {
	if len(s) == len(layoutDate) {
		d, err := time.Parse(layoutDate, s)
		if err != nil {
			return time.Time{}, false
		}
		if endOfDay {
			d = d.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
		return d, true
	}
	if len(s) > len(layoutDate) && s[len(layoutDate)] == 'T' {
		if i := strings.LastIndexByte(s, ' '); i > len(layoutDate) {
			s = s[:i] + "+" + s[i+1:]
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(layoutLocalTime, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}
