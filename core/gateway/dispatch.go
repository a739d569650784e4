package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// ErrRetry is wrapped by Dispatch when the send should be tried again later (the queue
// applies the backoff). The wrapping error carries the provider error.
var ErrRetry = errors.New("retry send later")

// Dispatch carries out one run of a message's send job. It is safe to run more than once
// for the same message (at-least-once queue): a message that already has a provider message
// id or a final status is not sent again. The provider result is stored in the same
// transaction that completes the job.
func (g *Gateway) Dispatch(ctx context.Context, a ports.DispatchAttempt) error {
	m, send, err := g.claim(ctx, a)
	if err != nil || !send {
		return err
	}
	res, sendErr := g.providers.Send(ctx, m.Provider, m)
	if sendErr == nil {
		return g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
			if err := g.recordAccepted(ctx, tx, a.MessageID, m.Provider, res); err != nil {
				return err
			}
			return a.Complete(ctx, tx)
		})
	}
	pe := classify(m.Provider, sendErr)
	if pe.Class.Transient() && a.Attempt < a.MaxAttempts {
		detail := fmt.Sprintf("attempt %d via %s failed: %s", a.Attempt, m.Provider, pe.Class)
		if err := g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
			return g.noteAttempt(ctx, tx, a.MessageID, detail)
		}); err != nil {
			return err
		}
		return fmt.Errorf("send message %s: %w: %w", a.MessageID, ErrRetry, pe)
	}
	return g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := g.recordFailure(ctx, tx, a.MessageID, pe); err != nil {
			return err
		}
		return a.Complete(ctx, tx)
	})
}

// claim marks the message `sending` (so it can no longer be canceled) and reports whether
// it must be sent. A message with nothing left to do completes its job here.
func (g *Gateway) claim(ctx context.Context, a ports.DispatchAttempt) (message.Message, bool, error) {
	var m message.Message
	send := false
	err := g.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		m, err = tx.GetMessageForUpdate(ctx, a.MessageID)
		if errors.Is(err, ports.ErrNotFound) {
			return a.Complete(ctx, tx)
		}
		if err != nil {
			return fmt.Errorf("lock message %s: %w", a.MessageID, err)
		}
		if m.Status.Final() || m.ProviderMessageID != "" || m.Direction != message.Outbound {
			return a.Complete(ctx, tx)
		}
		send = true
		if m.Status == message.StatusSending {
			return nil
		}
		return g.setStatus(ctx, tx, &m, message.StatusSending, "")
	})
	return m, send && err == nil, err
}

func classify(provider string, err error) *ports.ProviderError {
	var pe *ports.ProviderError
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, ports.ErrNotFound) {
		return &ports.ProviderError{Provider: provider, Class: ports.ClassInvalid, Message: "provider is not configured"}
	}
	// Unclassified: the message may have left, so it is ambiguous (retried on the same
	// provider, never failed over).
	return &ports.ProviderError{Provider: provider, Class: ports.ClassAmbiguous, Message: "provider call failed"}
}

// recordAccepted stores the provider's acceptance: its message id and the initial status
// (through the state machine: a delivery report may already have arrived).
func (g *Gateway) recordAccepted(ctx context.Context, tx ports.Tx, id, provider string, res ports.SendResult) error {
	m, err := tx.GetMessageForUpdate(ctx, id)
	if err != nil {
		return fmt.Errorf("lock message %s: %w", id, err)
	}
	now := g.now()
	m.Provider = provider
	if m.ProviderMessageID == "" {
		m.ProviderMessageID = res.ProviderMessageID
	}
	status := res.Status
	if status == "" {
		status = message.StatusSent
	}
	var events []message.Event
	switch message.Transition(m.Status, status) {
	case message.Apply:
		m.Status = status
		events = append(events, message.Event{Status: status, At: now, Detail: "via " + provider})
	case message.Ignore:
		events = append(events, message.Event{Status: status, At: now, Detail: message.DetailIgnored})
	}
	m.UpdatedAt = now
	if err := tx.UpdateMessage(ctx, m, events...); err != nil {
		return fmt.Errorf("update message %s: %w", id, err)
	}
	return nil
}

func (g *Gateway) recordFailure(ctx context.Context, tx ports.Tx, id string, pe *ports.ProviderError) error {
	m, err := tx.GetMessageForUpdate(ctx, id)
	if err != nil {
		return fmt.Errorf("lock message %s: %w", id, err)
	}
	if m.Status.Final() {
		return nil
	}
	msg := pe.Message
	if pe.Code != "" {
		msg = pe.Code + ": " + msg
	}
	m.Error = &message.Error{Code: string(pe.Class), Message: pe.Provider + ": " + msg}
	return g.setStatus(ctx, tx, &m, message.StatusFailed, "via "+pe.Provider+": "+string(pe.Class))
}

// noteAttempt records a failed attempt that will be retried as an event (status unchanged).
func (g *Gateway) noteAttempt(ctx context.Context, tx ports.Tx, id, detail string) error {
	m, err := tx.GetMessageForUpdate(ctx, id)
	if err != nil {
		return fmt.Errorf("lock message %s: %w", id, err)
	}
	now := g.now()
	ev := message.Event{Status: m.Status, At: now, Detail: detail}
	m.UpdatedAt = now
	if err := tx.UpdateMessage(ctx, m, ev); err != nil {
		return fmt.Errorf("update message %s: %w", id, err)
	}
	return nil
}
