package porttest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// storedSession is s as the stores keep it: times in UTC at microsecond precision, in
// pointers of its own.
func storedSession(s proxy.Session) proxy.Session {
	s.CreatedAt = storedTime(s.CreatedAt)
	if s.ExpiresAt != nil {
		e := storedTime(*s.ExpiresAt)
		s.ExpiresAt = &e
	}
	if s.ClosedAt != nil {
		c := storedTime(*s.ClosedAt)
		s.ClosedAt = &c
	}
	return s
}

// sessionNewestFirst orders sessions by (created_at, id) descending, the list order.
func sessionNewestFirst(a, b proxy.Session) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// poolUsage is the account's pool in number order with the participants of each number's
// sessions open at now, oldest session first.
func poolUsage(numbers map[string]proxy.Number, sessions map[string]proxy.Session, accountID string, now time.Time) []proxy.Usage {
	now = storedTime(now)
	var open []proxy.Session
	for _, s := range sessions {
		if s.Open(now) {
			open = append(open, s)
		}
	}
	slices.SortFunc(open, func(a, b proxy.Session) int { return sessionNewestFirst(b, a) })
	out := []proxy.Usage{}
	for _, n := range numbers {
		if n.AccountID != accountID {
			continue
		}
		u := proxy.Usage{Number: n}
		for _, s := range open {
			if s.ProxyNumber == n.Number {
				u.Participants = append(u.Participants, s.ParticipantA, s.ParticipantB)
			}
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b proxy.Usage) int { return cmp.Compare(a.Number.Number, b.Number.Number) })
	return out
}

// ListProxyNumbers implements ports.ProxyStore.
func (s *MemStore) ListProxyNumbers(_ context.Context, accountID string, now time.Time) ([]proxy.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return poolUsage(s.numbers, s.sessions, accountID, now), nil
}

// GetProxySession implements ports.ProxyStore.
func (s *MemStore) GetProxySession(_ context.Context, accountID, id string) (proxy.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, ok := s.sessions[id]
	if !ok || ps.AccountID != accountID {
		return proxy.Session{}, fmt.Errorf("get proxy session %s of %s: %w", id, accountID, ports.ErrNotFound)
	}
	return ps, nil
}

// ListProxySessions implements ports.ProxyStore.
func (s *MemStore) ListProxySessions(_ context.Context, accountID string, q ports.ProxySessionQuery, now time.Time) (ports.ProxySessionPage, error) {
	if err := q.Validate(); err != nil {
		return ports.ProxySessionPage{}, fmt.Errorf("list proxy sessions of %s: %w", accountID, err)
	}
	now = storedTime(now)
	var after *proxy.Session
	if q.After != nil {
		after = &proxy.Session{ID: q.After.ID, CreatedAt: storedTime(q.After.CreatedAt)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []proxy.Session
	for _, ps := range s.sessions {
		if ps.AccountID == accountID && ps.Open(now) != q.Closed && (after == nil || sessionNewestFirst(ps, *after) > 0) {
			all = append(all, ps)
		}
	}
	slices.SortFunc(all, sessionNewestFirst)
	page := ports.ProxySessionPage{Items: all}
	if len(all) > q.Limit {
		page.Items = all[:q.Limit]
		last := page.Items[q.Limit-1]
		page.Next = &ports.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return page, nil
}

// CloseExpiredProxySessions implements ports.ProxyStore.
func (s *MemStore) CloseExpiredProxySessions(_ context.Context, now time.Time) (int, error) {
	now = storedTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, ps := range s.sessions {
		if ps.ClosedAt == nil && ps.ExpiresAt != nil && !ps.ExpiresAt.After(now) {
			closed := *ps.ExpiresAt
			ps.ClosedAt = &closed
			s.sessions[id] = ps
			n++
		}
	}
	return n, nil
}

// AddProxyNumber implements ports.ProxyTx.
func (t *memTx) AddProxyNumber(_ context.Context, n proxy.Number) error {
	if err := ports.ValidateProxyNumber(n); err != nil {
		return fmt.Errorf("add proxy number: %w", err)
	}
	if cur, ok := t.numbers[n.Number]; ok {
		return fmt.Errorf("add proxy number %s to %s: in the pool of %s: %w", n.Number, n.AccountID, cur.AccountID, ports.ErrConflict)
	}
	n.CreatedAt = storedTime(n.CreatedAt)
	t.numbers[n.Number] = n
	return nil
}

// LockProxyPool implements ports.ProxyTx; InTx's mutex is the lock of every pool.
func (t *memTx) LockProxyPool(_ context.Context, accountID string, now time.Time) ([]proxy.Usage, error) {
	return poolUsage(t.numbers, t.sessions, accountID, now), nil
}

// RemoveProxyNumber implements ports.ProxyTx.
func (t *memTx) RemoveProxyNumber(_ context.Context, accountID, number string) error {
	if n, ok := t.numbers[number]; !ok || n.AccountID != accountID {
		return fmt.Errorf("remove proxy number %s of %s: %w", number, accountID, ports.ErrNotFound)
	}
	delete(t.numbers, number)
	return nil
}

// GetProxyNumber implements ports.ProxyTx.
func (t *memTx) GetProxyNumber(_ context.Context, number string) (proxy.Number, error) {
	n, ok := t.numbers[number]
	if !ok {
		return proxy.Number{}, fmt.Errorf("get proxy number %s: %w", number, ports.ErrNotFound)
	}
	return n, nil
}

// InsertProxySession implements ports.ProxyTx.
func (t *memTx) InsertProxySession(_ context.Context, s proxy.Session) error {
	s = storedSession(s)
	if err := s.Validate(); err != nil {
		return fmt.Errorf("insert proxy session: %w: %w", err, ports.ErrInvalid)
	}
	if _, ok := t.sessions[s.ID]; ok {
		return fmt.Errorf("insert proxy session %s: %w", s.ID, ports.ErrConflict)
	}
	t.sessions[s.ID] = s
	return nil
}

// CloseProxySession implements ports.ProxyTx.
func (t *memTx) CloseProxySession(_ context.Context, accountID, id string, at time.Time) (proxy.Session, bool, error) {
	s, ok := t.sessions[id]
	if !ok || s.AccountID != accountID {
		return proxy.Session{}, false, fmt.Errorf("close proxy session %s of %s: %w", id, accountID, ports.ErrNotFound)
	}
	at = storedTime(at)
	if !s.Open(at) {
		return s, false, nil
	}
	s.ClosedAt = &at
	t.sessions[id] = s
	return s, true, nil
}

// FindOpenProxySession implements ports.ProxyTx: the newest if several match.
func (t *memTx) FindOpenProxySession(_ context.Context, proxyNumber, participant string, now time.Time) (proxy.Session, error) {
	now = storedTime(now)
	var (
		found proxy.Session
		ok    bool
	)
	for _, s := range t.sessions {
		if s.ProxyNumber != proxyNumber || !s.Open(now) || (s.ParticipantA != participant && s.ParticipantB != participant) {
			continue
		}
		if !ok || sessionNewestFirst(s, found) < 0 {
			found, ok = s, true
		}
	}
	if !ok {
		return proxy.Session{}, fmt.Errorf("find open proxy session on %s with %s: %w", proxyNumber, participant, ports.ErrNotFound)
	}
	return found, nil
}
