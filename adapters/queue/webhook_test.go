package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
	"github.com/smsgw/smsgw/webhook"
)

// delivery is one request a test receiver got.
type delivery struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is an httptest server that records every request and answers with the codes of
// answers in turn (the last one repeating; 200 when empty).
type receiver struct {
	srv        *httptest.Server
	mu         sync.Mutex
	answers    []int
	deliveries []delivery
	got        chan delivery
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{answers: answers, got: make(chan delivery, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{path: req.URL.Path, header: req.Header.Clone(), body: body}
		r.mu.Lock()
		r.deliveries = append(r.deliveries, d)
		code := http.StatusOK
		if len(r.answers) > 0 {
			code = r.answers[0]
			if len(r.answers) > 1 {
				r.answers = r.answers[1:]
			}
		}
		r.mu.Unlock()
		w.WriteHeader(code)
		_, _ = w.Write([]byte("a body the worker reads a little of and discards"))
		r.got <- d
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-r.got:
		return d
	case <-time.After(waitFor):
		t.Fatal("no delivery in time")
		return delivery{}
	}
}

// noDispatcher fails any send job: the webhook tests enqueue none.
type noDispatcher struct{ t testing.TB }

func (d noDispatcher) Dispatch(context.Context, ports.DispatchAttempt) error {
	d.t.Errorf("unexpected send job")
	return nil
}

// renderTest renders a message as the v1 API would, in miniature.
func renderTest(m message.Message) any {
	return map[string]any{"id": m.ID, "status": string(m.Status), "text": m.Text}
}

// newWebhookQueue starts a queue on a fresh database of b that delivers to hooks.
func newWebhookQueue(t *testing.T, b backend, hooks ...Webhook) (*Queue, *sql.DB, *syncBuffer) {
	t.Helper()
	db := b.open(t)
	errLog := &syncBuffer{}
	q, err := b.new(db, Options{
		Logger:        hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: errLog}),
		Dispatcher:    noDispatcher{t},
		Webhooks:      hooks,
		RenderMessage: renderTest,
		UserAgent:     "smsgw/test",
	})
	if err != nil {
		t.Fatalf("new queue: %v", err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return q, db, errLog
}

func enqueueEvents(t *testing.T, q *Queue, db *sql.DB, commit bool, evs ...ports.AppEvent) {
	t.Helper()
	errRollback := errors.New("roll back")
	err := inTx(t.Context(), db, func(tx ports.Tx) error {
		if err := q.EnqueueEvents(t.Context(), tx, evs...); err != nil {
			return err
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if commit && err != nil || !commit && !errors.Is(err, errRollback) {
		t.Fatalf("enqueue events (commit=%v): %v", commit, err)
	}
}

// webhookJobs counts the delivery jobs by state.
func webhookJobs(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT state FROM river_job WHERE kind = $1", webhookKind)
	if err != nil {
		t.Fatalf("query river_job: %v", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out[s]++
	}
	return out
}

func testEvent(id, typ string, status message.Status) ports.AppEvent {
	return ports.AppEvent{ID: id, Type: typ, CreatedAt: time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC),
		Message: message.Message{ID: "m-" + id, Status: status, Text: "secret text"}}
}

// checkDelivery checks what every delivery carries: the headers and a signature the
// receivers' package accepts.
func checkDelivery(t *testing.T, d delivery, secret []byte) eventBody {
	t.Helper()
	if err := webhook.Verify(secret, d.header.Get(webhook.SignatureHeader), d.body, time.Now(), time.Minute); err != nil {
		t.Errorf("signature of %s: %v", d.body, err)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := d.header.Get("User-Agent"); ua != "smsgw/test" {
		t.Errorf("User-Agent %q", ua)
	}
	var b eventBody
	if err := json.Unmarshal(d.body, &b); err != nil {
		t.Fatalf("body %s: %v", d.body, err)
	}
	if id := d.header.Get("Smsgw-Event-Id"); id != b.ID {
		t.Errorf("Smsgw-Event-Id %q, body id %q", id, b.ID)
	}
	return b
}

func TestWebhookDelivery(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			all, status := newReceiver(t), newReceiver(t)
			q, db, errLog := newWebhookQueue(t, b,
				Webhook{Name: "all", URL: all.srv.URL + "/all", Events: []string{ports.EventMessageReceived, ports.EventMessageStatus}, Secret: []byte("s-all")},
				Webhook{Name: "status", URL: status.srv.URL + "/status", Events: []string{ports.EventMessageStatus}, Secret: []byte("s-status")},
			)
			enqueueEvents(t, q, db, false, testEvent("evt_rolled_back", ports.EventMessageStatus, message.StatusSent))
			enqueueEvents(t, q, db, true,
				testEvent("evt_1", ports.EventMessageReceived, message.StatusReceived),
				testEvent("evt_2", ports.EventMessageStatus, message.StatusDelivered))

			got := map[string]eventBody{}
			for range 2 {
				d := all.next(t)
				got[d.path+" "+checkDelivery(t, d, []byte("s-all")).ID] = eventBody{}
			}
			d := status.next(t)
			b2 := checkDelivery(t, d, []byte("s-status"))
			got[d.path+" "+b2.ID] = eventBody{}
			want := []string{"/all evt_1", "/all evt_2", "/status evt_2"}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(keys, want) {
				t.Fatalf("deliveries %q, want %q", keys, want)
			}
			// The body: the envelope of API.md §6 around the renderer's data, as enqueued.
			wantBody := `{"id":"evt_2","type":"message.status","created_at":"2026-11-20T10:00:00.123Z","data":{"id":"m-evt_2","status":"delivered","text":"secret text"}}`
			if string(d.body) != wantBody {
				t.Fatalf("body\n%s\nwant\n%s", d.body, wantBody)
			}
			waitState(t, db, map[string]int{"completed": 3})
			if s := errLog.String(); s != "" {
				t.Errorf("queue logged errors:\n%s", s)
			}
		})
	}
}

// waitState polls the delivery jobs until their states are want.
func waitState(t *testing.T, db *sql.DB, want map[string]int) {
	t.Helper()
	deadline := time.After(waitFor)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		got := webhookJobs(t, db)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("delivery jobs %v, want %v", got, want)
		case <-tick.C:
		}
	}
}

