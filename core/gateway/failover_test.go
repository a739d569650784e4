package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
)

// newFailoverEnv is an env whose one route sends everything to "loop", then "other"; loop's
// breaker opens after 2 failures and cools down for 10 s.
func newFailoverEnv(t *testing.T) *env {
	t.Helper()
	r, err := routing.New([]string{"loop", "other"}, []routing.Rule{{Name: "all", Providers: []string{"loop", "other"}}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: newMemStore(), jobs: &memJobs{}, clock: &fixedClock{t0},
		prov: &fakeProviders{healthy: true, results: []sendAnswer{{res: ports.SendResult{ProviderMessageID: "p1", Status: message.StatusSent}}}}}
	cfg := Config{
		Policies: map[string]ProviderPolicy{"loop": {MaxAttempts: 3, Backoff: time.Second}, "other": {MaxAttempts: 4, Backoff: 2 * time.Second}},
		Breakers: map[string]routing.BreakerPolicy{"loop": {Failures: 2, Cooldown: 10 * time.Second}},
	}
	e.g = New(Deps{Store: e.store, Jobs: e.jobs, Providers: e.prov, Clock: e.clock, IDs: &seqIDs{}, Router: r, Config: cfg})
	return e
}

// run runs one attempt of job for the given provider and reports whether it completed.
func (e *env) run(t *testing.T, provider string, ids []string, attempt, maxAttempts int) (bool, error) {
	t.Helper()
	var completed bool
	err := e.g.Dispatch(context.Background(), ports.DispatchAttempt{Provider: provider, MessageIDs: ids, Attempt: attempt, MaxAttempts: maxAttempts,
		Complete: func(context.Context, ports.Tx) error { completed = true; return nil }})
	return completed, err
}

func (e *env) message(t *testing.T, id string) message.Message {
	t.Helper()
	m, err := e.store.GetMessage(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func lastDetail(m message.Message) string { return m.Events[len(m.Events)-1].Detail }

func perr(class ports.ErrorClass) sendAnswer {
	return sendAnswer{err: &ports.ProviderError{Provider: "loop", Class: class, Message: "x"}}
}

func TestFailover(t *testing.T) {
	tests := []struct {
		name      string
		answer    sendAnswer // loop's answer
		down      bool       // loop is unhealthy
		attempt   int        // of 3
		wantRetry bool
		// wantProvider is the message's provider after the run; "other" means it failed over.
		wantProvider string
		wantStatus   message.Status
		wantDetail   string // substring of the last event
		wantLoopCall bool
	}{
		{"unavailable with attempts left retries on the primary", perr(ports.ClassUnavailable), false, 2, true, "loop", message.StatusSending, "attempt 2 via loop failed: unavailable", true},
		{"unavailable after the retries fails over", perr(ports.ClassUnavailable), false, 3, false, "other", message.StatusSending, "attempt 3 via loop failed: unavailable; failing over to other", true},
		{"rate limited after the retries fails over", perr(ports.ClassRateLimited), false, 3, false, "other", message.StatusSending, "failing over to other", true},
		{"auth fails over at once", perr(ports.ClassAuth), false, 1, false, "other", message.StatusSending, "attempt 1 via loop failed: auth; failing over to other", true},
		{"credit fails over at once", perr(ports.ClassCredit), false, 1, false, "other", message.StatusSending, "failing over to other", true},
		{"ambiguous after the retries never fails over", perr(ports.ClassAmbiguous), false, 3, false, "loop", message.StatusFailed, "via loop: ambiguous", true},
		{"ambiguous with attempts left retries", perr(ports.ClassAmbiguous), false, 1, true, "loop", message.StatusSending, "attempt 1 via loop failed: ambiguous", true},
		{"invalid fails at once", perr(ports.ClassInvalid), false, 1, false, "loop", message.StatusFailed, "via loop: invalid", true},
		{"rejected fails at once", perr(ports.ClassRejected), false, 1, false, "loop", message.StatusFailed, "via loop: rejected", true},
		{"unhealthy primary is skipped", sendAnswer{}, true, 1, false, "other", message.StatusSending, "loop skipped (unhealthy); failing over to other", false},
		{"success stays", sendAnswer{res: ports.SendResult{ProviderMessageID: "p9", Status: message.StatusSent}}, false, 1, false, "loop", message.StatusSent, "via loop", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFailoverEnv(t)
			// A breaker that stays closed through the retries: these rows are about the
			// failover rules (TestBreakerRoutesAroundPrimary is about the breaker).
			e.g.breakers = routing.NewBreakers([]string{"loop", "other"}, map[string]routing.BreakerPolicy{"loop": {Failures: 10}})
			e.prov.byProvider = map[string]sendAnswer{"loop": tt.answer}
			e.prov.down = map[string]bool{"loop": tt.down}
			m := e.send(t)
			if !slices.Equal(m.Route, []string{"loop", "other"}) {
				t.Fatalf("route %v", m.Route)
			}
			// The attempts before this one, as the job made them (each leaves its note).
			for k := 1; k < tt.attempt; k++ {
				if _, err := e.run(t, "loop", []string{m.ID}, k, 3); err == nil {
					t.Fatalf("attempt %d was not retried", k)
				}
			}
			before := len(e.jobs.all())
			completed, err := e.run(t, "loop", []string{m.ID}, tt.attempt, 3)
			if gotRetry := err != nil; gotRetry != tt.wantRetry || completed == tt.wantRetry {
				t.Fatalf("err = %v, completed = %v; want retry %v", err, completed, tt.wantRetry)
			}
			got := e.message(t, m.ID)
			if got.Provider != tt.wantProvider || got.Status != tt.wantStatus || !strings.Contains(lastDetail(got), tt.wantDetail) {
				t.Fatalf("message at %s/%s, last event %q; want %s/%s with %q", got.Provider, got.Status, lastDetail(got), tt.wantProvider, tt.wantStatus, tt.wantDetail)
			}
			if called := slices.Contains(e.prov.sentTo(), "loop"); called != tt.wantLoopCall {
				t.Fatalf("loop called = %v, want %v", called, tt.wantLoopCall)
			}
			jobs := e.jobs.all()[before:]
			if tt.wantProvider != "other" {
				if len(jobs) != 0 {
					t.Fatalf("enqueued %+v without a failover", jobs)
				}
				return
			}
			want := ports.SendJob{Provider: "other", MessageIDs: []string{m.ID}, MaxAttempts: 4, Backoff: 2 * time.Second}
			if len(jobs) != 1 || !jobEqual(jobs[0], want) {
				t.Fatalf("failover jobs %+v, want [%+v]", jobs, want)
			}
			// The failover job delivers through other; a rerun of loop's job sends nothing.
			e.prov.byProvider["other"] = sendAnswer{res: ports.SendResult{ProviderMessageID: "o1", Status: message.StatusSent}}
			if completed, err := e.run(t, "other", jobs[0].MessageIDs, 1, 4); err != nil || !completed {
				t.Fatalf("failover job: completed %v, err %v", completed, err)
			}
			got = e.message(t, m.ID)
			if got.Status != message.StatusSent || got.Provider != "other" || got.ProviderMessageID != "o1" || lastDetail(got) != "via other" {
				t.Fatalf("after failover: %+v", got)
			}
			calls := len(e.prov.sentTo())
			if completed, err := e.run(t, "loop", []string{m.ID}, tt.attempt, 3); err != nil || !completed {
				t.Fatalf("rerun of loop's job: completed %v, err %v", completed, err)
			}
			if len(e.prov.sentTo()) != calls {
				t.Fatal("the primary's job sent a message that had failed over")
			}
		})
	}
}

func jobEqual(a, b ports.SendJob) bool {
	return a.Provider == b.Provider && slices.Equal(a.MessageIDs, b.MessageIDs) && a.MaxAttempts == b.MaxAttempts && a.Backoff == b.Backoff && a.RunAt.Equal(b.RunAt)
}

func TestFailoverGroupsMessagesPerProvider(t *testing.T) {
	e := newFailoverEnv(t)
	e.prov.byProvider = map[string]sendAnswer{"loop": perr(ports.ClassUnavailable)}
	var ids []string
	for range 3 {
		ids = append(ids, e.send(t).ID)
	}
	for k := 1; k <= 3; k++ {
		if _, err := e.run(t, "loop", ids, k, 3); (err == nil) != (k == 3) {
			t.Fatalf("attempt %d: %v", k, err)
		}
	}
	jobs := e.jobs.all()
	last := jobs[len(jobs)-1]
	if last.Provider != "other" || !slices.Equal(last.MessageIDs, ids) {
		t.Fatalf("failover job %+v, want one job for other with %v", last, ids)
	}
}

func TestBreakerRoutesAroundPrimary(t *testing.T) {
	e := newFailoverEnv(t)
	var changes []string
	e.g.breakerChanged = func(p string, to routing.BreakerState) { changes = append(changes, p+" "+string(to)) }
	ctx := context.Background()
	breaker := func() string {
		for _, p := range e.g.Providers(ctx) {
			if p.Name == "loop" {
				return p.Breaker
			}
		}
		t.Fatal("loop not listed")
		return ""
	}
	e.prov.byProvider = map[string]sendAnswer{
		"loop":  perr(ports.ClassUnavailable),
		"other": {res: ports.SendResult{ProviderMessageID: "o", Status: message.StatusSent}},
	}
	// Two failed sends (with attempts left: each counts) open loop's breaker.
	for i := range 2 {
		if breaker() != "closed" {
			t.Fatalf("breaker %s after %d failure(s)", breaker(), i)
		}
		m := e.send(t)
		if _, err := e.run(t, "loop", []string{m.ID}, 1, 3); err == nil {
			t.Fatal("no retry")
		}
	}
	if breaker() != "open" {
		t.Fatalf("breaker %s after 2 failures, want open", breaker())
	}
	// Open: a new message is not handed to loop but goes straight to other.
	calls := len(e.prov.sentTo())
	m := e.send(t)
	if completed, err := e.run(t, "loop", []string{m.ID}, 1, 3); err != nil || !completed {
		t.Fatalf("completed %v, err %v", completed, err)
	}
	if len(e.prov.sentTo()) != calls {
		t.Fatal("loop was called with its breaker open")
	}
	if got := e.message(t, m.ID); got.Provider != "other" || lastDetail(got) != "loop skipped (breaker open); failing over to other" {
		t.Fatalf("message %s, %q", got.Provider, lastDetail(got))
	}
	// A message with nowhere else to go is still tried on loop.
	lone, err := e.g.Send(ctx, SendCommand{AccountID: "acc", From: "+14155550100", To: "+14155550101", Text: "x", Provider: "loop"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(t, "loop", []string{lone.ID}, 1, 3); err == nil {
		t.Fatal("the lone message was not retried")
	}
	if got := e.prov.sentTo(); got[len(got)-1] != "loop" || len(got) != calls+1 {
		t.Fatalf("sends %v: the lone message did not go to loop", got)
	}

	// After the cool-down the breaker is half-open; the primary is back: the next message
	// is the trial, goes to loop, and closes the breaker.
	e.clock.t = e.clock.t.Add(10 * time.Second)
	if breaker() != "half_open" {
		t.Fatalf("breaker %s after the cool-down, want half_open", breaker())
	}
	e.prov.byProvider["loop"] = sendAnswer{res: ports.SendResult{ProviderMessageID: "l", Status: message.StatusSent}}
	m = e.send(t)
	if completed, err := e.run(t, "loop", []string{m.ID}, 1, 3); err != nil || !completed {
		t.Fatalf("trial: completed %v, err %v", completed, err)
	}
	if got := e.message(t, m.ID); got.Provider != "loop" || got.Status != message.StatusSent {
		t.Fatalf("trial message at %s/%s", got.Provider, got.Status)
	}
	if breaker() != "closed" {
		t.Fatalf("breaker %s after a successful trial, want closed", breaker())
	}
	if want := []string{"loop open", "loop closed"}; !slices.Equal(changes, want) {
		t.Fatalf("breaker changes %v, want %v", changes, want)
	}
}

func TestBreakerIgnoresMessageRefusalsAndThrottling(t *testing.T) {
	for _, class := range []ports.ErrorClass{ports.ClassInvalid, ports.ClassRejected, ports.ClassRateLimited} {
		t.Run(string(class), func(t *testing.T) {
			e := newFailoverEnv(t)
			e.prov.byProvider = map[string]sendAnswer{"loop": perr(class)}
			for range 3 {
				m := e.send(t)
				_, _ = e.run(t, "loop", []string{m.ID}, 1, 3)
			}
			for _, p := range e.g.Providers(context.Background()) {
				if p.Name == "loop" && p.Breaker != "closed" {
					t.Fatalf("breaker %s after 3 × %s", p.Breaker, class)
				}
			}
		})
	}
}

func TestAmbiguousAttemptPinsTheMessage(t *testing.T) {
	// Once an attempt on loop was ambiguous, loop may have the message: it is never handed
	// to other, whatever happens next.
	tests := []struct {
		name  string
		then  func(e *env)
		after sendAnswer // loop's answer to the later attempt
		want  message.Status
	}{
		{"loop unhealthy at the retry", func(e *env) { e.prov.down = map[string]bool{"loop": true} }, perr(ports.ClassUnavailable), message.StatusFailed},
		{"loop's breaker open at the retry", func(e *env) {
			e.g.breakers.For("loop").Failure(e.clock.t)
			e.g.breakers.For("loop").Failure(e.clock.t)
		}, perr(ports.ClassUnavailable), message.StatusFailed},
		{"a later unavailable after the retries", func(*env) {}, perr(ports.ClassUnavailable), message.StatusFailed},
		{"a later auth refusal", func(*env) {}, perr(ports.ClassAuth), message.StatusFailed},
		{"a later success", func(*env) {}, sendAnswer{res: ports.SendResult{ProviderMessageID: "l", Status: message.StatusSent}}, message.StatusSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFailoverEnv(t)
			e.prov.byProvider = map[string]sendAnswer{"loop": perr(ports.ClassAmbiguous)}
			m := e.send(t)
			if _, err := e.run(t, "loop", []string{m.ID}, 1, 3); err == nil {
				t.Fatal("ambiguous attempt not retried")
			}
			tt.then(e)
			e.prov.byProvider["loop"] = tt.after
			calls := len(e.prov.sentTo())
			before := len(e.jobs.all())
			_, _ = e.run(t, "loop", []string{m.ID}, 3, 3)
			got := e.message(t, m.ID)
			if got.Provider != "loop" || got.Status != tt.want {
				t.Fatalf("message %s/%s (last event %q), want loop/%s", got.Provider, got.Status, lastDetail(got), tt.want)
			}
			if len(e.prov.sentTo()) != calls+1 {
				t.Fatal("the pinned message was not tried on loop")
			}
			if jobs := e.jobs.all()[before:]; len(jobs) != 0 {
				t.Fatalf("enqueued %+v for a message loop may have sent", jobs)
			}
		})
	}
}

func TestAttemptWithoutOutcomePinsTheMessage(t *testing.T) {
	// Attempt 2 of loop's job finds no note of attempt 1: that run died after it may have
	// handed the message to loop (a gateway killed mid-send, its job rescued). So even with
	// loop unhealthy the message is not failed over but tried on loop again.
	e := newFailoverEnv(t)
	m := e.send(t)
	if _, err := e.g.claim(context.Background(), []string{m.ID}, ports.DispatchAttempt{Provider: "loop", Attempt: 1, MaxAttempts: 3}); err != nil {
		t.Fatal(err) // attempt 1 claimed it (sending), then "died"
	}
	e.prov.down = map[string]bool{"loop": true}
	e.prov.byProvider = map[string]sendAnswer{"loop": perr(ports.ClassUnavailable)}
	before := len(e.jobs.all())
	if _, err := e.run(t, "loop", []string{m.ID}, 2, 3); err == nil {
		t.Fatal("not retried")
	}
	got := e.message(t, m.ID)
	if got.Provider != "loop" || !slices.Contains(e.prov.sentTo(), "loop") || len(e.jobs.all()) != before {
		t.Fatalf("message at %s (last event %q), loop called %v: want it kept on loop", got.Provider, lastDetail(got), e.prov.sentTo())
	}
	// Attempt 2's note does not say what attempt 1 did: the message stays pinned for good,
	// and fails on loop after its last attempt.
	if _, err := e.run(t, "loop", []string{m.ID}, 3, 3); err != nil {
		t.Fatal(err)
	}
	if got := e.message(t, m.ID); got.Provider != "loop" || got.Status != message.StatusFailed || len(e.jobs.all()) != before {
		t.Fatalf("after attempt 3: %s/%s, last event %q; want failed on loop, no failover", got.Provider, got.Status, lastDetail(got))
	}
}

func TestSkippedMessagePinnedMeanwhileIsRetried(t *testing.T) {
	// Two runs of one job at once (a rescue while the first run lives): this run finds loop
	// unhealthy and skips the message, but before it records, the other run noted an
	// ambiguous attempt on loop. The message may be at loop now: this run neither fails it
	// over nor completes the job under the other run, but asks for a retry.
	e := newFailoverEnv(t)
	m := e.send(t)
	e.prov.down = map[string]bool{"loop": true}
	e.prov.onHealthy = func(string) {
		err := e.store.InTx(context.Background(), func(ctx context.Context, tx ports.Tx) error {
			cur, err := tx.GetMessageForUpdate(ctx, m.ID)
			if err != nil {
				return err
			}
			u := attemptNoted(cur, attemptFailed(1, "loop", ports.ClassAmbiguous), e.clock.t)
			return tx.UpdateMessage(ctx, u.Message, u.NewEvents...)
		})
		if err != nil {
			t.Error(err)
		}
	}
	before := len(e.jobs.all())
	completed, err := e.run(t, "loop", []string{m.ID}, 1, 3)
	if err == nil || completed {
		t.Fatalf("completed %v, err %v: want a retry", completed, err)
	}
	if got := e.message(t, m.ID); got.Provider != "loop" || len(e.jobs.all()) != before {
		t.Fatalf("message at %s, %d new job(s): want it left on loop", got.Provider, len(e.jobs.all())-before)
	}
}

func TestBreakerCountsADispatchOnce(t *testing.T) {
	// One failed call of a batch of three messages is one failure: loop's breaker (2
	// failures) stays closed, and opens at the second failed dispatch.
	e := newFailoverEnv(t)
	e.prov.byProvider = map[string]sendAnswer{"loop": perr(ports.ClassUnavailable)}
	state := func() routing.BreakerState { return e.g.breakers.For("loop").State(e.clock.t) }
	var ids []string
	for range 3 {
		ids = append(ids, e.send(t).ID)
	}
	_, _ = e.run(t, "loop", ids, 1, 3)
	if state() != routing.BreakerClosed {
		t.Fatalf("breaker %s after one failed dispatch of 3 messages", state())
	}
	_, _ = e.run(t, "loop", ids, 2, 3)
	if state() != routing.BreakerOpen {
		t.Fatalf("breaker %s after two failed dispatches", state())
	}
	// A dispatch where loop answered one message and failed another is a success.
	e2 := newFailoverEnv(t)
	e2.prov.byProvider = nil
	e2.prov.byText = map[string]sendAnswer{"ok": {res: ports.SendResult{ProviderMessageID: "x", Status: message.StatusSent}}, "down": perr(ports.ClassUnavailable)}
	for range 2 {
		a, _ := e2.g.Send(context.Background(), SendCommand{AccountID: "acc", From: "+14155550100", To: "+14155550101", Text: "ok"})
		b, _ := e2.g.Send(context.Background(), SendCommand{AccountID: "acc", From: "+14155550100", To: "+14155550102", Text: "down"})
		_, _ = e2.run(t, "loop", []string{a.ID, b.ID}, 1, 3)
	}
	if s := e2.g.breakers.For("loop").State(e2.clock.t); s != routing.BreakerClosed {
		t.Fatalf("breaker %s after dispatches the provider half answered", s)
	}
}
