package main

import (
	"context"
	"sync"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// eventQueue buffers events between Send (and its delivery timers) and the Events stream, so
// nothing is lost while the host is not subscribed. It is bounded: when full, the oldest
// events are dropped, and the host can still learn final statuses through PollStatus.
//
// Subscribers compete for events: with several Events calls at once each event goes to one
// of them. The host keeps a single subscription, so this only matters during a re-subscribe,
// and no event is lost or sent twice because of it.
type eventQueue struct {
	mu    sync.Mutex
	buf   []sdk.Event // pending events are buf[head:]
	head  int
	limit int
	// ready holds a token while events may be pending; a consumer that takes it passes it
	// on if it leaves events behind, so no waiting consumer misses a push.
	ready chan struct{}
}

func newEventQueue(limit int) *eventQueue {
	return &eventQueue{limit: limit, ready: make(chan struct{}, 1)}
}

func (q *eventQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is already waiting
	}
}

// push appends events and returns how many old events were dropped to make room.
func (q *eventQueue) push(events ...sdk.Event) (dropped int) {
	if len(events) == 0 {
		return 0
	}
	q.mu.Lock()
	q.buf = append(q.buf, events...)
	if over := len(q.buf) - q.head - q.limit; over > 0 {
		clear(q.buf[q.head : q.head+over]) // let the dropped events be collected
		q.head += over
		dropped = over
	}
	q.compact()
	q.mu.Unlock()
	q.signal()
	return dropped
}

// compact moves the pending events to the front once the consumed prefix dominates, so the
// buffer does not grow without bound. Callers hold mu.
func (q *eventQueue) compact() {
	if q.head > 0 && q.head >= len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf = q.buf[:n]
		q.head = 0
	}
}

// tryPop takes the oldest event, if any.
func (q *eventQueue) tryPop() (sdk.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.buf) {
		return sdk.Event{}, false
	}
	e := q.buf[q.head]
	q.buf[q.head] = sdk.Event{}
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else {
		q.signal() // more to do, for this consumer or another
	}
	return e, true
}

// pop waits for the oldest event until ctx is done.
func (q *eventQueue) pop(ctx context.Context) (sdk.Event, error) {
	for {
		if e, ok := q.tryPop(); ok {
			return e, nil
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return sdk.Event{}, ctx.Err()
		}
	}
}

// unpop puts back an event a subscriber failed to take, ahead of the others. The host may
// then see it twice, which status updates (monotonic) and inbound messages (deduplicated on
// the provider id) tolerate; losing it would not be.
func (q *eventQueue) unpop(e sdk.Event) {
	q.mu.Lock()
	if q.head > 0 {
		q.head--
		q.buf[q.head] = e
	} else {
		q.buf = append([]sdk.Event{e}, q.buf...)
	}
	q.mu.Unlock()
	q.signal()
}

// len is the number of pending events.
func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf) - q.head
}
