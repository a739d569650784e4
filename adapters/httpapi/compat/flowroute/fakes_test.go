package flowroute

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// clock is a settable clock the fake core and the dialect share.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The calls the fake core records.
type (
	addCall struct{ account, number, provider string }
	idCall  struct{ account, id string } // RemoveProxyNumber (id: the number), Get/Close
	lsCall  struct {
		account string
		q       ports.ProxySessionQuery
	}
)

// fakeCore is an in-memory proxy core, as the gateway behaves (API.md §3): one pool per
// number across accounts, shared allocation through proxy.Allocate, sessions judged open at
// the clock, lists newest first by (created_at, id) with cursors, CloseProxySession
// idempotent. It records every call. The err fields make a call fail; pageCap, when set,
// caps every page below the asked limit (a store may return shorter pages).
type fakeCore struct {
	mu       sync.Mutex
	clock    *clock
	numbers  map[string]proxy.Number // by number
	sessions map[string]proxy.Session
	n        int

	addErr, numbersErr, removeErr, createErr, listErr, getErr, closeErr, receiveErr error
	pageCap                                                                         int
	stuckCursor                                                                     bool // every page has a Next that does not move on
	closedByOther                                                                   bool // a racing request closes the session first
	panicV                                                                          any

	adds     []addCall
	pools    []string
	removes  []idCall
	creates  []gateway.ProxySessionCommand
	lists    []lsCall
	gets     []idCall
	closes   []idCall
	receives []gateway.ReceiveCommand
}

func newFakeCore(c *clock) *fakeCore {
	return &fakeCore{clock: c, numbers: map[string]proxy.Number{}, sessions: map[string]proxy.Session{}}
}

func (f *fakeCore) enter() {
	if f.panicV != nil {
		panic(f.panicV)
	}
}

// putNumber adds a pool number as if added before.
func (f *fakeCore) putNumber(account, number string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.numbers[number] = proxy.Number{Number: number, Provider: testProvider, AccountID: account, CreatedAt: f.clock.Now()}
}

// putSession stores a session as if created before.
func (f *fakeCore) putSession(s proxy.Session) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[s.ID] = s
}

func (f *fakeCore) AddProxyNumber(_ context.Context, account, number, provider string) (proxy.Number, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adds = append(f.adds, addCall{account, number, provider})
	f.enter()
	if f.addErr != nil {
		return proxy.Number{}, f.addErr
	}
	if n, ok := message.NormalizeE164(number); !ok || n != number {
		return proxy.Number{}, message.Invalid("number", "number must be E.164")
	}
	if _, ok := f.numbers[number]; ok {
		return proxy.Number{}, fmt.Errorf("add proxy number %s: %w", number, ports.ErrConflict)
	}
	n := proxy.Number{Number: number, Provider: provider, AccountID: account, CreatedAt: f.clock.Now()}
	f.numbers[number] = n
	return n, nil
}

// usage is the account's pool with its open sessions at now, in number order.
func (f *fakeCore) usage(account string, now time.Time) []proxy.Usage {
	var out []proxy.Usage
	for _, n := range f.numbers {
		if n.AccountID != account {
			continue
		}
		u := proxy.Usage{Number: n}
		for _, s := range f.sessions {
			if s.ProxyNumber == n.Number && s.Open(now) {
				u.Participants = append(u.Participants, s.ParticipantA, s.ParticipantB)
			}
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b proxy.Usage) int { return cmp.Compare(a.Number.Number, b.Number.Number) })
	return out
}

func (f *fakeCore) ProxyNumbers(_ context.Context, account string) (gateway.ProxyPool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pools = append(f.pools, account)
	f.enter()
	if f.numbersErr != nil {
		return gateway.ProxyPool{}, f.numbersErr
	}
	pool := gateway.ProxyPool{Numbers: f.usage(account, f.clock.Now())}
	pool.PoolSize = len(pool.Numbers)
	for _, u := range pool.Numbers {
		if u.Sessions() > 0 {
			pool.InUse++
		}
	}
	pool.Available = pool.PoolSize - pool.InUse
	return pool, nil
}

func (f *fakeCore) RemoveProxyNumber(_ context.Context, account, number string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removes = append(f.removes, idCall{account, number})
	f.enter()
	if f.removeErr != nil {
		return f.removeErr
	}
	n, ok := f.numbers[number]
	if !ok || n.AccountID != account {
		return fmt.Errorf("remove proxy number %s: %w", number, ports.ErrNotFound)
	}
	for _, s := range f.sessions {
		if s.ProxyNumber == number && s.Open(f.clock.Now()) {
			return fmt.Errorf("remove proxy number %s: open session %s: %w", number, s.ID, ports.ErrConflict)
		}
	}
	delete(f.numbers, number)
	return nil
}

