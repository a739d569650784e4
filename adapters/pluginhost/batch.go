package pluginhost

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/ports"
)

// maxInFlight is how many batches of one provider may be in the plugin at once. While every
// slot is busy, concurrent sends queue up and leave together in the next batch: that is what
// turns concurrency into batches even with linger 0, at no added latency when the provider is
// idle. Four keeps a slow provider API busy without giving up batching.
const maxInFlight = 4

var errHostClosed = errors.New("plugin host is shutting down")

// outcome is what one message of a batch came to.
type outcome struct {
	res ports.SendResult
	err error
}

// flushFunc sends one batch and returns exactly one outcome per message, in order.
type flushFunc func(ctx context.Context, msgs []sdk.OutboundMessage) []outcome

// batcher groups concurrent sends to one provider. A batch leaves when it is full (limit
// messages), when the first message in it has waited linger, or at once when linger is 0 —
// in each case as soon as one of the maxInFlight slots is free. A caller that gives up before
// its message left takes the message out; one that gives up later gets ClassAmbiguous.
type batcher struct {
	provider string
	limit    func() int // read per batch: a restarted plugin may announce another max_batch
	linger   time.Duration
	flush    flushFunc

	wake  chan struct{} // cap 1: the queue changed or a slot freed
	slots chan struct{} // one token per batch in flight

	mu     sync.Mutex
	queue  []*pending
	closed bool
}

type pending struct {
	msg   sdk.OutboundMessage
	ctx   context.Context
	at    time.Time
	taken bool         // left the queue (in a batch, or answered); guarded by batcher.mu
	done  chan outcome // cap 1, so nobody blocks on a caller that left
}

func newBatcher(provider string, limit func() int, linger time.Duration, flush flushFunc) *batcher {
	return &batcher{
		provider: provider,
		limit:    limit,
		linger:   linger,
		flush:    flush,
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, maxInFlight),
	}
}

func (b *batcher) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// submit queues msg and waits for its batch's answer or for ctx.
func (b *batcher) submit(ctx context.Context, msg sdk.OutboundMessage) (ports.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return ports.SendResult{}, unavailable(b.provider, err)
	}
	p := &pending{msg: msg, ctx: ctx, at: time.Now(), done: make(chan outcome, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ports.SendResult{}, unavailable(b.provider, errHostClosed)
	}
	b.queue = append(b.queue, p)
	b.mu.Unlock()
	b.poke()

	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if !p.taken {
		b.queue = slices.DeleteFunc(b.queue, func(q *pending) bool { return q == p })
		b.mu.Unlock()
		b.poke() // the head, and so the linger deadline, may have changed
		return ports.SendResult{}, unavailable(b.provider, ctx.Err())
	}
	b.mu.Unlock()
	select {
	case o := <-p.done: // answered meanwhile (or dropped at flush time, see take)
		return o.res, o.err
	default:
		return ports.SendResult{}, ambiguous(b.provider, ctx.Err())
	}
}

// run dispatches batches until ctx ends, then answers what is still queued and waits for
// the batches in flight.
func (b *batcher) run(ctx context.Context) {
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	defer b.shutdown()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		ready, wait := b.due(time.Now())
		if ready {
			select {
			case b.slots <- struct{}{}:
				batch := b.take()
				if len(batch) == 0 {
					<-b.slots
					continue
				}
				inFlight.Add(1)
				go func() {
					defer inFlight.Done()
					defer b.poke()
					defer func() { <-b.slots }()
					b.send(ctx, batch)
				}()
			case <-b.wake: // queue changed while every slot was busy; look again
			case <-ctx.Done():
				return
			}
			continue
		}
		var timeout <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			timeout = timer.C
		}
		select {
		case <-b.wake:
		case <-timeout:
		case <-ctx.Done():
			return
		}
		timer.Stop()
	}
}

// due says whether a batch should leave now, or else how long until the head's linger ends
// (0: nothing queued, wait for a poke).
func (b *batcher) due(now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		return false, 0
	}
	if len(b.queue) >= b.limit() || b.linger <= 0 {
		return true, 0
	}
	if wait := b.queue[0].at.Add(b.linger).Sub(now); wait > 0 {
		return false, wait
	}
	return true, 0
}

// take removes the next batch from the queue. Messages whose caller already gave up are
// answered as not sent instead of going out.
func (b *batcher) take() []*pending {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), max(b.limit(), 1))
	batch := make([]*pending, 0, n)
	for _, p := range b.queue[:n] {
		p.taken = true
		if err := p.ctx.Err(); err != nil {
			p.done <- outcome{err: unavailable(b.provider, err)}
			continue
		}
		batch = append(batch, p)
	}
	b.queue = slices.Clone(b.queue[n:]) // don't pin the old backing array
	return batch
}

func (b *batcher) send(ctx context.Context, batch []*pending) {
	msgs := make([]sdk.OutboundMessage, len(batch))
	for i, p := range batch {
		msgs[i] = p.msg
	}
	outs := b.flush(ctx, msgs)
	for i, p := range batch {
		p.done <- outs[i]
	}
}

func (b *batcher) shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, p := range b.queue {
		p.taken = true
		p.done <- outcome{err: unavailable(b.provider, errHostClosed)}
	}
	b.queue = nil
}
