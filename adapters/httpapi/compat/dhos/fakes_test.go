package dhos

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// The calls the fake core records, besides the SendCommands.
type (
	idCall   struct{ account, id string }
	listCall struct {
		account string
		q       ports.MessageQuery
	}
	countsCall struct {
		account    string
		start, end time.Time
	}
	refreshCall struct {
		account string
		since   time.Time
	}
	webhookCall struct {
		provider string
		req      ports.WebhookRequest
	}
)

// fakeCore is an in-memory core that records every call. Send stores the message it
// accepts (id "m1", "m2", … at created) unless sendErr; Get, List and Delete work on the
// stored messages of the account, List filtering as a store does (direction, to, tags,
// newest first, limit) unless ignoreTags; Delete removes a message, so a later Get is
// ErrNotFound. The other calls answer the configured results.
type fakeCore struct {
	mu      sync.Mutex
	created time.Time
	msgs    map[string]message.Message
	n       int

	sendErr, getErr, listErr, deleteErr, countsErr, refreshErr, webhookErr error
	ignoreTags                                                             bool // List as a store that ignores q.Tags
	counts                                                                 map[string]map[message.Status]int
	refresh                                                                gateway.RefreshResult
	webhookRes                                                             ports.WebhookResult
	panicV                                                                 any // when set, every call panics with it

	sends     []gateway.SendCommand
	gets      []idCall
	lists     []listCall
	deletes   []idCall
	countsQ   []countsCall
	refreshes []refreshCall
	webhooks  []webhookCall
}

func newFakeCore(created time.Time) *fakeCore {
	return &fakeCore{created: created, msgs: map[string]message.Message{}}
}

// put stores messages as if they had been sent before.
func (f *fakeCore) put(ms ...message.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range ms {
		f.msgs[m.ID] = m
	}
}

func (f *fakeCore) enter() {
	if f.panicV != nil {
		panic(f.panicV)
	}
}

func (f *fakeCore) Send(_ context.Context, cmd gateway.SendCommand) (message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, cmd)
	f.enter()
	if f.sendErr != nil {
		return message.Message{}, f.sendErr
	}
	f.n++
	m := message.Message{
		ID: "m" + strconv.Itoa(f.n), AccountID: cmd.AccountID, Direction: message.Outbound,
		From: cmd.From, To: cmd.To, Text: cmd.Text, Status: message.StatusQueued,
		Tags: maps.Clone(cmd.Tags), CreatedAt: f.created, UpdatedAt: f.created,
		Events: []message.Event{{Status: message.StatusQueued, At: f.created}},
	}
	f.msgs[m.ID] = m
	return m, nil
}

func (f *fakeCore) Get(_ context.Context, account, id string) (message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, idCall{account, id})
	f.enter()
	if f.getErr != nil {
		return message.Message{}, f.getErr
	}
	m, ok := f.msgs[id]
	if !ok || m.AccountID != account {
		return message.Message{}, ports.ErrNotFound
	}
	return m, nil
}

func (f *fakeCore) List(_ context.Context, account string, q ports.MessageQuery) (ports.MessagePage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, listCall{account, q})
	f.enter()
	if f.listErr != nil {
		return ports.MessagePage{}, f.listErr
	}
	var page ports.MessagePage
	for _, m := range f.msgs {
		if m.AccountID != account || (q.Direction != "" && m.Direction != q.Direction) || (q.To != "" && m.To != q.To) {
			continue
		}
		if !f.ignoreTags && !hasTags(m, q.Tags) {
			continue
		}
		page.Items = append(page.Items, m)
	}
	slices.SortFunc(page.Items, func(a, b message.Message) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
	}
	return page, nil
}

func hasTags(m message.Message, tags map[string]string) bool {
	for k, v := range tags {
		if got, ok := m.Tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func (f *fakeCore) Delete(_ context.Context, account, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, idCall{account, id})
	f.enter()
	if f.deleteErr != nil {
		return f.deleteErr
	}
	m, ok := f.msgs[id]
	if !ok || m.AccountID != account {
		return ports.ErrNotFound
	}
	delete(f.msgs, id)
	return nil
}

func (f *fakeCore) StatusCounts(_ context.Context, account string, start, end time.Time) (map[string]map[message.Status]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.countsQ = append(f.countsQ, countsCall{account, start, end})
	f.enter()
	return f.counts, f.countsErr
}

func (f *fakeCore) RefreshStatuses(_ context.Context, account string, since time.Time) (gateway.RefreshResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes = append(f.refreshes, refreshCall{account, since})
	f.enter()
	return f.refresh, f.refreshErr
}

func (f *fakeCore) HandleWebhook(_ context.Context, provider string, req ports.WebhookRequest) (ports.WebhookResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.webhooks = append(f.webhooks, webhookCall{provider, req})
	f.enter()
	return f.webhookRes, f.webhookErr
}

// calls is how many calls of any kind the core got.
func (f *fakeCore) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sends) + len(f.gets) + len(f.lists) + len(f.deletes) + len(f.countsQ) + len(f.refreshes) + len(f.webhooks)
}

// recorded returns copies of the recorded calls, for assertions.
func (f *fakeCore) recorded() fakeCalls {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeCalls{
		sends: slices.Clone(f.sends), gets: slices.Clone(f.gets), lists: slices.Clone(f.lists),
		deletes: slices.Clone(f.deletes), counts: slices.Clone(f.countsQ),
		refreshes: slices.Clone(f.refreshes), webhooks: slices.Clone(f.webhooks),
	}
}

type fakeCalls struct {
	sends     []gateway.SendCommand
	gets      []idCall
	lists     []listCall
	deletes   []idCall
	counts    []countsCall
	refreshes []refreshCall
	webhooks  []webhookCall
}
