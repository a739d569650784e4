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

func (r *orderRecorder) HandleProviderEvent(_ context.Context, _ string, ev ports.ProviderEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.order[ev.Status.MessageID] = append(r.order[ev.Status.MessageID], ev.Status.ProviderMessageID)
	return nil
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
