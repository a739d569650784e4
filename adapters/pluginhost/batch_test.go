package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/ports"
)

// fakeFlush hands every batch to the test, which answers it when it chooses.
type fakeFlush struct {
	calls chan flushCall
}

type flushCall struct {
	msgs  []sdk.OutboundMessage
	reply chan struct{}
}

func (f *fakeFlush) flush(ctx context.Context, msgs []sdk.OutboundMessage) []outcome {
	c := flushCall{msgs: msgs, reply: make(chan struct{})}
	f.calls <- c
	outs := make([]outcome, len(msgs))
	select {
	case <-c.reply:
		for i, m := range msgs {
			outs[i].res = ports.SendResult{ProviderMessageID: "p-" + m.ID}
		}
	case <-ctx.Done():
		for i := range outs {
			outs[i].err = ambiguous("fake", ctx.Err())
		}
	}
	return outs
}

// next waits for the next batch.
func (f *fakeFlush) next(t *testing.T) flushCall {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no batch was flushed")
		return flushCall{}
	}
}

func (f *fakeFlush) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.calls:
		t.Fatalf("unexpected batch of %d", len(c.msgs))
	default:
	}
}

func startBatcher(t *testing.T, limit int, linger time.Duration) (*batcher, *fakeFlush) {
	t.Helper()
	f := &fakeFlush{calls: make(chan flushCall)}
	b := newBatcher("fake", func() int { return limit }, linger, f.flush)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return b, f
}

type submitResult struct {
	id  string
	res ports.SendResult
	err error
}

// submitAsync submits messages id-0 .. id-(n-1) concurrently.
func submitAsync(ctx context.Context, b *batcher, prefix string, n int) <-chan submitResult {
	out := make(chan submitResult, n)
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		go func() {
			res, err := b.submit(ctx, sdk.OutboundMessage{ID: id})
			out <- submitResult{id, res, err}
		}()
	}
	return out
}

// waitQueued polls until n messages are queued (they arrive from goroutines).
func waitQueued(t *testing.T, b *batcher, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		got := len(b.queue)
		b.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond) // polling a condition, not timing the code under test
	}
}

func collect(t *testing.T, ch <-chan submitResult, n int) []submitResult {
	t.Helper()
	var out []submitResult
	for range n {
		select {
		case r := <-ch:
			out = append(out, r)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d sends answered", len(out), n)
		}
	}
	return out
}

func TestBatcherLingerZeroGroupsWhileSlotsAreBusy(t *testing.T) {
	b, f := startBatcher(t, 100, 0)
	ctx := context.Background()

	// With linger 0 the first messages leave alone, at once: no added latency.
	first := submitAsync(ctx, b, "first", 1)
	var busy []flushCall
	busy = append(busy, f.next(t))
	if len(busy[0].msgs) != 1 {
		t.Fatalf("first batch has %d messages, want 1", len(busy[0].msgs))
	}
	solo := make([]<-chan submitResult, 0, maxInFlight-1)
	for i := 1; i < maxInFlight; i++ {
		solo = append(solo, submitAsync(ctx, b, fmt.Sprintf("solo%d", i), 1))
		busy = append(busy, f.next(t))
	}
	// Every slot is busy now: concurrent sends queue up, up to the limit and beyond.
	rest := submitAsync(ctx, b, "rest", 150)
	waitQueued(t, b, 150)
	f.none(t)

	close(busy[0].reply)
	c := f.next(t)
	if len(c.msgs) != 100 {
		t.Fatalf("batch after a slot freed has %d messages, want 100 (the limit)", len(c.msgs))
	}
	close(c.reply)
	c = f.next(t)
	if len(c.msgs) != 50 {
		t.Fatalf("next batch has %d messages, want the 50 left", len(c.msgs))
	}
	close(c.reply)
	for _, bc := range busy[1:] {
		close(bc.reply)
	}
	for _, r := range append(collect(t, first, 1), collect(t, rest, 150)...) {
		if r.err != nil || r.res.ProviderMessageID != "p-"+r.id {
			t.Errorf("send %s = %+v, %v", r.id, r.res, r.err)
		}
	}
	for _, s := range solo {
		collect(t, s, 1)
	}
}

