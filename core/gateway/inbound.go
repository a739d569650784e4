package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// ReceiveCommand is an inbound SMS, from a provider or reported through the API.
type ReceiveCommand struct {
	// AccountID owns the message; empty means the provider's (or the default) account.
	AccountID         string
	Provider          string
	ProviderMessageID string // dedupe key with Provider; may be empty
	From              string
	To                string
	Text              string
	// Keywords selects the opt-out keyword rules applied to Text: the v1 policy of API.md §2
	// (the zero value) or the smsapp dialect's legacy STOP (§8.1).
	Keywords KeywordRules
}

// KeywordRules selects how an inbound message's text is checked for opt-out keywords.
type KeywordRules int

const (
	// V1Keywords: STOP/START/HELP families of API.md §2; blocks the reverse direction and
	// replies from the receiving number.
	V1Keywords KeywordRules = iota
	// LegacyStop: only an exact, case-sensitive STOP (surrounding whitespace trimmed) blocks
	// sends in the same direction (from → to) for the smsapp stop_ttl; no reply.
	LegacyStop
)

// Receive stores an inbound message and applies its opt-out keyword (see keywords.go) in the
// same transaction. A repeat of an already stored (provider, provider message id) returns
// the stored message and changes nothing.
func (g *Gateway) Receive(ctx context.Context, cmd ReceiveCommand) (message.Message, error) {
	var m message.Message
	err := g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		m, _, err = g.receive(ctx, tx, cmd)
		return err
	})
	return m, err
}

// receive stores the inbound message inside tx and reports whether it is new.
func (g *Gateway) receive(ctx context.Context, tx ports.Tx, cmd ReceiveCommand) (message.Message, bool, error) {
	now := g.now()
	// A pool number belongs to the account that added it (API.md §5): its traffic is that
	// account's, and it is relayed through the number's sessions.
	pool, err := tx.GetProxyNumber(ctx, cmd.To)
	isPool := err == nil
	if err != nil && !errors.Is(err, ports.ErrNotFound) {
		return message.Message{}, false, fmt.Errorf("look up proxy number %s: %w", cmd.To, err)
	}
	account := cmd.AccountID
	if account == "" && isPool {
		account = pool.AccountID
	}
	if account == "" {
		account = g.cfg.ProviderAccounts[cmd.Provider]
	}
	if account == "" {
		account = g.cfg.DefaultAccount
	}
	segments, enc := message.Segments(cmd.Text)
	m := message.Message{
		ID: g.ids.NewID(), AccountID: account, Direction: message.Inbound,
		From: cmd.From, To: cmd.To, Text: cmd.Text, Status: message.StatusReceived,
		Provider: cmd.Provider, ProviderMessageID: cmd.ProviderMessageID,
		Segments: segments, Encoding: enc, Tags: map[string]string{},
		CreatedAt: now, UpdatedAt: now,
		Events: []message.Event{{Status: message.StatusReceived, At: now}},
	}
	err = tx.InsertMessage(ctx, m)
	if errors.Is(err, ports.ErrConflict) && cmd.ProviderMessageID != "" {
		dup, ferr := tx.FindByProviderIDForUpdate(ctx, message.Inbound, cmd.Provider, cmd.ProviderMessageID)
		if ferr != nil {
			return message.Message{}, false, fmt.Errorf("find inbound %s/%s: %w", cmd.Provider, cmd.ProviderMessageID, ferr)
		}
		return dup, false, nil
	}
	if err != nil {
		return message.Message{}, false, fmt.Errorf("insert inbound message %s: %w", m.ID, err)
	}
	replyVia := ""
	if isPool {
		replyVia = g.via(pool) // a keyword's reply leaves through the number's provider
	}
	if err := g.applyKeyword(ctx, tx, m, cmd.Keywords, replyVia); err != nil {
		return message.Message{}, false, err
	}
	// Only the number's own account relays through its sessions: another account reporting
	// an inbound to it (POST /v1/inbound, a dialect) must not make it send to that account's
	// participants.
	if isPool && cmd.Keywords == V1Keywords && account == pool.AccountID {
		if err := g.relayInbound(ctx, tx, m, pool); err != nil {
			return message.Message{}, false, err
		}
	}
	return m, true, nil
}

// ApplyStatus applies a provider's status report to the message it names (by the gateway
// id when the provider echoes it, else by provider message id) through the state machine:
// forward moves apply; backward moves and changes to a final status are recorded as ignored
// events; a status the message already went through is dropped. ErrNotFound when no message
// matches.
func (g *Gateway) ApplyStatus(ctx context.Context, provider string, r ports.StatusReport) error {
	return g.ApplyStatuses(ctx, provider, []ports.StatusReport{r})[0]
}

