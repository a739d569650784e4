package flowroute

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/smsgw/smsgw/core/message"
)

// The keys of the request bodies (API.md §8.4). Keys are case-sensitive, as in the legacy
// service (a JSON object is a Python dict there); unknown keys are ignored (API.md §0).
const (
	keyValue        = "value"
	keyParticipantA = "participant_a"
	keyParticipantB = "participant_b"
	keyExpiryWindow = "expiry_window"
	keySessionID    = "session_id"
	keyTo           = "to"
	keyFrom         = "from"
	keyBody         = "body"
)

// legacyDigits is how many digits the legacy service's numbers have: 1NPANXXXXXX, a North
// American number with its country code and without the "+".
const legacyDigits = 11

// maxExpiryWindow bounds expiry_window (minutes): ten years. The legacy service had no
// bound; one is needed so that the TTL cannot overflow, and no proxy session is meant to
// outlive a decade.
const maxExpiryWindow = 10 * 365 * 24 * 60

// badRequest is a request the dialect refuses with 400; its text is the answer's message.
type badRequest struct{ text string }

func (e *badRequest) Error() string { return e.text }

func refusal(format string, args ...any) error {
	return &badRequest{text: fmt.Sprintf(format, args...)}
}

// The refusal texts of the fields, in the legacy service's style ("Required argument:
// 'value' (str, length <= 18)"), with this dialect's rules.
func textNumberArg(key string) string {
	return fmt.Sprintf("Required argument: '%s' (str, 11 digits such as 12062992129, or + and 6-15 digits)", key)
}

const (
	textSameParticipants = "Required arguments: 'participant_a' and 'participant_b' must be different numbers"
	textSessionIDArg     = "Required argument: 'session_id' (str)"
	textFromArg          = "Required argument: 'from' (str, 11 digits such as 12062992129, + and 6-15 digits, or an alphanumeric sender id)"
	textNotObject        = "Request body must be a JSON object"
)

var (
	textExpiryArg = fmt.Sprintf("Optional argument: 'expiry_window' (int, minutes from 1 to %d)", maxExpiryWindow)
	textBodyArg   = fmt.Sprintf("Required argument: 'body' (str, 1 to %d characters)", message.MaxTextLength)
)

// object parses body as one JSON object into its values by key. Broken JSON answers the
// decoder's reason, in the words of the Flask service ("Failed to decode JSON object");
// valid JSON that is not an object is refused. A repeated key keeps its last value, as
// Python's json module does.
func object(body []byte) (map[string]json.RawMessage, error) {
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, refusal("Failed to decode JSON object: %s", syn.Error())
		}
		return nil, refusal("Failed to decode JSON object")
	}
	if raw[0] != '{' { // Unmarshal into RawMessage trims the surrounding whitespace
		return nil, refusal(textNotObject)
	}
	values := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &values); err != nil { // cannot fail: raw is one valid object
		return nil, refusal("Failed to decode JSON object")
	}
	return values, nil
}

