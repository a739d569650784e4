package gateway

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

// memStore is a small in-memory ports.Store: one mutex serialises transactions, which is
// all the locking semantics the use cases rely on. Writes are staged on a copy and only
// published when fn succeeds, so rollback is real.
type memStore struct {
	mu       sync.Mutex
	msgs     map[string]message.Message
	hidden   map[string]bool
	accounts map[string]ports.Account
	optOuts  map[[2]string]ports.OptOut            // by (sender, recipient)
	rateLogs map[string][]time.Time                // hits by key
	idem     map[[2]string]ports.IdempotencyRecord // by (account, key)
	failTx   error                                 // returned by InTx instead of running fn
	txCount  int                                   // transactions begun
	// refuse makes an update of these message ids fail (a value the store will not take).
	refuse map[string]bool
}

func newMemStore() *memStore {
	return &memStore{msgs: map[string]message.Message{}, hidden: map[string]bool{}, accounts: map[string]ports.Account{},
		optOuts: map[[2]string]ports.OptOut{}, rateLogs: map[string][]time.Time{}, idem: map[[2]string]ports.IdempotencyRecord{}}
}

func clone(m message.Message) message.Message {
	m.Events = slices.Clone(m.Events)
	m.Tags = maps.Clone(m.Tags)
	m.Route = slices.Clone(m.Route)
	return m
}

func (s *memStore) GetMessage(_ context.Context, account, id string) (message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[id]
	if !ok || s.hidden[id] || (account != "" && m.AccountID != account) {
		return message.Message{}, fmt.Errorf("message %s: %w", id, ports.ErrNotFound)
	}
	return clone(m), nil
}

func (s *memStore) ListMessages(context.Context, string, ports.MessageQuery) (ports.MessagePage, error) {
	return ports.MessagePage{}, nil
}

func (s *memStore) ListAwaitingStatus(_ context.Context, provider string, since time.Time, limit int) ([]message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []message.Message
	for _, m := range s.msgs {
		if m.Provider == provider && m.Direction == message.Outbound && m.ProviderMessageID != "" && !m.Status.Final() && !m.CreatedAt.Before(since) {
			out = append(out, clone(m))
		}
	}
	slices.SortFunc(out, func(a, b message.Message) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *memStore) GetAccount(_ context.Context, id string) (ports.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return ports.Account{}, ports.ErrNotFound
	}
	return a, nil
}

func (s *memStore) PutAccount(_ context.Context, a ports.Account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[a.ID] = a
	return nil
}

func (s *memStore) ListAccounts(context.Context) ([]ports.Account, error) { return nil, nil }

func (s *memStore) ListOptOuts(context.Context, ports.OptOutQuery, time.Time) (ports.OptOutPage, error) {
	return ports.OptOutPage{}, nil
}

func (s *memStore) PruneOptOuts(context.Context, time.Time) (int, error) { return 0, nil }

func (s *memStore) Ping(context.Context) error { return s.failTx }