// ApplyStatuses is ApplyStatus for several reports of one provider, in one transaction: a
// provider's event stream delivers them in bursts, and one transaction per report would
// make a commit per delivery report the gateway's bottleneck. Reports are applied in order,
// so several reports of one message see each other's effect. It returns one error per
// report: nil once applied, recorded or dropped as a repeat; wrapping ErrNotFound when no
// message matches (the others are still applied). If the shared transaction fails for a
// reason other than the store being unavailable, each report is applied again in a
// transaction of its own, so one report the store refuses cannot hold up the others.
func (g *Gateway) ApplyStatuses(ctx context.Context, provider string, rs []ports.StatusReport) []error {
	return g.applyReports(ctx, provider, rs).errs
}

// applied is what applying a burst of status reports did.
type applied struct {
	errs    []error // one per report, as ApplyStatuses returns them
	updated int     // messages whose status changed
}

// applyReports is ApplyStatuses, also counting the messages whose status changed.
func (g *Gateway) applyReports(ctx context.Context, provider string, rs []ports.StatusReport) applied {
	res, err := g.applyStatusesTx(ctx, provider, rs)
	if err == nil {
		return res
	}
	res = applied{errs: make([]error, len(rs))}
	if len(rs) == 1 || errors.Is(err, ports.ErrUnavailable) || ctx.Err() != nil {
		for i := range res.errs {
			res.errs[i] = err
		}
		return res
	}
	for i, r := range rs {
		one, err := g.applyStatusesTx(ctx, provider, []ports.StatusReport{r})
		if err != nil {
			res.errs[i] = err
			continue
		}
		res.errs[i] = one.errs[0]
		res.updated += one.updated
	}
	return res
}

func (g *Gateway) applyStatusesTx(ctx context.Context, provider string, rs []ports.StatusReport) (applied, error) {
	var res applied
	err := g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		res, err = g.applyStatuses(ctx, tx, provider, rs)
		return err
	})
	return res, err
}

// applyStatuses applies rs inside tx; see ApplyStatuses. Reports that name the message only
// by provider id are resolved to message ids first, without locking, so that every message
// is then locked in id order, as every multi-row transaction locks (no deadlocks).
func (g *Gateway) applyStatuses(ctx context.Context, tx ports.Tx, provider string, rs []ports.StatusReport) (applied, error) {
	var ids, pids []string
	for _, r := range rs {
		switch {
		case r.MessageID != "":
			ids = append(ids, r.MessageID)
		case r.ProviderMessageID != "":
			pids = append(pids, r.ProviderMessageID)
		}
	}
	byPID := map[string]string{} // provider message id -> message id
	if len(pids) > 0 {
		var err error
		if byPID, err = tx.MessageIDsByProviderID(ctx, message.Outbound, provider, pids); err != nil {
			return applied{}, fmt.Errorf("look up %d message(s) for status by provider id: %w", len(pids), err)
		}
		for _, id := range byPID {
			ids = append(ids, id)
		}
	}
	byID := map[string]message.Message{}
	if len(ids) > 0 {
		slices.Sort(ids)
		ms, err := tx.GetMessagesForUpdate(ctx, slices.Compact(ids))
		if err != nil {
			return applied{}, fmt.Errorf("lock %d message(s) for status: %w", len(ids), err)
		}
		for _, m := range ms {
			byID[m.ID] = m
		}
	}
	before := make(map[string]message.Status, len(byID))
	for id, m := range byID {
		before[id] = m.Status
	}
	errs := make([]error, len(rs))
	var order []string // ids of changed messages, first change first
	events := map[string][]message.Event{}
	now := g.now()
	for i, r := range rs {
		id := r.MessageID
		if id == "" {
			id = byPID[r.ProviderMessageID]
		}
		m, ok := byID[id]
		// A report naming the message by our id counts only from the message's provider (a
		// message another provider took over is not this one's to report on).
		if !ok || m.Direction != message.Outbound || (r.MessageID != "" && m.Provider != provider) {
			errs[i] = fmt.Errorf("status %s/%s for message %q: %w", provider, r.ProviderMessageID, r.MessageID, ports.ErrNotFound)
			continue
		}
		next, ev, changed := statusApplied(m, provider, r, now)
		// A repeat of the report (dropped) does not block again: the person may have opted
		// back in since the first one.
		if r.OptOut && changed {
			if err := g.recordProviderOptOut(ctx, tx, m, now); err != nil {
				return applied{}, err
			}
		}
		if next.ProviderMessageID != "" && m.Provider == provider {
			// A later report of this burst may name the message by the id this one set.
			byPID[next.ProviderMessageID] = id
		}
		if !changed {
			continue
		}
		if _, seen := events[id]; !seen {
			order = append(order, id)
		}
		byID[id], events[id] = next, append(events[id], ev)
	}
	res := applied{errs: errs}
	if len(order) == 0 {
		return res, nil
	}
	updates := make([]ports.MessageUpdate, len(order))
	for i, id := range order {
		updates[i] = ports.MessageUpdate{Message: byID[id], NewEvents: events[id]}
		if byID[id].Status != before[id] {
			res.updated++
		}
	}
	if err := tx.UpdateMessages(ctx, updates); err != nil {
		return applied{}, fmt.Errorf("apply %d status report(s): %w", len(updates), err)
	}
	return res, nil
}