func TestWebhookRetries(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			// A 500, a redirect (not followed: the redirect target would answer 200), then 204.
			target := newReceiver(t)
			r := newReceiver(t, http.StatusInternalServerError, http.StatusFound, http.StatusNoContent)
			redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("Location", target.srv.URL+"/elsewhere")
				r.srv.Config.Handler.ServeHTTP(w, req)
			}))
			t.Cleanup(redirecting.Close)
			q, db, _ := newWebhookQueue(t, b, Webhook{Name: "crm", URL: redirecting.URL + "/hook", Events: []string{ports.EventMessageStatus}, Secret: []byte("s")})
			enqueueEvents(t, q, db, true, testEvent("evt_r", ports.EventMessageStatus, message.StatusSent))
			first := r.next(t)
			var at []time.Time
			at = append(at, time.Now())
			for range 2 {
				d := r.next(t)
				at = append(at, time.Now())
				if string(d.body) != string(first.body) || d.header.Get("Smsgw-Event-Id") != "evt_r" {
					t.Fatalf("retry carries %s (id %s), first %s", d.body, d.header.Get("Smsgw-Event-Id"), first.body)
				}
				checkDelivery(t, d, []byte("s"))
			}
			// About 1 s, then about 2 s (equal jitter: half to all of it).
			if gap := at[1].Sub(at[0]); gap < 400*time.Millisecond {
				t.Errorf("first retry after %v, want about 1s", gap)
			}
			if gap := at[2].Sub(at[1]); gap < 900*time.Millisecond {
				t.Errorf("second retry after %v, want about 2s", gap)
			}
			waitState(t, db, map[string]int{"completed": 1})
			select {
			case d := <-target.got:
				t.Fatalf("the redirect was followed: %s", d.path)
			default:
			}
		})
	}
}

