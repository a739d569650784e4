package porttest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

// MemStore is the reference ports.Store, in memory: one mutex serialises transactions (the
// strongest lock), and a transaction works on copies that are published only on commit.
// RunStore checks it like the real adapters; tests of code that needs a Store without a
// database (handlers, use cases) can run on it.
type MemStore struct {
	mu       sync.Mutex
	msgs     map[string]memMsg
	accounts map[string]ports.Account
	optOuts  map[pairKey]ports.OptOut
	rateLogs map[string][]time.Time // hits, oldest first
	idem     map[idemKey]ports.IdempotencyRecord
	numbers  map[string]proxy.Number  // by number
	sessions map[string]proxy.Session // by id
}

// idemKey keys an idempotency record.
type idemKey struct{ account, key string }

// pairKey keys an opt-out.
type pairKey struct{ sender, recipient string }

type memMsg struct {
	m      message.Message
	hidden bool
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{msgs: map[string]memMsg{}, accounts: map[string]ports.Account{}, optOuts: map[pairKey]ports.OptOut{},
		rateLogs: map[string][]time.Time{}, idem: map[idemKey]ports.IdempotencyRecord{},
		numbers: map[string]proxy.Number{}, sessions: map[string]proxy.Session{}}
}

func cloneMsg(m message.Message) message.Message {
	m.Events = slices.Clone(m.Events)
	m.Tags = maps.Clone(m.Tags)
	m.Route = slices.Clone(m.Route)
	return m
}

// Ping always answers.
func (s *MemStore) Ping(context.Context) error { return nil }

func (s *MemStore) GetMessage(_ context.Context, accountID, id string) (message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.msgs[id]
	if !ok || r.hidden || (accountID != "" && r.m.AccountID != accountID) {
		return message.Message{}, fmt.Errorf("message %s: %w", id, ports.ErrNotFound)
	}
	return cloneMsg(r.m), nil
}

func newestFirst(a, b message.Message) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

func (s *MemStore) ListMessages(_ context.Context, accountID string, q ports.MessageQuery) (ports.MessagePage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []message.Message
	for _, r := range s.msgs {
		if !r.hidden && r.m.AccountID == accountID {
			all = append(all, cloneMsg(r.m))
		}
	}
	var page ports.MessagePage
	for _, id := range expectList(all, q) {
		m := cloneMsg(s.msgs[id].m)
		if q.After != nil && newestFirst(m, message.Message{ID: q.After.ID, CreatedAt: q.After.CreatedAt}) <= 0 {
			continue
		}
		if q.Limit > 0 && len(page.Items) == q.Limit {
			last := page.Items[len(page.Items)-1]
			page.Next = &ports.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
			break
		}
		page.Items = append(page.Items, m)
	}
	return page, nil
}

// oldestFirst orders messages by (created_at, id) ascending, ListAwaitingStatus' order.
func oldestFirst(a, b message.Message) int { return newestFirst(b, a) }

