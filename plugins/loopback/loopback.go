package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

const (
	name     = "loopback"
	version  = "0.1.0"
	maxBatch = 100
	// eventBufferSize bounds the events kept while the host is not subscribed: large enough
	// for a long restart under load, small enough to stay a few tens of MB.
	eventBufferSize = 100_000

	// outboundIDPrefix starts every provider message id the loopback hands out. The id
	// carries the send time, which is what lets PollStatus answer without any state.
	outboundIDPrefix = "lb-"
	// inboundIDPrefix starts the ids of simulated inbound messages (distinct from outbound
	// ids, which PollStatus understands).
	inboundIDPrefix = "lbi-"
)

// loopback is the provider. It keeps no per-message state: statuses are derived from the id.
type loopback struct {
	log    hclog.Logger
	clock  clock
	events *eventQueue

	mu      sync.Mutex // guards cfg and traffic, and serialises traffic file writes
	cfg     config
	traffic *os.File // nil when config.traffic_file is unset
}

var (
	_ sdk.Provider       = (*loopback)(nil)
	_ sdk.StatusPoller   = (*loopback)(nil)
	_ sdk.EventSource    = (*loopback)(nil)
	_ sdk.WebhookHandler = (*loopback)(nil)
)

func newLoopback(log hclog.Logger, clk clock) *loopback {
	cfg, _ := parseConfig(nil) // the defaults; an empty config cannot fail
	return &loopback{log: log, clock: clk, events: newEventQueue(eventBufferSize), cfg: cfg}
}

func (l *loopback) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:            name,
		Version:         version,
		ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: sdk.Capabilities{
			MaxBatch:    maxBatch,
			StatusPoll:  true,
			Inbound:     true,
			EventStream: true,
		},
	}, nil
}

func (l *loopback) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return err
	}
	var traffic *os.File
	if cfg.trafficFile != "" {
		// O_APPEND, and one write per batch: lines from concurrent batches, and from other
		// loopback processes sharing the file (replicas), never interleave.
		traffic, err = os.OpenFile(cfg.trafficFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return &sdk.ConfigError{Field: "traffic_file", Message: err.Error()}
		}
	}
	l.mu.Lock()
	old := l.traffic
	l.cfg, l.traffic = cfg, traffic
	l.mu.Unlock()
	if old != nil {
		if err := old.Close(); err != nil {
			l.log.Warn("close previous traffic file", "error", err)
		}
	}
	l.log.Debug("configured", "delivery_delay", cfg.deliveryDelay, "fail_numbers", len(cfg.failNumbers),
		"subscribers", len(cfg.subscribers), "traffic_file", cfg.trafficFile)
	return nil
}

// trafficLine is one line of config.traffic_file (API.md §9); tests count sends from it.
type trafficLine struct {
	ID                string    `json:"id"`
	ProviderMessageID string    `json:"provider_message_id"`
	From              string    `json:"from"`
	To                string    `json:"to"`
	Text              string    `json:"text"`
	At                time.Time `json:"at"`
}

