package message

import (
	"strings"
	"testing"
)

func TestNormalizeSender(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"+14155550100", "+14155550100", true},
		{"+1 (415) 555-0100", "+14155550100", true},
		{"+44.20.7946.0958", "+442079460958", true},
		{"+123456", "+123456", true},                   // 6 digits
		{"+12345", "", false},                          // 5 digits
		{"+123456789012345", "+123456789012345", true}, // 15 digits
		{"+1234567890123456", "", false},               // 16 digits
		{"14155550100", "", false},                     // no +, not alnum (no letter)
		{"ACME", "ACME", true},
		{"Acme Shop 1", "Acme Shop 1", true}, // 11 chars
		{"Acme Shop 12", "", false},          // 12 chars
		{"12345", "", false},                 // needs a letter
		{"Acme!", "", false},
		{"", "", false},
		{"+1415555010a", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := NormalizeSender(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("NormalizeSender(%q) = %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNormalizeE164RejectsAlnum(t *testing.T) {
	if _, ok := NormalizeE164("ACME"); ok {
		t.Fatal("alphanumeric accepted as E.164")
	}
}

func TestValidateText(t *testing.T) {
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"empty", "", false},
		{"one", "a", true},
		{"1600 code points", strings.Repeat("ж", 1600), true},
		{"1601 code points", strings.Repeat("ж", 1601), false},
		{"1600 emoji", strings.Repeat("😀", 1600), true},
		{"invalid utf8", "\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateText("text", tt.text)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateText = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && (err.Field != "text" || err.Code != CodeInvalid) {
				t.Fatalf("error %+v", err)
			}
		})
	}
}
