package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

const (
	numA = "+14155550100" // our number
	numB = "+14155550101" // a person
)

var testPolicy = optout.Policy{StopReply: "bye", StartReply: "welcome back", HelpReply: "reply STOP"}

func policyEnv(t *testing.T, limit int) *env {
	t.Helper()
	return newEnvWith(t, func(c *Config) {
		c.RateLimit = ratelimit.Window{Limit: limit, Period: time.Hour}
		c.OptOut = testPolicy
		c.LegacyStopTTL = 4 * time.Hour
	})
}

func (e *env) sendCmd(cmd SendCommand) (message.Message, error) {
	if cmd.AccountID == "" {
		cmd.AccountID = "acc"
	}
	if cmd.Text == "" {
		cmd.Text = "hi"
	}
	return e.g.Send(context.Background(), cmd)
}

func (e *env) receive(t *testing.T, cmd ReceiveCommand) message.Message {
	t.Helper()
	m, err := e.g.Receive(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Receive(%q): %v", cmd.Text, err)
	}
	return m
}

func (e *env) optedOut(t *testing.T, sender, recipient string) bool {
	t.Helper()
	var out bool
	if err := e.store.InTx(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.OptedOut(ctx, sender, recipient, e.clock.t)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// outboundTo lists the stored outbound messages to a number, oldest first.
func (e *env) outboundTo(t *testing.T, to string) []message.Message {
	t.Helper()
	var out []message.Message
	for _, id := range e.store.ids() {
		m, err := e.store.GetMessage(context.Background(), "", id)
		if err == nil && m.Direction == message.Outbound && m.To == to {
			out = append(out, m)
		}
	}
	return out
}

func TestRateLimit(t *testing.T) {
	e := policyEnv(t, 3)
	for i := range 3 {
		if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	e.clock.t = t0.Add(10 * time.Minute)
	_, err := e.sendCmd(SendCommand{From: numA, To: numB})
	rl, ok := AsRateLimited(err)
	if !ok || !errors.Is(err, ports.ErrRejected) {
		t.Fatalf("4th send: %v, want a RateLimitedError", err)
	}
	// The oldest hit (at t0, microsecond precision) leaves the window at t0+1h.
	if want := 50 * time.Minute; rl.RetryAfter.Round(time.Millisecond) != want || rl.Sender != numA {
		t.Errorf("refusal = %+v, want retry after %v", rl, want)
	}
	// Another sender has its own window; invalid sends count nothing.
	if _, err := e.sendCmd(SendCommand{From: "ACME", To: numB}); err != nil {
		t.Errorf("other sender: %v", err)
	}
	if _, err := e.sendCmd(SendCommand{From: numA, To: "12"}); !isField(err, "to") {
		t.Errorf("invalid send: %v, want a field error", err)
	}
	if got := len(e.outboundTo(t, numB)); got != 4 {
		t.Errorf("%d messages stored, want 4 (the refused one stores nothing)", got)
	}
	// Once the oldest hit has left the window, one more fits.
	e.clock.t = t0.Add(time.Hour + time.Second)
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

// An Unlimited send (the fastsmsing dialect, API.md §8.2) is neither counted against its
// sender's window nor refused by it, but still honours opt-outs.
func TestUnlimitedSendSkipsRateLimit(t *testing.T) {
	e := policyEnv(t, 1)
	for i := range 3 {
		if _, err := e.sendCmd(SendCommand{From: numA, To: numB, Unlimited: true}); err != nil {
			t.Fatalf("unlimited send %d: %v", i, err)
		}
	}
	// None of them counted: the window still has its one send.
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); err != nil {
		t.Fatalf("limited send after unlimited ones: %v", err)
	}
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); !isRateLimited(err) {
		t.Fatalf("second limited send: %v, want rate limited", err)
	}
	// A full window does not refuse them either.
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, Unlimited: true}); err != nil {
		t.Fatalf("unlimited send over a full window: %v", err)
	}
	if got := len(e.outboundTo(t, numB)); got != 5 {
		t.Errorf("%d messages stored, want 5", got)
	}
	if _, _, err := e.g.BlockPair(context.Background(), numA, numB); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, Unlimited: true}); !errors.Is(err, ErrOptedOut) {
		t.Errorf("unlimited send to a blocked pair: %v, want ErrOptedOut", err)
	}
}

