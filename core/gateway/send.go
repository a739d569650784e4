package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	// Unlimited skips the per-sender rate limit: the send is neither counted against its
	// sender's window nor refused by it (opt-outs still apply). For the fastsmsing dialect,
	// which API.md §8.2 says is not rate limited (all its traffic shares one sender id).
	Unlimited bool
	// IdempotencyKey (optional) makes a retry of the same request return the original
	// message (API.md §1); "the same request" is the same fields (requestHash).
	IdempotencyKey string
}

// MaxIdempotencyKey is the longest Idempotency-Key accepted (API.md §1).
const MaxIdempotencyKey = 255

// Send validates a send, routes it, and accepts it: the rate-limit hit, the opt-out check,
// the idempotency key, the message row and its send job are written in one transaction
// (shared with concurrent sends, see accept.go); nothing is acknowledged before it commits.
// Validation failures are *message.FieldError, checked in the order from, to, text,
// provider, tags, send_at, Idempotency-Key. Refusals: *RateLimitedError, ErrOptedOut,
// ErrIdempotencyKeyInUse, ErrIdempotencyKeyReused. A send whose key was accepted before with
// the same request returns that message again, counting nothing.
func (g *Gateway) Send(ctx context.Context, cmd SendCommand) (message.Message, error) {
	now := g.now()
	from, to := cmd.From, cmd.To
	if !cmd.Verbatim {
		var ok bool
		if from, ok = message.NormalizeSender(cmd.From); !ok {
			return message.Message{}, message.Invalid("from", "from must be an E.164 number or an alphanumeric sender id of 1 to 11 characters")
		}
		if to, ok = message.NormalizeE164(cmd.To); !ok {
			return message.Message{}, message.Invalid("to", "to must be an E.164 number (+ and 6 to 15 digits)")
		}
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
	if len(cmd.IdempotencyKey) > MaxIdempotencyKey {
		return message.Message{}, message.Invalid("Idempotency-Key", "Idempotency-Key must be at most %d characters", MaxIdempotencyKey)
	}
	m := g.newOutbound(cmd.AccountID, from, to, cmd.Text, route, cmd.Tags, cmd.SendAt, now)
	if cmd.IdempotencyKey != "" {
		replay, claimed, err := g.claimKey(ctx, cmd, m.ID, now)
		if err != nil || !claimed {
			return replay, err
		}
	}
	err = g.acceptor.accept(ctx, admission{m: m, rateLimited: !cmd.Unlimited, checkOptOut: true, idempotencyKey: cmd.IdempotencyKey})
	if err != nil {
		if cmd.IdempotencyKey != "" && !errors.Is(err, ports.ErrRejected) {
			g.releaseKey(ctx, cmd.AccountID, cmd.IdempotencyKey, m.ID)
		}
		return message.Message{}, err
	}
	return m, nil
}

// claimKey claims the send's Idempotency-Key for the message id it will have. When another
// request holds the key it returns that request's message (a replay), or the refusal.
func (g *Gateway) claimKey(ctx context.Context, cmd SendCommand, id string, now time.Time) (message.Message, bool, error) {
	rec := ports.IdempotencyRecord{
		AccountID: cmd.AccountID, Key: cmd.IdempotencyKey, RequestHash: requestHash(cmd),
		MessageID: id, CreatedAt: now, LeaseUntil: now.Add(g.cfg.IdempotencyLease),
	}
	held, claimed, err := g.store.ClaimIdempotencyKey(ctx, rec, g.cfg.IdempotencyTTL)
	switch {
	case err != nil:
		return message.Message{}, false, fmt.Errorf("claim idempotency key: %w", err)
	case claimed:
		return message.Message{}, true, nil
	case held.RequestHash != rec.RequestHash:
		return message.Message{}, false, ErrIdempotencyKeyReused
	case !held.Accepted:
		return message.Message{}, false, ErrIdempotencyKeyInUse
	}
	m, err := g.store.GetMessage(ctx, cmd.AccountID, held.MessageID)
	if err != nil {
		return message.Message{}, false, fmt.Errorf("replay idempotent send %s: %w", held.MessageID, err)
	}
	return m, false, nil
}

// releaseKey frees a claim whose send failed without a refusal (the store failed, or the
// caller went away while it was queued), so a retry is judged afresh. It only deletes a
// claim that is still unaccepted, so it is safe even if the failed commit did in fact land;
// should it fail too, the claim's lease runs out instead.
func (g *Gateway) releaseKey(ctx context.Context, account, key, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), acceptTimeout)
	defer cancel()
	_ = g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.ReleaseIdempotencyKey(ctx, account, key, id)
	})
}

// requestHash identifies what a send asks for, so a retry with the same key can be told from
// a different request: the fields as the client gave them, whatever the JSON's layout.
func requestHash(cmd SendCommand) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s", len(s), s) }
	field(cmd.From)
	field(cmd.To)
	field(cmd.Text)
	field(cmd.Provider)
	for _, k := range slices.Sorted(maps.Keys(cmd.Tags)) {
		field(k)
		field(cmd.Tags[k])
	}
	if cmd.SendAt != nil {
		field(cmd.SendAt.UTC().Format(time.RFC3339Nano))
	}
	return hex.EncodeToString(h.Sum(nil))
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