// webhookJob is a delivery job as River hands it to the worker.
func webhookJob(hook string, attempt int, created time.Time) *river.Job[webhookArgs] {
	return &river.Job[webhookArgs]{
		JobRow: &rivertype.JobRow{ID: 1, Attempt: attempt, CreatedAt: created},
		Args:   webhookArgs{Webhook: hook, EventID: "evt_x", Type: ports.EventMessageStatus, Body: `{"id":"evt_x"}`},
	}
}

func TestWebhookWorkerOutcomes(t *testing.T) {
	failing := newReceiver(t, http.StatusServiceUnavailable)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // the server notices the client leaving once the body is read
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) }) // before Close, which waits for the handler
	now := time.Now()
	tests := []struct {
		name       string
		url        string
		job        *river.Job[webhookArgs]
		wantCancel bool
		wantErr    bool
	}{
		{"ok", newReceiver(t).srv.URL, webhookJob("h", 1, now), false, false},
		{"4xx is a failure", newReceiver(t, http.StatusBadRequest).srv.URL, webhookJob("h", 1, now), false, true},
		{"5xx is retried", failing.srv.URL, webhookJob("h", 3, now), false, true},
		{"retried for a day", failing.srv.URL, webhookJob("h", 100, now.Add(-23*time.Hour)), false, true},
		{"the next try would pass 24h: given up", failing.srv.URL, webhookJob("h", 100, now.Add(-retryFor+5*time.Minute)), true, true},
		{"a timeout is a failure", hanging.URL, webhookJob("h", 1, now), false, true},
		{"a webhook no longer configured: cancelled", failing.srv.URL, webhookJob("gone", 1, now), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := newWebhookWorker([]Webhook{{Name: "h", URL: tt.url, Events: []string{ports.EventMessageStatus}, Secret: []byte("s")}}, "smsgw/test", hclog.NewNullLogger(), nil)
			if err != nil {
				t.Fatal(err)
			}
			w.client.Timeout = 200 * time.Millisecond
			t.Cleanup(w.close)
			err = w.Work(t.Context(), tt.job)
			outcome := outcomeDelivered
			switch {
			case tt.wantCancel:
				outcome = outcomeAbandoned
			case tt.wantErr:
				outcome = outcomeFailed
			}
			if n := counterValue(t, w.deliveries.WithLabelValues(tt.job.Args.Webhook, outcome)); n != 1 {
				t.Errorf("smsgw_webhook_deliveries_total{outcome=%q} = %v, want 1", outcome, n)
			}
			if err != nil && strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("the error names the URL: %v", err)
			}
			var cancel *rivertype.JobCancelError
			if got := errors.As(err, &cancel); got != tt.wantCancel {
				t.Fatalf("Work: %v; cancelled %v, want %v", err, got, tt.wantCancel)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Work: %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestWebhookBackoff(t *testing.T) {
	w, err := newWebhookWorker(nil, "", hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 11: maxBackoff, 200: maxBackoff} {
		d := time.Until(w.NextRetry(webhookJob("h", attempt, time.Now())))
		if d < want/2-50*time.Millisecond || d > want+50*time.Millisecond {
			t.Errorf("attempt %d: next retry in %v, want %v with jitter", attempt, d, want)
		}
	}
}

func TestEnqueueEventsWithoutSubscribers(t *testing.T) {
	q, db, _ := newWebhookQueue(t, backends()[0], Webhook{Name: "in", URL: "http://127.0.0.1:1/", Events: []string{ports.EventMessageReceived}, Secret: []byte("s")})
	// No webhook wants message.status: nothing to insert, so no SQL transaction is needed.
	if err := q.EnqueueEvents(t.Context(), plainTx{}, testEvent("evt_s", ports.EventMessageStatus, message.StatusSent)); err != nil {
		t.Fatal(err)
	}
	if err := q.EnqueueEvents(t.Context(), plainTx{}, testEvent("evt_r", ports.EventMessageReceived, message.StatusReceived)); err == nil {
		t.Fatal("enqueued without a SQL transaction")
	}
	if n := webhookJobs(t, db); len(n) != 0 {
		t.Fatalf("jobs %v", n)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
