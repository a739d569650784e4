package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "s3cret-auth-token"
)

func TestParseConfig(t *testing.T) {
	base := `"account_sid": "` + testSID + `", "auth_token": "` + testToken + `"`
	callback := "https://sms.example.test/webhooks/tw/status"
	defaults := config{accountSID: testSID, authToken: testToken, baseURL: defaultBaseURL,
		timeout: defaultTimeout, statusCallback: callback}
	tests := []struct {
		name      string
		raw       string
		publicURL string // default "https://sms.example.test/"
		provider  string // default "tw"
		want      config
		wantField string // non-empty: a *sdk.ConfigError for this field
	}{
		{name: "required only", raw: `{` + base + `}`, want: defaults},
		{
			name: "everything",
			raw:  `{` + base + `, "base_url": "http://127.0.0.1:8081/", "timeout": "3s"}`,
			want: config{accountSID: testSID, authToken: testToken, baseURL: "http://127.0.0.1:8081",
				timeout: 3 * time.Second, statusCallback: callback},
		},
		{name: "public URL with a path", raw: `{` + base + `}`, publicURL: "https://example.test/sms",
			want: config{accountSID: testSID, authToken: testToken, baseURL: defaultBaseURL, timeout: defaultTimeout,
				statusCallback: "https://example.test/sms/webhooks/tw/status"}},
		{name: "provider name escaped in the path", raw: `{` + base + `}`, provider: "a b",
			want: config{accountSID: testSID, authToken: testToken, baseURL: defaultBaseURL, timeout: defaultTimeout,
				statusCallback: "https://sms.example.test/webhooks/a%20b/status"}},
		{name: "empty", raw: ``, wantField: "account_sid"},
		{name: "not an object", raw: `"x"`, wantField: "config"},
		{name: "no auth token", raw: `{"account_sid": "` + testSID + `"}`, wantField: "auth_token"},
		{name: "empty auth token", raw: `{"account_sid": "` + testSID + `", "auth_token": ""}`, wantField: "auth_token"},
		{name: "auth token not a string", raw: `{"account_sid": "` + testSID + `", "auth_token": 12345}`, wantField: "auth_token"},
		{name: "no account sid", raw: `{"auth_token": "t"}`, wantField: "account_sid"},
		{name: "account sid without AC", raw: `{"account_sid": "SK123", "auth_token": "t"}`, wantField: "account_sid"},
		{name: "account sid only AC", raw: `{"account_sid": "AC", "auth_token": "t"}`, wantField: "account_sid"},
		{name: "account sid with a slash", raw: `{"account_sid": "AC12/../x", "auth_token": "t"}`, wantField: "account_sid"},
		{name: "account sid a number", raw: `{"account_sid": 1, "auth_token": "t"}`, wantField: "account_sid"},
		{name: "unknown key", raw: `{` + base + `, "authtoken": "x"}`, wantField: "authtoken"},
		{name: "base_url not a string", raw: `{` + base + `, "base_url": 5}`, wantField: "base_url"},
		{name: "base_url relative", raw: `{` + base + `, "base_url": "/2010-04-01"}`, wantField: "base_url"},
		{name: "base_url not http", raw: `{` + base + `, "base_url": "ftp://api.twilio.com"}`, wantField: "base_url"},
		{name: "base_url without host", raw: `{` + base + `, "base_url": "https://"}`, wantField: "base_url"},
		{name: "base_url with credentials", raw: `{` + base + `, "base_url": "https://u:p@api.twilio.com"}`, wantField: "base_url"},
		{name: "base_url with query", raw: `{` + base + `, "base_url": "https://api.twilio.com/?x=1"}`, wantField: "base_url"},
		{name: "timeout a number", raw: `{` + base + `, "timeout": 10}`, wantField: "timeout"},
		{name: "timeout zero", raw: `{` + base + `, "timeout": "0s"}`, wantField: "timeout"},
		{name: "timeout negative", raw: `{` + base + `, "timeout": "-1s"}`, wantField: "timeout"},
		{name: "no public URL", raw: `{` + base + `}`, publicURL: "-", wantField: "public_url"},
		{name: "public URL relative", raw: `{` + base + `}`, publicURL: "sms.example.test", wantField: "public_url"},
		{name: "no provider name", raw: `{` + base + `}`, provider: "-", wantField: "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := sdk.ConfigureRequest{Name: "tw", PublicURL: "https://sms.example.test/", Config: json.RawMessage(tc.raw)}
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
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("error %q shows the auth token", err)
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
