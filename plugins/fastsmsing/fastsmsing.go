package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

const (
	name    = "fastsmsing"
	version = "0.1.0"
	// replayWindow is how far behind the newest emitted update the saved cursor stays. An
	// emitted event is only queued at the host, not yet committed, and the protocol has no
	// acknowledgement; resuming a little earlier than the last emitted update re-sends what a
	// killed gateway may have lost in between. Repeats are harmless: the host's status
	// machine is monotonic and ignores a status a message already has.
	replayWindow = 5 * time.Second
)

// phoneNumber is what the API accepts: an international number, with or without its "+"
// (the fastsmsing dialect passes its clients' digits-only numbers through as given, as the
// legacy proxy did). Anything else fails before a call.
var phoneNumber = regexp.MustCompile(`^\+?[1-9][0-9]{6,14}$`)

// provider is the fastsmsing plugin.
//
// Provider message ids are the gateway's message ids (OutboundMessage.ID): the API takes a
// client id per message, dedupes on it and reports updates by it, so a retried batch keeps
// the same ids and an update maps to its message without any table. The batch id is only
// logged.
type provider struct {
	log       hclog.Logger
	now       func() time.Time
	transport http.RoundTripper
	replay    time.Duration

	mu      sync.Mutex // guards cfg, api and cursors
	cfg     config
	api     *apiClient
	cursors *cursors
	// polling holds a token while an Events call polls, so two subscriptions (a host
	// re-subscribing) never read the same updates at once.
	polling chan struct{}
}

var (
	_ sdk.Provider        = (*provider)(nil)
	_ sdk.EventSource     = (*provider)(nil)
	_ sdk.BalanceReporter = (*provider)(nil)
)

func newProvider(log hclog.Logger) *provider {
	return &provider{
		log:       log,
		now:       time.Now,
		transport: httpcall.NewTransport(32),
		replay:    replayWindow,
		cfg:       config{maxBatch: defaultMaxBatch, pollInterval: defaultPollInterval, timeout: defaultTimeout},
		polling:   make(chan struct{}, 1),
	}
}

func (p *provider) Info(context.Context) (sdk.Info, error) {
	p.mu.Lock()
	maxBatch := p.cfg.maxBatch
	p.mu.Unlock()
	return sdk.Info{
		Name:            name,
		Version:         version,
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: sdk.Capabilities{
			// config.max_batch once configured; the host asks before Configure, so it sees
			// the default then, and Send splits larger batches itself.
			MaxBatch:    maxBatch,
			Balance:     true,
			EventStream: true,
		},
	}, nil
}

func (p *provider) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	cur, err := loadCursors(cfg.cursorFile, p.replay)
	if err != nil {
		return &sdk.ConfigError{Field: "cursor_file", Message: err.Error()}
	}
	p.mu.Lock()
	p.cfg, p.api, p.cursors = cfg, newAPIClient(cfg, p.transport), cur
	p.mu.Unlock()
	p.log.Debug("configured", "base_url", cfg.baseURL, "max_batch", cfg.maxBatch,
		"poll_interval", cfg.pollInterval, "cursor_file", cfg.cursorFile, "cursor", cur.resume())
	return nil
}

var errNotConfigured = sdk.Errorf(sdk.ClassUnavailable, "not configured")

func (p *provider) state() (config, *apiClient, *cursors, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.api == nil {
		return config{}, nil, nil, errNotConfigured
	}
	return p.cfg, p.api, p.cursors, nil
}

// Send posts the valid messages in batches of at most max_batch (one call when the host
// respects max_batch). A batch that fails gives its messages that batch's error; when every
// message failed the same way the call itself fails with it.
func (p *provider) Send(ctx context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	results := make([]sdk.SendResult, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	cfg, api, _, err := p.state()
	if err != nil {
		return nil, err
	}
	var batch []batchMessage
	var idx []int // results index of each batch message
	for i, m := range msgs {
		switch {
		case m.ID == "":
			results[i].Err = sdk.Errorf(sdk.ClassInvalid, "no message id")
		case !phoneNumber.MatchString(m.To):
			results[i].Err = sdk.Errorf(sdk.ClassInvalid, "recipient %q is not an international number", m.To)
		default:
			batch = append(batch, batchMessage{ID: m.ID, PhoneNumber: m.To, Message: m.Text})
			idx = append(idx, i)
		}
	}
	var lastErr *sdk.Error
	failed := 0
	for start := 0; start < len(batch); start += cfg.maxBatch {
		end := min(start+cfg.maxBatch, len(batch))
		batchID, err := api.postBatch(ctx, batch[start:end])
		var e *sdk.Error
		if err != nil && !errors.As(err, &e) {
			e = &sdk.Error{Class: sdk.ClassAmbiguous, Message: err.Error()}
		}
		for j := start; j < end; j++ {
			r := &results[idx[j]]
			if e != nil {
				r.Err = e
				continue
			}
			r.ProviderMessageID, r.Status = batch[j].ID, sdk.StatusQueued
		}
		if e != nil {
			p.log.Warn("batch failed", "messages", end-start, "class", e.Class, "error", e)
			lastErr, failed = e, failed+end-start
			continue
		}
		p.log.Debug("batch accepted", "batch_id", batchID, "messages", end-start)
	}
	if failed == len(msgs) && allSame(results, lastErr) {
		return nil, fmt.Errorf("send %d messages: %w", len(msgs), lastErr)
	}
	return results, nil
}

func allSame(results []sdk.SendResult, e *sdk.Error) bool {
	for _, r := range results {
		if r.Err != e {
			return false
		}
	}
	return true
}

func (p *provider) Balance(ctx context.Context) (sdk.Balance, error) {
	_, api, _, err := p.state()
	if err != nil {
		return sdk.Balance{}, err
	}
	return api.balance(ctx)
}
