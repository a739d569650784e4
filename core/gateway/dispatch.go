package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
)

// ErrRetry is wrapped by Dispatch when some message of the job should be tried again later
// (the queue applies the backoff). The wrapping error carries the provider error.
var ErrRetry = errors.New("retry send later")

// recordTimeout bounds the transaction that stores a job's send results.
const recordTimeout = 15 * time.Second

// Dispatch carries out one run of a send job: the messages accepted together for one
// provider. It is safe to run more than once for the same job (at-least-once queue): a
// message that already has a provider message id or a final status is not sent again. The
// messages are claimed in one transaction, handed to the provider concurrently (the plugin
// host groups them into batches), and their results stored in one transaction that also
// completes the job — unless a message failed transiently with attempts left, in which case
// the results so far are stored and the job is retried for the rest.
//
// Failover: a message whose route has a provider after this one goes there — as a new send
// job enqueued in the same transaction — when this provider is unhealthy or its breaker is
// open (it is then not tried at all), or when it failed with an error that says it certainly
// did not send the message and is the provider's fault (see failsOver), after its retries.
// An ambiguous failure (the message may have left) never fails over: it is retried on the
// same provider, then failed.
func (g *Gateway) Dispatch(ctx context.Context, a ports.DispatchAttempt) error {
	ids := slices.Clone(a.MessageIDs)
	slices.Sort(ids) // every multi-row transaction locks in id order: no deadlocks
	ids = slices.Compact(ids)
	ms, err := g.claim(ctx, ids, a)
	if err != nil || len(ms) == 0 {
		return err
	}
	outcomes := g.sendAll(ctx, ms, a.Attempt)
	// Record the results even when the job's context ended during the sends (job timeout,
	// shutdown): the messages the provider did take must get their provider ids stored, or a
	// retry of the job would send them again. Detached, but keeping the context's values (the
	// queue finds its client there to complete the job), and bounded.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var retry *ports.ProviderError
	err = g.inTx(rctx, func(ctx context.Context, tx ports.Tx) error {
		retry = nil
		sentIDs := make([]string, len(ms))
		for i, m := range ms {
			sentIDs[i] = m.ID
		}
		current, err := tx.GetMessagesForUpdate(ctx, sentIDs) // id order, like ms
		if err != nil {
			return fmt.Errorf("lock %d sent message(s): %w", len(ms), err)
		}
		byID := make(map[string]message.Message, len(current))
		for _, m := range current {
			byID[m.ID] = m
		}
		now := g.now()
		var (
			updates   []ports.MessageUpdate
			failovers = map[string][]string{} // next provider -> message ids
		)
		for i, sent := range ms {
			m, ok := byID[sent.ID]
			if !ok {
				continue // deleted meanwhile: nothing to record
			}
			o := outcomes[i]
			next, canFailOver := failoverTarget(m, sent.Provider, a.Attempt)
			var u ports.MessageUpdate
			switch pe := classifyOutcome(sent.Provider, o.err); {
			case o.skipped != "":
				if !canFailOver {
					// Changed since the claim by another run of this job (a rescue while
					// this one was alive): sent or failed over — nothing to do — or pinned
					// to this provider, which this run did not call: try it again later
					// rather than complete the job under it.
					if !m.Status.Final() && m.ProviderMessageID == "" && m.Provider == sent.Provider && retry == nil {
						retry = &ports.ProviderError{Provider: sent.Provider, Class: ports.ClassUnavailable, Message: "not sent: " + o.skipped}
					}
					continue
				}
				u = failedOver(m, next, fmt.Sprintf("%s skipped (%s); failing over to %s", sent.Provider, o.skipped, next), now)
				failovers[next] = append(failovers[next], m.ID)
			case o.err == nil:
				u = accepted(m, sent.Provider, o.res, now)
			case pe.Class.Transient() && a.Attempt < a.MaxAttempts:
				u = attemptNoted(m, attemptFailed(a.Attempt, sent.Provider, pe.Class), now)
				if retry == nil || pe.RetryAfter > retry.RetryAfter {
					retry = pe // the longest Retry-After asked for sets the job's wait
				}
			case failsOver(pe.Class) && canFailOver:
				u = failedOver(m, next, attemptFailed(a.Attempt, sent.Provider, pe.Class)+"; failing over to "+next, now)
				failovers[next] = append(failovers[next], m.ID)
			default:
				if pe.OptOut {
					if err := g.recordProviderOptOut(ctx, tx, m, now); err != nil {
						return err
					}
				}
				var changed bool
				if u, changed = failed(m, pe, now); !changed {
					continue
				}
			}
			updates = append(updates, u)
		}
		if len(updates) > 0 {
			if err := tx.UpdateMessages(ctx, updates); err != nil {
				return fmt.Errorf("record %d send result(s): %w", len(updates), err)
			}
		}
		if err := g.enqueueFailovers(ctx, tx, failovers); err != nil {
			return err
		}
		if retry != nil {
			return nil
		}
		return a.Complete(ctx, tx)
	})
	if err != nil {
		return err
	}
	if retry != nil {
		return fmt.Errorf("send %d message(s): %w: %w", len(ms), ErrRetry, retry)
	}
	return nil
}