func TestBatcherFullBatchDoesNotWaitForLinger(t *testing.T) {
	b, f := startBatcher(t, 10, time.Hour)
	res := submitAsync(context.Background(), b, "m", 25)
	for _, want := range []int{10, 10} {
		c := f.next(t)
		if len(c.msgs) != want {
			t.Fatalf("batch of %d, want %d", len(c.msgs), want)
		}
		close(c.reply)
	}
	// The 5 left wait for their linger (an hour): not flushed.
	waitQueued(t, b, 5)
	f.none(t)
	collect(t, res, 20)
}

func TestBatcherPartialBatchLeavesAfterLinger(t *testing.T) {
	b, f := startBatcher(t, 100, 20*time.Millisecond)
	start := time.Now()
	res := submitAsync(context.Background(), b, "m", 3)
	c := f.next(t)
	if len(c.msgs) == 0 || len(c.msgs) > 3 {
		t.Fatalf("batch of %d", len(c.msgs))
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("partial batch left after %v, before its linger", waited)
	}
	close(c.reply)
	got := len(c.msgs)
	for got < 3 { // a straggler may have missed the first batch; it gets its own linger
		c := f.next(t)
		got += len(c.msgs)
		close(c.reply)
	}
	collect(t, res, 3)
}

func TestBatcherCancelledBeforeFlushLeavesTheQueue(t *testing.T) {
	b, f := startBatcher(t, 3, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	gone := submitAsync(ctx, b, "gone", 1)
	waitQueued(t, b, 1)
	cancel()
	r := collect(t, gone, 1)[0]
	var perr *ports.ProviderError
	if !errors.As(r.err, &perr) || perr.Class != ports.ClassUnavailable || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled send = %v, want ClassUnavailable wrapping context.Canceled", r.err)
	}
	waitQueued(t, b, 0)

	kept := submitAsync(context.Background(), b, "kept", 3)
	c := f.next(t)
	for _, m := range c.msgs {
		if m.ID == "gone-0" {
			t.Fatal("a cancelled message was sent")
		}
	}
	if len(c.msgs) != 3 {
		t.Fatalf("batch of %d, want 3", len(c.msgs))
	}
	close(c.reply)
	collect(t, kept, 3)
}

func TestBatcherCancelledInFlightIsAmbiguous(t *testing.T) {
	b, f := startBatcher(t, 10, 0)
	ctx, cancel := context.WithCancel(context.Background())
	res := submitAsync(ctx, b, "m", 1)
	c := f.next(t) // in the plugin now
	cancel()
	r := collect(t, res, 1)[0]
	var perr *ports.ProviderError
	if !errors.As(r.err, &perr) || perr.Class != ports.ClassAmbiguous {
		t.Fatalf("send cancelled in flight = %v, want ClassAmbiguous", r.err)
	}
	close(c.reply)
}

func TestBatcherShutdownAnswersQueued(t *testing.T) {
	f := &fakeFlush{calls: make(chan flushCall)}
	b := newBatcher("fake", func() int { return 10 }, time.Hour, f.flush)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { b.run(ctx) })
	res := submitAsync(context.Background(), b, "m", 2)
	waitQueued(t, b, 2)
	cancel()
	wg.Wait()
	for _, r := range collect(t, res, 2) {
		if !errors.Is(r.err, ports.ErrUnavailable) {
			t.Errorf("queued send at shutdown = %v, want unavailable", r.err)
		}
	}
	if _, err := b.submit(context.Background(), sdk.OutboundMessage{ID: "late"}); !errors.Is(err, errHostClosed) {
		t.Errorf("send after shutdown = %v, want errHostClosed", err)
	}
}
