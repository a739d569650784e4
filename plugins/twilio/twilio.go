package main

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

const (
	name    = "twilio"
	version = "0.1.0"

	// maxBatch is what Info announces. Twilio takes one message per request, so a batch is
	// sent as that many requests at once (sendConcurrency = maxBatch): a batch then takes
	// about as long as one request, well inside the host's call timeout, and the host's
	// four batches in flight make up to 40 concurrent requests, under Twilio's REST
	// concurrency limit for an account. A 429 for some of them comes back as rate_limited
	// for those messages only. `batch { max_size = 1 }` in the provider block turns it
	// into one request per call.
	maxBatch        = 10
	sendConcurrency = maxBatch
	// pollConcurrency bounds the fetches of one PollStatus call.
	pollConcurrency = 8
)

// provider is the twilio plugin. Provider message ids are Twilio's message SIDs ("SM…"):
// the Messages API has no client id to dedupe on, so a retried ambiguous send may send
// twice, which is why ambiguous is kept apart from "definitely not sent" (client.go).
type provider struct {
	log       hclog.Logger
	now       func() time.Time
	transport http.RoundTripper

	mu  sync.Mutex // guards cfg and api
	cfg config
	api *apiClient
}

var (
	_ sdk.Provider        = (*provider)(nil)
	_ sdk.StatusPoller    = (*provider)(nil)
	_ sdk.BalanceReporter = (*provider)(nil)
	_ sdk.WebhookHandler  = (*provider)(nil)
)

func newProvider(log hclog.Logger) *provider {
	// Enough idle connections for the concurrent sends of the host's batches in flight.
	return &provider{log: log, now: time.Now, transport: httpcall.NewTransport(64)}
}

func (p *provider) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:            name,
		Version:         version,
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: sdk.Capabilities{
			MaxBatch:   maxBatch,
			StatusPoll: true,
			Balance:    true,
			Inbound:    true, // through webhooks; there is no event stream
		},
	}, nil
}

func (p *provider) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	cfg, err := parseConfig(req)
	if err != nil {
		return err
	}
	api := newAPIClient(cfg, p.transport, p.now)
	p.mu.Lock()
	p.cfg, p.api = cfg, api
	p.mu.Unlock()
	p.log.Debug("configured", "account_sid", cfg.accountSID, "base_url", cfg.baseURL,
		"status_callback", cfg.statusCallback, "timeout", cfg.timeout)
	return nil
}

var errNotConfigured = sdk.Errorf(sdk.ClassUnavailable, "not configured")

func (p *provider) state() (config, *apiClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.api == nil {
		return config{}, nil, errNotConfigured
	}
	return p.cfg, p.api, nil
}

// Send creates one Twilio message per OutboundMessage, at most sendConcurrency at a time.
// Each message gets its own result: one request failing says nothing about the others, so
// the call itself fails only when the plugin is not configured.
func (p *provider) Send(ctx context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	results := make([]sdk.SendResult, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	cfg, api, err := p.state()
	if err != nil {
		return nil, err
	}
	httpcall.ForEach(len(msgs), sendConcurrency, func(i int) {
		results[i] = p.sendOne(ctx, cfg, api, msgs[i])
	})
	return results, nil
}

func (p *provider) sendOne(ctx context.Context, cfg config, api *apiClient, m sdk.OutboundMessage) sdk.SendResult {
	switch {
	case m.To == "":
		return sdk.SendResult{Err: sdk.Errorf(sdk.ClassInvalid, "message %s has no recipient", m.ID)}
	case m.From == "":
		return sdk.SendResult{Err: sdk.Errorf(sdk.ClassInvalid, "message %s has no sender", m.ID)}
	}
	tm, err := api.createMessage(ctx, m.From, m.To, m.Text, httpcall.CallbackURL(cfg.statusCallback, m.ID))
	if err != nil {
		var e *sdk.Error
		if !errors.As(err, &e) {
			e = &sdk.Error{Class: sdk.ClassAmbiguous, Message: err.Error()}
		}
		p.log.Warn("send failed", "id", m.ID, "class", e.Class, "code", e.Code, "error", err)
		return sdk.SendResult{Err: e}
	}
	status, ok := statusOf(tm.Status)
	if !ok {
		status = sdk.StatusQueued // created, whatever Twilio calls its first state
	}
	p.log.Debug("sent", "id", m.ID, "sid", tm.SID, "status", tm.Status)
	return sdk.SendResult{ProviderMessageID: tm.SID, Status: status}
}

// PollStatus fetches each message, at most pollConcurrency at a time. Messages Twilio does
// not know (404), and ones whose status says nothing about delivery, are left out. Any other
// failure stops the poll and is the call's error.
func (p *provider) PollStatus(ctx context.Context, ids []string) ([]sdk.StatusUpdate, error) {
	_, api, err := p.state()
	if err != nil {
		return nil, err
	}
	return httpcall.PollEach(ctx, ids, pollConcurrency, func(ctx context.Context, id string) (sdk.StatusUpdate, bool, error) {
		m, ok, err := api.fetchMessage(ctx, id)
		if err != nil || !ok {
			return sdk.StatusUpdate{}, false, err
		}
		// Reported under the id asked about: that is the one the host knows.
		u, ok := statusUpdate(id, m.Status, m.ErrorCode.String(), m.ErrorMessage, m.updatedAt(p.now().UTC()))
		return u, ok, nil
	})
}

func (p *provider) Balance(ctx context.Context) (sdk.Balance, error) {
	_, api, err := p.state()
	if err != nil {
		return sdk.Balance{}, err
	}
	return api.balance(ctx)
}

// optOutCode is Twilio's "attempt to send to unsubscribed recipient".
const optOutCode = "21610"

// statusOf maps a Twilio message status to the sdk's; ok is false for the ones that say
// nothing about an outbound message's delivery (an inbound message's receiving/received,
// or a status this plugin does not know).
//
//   - accepted, scheduled, queued and sending are all "Twilio has it, the network does not
//     yet": queued. The gateway treats a report at or behind a message's status as a
//     no-op, so a late "sending" costs nothing, while it still proves Twilio has the
//     message.
//   - read (WhatsApp-style) implies delivered.
//   - partially_delivered is final at Twilio and the recipient did not get the whole
//     message: undelivered.
//   - canceled is a scheduled message Twilio will never send: failed (the sdk has no
//     canceled; failed is final and says "not sent").
func statusOf(twilioStatus string) (status string, ok bool) {
	switch twilioStatus {
	case "accepted", "scheduled", "queued", "sending":
		return sdk.StatusQueued, true
	case "sent":
		return sdk.StatusSent, true
	case "delivered", "read":
		return sdk.StatusDelivered, true
	case "undelivered", "partially_delivered":
		return sdk.StatusUndelivered, true
	case "failed", "canceled":
		return sdk.StatusFailed, true
	}
	return "", false
}

// statusUpdate builds the update for a Twilio message status and error code, as both the
// status callback and PollStatus report them; ok is false when statusOf says to ignore it.
func statusUpdate(sid, twilioStatus, errorCode, errorMessage string, at time.Time) (sdk.StatusUpdate, bool) {
	status, ok := statusOf(twilioStatus)
	if !ok {
		return sdk.StatusUpdate{}, false
	}
	if twilioStatus == "canceled" && errorMessage == "" {
		errorMessage = "canceled at the provider"
	}
	return sdk.StatusUpdate{
		ProviderMessageID: sid,
		Status:            status,
		ErrorCode:         errorCode,
		ErrorMessage:      errorMessage,
		OptOut:            errorCode == optOutCode,
		At:                at,
	}, true
}
