package main

import (
	"encoding/json"
	"fmt"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// config is the provider block's `config` object:
//
//	config = {
//	  credits      = 1000      # messages the account may send; Balance reports what is left
//	                           # (without it: no limit, and no balance to report)
//	  reply        = true      # the recipient answers each delivered message ... (default false)
//	  reply_prefix = "echo: "  # ... with this prefix and the text it received
//	  max_batch    = 50        # largest batch the gateway may hand to one Send
//	}
//
// Every key is optional: with no config at all, every message ends delivered (API.md §9).
// Never set reply on a number of the proxy pool: the gateway's own answers (the no-session
// message) would be echoed back to it, and answered again. A real provider's config would hold its API's base_url and
// credentials (the gateway passes `env.NAME` values in; a plugin never reads the environment).
type config struct {
	limited     bool // credits was given
	credits     int64
	reply       bool
	replyPrefix string
	maxBatch    int
}

const (
	defaultReplyPrefix = "echo: "
	defaultMaxBatch    = 50
	// maxMaxBatch bounds max_batch: a batch is one gRPC message, which has a size limit.
	maxMaxBatch = 1000
)

func defaultConfig() config {
	return config{replyPrefix: defaultReplyPrefix, maxBatch: defaultMaxBatch}
}

// parseConfig validates the whole config before any of it is applied. Every problem is a
// *sdk.ConfigError naming the key: the gateway then refuses to start with
// `provider "echo": config.<key>: <message>`, which tells the operator what to fix.
func parseConfig(raw json.RawMessage) (config, error) {
	cfg := defaultConfig()
	// ConfigFields hands the keys back sorted, so the first problem reported is stable.
	fields, err := sdk.ConfigFields(raw)
	if err != nil {
		return config{}, err
	}
	for _, f := range fields {
		var err error
		switch f.Key {
		case "credits":
			err = f.Decode(&cfg.credits, "must be a whole number")
			cfg.limited = true
			if err == nil && cfg.credits < 0 {
				err = &sdk.ConfigError{Field: f.Key, Message: "must not be negative"}
			}
		case "reply":
			err = f.Decode(&cfg.reply, "must be true or false")
		case "reply_prefix":
			err = f.Decode(&cfg.replyPrefix, "must be a string")
		case "max_batch":
			err = f.Decode(&cfg.maxBatch, "must be a whole number")
			if err == nil && (cfg.maxBatch < 1 || cfg.maxBatch > maxMaxBatch) {
				err = &sdk.ConfigError{Field: f.Key, Message: fmt.Sprintf("must be between 1 and %d", maxMaxBatch)}
			}
		default:
			// Refuse what we do not know: a misspelt key silently ignored is a setting the
			// operator believes is on.
			err = &sdk.ConfigError{Field: f.Key, Message: "unknown key"}
		}
		if err != nil {
			return config{}, err
		}
	}
	return cfg, nil
}
