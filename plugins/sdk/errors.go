package sdk

import (
	"errors"
	"fmt"
	"time"
)

// ErrorClass says what the host may do after a failed send.
type ErrorClass string

const (
	// ClassInvalid: the message itself is invalid for this provider (permanent).
	ClassInvalid ErrorClass = "invalid"
	// ClassRejected: the provider refused the message (permanent), e.g. unsubscribed recipient.
	ClassRejected ErrorClass = "rejected"
	// ClassUnavailable: transient, and the message was definitely NOT sent (safe to fail over).
	ClassUnavailable ErrorClass = "unavailable"
	// ClassAmbiguous: the message may have been sent (e.g. timeout after the request was written).
	ClassAmbiguous ErrorClass = "ambiguous"
	// ClassRateLimited: transient, not sent; retry after Error.RetryAfter.
	ClassRateLimited ErrorClass = "rate_limited"
	// ClassAuth: credentials refused (permanent until the config changes).
	ClassAuth ErrorClass = "auth"
	// ClassCredit: out of credit (permanent until topped up).
	ClassCredit ErrorClass = "credit"
)

// Transient reports whether a retry of the same message may succeed.
func (c ErrorClass) Transient() bool {
	return c == ClassUnavailable || c == ClassAmbiguous || c == ClassRateLimited
}

// DefinitelyNotSent reports whether the provider certainly did not send the message, so it
// is safe to hand it to another provider.
func (c ErrorClass) DefinitelyNotSent() bool {
	return c != ClassAmbiguous
}

// Error is a classified provider error.
type Error struct {
	Class      ErrorClass
	Code       string // provider's own error code, e.g. "21610"
	Message    string
	RetryAfter time.Duration // for ClassRateLimited; 0 = unknown
	// OptOut: the provider refused the message because the recipient unsubscribed from the
	// sender (e.g. Twilio error 21610); the host records an opt-out for the pair.
	OptOut bool
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s (%s): %s", e.Class, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Class, e.Message)
}

// Errorf builds a classified error.
func Errorf(class ErrorClass, format string, args ...any) *Error {
	return &Error{Class: class, Message: fmt.Sprintf(format, args...)}
}

// ClassOf returns the class of err: the *Error's class, ClassAmbiguous for anything else
// (an unclassified failure may have happened after the message left).
func ClassOf(err error) ErrorClass {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassAmbiguous
}

// ConfigError reports a bad field of the provider's config.
type ConfigError struct {
	Field   string
	Message string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("config.%s: %s", e.Field, e.Message) }

// ErrUnimplemented is returned by the host-side client when the plugin does not implement an
// optional capability.
var ErrUnimplemented = errors.New("not implemented by this plugin")
