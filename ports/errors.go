// Package ports declares the interfaces the core needs from the outside world, with their
// contracts, and the error vocabulary adapters wrap their failures in.
package ports

import "errors"

// The error vocabulary. Adapters wrap their own errors with these (fmt.Errorf("...: %w",
// ports.ErrX)); callers compare with errors.Is. The HTTP layer maps them to status codes in
// one table.
var (
	// ErrNotFound: the thing asked for does not exist (or belongs to another account, or is hidden).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request clashes with the current state (duplicate key, wrong status).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: a dependency (the store, a provider) cannot answer now; retry later.
	ErrUnavailable = errors.New("unavailable")
	// ErrRejected: refused by policy (opt-out, rate limit, ...); see the wrapping error.
	ErrRejected = errors.New("rejected")
	// ErrInvalid: a parameter is wrong (e.g. a malformed cursor). Validation of request
	// fields uses *message.FieldError instead, which names the field.
	ErrInvalid = errors.New("invalid")
	// ErrNotImplemented: an optional capability the provider does not have.
	ErrNotImplemented = errors.New("not implemented")
)