func isField(err error, field string) bool {
	var fe *message.FieldError
	return errors.As(err, &fe) && fe.Field == field
}

func TestOptedOutSendIsRefusedAndCounts(t *testing.T) {
	e := policyEnv(t, 2)
	if _, _, err := e.g.BlockPair(context.Background(), numA, numB); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); !errors.Is(err, ErrOptedOut) {
			t.Fatalf("send %d: %v, want ErrOptedOut", i, err)
		}
	}
	if got := e.outboundTo(t, numB); len(got) != 0 {
		t.Errorf("refused sends stored %d messages", len(got))
	}
	// Both refusals counted: the next send, to someone else, is over the limit.
	if _, err := e.sendCmd(SendCommand{From: numA, To: "+14155550199"}); !isRateLimited(err) {
		t.Errorf("third send: %v, want rate limited (opt-out refusals count)", err)
	}
	// The block is one-way.
	if _, err := e.sendCmd(SendCommand{From: numB, To: numA}); err != nil {
		t.Errorf("reverse send: %v", err)
	}
}

func isRateLimited(err error) bool { _, ok := AsRateLimited(err); return ok }

func TestIgnoreOptOuts(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.IgnoreOptOuts = true })
	if _, _, err := e.g.BlockPair(context.Background(), numA, numB); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); err != nil {
		t.Errorf("send with opt-outs ignored: %v", err)
	}
}

func TestKeywords(t *testing.T) {
	tests := []struct {
		text      string
		blocked   bool   // numA→numB afterwards
		reply     string // text sent back to numB, "" for none
		preBlock  bool
		wantReply bool
	}{
		{text: "STOP", blocked: true, reply: "bye"},
		{text: " stop \r\n", blocked: true, reply: "bye"},
		{text: "ＵＮＳＵＢＳＣＲＩＢＥ", blocked: true, reply: "bye"},
		{text: "STOP please"},
		{text: "START", preBlock: true, reply: "welcome back"},
		{text: "unstop", preBlock: true, reply: "welcome back"},
		{text: "HELP", reply: "reply STOP"},
		{text: "info", preBlock: true, blocked: true}, // a HELP reply honours the block
		{text: "hello", preBlock: true, blocked: true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			e := policyEnv(t, 1)
			if tt.preBlock {
				if _, _, err := e.g.BlockPair(context.Background(), numA, numB); err != nil {
					t.Fatal(err)
				}
			}
			// Use up numA's rate limit: replies are not rate limited.
			if _, err := e.sendCmd(SendCommand{From: numA, To: "+14155550199"}); err != nil {
				t.Fatal(err)
			}
			e.receive(t, ReceiveCommand{Provider: "loop", From: numB, To: numA, Text: tt.text})
			if got := e.optedOut(t, numA, numB); got != tt.blocked {
				t.Errorf("blocked = %v, want %v", got, tt.blocked)
			}
			replies := e.outboundTo(t, numB)
			switch {
			case tt.reply == "" && len(replies) != 0:
				t.Errorf("replies = %v, want none", replies)
			case tt.reply != "" && (len(replies) != 1 || replies[0].Text != tt.reply || replies[0].From != numA ||
				replies[0].AccountID != "acc" || replies[0].Status != message.StatusQueued || replies[0].Provider != "loop"):
				t.Errorf("replies = %+v, want one %q from %s", replies, tt.reply, numA)
			}
			if tt.reply != "" && len(e.jobs.all()) != 2 {
				t.Errorf("jobs = %+v, want the reply's send job too", e.jobs.all())
			}
		})
	}
}

func TestKeywordRepeatIsNotReapplied(t *testing.T) {
	e := policyEnv(t, 0)
	in := ReceiveCommand{Provider: "loop", ProviderMessageID: "in-1", From: numB, To: numA, Text: "STOP"}
	e.receive(t, in)
	if err := e.g.LiftPair(context.Background(), numA, numB); err != nil {
		t.Fatal(err)
	}
	e.receive(t, in) // the provider retries its webhook
	if e.optedOut(t, numA, numB) {
		t.Error("a repeated inbound STOP blocked again")
	}
	if got := len(e.outboundTo(t, numB)); got != 1 {
		t.Errorf("%d replies, want 1", got)
	}
}

