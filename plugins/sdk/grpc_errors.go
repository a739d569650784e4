package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/smsgw/smsgw/plugins/sdk/proto/smsgw/provider/v1"
)

// This file is the one place where SDK errors meet gRPC. A failed rpc carries a status whose
// details hold one providerv1.ErrorDetail; the detail, not the code, is what the client
// decodes, so the classes survive the wire exactly. The codes are picked per class so that
// logs and generic gRPC tooling still say something sensible, and each class gets its own
// code:
//
//	ClassInvalid     InvalidArgument
//	ClassRejected    FailedPrecondition
//	ClassUnavailable Unavailable        (with our detail; a bare Unavailable is a transport failure)
//	ClassAmbiguous   Unknown            (the outcome is unknown, which Aborted would not say)
//	ClassRateLimited ResourceExhausted  (retry_after_ms in the detail)
//	ClassAuth        Unauthenticated
//	ClassCredit      PermissionDenied   (the account may not send until topped up; ResourceExhausted
//	                                     is taken by rate limits, which are transient)
//	*ConfigError     InvalidArgument    (detail.config = true, detail.field names the key)
//	ErrUnimplemented Unimplemented
//
// An unknown class (ERROR_CLASS_UNSPECIFIED, or a class a newer peer invented) decodes as
// ClassAmbiguous, the one class that never causes a double send or a wrong permanent failure.

// codeForClass returns the gRPC code a class is sent with.
func codeForClass(c ErrorClass) codes.Code {
	switch c {
	case ClassInvalid:
		return codes.InvalidArgument
	case ClassRejected:
		return codes.FailedPrecondition
	case ClassUnavailable:
		return codes.Unavailable
	case ClassRateLimited:
		return codes.ResourceExhausted
	case ClassAuth:
		return codes.Unauthenticated
	case ClassCredit:
		return codes.PermissionDenied
	default: // ClassAmbiguous and anything unclassified
		return codes.Unknown
	}
}

func classToProto(c ErrorClass) providerv1.ErrorClass {
	switch c {
	case ClassInvalid:
		return providerv1.ErrorClass_ERROR_CLASS_INVALID
	case ClassRejected:
		return providerv1.ErrorClass_ERROR_CLASS_REJECTED
	case ClassUnavailable:
		return providerv1.ErrorClass_ERROR_CLASS_UNAVAILABLE
	case ClassAmbiguous:
		return providerv1.ErrorClass_ERROR_CLASS_AMBIGUOUS
	case ClassRateLimited:
		return providerv1.ErrorClass_ERROR_CLASS_RATE_LIMITED
	case ClassAuth:
		return providerv1.ErrorClass_ERROR_CLASS_AUTH
	case ClassCredit:
		return providerv1.ErrorClass_ERROR_CLASS_CREDIT
	default:
		return providerv1.ErrorClass_ERROR_CLASS_UNSPECIFIED
	}
}

func classFromProto(c providerv1.ErrorClass) ErrorClass {
	switch c {
	case providerv1.ErrorClass_ERROR_CLASS_INVALID:
		return ClassInvalid
	case providerv1.ErrorClass_ERROR_CLASS_REJECTED:
		return ClassRejected
	case providerv1.ErrorClass_ERROR_CLASS_UNAVAILABLE:
		return ClassUnavailable
	case providerv1.ErrorClass_ERROR_CLASS_RATE_LIMITED:
		return ClassRateLimited
	case providerv1.ErrorClass_ERROR_CLASS_AUTH:
		return ClassAuth
	case providerv1.ErrorClass_ERROR_CLASS_CREDIT:
		return ClassCredit
	default: // AMBIGUOUS, UNSPECIFIED and classes from a newer peer
		return ClassAmbiguous
	}
}

// errorToProto encodes a classified error; nil stays nil.
func errorToProto(e *Error) *providerv1.ErrorDetail {
	if e == nil {
		return nil
	}
	return &providerv1.ErrorDetail{
		Class:        classToProto(e.Class),
		Code:         e.Code,
		Message:      e.Message,
		RetryAfterMs: durationToMillis(e.RetryAfter),
		OptOut:       e.OptOut,
	}
}

// errorFromProto decodes a classified error; nil stays nil.
func errorFromProto(d *providerv1.ErrorDetail) *Error {
	if d == nil {
		return nil
	}
	return &Error{
		Class:      classFromProto(d.GetClass()),
		Code:       d.GetCode(),
		Message:    d.GetMessage(),
		RetryAfter: time.Duration(d.GetRetryAfterMs()) * time.Millisecond,
		OptOut:     d.GetOptOut(),
	}
}

// durationToMillis rounds up so that a short but non-zero retry-after stays non-zero.
func durationToMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// toStatus turns an error a Provider returned into the status the server sends.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return statusWithDetail(codes.InvalidArgument, err.Error(), &providerv1.ErrorDetail{
			Config:  true,
			Field:   ce.Field,
			Message: ce.Message,
		})
	}
	var pe *Error
	if errors.As(err, &pe) {
		return statusWithDetail(codeForClass(pe.Class), err.Error(), errorToProto(pe))
	}
	if errors.Is(err, ErrUnimplemented) {
		return status.Error(codes.Unimplemented, err.Error())
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	if st, ok := status.FromError(err); ok {
		return st.Err() // the provider chose a code itself
	}
	return status.Error(codes.Unknown, err.Error())
}

// sendStatus is toStatus for a failed Send: the host must be able to classify every Send
// failure, so an unclassified error is sent as ClassAmbiguous (see ClassOf).
func sendStatus(err error) error {
	var pe *Error
	if err != nil && !errors.As(err, &pe) {
		err = &Error{Class: ClassOf(err), Message: err.Error()}
	}
	return toStatus(err)
}

func statusWithDetail(code codes.Code, msg string, d *providerv1.ErrorDetail) error {
	st, err := status.New(code, msg).WithDetails(d)
	if err != nil {
		// Only fails for an OK code or an unmarshalable detail, neither of which happens here;
		// the code alone still tells the client roughly what went wrong.
		return status.Error(code, msg)
	}
	return st.Err()
}

// fromStatus turns the error of a client call back into what the Provider returned: the
// *ConfigError or *Error itself, ErrUnimplemented (wrapped) for a missing capability, or the
// status error wrapped with the rpc name.
func fromStatus(rpc string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("plugin %s: %w", rpc, err)
	}
	if d := errorDetail(st); d != nil {
		if d.GetConfig() {
			return &ConfigError{Field: d.GetField(), Message: d.GetMessage()}
		}
		return errorFromProto(d)
	}
	if st.Code() == codes.Unimplemented {
		return fmt.Errorf("plugin %s: %w", rpc, ErrUnimplemented)
	}
	return fmt.Errorf("plugin %s: %w", rpc, err)
}

// sendError is fromStatus for Send. Without our detail the call failed in transport (the plugin
// died, the connection broke, the deadline passed): the plugin may have handed the batch to
// the provider before that, so the failure is ClassAmbiguous.
func sendError(err error) error {
	if st, ok := status.FromError(err); ok && errorDetail(st) != nil {
		return fromStatus("send", err)
	}
	return &Error{Class: ClassAmbiguous, Message: fmt.Sprintf("plugin send: %v", err)}
}

func errorDetail(st *status.Status) *providerv1.ErrorDetail {
	for _, d := range st.Details() {
		if ed, ok := d.(*providerv1.ErrorDetail); ok {
			return ed
		}
	}
	return nil
}
