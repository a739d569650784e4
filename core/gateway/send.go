package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
)

// SendCommand is a v1 send, already decoded from JSON (types checked by the caller).
type SendCommand struct {
	AccountID string
	From      string
	To        string
	Text      string
	Provider  string
	Tags      map[string]string
	SendAt    *time.Time
	// Verbatim marks a send from a legacy dialect that has validated From and To by its own
	// rules (API.md §8): they are stored as given, without E.164 normalisation.
	Verbatim bool
	// IdempotencyKey (optional) and RequestHash, which identifies the request it came with,
	// make a retried send return the original message (API.md §1).
	IdempotencyKey string
	RequestHash    string
}

// Send validates a send, routes it, and accepts it: the message row and its send job are
// written in one transaction (shared with concurrent sends, see accept.go); nothing is
// acknowledged before it commits. Validation
// failures are *message.FieldError, checked in the order from, to, text, provider, tags,
// send_at.
func (g *Gateway) Send(ctx context.Context, cmd SendCommand) (message.Message, error) {
	now := g.now()
	from, ok := message.NormalizeSender(cmd.From)
	if !ok {
		return message.Message{}, message.Invalid("from", "from must be an E.164 number or an alphanumeric sender id of 1 to 11 characters")
	}
	to, ok := message.NormalizeE164(cmd.To)
	if !ok {
		return message.Message{}, message.Invalid("to", "to must be an E.164 number (+ and 6 to 15 digits)")
	}
	if ferr := message.ValidateText("text", cmd.Text); ferr != nil {
		return message.Message{}, ferr
	}
	route, err := g.router.Route(routing.Request{From: from, To: to, Tags: cmd.Tags, Provider: cmd.Provider})
	if errors.Is(err, routing.ErrUnknownProvider) {
		return message.Message{}, message.Invalid("provider", "provider %q is not configured", cmd.Provider)
	}
	if err != nil {
		return message.Message{}, fmt.Errorf("route message: %w", err)
	}
	if cmd.SendAt != nil && !cmd.SendAt.After(now) {
		return message.Message{}, message.Invalid("send_at", "send_at must be in the future")
	}
	m := g.newOutbound(cmd.AccountID, from, to, cmd.Text, route, cmd.Tags, cmd.SendAt, now)
	if err := g.acceptor.accept(ctx, m); err != nil {
		return message.Message{}, err
	}
	return m, nil
}

func (g *Gateway) newOutbound(account, from, to, text string, route []string, tags map[string]string, sendAt *time.Time, now time.Time) message.Message {
	segments, enc := message.Segments(text)
	status := message.StatusQueued
	if sendAt != nil {
		t := sendAt.UTC().Truncate(time.Microsecond)
		sendAt, status = &t, message.StatusScheduled
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return message.Message{
		ID: g.ids.NewID(), AccountID: account, Direction: message.Outbound,
		From: from, To: to, Text: text, Status: status,
		Provider: route[0], Route: route, Segments: segments, Encoding: enc, Tags: tags,
		SendAt: sendAt, CreatedAt: now, UpdatedAt: now,
		Events: []message.Event{{Status: status, At: now}},
	}
}

// accept stores outbound messages and their send jobs inside tx: one job per provider for
// the messages due now, one job each for scheduled ones (they run at their own time), all
// enqueued in one insert.
func (g *Gateway) accept(ctx context.Context, tx ports.Tx, ms ...message.Message) error {
	var (
		jobs   []ports.SendJob
		dueNow = map[string]int{} // provider -> index in jobs
	)
	if err := tx.InsertMessages(ctx, ms); err != nil {
		return fmt.Errorf("insert %d message(s): %w", len(ms), err)
	}
	for _, m := range ms {
		if i, ok := dueNow[m.Provider]; ok && m.SendAt == nil {
			jobs[i].MessageIDs = append(jobs[i].MessageIDs, m.ID)
			continue
		}
		p := g.policy(m.Provider)
		job := ports.SendJob{MessageIDs: []string{m.ID}, MaxAttempts: p.MaxAttempts, Backoff: p.Backoff}
		if m.SendAt != nil {
			job.RunAt = *m.SendAt
		} else {
			dueNow[m.Provider] = len(jobs)
		}
		jobs = append(jobs, job)
	}
	if err := g.jobs.EnqueueSends(ctx, tx, jobs...); err != nil {
		return fmt.Errorf("enqueue %d send job(s): %w", len(jobs), err)
	}
	return nil
}

// Cancel cancels a message that is still scheduled or queued (not yet handed to a
// provider); otherwise ErrConflict.
func (g *Gateway) Cancel(ctx context.Context, accountID, id string) (message.Message, error) {
	if _, err := g.store.GetMessage(ctx, accountID, id); err != nil {
		return message.Message{}, err
	}
	var m message.Message
	err := g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if m, err = tx.GetMessageForUpdate(ctx, id); err != nil {
			return fmt.Errorf("lock message %s: %w", id, err)
		}
		if !cancellable(m) {
			return fmt.Errorf("cancel message %s in status %s: %w", id, m.Status, ports.ErrConflict)
		}
		return g.setStatus(ctx, tx, &m, message.StatusCanceled, "")
	})
	return m, err
}

// Delete cancels the message if it still can be, then hides it.
func (g *Gateway) Delete(ctx context.Context, accountID, id string) error {
	if _, err := g.store.GetMessage(ctx, accountID, id); err != nil {
		return err
	}
	return g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		m, err := tx.GetMessageForUpdate(ctx, id)
		if err != nil {
			return fmt.Errorf("lock message %s: %w", id, err)
		}
		if cancellable(m) {
			if err := g.setStatus(ctx, tx, &m, message.StatusCanceled, ""); err != nil {
				return err
			}
		}
		if err := tx.HideMessage(ctx, id, g.now()); err != nil {
			return fmt.Errorf("hide message %s: %w", id, err)
		}
		return nil
	})
}

func cancellable(m message.Message) bool {
	return m.Direction == message.Outbound && m.ProviderMessageID == "" &&
		(m.Status == message.StatusScheduled || m.Status == message.StatusQueued)
}

// setStatus moves m to status (which the caller has checked is allowed), records the event
// and stores both through tx.
func (g *Gateway) setStatus(ctx context.Context, tx ports.Tx, m *message.Message, status message.Status, detail string) error {
	u := withStatus(*m, status, detail, g.now())
	*m = u.Message
	if err := tx.UpdateMessage(ctx, u.Message, u.NewEvents...); err != nil {
		return fmt.Errorf("update message %s: %w", m.ID, err)
	}
	return nil
}
