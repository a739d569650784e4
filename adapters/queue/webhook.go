package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/smsgw/smsgw/ports"
	"github.com/smsgw/smsgw/webhook"
)

// Delivery of application events to the webhook blocks (API.md §6): one River job per
// (webhook, event), inserted in the transaction of the change, on a queue of its own so that
// a slow receiver never holds up a send. The job holds the body as rendered at the change;
// the secret stays in the config and the signature is made at each delivery (its timestamp
// is the delivery's, so receivers can reject replays).

const (
	webhookKind = "smsgw.webhook"
	// WebhookQueue is the River queue of webhook deliveries.
	WebhookQueue          = "webhooks"
	defaultWebhookWorkers = 4

	// deliveryTimeout bounds one delivery: connect, send, and the answer's headers.
	deliveryTimeout = 10 * time.Second
	// retryFor is how long a delivery is retried after the event (API.md §6: 24 h).
	retryFor = 24 * time.Hour
	// webhookMaxAttempts only needs to exceed the attempts retryFor allows (about 150 at the
	// 10-minute cap): the 24 h rule ends a delivery, not River's attempt count.
	webhookMaxAttempts = 1000
	// maxAnswer is how much of a receiver's answer is read (and discarded), so a keep-alive
	// connection can be reused without a big body tying the worker up.
	maxAnswer = 4 << 10

	eventTimeLayout = "2006-01-02T15:04:05.000Z" // API.md §0: RFC 3339 UTC with milliseconds
)

// Webhook is a webhook block: where its events go and the secret they are signed with.
type Webhook struct {
	Name   string
	URL    string
	Events []string // event types it subscribes to (ports.EventMessageReceived, ...)
	Secret []byte
}

// webhookArgs are the JSON args of a delivery job. Never the secret.
type webhookArgs struct {
	Webhook string `json:"webhook"`
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	// Body is the request body, a JSON string rather than an embedded object so it is sent
	// byte for byte as rendered (a jsonb column reorders keys): every retry of an event
	// carries the same body.
	Body string `json:"body"`
}

func (webhookArgs) Kind() string { return webhookKind }

// eventBody is the body of a delivery (API.md §6).
type eventBody struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt string `json:"created_at"`
	Data      any    `json:"data"`
}

// EnqueueEvents inserts one delivery job per webhook subscribed to each event's type, in tx
// (one InsertManyTx), so the deliveries exist if and only if tx commits. The body is
// rendered now, from the event's snapshot of the message.
func (q *Queue) EnqueueEvents(ctx context.Context, tx ports.Tx, evs ...ports.AppEvent) error {
	var params []river.InsertManyParams
	for _, ev := range evs {
		var body []byte
		for _, h := range q.webhooks {
			if !slices.Contains(h.Events, ev.Type) {
				continue
			}
			if body == nil {
				var err error
				if body, err = q.renderEvent(ev); err != nil {
					return err
				}
			}
			params = append(params, river.InsertManyParams{
				Args:       webhookArgs{Webhook: h.Name, EventID: ev.ID, Type: ev.Type, Body: string(body)},
				InsertOpts: &river.InsertOpts{Queue: WebhookQueue, MaxAttempts: webhookMaxAttempts},
			})
		}
	}
	if len(params) == 0 {
		return nil
	}
	stx, ok := ports.SQLTxOf(tx)
	if !ok {
		return fmt.Errorf("enqueue %d webhook deliveries: transaction %T does not implement ports.SQLTx", len(params), tx)
	}
	if _, err := q.client.InsertManyTx(ctx, stx, params); err != nil {
		return fmt.Errorf("enqueue %d webhook deliveries: %w: %w", len(params), ports.ErrUnavailable, err)
	}
	return nil
}

func (q *Queue) renderEvent(ev ports.AppEvent) ([]byte, error) {
	body, err := json.Marshal(eventBody{
		ID: ev.ID, Type: ev.Type, CreatedAt: ev.CreatedAt.UTC().Format(eventTimeLayout), Data: q.render(ev.Message),
	})
	if err != nil {
		return nil, fmt.Errorf("render event %s of message %s: %w", ev.ID, ev.Message.ID, err)
	}
	return body, nil
}