func (s *MemStore) ListAwaitingStatus(_ context.Context, q ports.AwaitingQuery) ([]message.Message, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("list messages awaiting status: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []message.Message
	for _, r := range s.msgs {
		m := r.m
		if r.hidden || m.Provider != q.Provider || m.Direction != message.Outbound || m.ProviderMessageID == "" ||
			m.Status.Final() || m.CreatedAt.Before(q.Since) || (q.AccountID != "" && m.AccountID != q.AccountID) {
			continue
		}
		if q.After != nil && oldestFirst(m, message.Message{ID: q.After.ID, CreatedAt: q.After.CreatedAt}) <= 0 {
			continue
		}
		out = append(out, cloneMsg(m))
	}
	slices.SortFunc(out, oldestFirst)
	return out[:min(q.Limit, len(out))], nil
}

// CountStatuses implements ports.MessageStore.
func (s *MemStore) CountStatuses(_ context.Context, accountID string, start, end time.Time) (map[string]map[message.Status]int, error) {
	start, end = storedTime(start), storedTime(end)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[message.Status]int{}
	for _, r := range s.msgs {
		m := r.m
		created := storedTime(m.CreatedAt)
		if r.hidden || m.AccountID != accountID || created.Before(start) || created.After(end) {
			continue
		}
		day := created.Format(ports.DayLayout)
		if out[day] == nil {
			out[day] = map[message.Status]int{}
		}
		out[day][m.Status]++
	}
	return out, nil
}

func (s *MemStore) GetAccount(_ context.Context, id string) (ports.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	if !ok {
		return ports.Account{}, fmt.Errorf("account %s: %w", id, ports.ErrNotFound)
	}
	return a, nil
}

func (s *MemStore) PutAccount(_ context.Context, a ports.Account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.accounts[a.ID]; ok {
		a.CreatedAt = old.CreatedAt
	}
	a.CreatedAt = a.CreatedAt.UTC()
	s.accounts[a.ID] = a
	return nil
}

func (s *MemStore) ListAccounts(context.Context) ([]ports.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Values(s.accounts))
	slices.SortFunc(out, func(a, b ports.Account) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *MemStore) InTx(ctx context.Context, fn func(context.Context, ports.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The logs' slices and the sessions' time pointers are never changed in place (Hit and
	// CloseProxySession store new ones), so shallow copies keep a rolled-back transaction's
	// writes out of the store.
	tx := &memTx{msgs: maps.Clone(s.msgs), optOuts: maps.Clone(s.optOuts), rateLogs: maps.Clone(s.rateLogs), idem: maps.Clone(s.idem),
		numbers: maps.Clone(s.numbers), sessions: maps.Clone(s.sessions)}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	s.msgs, s.optOuts, s.rateLogs, s.idem = tx.msgs, tx.optOuts, tx.rateLogs, tx.idem
	s.numbers, s.sessions = tx.numbers, tx.sessions
	return nil
}

type memTx struct {
	msgs     map[string]memMsg
	optOuts  map[pairKey]ports.OptOut
	rateLogs map[string][]time.Time
	idem     map[idemKey]ports.IdempotencyRecord
	numbers  map[string]proxy.Number
	sessions map[string]proxy.Session
}

func (t *memTx) GetMessageForUpdate(_ context.Context, id string) (message.Message, error) {
	r, ok := t.msgs[id]
	if !ok {
		return message.Message{}, fmt.Errorf("message %s: %w", id, ports.ErrNotFound)
	}
	return cloneMsg(r.m), nil
}

func (t *memTx) FindByProviderIDForUpdate(_ context.Context, dir message.Direction, provider, pid string) (message.Message, error) {
	for _, r := range t.msgs {
		if pid != "" && r.m.Direction == dir && r.m.Provider == provider && r.m.ProviderMessageID == pid {
			return cloneMsg(r.m), nil
		}
	}
	return message.Message{}, fmt.Errorf("message %s/%s: %w", provider, pid, ports.ErrNotFound)
}

// MessageIDsByProviderID implements ports.Tx: newest first, like FindByProviderIDForUpdate.
func (t *memTx) MessageIDsByProviderID(_ context.Context, dir message.Direction, provider string, pids []string) (map[string]string, error) {
	out := map[string]string{}
	newest := map[string]message.Message{}
	for _, r := range t.msgs {
		m := r.m
		if m.Direction != dir || m.Provider != provider || m.ProviderMessageID == "" || !slices.Contains(pids, m.ProviderMessageID) {
			continue
		}
		if cur, ok := newest[m.ProviderMessageID]; ok && (m.CreatedAt.Before(cur.CreatedAt) || (m.CreatedAt.Equal(cur.CreatedAt) && m.ID < cur.ID)) {
			continue
		}
		newest[m.ProviderMessageID], out[m.ProviderMessageID] = m, m.ID
	}
	return out, nil
}

func utcMsg(m message.Message) message.Message {
	m = cloneMsg(m)
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	if m.SendAt != nil {
		sa := m.SendAt.UTC()
		m.SendAt = &sa
	}
	for i := range m.Events {
		m.Events[i].At = m.Events[i].At.UTC()
	}
	return m
}

func (t *memTx) InsertMessage(ctx context.Context, m message.Message) error {
	if _, ok := t.msgs[m.ID]; ok {
		return fmt.Errorf("message %s: %w", m.ID, ports.ErrConflict)
	}
	if m.Direction == message.Inbound && m.ProviderMessageID != "" {
		if _, err := t.FindByProviderIDForUpdate(ctx, message.Inbound, m.Provider, m.ProviderMessageID); err == nil {
			return fmt.Errorf("inbound %s/%s: %w", m.Provider, m.ProviderMessageID, ports.ErrConflict)
		}
	}
	t.msgs[m.ID] = memMsg{m: utcMsg(m)}
	return nil
}

func (t *memTx) UpdateMessage(_ context.Context, m message.Message, evs ...message.Event) error {
	r, ok := t.msgs[m.ID]
	if !ok {
		return fmt.Errorf("message %s: %w", m.ID, ports.ErrNotFound)
	}
	u := utcMsg(m)
	cur := cloneMsg(r.m)
	cur.Status, cur.Provider, cur.Route = u.Status, u.Provider, u.Route
	cur.ProviderMessageID, cur.Error, cur.UpdatedAt = u.ProviderMessageID, u.Error, u.UpdatedAt
	for _, e := range evs {
		e.At = e.At.UTC()
		cur.Events = append(cur.Events, e)
	}
	t.msgs[m.ID] = memMsg{m: cur, hidden: r.hidden}
	return nil
}

func (t *memTx) HideMessage(_ context.Context, id string, _ time.Time) error {
	r, ok := t.msgs[id]
	if !ok {
		return fmt.Errorf("message %s: %w", id, ports.ErrNotFound)
	}
	r.hidden = true
	t.msgs[id] = r
	return nil
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

// --- opt-outs ---------------------------------------------------------------------------

// storedTime is how the stores keep a time: UTC at microsecond precision, the precision of
// Postgres and of ports.Cursor, so that what MemStore lists pages as the databases' do.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func storedOptOut(o ports.OptOut) ports.OptOut {
	o.CreatedAt = storedTime(o.CreatedAt)
	if o.ExpiresAt != nil {
		e := storedTime(*o.ExpiresAt)
		o.ExpiresAt = &e
	}
	return o
}

// optOutNewestFirst orders opt-outs by (created_at, sender, recipient) descending.
func optOutNewestFirst(a, b ports.OptOut) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Sender, a.Sender); c != 0 {
		return c
	}
	return cmp.Compare(b.Recipient, a.Recipient)
}

// ListOptOuts implements ports.OptOutStore.
func (s *MemStore) ListOptOuts(_ context.Context, q ports.OptOutQuery, now time.Time) (ports.OptOutPage, error) {
	var after *ports.OptOut
	if q.After != nil {
		sender, recipient, err := ports.ParseOptOutCursorID(q.After.ID)
		if err != nil {
			return ports.OptOutPage{}, fmt.Errorf("list opt-outs: %w", err)
		}
		after = &ports.OptOut{Sender: sender, Recipient: recipient, CreatedAt: storedTime(q.After.CreatedAt)}
	}
	now = storedTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []ports.OptOut
	for _, o := range s.optOuts {
		if o.Active(now) && (q.Sender == "" || o.Sender == q.Sender) && (q.Recipient == "" || o.Recipient == q.Recipient) &&
			(after == nil || optOutNewestFirst(o, *after) > 0) {
			all = append(all, o)
		}
	}
	slices.SortFunc(all, optOutNewestFirst)
	var page ports.OptOutPage
	if q.Limit > 0 && len(all) > q.Limit {
		all = all[:q.Limit]
		page.Next = ports.OptOutCursor(all[q.Limit-1])
	}
	page.Items = all
	return page, nil
}

// PruneOptOuts implements ports.OptOutStore.
func (s *MemStore) PruneOptOuts(_ context.Context, now time.Time) (int, error) {
	now = storedTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, o := range s.optOuts {
		if !o.Active(now) {
			delete(s.optOuts, k)
			n++
		}
	}
	return n, nil
}

// OptedOut implements ports.Tx.
func (t *memTx) OptedOut(_ context.Context, sender, recipient string, now time.Time) (bool, error) {
	o, ok := t.optOuts[pairKey{sender, recipient}]
	return ok && o.Active(storedTime(now)), nil
}

// BlockOptOut implements ports.Tx; InTx's mutex serialises it with every other transaction.
func (t *memTx) BlockOptOut(_ context.Context, o ports.OptOut) (ports.OptOut, bool, error) {
	if err := o.Validate(); err != nil {
		return ports.OptOut{}, false, fmt.Errorf("block opt-out: %w", err)
	}
	o = storedOptOut(o)
	k := pairKey{o.Sender, o.Recipient}
	cur, ok := t.optOuts[k]
	if !ok || !cur.Active(o.CreatedAt) {
		t.optOuts[k] = o
		return o, true, nil
	}
	switch {
	case cur.ExpiresAt == nil:
	case o.ExpiresAt == nil || o.ExpiresAt.After(*cur.ExpiresAt):
		cur.ExpiresAt = o.ExpiresAt
	}
	t.optOuts[k] = cur
	return cur, false, nil
}

// LiftOptOut implements ports.Tx.
func (t *memTx) LiftOptOut(_ context.Context, sender, recipient string, now time.Time) (bool, error) {
	k := pairKey{sender, recipient}
	o, ok := t.optOuts[k]
	delete(t.optOuts, k)
	return ok && o.Active(storedTime(now)), nil
}

// BlockedPairs implements ports.Tx.
func (t *memTx) BlockedPairs(ctx context.Context, pairs []ports.OptOutPair, now time.Time) (map[ports.OptOutPair]bool, error) {
	out := map[ports.OptOutPair]bool{}
	for _, p := range pairs {
		if blocked, _ := t.OptedOut(ctx, p.Sender, p.Recipient, now); blocked {
			out[p] = true
		}
	}
	return out, nil
}

// --- rate limits -------------------------------------------------------------------------

// Hit implements ports.Limiter with ratelimit.Window.Admit; InTx's mutex is the lock of
// every key.
func (t *memTx) Hit(_ context.Context, w ratelimit.Window, now time.Time, demands []ports.RateDemand) ([]ports.RateGrant, error) {
	if err := ports.ValidateDemands(demands); err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	now = storedTime(now)
	grants := make([]ports.RateGrant, len(demands))
	for i, d := range demands {
		kept, admitted, retry := w.Admit(t.rateLogs[d.Key], now, d.N)
		t.rateLogs[d.Key] = kept
		grants[i] = ports.RateGrant{Admitted: admitted, RetryAfter: retry}
	}
	return grants, nil
}

// PruneRateLogs implements ports.RateLogStore.
func (s *MemStore) PruneRateLogs(_ context.Context, before time.Time) (int, error) {
	before = storedTime(before)
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

// --- idempotency keys ----------------------------------------------------------------------

// ClaimIdempotencyKey implements ports.IdempotencyStore; the mutex makes the claim atomic.
func (s *MemStore) ClaimIdempotencyKey(_ context.Context, r ports.IdempotencyRecord, ttl time.Duration) (ports.IdempotencyRecord, bool, error) {
	r.CreatedAt, r.LeaseUntil, r.Accepted = storedTime(r.CreatedAt), storedTime(r.LeaseUntil), false
	k := idemKey{r.AccountID, r.Key}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.idem[k]; ok && !cur.Stale(r.CreatedAt, ttl) {
		return cur, false, nil
	}
	s.idem[k] = r
	return r, true, nil
}

// PruneIdempotencyKeys implements ports.IdempotencyStore.
func (s *MemStore) PruneIdempotencyKeys(_ context.Context, before time.Time) (int, error) {
	before = storedTime(before)
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

// AcceptIdempotencyKey implements ports.IdempotencyTx.
func (t *memTx) AcceptIdempotencyKey(_ context.Context, accountID, key, messageID string) (bool, error) {
	k := idemKey{accountID, key}
	r, ok := t.idem[k]
	if !ok || r.MessageID != messageID {
		return false, nil
	}
	r.Accepted = true
	t.idem[k] = r
	return true, nil
}

// ReleaseIdempotencyKey implements ports.IdempotencyTx.
func (t *memTx) ReleaseIdempotencyKey(_ context.Context, accountID, key, messageID string) error {
	k := idemKey{accountID, key}
	if r, ok := t.idem[k]; ok && r.MessageID == messageID && !r.Accepted {
		delete(t.idem, k)
	}
	return nil
}