func (s *memStore) InTx(ctx context.Context, fn func(context.Context, ports.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txCount++
	if s.failTx != nil {
		return s.failTx
	}
	if err := ctx.Err(); err != nil { // a real store cannot begin on an ended context either
		return err
	}
	// Hit stores new slices, never changes a log in place, so a shallow copy stages it.
	tx := &memTx{s: s, msgs: maps.Clone(s.msgs), hidden: maps.Clone(s.hidden), optOuts: maps.Clone(s.optOuts),
		rateLogs: maps.Clone(s.rateLogs), idem: maps.Clone(s.idem)}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	s.msgs, s.hidden, s.optOuts, s.rateLogs, s.idem = tx.msgs, tx.hidden, tx.optOuts, tx.rateLogs, tx.idem
	return nil
}

type memTx struct {
	s        *memStore
	msgs     map[string]message.Message
	hidden   map[string]bool
	optOuts  map[[2]string]ports.OptOut
	rateLogs map[string][]time.Time
	idem     map[[2]string]ports.IdempotencyRecord
}

func (t *memTx) GetMessageForUpdate(_ context.Context, id string) (message.Message, error) {
	m, ok := t.msgs[id]
	if !ok {
		return message.Message{}, fmt.Errorf("message %s: %w", id, ports.ErrNotFound)
	}
	return clone(m), nil
}

func (t *memTx) FindByProviderIDForUpdate(_ context.Context, dir message.Direction, provider, pid string) (message.Message, error) {
	for _, m := range t.msgs {
		if m.Direction == dir && m.Provider == provider && m.ProviderMessageID == pid {
			return clone(m), nil
		}
	}
	return message.Message{}, ports.ErrNotFound
}

func (t *memTx) MessageIDsByProviderID(_ context.Context, dir message.Direction, provider string, pids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, m := range t.msgs {
		if m.Direction == dir && m.Provider == provider && m.ProviderMessageID != "" && slices.Contains(pids, m.ProviderMessageID) {
			out[m.ProviderMessageID] = m.ID
		}
	}
	return out, nil
}

func (t *memTx) InsertMessage(_ context.Context, m message.Message) error {
	if _, ok := t.msgs[m.ID]; ok {
		return ports.ErrConflict
	}
	if m.Direction == message.Inbound && m.ProviderMessageID != "" {
		if _, err := t.FindByProviderIDForUpdate(context.Background(), message.Inbound, m.Provider, m.ProviderMessageID); err == nil {
			return ports.ErrConflict
		}
	}
	t.msgs[m.ID] = clone(m)
	return nil
}

func (t *memTx) UpdateMessage(_ context.Context, m message.Message, evs ...message.Event) error {
	old, ok := t.msgs[m.ID]
	if !ok {
		return ports.ErrNotFound
	}
	if t.s.refuse[m.ID] {
		return fmt.Errorf("update message %s: the store refuses it", m.ID)
	}
	m.Events = append(slices.Clone(old.Events), evs...)
	t.msgs[m.ID] = clone(m)
	return nil
}

func (t *memTx) HideMessage(_ context.Context, id string, _ time.Time) error {
	if _, ok := t.msgs[id]; !ok {
		return ports.ErrNotFound
	}
	t.hidden[id] = true
	return nil
}

func (t *memTx) OptedOut(_ context.Context, sender, recipient string, now time.Time) (bool, error) {
	o, ok := t.optOuts[[2]string{sender, recipient}]
	return ok && o.Active(now), nil
}

// BlockOptOut follows the ports.Tx contract; InTx's mutex makes it atomic.
func (t *memTx) BlockOptOut(_ context.Context, o ports.OptOut) (ports.OptOut, bool, error) {
	if err := o.Validate(); err != nil {
		return ports.OptOut{}, false, err
	}
	k := [2]string{o.Sender, o.Recipient}
	cur, ok := t.optOuts[k]
	if !ok || !cur.Active(o.CreatedAt) {
		t.optOuts[k] = o
		return o, true, nil
	}
	if cur.ExpiresAt != nil && (o.ExpiresAt == nil || o.ExpiresAt.After(*cur.ExpiresAt)) {
		cur.ExpiresAt = o.ExpiresAt
	}
	t.optOuts[k] = cur
	return cur, false, nil
}

func (t *memTx) LiftOptOut(_ context.Context, sender, recipient string, now time.Time) (bool, error) {
	k := [2]string{sender, recipient}
	o, ok := t.optOuts[k]
	delete(t.optOuts, k)
	return ok && o.Active(now), nil
}

// memJobs records enqueued send jobs.
type memJobs struct {
	mu   sync.Mutex
	jobs []ports.SendJob
	fail error
}

func (j *memJobs) EnqueueSends(_ context.Context, _ ports.Tx, jobs ...ports.SendJob) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return j.fail
	}
	j.jobs = append(j.jobs, jobs...)
	return nil
}

// fakeProviders answers sends from a script and records calls.
type fakeProviders struct {
	mu      sync.Mutex
	sends   []message.Message
	results []sendAnswer          // consumed in order; the last one repeats
	byText  map[string]sendAnswer // answers by message text, before results (concurrent sends)
	polls   map[string]ports.StatusReport
	webhook ports.WebhookResult
	healthy bool
}

type sendAnswer struct {
	res ports.SendResult
	err error
}

func (p *fakeProviders) Send(_ context.Context, provider string, m message.Message) (ports.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sends = append(p.sends, m)
	if a, ok := p.byText[m.Text]; ok {
		return a.res, a.err
	}
	a := p.results[0]
	if len(p.results) > 1 {
		p.results = p.results[1:]
	}
	return a.res, a.err
}

