package dhos

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/smsgw/smsgw/core/message"
)

// FuzzDecodeCreate holds decodeCreate to its promises: a *badRequest with a text, or a
// request that encoding/json reads the same way (the object's last values of the three
// keys, no others) and that meets every rule: a sender of the accepted forms, a receiver
// whose E.164 form v1 accepts, content of 1-1600 characters.
func FuzzDecodeCreate(f *testing.F) {
	for _, seed := range []string{
		`{"sender": "ACME", "receiver": "07911 123456", "content": "hello"}`,
		`{"sender": "+447911123456", "receiver": "+1 (415) 555-0101", "content": "€"}`,
		`{"sender": "", "sender": "A", "receiver": "0044 7911 123456", "content": "x", "content": "y"}`,
		`{"sender": null, "receiver": 5, "content": []}`,
		`{"Sender": "ACME"}`, `{"x": 1}`, `{}`, `[]`, `"x"`, `null`, `{`, ``, `{} x`,
		`{"sender": "ACME", "receiver": "07700 900123", "content": "hi"}`,
		`{"sender": "ACME", "receiver": "0800-FLOWERS", "content": "hi"}`,
		"{\"sender\": \"ACME\", \"receiver\": \"07911123456\", \"content\": \"a\xffb\"}",
	} {
		f.Add([]byte(seed), "GB")
	}
	f.Add([]byte(`{"sender": "ACME", "receiver": "(415) 555-0101", "content": "hi"}`), "US")
	f.Fuzz(func(t *testing.T, body []byte, region string) {
		if _, err := New(newFakeCore(now), nil, Options{Provider: "p", CallbackURL: "https://x/cb", CountryCode: region}); err != nil {
			region = "GB" // only regions New accepts reach decodeCreate
		}
		region = strings.ToUpper(region)
		req, err := decodeCreate(body, region)
		if err != nil {
			var bad *badRequest
			if !errors.As(err, &bad) || bad.text == "" {
				t.Fatalf("decodeCreate(%q) = %T %v", body, err, err)
			}
			return
		}
		var ref map[string]any
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("decodeCreate(%q) accepted what encoding/json refuses: %v", body, err)
		}
		if len(ref) != 3 || ref[keySender] != req.Sender || ref[keyReceiver] != req.Receiver || ref[keyContent] != req.Content {
			t.Fatalf("decodeCreate(%q) = %+v, encoding/json %v", body, req, ref)
		}
		if checkSender(req.Sender) != nil {
			t.Fatalf("sender %q accepted", req.Sender)
		}
		if n, ok := message.NormalizeE164(req.To); !ok || n != req.To {
			t.Fatalf("receiver %q became %q, not E.164", req.Receiver, req.To)
		}
		if n := utf8.RuneCountInString(req.Content); n < 1 || n > message.MaxTextLength || !utf8.ValidString(req.Content) {
			t.Fatalf("content %q accepted", req.Content)
		}
		// The receiver is read the same way again, as the list filter reads it.
		if to, err := normalizeReceiver(req.Receiver, region, "receiver"); err != nil || to != req.To {
			t.Fatalf("receiver %q: %q %v the second time, %q the first", req.Receiver, to, err, req.To)
		}
	})
}

// FuzzParseInstant holds parseInstant to its promises: UTC results; a date is midnight,
// or with endOfDay the last instant of the same day; a date-time reads the same either way
// and agrees with time.Parse where RFC 3339 applies.
func FuzzParseInstant(f *testing.F) {
	for _, seed := range []string{
		"2026-11-20", "2028-02-29", "2026-02-30", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.123456789+01:00",
		"2026-11-20T10:00:00 01:00", "2026-11-20T10:00:00", "2026-11-20T10:00:00,5Z", "2026-11-20t10:00:00z",
		"20261120", "", "T", "2026-11-20T", "0000-01-01", "9999-12-31T23:59:59Z", "2026-11-20T24:00:00Z",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, ok1 := parseInstant(s, false)
		end, ok2 := parseInstant(s, true)
		if ok1 != ok2 {
			t.Fatalf("parseInstant(%q): ok %v as a start, %v as an end", s, ok1, ok2)
		}
		if !ok1 {
			return
		}
		if start.Location() != time.UTC || end.Location() != time.UTC {
			t.Fatalf("parseInstant(%q) = %s, %s: not UTC", s, start, end)
		}
		if d, err := time.Parse(layoutDate, s); err == nil {
			if !start.Equal(d) || !end.Equal(d.AddDate(0, 0, 1).Add(-time.Nanosecond)) || end.Format(layoutDate) != s {
				t.Fatalf("parseInstant(%q) = %s .. %s", s, start, end)
			}
			return
		}
		if !start.Equal(end) {
			t.Fatalf("parseInstant(%q): a date-time read as %s and %s", s, start, end)
		}
		if ref, err := time.Parse(time.RFC3339Nano, s); err == nil && !ref.Equal(start) {
			t.Fatalf("parseInstant(%q) = %s, time.Parse %s", s, start, ref)
		}
	})
}
