package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
)

// readBody reads the (size-limited) request body; over the limit it answers 413.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	var big *http.MaxBytesError
	if errors.As(err, &big) {
		return nil, errPayloadTooLarge
	}
	return b, err
}

// jsonObject parses a body that must be a JSON object into its raw fields; anything else
// (an array, a string, null, broken JSON) is invalid_json. Unknown fields are kept and
// ignored by the callers.
func jsonObject(body []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errInvalidJSON
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, errInvalidJSON
	}
	return fields, nil
}

// objectStrings decodes a body that must be a JSON object into its raw fields and the named
// required string fields, checked in the order given (the first failing one is reported).
// The error is errInvalidJSON or a *message.FieldError.
func objectStrings(body []byte, names ...string) (map[string]json.RawMessage, []string, error) {
	fields, err := jsonObject(body)
	if err != nil {
		return nil, nil, err
	}
	out := make([]string, len(names))
	for i, name := range names {
		var ferr *message.FieldError
		if out[i], ferr = stringField(fields, name); ferr != nil {
			return nil, nil, ferr
		}
	}
	return fields, out, nil
}

// present reports whether the field is given and not null (absent and null are the same
// to the API: missing_parameter for required fields, "not given" for optional ones).
func present(fields map[string]json.RawMessage, name string) bool {
	raw, ok := fields[name]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// stringField decodes a required string field.
func stringField(fields map[string]json.RawMessage, name string) (string, *message.FieldError) {
	if !present(fields, name) {
		return "", message.Missing(name)
	}
	var s string
	if err := json.Unmarshal(fields[name], &s); err != nil {
		return "", message.Invalid(name, "%s must be a string", name)
	}
	return s, nil
}

// optionalString decodes an optional string field; given, it must be a non-empty string.
func optionalString(fields map[string]json.RawMessage, name string) (string, *message.FieldError) {
	if !present(fields, name) {
		return "", nil
	}
	s, ferr := stringField(fields, name)
	if ferr != nil {
		return "", ferr
	}
	if s == "" {
		return "", message.Invalid(name, "%s must not be empty", name)
	}
	return s, nil
}

// sendRequest is a decoded POST /v1/messages body.
type sendRequest struct {
	Cmd gateway.SendCommand
	// Deferred is a type error in tags or send_at. It is reported only if the gateway's
	// checks of the earlier fields (an unknown provider) pass, to keep the documented order.
	Deferred *message.FieldError
}

// decodeSend decodes a send body. It checks, in the documented order from, to, text,
// provider, tags, send_at, everything that needs no gateway state: presence and JSON types,
// and the values of from, to and text with the same core rules the gateway applies. The
// result's values are passed as given; the gateway normalises them again.
// The error is errInvalidJSON or a *message.FieldError.
func decodeSend(body []byte) (sendRequest, error) {
	fields, err := jsonObject(body)
	if err != nil {
		return sendRequest{}, err
	}
	var req sendRequest
	cmd := &req.Cmd
	var ferr *message.FieldError
	if cmd.From, ferr = stringField(fields, "from"); ferr != nil {
		return sendRequest{}, ferr
	}
	if _, ok := message.NormalizeSender(cmd.From); !ok {
		return sendRequest{}, message.Invalid("from", "from must be an E.164 number or an alphanumeric sender id of 1 to 11 characters")
	}
	if cmd.To, ferr = stringField(fields, "to"); ferr != nil {
		return sendRequest{}, ferr
	}
	if _, ok := message.NormalizeE164(cmd.To); !ok {
		return sendRequest{}, message.Invalid("to", "to must be an E.164 number (+ and 6 to 15 digits)")
	}
	if cmd.Text, ferr = stringField(fields, "text"); ferr != nil {
		return sendRequest{}, ferr
	}
	if ferr := message.ValidateText("text", cmd.Text); ferr != nil {
		return sendRequest{}, ferr
	}
	if cmd.Provider, ferr = optionalString(fields, "provider"); ferr != nil {
		return sendRequest{}, ferr
	}
	if present(fields, "tags") {
		var tags map[string]string
		if err := json.Unmarshal(fields["tags"], &tags); err != nil {
			req.Deferred = message.Invalid("tags", "tags must be an object of string values")
			return req, nil
		}
		cmd.Tags = tags
	}
	if present(fields, "send_at") {
		var s string
		if err := json.Unmarshal(fields["send_at"], &s); err != nil {
			req.Deferred = message.Invalid("send_at", "send_at must be an RFC 3339 timestamp string")
			return req, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			req.Deferred = message.Invalid("send_at", "send_at must be an RFC 3339 timestamp")
			return req, nil
		}
		t = t.UTC()
		cmd.SendAt = &t
	}
	return req, nil
}

// decodeInbound decodes a POST /v1/inbound body: from, to, text required (in that order),
// provider optional. Numbers are checked as sender ids (E.164 or alphanumeric) because a
// provider reports what the handset network delivered.
func decodeInbound(body []byte) (gateway.ReceiveCommand, error) {
	fields, err := jsonObject(body)
	if err != nil {
		return gateway.ReceiveCommand{}, err
	}
	var cmd gateway.ReceiveCommand
	var ferr *message.FieldError
	for _, f := range []struct {
		name string
		dst  *string
	}{{"from", &cmd.From}, {"to", &cmd.To}} {
		if *f.dst, ferr = stringField(fields, f.name); ferr != nil {
			return gateway.ReceiveCommand{}, ferr
		}
		n, ok := message.NormalizeSender(*f.dst)
		if !ok {
			return gateway.ReceiveCommand{}, message.Invalid(f.name, "%s must be an E.164 number or an alphanumeric sender id", f.name)
		}
		*f.dst = n
	}
	if cmd.Text, ferr = stringField(fields, "text"); ferr != nil {
		return gateway.ReceiveCommand{}, ferr
	}
	if ferr := message.ValidateText("text", cmd.Text); ferr != nil {
		return gateway.ReceiveCommand{}, ferr
	}
	if cmd.Provider, ferr = optionalString(fields, "provider"); ferr != nil {
		return gateway.ReceiveCommand{}, ferr
	}
	return cmd, nil
}
