package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

const (
	testKey    = "12345678"
	testSecret = "s3cret-flowroute-key"
	testToken  = "tok-0123456789abcdef"
)

func TestParseConfig(t *testing.T) {
	base := `"access_key": "` + testKey + `", "secret_key": "` + testSecret + `", "webhook_token": "` + testToken + `"`
	hooks := "https://sms.example.test/webhooks/fr"
	defaults := config{accessKey: testKey, secretKey: testSecret, baseURL: defaultBaseURL, timeout: defaultTimeout,
		webhookToken: testToken, hooks: hooks}
	with := func(change func(*config)) config {
		c := defaults
		change(&c)
		return c
	}
	tests := []struct {
		name      string
		raw       string
		publicURL string // default "https://sms.example.test/"
		provider  string // default "fr"
		want      config
		wantField string // non-empty: a *sdk.ConfigError for this field
	}{
		{name: "required only", raw: `{` + base + `}`, want: defaults},
		{
			name: "everything",
			raw:  `{` + base + `, "base_url": "http://127.0.0.1:8081/", "timeout": "3s"}`,
			want: with(func(c *config) { c.baseURL, c.timeout = "http://127.0.0.1:8081", 3*time.Second }),
		},
		{name: "token of 16 characters with every allowed kind", raw: `{"access_key": "k", "secret_key": "s", "webhook_token": "aZ09-._~aZ09-._~"}`,
			want: config{accessKey: "k", secretKey: "s", baseURL: defaultBaseURL, timeout: defaultTimeout, webhookToken: "aZ09-._~aZ09-._~", hooks: hooks}},
		{name: "public URL with a path", raw: `{` + base + `}`, publicURL: "https://example.test/sms",
			want: with(func(c *config) { c.hooks = "https://example.test/sms/webhooks/fr" })},
		{name: "provider name escaped in the path", raw: `{` + base + `}`, provider: "a b",
			want: with(func(c *config) { c.hooks = "https://sms.example.test/webhooks/a%20b" })},
		{name: "empty", raw: ``, wantField: "access_key"},
		{name: "not an object", raw: `"x"`, wantField: "config"},
		{name: "no access key", raw: `{"secret_key": "s", "webhook_token": "` + testToken + `"}`, wantField: "access_key"},
		{name: "access key with a colon", raw: `{"access_key": "a:b", "secret_key": "s", "webhook_token": "` + testToken + `"}`, wantField: "access_key"},
		{name: "access key a number", raw: `{"access_key": 12345678, "secret_key": "s", "webhook_token": "` + testToken + `"}`, wantField: "access_key"},
		{name: "no secret key", raw: `{"access_key": "k", "webhook_token": "` + testToken + `"}`, wantField: "secret_key"},
		{name: "empty secret key", raw: `{"access_key": "k", "secret_key": "", "webhook_token": "` + testToken + `"}`, wantField: "secret_key"},
		{name: "secret key not a string", raw: `{"access_key": "k", "secret_key": 5, "webhook_token": "` + testToken + `"}`, wantField: "secret_key"},
		{name: "no webhook token", raw: `{"access_key": "k", "secret_key": "` + testSecret + `"}`, wantField: "webhook_token"},
		{name: "webhook token of 15 characters", raw: `{"access_key": "k", "secret_key": "s", "webhook_token": "` + testToken[:15] + `"}`, wantField: "webhook_token"},
		{name: "webhook token too long", raw: `{"access_key": "k", "secret_key": "s", "webhook_token": "` + strings.Repeat("a", 257) + `"}`, wantField: "webhook_token"},
		{name: "webhook token with a slash", raw: `{"access_key": "k", "secret_key": "s", "webhook_token": "` + testToken + `/x"}`, wantField: "webhook_token"},
		{name: "webhook token with a space", raw: `{"access_key": "k", "secret_key": "s", "webhook_token": "` + testToken + ` x"}`, wantField: "webhook_token"},
		{name: "webhook token with a percent", raw: `{"access_key": "k", "secret_key": "s", "webhook_token": "` + testToken + `%2F"}`, wantField: "webhook_token"},
		{name: "webhook token not a string", raw: `{"access_key": "k", "secret_key": "s", "webhook_token": 12345678901234567}`, wantField: "webhook_token"},
		{name: "unknown key", raw: `{` + base + `, "secretkey": "x"}`, wantField: "secretkey"},
		{name: "base_url not a string", raw: `{` + base + `, "base_url": 5}`, wantField: "base_url"},
		{name: "base_url relative", raw: `{` + base + `, "base_url": "/v2.1"}`, wantField: "base_url"},
		{name: "base_url not http", raw: `{` + base + `, "base_url": "ftp://api.flowroute.com"}`, wantField: "base_url"},
		{name: "base_url without host", raw: `{` + base + `, "base_url": "https://"}`, wantField: "base_url"},
		{name: "base_url with credentials", raw: `{` + base + `, "base_url": "https://u:p@api.flowroute.com"}`, wantField: "base_url"},
		{name: "base_url with query", raw: `{` + base + `, "base_url": "https://api.flowroute.com/?x=1"}`, wantField: "base_url"},
		{name: "timeout a number", raw: `{` + base + `, "timeout": 10}`, wantField: "timeout"},
		{name: "timeout zero", raw: `{` + base + `, "timeout": "0s"}`, wantField: "timeout"},
		{name: "timeout negative", raw: `{` + base + `, "timeout": "-1s"}`, wantField: "timeout"},
		{name: "no public URL", raw: `{` + base + `}`, publicURL: "-", wantField: "public_url"},
		{name: "public URL relative", raw: `{` + base + `}`, publicURL: "sms.example.test", wantField: "public_url"},
		{name: "no provider name", raw: `{` + base + `}`, provider: "-", wantField: "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := sdk.ConfigureRequest{Name: "fr", PublicURL: "https://sms.example.test/", Config: json.RawMessage(tc.raw)}
			switch tc.publicURL {
			case "":
			case "-":
				req.PublicURL = ""
			default:
				req.PublicURL = tc.publicURL
			}
			switch tc.provider {
			case "":
			case "-":
				req.Name = ""
			default:
				req.Name = tc.provider
			}
			got, err := parseConfig(req)
			if tc.wantField != "" {
				var ce *sdk.ConfigError
				if !errors.As(err, &ce) || ce.Field != tc.wantField {
					t.Fatalf("got %v, want a ConfigError for %q", err, tc.wantField)
				}
				for _, secret := range []string{testSecret, testToken[:15]} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q shows a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDLRCallback(t *testing.T) {
	cfg, err := parseConfig(sdk.ConfigureRequest{Name: "fr", PublicURL: "https://sms.example.test", Config: json.RawMessage(
		`{"access_key": "k", "secret_key": "s", "webhook_token": "` + testToken + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ id, want string }{
		{"m1", "https://sms.example.test/webhooks/fr/" + testToken + "/dlr?message_id=m1"},
		{"a b&c", "https://sms.example.test/webhooks/fr/" + testToken + "/dlr?message_id=a+b%26c"},
		{"", "https://sms.example.test/webhooks/fr/" + testToken + "/dlr"},
	}
	for _, tc := range tests {
		if got := cfg.dlrCallback(tc.id); got != tc.want {
			t.Errorf("dlrCallback(%q) = %s, want %s", tc.id, got, tc.want)
		}
		if got := httpcall.CallbackMessageID(cfg.dlrCallback(tc.id)); got != tc.id {
			t.Errorf("CallbackMessageID of %q's callback = %q", tc.id, got)
		}
	}
	if r := cfg.redactedHooks(); strings.Contains(r, testToken) {
		t.Errorf("redactedHooks %s shows the token", r)
	}
}
