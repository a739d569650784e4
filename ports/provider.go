package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/core/message"
)

// ErrorClass classifies a provider failure (the classes of the plugin protocol).
type ErrorClass string

const (
	ClassInvalid     ErrorClass = "invalid"      // permanent
	ClassRejected    ErrorClass = "rejected"     // permanent
	ClassUnavailable ErrorClass = "unavailable"  // transient, definitely not sent
	ClassAmbiguous   ErrorClass = "ambiguous"    // transient, may have been sent
	ClassRateLimited ErrorClass = "rate_limited" // transient, not sent
	ClassAuth        ErrorClass = "auth"         // permanent for now
	ClassCredit      ErrorClass = "credit"       // permanent for now
)

// Transient reports whether retrying the same message may succeed.
func (c ErrorClass) Transient() bool {
	return c == ClassUnavailable || c == ClassAmbiguous || c == ClassRateLimited
}

// DefinitelyNotSent reports whether the provider certainly did not send the message.
func (c ErrorClass) DefinitelyNotSent() bool { return c != ClassAmbiguous }

// ProviderError is a classified failure of a provider call.
type ProviderError struct {
	Provider   string
	Class      ErrorClass
	Code       string // the provider's own code, if any
	Message    string
	RetryAfter time.Duration
	// OptOut: the provider refused the message because the recipient unsubscribed from the
	// sender (e.g. Twilio error 21610); the core records an opt-out for the pair.
	OptOut bool
}

func (e *ProviderError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("provider %s: %s (%s): %s", e.Provider, e.Class, e.Code, e.Message)
	}
	return fmt.Sprintf("provider %s: %s: %s", e.Provider, e.Class, e.Message)
}

// SendResult is a provider's acceptance of one message.
type SendResult struct {
	ProviderMessageID string
	Status            message.Status // usually queued or sent
}

// StatusReport is a delivery status a provider reported.
type StatusReport struct {
	MessageID         string // the gateway's id, when the provider echoes it
	ProviderMessageID string
	Status            message.Status
	ErrorCode         string
	ErrorMessage      string
	OptOut            bool // the provider says the recipient unsubscribed
	At                time.Time
}

// InboundReport is an SMS a provider received.
type InboundReport struct {
	ProviderMessageID string
	From              string
	To                string
	Text              string
	At                time.Time
}

// ProviderEvent is one item a provider pushed: exactly one field is set.
type ProviderEvent struct {
	Status  *StatusReport
	Inbound *InboundReport
}

// WebhookRequest is a raw provider webhook request.
type WebhookRequest struct {
	Method  string
	URL     string // full public URL (public_url + path + query)
	Path    string // after /webhooks/{provider}, starting with "/"
	Headers map[string][]string
	Body    []byte
}

// WebhookResult is the plugin's answer to a webhook plus what it parsed.
type WebhookResult struct {
	StatusCode int
	Headers    map[string][]string
	Body       []byte
	Inbound    []InboundReport
	Statuses   []StatusReport
}

// ProviderCapabilities are what a provider plugin can do.
type ProviderCapabilities struct {
	MaxBatch   int  `json:"max_batch"`
	StatusPoll bool `json:"status_poll"`
	Balance    bool `json:"balance"`
	Inbound    bool `json:"inbound"`
}

// ProviderStats count a provider's traffic since start-up.
type ProviderStats struct {
	BatchesSent    int64
	BatchesFailed  int64
	MessagesSent   int64
	MessagesFailed int64
}

// ProviderInfo is the state of one configured provider.
type ProviderInfo struct {
	Name         string
	Plugin       string
	Version      string
	Healthy      bool
	Restarts     int
	Breaker      string // "closed", "open", "half_open"
	Capabilities ProviderCapabilities
	Stats        ProviderStats
}

// Balance is a provider account balance.
type Balance struct {
	Amount   string
	Currency string
}

// Providers reaches the configured provider plugins by name. Unknown names yield ErrNotFound;
// optional capabilities a plugin lacks yield ErrNotImplemented.
type Providers interface {
	// Send hands one message to the provider; the adapter may batch it with concurrent sends.
	// A failure is a *ProviderError (a plugin that is down answers ClassUnavailable; a call
	// cut off mid-way answers ClassAmbiguous).
	Send(ctx context.Context, provider string, m message.Message) (SendResult, error)
	// PollStatus asks for the current status of provider message ids; unknown ids are omitted.
	PollStatus(ctx context.Context, provider string, providerMessageIDs []string) ([]StatusReport, error)
	// HandleWebhook passes a raw webhook to the provider's plugin to verify and parse.
	HandleWebhook(ctx context.Context, provider string, req WebhookRequest) (WebhookResult, error)
	// Balance reports the provider account balance.
	Balance(ctx context.Context, provider string) (Balance, error)
	// List describes every configured provider, in config order.
	List(ctx context.Context) []ProviderInfo
	// Healthy reports whether the provider's plugin is up.
	Healthy(provider string) bool
}

// ProviderEventHandler receives what plugins push on their own. The plugin host hands it
// the events of a plugin's event stream in bursts, in the order the plugin sent them per
// message; it returns one error per event, and the host retries the failed ones (so an
// event is never dropped by a blip). The host calls ProviderRestarted at start-up and after
// it relaunched a plugin, so the core can reconcile what a dead process (of this gateway or
// of a previous one) may have left unreported.
type ProviderEventHandler interface {
	HandleProviderEvents(ctx context.Context, provider string, evs []ProviderEvent) []error
	ProviderRestarted(ctx context.Context, provider string) error
}
