package main

import (
	"context"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// backlogPage is the size of an /updates page after which the next poll is made at once: a
// page that big suggests more are waiting.
const backlogPage = 100

// Events polls GET /updates every poll_interval and emits each update, resuming from the
// saved cursor (see cursors). Polling happens only while the host is subscribed, so nothing
// is buffered in the plugin: what the host has not been sent stays at the provider.
func (p *provider) Events(ctx context.Context, emit func(sdk.Event) error) error {
	cfg, api, cur, err := p.state()
	if err != nil {
		return err
	}
	select {
	case p.polling <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.polling }()

	cursor := cur.restart()
	p.log.Debug("event stream subscribed", "cursor", cursor)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		page, err := api.updates(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The stream stays up: a flaky provider only delays updates.
			p.log.Warn("poll updates failed; retrying", "class", sdk.ClassOf(err), "error", err)
			t.Reset(cfg.pollInterval)
			continue
		}
		for _, u := range page.Updates {
			ev, ok := statusEvent(u)
			if !ok {
				p.log.Warn("ignoring update with an unknown status", "id", u.ID, "status", u.Status)
				continue
			}
			if err := emit(ev); err != nil {
				return fmt.Errorf("emit status of %s: %w", u.ID, err)
			}
		}
		cursor = page.Cursor
		now := p.now()
		cur.emitted(cursor, now)
		if err := cur.advance(now); err != nil {
			p.log.Warn("save cursor failed; a restart will replay more updates", "error", err)
		}
		next := cfg.pollInterval
		if len(page.Updates) >= backlogPage {
			next = 0
		}
		t.Reset(next)
	}
}

// statusEvent maps an API update to a status event; ok is false for an unknown status.
func statusEvent(u update) (sdk.Event, bool) {
	s := sdk.StatusUpdate{MessageID: u.ID, ProviderMessageID: u.ID}
	switch u.Status {
	case "CONFIRMED":
		s.Status = sdk.StatusSent
	case "DELIVERED":
		s.Status = sdk.StatusDelivered
	case "FAILED":
		s.Status, s.ErrorCode, s.ErrorMessage = sdk.StatusUndelivered, "FAILED", "the provider reported the message failed"
	default:
		return sdk.Event{}, false
	}
	if u.ID == "" {
		return sdk.Event{}, false
	}
	return sdk.Event{Status: &s}, true
}
