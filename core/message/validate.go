package message

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxTextLength is the longest text a v1 send accepts, in Unicode code points.
const MaxTextLength = 1600

// Validation error codes (API.md §0).
const (
	CodeMissing = "missing_parameter"
	CodeInvalid = "invalid_parameter"
)

// FieldError reports the one field at fault in a request.
type FieldError struct {
	Field   string
	Code    string // CodeMissing or CodeInvalid
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Missing builds the error for an absent or null field.
func Missing(field string) *FieldError {
	return &FieldError{Field: field, Code: CodeMissing, Message: field + " is required"}
}

// Invalid builds the error for a field with a wrong type or value.
func Invalid(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

// NormalizeE164 strips spaces, dashes, dots and parentheses and checks the result is "+"
// followed by 6-15 digits.
func NormalizeE164(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case ' ', '-', '.', '(', ')':
			continue
		}
		b.WriteRune(r)
	}
	n := b.String()
	if len(n) < 7 || len(n) > 16 || n[0] != '+' {
		return "", false
	}
	for _, c := range n[1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return n, true
}

// IsAlphanumericSender reports whether s is an alphanumeric sender id: 1-11 of [A-Za-z0-9 ]
// with at least one letter.
func IsAlphanumericSender(s string) bool {
	if len(s) < 1 || len(s) > 11 {
		return false
	}
	letter := false
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9', c == ' ':
		default:
			return false
		}
	}
	return letter
}

// NormalizeSender accepts an E.164 number (normalised) or an alphanumeric sender id (as is).
func NormalizeSender(s string) (string, bool) {
	if n, ok := NormalizeE164(s); ok {
		return n, true
	}
	if IsAlphanumericSender(s) {
		return s, true
	}
	return "", false
}

// ValidateText checks a v1 text: 1-1600 code points of valid UTF-8.
func ValidateText(field, text string) *FieldError {
	if !utf8.ValidString(text) {
		return Invalid(field, "%s must be valid UTF-8", field)
	}
	n := utf8.RuneCountInString(text)
	if n < 1 || n > MaxTextLength {
		return Invalid(field, "%s must be 1 to %d characters", field, MaxTextLength)
	}
	return nil
}