// admit stores a group of admissions inside tx, checking each as API.md §1 orders: the
// rate limit (one Limiter call for the group: a refused send counts nothing), then the
// opt-out (one lookup for the group: a refused send still counts against the limit, so its
// hit commits), then the idempotency claim. It returns one refusal per admission (nil:
// accepted) and inserts the accepted messages with their send jobs.
func (g *Gateway) admit(ctx context.Context, tx ports.Tx, as []admission) ([]error, error) {
	refusals := make([]error, len(as))
	if err := g.hitRateLimits(ctx, tx, as, refusals); err != nil {
		return nil, err
	}
	if err := g.checkOptOuts(ctx, tx, as, refusals); err != nil {
		return nil, err
	}
	accepted := make([]message.Message, 0, len(as))
	for i, a := range as {
		if a.idempotencyKey != "" {
			if refusals[i] != nil {
				if err := tx.ReleaseIdempotencyKey(ctx, a.m.AccountID, a.idempotencyKey, a.m.ID); err != nil {
					return nil, fmt.Errorf("release idempotency key: %w", err)
				}
				continue
			}
			held, err := tx.AcceptIdempotencyKey(ctx, a.m.AccountID, a.idempotencyKey, a.m.ID)
			if err != nil {
				return nil, fmt.Errorf("accept idempotency key: %w", err)
			}
			if !held {
				// The claim's lease ran out and another request took the key over: that
				// one decides, this one must not send a second message.
				refusals[i] = ErrIdempotencyKeyInUse
				continue
			}
		}
		if refusals[i] == nil {
			accepted = append(accepted, a.m)
		}
	}
	if len(accepted) > 0 {
		if err := g.insertOutbound(ctx, tx, accepted); err != nil {
			return nil, err
		}
	}
	return refusals, nil
}

// checkOptOuts refuses, with one lookup for the group, the admissions not yet refused whose
// pair is blocked.
func (g *Gateway) checkOptOuts(ctx context.Context, tx ports.Tx, as []admission, refusals []error) error {
	if g.cfg.IgnoreOptOuts {
		return nil
	}
	var (
		pairs []ports.OptOutPair
		of    = make([][]ports.OptOutPair, len(as)) // the pairs that refuse each admission
	)
	for i, a := range as {
		if refusals[i] == nil && a.checkOptOut {
			of[i] = optOutPairs(a.m)
			pairs = append(pairs, of[i]...)
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	blocked, err := tx.BlockedPairs(ctx, pairs, g.now())
	if err != nil {
		return fmt.Errorf("check %d opt-out(s): %w", len(pairs), err)
	}
	for i, ps := range of {
		if slices.ContainsFunc(ps, func(p ports.OptOutPair) bool { return blocked[p] }) {
			refusals[i] = ErrOptedOut
		}
	}
	return nil
}

// optOutPairs are the blocks that refuse m: its own (sender, recipient) pair and, when a
// dialect passed the recipient as international digits without the "+" (fastsmsing,
// Flowroute-style numbers), the same pair with the E.164 recipient every STOP and v1 block
// is recorded under. A person who said STOP is not messaged again because a legacy client
// wrote their number without the plus.
func optOutPairs(m message.Message) []ports.OptOutPair {
	pairs := []ports.OptOutPair{{Sender: m.From, Recipient: m.To}}
	if m.To != "" && m.To[0] != '+' {
		if e164, ok := message.NormalizeE164("+" + m.To); ok && e164[1:] == m.To {
			pairs = append(pairs, ports.OptOutPair{Sender: m.From, Recipient: e164})
		}
	}
	return pairs
}

// hitRateLimits counts the rate-limited admissions against their senders' windows, one
// demand per sender, and marks the ones refused: of several sends of one sender in the
// group, the first ones get the room that is left.
func (g *Gateway) hitRateLimits(ctx context.Context, tx ports.Tx, as []admission, refusals []error) error {
	w := g.cfg.RateLimit
	if !w.Enabled() {
		return nil
	}
	var (
		demands  []ports.RateDemand
		members  [][]int // indices in as, per demand
		bySender = map[string]int{}
	)
	for i, a := range as {
		if !a.rateLimited {
			continue
		}
		j, ok := bySender[a.m.From]
		if !ok {
			j = len(demands)
			bySender[a.m.From] = j
			demands = append(demands, ports.RateDemand{Key: a.m.From})
			members = append(members, nil)
		}
		demands[j].N++
		members[j] = append(members[j], i)
	}
	if len(demands) == 0 {
		return nil
	}
	grants, err := tx.Hit(ctx, w, g.now(), demands)
	if err != nil {
		return fmt.Errorf("count %d sender(s) against the rate limit: %w", len(demands), err)
	}
	for j, gr := range grants {
		for _, i := range members[j][gr.Admitted:] {
			refusals[i] = &RateLimitedError{Sender: demands[j].Key, RetryAfter: gr.RetryAfter}
		}
	}
	return nil
}

// insertOutbound stores outbound messages and their send jobs inside tx: one job per
// provider for the messages due now, one job each for scheduled ones (they run at their own
// time), all enqueued in one insert.
func (g *Gateway) insertOutbound(ctx context.Context, tx ports.Tx, ms []message.Message) error {
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
		job := ports.SendJob{Provider: m.Provider, MessageIDs: []string{m.ID}, MaxAttempts: p.MaxAttempts, Backoff: p.Backoff}
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
	err := g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
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
	return g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
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
