package flowroute

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/smsgw/smsgw/core/message"
)

// checkRefusal holds a decoder's error to its promise: a *badRequest with a text.
func checkRefusal(t *testing.T, body []byte, err error) {
	t.Helper()
	var bad *badRequest
	if !errors.As(err, &bad) || bad.text == "" {
		t.Fatalf("decode(%q) = %T %v, want a *badRequest", body, err, err)
	}
}

// reference is body as encoding/json reads it; the decoders must agree with it.
func reference(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var ref map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := json.Unmarshal(body, new(any)); err != nil {
		t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
	}
	if err := dec.Decode(&ref); err != nil || ref == nil {
		t.Fatalf("accepted %q, which is not a JSON object: %v", body, err)
	}
	return ref
}

// checkNumber holds a decoded number to the rules: the E.164 form v1 accepts, read from the
// value as given (11 digits get a "+"; E.164 stays), and answered in a form that reads back
// the same.
func checkNumber(t *testing.T, key string, given any, e164 string) {
	t.Helper()
	var s string
	switch v := given.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	default:
		t.Fatalf("%s: %v (%T) accepted as a number", key, given, given)
	}
	if n, ok := message.NormalizeE164(e164); !ok || n != e164 {
		t.Fatalf("%s %q became %q, not E.164", key, s, e164)
	}
	if s != e164 && "+"+s != e164 {
		t.Fatalf("%s %q became %q", key, s, e164)
	}
	if back, ok := toE164(fromE164(e164)); !ok || back != e164 {
		t.Fatalf("%s %q is answered %q, which reads back as %q %v", key, e164, fromE164(e164), back, ok)
	}
}

var bodySeeds = []string{
	`{"value": "12062992129"}`, `{"value": 12062992129}`, `{"value": "+447911123456"}`, `{"value": "+1"}`,
	`{"value": "1-206-299-2129"}`, `{"value": null}`, `{"value": "x", "value": "12062992129"}`,
	`{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 10}`,
	`{"participant_a": "12065551212", "participant_b": "+12065551212"}`,
	`{"participant_a": 12065551212, "participant_b": "+447911123456", "expiry_window": 5256000}`,
	`{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 1e1}`,
	`{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 00010}`,
	`{"session_id": "s1"}`, `{"session_id": ""}`, `{"session_id": 5}`,
	`{"to": "12065550001", "from": "12065551111", "body": "hi"}`, `{"to": "12065550001", "from": "ACME", "body": "é"}`,
	"{\"to\": \"12065550001\", \"from\": \"12065551111\", \"body\": \"a\xffb\"}",
	`{}`, `[]`, `"x"`, `null`, `{`, ``, `{} x`, ` {"value": "12062992129"} `,
}

// FuzzDecodeTN: a refusal, or the E.164 form of the object's last value.
func FuzzDecodeTN(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := decodeTN(body)
		if err != nil {
			checkRefusal(t, body, err)
			return
		}
		checkNumber(t, keyValue, reference(t, body)[keyValue], n)
	})
}

// FuzzDecodeSession: a refusal, or two different numbers and a TTL of whole minutes within
// the bound (0 only when expiry_window is absent or null).
func FuzzDecodeSession(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeSession(body)
		if err != nil {
			checkRefusal(t, body, err)
			return
		}
		ref := reference(t, body)
		checkNumber(t, keyParticipantA, ref[keyParticipantA], req.ParticipantA)
		checkNumber(t, keyParticipantB, ref[keyParticipantB], req.ParticipantB)
		if req.ParticipantA == req.ParticipantB {
			t.Fatalf("one number twice: %q", body)
		}
		w, given := ref[keyExpiryWindow]
		switch {
		case !given || w == nil:
			if req.TTL != 0 {
				t.Fatalf("TTL %s without expiry_window", req.TTL)
			}
		default:
			n, ok := w.(json.Number)
			minutes, err := n.Int64()
			if !ok || err != nil || minutes < 1 || minutes > maxExpiryWindow || req.TTL != time.Duration(minutes)*time.Minute {
				t.Fatalf("expiry_window %v became TTL %s", w, req.TTL)
			}
		}
	})
}

// FuzzDecodeSessionID: a refusal, or the object's last session_id, a non-empty string.
func FuzzDecodeSessionID(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, err := decodeSessionID(body)
		if err != nil {
			checkRefusal(t, body, err)
			return
		}
		if got := reference(t, body)[keySessionID]; id == "" || got != id {
			t.Fatalf("session_id %q, encoding/json %v", id, got)
		}
	})
}

// FuzzDecodeInbound: a refusal, or a number to, a number or alphanumeric sender id from,
// and a body of 1-1600 characters of valid UTF-8, as encoding/json reads them.
func FuzzDecodeInbound(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeInbound(body)
		if err != nil {
			checkRefusal(t, body, err)
			return
		}
		ref := reference(t, body)
		checkNumber(t, keyTo, ref[keyTo], req.To)
		if message.IsAlphanumericSender(req.From) {
			if ref[keyFrom] != req.From {
				t.Fatalf("from %v became %q", ref[keyFrom], req.From)
			}
		} else {
			checkNumber(t, keyFrom, ref[keyFrom], req.From)
		}
		if n := utf8.RuneCountInString(req.Body); ref[keyBody] != req.Body || n < 1 || n > message.MaxTextLength || !utf8.ValidString(req.Body) {
			t.Fatalf("body %v became %q", ref[keyBody], req.Body)
		}
	})
}

// FuzzNumber holds the number rewrite to its promises: what toE164 accepts is E.164 that v1
// accepts, 11 digits gain a "+" and nothing else changes, and every answered form reads
// back as the same number.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"12062992129", "+12062992129", "+447911123456", "447911123456", "+1", "+123456", "1206299212a", "", "+", "++12062992129", "01234567890", "１２０６２９９２１２９"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := toE164(s)
		if !ok {
			return
		}
		checkNumber(t, "number", s, n)
		if a := fromE164(n); a != n && (a != n[1:] || len(a) != legacyDigits) {
			t.Fatalf("%q → %q is answered %q", s, n, a)
		}
	})
}
