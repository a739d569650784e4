package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

const (
	name    = "echo"
	version = "1.0.0"

	// idPrefix starts every provider message id the echo hands out ("echo-<16 hex>").
	idPrefix = "echo-"
	// inboundIDPrefix starts the ids of the replies, so they never collide with outbound ids.
	inboundIDPrefix = "echo-in-"

	// eventBuffer bounds the events kept while the gateway is not subscribed (it re-subscribes
	// after a restart of either side). When it is full, new events are dropped and logged: the
	// gateway still learns the statuses through PollStatus.
	eventBuffer = 10_000

	// balanceCurrency is ISO 4217's code for "no currency involved": the echo counts credits,
	// not money. A real provider reports its account's currency.
	balanceCurrency = "XXX"
)

// echo is the provider. It sends nothing anywhere: every accepted message is "sent" at once,
// "delivered" through the event stream, and, with config.reply, answered by its recipient.
type echo struct {
	log hclog.Logger
	// now is the clock; tests may replace it.
	now func() time.Time
	// events carries status updates and replies from Send to the Events stream.
	events chan sdk.Event

	mu      sync.Mutex // guards cfg and credits: Send, Configure and Balance run concurrently
	cfg     config
	credits int64 // left to spend; starts at cfg.credits at each Configure
}

// The optional capabilities are separate interfaces: asserting them here makes the compiler
// check the method sets, and Info below must tell the same story.
var (
	_ sdk.Provider        = (*echo)(nil)
	_ sdk.StatusPoller    = (*echo)(nil)
	_ sdk.BalanceReporter = (*echo)(nil)
	_ sdk.EventSource     = (*echo)(nil)
)

func newEcho(log hclog.Logger) *echo {
	cfg := defaultConfig()
	return &echo{log: log, now: time.Now, events: make(chan sdk.Event, eventBuffer), cfg: cfg, credits: cfg.credits}
}

// Info must not depend on Configure having run: the gateway asks it first, to check the
// protocol version, and again after Configure, when max_batch may have changed.
func (e *echo) Info(context.Context) (sdk.Info, error) {
	e.mu.Lock()
	maxBatch, limited := e.cfg.maxBatch, e.cfg.limited
	e.mu.Unlock()
	return sdk.Info{
		Name:    name,
		Version: version,
		// Always the SDK's constant: the gateway refuses any other value, and a plugin built
		// against an SDK with another protocol fails the go-plugin handshake before this.
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: sdk.Capabilities{
			MaxBatch:    maxBatch,
			StatusPoll:  true,    // PollStatus
			Balance:     limited, // Balance: only when config.credits sets an account to count
			Inbound:     true,    // the replies, through the event stream (no webhooks)
			EventStream: true,    // Events
		},
	}, nil
}

// Configure is called once after each (re)start, before any Send.
func (e *echo) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return err // a *sdk.ConfigError: the gateway names the key at start-up
	}
	e.mu.Lock()
	e.cfg, e.credits = cfg, cfg.credits
	e.mu.Unlock()
	// Logs go to stderr as JSON, and the gateway logs them under plugin.<name>. Never write
	// to stdout: go-plugin owns it. Never log secrets from the config.
	e.log.Debug("configured", "provider", req.Name, "credits", cfg.credits, "reply", cfg.reply, "max_batch", cfg.maxBatch)
	return nil
}

// Send returns exactly one result per message, in order. A failure of the whole call would
// be a returned *sdk.Error; a failure of one message goes in its SendResult.Err. Both carry
// a class, which is what the gateway acts on (see sdk.ErrorClass).
func (e *echo) Send(_ context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(msgs) > e.cfg.maxBatch {
		// The gateway never does this (it batches up to Info's MaxBatch): permanent.
		return nil, sdk.Errorf(sdk.ClassInvalid, "batch of %d messages exceeds max_batch %d", len(msgs), e.cfg.maxBatch)
	}
	now := e.now().UTC()
	results := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		switch {
		case m.To == "":
			results[i].Err = sdk.Errorf(sdk.ClassInvalid, "no recipient")
		case e.cfg.limited && e.credits == 0:
			// ClassCredit: retrying this provider cannot help until someone tops the account
			// up, so the gateway fails the message over to the route's next provider at
			// once, or fails it when there is none.
			results[i].Err = &sdk.Error{Class: sdk.ClassCredit, Code: "no_credit",
				Message: fmt.Sprintf("out of credits (config.credits = %d)", e.cfg.credits)}
		default:
			if e.cfg.limited {
				e.credits--
			}
			id := newID(idPrefix)
			results[i] = sdk.SendResult{ProviderMessageID: id, Status: sdk.StatusSent}
			e.emitLater(deliveryEvents(e.cfg, m, id, now)...)
		}
	}
	return results, nil
}