// present reports whether the key has a value other than null: a null is taken as absent,
// as the legacy service treated a missing expiry_window and a None one alike.
func present(values map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	v, ok := values[key]
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

// numberText is a number field's text: a JSON string, or a JSON integer written with digits
// only (the legacy service took str() of the value, and its README gives "value" as an
// integer); false for anything else.
func numberText(v json.RawMessage) (string, bool) {
	if v[0] == '"' {
		var s string
		_ = json.Unmarshal(v, &s) // cannot fail: v is one valid JSON string
		return s, true
	}
	if allDigits(string(v)) {
		return string(v), true
	}
	return "", false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// toE164 is the one number rewrite of this dialect (API.md §8 lets a dialect have its own
// number rules): the legacy service's numbers are 11 digits without "+" (12062992129), the
// gateway's pool and sessions are E.164 shared with v1, so 11 digits without "+" get one.
// A number given in E.164 ("+" and 6-15 digits, written without separators) is taken as
// it is. Anything else is not a number here.
func toE164(s string) (string, bool) {
	if len(s) == legacyDigits && allDigits(s) {
		return "+" + s, true
	}
	if len(s) > 1 && s[0] == '+' {
		if n, ok := message.NormalizeE164(s); ok && n == s {
			return s, true
		}
	}
	return "", false
}

// fromE164 is how the answers write a number: an E.164 number of 11 digits loses its "+",
// as the legacy service wrote it; any other number (which a legacy client cannot have
// written without "+") keeps it, so that it can be sent back as it was answered.
func fromE164(s string) string {
	if len(s) == 1+legacyDigits && s[0] == '+' && allDigits(s[1:]) {
		return s[1:]
	}
	return s
}

// number reads the number field key in E.164 (toE164); the error is a *badRequest.
func number(values map[string]json.RawMessage, key string) (string, error) {
	v, ok := present(values, key)
	if !ok {
		return "", refusal("%s", textNumberArg(key))
	}
	s, ok := numberText(v)
	if !ok {
		return "", refusal("%s", textNumberArg(key))
	}
	n, ok := toE164(s)
	if !ok {
		return "", refusal("%s", textNumberArg(key))
	}
	return n, nil
}

// decodeTN reads the body of POST and DELETE /tn: {"value"}, the number in E.164. The
// error is a *badRequest.
func decodeTN(body []byte) (string, error) {
	values, err := object(body)
	if err != nil {
		return "", err
	}
	return number(values, keyValue)
}

// sessionRequest is a POST /session body that passed every check.
type sessionRequest struct {
	ParticipantA, ParticipantB string        // E.164
	TTL                        time.Duration // 0: no expiry
}

// decodeSession reads the body of POST /session, first failure first in the order
// participant_a, participant_b (each a number, the two different), expiry_window
// (optional; absent or null is no expiry, else an integer of minutes written without a
// fraction or exponent, 1 to maxExpiryWindow). The error is a *badRequest.
func decodeSession(body []byte) (sessionRequest, error) {
	values, err := object(body)
	if err != nil {
		return sessionRequest{}, err
	}
	var req sessionRequest
	if req.ParticipantA, err = number(values, keyParticipantA); err != nil {
		return sessionRequest{}, err
	}
	if req.ParticipantB, err = number(values, keyParticipantB); err != nil {
		return sessionRequest{}, err
	}
	if req.ParticipantA == req.ParticipantB {
		return sessionRequest{}, refusal(textSameParticipants)
	}
	if v, ok := present(values, keyExpiryWindow); ok {
		minutes, err := strconv.Atoi(string(v))
		if !allDigits(string(v)) || err != nil || minutes < 1 || minutes > maxExpiryWindow {
			return sessionRequest{}, refusal("%s", textExpiryArg)
		}
		req.TTL = time.Duration(minutes) * time.Minute
	}
	return req, nil
}

// decodeSessionID reads the body of DELETE /session: {"session_id"}, a non-empty string.
// The error is a *badRequest.
func decodeSessionID(body []byte) (string, error) {
	values, err := object(body)
	if err != nil {
		return "", err
	}
	v, ok := present(values, keySessionID)
	if !ok || v[0] != '"' {
		return "", refusal(textSessionIDArg)
	}
	var id string
	_ = json.Unmarshal(v, &id) // cannot fail: v is one valid JSON string
	if id == "" {
		return "", refusal(textSessionIDArg)
	}
	return id, nil
}

// inboundRequest is a POST / body that passed every check.
type inboundRequest struct {
	To, From, Body string
}

// decodeInbound reads the provider's inbound callback, first failure first in the order
// to, from, body: to is a number (the pool number, E.164 by toE164); from a number too, or
// an alphanumeric sender id taken as it is (v1's /v1/inbound accepts one); body 1-1600
// characters, v1's bound on a text. The error is a *badRequest.
func decodeInbound(body []byte) (inboundRequest, error) {
	values, err := object(body)
	if err != nil {
		return inboundRequest{}, err
	}
	var req inboundRequest
	if req.To, err = number(values, keyTo); err != nil {
		return inboundRequest{}, err
	}
	v, ok := present(values, keyFrom)
	if !ok {
		return inboundRequest{}, refusal(textFromArg)
	}
	s, ok := numberText(v)
	if !ok {
		return inboundRequest{}, refusal(textFromArg)
	}
	if n, ok := toE164(s); ok {
		req.From = n
	} else if message.IsAlphanumericSender(s) {
		req.From = s
	} else {
		return inboundRequest{}, refusal(textFromArg)
	}
	v, ok = present(values, keyBody)
	if !ok || v[0] != '"' {
		return inboundRequest{}, refusal("%s", textBodyArg)
	}
	_ = json.Unmarshal(v, &req.Body) // cannot fail: v is one valid JSON string
	if n := utf8.RuneCountInString(req.Body); n < 1 || n > message.MaxTextLength {
		return inboundRequest{}, refusal("%s", textBodyArg)
	}
	return req, nil
}