func (f *fakeCore) CreateProxySession(_ context.Context, cmd gateway.ProxySessionCommand) (proxy.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates = append(f.creates, cmd)
	f.enter()
	if f.createErr != nil {
		return proxy.Session{}, f.createErr
	}
	now := f.clock.Now()
	n, ok := proxy.Allocate(proxy.Shared, f.usage(cmd.AccountID, now), cmd.ParticipantA, cmd.ParticipantB)
	if !ok {
		return proxy.Session{}, gateway.ErrNoProxyNumber
	}
	f.n++
	s := proxy.Session{
		ID: fmt.Sprintf("sess-%03d", f.n), AccountID: cmd.AccountID, ProxyNumber: n.Number,
		ParticipantA: cmd.ParticipantA, ParticipantB: cmd.ParticipantB, CreatedAt: now,
	}
	if cmd.TTL > 0 {
		exp := now.Add(cmd.TTL)
		s.ExpiresAt = &exp
	}
	if err := s.Validate(); err != nil {
		return proxy.Session{}, message.Invalid("participant_b", "%v", err)
	}
	f.sessions[s.ID] = s
	return s, nil
}

func (f *fakeCore) ListProxySessions(_ context.Context, account string, q ports.ProxySessionQuery) (ports.ProxySessionPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, lsCall{account, q})
	f.enter()
	if f.listErr != nil {
		return ports.ProxySessionPage{}, f.listErr
	}
	now := f.clock.Now()
	var all []proxy.Session
	for _, s := range f.sessions {
		if s.AccountID == account && s.Open(now) != q.Closed {
			all = append(all, s.At(now))
		}
	}
	slices.SortFunc(all, func(a, b proxy.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if q.After != nil {
		i := slices.IndexFunc(all, func(s proxy.Session) bool {
			return s.CreatedAt.Before(q.After.CreatedAt) || (s.CreatedAt.Equal(q.After.CreatedAt) && s.ID < q.After.ID)
		})
		if i < 0 {
			i = len(all)
		}
		all = all[i:]
	}
	limit := q.Limit
	if f.pageCap > 0 && f.pageCap < limit {
		limit = f.pageCap
	}
	var page ports.ProxySessionPage
	if len(all) > limit {
		all = all[:limit]
		last := all[len(all)-1]
		page.Next = &ports.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	page.Items = all
	if f.stuckCursor {
		page.Next = &ports.Cursor{CreatedAt: now, ID: "stuck"}
	}
	return page, nil
}

func (f *fakeCore) GetProxySession(_ context.Context, account, id string) (proxy.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, idCall{account, id})
	f.enter()
	if f.getErr != nil {
		return proxy.Session{}, f.getErr
	}
	s, ok := f.sessions[id]
	if !ok || s.AccountID != account {
		return proxy.Session{}, fmt.Errorf("get proxy session %s: %w", id, ports.ErrNotFound)
	}
	return s.At(f.clock.Now()), nil
}

func (f *fakeCore) CloseProxySession(_ context.Context, account, id string) (proxy.Session, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes = append(f.closes, idCall{account, id})
	f.enter()
	if f.closeErr != nil {
		return proxy.Session{}, false, f.closeErr
	}
	s, ok := f.sessions[id]
	if !ok || s.AccountID != account {
		return proxy.Session{}, false, fmt.Errorf("close proxy session %s: %w", id, ports.ErrNotFound)
	}
	now := f.clock.Now()
	closed := s.Open(now) && !f.closedByOther
	if s.Open(now) {
		s.ClosedAt = &now
		f.sessions[id] = s
	}
	return s.At(now), closed, nil
}

func (f *fakeCore) Receive(_ context.Context, cmd gateway.ReceiveCommand) (message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.receives = append(f.receives, cmd)
	f.enter()
	if f.receiveErr != nil {
		return message.Message{}, f.receiveErr
	}
	now := f.clock.Now()
	return message.Message{
		ID: fmt.Sprintf("in-%d", len(f.receives)), AccountID: cmd.AccountID, Direction: message.Inbound,
		From: cmd.From, To: cmd.To, Text: cmd.Text, Status: message.StatusReceived, Provider: cmd.Provider,
		CreatedAt: now, UpdatedAt: now,
	}, nil
}

// fakeCalls are copies of the recorded calls, for assertions.
type fakeCalls struct {
	adds     []addCall
	pools    []string
	removes  []idCall
	creates  []gateway.ProxySessionCommand
	lists    []lsCall
	gets     []idCall
	closes   []idCall
	receives []gateway.ReceiveCommand
}

func (f *fakeCore) recorded() fakeCalls {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeCalls{
		adds: slices.Clone(f.adds), pools: slices.Clone(f.pools), removes: slices.Clone(f.removes),
		creates: slices.Clone(f.creates), lists: slices.Clone(f.lists), gets: slices.Clone(f.gets),
		closes: slices.Clone(f.closes), receives: slices.Clone(f.receives),
	}
}

// calls is how many calls of any kind the core got.
func (f *fakeCore) calls() int {
	c := f.recorded()
	return len(c.adds) + len(c.pools) + len(c.removes) + len(c.creates) + len(c.lists) + len(c.gets) + len(c.closes) + len(c.receives)
}

// session returns the stored session.
func (f *fakeCore) session(id string) (proxy.Session, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	return s, ok
}
