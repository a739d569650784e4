package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC)

type env struct {
	g      *Gateway
	store  *memStore
	jobs   *memJobs
	prov   *fakeProviders
	clock  *fixedClock
	events *memEvents // nil unless the env was made with newEventEnv
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(*Config) {})
}

// newEnvWith is newEnv with the config adjusted by tune.
func newEnvWith(t *testing.T, tune func(*Config)) *env {
	t.Helper()
	return newEnvEvents(t, tune, nil)
}

// newEventEnv is newEnv with an event queue: event webhooks are configured.
func newEventEnv(t *testing.T) *env {
	t.Helper()
	return newEnvEvents(t, func(*Config) {}, &memEvents{})
}

// newEnvEvents is newEnvWith with the event queue events (nil: none configured).
func newEnvEvents(t *testing.T, tune func(*Config), events *memEvents) *env {
	t.Helper()
	r, err := routing.New([]string{"loop", "other"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: newMemStore(), jobs: &memJobs{}, clock: &fixedClock{t0}, events: events,
		prov: &fakeProviders{healthy: true, results: []sendAnswer{{res: ports.SendResult{ProviderMessageID: "p1", Status: message.StatusSent}}}}}
	cfg := Config{Policies: map[string]ProviderPolicy{"loop": {MaxAttempts: 3, Backoff: time.Second}}, DefaultAccount: "acc"}
	tune(&cfg)
	d := Deps{Store: e.store, Jobs: e.jobs, Providers: e.prov, Clock: e.clock, IDs: &seqIDs{}, Router: r, Config: cfg}
	if e.events != nil {
		d.Events = e.events
	}
	e.g = New(d)
	return e
}

func (e *env) send(t *testing.T) message.Message {
	t.Helper()
	m, err := e.g.Send(context.Background(), SendCommand{AccountID: "acc", From: "+14155550100", To: "+14155550101", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dispatch runs one job attempt and reports whether the job was completed.
func (e *env) dispatch(t *testing.T, id string, attempt int) (completed bool, err error) {
	t.Helper()
	err = e.g.Dispatch(context.Background(), ports.DispatchAttempt{MessageIDs: []string{id}, Attempt: attempt, MaxAttempts: 3,
		Complete: func(context.Context, ports.Tx) error { completed = true; return nil }})
	return completed, err
}

func statuses(m message.Message) string {
	s := ""
	for _, e := range m.Events {
		s += string(e.Status)
		if e.Detail == message.DetailIgnored {
			s += "(ignored)"
		}
		s += " "
	}
	return s
}

func TestSendValidationOrder(t *testing.T) {
	future := t0.Add(time.Hour)
	past := t0.Add(-time.Second)
	tests := []struct {
		name  string
		cmd   SendCommand
		field string
	}{
		{"bad from first", SendCommand{From: "!", To: "x", Text: ""}, "from"},
		{"bad to", SendCommand{From: "ACME", To: "12", Text: ""}, "to"},
		{"empty text", SendCommand{From: "ACME", To: "+14155550101", Text: ""}, "text"},
		{"unknown provider", SendCommand{From: "ACME", To: "+14155550101", Text: "x", Provider: "nope"}, "provider"},
		{"send_at in the past", SendCommand{From: "ACME", To: "+14155550101", Text: "x", SendAt: &past}, "send_at"},
		{"ok scheduled", SendCommand{From: "ACME", To: "+14155550101", Text: "x", SendAt: &future}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.g.Send(context.Background(), tt.cmd)
			var fe *message.FieldError
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Code != message.CodeInvalid {
				t.Fatalf("err = %v, want invalid %s", err, tt.field)
			}
			if len(e.store.ids()) != 0 || len(e.jobs.jobs) != 0 {
				t.Fatal("a rejected send changed something")
			}
		})
	}
}

func TestSendAcceptsAtomically(t *testing.T) {
	e := newEnv(t)
	m := e.send(t)
	if m.Status != message.StatusQueued || m.Provider != "loop" || m.Segments != 1 || m.Encoding != message.GSM7 {
		t.Fatalf("accepted %+v", m)
	}
	if !m.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Fatalf("created_at %v not truncated to the store precision", m.CreatedAt)
	}
	if len(e.jobs.jobs) != 1 || !slices.Equal(e.jobs.jobs[0].MessageIDs, []string{m.ID}) || e.jobs.jobs[0].MaxAttempts != 3 {
		t.Fatalf("jobs %+v", e.jobs.jobs)
	}
	// A failing enqueue rolls the message back: nothing is half-accepted.
	e.jobs.fail = errors.New("queue down")
	if _, err := e.g.Send(context.Background(), SendCommand{AccountID: "acc", From: "ACME", To: "+14155550101", Text: "x"}); err == nil {
		t.Fatal("send succeeded without its job")
	}
	if n := len(e.store.ids()); n != 1 {
		t.Fatalf("%d messages stored", n)
	}
}

func TestScheduledSend(t *testing.T) {
	e := newEnv(t)
	at := t0.Add(time.Hour)
	m, err := e.g.Send(context.Background(), SendCommand{AccountID: "acc", From: "ACME", To: "+14155550101", Text: "x", SendAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != message.StatusScheduled || !e.jobs.jobs[0].RunAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("scheduled %+v job %+v", m, e.jobs.jobs[0])
	}
}

func TestDispatch(t *testing.T) {
	unavailable := &ports.ProviderError{Provider: "loop", Class: ports.ClassUnavailable, Message: "down"}
	rejected := &ports.ProviderError{Provider: "loop", Class: ports.ClassRejected, Code: "21610", Message: "unsubscribed"}
	ok := sendAnswer{res: ports.SendResult{ProviderMessageID: "p1", Status: message.StatusSent}}
	tests := []struct {
		name      string
		answers   []sendAnswer
		attempts  int // attempts to run
		status    message.Status
		completed bool
		sends     int
		errCode   string
	}{
		{"success", []sendAnswer{ok}, 1, message.StatusSent, true, 1, ""},
		{"transient then success", []sendAnswer{{err: unavailable}, ok}, 2, message.StatusSent, true, 2, ""},
		{"transient until max attempts", []sendAnswer{{err: unavailable}}, 3, message.StatusFailed, true, 3, "unavailable"},
		{"permanent fails at once, with the provider's code", []sendAnswer{{err: rejected}}, 1, message.StatusFailed, true, 1, "21610"},
		{"unclassified error is ambiguous and retried", []sendAnswer{{err: errors.New("boom")}, ok}, 2, message.StatusSent, true, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.prov.results = tt.answers
			m := e.send(t)
			var completed bool
			for a := 1; a <= tt.attempts; a++ {
				var err error
				completed, err = e.dispatch(t, m.ID, a)
				if a < tt.attempts && (!errors.Is(err, ErrRetry) || completed) {
					t.Fatalf("attempt %d: err %v completed %v, want a retry", a, err, completed)
				}
				if a == tt.attempts && err != nil {
					t.Fatalf("last attempt: %v", err)
				}
			}
			got, _ := e.store.GetMessage(context.Background(), "acc", m.ID)
			if got.Status != tt.status || completed != tt.completed || len(e.prov.sends) != tt.sends {
				t.Fatalf("status %s completed %v sends %d; events %s", got.Status, completed, len(e.prov.sends), statuses(got))
			}
			if tt.errCode != "" && (got.Error == nil || got.Error.Code != tt.errCode) {
				t.Fatalf("error %+v", got.Error)
			}
			if tt.status == message.StatusSent && got.ProviderMessageID != "p1" {
				t.Fatalf("provider id %q", got.ProviderMessageID)
			}
		})
	}
}

// TestDispatchProviderQueued: a provider that answers "queued" (a batch API taking the
// message into its own queue) leaves the message sending, with the acceptance as an event
// rather than an ignored step back.
func TestDispatchProviderQueued(t *testing.T) {
	e := newEnv(t)
	e.prov.results = []sendAnswer{{res: ports.SendResult{ProviderMessageID: "p1", Status: message.StatusQueued}}}
	m := e.send(t)
	if completed, err := e.dispatch(t, m.ID, 1); err != nil || !completed {
		t.Fatalf("dispatch: completed %v, %v", completed, err)
	}
	got := e.store.message(t, m.ID)
	last := got.Events[len(got.Events)-1]
	if got.Status != message.StatusSending || got.ProviderMessageID != "p1" || statuses(got) != "queued sending sending " || last.Detail != "accepted via loop" {
		t.Fatalf("status %s, provider id %q, events %s (last %+v)", got.Status, got.ProviderMessageID, statuses(got), last)
	}
}

func TestDispatchIsIdempotent(t *testing.T) {
	e := newEnv(t)
	m := e.send(t)
	if _, err := e.dispatch(t, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	// The queue delivers the job again (at-least-once): nothing is sent twice.
	completed, err := e.dispatch(t, m.ID, 2)
	if err != nil || !completed || len(e.prov.sends) != 1 {
		t.Fatalf("re-run: err %v completed %v sends %d", err, completed, len(e.prov.sends))
	}
	// A canceled message is never sent.
	m2 := e.send(t)
	if _, err := e.g.Cancel(context.Background(), "acc", m2.ID); err != nil {
		t.Fatal(err)
	}
	if completed, _ := e.dispatch(t, m2.ID, 1); !completed || len(e.prov.sends) != 1 {
		t.Fatal("canceled message dispatched")
	}
	// A job for a vanished message completes quietly.
	if completed, err := e.dispatch(t, "nope", 1); !completed || err != nil {
		t.Fatalf("missing message: %v %v", completed, err)
	}
}

func TestStatusReportBeforeSendResult(t *testing.T) {
	// The loopback plugin streams "delivered" (with our id) before the worker has stored
	// the send result; the late result must not move the message backwards.
	e := newEnv(t)
	m := e.send(t)
	if _, err := e.g.claim(context.Background(), []string{m.ID}, ports.DispatchAttempt{Complete: func(context.Context, ports.Tx) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if err := e.g.ApplyStatus(context.Background(), "loop", ports.StatusReport{MessageID: m.ID, ProviderMessageID: "p1", Status: message.StatusDelivered}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.InTx(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		return e.g.recordAccepted(ctx, tx, m.ID, "loop", ports.SendResult{ProviderMessageID: "p1", Status: message.StatusSent})
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.GetMessage(context.Background(), "", m.ID)
	if got.Status != message.StatusDelivered || got.ProviderMessageID != "p1" {
		t.Fatalf("got %s %q", got.Status, got.ProviderMessageID)
	}
	if s := statuses(got); s != "queued sending delivered sent(ignored) " {
		t.Fatalf("events %s", s)
	}
}

func TestApplyStatus(t *testing.T) {
	tests := []struct {
		name    string
		reports []message.Status
		final   message.Status
		events  string
	}{
		{"forward", []message.Status{message.StatusDelivered}, message.StatusDelivered, "queued sending sent delivered "},
		{"exact repeat dropped", []message.Status{message.StatusDelivered, message.StatusDelivered}, message.StatusDelivered, "queued sending sent delivered "},
		{"backwards recorded as ignored", []message.Status{message.StatusDelivered, message.StatusQueued}, message.StatusDelivered, "queued sending sent delivered queued(ignored) "},
		{"final never overwritten", []message.Status{message.StatusUndelivered, message.StatusDelivered}, message.StatusUndelivered, "queued sending sent undelivered delivered(ignored) "},
		{"late report recorded once", []message.Status{message.StatusDelivered, message.StatusSent, message.StatusSent}, message.StatusDelivered, "queued sending sent delivered sent(ignored) "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.send(t)
			if _, err := e.dispatch(t, m.ID, 1); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.reports {
				e.clock.t = e.clock.t.Add(time.Second)
				if err := e.g.ApplyStatus(context.Background(), "loop", ports.StatusReport{ProviderMessageID: "p1", Status: s, ErrorCode: ""}); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := e.store.GetMessage(context.Background(), "", m.ID)
			if got.Status != tt.final || statuses(got) != tt.events {
				t.Fatalf("status %s events %s", got.Status, statuses(got))
			}
		})
	}
	t.Run("the provider's queued while sending is dropped", func(t *testing.T) {
		e := newEnv(t)
		e.prov.results = []sendAnswer{{res: ports.SendResult{ProviderMessageID: "p1", Status: message.StatusQueued}}}
		m := e.send(t)
		if _, err := e.dispatch(t, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		for _, s := range []message.Status{message.StatusQueued, message.StatusSent, message.StatusQueued, message.StatusDelivered} {
			if err := e.g.ApplyStatus(context.Background(), "loop", ports.StatusReport{ProviderMessageID: "p1", Status: s}); err != nil {
				t.Fatal(err)
			}
		}
		// The second queued comes after sent: that one is a step back.
		if got := e.mustGet(t, m.ID); got.Status != message.StatusDelivered || statuses(got) != "queued sending sending sent queued(ignored) delivered " {
			t.Fatalf("status %s events %s", got.Status, statuses(got))
		}
	})
	t.Run("by message id, from another provider", func(t *testing.T) {
		e := newEnv(t)
		m := e.send(t)
		err := e.g.ApplyStatus(context.Background(), "other", ports.StatusReport{MessageID: m.ID, Status: message.StatusDelivered})
		if !errors.Is(err, ports.ErrNotFound) || e.mustGet(t, m.ID).Status != message.StatusQueued {
			t.Fatalf("err %v, status %s; want ErrNotFound and nothing applied", err, e.mustGet(t, m.ID).Status)
		}
		if err := e.g.ApplyStatus(context.Background(), "loop", ports.StatusReport{MessageID: m.ID, Status: message.StatusSent}); err != nil || e.mustGet(t, m.ID).Status != message.StatusSent {
			t.Fatalf("from its own provider: %v", err)
		}
	})
	t.Run("unknown message", func(t *testing.T) {
		e := newEnv(t)
		err := e.g.ApplyStatus(context.Background(), "loop", ports.StatusReport{ProviderMessageID: "nope", Status: message.StatusDelivered})
		if !errors.Is(err, ports.ErrNotFound) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("undelivered records the error", func(t *testing.T) {
		e := newEnv(t)
		m := e.send(t)
		_, _ = e.dispatch(t, m.ID, 1)
		_ = e.g.ApplyStatus(context.Background(), "loop", ports.StatusReport{ProviderMessageID: "p1", Status: message.StatusUndelivered, ErrorCode: "30003", ErrorMessage: "unreachable"})
		got, _ := e.store.GetMessage(context.Background(), "", m.ID)
		if got.Error == nil || got.Error.Code != "30003" || got.Error.Message != "loop: 30003: unreachable" {
			t.Fatalf("error %+v", got.Error)
		}
	})
}

// TestProviderOptOut: a provider that reports the recipient unsubscribed (Twilio's 21610),
// whether it refuses the send or says so in a status report, leaves a permanent block of
// source "provider", so the next send to the pair is refused before it reaches the provider.
func TestProviderOptOut(t *testing.T) {
	unsubscribed := &ports.ProviderError{Provider: "loop", Class: ports.ClassRejected, Code: "21610", Message: "unsubscribed", OptOut: true}
	tests := []struct {
		name   string
		answer sendAnswer
		report *ports.StatusReport // applied after the send, when set
		want   bool                // a block is recorded
	}{
		{"send refused", sendAnswer{err: unsubscribed}, nil, true},
		{"refused without the opt-out flag", sendAnswer{err: &ports.ProviderError{Provider: "loop", Class: ports.ClassRejected, Code: "21610", Message: "x"}}, nil, false},
		{"status report", sendAnswer{res: ports.SendResult{ProviderMessageID: "p1", Status: message.StatusSent}},
			&ports.StatusReport{ProviderMessageID: "p1", Status: message.StatusUndelivered, ErrorCode: "21610", OptOut: true}, true},
		{"status report without the flag", sendAnswer{res: ports.SendResult{ProviderMessageID: "p1", Status: message.StatusSent}},
			&ports.StatusReport{ProviderMessageID: "p1", Status: message.StatusUndelivered, ErrorCode: "30003"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.prov.results = []sendAnswer{tt.answer}
			m := e.send(t)
			if _, err := e.dispatch(t, m.ID, 1); err != nil {
				t.Fatal(err)
			}
			if tt.report != nil {
				if err := e.g.ApplyStatus(context.Background(), "loop", *tt.report); err != nil {
					t.Fatal(err)
				}
			}
			got := e.mustGet(t, m.ID)
			if got.Error == nil || got.Error.Code != "21610" && got.Error.Code != "30003" {
				t.Fatalf("error %+v, want the provider's code", got.Error)
			}
			if blocked := e.optedOut(t, m.From, m.To); blocked != tt.want {
				t.Fatalf("opted out = %v, want %v", blocked, tt.want)
			}
			if !tt.want {
				return
			}
			page, err := e.g.ListOptOuts(context.Background(), ports.OptOutQuery{Sender: m.From, Limit: 10})
			if err != nil || len(page.Items) != 1 || page.Items[0].Source != optout.SourceProvider || page.Items[0].ExpiresAt != nil {
				t.Fatalf("opt-outs %+v, %v; want one permanent block of source provider", page.Items, err)
			}
			if _, err := e.g.Send(context.Background(), SendCommand{AccountID: "acc", From: m.From, To: m.To, Text: "again"}); !errors.Is(err, ErrOptedOut) {
				t.Fatalf("next send: %v, want ErrOptedOut", err)
			}
			if tt.report == nil {
				return
			}
			// The person opts back in; the provider then repeats its report: no new block.
			if err := e.g.LiftPair(context.Background(), m.From, m.To); err != nil {
				t.Fatal(err)
			}
			if err := e.g.ApplyStatus(context.Background(), "loop", *tt.report); err != nil {
				t.Fatal(err)
			}
			if e.optedOut(t, m.From, m.To) {
				t.Fatal("a repeated unsubscribed report blocked the pair again")
			}
		})
	}
}

func TestApplyStatusesInOneTransaction(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.prov.results = []sendAnswer{
		{res: ports.SendResult{ProviderMessageID: "p1", Status: message.StatusSent}},
		{res: ports.SendResult{ProviderMessageID: "p2", Status: message.StatusSent}},
	}
	a, b := e.send(t), e.send(t)
	for _, m := range []message.Message{a, b} {
		if _, err := e.dispatch(t, m.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	pa := e.mustGet(t, a.ID).ProviderMessageID
	pb := e.mustGet(t, b.ID).ProviderMessageID
	txs := e.store.txCount
	errs := e.g.ApplyStatuses(ctx, "loop", []ports.StatusReport{
		{MessageID: a.ID, ProviderMessageID: pa, Status: message.StatusDelivered},
		{ProviderMessageID: "unknown", Status: message.StatusDelivered},
		{ProviderMessageID: pb, Status: message.StatusUndelivered, ErrorCode: "30003"},
		{MessageID: a.ID, ProviderMessageID: pa, Status: message.StatusDelivered}, // repeat: dropped
		{ProviderMessageID: pb, Status: message.StatusDelivered},                  // after a final status: ignored
	})
	if e.store.txCount != txs+1 {
		t.Fatalf("%d transactions for one burst, want 1", e.store.txCount-txs)
	}
	for i, err := range errs {
		if want := i == 1; errors.Is(err, ports.ErrNotFound) != want || (!want && err != nil) {
			t.Fatalf("report %d: %v", i, err)
		}
	}
	if got := e.mustGet(t, a.ID); got.Status != message.StatusDelivered || statuses(got) != "queued sending sent delivered " {
		t.Fatalf("a: %s %s", got.Status, statuses(got))
	}
	if got := e.mustGet(t, b.ID); got.Status != message.StatusUndelivered || statuses(got) != "queued sending sent undelivered delivered(ignored) " {
		t.Fatalf("b: %s %s", got.Status, statuses(got))
	}

	// A failed transaction fails every report, and applies none.
	c := e.send(t)
	e.store.failTx = ports.ErrUnavailable
	errs = e.g.ApplyStatuses(ctx, "loop", []ports.StatusReport{{MessageID: c.ID, Status: message.StatusDelivered}, {MessageID: a.ID, Status: message.StatusFailed}})
	e.store.failTx = nil
	for i, err := range errs {
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("report %d after a failed transaction: %v", i, err)
		}
	}
	if got := e.mustGet(t, c.ID); got.Status != message.StatusQueued {
		t.Fatalf("c applied from a failed transaction: %s", got.Status)
	}
}

func TestApplyStatusesBurstEdgeCases(t *testing.T) {
	ctx := context.Background()
	t.Run("a provider id set earlier in the burst names the message later in it", func(t *testing.T) {
		e := newEnv(t)
		m := e.send(t)
		if _, err := e.g.claim(ctx, []string{m.ID}, ports.DispatchAttempt{Complete: func(context.Context, ports.Tx) error { return nil }}); err != nil {
			t.Fatal(err)
		}
		errs := e.g.ApplyStatuses(ctx, "loop", []ports.StatusReport{
			{MessageID: m.ID, ProviderMessageID: "px", Status: message.StatusSent},
			{ProviderMessageID: "px", Status: message.StatusDelivered},
		})
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("errors %v", errs)
		}
		if got := e.mustGet(t, m.ID); got.Status != message.StatusDelivered || got.ProviderMessageID != "px" {
			t.Fatalf("got %s %q", got.Status, got.ProviderMessageID)
		}
	})
	t.Run("a report the store refuses does not hold up the others", func(t *testing.T) {
		e := newEnv(t)
		a, bad, b := e.send(t), e.send(t), e.send(t)
		e.store.refuse = map[string]bool{bad.ID: true}
		errs := e.g.ApplyStatuses(ctx, "loop", []ports.StatusReport{
			{MessageID: a.ID, Status: message.StatusFailed},
			{MessageID: bad.ID, Status: message.StatusFailed},
			{MessageID: b.ID, Status: message.StatusFailed},
		})
		if errs[0] != nil || errs[1] == nil || errs[2] != nil {
			t.Fatalf("errors %v, want only the refused report to fail", errs)
		}
		for _, id := range []string{a.ID, b.ID} {
			if got := e.mustGet(t, id); got.Status != message.StatusFailed {
				t.Fatalf("%s: %s", id, got.Status)
			}
		}
	})
}

func (e *env) mustGet(t *testing.T, id string) message.Message {
	t.Helper()
	m, err := e.store.GetMessage(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCancelAndDelete(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	m := e.send(t)
	if _, err := e.g.Cancel(ctx, "other-account", m.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("cancel of another account's message: %v", err)
	}
	got, err := e.g.Cancel(ctx, "acc", m.ID)
	if err != nil || got.Status != message.StatusCanceled {
		t.Fatalf("cancel: %v %s", err, got.Status)
	}
	if _, err := e.g.Cancel(ctx, "acc", m.ID); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("second cancel: %v", err)
	}
	sent := e.send(t)
	if _, err := e.dispatch(t, sent.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.g.Cancel(ctx, "acc", sent.ID); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("cancel after hand-off: %v", err)
	}
	queued := e.send(t)
	if err := e.g.Delete(ctx, "acc", queued.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.g.Get(ctx, "acc", queued.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("deleted message still visible: %v", err)
	}
	if e.store.message(t, queued.ID).Status != message.StatusCanceled {
		t.Fatal("delete did not cancel a queued message")
	}
	if err := e.g.Delete(ctx, "acc", queued.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestRefreshStatuses: a refresh polls the account's messages still waiting for a status
// from providers that can be polled, within the window, applies the answers, and reports
// what it checked and changed; a provider that cannot answer is ErrUnavailable.
func TestRefreshStatuses(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for i := 1; i <= 4; i++ {
		e.prov.results = append(e.prov.results, sendAnswer{res: ports.SendResult{ProviderMessageID: fmt.Sprintf("p%d", i), Status: message.StatusSent}})
	}
	e.prov.results = e.prov.results[1:] // drop newEnv's default answer
	var ids []string
	for i := range 4 {
		account := "acc"
		if i == 3 {
			account = "acc2"
		}
		m, err := e.g.Send(ctx, SendCommand{AccountID: account, From: "+14155550100", To: fmt.Sprintf("+1415555010%d", i), Text: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.dispatch(t, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if r, err := e.g.RefreshStatuses(ctx, "acc", time.Time{}); err != nil || r != (RefreshResult{}) {
		t.Fatalf("refresh without a pollable provider: %+v %v, want nothing done", r, err)
	}
	e.prov.polls = map[string]ports.StatusReport{
		"p1": {ProviderMessageID: "p1", Status: message.StatusDelivered},
		"p2": {ProviderMessageID: "p2", Status: message.StatusUndelivered, ErrorCode: "30003"},
		"p3": {ProviderMessageID: "p3", Status: message.StatusSent}, // no news
		"p4": {ProviderMessageID: "p4", Status: message.StatusDelivered},
	}
	steps := []struct {
		name    string
		account string
		since   time.Time
		pollErr error
		want    RefreshResult
		wantErr error
	}{
		{"the account's waiting messages", "acc", time.Time{}, nil, RefreshResult{Checked: 3, Updated: 2}, nil},
		{"only what still waits", "acc", time.Time{}, nil, RefreshResult{Checked: 1}, nil},
		{"since after the messages", "acc", t0.Add(time.Minute), nil, RefreshResult{}, nil},
		{"provider down", "acc", time.Time{}, errors.New("plugin gone"), RefreshResult{}, ports.ErrUnavailable},
		{"every account", "", time.Time{}, nil, RefreshResult{Checked: 2, Updated: 1}, nil},
	}
	for _, st := range steps {
		e.prov.pollErr = st.pollErr
		r, err := e.g.RefreshStatuses(ctx, st.account, st.since)
		if r != st.want || (st.wantErr == nil) != (err == nil) || (st.wantErr != nil && !errors.Is(err, st.wantErr)) {
			t.Fatalf("%s: %+v %v, want %+v %v", st.name, r, err, st.want, st.wantErr)
		}
	}
	want := []message.Status{message.StatusDelivered, message.StatusUndelivered, message.StatusSent, message.StatusDelivered}
	for i, id := range ids {
		if got := e.mustGet(t, id).Status; got != want[i] {
			t.Errorf("message %d: %s, want %s", i, got, want[i])
		}
	}
	// The default window is RefreshWindow: eight days on, nothing is polled.
	e.clock.t = t0.Add(RefreshWindow + time.Hour)
	if r, err := e.g.RefreshStatuses(ctx, "", time.Time{}); err != nil || r != (RefreshResult{}) {
		t.Fatalf("refresh after the window: %+v %v", r, err)
	}
}

// TestRefreshPeriodicResumes: a periodic refresh cut off by its time budget leaves its
// position, the next run goes on from there to the end, and the one after starts over, so
// a backlog longer than one run is covered in turn instead of its oldest part again and again.
func TestRefreshPeriodicResumes(t *testing.T) {
	e := newEnv(t)
	const n = 250 // three pages of refreshPage
	e.prov.results = nil
	for i := range n {
		e.prov.results = append(e.prov.results, sendAnswer{res: ports.SendResult{ProviderMessageID: fmt.Sprintf("p%03d", i), Status: message.StatusSent}})
	}
	e.prov.polls = map[string]ports.StatusReport{} // pollable, no news: they all keep waiting
	for range n {
		e.clock.t = e.clock.t.Add(time.Millisecond) // oldest first = in the order sent
		m := e.send(t)
		if _, err := e.dispatch(t, m.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	run := func(cutAtCall int) (RefreshResult, []string, error) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.prov.polled = nil
		e.prov.onPoll = func(call int) {
			if call == cutAtCall {
				cancel() // the job's budget runs out during this poll
			}
		}
		r, err := e.g.RefreshPeriodic(ctx)
		var firsts []string
		for _, ids := range e.prov.polled {
			firsts = append(firsts, ids[0])
		}
		return r, firsts, err
	}
	steps := []struct {
		name       string
		cutAtCall  int
		want       RefreshResult
		wantFirsts []string // the first id of each page polled
		wantErr    bool
	}{
		{"cut off at the second page", 2, RefreshResult{Checked: 100}, []string{"p000", "p100"}, true},
		{"goes on from there to the end", 0, RefreshResult{Checked: 150}, []string{"p100", "p200"}, false},
		{"then starts over", 0, RefreshResult{Checked: n}, []string{"p000", "p100", "p200"}, false},
	}
	for _, st := range steps {
		r, firsts, err := run(st.cutAtCall)
		if r != st.want || !slices.Equal(firsts, st.wantFirsts) || (err != nil) != st.wantErr {
			t.Fatalf("%s: %+v, pages from %v, err %v; want %+v, pages from %v, err %v", st.name, r, firsts, err, st.want, st.wantFirsts, st.wantErr)
		}
	}
}

// TestStatusCounts: counts per UTC day and status, both ends inclusive; end before start is
// a field error.
func TestStatusCounts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.send(t)
	e.clock.t = t0.Add(24 * time.Hour)
	e.send(t)
	e.receive(t, ReceiveCommand{AccountID: "acc", From: "+14155550101", To: "+14155550100", Text: "hi"})
	got, err := e.g.StatusCounts(ctx, "acc", t0, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	d0, d1 := t0.UTC().Format(ports.DayLayout), t0.Add(24*time.Hour).UTC().Format(ports.DayLayout)
	want := map[string]map[message.Status]int{d0: {message.StatusQueued: 1}, d1: {message.StatusQueued: 1, message.StatusReceived: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	var fe *message.FieldError
	if _, err := e.g.StatusCounts(ctx, "acc", t0.Add(time.Second), t0); !errors.As(err, &fe) || fe.Field != "end" {
		t.Fatalf("end before start: %v, want a field error on end", err)
	}
}

func TestReceiveAndWebhook(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.prov.webhook = ports.WebhookResult{StatusCode: 200, Body: []byte("ok"),
		Inbound: []ports.InboundReport{{ProviderMessageID: "in1", From: "+14155550101", To: "+14155550100", Text: "hello"}}}
	for range 2 { // a repeated webhook stores the message once
		res, err := e.g.HandleWebhook(ctx, "loop", ports.WebhookRequest{Method: "POST", Path: "/inbound"})
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("webhook: %v %+v", err, res)
		}
	}
	if n := len(e.store.ids()); n != 1 {
		t.Fatalf("%d messages after a repeated webhook", n)
	}
	for _, id := range e.store.ids() {
		m := e.store.message(t, id)
		if m.Direction != message.Inbound || m.Status != message.StatusReceived || m.AccountID != "acc" || m.Text != "hello" {
			t.Fatalf("inbound %+v", m)
		}
	}
	if _, err := e.g.HandleWebhook(ctx, "nope", ports.WebhookRequest{}); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("unknown provider: %v", err)
	}
	e.store.failTx = fmt.Errorf("db: %w", ports.ErrUnavailable)
	if _, err := e.g.HandleWebhook(ctx, "loop", ports.WebhookRequest{}); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("webhook must fail (so the provider retries) when nothing could be stored: %v", err)
	}
}

func TestProviderRestartedReconciles(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	m := e.send(t)
	if _, err := e.dispatch(t, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	e.prov.polls = map[string]ports.StatusReport{"p1": {ProviderMessageID: "p1", Status: message.StatusDelivered}}
	if err := e.g.ProviderRestarted(ctx, "loop"); err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.GetMessage(ctx, "", m.ID)
	if got.Status != message.StatusDelivered {
		t.Fatalf("status after reconcile: %s", got.Status)
	}
	e.prov.polls = nil // a plugin without polling: nothing to do, no error
	if err := e.g.ProviderRestarted(ctx, "loop"); err != nil {
		t.Fatal(err)
	}
}

func TestReady(t *testing.T) {
	e := newEnv(t)
	if r := e.g.Ready(context.Background()); len(r) != 0 {
		t.Fatalf("ready reasons %v", r)
	}
	e.prov.healthy = false
	e.store.failTx = ports.ErrUnavailable
	want := []string{"store: unavailable", "route default: no healthy provider (loop)", "provider other: unhealthy"}
	if r := e.g.Ready(context.Background()); !slices.Equal(r, want) {
		t.Fatalf("reasons %q, want %q", r, want)
	}
}

func TestReadyWithFailover(t *testing.T) {
	tests := []struct {
		name string
		down []string
		want []string
	}{
		{"all up", nil, nil},
		{"primary down: the route still has its secondary", []string{"loop"}, nil},
		{"secondary down", []string{"other"}, nil},
		{"both down", []string{"loop", "other"}, []string{"route all: no healthy provider (loop, other)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFailoverEnv(t)
			e.prov.down = map[string]bool{}
			for _, p := range tt.down {
				e.prov.down[p] = true
			}
			if r := e.g.Ready(context.Background()); !slices.Equal(r, tt.want) {
				t.Fatalf("reasons %q, want %q", r, tt.want)
			}
		})
	}
}

func TestDispatchGroupJob(t *testing.T) {
	// Three messages accepted together share one job: each succeeds or fails on its own, and
	// the job is retried only for the one that failed transiently.
	e := newEnv(t)
	unavailable := &ports.ProviderError{Provider: "loop", Class: ports.ClassUnavailable, Message: "down"}
	e.prov.byText = map[string]sendAnswer{
		"ok":    {res: ports.SendResult{ProviderMessageID: "p-ok", Status: message.StatusSent}},
		"flaky": {err: unavailable},
		"bad":   {err: &ports.ProviderError{Provider: "loop", Class: ports.ClassInvalid, Message: "no such number"}},
	}
	ids := map[string]string{}
	for _, text := range []string{"ok", "flaky", "bad"} {
		m, err := e.g.Send(context.Background(), SendCommand{AccountID: "acc", From: "+14155550100", To: "+14155550101", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		ids[text] = m.ID
	}
	job := []string{ids["bad"], ids["ok"], ids["flaky"]}
	run := func(attempt int) (bool, error) {
		completed := false
		err := e.g.Dispatch(context.Background(), ports.DispatchAttempt{MessageIDs: job, Attempt: attempt, MaxAttempts: 3,
			Complete: func(context.Context, ports.Tx) error { completed = true; return nil }})
		return completed, err
	}
	status := func(text string) message.Status {
		m, err := e.store.GetMessage(context.Background(), "", ids[text])
		if err != nil {
			t.Fatal(err)
		}
		return m.Status
	}

	completed, err := run(1)
	if !errors.Is(err, ErrRetry) || completed {
		t.Fatalf("attempt 1: completed=%v err=%v, want a retry", completed, err)
	}
	if status("ok") != message.StatusSent || status("flaky") != message.StatusSending || status("bad") != message.StatusFailed {
		t.Fatalf("after attempt 1: ok=%s flaky=%s bad=%s", status("ok"), status("flaky"), status("bad"))
	}

	e.prov.byText["flaky"] = sendAnswer{res: ports.SendResult{ProviderMessageID: "p-flaky", Status: message.StatusSent}}
	completed, err = run(2)
	if err != nil || !completed {
		t.Fatalf("attempt 2: completed=%v err=%v", completed, err)
	}
	if status("flaky") != message.StatusSent {
		t.Fatalf("flaky ended %s", status("flaky"))
	}
	sends := map[string]int{}
	for _, m := range e.prov.sends {
		sends[m.Text]++
	}
	if sends["ok"] != 1 || sends["bad"] != 1 || sends["flaky"] != 2 {
		t.Fatalf("provider calls %v: only the transient failure may be sent again", sends)
	}
}

func TestAcceptGroupsJobsByProvider(t *testing.T) {
	e := newEnv(t)
	later := t0.Add(time.Hour)
	ms := []message.Message{
		e.g.newOutbound("acc", "ACME", "+14155550101", "a", []string{"loop"}, nil, nil, t0),
		e.g.newOutbound("acc", "ACME", "+14155550101", "b", []string{"other"}, nil, nil, t0),
		e.g.newOutbound("acc", "ACME", "+14155550101", "c", []string{"loop"}, nil, nil, t0),
		e.g.newOutbound("acc", "ACME", "+14155550101", "d", []string{"loop"}, nil, &later, t0),
	}
	if err := e.store.InTx(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		return e.g.insertOutbound(ctx, tx, ms)
	}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{ms[0].ID, ms[2].ID}, {ms[1].ID}, {ms[3].ID}}
	if len(e.jobs.jobs) != len(want) {
		t.Fatalf("jobs %+v", e.jobs.jobs)
	}
	for i, j := range e.jobs.jobs {
		if !slices.Equal(j.MessageIDs, want[i]) {
			t.Errorf("job %d: %v, want %v", i, j.MessageIDs, want[i])
		}
	}
	if !e.jobs.jobs[2].RunAt.Equal(later.Truncate(time.Microsecond)) {
		t.Errorf("scheduled job runs at %v", e.jobs.jobs[2].RunAt)
	}
}

// cancelingProviders ends the job's context during the send, like a job timeout would.
type cancelingProviders struct {
	*fakeProviders
	cancel context.CancelFunc
}

func (p cancelingProviders) Send(ctx context.Context, provider string, m message.Message) (ports.SendResult, error) {
	defer p.cancel()
	return p.fakeProviders.Send(ctx, provider, m)
}

func TestDispatchRecordsResultsAfterTheJobContextEnds(t *testing.T) {
	// The provider took the message, then the job's context ended: the provider id must still
	// be stored, or the retried job would send the message again.
	e := newEnv(t)
	m := e.send(t)
	ctx, cancel := context.WithCancel(context.Background())
	e.g.providers = cancelingProviders{fakeProviders: e.prov, cancel: cancel}
	completed := false
	err := e.g.Dispatch(ctx, ports.DispatchAttempt{MessageIDs: []string{m.ID}, Attempt: 1, MaxAttempts: 3,
		Complete: func(context.Context, ports.Tx) error { completed = true; return nil }})
	if err != nil || !completed {
		t.Fatalf("completed=%v err=%v", completed, err)
	}
	got, _ := e.store.GetMessage(context.Background(), "", m.ID)
	if got.ProviderMessageID != "p1" || got.Status != message.StatusSent {
		t.Fatalf("after a canceled job context: %s %q", got.Status, got.ProviderMessageID)
	}
}