// statusApplied is m after the report r of provider, and the event to record; false when
// the report is a repeat to drop.
func statusApplied(m message.Message, provider string, r ports.StatusReport, now time.Time) (message.Message, message.Event, bool) {
	if m.ProviderMessageID == "" && r.ProviderMessageID != "" && m.Provider == provider {
		m.ProviderMessageID = r.ProviderMessageID
	}
	ev := message.Event{Status: r.Status, At: now, Detail: statusDetail(r)}
	switch decide(m, r.Status) {
	case message.Drop:
		return m, message.Event{}, false
	case message.Ignore:
		ev.Detail = message.DetailIgnored
	case message.Apply:
		m.Status = r.Status
		if (r.Status == message.StatusUndelivered || r.Status == message.StatusFailed) && m.Error == nil {
			m.Error = &message.Error{Code: errorCode(r.ErrorCode, string(r.Status)), Message: errorText(provider, r)}
		}
	}
	m.UpdatedAt = now
	m.Events = append(slices.Clip(m.Events), ev)
	return m, ev, true
}

// decide is message.Transition plus dedupe: a repeat of the current status, or of a report
// that was already recorded as ignored, is dropped without a new event (providers resend
// callbacks; each distinct report is recorded once).
func decide(m message.Message, to message.Status) message.Decision {
	for _, e := range m.Events {
		if e.Status == to && e.Detail == message.DetailIgnored {
			return message.Drop
		}
	}
	return message.Transition(m.Status, to)
}

func statusDetail(r ports.StatusReport) string {
	if r.ErrorCode != "" {
		return "error " + r.ErrorCode
	}
	return ""
}

func errorText(provider string, r ports.StatusReport) string {
	text := r.ErrorMessage
	if text == "" {
		text = "reported " + string(r.Status)
	}
	if r.ErrorCode != "" {
		text = r.ErrorCode + ": " + text
	}
	return provider + ": " + text
}

// HandleWebhook passes a provider webhook to its plugin, commits what it parsed, and only
// then returns the plugin's HTTP answer. Status reports for unknown messages are skipped
// (they may belong to another system using the same provider account).
func (g *Gateway) HandleWebhook(ctx context.Context, provider string, req ports.WebhookRequest) (ports.WebhookResult, error) {
	res, err := g.providers.HandleWebhook(ctx, provider, req)
	if err != nil {
		return ports.WebhookResult{}, err
	}
	if len(res.Inbound) == 0 && len(res.Statuses) == 0 {
		return res, nil
	}
	err = g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		for _, in := range res.Inbound {
			if _, _, err := g.receive(ctx, tx, inboundCommand(provider, in)); err != nil {
				return err
			}
		}
		if len(res.Statuses) > 0 {
			// Reports of unknown messages are skipped; the others commit.
			if _, err := g.applyStatuses(ctx, tx, provider, res.Statuses); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ports.WebhookResult{}, fmt.Errorf("commit webhook of %s: %w", provider, err)
	}
	return res, nil
}

func inboundCommand(provider string, in ports.InboundReport) ReceiveCommand {
	return ReceiveCommand{Provider: provider, ProviderMessageID: in.ProviderMessageID, From: in.From, To: in.To, Text: in.Text}
}

// HandleProviderEvents applies a burst of a plugin's event stream: the status reports in
// one transaction (ApplyStatuses), each inbound message in its own. It returns one error per
// event; a status of an unknown message wraps ErrNotFound, so the caller may retry it a
// bounded number of times (its send result may not be committed yet).
func (g *Gateway) HandleProviderEvents(ctx context.Context, provider string, evs []ports.ProviderEvent) []error {
	errs := make([]error, len(evs))
	var (
		reports []ports.StatusReport
		at      []int // index in evs of each report
	)
	for i, ev := range evs {
		switch {
		case ev.Status != nil:
			reports, at = append(reports, *ev.Status), append(at, i)
		case ev.Inbound != nil:
			_, errs[i] = g.Receive(ctx, inboundCommand(provider, *ev.Inbound))
		}
	}
	if len(reports) > 0 {
		for j, err := range g.ApplyStatuses(ctx, provider, reports) {
			errs[at[j]] = err
		}
	}
	return errs
}
