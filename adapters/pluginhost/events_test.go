package pluginhost

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/ports"
)

// orderRecorder records, per message, the order in which its events were handled.
type orderRecorder struct {
	mu    sync.Mutex
	order map[string][]string
}

func (r *orderRecorder) HandleProviderEvents(_ context.Context, _ string, evs []ports.ProviderEvent) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		r.order[ev.Status.MessageID] = append(r.order[ev.Status.MessageID], ev.Status.ProviderMessageID)
	}
	return make([]error, len(evs))
}

func (r *orderRecorder) ProviderRestarted(context.Context, string) error { return nil }

func TestLanesKeepEachMessagesOrder(t *testing.T) {
	p := &provider{cfg: ProviderConfig{Name: "loop"}, log: hclog.NewNullLogger()}
	rec := &orderRecorder{order: map[string][]string{}}
	l, stop := p.startLanes(context.Background(), rec)
	const messages, perMessage = 40, 25
	for i := range perMessage {
		for m := range messages {
			ev := sdk.Event{Status: &sdk.StatusUpdate{MessageID: fmt.Sprint("m", m), ProviderMessageID: fmt.Sprint(i), Status: sdk.StatusSent}}
			if err := l.submit(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop() // waits until every submitted event is handled
	if len(rec.order) != messages {
		t.Fatalf("%d messages handled, want %d", len(rec.order), messages)
	}
	for id, seq := range rec.order {
		if len(seq) != perMessage {
			t.Fatalf("%s: %d events", id, len(seq))
		}
		for i, s := range seq {
			if s != fmt.Sprint(i) {
				t.Fatalf("%s handled out of order: %v", id, seq)
			}
		}
	}
}

func TestLaneOfIsStableAndSpreads(t *testing.T) {
	used := map[int]bool{}
	for i := range 200 {
		ev := sdk.Event{Status: &sdk.StatusUpdate{MessageID: fmt.Sprint("msg-", i)}}
		lane := laneOf(ev, eventLanes)
		if lane != laneOf(ev, eventLanes) || lane < 0 || lane >= eventLanes {
			t.Fatalf("lane %d for %v", lane, ev.Status.MessageID)
		}
		used[lane] = true
	}
	if len(used) < eventLanes/2 {
		t.Fatalf("200 messages use only %d of %d lanes", len(used), eventLanes)
	}
}

// flakyHandler fails chosen events a number of times (by provider message id), records
// every handled event, and counts calls.
type flakyHandler struct {
	mu      sync.Mutex
	fail    map[string]int   // provider message id -> failures left
	err     map[string]error // provider message id -> the error to fail with
	handled []string
	calls   int
}

func (h *flakyHandler) HandleProviderEvents(_ context.Context, _ string, evs []ports.ProviderEvent) []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	errs := make([]error, len(evs))
	for i, ev := range evs {
		id := ev.Status.ProviderMessageID
		if h.fail[id] > 0 {
			h.fail[id]--
			errs[i] = h.err[id]
			continue
		}
		h.handled = append(h.handled, id)
	}
	return errs
}

func (h *flakyHandler) ProviderRestarted(context.Context, string) error { return nil }

func TestDeliverRetriesOnlyTheFailedEventsOfABurst(t *testing.T) {
	ev := func(id string) sdk.Event {
		return sdk.Event{Status: &sdk.StatusUpdate{MessageID: "m", ProviderMessageID: id, Status: sdk.StatusDelivered}}
	}
	tests := []struct {
		name    string
		fail    map[string]int
		err     map[string]error
		handled []string
	}{
		{"all handled at once", nil, nil, []string{"a", "b", "c"}},
		{"a blip is retried until handled", map[string]int{"b": 2}, map[string]error{"b": ports.ErrUnavailable}, []string{"a", "c", "b"}},
		{"not yet known, then known", map[string]int{"a": 1}, map[string]error{"a": ports.ErrNotFound}, []string{"b", "c", "a"}},
		{"never known: dropped after a bounded number of tries", map[string]int{"c": 100}, map[string]error{"c": ports.ErrNotFound}, []string{"a", "b"}},
		{"refused: dropped at once", map[string]int{"a": 100}, map[string]error{"a": ports.ErrInvalid}, []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &provider{cfg: ProviderConfig{Name: "loop"}, log: hclog.NewNullLogger()}
			h := &flakyHandler{fail: tt.fail, err: tt.err}
			if err := p.deliver(context.Background(), h, []sdk.Event{ev("a"), ev("b"), ev("c")}); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(h.handled) != fmt.Sprint(tt.handled) {
				t.Fatalf("handled %v, want %v", h.handled, tt.handled)
			}
		})
	}
}

func TestBurstTakesWhatIsWaitingWithoutWaiting(t *testing.T) {
	ch := make(chan sdk.Event, maxEventBurst+10)
	for range maxEventBurst + 10 {
		ch <- sdk.Event{}
	}
	if n := len(burst(sdk.Event{}, ch)); n != maxEventBurst {
		t.Fatalf("burst of %d, want the cap %d", n, maxEventBurst)
	}
	waiting := len(ch) // the first burst took maxEventBurst-1 from ch
	if n := len(burst(sdk.Event{}, ch)); n != waiting+1 {
		t.Fatalf("burst of %d, want the %d waiting plus the first", n, waiting)
	}
	if n := len(burst(sdk.Event{}, ch)); n != 1 {
		t.Fatalf("burst of %d from an empty lane, want 1", n)
	}
}