func (l *loopback) Send(_ context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	if len(msgs) > maxBatch {
		return nil, sdk.Errorf(sdk.ClassInvalid, "batch of %d messages exceeds max_batch %d", len(msgs), maxBatch)
	}
	if len(msgs) == 0 {
		return []sdk.SendResult{}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cfg := l.cfg
	now := l.clock.Now().UTC()

	results := make([]sdk.SendResult, len(msgs))
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	var delivered []sdk.Event
	for i, m := range msgs {
		switch pattern, fail := cfg.failPattern(m.To); {
		case m.To == "":
			results[i].Err = sdk.Errorf(sdk.ClassInvalid, "no recipient")
		case fail:
			results[i].Err = &sdk.Error{
				Class:   sdk.ClassRejected,
				Code:    "fail_numbers",
				Message: fmt.Sprintf("%s matches fail_numbers entry %q", m.To, pattern),
			}
		default:
			id := newID(outboundIDPrefix, now)
			results[i] = sdk.SendResult{ProviderMessageID: id, Status: sdk.StatusSent}
			delivered = append(delivered, deliveryEvents(cfg, m, id, now.Add(cfg.deliveryDelay))...)
		}
		if l.traffic != nil {
			// Encoding a struct of strings and a time cannot fail.
			_ = enc.Encode(trafficLine{
				ID: m.ID, ProviderMessageID: results[i].ProviderMessageID, From: m.From, To: m.To, Text: m.Text, At: now,
			})
		}
	}
	if l.traffic != nil {
		// A plain write reaches the kernel at once, so the lines survive the plugin being
		// killed; they are not fsynced, as nothing needs them to survive the machine.
		if n, err := l.traffic.Write(lines.Bytes()); err != nil {
			class := sdk.ClassUnavailable
			if n > 0 {
				class = sdk.ClassAmbiguous // part of the batch is on record
			}
			return nil, &sdk.Error{Class: class, Message: fmt.Sprintf("write traffic file %s: %v", cfg.trafficFile, err)}
		}
	}
	l.schedule(cfg.deliveryDelay, delivered)
	l.log.Debug("sent batch", "messages", len(msgs), "accepted", len(delivered))
	return results, nil
}

// deliveryEvents are what happens once a message is delivered: its status update, then the
// subscriber's reply if the recipient is a subscriber.
func deliveryEvents(cfg config, m sdk.OutboundMessage, providerID string, at time.Time) []sdk.Event {
	events := []sdk.Event{{Status: &sdk.StatusUpdate{
		MessageID:         m.ID,
		ProviderMessageID: providerID,
		Status:            sdk.StatusDelivered,
		At:                at,
	}}}
	if reply, ok := cfg.subscribers[m.To]; ok {
		events = append(events, sdk.Event{Inbound: &sdk.InboundMessage{
			ProviderMessageID: newID(inboundIDPrefix, at),
			From:              m.To,
			To:                m.From,
			Text:              reply,
			At:                at,
		}})
	}
	return events
}

// schedule queues events after delay; one timer per batch, since they share the due time.
func (l *loopback) schedule(delay time.Duration, events []sdk.Event) {
	if len(events) == 0 {
		return
	}
	if delay <= 0 {
		l.enqueue(events)
		return
	}
	l.clock.AfterFunc(delay, func() { l.enqueue(events) })
}

func (l *loopback) enqueue(events []sdk.Event) {
	if dropped := l.events.push(events...); dropped > 0 {
		l.log.Warn("event buffer full, dropped the oldest events; the host can still poll statuses",
			"dropped", dropped, "limit", eventBufferSize)
	}
}

// Events streams deliveries and subscriber replies; see eventQueue for several subscribers.
func (l *loopback) Events(ctx context.Context, emit func(sdk.Event) error) error {
	for {
		e, err := l.events.pop(ctx)
		if err != nil {
			return err
		}
		if err := emit(e); err != nil {
			l.events.unpop(e)
			return fmt.Errorf("emit event: %w", err)
		}
	}
}

// PollStatus answers from the ids alone, so it also knows messages sent before a restart:
// an id is delivered once its send time plus the current delivery_delay has passed.
func (l *loopback) PollStatus(_ context.Context, providerMessageIDs []string) ([]sdk.StatusUpdate, error) {
	l.mu.Lock()
	delay := l.cfg.deliveryDelay
	l.mu.Unlock()
	now := l.clock.Now()

	var out []sdk.StatusUpdate
	for _, id := range providerMessageIDs {
		sentAt, ok := parseOutboundID(id)
		if !ok {
			continue // not ours: unknown ids are left out
		}
		u := sdk.StatusUpdate{ProviderMessageID: id, Status: sdk.StatusSent, At: sentAt}
		if due := sentAt.Add(delay); !now.Before(due) {
			u.Status, u.At = sdk.StatusDelivered, due
		}
		out = append(out, u)
	}
	return out, nil
}

// newID returns prefix + "<unix millis>-<16 hex digits>".
func newID(prefix string, at time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it aborts the program instead)
	return prefix + strconv.FormatInt(at.UnixMilli(), 10) + "-" + hex.EncodeToString(b[:])
}

// parseOutboundID returns the send time an outbound id carries.
func parseOutboundID(id string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(id, outboundIDPrefix)
	if !ok {
		return time.Time{}, false
	}
	millis, random, ok := strings.Cut(rest, "-")
	if !ok || random == "" {
		return time.Time{}, false
	}
	if _, err := hex.DecodeString(random); err != nil {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(millis, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}
