package fastsmsing

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecodeFastSMSing holds decode to what it promises: the answers of Go's encoding/json
// decoding into struct{PhoneNumber, Content string} (the legacy service's decoder), without
// its Go type names.
func FuzzDecodeFastSMSing(f *testing.F) {
	for _, seed := range []string{
		`{"PhoneNumber": "14155550101", "Content": "hello"}`,
		`{"phonenumber": "1", "CONTENT": "x", "Content": "y"}`,
		`{"PhoneNumber": "+1 555", "Content": ""}`,
		`{"Content": 5, "PhoneNumber": true}`,
		`{"content": null, "Content": "a"}`,
		`{"\u0050honenumber": "1", "x": [1, {"Content": 2}]}`,
		`{"PHONEſumber": "1", "Content": "\ud800"}`,
		"{\"Content\": \"a\xffb\"}",
		`[]`, `"x"`, `null`, `{`, ``, `{} x`, ` {"Content": "x"} `, `{"a":1,}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decode(body)
		var derr *decodeError
		if err != nil && !errors.As(err, &derr) {
			t.Fatalf("decode(%q) = %T %v", body, err, err)
		}
		if err != nil && (err.Error() == "" || strings.Contains(err.Error(), "Go ") || strings.Contains(err.Error(), "struct")) {
			t.Fatalf("decode(%q): reason %q", body, err)
		}
		var legacy struct{ PhoneNumber, Content string }
		jerr := json.Unmarshal(body, &legacy)
		var syn *json.SyntaxError
		switch {
		case errors.As(jerr, &syn):
			// Broken JSON: the decoder's own reason.
			if err == nil || err.Error() != syn.Error() {
				t.Fatalf("decode(%q) = %v, want the reason %q", body, err, syn.Error())
			}
		case !isObject(body):
			if err == nil || err.Error() != textNotObject {
				t.Fatalf("decode(%q) of a non-object = %v", body, err)
			}
		case (jerr == nil) != (err == nil):
			t.Fatalf("decode(%q) = %v, encoding/json %v", body, err, jerr)
		case err != nil:
			if !strings.HasPrefix(err.Error(), "cannot unmarshal ") {
				t.Fatalf("decode(%q): reason %q", body, err)
			}
		case !bytes.Contains(body, []byte("null")) && req != (request(legacy)):
			// (encoding/json lets a later null keep an earlier value; decode empties it.)
			t.Fatalf("decode(%q) = %+v, encoding/json %+v", body, req, legacy)
		}
	})
}

func isObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}