func (p *fakeProviders) PollStatus(_ context.Context, _ string, ids []string) ([]ports.StatusReport, error) {
	if p.polls == nil {
		return nil, ports.ErrNotImplemented
	}
	var out []ports.StatusReport
	for _, id := range ids {
		if r, ok := p.polls[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (p *fakeProviders) HandleWebhook(_ context.Context, provider string, _ ports.WebhookRequest) (ports.WebhookResult, error) {
	if provider != "loop" {
		return ports.WebhookResult{}, ports.ErrNotFound
	}
	return p.webhook, nil
}

func (p *fakeProviders) Balance(context.Context, string) (ports.Balance, error) {
	return ports.Balance{}, ports.ErrNotImplemented
}

func (p *fakeProviders) List(context.Context) []ports.ProviderInfo { return nil }

func (p *fakeProviders) Healthy(string) bool { return p.healthy }

// seqIDs makes ids m1, m2, ...
type seqIDs struct {
	mu sync.Mutex
	n  int
}

func (s *seqIDs) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("m%d", s.n)
}

// InsertMessages implements ports.Tx, one message at a time.
func (t *memTx) InsertMessages(ctx context.Context, ms []message.Message) error {
	return ports.InsertEach(ctx, t.InsertMessage, ms)
}

// GetMessagesForUpdate implements ports.Tx, one message at a time.
func (t *memTx) GetMessagesForUpdate(ctx context.Context, ids []string) ([]message.Message, error) {
	return ports.GetEachForUpdate(ctx, t.GetMessageForUpdate, ids)
}

// UpdateMessages implements ports.Tx, one message at a time.
func (t *memTx) UpdateMessages(ctx context.Context, updates []ports.MessageUpdate) error {
	return ports.UpdateEach(ctx, t.UpdateMessage, updates)
}

func (t *memTx) BlockedPairs(ctx context.Context, pairs []ports.OptOutPair, now time.Time) (map[ports.OptOutPair]bool, error) {
	out := map[ports.OptOutPair]bool{}
	for _, p := range pairs {
		if blocked, _ := t.OptedOut(ctx, p.Sender, p.Recipient, now); blocked {
			out[p] = true
		}
	}
	return out, nil
}

// Hit follows the ports.Limiter contract with the window's own rule; InTx's mutex is the
// lock of every key.
func (t *memTx) Hit(_ context.Context, w ratelimit.Window, now time.Time, demands []ports.RateDemand) ([]ports.RateGrant, error) {
	if err := ports.ValidateDemands(demands); err != nil {
		return nil, err
	}
	grants := make([]ports.RateGrant, len(demands))
	for i, d := range demands {
		kept, admitted, retry := w.Admit(t.rateLogs[d.Key], now, d.N)
		t.rateLogs[d.Key] = kept
		grants[i] = ports.RateGrant{Admitted: admitted, RetryAfter: retry}
	}
	return grants, nil
}

func (s *memStore) PruneRateLogs(_ context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, hits := range s.rateLogs {
		if !slices.ContainsFunc(hits, func(h time.Time) bool { return h.After(before) }) {
			delete(s.rateLogs, k)
			n++
		}
	}
	return n, nil
}

// ClaimIdempotencyKey follows the ports.IdempotencyStore contract; the mutex makes it atomic.
func (s *memStore) ClaimIdempotencyKey(_ context.Context, r ports.IdempotencyRecord, ttl time.Duration) (ports.IdempotencyRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failTx != nil {
		return ports.IdempotencyRecord{}, false, s.failTx
	}
	k := [2]string{r.AccountID, r.Key}
	if cur, ok := s.idem[k]; ok && !cur.Stale(r.CreatedAt, ttl) {
		return cur, false, nil
	}
	r.Accepted = false
	s.idem[k] = r
	return r, true, nil
}

func (s *memStore) PruneIdempotencyKeys(_ context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, r := range s.idem {
		if !r.CreatedAt.After(before) {
			delete(s.idem, k)
			n++
		}
	}
	return n, nil
}

func (t *memTx) AcceptIdempotencyKey(_ context.Context, accountID, key, messageID string) (bool, error) {
	k := [2]string{accountID, key}
	r, ok := t.idem[k]
	if !ok || r.MessageID != messageID {
		return false, nil
	}
	r.Accepted = true
	t.idem[k] = r
	return true, nil
}

func (t *memTx) ReleaseIdempotencyKey(_ context.Context, accountID, key, messageID string) error {
	k := [2]string{accountID, key}
	if r, ok := t.idem[k]; ok && r.MessageID == messageID && !r.Accepted {
		delete(t.idem, k)
	}
	return nil
}
