package gateway

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
	"github.com/smsgw/smsgw/ports/porttest"
)

// memStore is the contract-tested in-memory store (porttest.MemStore) with the faults the
// use-case tests inject: a failing store, one failing transaction, updates it refuses.
type memStore struct {
	*porttest.MemStore
	mu       sync.Mutex
	failTx   error           // returned by InTx (and the claim) instead of running fn
	failOnce error           // returned by the next InTx only
	txCount  int             // transactions begun
	refuse   map[string]bool // an update of these message ids fails (a value the store will not take)
	inserted []string        // ids of committed inserts, in order
}

func newMemStore() *memStore { return &memStore{MemStore: porttest.NewMemStore()} }

func (s *memStore) fault() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txCount++
	if s.failTx != nil {
		return s.failTx
	}
	if err := s.failOnce; err != nil {
		s.failOnce = nil
		return err
	}
	return nil
}

func (s *memStore) Ping(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failTx != nil {
		return s.failTx
	}
	return s.MemStore.Ping(ctx)
}

func (s *memStore) InTx(ctx context.Context, fn func(context.Context, ports.Tx) error) error {
	if err := s.fault(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil { // a real store cannot begin on an ended context either
		return err
	}
	s.mu.Lock()
	refuse := maps.Clone(s.refuse)
	s.mu.Unlock()
	ftx := &faultTx{refuse: refuse}
	err := s.MemStore.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		ftx.Tx = tx
		return fn(ctx, ftx)
	})
	if err == nil {
		s.mu.Lock()
		s.inserted = append(s.inserted, ftx.inserted...)
		s.mu.Unlock()
	}
	return err
}

func (s *memStore) ClaimIdempotencyKey(ctx context.Context, r ports.IdempotencyRecord, ttl time.Duration) (ports.IdempotencyRecord, bool, error) {
	s.mu.Lock()
	err := s.failTx
	s.mu.Unlock()
	if err != nil {
		return ports.IdempotencyRecord{}, false, err
	}
	return s.MemStore.ClaimIdempotencyKey(ctx, r, ttl)
}

// ids returns the ids of the messages stored, in the order they were inserted.
func (s *memStore) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.inserted)
}

// message reads a stored message, hidden ones included.
func (s *memStore) message(t *testing.T, id string) message.Message {
	t.Helper()
	var m message.Message
	if err := s.MemStore.InTx(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		m, err = tx.GetMessageForUpdate(ctx, id)
		return err
	}); err != nil {
		t.Fatalf("read message %s: %v", id, err)
	}
	return m
}

// faultTx refuses the updates of the store's refused ids and records inserts.
type faultTx struct {
	ports.Tx
	refuse   map[string]bool
	inserted []string
}

func (t *faultTx) UpdateMessage(ctx context.Context, m message.Message, evs ...message.Event) error {
	if t.refuse[m.ID] {
		return fmt.Errorf("update message %s: the store refuses it", m.ID)
	}
	return t.Tx.UpdateMessage(ctx, m, evs...)
}

func (t *faultTx) UpdateMessages(ctx context.Context, updates []ports.MessageUpdate) error {
	for _, u := range updates {
		if t.refuse[u.Message.ID] {
			return fmt.Errorf("update message %s: the store refuses it", u.Message.ID)
		}
	}
	return t.Tx.UpdateMessages(ctx, updates)
}

func (t *faultTx) InsertMessage(ctx context.Context, m message.Message) error {
	if err := t.Tx.InsertMessage(ctx, m); err != nil {
		return err
	}
	t.inserted = append(t.inserted, m.ID)
	return nil
}

func (t *faultTx) InsertMessages(ctx context.Context, ms []message.Message) error {
	if err := t.Tx.InsertMessages(ctx, ms); err != nil {
		return err
	}
	for _, m := range ms {
		t.inserted = append(t.inserted, m.ID)
	}
	return nil
}

type memJobs struct {
	mu   sync.Mutex
	jobs []ports.SendJob
	fail error
}

// all returns the jobs enqueued so far.
func (j *memJobs) all() []ports.SendJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.jobs)
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

// memEvents records the application events enqueued, in order.
type memEvents struct {
	mu   sync.Mutex
	evs  []ports.AppEvent
	fail error // when set, EnqueueEvents fails with it
}

func (q *memEvents) EnqueueEvents(_ context.Context, tx ports.Tx, evs ...ports.AppEvent) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	if tx == nil {
		return fmt.Errorf("enqueue %d event(s) outside a transaction", len(evs))
	}
	q.evs = append(q.evs, evs...)
	return nil
}

// all returns the events enqueued so far.
func (q *memEvents) all() []ports.AppEvent {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.evs)
}

// fakeProviders answers sends from a script and records calls.
type fakeProviders struct {
	mu      sync.Mutex
	sends   []message.Message
	results []sendAnswer          // consumed in order; the last one repeats
	byText  map[string]sendAnswer // answers by message text, before results (concurrent sends)
	// byProvider answers by provider, before byText and results.
	byProvider map[string]sendAnswer
	down       map[string]bool // providers that are unhealthy even when healthy is set
	// onHealthy runs at each Healthy call: a test's way to act between a dispatch's claim
	// and its record.
	onHealthy func(provider string)
	// polled records the ids of each PollStatus call; onPoll runs at each, with its number.
	polled  [][]string
	onPoll  func(call int)
	polls   map[string]ports.StatusReport // nil: the provider cannot be polled
	pollErr error                         // when set, every poll fails with it
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
	if a, ok := p.byProvider[provider]; ok {
		return a.res, a.err
	}
	if a, ok := p.byText[m.Text]; ok {
		return a.res, a.err
	}
	a := p.results[0]
	if len(p.results) > 1 {
		p.results = p.results[1:]
	}
	return a.res, a.err
}

func (p *fakeProviders) PollStatus(ctx context.Context, _ string, ids []string) ([]ports.StatusReport, error) {
	if p.polls == nil {
		return nil, ports.ErrNotImplemented
	}
	p.polled = append(p.polled, ids)
	if p.onPoll != nil {
		p.onPoll(len(p.polled))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.pollErr != nil {
		return nil, p.pollErr
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

// List describes the two providers of the test router; "loop" can be polled when polls is set.
func (p *fakeProviders) List(context.Context) []ports.ProviderInfo {
	return []ports.ProviderInfo{
		{Name: "loop", Healthy: p.healthy, Capabilities: ports.ProviderCapabilities{StatusPoll: p.polls != nil}},
		{Name: "other", Healthy: p.healthy},
	}
}

func (p *fakeProviders) Healthy(provider string) bool {
	p.mu.Lock()
	hook := p.onHealthy
	healthy := p.healthy && !p.down[provider]
	p.mu.Unlock()
	if hook != nil {
		hook(provider)
	}
	return healthy
}

// sentTo lists the providers of the sends so far, in call order.
func (p *fakeProviders) sentTo() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.sends))
	for i, m := range p.sends {
		out[i] = m.Provider
	}
	return out
}

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