func TestKeywordExpiry(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.OptOut = optout.Policy{Expiry: time.Hour} })
	e.receive(t, ReceiveCommand{Provider: "loop", From: numB, To: numA, Text: "STOP"})
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); !errors.Is(err, ErrOptedOut) {
		t.Fatalf("send after STOP: %v", err)
	}
	if got := e.outboundTo(t, numB); len(got) != 0 {
		t.Errorf("empty stop_reply still sent %v", got)
	}
	e.clock.t = t0.Add(time.Hour)
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); err != nil {
		t.Errorf("send once the block expired: %v", err)
	}
}

func TestLegacyStop(t *testing.T) {
	tests := []struct {
		text    string
		blocked bool
	}{{"STOP", true}, {"  STOP\n", true}, {"stop", false}, {"Stop", false}, {"STOP please", false}, {"UNSUBSCRIBE", false}}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			e := policyEnv(t, 0)
			e.receive(t, ReceiveCommand{AccountID: "acc", From: "abcdef", To: "ghijkl", Text: tt.text, Keywords: LegacyStop})
			// Same direction: from → to.
			_, err := e.sendCmd(SendCommand{From: "abcdef", To: "ghijkl", Verbatim: true})
			if got := errors.Is(err, ErrOptedOut); got != tt.blocked {
				t.Errorf("send from→to: %v, blocked want %v", err, tt.blocked)
			}
			if got := e.optedOut(t, "ghijkl", "abcdef"); got {
				t.Error("legacy STOP blocked the reverse direction")
			}
			if got := e.outboundTo(t, "abcdef"); len(got) != 0 {
				t.Errorf("legacy STOP replied: %v", got)
			}
			if !tt.blocked {
				return
			}
			e.clock.t = t0.Add(4 * time.Hour)
			if _, err := e.sendCmd(SendCommand{From: "abcdef", To: "ghijkl", Verbatim: true}); err != nil {
				t.Errorf("send after stop_ttl: %v", err)
			}
		})
	}
}

func TestIdempotency(t *testing.T) {
	ctx := context.Background()
	e := policyEnv(t, 2)
	cmd := SendCommand{From: numA, To: numB, Text: "hi", IdempotencyKey: "k1", Tags: map[string]string{"a": "1", "b": "2"}}
	first, err := e.sendCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	// The same request (tags in another order make no difference) replays, counting nothing.
	cmd.Tags = map[string]string{"b": "2", "a": "1"}
	for range 3 {
		again, err := e.sendCmd(cmd)
		if err != nil || again.ID != first.ID {
			t.Fatalf("replay = %s, %v; want %s", again.ID, err, first.ID)
		}
	}
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB}); err != nil {
		t.Errorf("second real send (replays must not count): %v", err)
	}
	// A different request with the key is refused; another account's key is its own.
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, Text: "other", IdempotencyKey: "k1"}); !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Errorf("reused key: %v", err)
	}
	if _, err := e.sendCmd(SendCommand{AccountID: "acc2", From: "ACME", To: numB, IdempotencyKey: "k1"}); err != nil {
		t.Errorf("other account's key: %v", err)
	}
	// A refusal stores nothing: the key is judged afresh next time.
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, IdempotencyKey: "k2"}); !isRateLimited(err) {
		t.Fatalf("over the limit: %v", err)
	}
	e.clock.t = t0.Add(2 * time.Hour)
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, IdempotencyKey: "k2"}); err != nil {
		t.Errorf("retry of a refused key: %v", err)
	}
	// A claim still in flight answers 409.
	rec := ports.IdempotencyRecord{AccountID: "acc", Key: "k3", RequestHash: requestHash(SendCommand{AccountID: "acc", From: numA, To: numB, Text: "hi"}),
		MessageID: "in-flight", CreatedAt: e.clock.t, LeaseUntil: e.clock.t.Add(time.Minute)}
	if _, claimed, err := e.store.ClaimIdempotencyKey(ctx, rec, 24*time.Hour); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, IdempotencyKey: "k3"}); !errors.Is(err, ErrIdempotencyKeyInUse) {
		t.Errorf("key in flight: %v", err)
	}
	// ... until its lease runs out (its request died): then this one takes over.
	e.clock.t = e.clock.t.Add(time.Minute + time.Second)
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, IdempotencyKey: "k3"}); err != nil {
		t.Errorf("after the lease: %v", err)
	}
	long := make([]byte, MaxIdempotencyKey+1)
	for i := range long {
		long[i] = 'k'
	}
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, IdempotencyKey: string(long)}); !isField(err, "Idempotency-Key") {
		t.Errorf("long key: %v", err)
	}
}

