package httpapi

import (
	"errors"
	"testing"

	"github.com/smsgw/smsgw/core/message"
)

func FuzzDecodeSend(f *testing.F) {
	for _, seed := range []string{
		`{"from": "+14155550100", "to": "+14155550101", "text": "hello"}`,
		`{"from": "ACME", "to": "+1 (415) 555-0101", "text": "€€", "provider": "twilio", "tags": {"a": "b"}, "send_at": "2026-12-01T10:00:00Z"}`,
		`{"from": null, "to": 5}`,
		`{"from": "+14155550100", "to": "+14155550101", "text": "x", "tags": {"a": 1}, "send_at": 5}`,
		`[]`, `"x"`, `null`, `{`, ``, `{"from": "\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeSend(body)
		var ferr *message.FieldError
		switch {
		case err == nil:
			if req.Deferred == nil && (req.Cmd.From == "" || req.Cmd.To == "" || req.Cmd.Text == "") {
				t.Fatalf("accepted %q without from/to/text: %+v", body, req.Cmd)
			}
			if req.Deferred != nil && req.Deferred.Field != "tags" && req.Deferred.Field != "send_at" {
				t.Fatalf("deferred error on %s", req.Deferred.Field)
			}
		case errors.Is(err, errInvalidJSON):
		case errors.As(err, &ferr):
			if ferr.Field == "" || (ferr.Code != message.CodeMissing && ferr.Code != message.CodeInvalid) {
				t.Fatalf("bad field error %+v", ferr)
			}
		default:
			t.Fatalf("decodeSend(%q) = %v", body, err)
		}
	})
}
