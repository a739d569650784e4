package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
	"github.com/smsgw/smsgw/webhook"
)

const webhookSecret = "it-webhook-secret"

// eventReceiver is an application's webhook endpoint that fails its first `failFirst`
// deliveries with a 500 and records every delivery.
type eventReceiver struct {
	t         *testing.T
	failFirst int
	mu        sync.Mutex
	got       []eventDelivery
	changed   chan struct{} // signalled (without blocking) after each delivery
}

type eventDelivery struct {
	n       int // 1-based order of arrival
	eventID string
	header  string // Smsgw-Event-Id
	body    []byte
	sigErr  error
	answer  int
}

func (r *eventReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d := eventDelivery{header: req.Header.Get("Smsgw-Event-Id"), body: body,
		sigErr: webhook.Verify([]byte(webhookSecret), req.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute)}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err == nil {
		d.eventID = ev.ID
	}
	r.mu.Lock()
	d.n = len(r.got) + 1
	d.answer = http.StatusOK
	if d.n <= r.failFirst {
		d.answer = http.StatusInternalServerError
	}
	r.got = append(r.got, d)
	r.mu.Unlock()
	w.WriteHeader(d.answer)
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *eventReceiver) deliveries() []eventDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// wantedEvents are the events the history of m promises, as "<type> <message id> <status>":
// an inbound message is one message.received; an outbound one is a message.status per status
// change (its creation is not one; ignored reports and attempt notes change nothing).
func wantedEvents(m harness.Message) []string {
	if m.Direction == "inbound" {
		return []string{"message.received " + m.ID + " received"}
	}
	var out []string
	for i, e := range m.Events {
		ignored := e.Detail != nil && *e.Detail == "ignored"
		if i == 0 || ignored || e.Status == current(m, i) {
			continue
		}
		out = append(out, "message.status "+m.ID+" "+e.Status)
	}
	return out
}

// current is m's status just before its event i.
func current(m harness.Message, i int) string {
	s := m.Events[0].Status
	for _, e := range m.Events[1:i] {
		if e.Detail == nil || *e.Detail != "ignored" {
			s = e.Status
		}
	}
	return s
}