// deliveryEvents is what a real provider would report later through its callbacks: the
// delivery report and, with config.reply, the recipient's answer (from the recipient, to
// the sender). MessageID echoes the gateway's id, which helps it match the report.
func deliveryEvents(cfg config, m sdk.OutboundMessage, providerID string, at time.Time) []sdk.Event {
	events := []sdk.Event{{Status: &sdk.StatusUpdate{
		MessageID: m.ID, ProviderMessageID: providerID, Status: sdk.StatusDelivered, At: at,
	}}}
	if cfg.reply {
		// The default prefix also keeps an echoed "STOP" from reading as an opt-out.
		events = append(events, sdk.Event{Inbound: &sdk.InboundMessage{
			ProviderMessageID: newID(inboundIDPrefix), From: m.To, To: m.From, Text: cfg.replyPrefix + m.Text, At: at,
		}})
	}
	return events
}

// emitLater queues events for the Events stream without ever blocking Send.
func (e *echo) emitLater(events ...sdk.Event) {
	for _, ev := range events {
		select {
		case e.events <- ev:
		default:
			e.log.Warn("event buffer full, dropping an event; the gateway can still poll its status", "limit", eventBuffer)
		}
	}
}

// Events streams the queued events until ctx ends (the gateway unsubscribes or stops) or
// emit fails (the stream broke). The gateway keeps one subscription and re-subscribes after
// a restart, so the queue is what carries events across the gap.
func (e *echo) Events(ctx context.Context, emit func(sdk.Event) error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-e.events:
			if err := emit(ev); err != nil {
				// Put it back for the next subscriber. The gateway may then see it twice,
				// which it tolerates (statuses only move forward, inbound ids are deduped);
				// losing it would not be tolerated.
				e.emitLater(ev)
				return fmt.Errorf("emit event: %w", err)
			}
		}
	}
}

// PollStatus answers for the ids it knows and leaves the others out. The echo delivers every
// message it accepts at once, so an id of its own form is all it needs: it even answers for
// messages sent before a restart. A real provider asks its API here.
func (e *echo) PollStatus(_ context.Context, providerMessageIDs []string) ([]sdk.StatusUpdate, error) {
	now := e.now().UTC()
	var out []sdk.StatusUpdate
	for _, id := range providerMessageIDs {
		if !isOutboundID(id) {
			continue
		}
		out = append(out, sdk.StatusUpdate{ProviderMessageID: id, Status: sdk.StatusDelivered, At: now})
	}
	return out, nil
}

// Balance reports the credits left. They live in the process, so a restart refills them to
// config.credits; a real provider asks its API.
func (e *echo) Balance(context.Context) (sdk.Balance, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.cfg.limited {
		// Info says so too: the gateway answers 501 for the balance of this provider.
		return sdk.Balance{}, fmt.Errorf("echo without config.credits: %w", sdk.ErrUnimplemented)
	}
	return sdk.Balance{Amount: strconv.FormatInt(e.credits, 10), Currency: balanceCurrency}, nil
}

// newID returns prefix + 16 random hex digits.
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it aborts the program instead)
	return prefix + hex.EncodeToString(b[:])
}

func isOutboundID(id string) bool {
	rest, ok := strings.CutPrefix(id, idPrefix)
	if !ok || len(rest) != 16 {
		return false // also excludes the "echo-in-" reply ids
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}
