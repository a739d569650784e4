package gateway

import (
	"context"
	"fmt"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
)

// applyKeyword applies the opt-out rules to a newly stored inbound message m, inside the
// transaction that stored it, so a STOP is never recorded without its block (or the reverse).
// The reply is routed as any send, or through replyVia when set (a proxy pool number's
// provider).
func (g *Gateway) applyKeyword(ctx context.Context, tx ports.Tx, m message.Message, rules KeywordRules, replyVia string) error {
	if rules == LegacyStop {
		return g.applyLegacyStop(ctx, tx, m)
	}
	k := optout.Classify(m.Text)
	d := g.cfg.OptOut.Decide(k)
	now := g.now()
	// The block is on sends from the number that received the keyword to its sender.
	sender, recipient := m.To, m.From
	switch d.Action {
	case optout.Block:
		o := ports.OptOut{Sender: sender, Recipient: recipient, Source: optout.SourceKeyword, CreatedAt: now, ExpiresAt: g.cfg.OptOut.ExpiresAt(now)}
		if _, _, err := tx.BlockOptOut(ctx, o); err != nil {
			return fmt.Errorf("block %s→%s after %s: %w", sender, recipient, k, err)
		}
	case optout.Lift:
		if _, err := tx.LiftOptOut(ctx, sender, recipient, now); err != nil {
			return fmt.Errorf("lift %s→%s after %s: %w", sender, recipient, k, err)
		}
	}
	if d.Reply == "" {
		return nil
	}
	// The reply is an ordinary outbound message of the account that owns the number, routed
	// like any send but not rate limited. The STOP and START confirmations go out whatever
	// the block says (a STOP must be confirmed); a HELP reply honours an existing block.
	route, err := g.router.Route(routing.Request{From: sender, To: recipient, Provider: replyVia})
	if err != nil {
		return fmt.Errorf("route the %s reply to %s: %w", k, recipient, err)
	}
	reply := g.newOutbound(m.AccountID, sender, recipient, d.Reply, route, map[string]string{}, nil, now)
	// A refusal (only an opt-out is possible here) just means no reply is due.
	if _, err := g.admit(ctx, tx, []admission{{m: reply, checkOptOut: d.Action == optout.NoAction}}); err != nil {
		return fmt.Errorf("queue the %s reply to %s: %w", k, recipient, err)
	}
	return nil
}

// applyLegacyStop is the smsapp dialect's rule (API.md §8.1): a text that is exactly STOP,
// trimmed and case-sensitive, blocks sends in the same direction, from → to, for the
// configured stop_ttl. No reply, no other keyword.
func (g *Gateway) applyLegacyStop(ctx context.Context, tx ports.Tx, m message.Message) error {
	if !optout.IsLegacyStop(m.Text) {
		return nil
	}
	now := g.now()
	expires := now.Add(g.cfg.LegacyStopTTL)
	o := ports.OptOut{Sender: m.From, Recipient: m.To, Source: optout.SourceSMSApp, CreatedAt: now, ExpiresAt: &expires}
	if _, _, err := tx.BlockOptOut(ctx, o); err != nil {
		return fmt.Errorf("block %s→%s after a legacy STOP: %w", m.From, m.To, err)
	}
	return nil
}
