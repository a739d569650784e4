// Package sdk is the only package tree a provider plugin author imports. A plugin is a
// `package main` binary whose main is `sdk.Serve(newProvider)`; it speaks gRPC to the smsgw
// host through HashiCorp go-plugin. Generated protobuf types never leave this package: plugin
// authors and the host both work with the plain Go types below.
package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// ProtocolVersion is the plugin protocol version this SDK speaks. The host refuses plugins
// that negotiate a version it does not support.
const ProtocolVersion = 1

// Message statuses a provider may report. They are the subset of the gateway's outbound
// statuses that a provider can know about.
const (
	StatusQueued      = "queued" // accepted by the provider, not yet handed to the network
	StatusSent        = "sent"
	StatusDelivered   = "delivered"
	StatusUndelivered = "undelivered"
	StatusFailed      = "failed"
)

// Provider is what every plugin implements. The optional capabilities are separate
// interfaces (StatusPoller, BalanceReporter, WebhookHandler, EventSource); the SDK answers
// codes.Unimplemented for the ones a provider does not implement.
type Provider interface {
	// Info describes the plugin. It is called before Configure and must not need config.
	Info(ctx context.Context) (Info, error)
	// Configure validates and applies the provider block's config. Field problems are
	// reported as *ConfigError so the host can name the field at start-up.
	Configure(ctx context.Context, req ConfigureRequest) error
	// Send hands a batch (at most Info.Capabilities.MaxBatch messages) to the provider and
	// returns exactly one result per message, in the same order. A returned error means the
	// whole call failed (classify it with *Error); per-message failures go in SendResult.Err.
	// Send must be idempotent per OutboundMessage.ID where the provider API allows it: the host
	// retries ambiguous failures with the same ids.
	Send(ctx context.Context, msgs []OutboundMessage) ([]SendResult, error)
}

// WebhookHandler parses (and verifies) an HTTP request the provider sent to
// /webhooks/{provider}/{path...}. The host answers with WebhookResponse only after the parsed
// inbound messages and status updates are committed.
type WebhookHandler interface {
	HandleWebhook(ctx context.Context, req WebhookRequest) (WebhookResponse, error)
}

// StatusPoller asks the provider for the current status of messages it accepted.
// Unknown ids are left out of the answer.
type StatusPoller interface {
	PollStatus(ctx context.Context, providerMessageIDs []string) ([]StatusUpdate, error)
}

// BalanceReporter reports the account balance at the provider.
type BalanceReporter interface {
	Balance(ctx context.Context) (Balance, error)
}

// EventSource streams status updates and inbound messages the plugin learns about on its own
// (delivery reports it polls for, loopback deliveries ...). Events blocks, calling emit for
// each event, until ctx is done or emit fails; the host re-subscribes after a restart. A
// plugin should buffer events while no subscriber is connected.
type EventSource interface {
	Events(ctx context.Context, emit func(Event) error) error
}

// Info describes a plugin.
type Info struct {
	Name            string
	Version         string
	ProtocolVersion int
	Capabilities    Capabilities
}

// Capabilities tell the host what a plugin can do.
type Capabilities struct {
	MaxBatch    int // largest batch Send accepts; 0 or 1 means one message per call
	StatusPoll  bool
	Balance     bool
	Inbound     bool
	EventStream bool
}

// ConfigureRequest carries the provider block of the host's config.
type ConfigureRequest struct {
	// Name is the provider's name in the host config (the {provider} of its webhook URLs).
	Name string
	// PublicURL is the host's externally visible base URL, e.g. "https://sms.example.com".
	// Webhook URLs are PublicURL + "/webhooks/" + Name + "/...".
	PublicURL string
	// Config is the provider block's `config` object as JSON.
	Config json.RawMessage
}

// OutboundMessage is one message to send. ID is the gateway's message id: stable across
// retries, so a provider API with client ids can dedupe on it.
type OutboundMessage struct {
	ID   string
	From string
	To   string
	Text string
	Tags map[string]string
}

// SendResult is the outcome of one message of a batch.
type SendResult struct {
	ProviderMessageID string
	Status            string // initial status, usually StatusQueued or StatusSent
	Err               *Error // nil when the provider accepted the message
}

// StatusUpdate is a delivery status reported by the provider.
type StatusUpdate struct {
	// MessageID is the gateway's message id when the provider echoes it (optional).
	MessageID         string
	ProviderMessageID string
	Status            string
	ErrorCode         string
	ErrorMessage      string
	// OptOut is set when the provider reports that the recipient unsubscribed
	// (e.g. Twilio error 21610); the host records an opt-out for the pair.
	OptOut bool
	At     time.Time
}

// InboundMessage is an SMS the provider received for one of our numbers.
type InboundMessage struct {
	ProviderMessageID string
	From              string
	To                string
	Text              string
	At                time.Time
}

// Event is one item of the Events stream: exactly one of Status and Inbound is set.
type Event struct {
	Status  *StatusUpdate
	Inbound *InboundMessage
}

// WebhookRequest is the raw HTTP request a provider sent to the host.
type WebhookRequest struct {
	Method string
	// URL is the full public URL the provider called (public_url + path + query), as needed
	// for signature checks.
	URL string
	// Path is the part after /webhooks/{provider}, starting with "/" (e.g. "/status").
	Path    string
	Headers map[string][]string
	Body    []byte
}

// WebhookResponse is the HTTP answer to return to the provider plus what the request said.
type WebhookResponse struct {
	StatusCode int
	Headers    map[string][]string
	Body       []byte
	Inbound    []InboundMessage
	Statuses   []StatusUpdate
}

// Balance is the provider account balance.
type Balance struct {
	Amount   string // decimal string, e.g. "12.50"
	Currency string // ISO 4217
}
