package main

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
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
			cfg.baseURL, err = parseHTTPURL(f.Key, f)
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

// parseHTTPURL reads an absolute http(s) URL without credentials, query or fragment.
func parseHTTPURL(key string, f sdk.ConfigField) (string, error) {
	var s string
	if err := f.Decode(&s, "must be a URL string"); err != nil {
		return "", err
	}
	if err := checkHTTPURL(s); err != nil {
		return "", &sdk.ConfigError{Field: key, Message: err.Error()}
	}
	return strings.TrimRight(s, "/"), nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	case u.User != nil:
		// Credentials belong in auth_token; a URL is logged and shows up in errors.
		return fmt.Errorf("must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("must not have a query or fragment")
	}
	return nil
}

// statusCallbackURL is where Twilio posts this provider's delivery reports. Without the
// gateway's public URL Twilio could not reach it, so a missing or bad one fails Configure
// instead of every status going unreported.
func statusCallbackURL(req sdk.ConfigureRequest) (string, error) {
	if req.PublicURL == "" {
		return "", &sdk.ConfigError{Field: "public_url", Message: "the gateway's public_url is required: Twilio posts delivery reports to it"}
	}
	if err := checkHTTPURL(req.PublicURL); err != nil {
		return "", &sdk.ConfigError{Field: "public_url", Message: err.Error()}
	}
	if req.Name == "" {
		return "", &sdk.ConfigError{Field: "name", Message: "the provider name is required: it is part of the webhook URLs"}
	}
	return strings.TrimRight(req.PublicURL, "/") + "/webhooks/" + url.PathEscape(req.Name) + statusPath, nil
}