func TestIdempotencyKeyFreedWhenStoreFails(t *testing.T) {
	e := policyEnv(t, 0)
	e.store.failOnce = ports.ErrUnavailable // the accept transaction fails; the claim stood
	_, err := e.sendCmd(SendCommand{From: numA, To: numB, IdempotencyKey: "k"})
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("send on a failing store: %v", err)
	}
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, IdempotencyKey: "k"}); err != nil {
		t.Errorf("retry after the store recovered: %v", err)
	}
}

// TestAdmitGroup checks the decisions of one group transaction: of two sends of one sender
// with room for one, the first gets it; an opted-out send counts; the others are unaffected.
func TestAdmitGroup(t *testing.T) {
	e := policyEnv(t, 1)
	if _, _, err := e.g.BlockPair(context.Background(), "ACME", numB); err != nil {
		t.Fatal(err)
	}
	mk := func(from, to string) admission {
		return admission{m: e.g.newOutbound("acc", from, to, "x", []string{"loop"}, nil, nil, e.g.now()), rateLimited: true, checkOptOut: true}
	}
	group := []admission{mk(numA, numB), mk(numA, numB), mk("ACME", numB), mk("ACME", "+14155550199"), mk("+14155550150", numB)}
	var refusals []error
	if err := e.store.InTx(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		refusals, err = e.g.admit(ctx, tx, group)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"", "rate", "optout", "rate", ""}
	for i, r := range refusals {
		got := ""
		switch {
		case isRateLimited(r):
			got = "rate"
		case errors.Is(r, ErrOptedOut):
			got = "optout"
		case r != nil:
			got = r.Error()
		}
		if got != want[i] {
			t.Errorf("admission %d: %q, want %q", i, got, want[i])
		}
	}
	if jobs := e.jobs.all(); len(jobs) != 1 || len(jobs[0].MessageIDs) != 2 {
		t.Errorf("jobs = %+v, want one job with the 2 accepted messages", jobs)
	}
}

func TestSweep(t *testing.T) {
	e := policyEnv(t, 5)
	e.receive(t, ReceiveCommand{AccountID: "acc", From: "abcdef", To: "ghijkl", Text: "STOP", Keywords: LegacyStop})
	if _, err := e.sendCmd(SendCommand{From: numA, To: numB, IdempotencyKey: "k"}); err != nil {
		t.Fatal(err)
	}
	e.clock.t = t0.Add(25 * time.Hour)
	r, err := e.g.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r != (SweepResult{OptOuts: 1, RateLogs: 1, IdempotencyKeys: 1}) {
		t.Errorf("Sweep = %+v, want one of each", r)
	}
}

// TestOptOutOfDigitsOnlyRecipient: a dialect's send to international digits without the "+"
// is refused by the block recorded under the E.164 number; other verbatim forms are not
// rewritten.
func TestOptOutOfDigitsOnlyRecipient(t *testing.T) {
	e := policyEnv(t, 0)
	if _, _, err := e.g.BlockPair(context.Background(), "FASTSMS", numB); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to      string
		blocked bool
	}{
		{numB[1:], true},          // 14155550101
		{numB, true},              // +14155550101
		{"0014155550101", false},  // not the same digits once a "+" is put in front
		{"1415555010", false},     // another number
		{"1 415 555 0101", false}, // not digits only: passed through as given, not rewritten
	} {
		_, err := e.sendCmd(SendCommand{From: "FASTSMS", To: tc.to, Verbatim: true, Unlimited: true})
		if got := errors.Is(err, ErrOptedOut); got != tc.blocked {
			t.Errorf("send to %q: %v, blocked want %v", tc.to, err, tc.blocked)
		}
	}
}
