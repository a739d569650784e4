package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

// config is the flowroute provider's `config` block (API.md §9) plus what the host tells
// every plugin (its provider name and public URL), from which the webhook URLs follow.
type config struct {
	accessKey string
	secretKey string // a secret: never logged, never in an error message
	baseURL   string // without a trailing "/"
	timeout   time.Duration
	// webhookToken is the path segment that authenticates Flowroute's callbacks: a secret,
	// never logged, never in an error message.
	webhookToken string
	// hooks is public_url + "/webhooks/" + name: the webhooks are hooks + "/" + token +
	// "/inbound" and "/dlr".
	hooks string
}

const (
	defaultBaseURL = "https://api.flowroute.com"
	defaultTimeout = 10 * time.Second
	// minTokenLength keeps the token out of guessing range: with the 66 characters it may
	// use, 16 of them are about 96 bits.
	minTokenLength = 16
	maxTokenLength = 256
)

// parseConfig validates the request completely; every problem is a *sdk.ConfigError naming
// the key. Problems with the secret key or the webhook token never quote them.
func parseConfig(req sdk.ConfigureRequest) (config, error) {
	cfg := config{baseURL: defaultBaseURL, timeout: defaultTimeout}
	fields, err := sdk.ConfigFields(req.Config)
	if err != nil {
		return config{}, err
	}
	for _, f := range fields {
		var err error
		switch f.Key {
		case "access_key":
			err = f.Decode(&cfg.accessKey, "must be a string")
			if err == nil && strings.ContainsAny(cfg.accessKey, ":\r\n") {
				// The Basic user cannot hold a colon; a line break would break the header.
				err = &sdk.ConfigError{Field: f.Key, Message: "must not contain a colon or a line break"}
			}
		case "secret_key":
			err = f.Decode(&cfg.secretKey, "must be a string")
		case "webhook_token":
			if err = f.Decode(&cfg.webhookToken, "must be a string"); err == nil {
				err = checkToken(cfg.webhookToken)
			}
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
	case cfg.accessKey == "":
		return config{}, &sdk.ConfigError{Field: "access_key", Message: "is required"}
	case cfg.secretKey == "":
		return config{}, &sdk.ConfigError{Field: "secret_key", Message: "is required"}
	case cfg.webhookToken == "":
		return config{}, &sdk.ConfigError{Field: "webhook_token", Message: fmt.Sprintf(
			"is required (at least %d characters): Flowroute signs nothing, so the token in the webhook URLs is their only protection", minTokenLength)}
	}
	// Without the gateway's public URL Flowroute could not reach the webhooks, so a missing
	// or bad one fails Configure instead of every receipt going unreported.
	cfg.hooks, err = httpcall.WebhookBase(req, "Flowroute posts delivery receipts to it")
	if err != nil {
		return config{}, err
	}
	return cfg, nil
}

// checkToken accepts a token of minTokenLength to maxTokenLength URL-unreserved characters
// (RFC 3986): it is one path segment, sent and compared as written.
func checkToken(token string) error {
	if n := len(token); n < minTokenLength || n > maxTokenLength {
		return &sdk.ConfigError{Field: "webhook_token", Message: fmt.Sprintf(
			"must be %d to %d characters long (it has %d)", minTokenLength, maxTokenLength, n)}
	}
	for _, c := range token {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~", c)) {
			return &sdk.ConfigError{Field: "webhook_token", Message: "may hold only letters, digits and - . _ ~ (it is a URL path segment)"}
		}
	}
	return nil
}

// dlrCallback is the dlr_callback of one message. The message id lets the host apply a
// receipt that arrives before it has stored the mdr2 id the send returned; whoever knows
// the token can forge it, as they can forge the rest of the receipt.
func (c config) dlrCallback(messageID string) string {
	return httpcall.CallbackURL(c.hooks+"/"+c.webhookToken+dlrPath, messageID)
}

// redactedHooks is the webhook base as it may be logged: the token left out.
func (c config) redactedHooks() string { return c.hooks + "/…" }
