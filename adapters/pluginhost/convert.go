package pluginhost

import (
	"errors"
	"fmt"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/ports"
)

// classifiedError is a *ports.ProviderError that also unwraps to its cause (ports.ErrUnavailable,
// context.Canceled ...), so callers can test it with errors.As for the class and errors.Is for
// the cause.
type classifiedError struct {
	perr  *ports.ProviderError
	cause error
}

func (e *classifiedError) Error() string   { return e.perr.Error() }
func (e *classifiedError) Unwrap() []error { return []error{e.perr, e.cause} }

// unavailable is the answer for a message that certainly never reached the plugin.
func unavailable(provider string, cause error) error {
	return &classifiedError{
		perr:  &ports.ProviderError{Provider: provider, Class: ports.ClassUnavailable, Message: cause.Error()},
		cause: errors.Join(ports.ErrUnavailable, cause),
	}
}

// ambiguous is the answer for a message whose batch was in flight when its caller gave up.
func ambiguous(provider string, cause error) error {
	return &classifiedError{
		perr:  &ports.ProviderError{Provider: provider, Class: ports.ClassAmbiguous, Message: "gave up while the batch was in flight: " + cause.Error()},
		cause: cause,
	}
}

func classToPorts(c sdk.ErrorClass) ports.ErrorClass {
	switch c {
	case sdk.ClassInvalid:
		return ports.ClassInvalid
	case sdk.ClassRejected:
		return ports.ClassRejected
	case sdk.ClassUnavailable:
		return ports.ClassUnavailable
	case sdk.ClassRateLimited:
		return ports.ClassRateLimited
	case sdk.ClassAuth:
		return ports.ClassAuth
	case sdk.ClassCredit:
		return ports.ClassCredit
	default: // ambiguous, and anything unknown: never a double send, never a wrong permanent failure
		return ports.ClassAmbiguous
	}
}

func providerError(provider string, e *sdk.Error) *ports.ProviderError {
	return &ports.ProviderError{
		Provider:   provider,
		Class:      classToPorts(e.Class),
		Code:       e.Code,
		Message:    e.Message,
		RetryAfter: e.RetryAfter,
		OptOut:     e.OptOut,
	}
}

// sendError classifies the failure of a whole Send call.
func sendError(provider string, err error) *ports.ProviderError {
	var e *sdk.Error
	if errors.As(err, &e) {
		return providerError(provider, e)
	}
	return &ports.ProviderError{Provider: provider, Class: ports.ClassAmbiguous, Message: err.Error()}
}

func toOutbound(m message.Message) sdk.OutboundMessage {
	return sdk.OutboundMessage{ID: m.ID, From: m.From, To: m.To, Text: m.Text, Tags: m.Tags}
}

func sendResultToPorts(r sdk.SendResult) ports.SendResult {
	st := message.Status(r.Status)
	if st == "" {
		// Accepted, and the plugin said nothing more.
		st = message.StatusQueued
	}
	return ports.SendResult{ProviderMessageID: r.ProviderMessageID, Status: st}
}

func statusToPorts(u sdk.StatusUpdate) ports.StatusReport {
	return ports.StatusReport{
		MessageID:         u.MessageID,
		ProviderMessageID: u.ProviderMessageID,
		Status:            message.Status(u.Status),
		ErrorCode:         u.ErrorCode,
		ErrorMessage:      u.ErrorMessage,
		OptOut:            u.OptOut,
		At:                u.At,
	}
}

func statusesToPorts(us []sdk.StatusUpdate) []ports.StatusReport {
	out := make([]ports.StatusReport, len(us))
	for i, u := range us {
		out[i] = statusToPorts(u)
	}
	return out
}

func inboundToPorts(in sdk.InboundMessage) ports.InboundReport {
	return ports.InboundReport{
		ProviderMessageID: in.ProviderMessageID,
		From:              in.From,
		To:                in.To,
		Text:              in.Text,
		At:                in.At,
	}
}

func eventToPorts(ev sdk.Event) (ports.ProviderEvent, error) {
	switch {
	case ev.Status != nil && ev.Inbound == nil:
		r := statusToPorts(*ev.Status)
		return ports.ProviderEvent{Status: &r}, nil
	case ev.Inbound != nil && ev.Status == nil:
		r := inboundToPorts(*ev.Inbound)
		return ports.ProviderEvent{Inbound: &r}, nil
	default:
		return ports.ProviderEvent{}, fmt.Errorf("event must carry exactly one of status and inbound")
	}
}

func webhookRequestToSDK(r ports.WebhookRequest) sdk.WebhookRequest {
	return sdk.WebhookRequest{Method: r.Method, URL: r.URL, Path: r.Path, Headers: r.Headers, Body: r.Body}
}

func webhookResultToPorts(r sdk.WebhookResponse) ports.WebhookResult {
	out := ports.WebhookResult{
		StatusCode: r.StatusCode,
		Headers:    r.Headers,
		Body:       r.Body,
		Statuses:   statusesToPorts(r.Statuses),
		Inbound:    make([]ports.InboundReport, len(r.Inbound)),
	}
	for i, in := range r.Inbound {
		out.Inbound[i] = inboundToPorts(in)
	}
	return out
}
