package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/ports"
)

// ListOptOuts lists the blocks in force, newest first. Opt-outs are global: every account
// sees all of them (API.md §2).
func (g *Gateway) ListOptOuts(ctx context.Context, q ports.OptOutQuery) (ports.OptOutPage, error) {
	q.Sender, q.Recipient = optOutNumber(q.Sender, message.NormalizeSender), optOutNumber(q.Recipient, message.NormalizeE164)
	return g.store.ListOptOuts(ctx, q, g.now())
}

// BlockPair blocks sends from sender to recipient for good (source api). It reports whether
// the block is new; an existing block is returned as stored, made permanent if it was
// temporary — whoever asks the API to block a pair means it to stay blocked. Numbers follow
// the v1 send rules (failures are *message.FieldError for "sender" or "recipient").
func (g *Gateway) BlockPair(ctx context.Context, sender, recipient string) (ports.OptOut, bool, error) {
	s, ok := message.NormalizeSender(sender)
	if !ok {
		return ports.OptOut{}, false, message.Invalid("sender", "sender must be an E.164 number or an alphanumeric sender id of 1 to 11 characters")
	}
	r, ok := message.NormalizeE164(recipient)
	if !ok {
		return ports.OptOut{}, false, message.Invalid("recipient", "recipient must be an E.164 number (+ and 6 to 15 digits)")
	}
	var (
		stored  ports.OptOut
		created bool
	)
	err := g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		stored, created, err = tx.BlockOptOut(ctx, ports.OptOut{Sender: s, Recipient: r, Source: optout.SourceAPI, CreatedAt: g.now()})
		return err
	})
	if err != nil {
		return ports.OptOut{}, false, fmt.Errorf("block %s→%s: %w", s, r, err)
	}
	return stored, created, nil
}

// LiftPair deletes the block of sends from sender to recipient; ErrNotFound when none is in
// force. Numbers that pass the v1 rules are normalised first; others (a dialect's verbatim
// numbers) are taken as given.
func (g *Gateway) LiftPair(ctx context.Context, sender, recipient string) error {
	s, r := optOutNumber(sender, message.NormalizeSender), optOutNumber(recipient, message.NormalizeE164)
	var lifted bool
	err := g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		lifted, err = tx.LiftOptOut(ctx, s, r, g.now())
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("lift %s→%s: %w", s, r, err)
	case !lifted:
		return fmt.Errorf("opt-out %s→%s: %w", s, r, ports.ErrNotFound)
	}
	return nil
}

// optOutNumber normalises a number given to look up a block: the v1 form when it is valid,
// else as given, since the smsapp dialect stores its numbers verbatim.
func optOutNumber(n string, normalize func(string) (string, bool)) string {
	if v, ok := normalize(n); ok {
		return v
	}
	return n
}

// SweepResult counts what one Sweep deleted.
type SweepResult struct {
	OptOuts, RateLogs, IdempotencyKeys int
	// ProxySessions counts the expired proxy sessions recorded as closed.
	ProxySessions int
}

// Sweep deletes what has expired: opt-out blocks past their expiry, rate-limit logs with no
// hit inside the window, and idempotency keys older than their TTL; and it records expired
// proxy sessions as closed (silently: an expiry sends no end message). Nothing depends on it
// for correctness — expired rows are ignored as they are read — it only bounds the tables.
// A periodic job runs it.
func (g *Gateway) Sweep(ctx context.Context) (SweepResult, error) {
	now := g.now()
	var (
		r    SweepResult
		errs []error
		err  error
	)
	if r.OptOuts, err = g.store.PruneOptOuts(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("prune opt-outs: %w", err))
	}
	// With the limit switched off, no log counts any more.
	before := now
	if g.cfg.RateLimit.Enabled() {
		before = g.cfg.RateLimit.Since(now)
	}
	if r.RateLogs, err = g.store.PruneRateLogs(ctx, before); err != nil {
		errs = append(errs, fmt.Errorf("prune rate logs: %w", err))
	}
	if r.IdempotencyKeys, err = g.store.PruneIdempotencyKeys(ctx, now.Add(-g.cfg.IdempotencyTTL)); err != nil {
		errs = append(errs, fmt.Errorf("prune idempotency keys: %w", err))
	}
	if r.ProxySessions, err = g.store.CloseExpiredProxySessions(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("close expired proxy sessions: %w", err))
	}
	return r, errors.Join(errs...)
}