// webhookWorker delivers events.
type webhookWorker struct {
	river.WorkerDefaults[webhookArgs]
	hooks     map[string]Webhook
	client    *http.Client
	userAgent string
	log       hclog.Logger
	// deliveries counts attempts by webhook and outcome: delivered, failed (retried later),
	// abandoned (after 24 h, or the webhook block is gone).
	deliveries *prometheus.CounterVec
}

// Outcomes of smsgw_webhook_deliveries_total.
const (
	outcomeDelivered = "delivered"
	outcomeFailed    = "failed"
	outcomeAbandoned = "abandoned"
)

func newWebhookWorker(hooks []Webhook, userAgent string, log hclog.Logger, reg prometheus.Registerer) (*webhookWorker, error) {
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smsgw_webhook_deliveries_total",
		Help: "Event webhook delivery attempts, by webhook block and outcome (delivered; failed: retried later; abandoned: after 24h or with the block gone).",
	}, []string{"webhook", "outcome"})
	if reg != nil {
		if err := reg.Register(deliveries); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("register webhook metrics: %w", err)
			}
			deliveries = are.ExistingCollector.(*prometheus.CounterVec) // a queue restarted in one process
		}
	}
	w := &webhookWorker{
		deliveries: deliveries,
		hooks:      make(map[string]Webhook, len(hooks)), userAgent: userAgent, log: log,
		client: &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   deliveryTimeout,
			// A redirect is an answer, not a 2xx: the receiver's URL is the config's to fix,
			// and the signed body must not be posted somewhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	for _, h := range hooks {
		w.hooks[h.Name] = h
	}
	return w, nil
}

// Timeout leaves the delivery's own timeout room to report.
func (w *webhookWorker) Timeout(*river.Job[webhookArgs]) time.Duration {
	return deliveryTimeout + 5*time.Second
}

// Work makes one delivery. Any 2xx finishes the job; any other answer or a failure is
// retried (NextRetry) until the next try would come more than retryFor after the event,
// when the job is cancelled. A job for a webhook block no longer configured is cancelled.
func (w *webhookWorker) Work(ctx context.Context, job *river.Job[webhookArgs]) error {
	a := job.Args
	log := w.log.With("webhook", a.Webhook, "event_id", a.EventID, "event_type", a.Type, "attempt", job.Attempt)
	h, ok := w.hooks[a.Webhook]
	if !ok {
		log.Warn("webhook delivery dropped: no such webhook block in the config")
		w.deliveries.WithLabelValues(a.Webhook, outcomeAbandoned).Inc()
		return river.JobCancel(fmt.Errorf("deliver event %s: webhook %q is not configured", a.EventID, a.Webhook))
	}
	code, err := w.deliver(ctx, h, a)
	if err == nil {
		log.Debug("webhook delivered", "status_code", code)
		w.deliveries.WithLabelValues(a.Webhook, outcomeDelivered).Inc()
		return nil
	}
	err = fmt.Errorf("deliver event %s to webhook %s: %w", a.EventID, a.Webhook, err)
	if time.Now().Add(backoffCap(time.Second, job.Attempt)).After(job.CreatedAt.Add(retryFor)) {
		log.Error("webhook delivery abandoned: retried for 24h", "status_code", code, "error", err)
		w.deliveries.WithLabelValues(a.Webhook, outcomeAbandoned).Inc()
		return river.JobCancel(err)
	}
	log.Warn("webhook delivery failed; will retry", "status_code", code, "error", err)
	w.deliveries.WithLabelValues(a.Webhook, outcomeFailed).Inc()
	return err
}

// NextRetry is about 1s, 2s, 4s ... after the attempt, doubling up to 10 minutes, with
// jitter (see backoff).
func (w *webhookWorker) NextRetry(job *river.Job[webhookArgs]) time.Time {
	return time.Now().Add(backoff(time.Second, job.Attempt))
}

var errNot2xx = errors.New("receiver did not answer 2xx")

// deliver posts the event, signed now, and returns the receiver's status code (0 when none
// came).
func (w *webhookWorker) deliver(ctx context.Context, h Webhook, a webhookArgs) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	body := []byte(a.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.userAgent)
	req.Header.Set("Smsgw-Event-Id", a.EventID)
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(h.Secret, time.Now(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		// The cause without the *url.Error around it: the URL may carry a token in its
		// query, and errors end up in logs and in River's job row.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%w: %d", errNot2xx, resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// close releases the worker's idle connections.
func (w *webhookWorker) close() { w.client.CloseIdleConnections() }