// TestEventWebhooks: a receiver that fails its first three deliveries still gets every
// event of the messages' histories exactly once after dedupe by id, each delivery signed
// so that webhook.Verify accepts it, retries carrying the same id and body.
func TestEventWebhooks(t *testing.T) {
	recv := &eventReceiver{t: t, failFirst: 3, changed: make(chan struct{}, 1)}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	s := storeSetup(t, "postgres", dir)
	s.policy = noLimits + fmt.Sprintf(`webhook "app" {
  url    = %q
  events = ["message.received", "message.status"]
  secret = %q
}
`, srv.URL+"/sms-events", webhookSecret)
	cfg, addr := writeConfig(t, dir, s)
	g := start(t, dir, cfg, addr)
	c := harness.NewClient(g.URL, user, password)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var ids []string
	for i := range 4 {
		code, m, err := c.Send(ctx, "+14155550100", fmt.Sprintf("+1415555020%d", i), fmt.Sprintf("event test %d", i))
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("send %d: %d %v", i, code, err)
		}
		ids = append(ids, m.ID)
	}
	anon := harness.NewClient(g.URL, "", "")
	if code, err := anon.Do(ctx, http.MethodPost, "/webhooks/loopback/inbound",
		map[string]string{"from": "+14155550199", "to": "+14155550100", "text": "an inbound"}, nil); err != nil || code != http.StatusOK {
		t.Fatalf("inbound webhook: %d %v", code, err)
	}
	finals, err := c.WaitAllFinal(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []harness.Message `json:"items"`
	}
	if code, err := c.Do(ctx, http.MethodGet, "/v1/messages?direction=inbound", nil, &list); err != nil || code != http.StatusOK || len(list.Items) != 1 {
		t.Fatalf("inbound list: %d %v %+v", code, err, list.Items)
	}
	var want []string
	for _, id := range ids {
		if finals[id].Status != "delivered" {
			t.Fatalf("message %s ended %s", id, finals[id].Status)
		}
		want = append(want, wantedEvents(finals[id])...)
	}
	want = append(want, wantedEvents(list.Items[0])...)
	slices.Sort(want)

	// Wait until every event was acknowledged (2xx) at least once.
	var got []string
	for {
		got = acknowledged(t, recv.deliveries())
		if slices.Equal(got, want) || len(got) > len(want) {
			break
		}
		select {
		case <-recv.changed:
		case <-ctx.Done():
			t.Fatalf("events acknowledged:\n%q\nwant:\n%q", got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events acknowledged:\n%q\nwant:\n%q", got, want)
	}

	ds := recv.deliveries()
	first := map[string]eventDelivery{} // event id -> its first delivery
	for _, d := range ds {
		if d.sigErr != nil {
			t.Errorf("delivery %d (%s): signature rejected: %v", d.n, d.eventID, d.sigErr)
		}
		if d.header != d.eventID {
			t.Errorf("delivery %d: Smsgw-Event-Id %q, body id %q", d.n, d.header, d.eventID)
		}
		f, seen := first[d.eventID]
		if !seen {
			first[d.eventID] = d
			continue
		}
		if string(f.body) != string(d.body) {
			t.Errorf("event %s delivered with two bodies:\n%s\n%s", d.eventID, f.body, d.body)
		}
	}
	if len(first) != len(want) {
		t.Errorf("%d distinct event ids delivered, want %d", len(first), len(want))
	}
	// The first three deliveries failed, and each of their events came again.
	for _, d := range ds[:3] {
		if d.answer != http.StatusInternalServerError {
			t.Errorf("delivery %d answered %d, want 500", d.n, d.answer)
		}
		if !slices.ContainsFunc(ds[3:], func(r eventDelivery) bool { return r.eventID == d.eventID && r.answer == http.StatusOK }) {
			t.Errorf("event %s failed at delivery %d and was never delivered again", d.eventID, d.n)
		}
	}
	if len(ds) < len(want)+3 {
		t.Errorf("%d deliveries for %d events and 3 failures", len(ds), len(want))
	}
	// /metrics counts the three failed attempts.
	r, err := c.DoRaw(ctx, http.MethodGet, "/metrics", nil, nil)
	if err != nil || r.Code != http.StatusOK {
		t.Fatalf("metrics: %v", err)
	}
	if !strings.Contains(string(r.Body), `smsgw_webhook_deliveries_total{outcome="failed",webhook="app"} 3`) {
		t.Errorf("metrics do not count the 3 failed deliveries:\n%s", grepLines(string(r.Body), "smsgw_webhook"))
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// acknowledged is the events answered 2xx at least once, deduped by id, as
// "<type> <message id> <status>" sorted, from their bodies (checked to be the v1 message
// object of the event's message).
func acknowledged(t *testing.T, ds []eventDelivery) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, d := range ds {
		if d.answer != http.StatusOK || seen[d.eventID] {
			continue
		}
		seen[d.eventID] = true
		var ev webhook.Event
		if err := json.Unmarshal(d.body, &ev); err != nil {
			t.Fatalf("delivery %d: body %s: %v", d.n, d.body, err)
		}
		var m harness.Message
		if err := json.Unmarshal(ev.Data, &m); err != nil || m.ID == "" || len(m.Events) == 0 {
			t.Fatalf("delivery %d: data %s: %v", d.n, ev.Data, err)
		}
		if last := m.Events[len(m.Events)-1].Status; last != m.Status {
			t.Errorf("event %s: message %s snapshot in status %s, last event %s", ev.ID, m.ID, m.Status, last)
		}
		if len(ev.ID) < len("evt_")+1 || ev.ID[:4] != "evt_" || ev.CreatedAt.IsZero() {
			t.Errorf("event id %q created at %v", ev.ID, ev.CreatedAt)
		}
		out = append(out, ev.Type+" "+m.ID+" "+m.Status)
	}
	slices.Sort(out)
	return out
}
