package gateway

import (
	"context"
	"errors"
	"fmt"
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
}

// Receive stores an inbound message. A repeat of an already stored (provider, provider
// message id) returns the stored message and changes nothing.
func (g *Gateway) Receive(ctx context.Context, cmd ReceiveCommand) (message.Message, error) {
	var m message.Message
	err := g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		m, _, err = g.receive(ctx, tx, cmd)
		return err
	})
	return m, err
}

// receive stores the inbound message inside tx and reports whether it is new.
func (g *Gateway) receive(ctx context.Context, tx ports.Tx, cmd ReceiveCommand) (message.Message, bool, error) {
	now := g.now()
	account := cmd.AccountID
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
	err := tx.InsertMessage(ctx, m)
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
	return m, true, nil
}

// ApplyStatus applies a provider's status report to the message it names (by the gateway
// id when the provider echoes it, else by provider message id) through the state machine:
// forward moves apply; backward moves and changes to a final status are recorded as ignored
// events; a status the message already went through is dropped. ErrNotFound when no message
// matches.
func (g *Gateway) ApplyStatus(ctx context.Context, provider string, r ports.StatusReport) error {
	return g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		return g.applyStatus(ctx, tx, provider, r)
	})
}

func (g *Gateway) applyStatus(ctx context.Context, tx ports.Tx, provider string, r ports.StatusReport) error {
	var (
		m   message.Message
		err error
	)
	if r.MessageID != "" {
		m, err = tx.GetMessageForUpdate(ctx, r.MessageID)
	} else {
		m, err = tx.FindByProviderIDForUpdate(ctx, message.Outbound, provider, r.ProviderMessageID)
	}
	if err != nil {
		return fmt.Errorf("find message for status %s/%s: %w", provider, r.ProviderMessageID, err)
	}
	if m.Direction != message.Outbound {
		return fmt.Errorf("status for inbound message %s: %w", m.ID, ports.ErrNotFound)
	}
	now := g.now()
	if m.ProviderMessageID == "" && r.ProviderMessageID != "" && m.Provider == provider {
		m.ProviderMessageID = r.ProviderMessageID
	}
	ev := message.Event{Status: r.Status, At: now, Detail: statusDetail(r)}
	switch decide(m, r.Status) {
	case message.Drop:
		return nil
	case message.Ignore:
		ev.Detail = message.DetailIgnored
	case message.Apply:
		m.Status = r.Status
		if (r.Status == message.StatusUndelivered || r.Status == message.StatusFailed) && m.Error == nil {
			m.Error = &message.Error{Code: string(r.Status), Message: errorText(provider, r)}
		}
	}
	m.UpdatedAt = now
	if err := tx.UpdateMessage(ctx, m, ev); err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, err)
	}
	return nil
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
	err = g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		for _, in := range res.Inbound {
			if _, _, err := g.receive(ctx, tx, inboundCommand(provider, in)); err != nil {
				return err
			}
		}
		for _, st := range res.Statuses {
			if err := g.applyStatus(ctx, tx, provider, st); err != nil && !errors.Is(err, ports.ErrNotFound) {
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

// HandleProviderEvent applies one event of a plugin's event stream. It returns ErrNotFound
// (wrapped) for a status of an unknown message, so the caller may retry it a bounded
// number of times (the send result may not be committed yet).
func (g *Gateway) HandleProviderEvent(ctx context.Context, provider string, ev ports.ProviderEvent) error {
	switch {
	case ev.Status != nil:
		return g.ApplyStatus(ctx, provider, *ev.Status)
	case ev.Inbound != nil:
		_, err := g.Receive(ctx, inboundCommand(provider, *ev.Inbound))
		return err
	}
	return nil
}

// ProviderRestarted reconciles after a plugin restart: a dead plugin process may have lost
// status events it had not streamed yet, so every recent message of that provider still
// waiting for a status is polled (when the plugin can be polled).
func (g *Gateway) ProviderRestarted(ctx context.Context, provider string) error {
	_, err := g.refreshProvider(ctx, provider, g.now().Add(-g.cfg.ReconcileWindow))
	return err
}

// refreshProvider polls the provider for every awaiting message created since `since`
// and applies the answers; it returns how many statuses it applied or tried.
func (g *Gateway) refreshProvider(ctx context.Context, provider string, since time.Time) (int, error) {
	const page = 500
	checked := 0
	for {
		ms, err := g.store.ListAwaitingStatus(ctx, provider, since, page)
		if err != nil {
			return checked, fmt.Errorf("list awaiting status of %s: %w", provider, err)
		}
		if len(ms) == 0 {
			return checked, nil
		}
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.ProviderMessageID
		}
		reports, err := g.providers.PollStatus(ctx, provider, ids)
		if errors.Is(err, ports.ErrNotImplemented) {
			return checked, nil
		}
		if err != nil {
			return checked, fmt.Errorf("poll status of %s: %w", provider, err)
		}
		for _, r := range reports {
			if err := g.ApplyStatus(ctx, provider, r); err != nil && !errors.Is(err, ports.ErrNotFound) {
				return checked, err
			}
		}
		checked += len(ms)
		if len(ms) < page {
			return checked, nil
		}
		// Next page: everything after the newest message of this page.
		since = ms[len(ms)-1].CreatedAt.Add(time.Microsecond)
	}
}
