package pluginhost

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/ports"
)

const (
	// handlerRetryMin/Max space the retries of a failing handler call.
	handlerRetryMin = 200 * time.Millisecond
	handlerRetryMax = 5 * time.Second
	// notFoundAttempts bounds the retries of a status for a message the store does not know:
	// its send result may not be committed yet, but after ~3s (0.2+0.4+0.8+1.6) it is not ours.
	notFoundAttempts = 5
	// eventLanes is how many bursts of one provider's events are handled at once. Each lane
	// hands the handler everything queued on it (up to maxEventBurst) in one call, which the
	// core applies in one transaction, so a busy stream costs a transaction per burst, not per
	// event. Events of the same message always take the same lane, so they are applied in
	// the order the plugin sent them.
	eventLanes    = 4
	maxEventBurst = 256
	// laneBuffer is how many received events may wait per lane before the stream is paused.
	laneBuffer = 512
)

// lanes hands events to eventLanes goroutines, keyed by message.
type lanes struct {
	in []chan sdk.Event
}

// startLanes runs the lane goroutines until stop is called; stop waits for them to finish
// the events already handed over (or for ctx to end).
func (p *provider) startLanes(ctx context.Context, h ports.ProviderEventHandler) (l *lanes, stop func()) {
	l = &lanes{in: make([]chan sdk.Event, eventLanes)}
	var wg sync.WaitGroup
	for i := range l.in {
		ch := make(chan sdk.Event, laneBuffer)
		l.in[i] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range ch {
				if p.deliver(ctx, h, burst(ev, ch)) != nil {
					// The host is stopping: what is left is reconciled at the next start.
					for range ch {
					}
					return
				}
			}
		}()
	}
	return l, func() {
		for _, ch := range l.in {
			close(ch)
		}
		wg.Wait()
	}
}

// burst is first plus whatever else is already waiting on ch, up to maxEventBurst. It never
// waits for more: a lone event is handled at once.
func burst(first sdk.Event, ch <-chan sdk.Event) []sdk.Event {
	evs := []sdk.Event{first}
	for len(evs) < maxEventBurst {
		select {
		case ev, ok := <-ch:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		default:
			return evs
		}
	}
	return evs
}

// submit queues ev on its message's lane, waiting while that lane is full.
func (l *lanes) submit(ctx context.Context, ev sdk.Event) error {
	select {
	case l.in[laneOf(ev, len(l.in))] <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// laneOf picks the lane by the message the event is about.
func laneOf(ev sdk.Event, n int) int {
	var key string
	switch {
	case ev.Status != nil && ev.Status.MessageID != "":
		key = ev.Status.MessageID
	case ev.Status != nil:
		key = ev.Status.ProviderMessageID
	case ev.Inbound != nil:
		key = ev.Inbound.ProviderMessageID + ev.Inbound.From
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// subscribe keeps one Events stream open to the plugin while it runs and has one,
// re-subscribing after the stream ends and after every restart.
func (p *provider) subscribe(ctx context.Context, h ports.ProviderEventHandler) {
	l, stop := p.startLanes(ctx, h)
	defer stop()
	b := newBackoff(p.opts.RestartBackoff)
	for {
		inst, changed := p.watch()
		if inst == nil || !inst.info.Capabilities.EventStream {
			select {
			case <-changed:
				b.reset()
				continue
			case <-ctx.Done():
				return
			}
		}
		started := time.Now()
		err := inst.rpc.Events(ctx, func(ev sdk.Event) error { return l.submit(ctx, ev) })
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, sdk.ErrUnimplemented) {
			// Announced a stream but has none; wait for another process.
			p.log.Warn("plugin announced an event stream but does not serve one")
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return
			}
		}
		p.log.Debug("event stream ended", "error", err)
		p.suspect()
		if time.Since(started) > p.opts.RestartBackoff.Max {
			b.reset() // a long-lived stream ending is news, not a loop
		}
		t := time.NewTimer(b.delay())
		select {
		case <-changed: // restarted: subscribe to the new process at once
			b.reset()
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

// deliver hands a burst of events to the handler, retrying the events that failed (in
// their order) until each is handled or dropped. It returns nil then (the stream goes on),
// and ctx's error when the host stops.
func (p *provider) deliver(ctx context.Context, h ports.ProviderEventHandler, evs []sdk.Event) error {
	type pendingEvent struct {
		ev       ports.ProviderEvent
		attempts int
	}
	pending := make([]pendingEvent, 0, len(evs))
	for _, ev := range evs {
		pev, err := eventToPorts(ev)
		if err != nil {
			p.log.Error("dropping malformed event", "error", err)
			continue
		}
		pending = append(pending, pendingEvent{ev: pev})
	}
	b := newBackoff(Backoff{Min: handlerRetryMin, Max: handlerRetryMax})
	for len(pending) > 0 {
		batch := make([]ports.ProviderEvent, len(pending))
		for i, pe := range pending {
			batch[i] = pe.ev
		}
		errs := h.HandleProviderEvents(ctx, p.cfg.Name, batch)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		retry := pending[:0]
		for i, pe := range pending {
			err := errHandlerAnsweredNothing
			if i < len(errs) {
				err = errs[i]
			}
			if err == nil {
				continue
			}
			pe.attempts++
			switch {
			case errors.Is(err, ports.ErrNotFound):
				if pe.attempts >= notFoundAttempts {
					p.log.Warn("dropping event for an unknown message", "attempts", pe.attempts, "error", err)
					continue
				}
			case permanent(err):
				// The same event would fail the same way forever, and hold up every event behind it.
				p.log.Error("dropping event the gateway refuses", "error", err)
				continue
			default:
				p.log.Warn("handling provider event failed; retrying", "attempt", pe.attempts, "error", err)
			}
			retry = append(retry, pe)
		}
		pending = retry
		if len(pending) > 0 && !sleep(ctx, b.delay()) {
			return ctx.Err()
		}
	}
	return nil
}

// errHandlerAnsweredNothing stands for a result the handler left out: the event is retried
// rather than taken as handled.
var errHandlerAnsweredNothing = errors.New("the event handler returned no result for this event")

// permanent reports handler errors a retry cannot fix. Everything else (the store being
// unavailable, unknown failures) is retried without limit, so no event is dropped by a blip.
func permanent(err error) bool {
	var fe *message.FieldError
	return errors.As(err, &fe) ||
		errors.Is(err, ports.ErrInvalid) ||
		errors.Is(err, ports.ErrRejected) ||
		errors.Is(err, ports.ErrConflict)
}