// failsOver reports whether a failure of this class sends the message on to the next
// provider of its route (once its retries are spent, for the transient ones): the provider
// certainly did not send it, and for a reason of the provider's own — down, throttling us,
// refusing our credentials or out of credit. A refusal of the message itself (invalid,
// rejected) would be the same elsewhere; an ambiguous failure may have sent it already.
func failsOver(c ports.ErrorClass) bool {
	switch c {
	case ports.ClassUnavailable, ports.ClassRateLimited, ports.ClassAuth, ports.ClassCredit:
		return true
	}
	return false
}

// breakerFailure reports whether a failure of this class counts against the provider's
// breaker: the provider could not serve us. Throttling (rate_limited) is the provider
// working as agreed, and a refusal of one message says nothing about the provider.
func breakerFailure(c ports.ErrorClass) bool {
	switch c {
	case ports.ClassUnavailable, ports.ClassAmbiguous, ports.ClassAuth, ports.ClassCredit:
		return true
	}
	return false
}

// failoverTarget is the provider m would fail over to from provider on the given attempt of
// the provider's job: the next one of its route, while m is still unsent, still the
// provider's, and not possibly sent by it.
func failoverTarget(m message.Message, provider string, attempt int) (string, bool) {
	if m.Status.Final() || m.ProviderMessageID != "" || m.Provider != provider || mayHaveSent(m, provider, attempt) {
		return "", false
	}
	return routing.Next(m.Route, provider)
}

// attemptFailed is the event detail of a failed attempt (mayHaveSent reads it back).
func attemptFailed(attempt int, provider string, class ports.ErrorClass) string {
	return fmt.Sprintf("attempt %d via %s failed: %s", attempt, provider, class)
}

// mayHaveSent reports whether provider may have m already: an attempt of it was ambiguous,
// or an earlier attempt of the job left no outcome (the process died during it, after the
// provider may have taken the message, and River rescued the job). m then stays pinned to
// the provider for good — retried there, never failed over, whatever the later attempts
// answer and even while the provider is unhealthy or its breaker open — or another
// provider could send it a second time. The outcomes are read back from the attempt notes
// (attemptFailed writes them; TestFailover and the pinning tests fail if the two drift). A
// run that failed before it sent anything (the store down at the claim) also leaves no
// note: the message is then pinned too, the safe direction.
func mayHaveSent(m message.Message, provider string, attempt int) bool {
	ambiguous := " via " + provider + " failed: " + string(ports.ClassAmbiguous)
	noted := make([]bool, max(attempt, 1)) // noted[k]: attempt k left its note
	for _, e := range m.Events {
		if !strings.HasPrefix(e.Detail, "attempt ") {
			continue
		}
		if strings.HasSuffix(e.Detail, ambiguous) {
			return true
		}
		for k := 1; k < attempt; k++ {
			noted[k] = noted[k] || strings.HasPrefix(e.Detail, attemptFailed(k, provider, ""))
		}
	}
	for k := 1; k < attempt; k++ {
		if !noted[k] {
			return true
		}
	}
	return false
}

// enqueueFailovers enqueues one send job per provider that messages failed over to, with
// that provider's retry policy, inside tx.
func (g *Gateway) enqueueFailovers(ctx context.Context, tx ports.Tx, failovers map[string][]string) error {
	if len(failovers) == 0 {
		return nil
	}
	jobs := make([]ports.SendJob, 0, len(failovers))
	for _, p := range slices.Sorted(maps.Keys(failovers)) {
		pol := g.policy(p)
		jobs = append(jobs, ports.SendJob{Provider: p, MessageIDs: failovers[p], MaxAttempts: pol.MaxAttempts, Backoff: pol.Backoff})
	}
	if err := g.jobs.EnqueueSends(ctx, tx, jobs...); err != nil {
		return fmt.Errorf("enqueue %d failover job(s): %w", len(jobs), err)
	}
	return nil
}

