package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// Group commit of accepted messages. Every accepted send is a message row plus its job,
// committed before the 202; one transaction per send makes the commit (a disk flush) and the
// BEGIN/COMMIT round trips the bottleneck under load. Concurrent sends are therefore written
// together: whoever finds a free write slot takes everything queued so far (up to
// maxBatch) and commits it in one transaction while later arrivals queue for the next one.
// There is no timer: a lone send is written at once, so batching costs no latency when idle.
// Two slots: one group commits while the next gathers. More slots make smaller groups, and
// every group is also a send job, whose queue overhead (insert, fetch, claim, results,
// completion) is paid per group; `make bench` accepts and delivers most with two.
const (
	defaultAcceptBatch = 64
	defaultAcceptSlots = 2
	// acceptTimeout bounds one group transaction; it runs detached from the leader's request
	// context, since it carries other requests' messages too.
	acceptTimeout = 30 * time.Second
)

// admission is one outbound message to accept and the checks it must pass in the accept
// transaction (see Gateway.admit).
type admission struct {
	m message.Message
	// rateLimited counts the send against its sender's window (v1 and dialect sends; not the
	// gateway's own keyword replies, nor SendCommand.Unlimited ones).
	rateLimited bool
	// checkOptOut refuses the send when the pair is blocked (everything but the reply that
	// confirms a STOP or START).
	checkOptOut bool
	// idempotencyKey, when set, is the key this request claimed; the transaction accepts or
	// releases the claim with the message.
	idempotencyKey string
}

// writeFunc stores a group of admissions inside tx. It returns one refusal per admission
// (nil: accepted) or an error that fails the whole transaction.
type writeFunc func(ctx context.Context, tx ports.Tx, as []admission) ([]error, error)

type pendingAccept struct {
	a    admission
	done chan error // buffered; receives exactly one result
}

// txRunner runs a transaction: the store's InTx, or the gateway's inTx that also records
// application events.
type txRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error
}

// acceptor batches accepts; write stores a batch inside one transaction.
type acceptor struct {
	store    txRunner
	write    writeFunc
	maxBatch int
	slots    chan struct{} // one token per transaction in flight

	mu    sync.Mutex
	queue []*pendingAccept
}

func newAcceptor(store txRunner, slots, maxBatch int, write writeFunc) *acceptor {
	return &acceptor{store: store, write: write, maxBatch: max(maxBatch, 1), slots: make(chan struct{}, max(slots, 1))}
}

// accept returns once the admission is committed (nil), refused (its refusal, committed
// with whatever the refusal counts) or failed. If ctx ends while it is still queued, it is
// withdrawn and ctx's error returned; once its transaction has started, the outcome is
// awaited (it is committed or not regardless of this caller).
func (a *acceptor) accept(ctx context.Context, ad admission) error {
	p := &pendingAccept{a: ad, done: make(chan error, 1)}
	a.mu.Lock()
	a.queue = append(a.queue, p)
	a.mu.Unlock()
	for {
		select {
		case err := <-p.done:
			return err
		case a.slots <- struct{}{}:
			batch := a.take()
			if len(batch) > 0 {
				a.flushReleasing(ctx, batch)
			} else {
				<-a.slots
			}
			if len(batch) == 0 {
				// The queue was empty, so p is in a batch in flight: await it.
				return <-p.done
			}
		case <-ctx.Done():
			if a.withdraw(p) {
				return ctx.Err()
			}
			return <-p.done
		}
	}
}

// take removes up to maxBatch queued accepts, oldest first.
func (a *acceptor) take() []*pendingAccept {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := min(len(a.queue), a.maxBatch)
	batch := a.queue[:n:n]
	a.queue = a.queue[n:]
	return batch
}

// withdraw removes p from the queue, reporting whether it was still there.
func (a *acceptor) withdraw(p *pendingAccept) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, q := range a.queue {
		if q == p {
			a.queue = append(a.queue[:i:i], a.queue[i+1:]...)
			return true
		}
	}
	return false
}

// flushReleasing flushes the batch and frees the slot. Should the store panic, every member
// still waiting gets an error and the slot is freed, so no follower hangs; the panic goes on.
func (a *acceptor) flushReleasing(ctx context.Context, batch []*pendingAccept) {
	defer func() { <-a.slots }()
	done := false
	defer func() {
		if !done {
			for _, p := range batch {
				select {
				case p.done <- errors.New("accept: store failed while writing"):
				default: // already answered
				}
			}
		}
	}()
	a.flush(ctx, batch)
	done = true
}

// flush commits the batch in one transaction. If that fails for a reason other than the store
// being unreachable, each message is retried in its own transaction, so one bad message
// cannot fail the sends it happened to share a transaction with.
func (a *acceptor) flush(ctx context.Context, batch []*pendingAccept) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), acceptTimeout)
	defer cancel()
	as := make([]admission, len(batch))
	for i, p := range batch {
		as[i] = p.a
	}
	refusals, err := a.writeTx(ctx, as)
	if err == nil || len(batch) == 1 || errors.Is(err, ports.ErrUnavailable) {
		for i, p := range batch {
			if err != nil {
				p.done <- err
			} else {
				p.done <- refusals[i]
			}
		}
		return
	}
	for _, p := range batch {
		refusals, err := a.writeTx(ctx, []admission{p.a})
		if err == nil {
			err = refusals[0]
		}
		p.done <- err
	}
}

func (a *acceptor) writeTx(ctx context.Context, as []admission) ([]error, error) {
	var refusals []error
	err := a.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		refusals, err = a.write(ctx, tx, as)
		return err
	})
	return refusals, err
}
