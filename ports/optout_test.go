package ports

import (
	"errors"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/optout"
)

func TestOptOutCursorIDRoundTrip(t *testing.T) {
	tests := []struct{ sender, recipient string }{
		{"+15550000001", "+15550000002"},
		{"ACME", "+447700900123"},
		{"a\nb", "c\nd"},     // the smsapp dialect takes any characters
		{"3:ab", "1:"},       // what looks like a length prefix
		{"ünï", "|:\n"},      // multi-byte, and the Cursor's own separator
		{"", "+15550000002"}, // never stored, but still unambiguous
		{"+15550000001", ""},
	}
	for _, tc := range tests {
		id := OptOutCursorID(tc.sender, tc.recipient)
		s, r, err := ParseOptOutCursorID(id)
		if err != nil || s != tc.sender || r != tc.recipient {
			t.Errorf("ParseOptOutCursorID(%q) = %q, %q, %v; want %q, %q", id, s, r, err, tc.sender, tc.recipient)
		}
		// Through the wire form of the cursor as well.
		c, err := DecodeCursor(Cursor{CreatedAt: time.Unix(1795336695, 429000000), ID: id}.Encode())
		if err != nil || c.ID != id {
			t.Errorf("cursor round trip of %q: %q, %v", id, c.ID, err)
		}
	}
}

func TestParseOptOutCursorIDRejects(t *testing.T) {
	for _, id := range []string{"", "m01", "x:ab", "-1:ab", "5:ab", "+2:ab", "02:ab", ":ab"} {
		if _, _, err := ParseOptOutCursorID(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseOptOutCursorID(%q) = %v, want ErrInvalid", id, err)
		}
	}
}

func TestOptOutActive(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name string
		exp  *time.Time
		want bool
	}{
		{"permanent", nil, true},
		{"expires later", at(time.Nanosecond), true},
		{"expires now", at(0), false},
		{"expired", at(-time.Hour), false},
	}
	for _, tc := range tests {
		if got := (OptOut{ExpiresAt: tc.exp}).Active(now); got != tc.want {
			t.Errorf("%s: Active = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOptOutValidate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Second), now.Add(-time.Second)
	good := OptOut{Sender: "a", Recipient: "b", Source: optout.SourceAPI, CreatedAt: now}
	tests := []struct {
		name  string
		edit  func(*OptOut)
		valid bool
	}{
		{"permanent", func(*OptOut) {}, true},
		{"timed", func(o *OptOut) { o.ExpiresAt = &later }, true},
		{"expires at creation", func(o *OptOut) { o.ExpiresAt = &now }, false},
		{"expires before creation", func(o *OptOut) { o.ExpiresAt = &earlier }, false},
		{"unknown source", func(o *OptOut) { o.Source = "web" }, false},
		{"no sender", func(o *OptOut) { o.Sender = "" }, false},
		{"no recipient", func(o *OptOut) { o.Recipient = "" }, false},
	}
	for _, tc := range tests {
		o := good
		tc.edit(&o)
		err := o.Validate()
		if tc.valid && err != nil || !tc.valid && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}
