package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// eventStep is one use-case call and the events it must enqueue ("<type> <status>").
type eventStep struct {
	name string
	do   func(t *testing.T, e *env, id *string) // id: the scenario's outbound message
	want []string
}

func sendStep() eventStep {
	return eventStep{"send", func(t *testing.T, e *env, id *string) { *id = e.send(t).ID }, nil}
}

func dispatchStep(want ...string) eventStep {
	return eventStep{"dispatch", func(t *testing.T, e *env, id *string) {
		t.Helper()
		if _, err := e.dispatch(t, *id, 1); err != nil && !errors.Is(err, ErrRetry) {
			t.Fatal(err)
		}
	}, want}
}

func reportStep(name string, want []string, rs ...ports.StatusReport) eventStep {
	return eventStep{name, func(t *testing.T, e *env, id *string) {
		t.Helper()
		for i := range rs {
			rs[i].MessageID = *id
		}
		for _, err := range e.g.ApplyStatuses(context.Background(), "loop", rs) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}, want}
}

func receiveStep(name, pid, text string, want ...string) eventStep {
	return eventStep{name, func(t *testing.T, e *env, _ *string) {
		t.Helper()
		cmd := ReceiveCommand{Provider: "loop", ProviderMessageID: pid, From: "+14155550101", To: "+14155550100", Text: text}
		if _, err := e.g.Receive(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
	}, want}
}

func TestEvents(t *testing.T) {
	delivered := ports.StatusReport{Status: message.StatusDelivered}
	sent := ports.StatusReport{Status: message.StatusSent}
	tests := []struct {
		name  string
		tune  func(e *env)
		steps []eventStep
	}{
		{name: "inbound is one message.received", steps: []eventStep{
			receiveStep("receive", "in-1", "hello", "message.received received"),
			receiveStep("the provider repeats it", "in-1", "hello"),
		}},
		{name: "a keyword's reply is not an event", tune: func(e *env) { e.g.cfg.OptOut.StopReply = "bye" }, steps: []eventStep{
			receiveStep("receive STOP", "in-2", "STOP", "message.received received"),
		}},
		{name: "accepted, dispatched, delivered", steps: []eventStep{
			sendStep(),
			dispatchStep("message.status sending", "message.status sent"),
			reportStep("delivered", []string{"message.status delivered"}, delivered),
			reportStep("delivered again (a repeat)", nil, delivered),
			reportStep("sent after delivered (ignored)", nil, sent),
		}},
		{name: "one burst that moves twice is two events", steps: []eventStep{
			sendStep(),
			{"claim, the provider call failing transiently", func(t *testing.T, e *env, id *string) {
				e.prov.results = []sendAnswer{{err: &ports.ProviderError{Provider: "loop", Class: ports.ClassUnavailable, Message: "down"}}}
				if _, err := e.dispatch(t, *id, 1); !errors.Is(err, ErrRetry) {
					t.Fatalf("dispatch: %v, want a retry", err)
				}
			}, []string{"message.status sending"}},
			reportStep("sent then delivered in one burst", []string{"message.status sent", "message.status delivered"}, sent, delivered),
		}},
		{name: "an attempt note is not an event", steps: []eventStep{
			sendStep(),
			{"fail transiently twice", func(t *testing.T, e *env, id *string) {
				e.prov.results = []sendAnswer{{err: &ports.ProviderError{Provider: "loop", Class: ports.ClassUnavailable, Message: "down"}}}
				for attempt := 1; attempt <= 2; attempt++ {
					if _, err := e.dispatch(t, *id, attempt); !errors.Is(err, ErrRetry) {
						t.Fatalf("dispatch %d: %v, want a retry", attempt, err)
					}
				}
			}, []string{"message.status sending"}},
			{"fail for good", func(t *testing.T, e *env, id *string) {
				if _, err := e.dispatch(t, *id, 3); err != nil {
					t.Fatal(err)
				}
			}, []string{"message.status failed"}},
		}},
		{name: "cancel is one event", steps: []eventStep{
			sendStep(),
			{"cancel", func(t *testing.T, e *env, id *string) {
				if _, err := e.g.Cancel(context.Background(), "acc", *id); err != nil {
					t.Fatal(err)
				}
			}, []string{"message.status canceled"}},
			{"delete the canceled message", func(t *testing.T, e *env, id *string) {
				if err := e.g.Delete(context.Background(), "acc", *id); err != nil {
					t.Fatal(err)
				}
			}, nil},
		}},
		{name: "a rolled back change enqueues nothing", steps: []eventStep{
			sendStep(),
			dispatchStep("message.status sending", "message.status sent"),
			{"the store refuses the update", func(t *testing.T, e *env, id *string) {
				e.store.refuse = map[string]bool{*id: true}
				if err := e.g.ApplyStatus(context.Background(), "loop", ports.StatusReport{MessageID: *id, Status: message.StatusDelivered}); err == nil {
					t.Fatal("applied a report the store refused")
				}
				e.store.refuse = nil
			}, nil},
		}},
		{name: "a failing enqueue rolls the change back", steps: []eventStep{
			sendStep(),
			{"cancel while the queue fails", func(t *testing.T, e *env, id *string) {
				e.events.fail = errors.New("queue down")
				if _, err := e.g.Cancel(context.Background(), "acc", *id); err == nil {
					t.Fatal("canceled without its event")
				}
				e.events.fail = nil
				if m := e.store.message(t, *id); m.Status != message.StatusQueued {
					t.Fatalf("status %s after the failed cancel, want queued", m.Status)
				}
			}, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEventEnv(t)
			if tt.tune != nil {
				tt.tune(e)
			}
			var id string
			seen := 0
			for _, st := range tt.steps {
				st.do(t, e, &id)
				evs := e.events.all()[seen:]
				seen += len(evs)
				var got []string
				for _, ev := range evs {
					got = append(got, ev.Type+" "+string(ev.Message.Status))
					checkSnapshot(t, e, ev)
				}
				if fmt.Sprint(got) != fmt.Sprint(st.want) {
					t.Fatalf("%s: events %q, want %q", st.name, got, st.want)
				}
			}
		})
	}
}

// checkSnapshot checks what every event carries: an evt_ id, the clock's time, and the
// message as it was at the change — its last event is the change.
func checkSnapshot(t *testing.T, e *env, ev ports.AppEvent) {
	t.Helper()
	m := ev.Message
	if !strings.HasPrefix(ev.ID, "evt_") || len(ev.ID) <= len("evt_") {
		t.Errorf("event id %q", ev.ID)
	}
	if !ev.CreatedAt.Equal(e.g.now()) {
		t.Errorf("event created at %v, want %v", ev.CreatedAt, e.g.now())
	}
	if len(m.Events) == 0 || m.Events[len(m.Events)-1].Status != m.Status {
		t.Errorf("%s snapshot of %s: status %s, history %s", ev.Type, m.ID, m.Status, statuses(m))
	}
	want := message.Outbound
	if ev.Type == ports.EventMessageReceived {
		want = message.Inbound
	}
	if m.Direction != want {
		t.Errorf("%s of a %s message", ev.Type, m.Direction)
	}
}

func TestEventsIDsAreUnique(t *testing.T) {
	e := newEventEnv(t)
	for range 3 {
		id := e.send(t).ID
		if _, err := e.dispatch(t, id, 1); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, ev := range e.events.all() {
		if seen[ev.ID] {
			t.Fatalf("event id %s used twice", ev.ID)
		}
		seen[ev.ID] = true
	}
	if len(seen) != 6 {
		t.Fatalf("%d events, want 6 (sending and sent of 3 messages)", len(seen))
	}
}

func TestNoEventQueueRecordsNothing(t *testing.T) {
	e := newEnv(t)
	id := e.send(t).ID
	if _, err := e.dispatch(t, id, 1); err != nil {
		t.Fatal(err)
	}
	// Without an event queue inTx hands the store's own Tx through: nothing wraps it.
	if err := e.g.inTx(context.Background(), func(_ context.Context, tx ports.Tx) error {
		if _, ok := tx.(*eventTx); ok {
			return errors.New("the Tx is wrapped though no event queue is configured")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
