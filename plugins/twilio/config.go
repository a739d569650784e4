package main

import (
	"fmt"
	"regexp"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

// config is the twilio provider's `config` block (API.md §9) plus what the host tells every
// plugin (its provider name and public URL), from which the webhook URLs follow.
type config struct {
	accountSID string
	authToken  string // a secret: never logged, never in an error message
	baseURL    string // without a trailing "/"
	timeout    time.Duration
	// statusCallback is the URL Twilio posts delivery reports to:
	// public_url + "/webhooks/" + name + "/status".
	statusCallback string
}

const (
	defaultBaseURL = "https://api.twilio.com"
	defaultTimeout = 10 * time.Second
)

// accountSID is what an account SID looks like: "AC" and letters or digits (Twilio's are 32
// hex digits, a simulator's may be shorter). It goes into every API path, so nothing else
// is let through.
var accountSID = regexp.MustCompile(`^AC[0-9A-Za-z]+$`)

// parseConfig validates the request completely; every problem is a *sdk.ConfigError naming
// the key. Problems with the auth token never quote it.
func parseConfig(req sdk.ConfigureRequest) (config, error) {
	cfg := config{baseURL: defaultBaseURL, timeout: defaultTimeout}
	fields, err := sdk.ConfigFields(req.Config)
	if err != nil {
		return config{}, err
	}
	for _, f := range fields {
		var err error
		switch f.Key {
		case "account_sid":
			err = f.Decode(&cfg.accountSID, "must be a string")
			if err == nil && cfg.accountSID != "" && !accountSID.MatchString(cfg.accountSID) {
				err = &sdk.ConfigError{Field: f.Key, Message: fmt.Sprintf(`%q is not an account SID ("AC" and letters or digits)`, cfg.accountSID)}
			}
		case "auth_token":
			err = f.Decode(&cfg.authToken, "must be a string")
		case "base_url":
			cfg.baseURL, err = httpcall.BaseURL(f)
		case "timeout":
			cfg.timeout, err = f.Duration()
			if err == nil && cfg.timeout == 0 {
				err = &sdk.ConfigError{Field: f.Key, Message: "must be positive"}
			}
		default:
			err = &sdk.ConfigError{Field: f.Key, Message: "unknown key"}
		}
		if err != nil {
			return config{}, err
		}
	}
	switch {
	case cfg.accountSID == "":
		return config{}, &sdk.ConfigError{Field: "account_sid", Message: "is required"}
	case cfg.authToken == "":
		return config{}, &sdk.ConfigError{Field: "auth_token", Message: "is required"}
	}
	cfg.statusCallback, err = statusCallbackURL(req)
	if err != nil {
		return config{}, err
	}
	return cfg, nil
}

// statusCallbackURL is where Twilio posts this provider's delivery reports. Without the
// gateway's public URL Twilio could not reach it, so a missing or bad one fails Configure
// instead of every status going unreported.
func statusCallbackURL(req sdk.ConfigureRequest) (string, error) {
	base, err := httpcall.WebhookBase(req, "Twilio posts delivery reports to it")
	if err != nil {
		return "", err
	}
	return base + statusPath, nil
}
