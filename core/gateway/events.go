package gateway

import (
	"context"
	"fmt"
	"slices"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// Application events (API.md §6) come from one place: every transaction of the use cases
// runs through inTx, whose Tx watches what the transaction does to messages. A stored inbound
// message is a message.received; an outbound message whose stored status differs from the
// one it was loaded with is a message.status per status it moved through. Statuses are
// compared, not events: an ignored report or a note of a failed attempt adds an event and
// changes nothing. The events are queued in the same transaction, just before it commits,
// so an event exists if and only if its change does.

// inTx is g.store.InTx, recording the application events of what fn does and queueing them
// in the same transaction. Without an event queue it is g.store.InTx itself.
func (g *Gateway) inTx(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	if g.events == nil {
		return g.store.InTx(ctx, fn)
	}
	return g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		// A new recorder per run: a store that runs fn again (a retried transaction) starts
		// over with nothing pending.
		etx := &eventTx{Tx: tx, status: map[string]message.Status{}}
		if err := fn(ctx, etx); err != nil {
			return err
		}
		if len(etx.pending) == 0 {
			return nil
		}
		now := g.now()
		evs := make([]ports.AppEvent, len(etx.pending))
		for i, p := range etx.pending {
			evs[i] = ports.AppEvent{ID: "evt_" + g.ids.NewID(), Type: p.typ, CreatedAt: now, Message: p.m}
		}
		if err := g.events.EnqueueEvents(ctx, tx, evs...); err != nil {
			return fmt.Errorf("enqueue %d event(s): %w", len(evs), err)
		}
		return nil
	})
}

// txFunc makes inTx usable where a store's InTx is (the acceptor's group commits).
type txFunc func(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error

func (f txFunc) InTx(ctx context.Context, fn func(ctx context.Context, tx ports.Tx) error) error {
	return f(ctx, fn)
}

type pendingEvent struct {
	typ string
	m   message.Message
}

// eventTx is a ports.Tx that remembers the status of each message the transaction loaded
// or inserted, and records an event for each change.
type eventTx struct {
	ports.Tx
	status  map[string]message.Status // message id -> status as last stored in this tx
	pending []pendingEvent
}

var _ ports.TxWrapper = (*eventTx)(nil)

// UnwrapTx lets adapters reach the store's transaction (River's InsertTx, JobCompleteTx).
func (t *eventTx) UnwrapTx() ports.Tx { return t.Tx }

// loaded notes the status m was loaded with, unless this transaction already knows it (it
// is the status at the start of the transaction, or one this transaction stored).
func (t *eventTx) loaded(m message.Message) {
	if _, ok := t.status[m.ID]; !ok {
		t.status[m.ID] = m.Status
	}
}

func (t *eventTx) GetMessageForUpdate(ctx context.Context, id string) (message.Message, error) {
	m, err := t.Tx.GetMessageForUpdate(ctx, id)
	if err == nil {
		t.loaded(m)
	}
	return m, err
}

func (t *eventTx) GetMessagesForUpdate(ctx context.Context, ids []string) ([]message.Message, error) {
	ms, err := t.Tx.GetMessagesForUpdate(ctx, ids)
	if err == nil {
		for _, m := range ms {
			t.loaded(m)
		}
	}
	return ms, err
}

func (t *eventTx) FindByProviderIDForUpdate(ctx context.Context, dir message.Direction, provider, providerMessageID string) (message.Message, error) {
	m, err := t.Tx.FindByProviderIDForUpdate(ctx, dir, provider, providerMessageID)
	if err == nil {
		t.loaded(m)
	}
	return m, err
}

func (t *eventTx) InsertMessage(ctx context.Context, m message.Message) error {
	if err := t.Tx.InsertMessage(ctx, m); err != nil {
		return err
	}
	t.inserted(m)
	return nil
}

func (t *eventTx) InsertMessages(ctx context.Context, ms []message.Message) error {
	if err := t.Tx.InsertMessages(ctx, ms); err != nil {
		return err
	}
	for _, m := range ms {
		t.inserted(m)
	}
	return nil
}

// inserted records a new inbound message as received. A new outbound message emits
// nothing: its creation is the answer to the send, not a change.
func (t *eventTx) inserted(m message.Message) {
	t.status[m.ID] = m.Status
	if m.Direction == message.Inbound {
		t.pending = append(t.pending, pendingEvent{typ: ports.EventMessageReceived, m: m})
	}
}

func (t *eventTx) UpdateMessage(ctx context.Context, m message.Message, newEvents ...message.Event) error {
	if err := t.Tx.UpdateMessage(ctx, m, newEvents...); err != nil {
		return err
	}
	t.updated(m, newEvents)
	return nil
}

func (t *eventTx) UpdateMessages(ctx context.Context, updates []ports.MessageUpdate) error {
	if err := t.Tx.UpdateMessages(ctx, updates); err != nil {
		return err
	}
	for _, u := range updates {
		t.updated(u.Message, u.NewEvents)
	}
	return nil
}

// updated records a message.status for each status the stored outbound message m moved
// through since the status this transaction knew. One update may carry several moves (a
// burst of reports of one message, e.g. sent then delivered): each is its own event, with
// the message as it was at that move. Ignored reports and attempt notes, which keep the
// status, emit nothing.
func (t *eventTx) updated(m message.Message, newEvents []message.Event) {
	if m.Direction != message.Outbound {
		return
	}
	from, known := t.status[m.ID]
	t.status[m.ID] = m.Status
	if known && from == m.Status {
		return
	}
	// The moves before the last one, each as the message was then. m.Events ends with
	// newEvents when the caller kept the history whole (every use case does); otherwise
	// only the final status is reported.
	var moves []int // indexes in newEvents
	cur := from
	for i, e := range newEvents {
		if e.Detail == message.DetailIgnored || e.Status == cur { // cur is "" when unknown
			continue
		}
		moves, cur = append(moves, i), e.Status
	}
	base := len(m.Events) - len(newEvents)
	whole := base >= 0 && slices.EqualFunc(m.Events[base:], newEvents, sameEvent)
	if whole && len(moves) > 0 && cur == m.Status {
		for _, i := range moves[:len(moves)-1] {
			snap := m
			snap.Status, snap.UpdatedAt, snap.Error = newEvents[i].Status, newEvents[i].At, nil
			snap.Events = slices.Clip(m.Events[:base+i+1])
			t.pending = append(t.pending, pendingEvent{typ: ports.EventMessageStatus, m: snap})
		}
	}
	t.pending = append(t.pending, pendingEvent{typ: ports.EventMessageStatus, m: m})
}

func sameEvent(a, b message.Event) bool {
	return a.Status == b.Status && a.At.Equal(b.At) && a.Detail == b.Detail
}
