package signature

import (
	"net/url"
	"testing"
)

// The example Twilio publishes for its request validation.
const (
	vectorToken     = "12345"
	vectorURL       = "https://mycompany.com/myapp.php?foo=1&bar=2"
	vectorSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
)

func vectorParams() url.Values {
	return url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+12349013030"},
		"Digits":  {"1234"},
		"From":    {"+12349013030"},
		"To":      {"+18005551212"},
	}
}

func TestPublishedVector(t *testing.T) {
	if got := Compute(vectorToken, vectorURL, vectorParams()); got != vectorSignature {
		t.Fatalf("Compute = %s, want %s", got, vectorSignature)
	}
}

func TestValid(t *testing.T) {
	with := func(k, v string) url.Values {
		p := vectorParams()
		p.Set(k, v)
		return p
	}
	signedWithPort := Compute(vectorToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", vectorParams())
	for _, tc := range []struct {
		name      string
		url       string
		params    url.Values
		signature string
		token     string
		want      bool
	}{
		{"the vector", vectorURL, vectorParams(), vectorSignature, vectorToken, true},
		{"our URL spells out :443, Twilio signed without it", "https://mycompany.com:443/myapp.php?foo=1&bar=2", vectorParams(), vectorSignature, vectorToken, true},
		{"Twilio signed with :443, our URL has none", vectorURL, vectorParams(), signedWithPort, vectorToken, true},
		{"another port is another URL", "https://mycompany.com:8443/myapp.php?foo=1&bar=2", vectorParams(), vectorSignature, vectorToken, false},
		{"http default port", "http://mycompany.com:80/x", url.Values{"a": {"1"}}, Compute("t", "http://mycompany.com/x", url.Values{"a": {"1"}}), "t", true},
		{"a parameter we do not know still counts", vectorURL, with("ApiVersion", "2010-04-01"), vectorSignature, vectorToken, false},
		{"unknown parameter signed along", vectorURL, with("ApiVersion", "2010-04-01"), Compute(vectorToken, vectorURL, with("ApiVersion", "2010-04-01")), vectorToken, true},
		{"tampered value", vectorURL, with("Digits", "1235"), vectorSignature, vectorToken, false},
		{"tampered URL", "https://mycompany.com/myapp.php?foo=1&bar=3", vectorParams(), vectorSignature, vectorToken, false},
		{"wrong token", vectorURL, vectorParams(), vectorSignature, "54321", false},
		{"missing signature", vectorURL, vectorParams(), "", vectorToken, false},
		{"garbage signature", vectorURL, vectorParams(), "not base64!", vectorToken, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Valid(tc.token, tc.url, tc.params, tc.signature); got != tc.want {
				t.Errorf("Valid = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOrderAndRepeats: the signature depends on the parameters, not on the order they came
// in, and a repeated name signs its values sorted.
func TestOrderAndRepeats(t *testing.T) {
	a := Compute("t", "https://x.example/s", url.Values{"b": {"2", "1"}, "a": {"x"}})
	b := Compute("t", "https://x.example/s", url.Values{"a": {"x"}, "b": {"1", "2"}})
	if a != b {
		t.Errorf("order changed the signature: %s vs %s", a, b)
	}
	if c := Compute("t", "https://x.example/s", url.Values{"a": {"x"}, "b": {"1"}}); c == a {
		t.Error("dropping a repeated value kept the signature")
	}
}

func FuzzValid(f *testing.F) {
	f.Add(vectorURL, "Digits", "1234", vectorSignature)
	f.Add("http://h:80/p", "", "", "")
	f.Add("://bad", "a", "b", "c")
	f.Fuzz(func(t *testing.T, rawURL, k, v, sig string) {
		p := url.Values{k: {v}}
		_ = Valid("token", rawURL, p, sig) // never panics
		if !Valid("token", rawURL, p, Compute("token", rawURL, p)) {
			t.Fatalf("a request's own signature is not valid: %q %q=%q", rawURL, k, v)
		}
	})
}
