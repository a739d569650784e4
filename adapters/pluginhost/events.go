package pluginhost

import (
	"context"
	"errors"
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
)

// subscribe keeps one Events stream open to the plugin while it runs and has one,
// re-subscribing after the stream ends and after every restart.
func (p *provider) subscribe(ctx context.Context, h ports.ProviderEventHandler) {
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
		err := inst.rpc.Events(ctx, func(ev sdk.Event) error { return p.deliver(ctx, h, ev) })
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

// deliver hands one event to the handler, retrying while it fails. It returns nil once the
// event is handled or dropped (the stream goes on), and ctx's error when the host stops.
func (p *provider) deliver(ctx context.Context, h ports.ProviderEventHandler, ev sdk.Event) error {
	pev, err := eventToPorts(ev)
	if err != nil {
		p.log.Error("dropping malformed event", "error", err)
		return nil
	}
	b := newBackoff(Backoff{Min: handlerRetryMin, Max: handlerRetryMax})
	for attempt := 1; ; attempt++ {
		err := h.HandleProviderEvent(ctx, p.cfg.Name, pev)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, ports.ErrNotFound):
			if attempt >= notFoundAttempts {
				p.log.Warn("dropping event for an unknown message", "attempts", attempt, "error", err)
				return nil
			}
		case permanent(err):
			// The same event would fail the same way forever, and hold up every event behind it.
			p.log.Error("dropping event the gateway refuses", "error", err)
			return nil
		default:
			p.log.Warn("handling provider event failed; retrying", "attempt", attempt, "error", err)
		}
		if !sleep(ctx, b.delay()) {
			return ctx.Err()
		}
	}
}

// permanent reports handler errors a retry cannot fix. Everything else (the store being
// unavailable, unknown failures) is retried without limit, so no event is dropped by a blip.
func permanent(err error) bool {
	var fe *message.FieldError
	return errors.As(err, &fe) ||
		errors.Is(err, ports.ErrInvalid) ||
		errors.Is(err, ports.ErrRejected) ||
		errors.Is(err, ports.ErrConflict)
}