// failedOver is m handed on to provider next: still sending, with the attempt as an event.
func failedOver(m message.Message, next, detail string, now time.Time) ports.MessageUpdate {
	u := attemptNoted(m, detail, now)
	u.Message.Provider = next
	return u
}

// classifyOutcome is classify for a send outcome; nil for a success.
func classifyOutcome(provider string, err error) *ports.ProviderError {
	if err == nil {
		return nil
	}
	return classify(provider, err)
}

type sendOutcome struct {
	res ports.SendResult
	err error
	// skipped says why the message was not handed to its provider (unhealthy, breaker
	// open) because another provider of its route can take it.
	skipped string
}

// sendAll hands every message to its provider at once and waits for all answers. A message
// whose provider is unhealthy or has its breaker open is not sent when its route has
// another provider to fail over to; with no other provider it is tried anyway, since a
// real attempt beats failing it without one. The outcome feeds the providers' breakers.
func (g *Gateway) sendAll(ctx context.Context, ms []message.Message, attempt int) []sendOutcome {
	out := make([]sendOutcome, len(ms))
	movable := make([]bool, len(ms)) // has another provider to go to
	for i, m := range ms {
		_, movable[i] = failoverTarget(m, m.Provider, attempt)
	}
	avoid := g.providersToAvoid(ms, movable)
	var wg sync.WaitGroup
	for i, m := range ms {
		if reason := avoid[m.Provider]; reason != "" && movable[i] {
			out[i].skipped = reason
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].res, out[i].err = g.providers.Send(ctx, m.Provider, m)
		}()
	}
	wg.Wait()
	g.judgeProviders(ms, out)
	return out
}

// judgeProviders feeds each provider's breaker the outcome of this dispatch — one verdict
// per provider, not per message, so that one failed batch call of a batching plugin counts
// once: a success when the provider answered any message (took it, or refused it for a
// reason of its own), else a failure when a call failed because of the provider. Throttling
// alone is neither.
func (g *Gateway) judgeProviders(ms []message.Message, out []sendOutcome) {
	const (
		neutral = iota
		failure
		success
	)
	verdict := map[string]int{}
	for i, m := range ms {
		o := out[i]
		if o.skipped != "" {
			continue
		}
		v := neutral
		switch pe := classifyOutcome(m.Provider, o.err); {
		case pe == nil:
			v = success
		case breakerFailure(pe.Class):
			v = failure
		case pe.Class != ports.ClassRateLimited:
			v = success // the provider answered: it refused this message
		}
		verdict[m.Provider] = max(verdict[m.Provider], v)
	}
	now := g.clock.Now()
	for p, v := range verdict {
		switch {
		case v == success && g.breakers.For(p).Success():
			g.noteBreaker(p, routing.BreakerClosed)
		case v == failure && g.breakers.For(p).Failure(now):
			g.noteBreaker(p, routing.BreakerOpen)
		}
	}
}

func (g *Gateway) noteBreaker(provider string, to routing.BreakerState) {
	if g.breakerChanged != nil {
		g.breakerChanged(provider, to)
	}
}

// providersToAvoid names the providers of ms that messages with somewhere else to go (movable) should
// not be sent to now, with the reason. The breaker is asked only on behalf of such messages:
// asking may hand this dispatch the half-open trial, which it then makes.
func (g *Gateway) providersToAvoid(ms []message.Message, movable []bool) map[string]string {
	avoid := map[string]string{}
	asked := map[string]bool{}
	now := g.clock.Now()
	for i, m := range ms {
		if asked[m.Provider] || !movable[i] {
			continue
		}
		asked[m.Provider] = true
		switch {
		case !g.providers.Healthy(m.Provider):
			avoid[m.Provider] = "unhealthy"
		case !g.breakers.For(m.Provider).Allow(now):
			avoid[m.Provider] = "breaker open"
		}
	}
	return avoid
}

