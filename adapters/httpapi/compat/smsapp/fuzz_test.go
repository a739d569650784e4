package smsapp

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

func FuzzDecodeSMSApp(f *testing.F) {
	for _, seed := range []string{
		`{"from": "+14155550100", "to": "+14155550101", "text": "hello"}`,
		`{"from": "ééééé", "to": "€€€€€€€€€€€€€€€€", "text": "😀"}`,
		`{"from": null, "to": 5, "text": []}`,
		`{"from": "abcdef", "from": 1}`,
		`{"from": "\ud800\udc00abcd", "to": "\u0000\u0000\u0000\u0000\u0000\u0000", "text": "\xff"}`,
		`[]`, `"x"`, `null`, `{`, ``, `{} x`, ` {"text": "x"} `,
	} {
		f.Add([]byte(seed))
	}
	texts := map[string]bool{}
	for _, p := range params {
		texts[p.name+" is missing"], texts[p.name+" is invalid"] = true, true
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decode(body)
		var perr *paramError
		switch {
		case err == nil:
			for i, v := range []string{req.From, req.To, req.Text} {
				n := utf8.RuneCountInString(v)
				if p := params[i]; n < p.min || n > p.max {
					t.Fatalf("accepted %s of %d code points from %q", p.name, n, body)
				}
			}
			// What was accepted decodes again to the same request.
			again, err := decode(mustJSON(t, req))
			if err != nil || again != req {
				t.Fatalf("re-decoding %+v: %+v, %v", req, again, err)
			}
		case errors.As(err, &perr):
			if !texts[err.Error()] {
				t.Fatalf("decode(%q): unexpected text %q", body, err.Error())
			}
			// A body that is not a JSON object is {}: the answer is "from is missing".
			var obj map[string]json.RawMessage
			if json.Unmarshal(body, &obj) != nil && err.Error() != "from is missing" {
				t.Fatalf("decode(%q) of a non-object = %q", body, err.Error())
			}
		default:
			t.Fatalf("decode(%q) = %T %v", body, err, err)
		}
	})
}

func mustJSON(t *testing.T, r request) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]string{"from": r.From, "to": r.To, "text": r.Text})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