// claim marks the job's messages that still need sending `sending` (so they can no longer
// be canceled) and returns them, in id order. When none is left to send, it completes the
// job in the same transaction.
func (g *Gateway) claim(ctx context.Context, ids []string, a ports.DispatchAttempt) ([]message.Message, error) {
	var send []message.Message
	err := g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		send = send[:0]
		ms, err := tx.GetMessagesForUpdate(ctx, ids)
		if err != nil {
			return fmt.Errorf("lock %d message(s): %w", len(ids), err)
		}
		now := g.now()
		var updates []ports.MessageUpdate
		for _, m := range ms {
			if m.Status.Final() || m.ProviderMessageID != "" || m.Direction != message.Outbound {
				continue
			}
			if a.Provider != "" && m.Provider != a.Provider {
				continue // failed over to another provider, whose own job sends it
			}
			if m.Status != message.StatusSending {
				u := withStatus(m, message.StatusSending, "", now)
				updates = append(updates, u)
				m = u.Message
			}
			send = append(send, m)
		}
		if len(updates) > 0 {
			if err := tx.UpdateMessages(ctx, updates); err != nil {
				return fmt.Errorf("claim %d message(s): %w", len(updates), err)
			}
		}
		if len(send) == 0 {
			return a.Complete(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return send, nil
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

// withStatus is m moved to status (which the caller has checked is allowed) with its event.
func withStatus(m message.Message, status message.Status, detail string, now time.Time) ports.MessageUpdate {
	ev := message.Event{Status: status, At: now, Detail: detail}
	m.Status, m.UpdatedAt = status, now
	m.Events = append(slices.Clip(m.Events), ev)
	return ports.MessageUpdate{Message: m, NewEvents: []message.Event{ev}}
}

// accepted is m after the provider accepted it: its message id and the initial status,
// through the state machine (a delivery report may already have arrived).
func accepted(m message.Message, provider string, res ports.SendResult, now time.Time) ports.MessageUpdate {
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
	case message.Drop:
		if m.Status == message.StatusSending && status == message.StatusQueued {
			// The provider took the message into its own queue (a batch API acknowledges
			// that, not the sending): the message is still on its way, which "sending"
			// says; the acceptance is an event, not a step back.
			events = append(events, message.Event{Status: m.Status, At: now, Detail: "accepted via " + provider})
		}
	}
	m.UpdatedAt = now
	m.Events = append(slices.Clip(m.Events), events...)
	return ports.MessageUpdate{Message: m, NewEvents: events}
}

// failed is m failed for good with the provider error; false when m is final already.
func failed(m message.Message, pe *ports.ProviderError, now time.Time) (ports.MessageUpdate, bool) {
	if m.Status.Final() {
		return ports.MessageUpdate{}, false
	}
	msg := pe.Message
	if pe.Code != "" {
		msg = pe.Code + ": " + msg
	}
	m.Error = &message.Error{Code: errorCode(pe.Code, string(pe.Class)), Message: pe.Provider + ": " + msg}
	return withStatus(m, message.StatusFailed, "via "+pe.Provider+": "+string(pe.Class), now), true
}

// attemptNoted is m with a failed attempt that will be retried recorded as an event (status
// unchanged).
func attemptNoted(m message.Message, detail string, now time.Time) ports.MessageUpdate {
	ev := message.Event{Status: m.Status, At: now, Detail: detail}
	m.UpdatedAt = now
	m.Events = append(slices.Clip(m.Events), ev)
	return ports.MessageUpdate{Message: m, NewEvents: []message.Event{ev}}
}

// recordAccepted stores the provider's acceptance of message id inside tx.
func (g *Gateway) recordAccepted(ctx context.Context, tx ports.Tx, id, provider string, res ports.SendResult) error {
	m, err := tx.GetMessageForUpdate(ctx, id)
	if err != nil {
		return fmt.Errorf("lock message %s: %w", id, err)
	}
	u := accepted(m, provider, res, g.now())
	if err := tx.UpdateMessage(ctx, u.Message, u.NewEvents...); err != nil {
		return fmt.Errorf("update message %s: %w", id, err)
	}
	return nil
}

// errorCode is the code of a message's error: the provider's own code when it gave one (what
// its users look up, e.g. Twilio's 30003), else the gateway's word for what happened (the
// error class, or the failed status). The class is in the message's events either way.
func errorCode(providerCode, fallback string) string {
	if providerCode != "" {
		return providerCode
	}
	return fallback
}

// recordProviderOptOut blocks m's pair for good because its provider reported the recipient
// unsubscribed (API.md §2, source "provider"): the provider refuses the pair until the
// person opts back in, and an inbound START lifts the block as any keyword does.
func (g *Gateway) recordProviderOptOut(ctx context.Context, tx ports.Tx, m message.Message, now time.Time) error {
	o := ports.OptOut{Sender: m.From, Recipient: m.To, Source: optout.SourceProvider, CreatedAt: now}
	if _, _, err := tx.BlockOptOut(ctx, o); err != nil {
		return fmt.Errorf("record provider opt-out %s→%s of message %s: %w", m.From, m.To, m.ID, err)
	}
	return nil
}
