package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// faultStore wraps a store; while err is set, every read, transaction and ping fails
// with it (the store "goes down").
type faultStore struct {
	ports.Store
	mu  sync.Mutex
	err error
}

func (f *faultStore) setDown(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *faultStore) fault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *faultStore) GetMessage(ctx context.Context, account, id string) (message.Message, error) {
	if err := f.fault(); err != nil {
		return message.Message{}, err
	}
	return f.Store.GetMessage(ctx, account, id)
}

func (f *faultStore) ListMessages(ctx context.Context, account string, q ports.MessageQuery) (ports.MessagePage, error) {
	if err := f.fault(); err != nil {
		return ports.MessagePage{}, err
	}
	return f.Store.ListMessages(ctx, account, q)
}

func (f *faultStore) GetAccount(ctx context.Context, id string) (ports.Account, error) {
	if err := f.fault(); err != nil {
		return ports.Account{}, err
	}
	return f.Store.GetAccount(ctx, id)
}

func (f *faultStore) Ping(ctx context.Context) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

func (f *faultStore) InTx(ctx context.Context, fn func(context.Context, ports.Tx) error) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Store.InTx(ctx, fn)
}

// recordingJobs is a ports.JobQueue that records the jobs it is given.
type recordingJobs struct {
	mu   sync.Mutex
	jobs []ports.SendJob
}

func (j *recordingJobs) EnqueueSends(_ context.Context, _ ports.Tx, jobs ...ports.SendJob) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs = append(j.jobs, jobs...)
	return nil
}

func (j *recordingJobs) sent() []ports.SendJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.jobs)
}

// fakeProviders knows a fixed set of providers. Its webhook answers like a loopback plugin:
// a JSON body {"from","to","text","id"} becomes one inbound report, and the answer is
// 200 {"ok": true} with a custom header; anything else is a 400 from the "plugin".
type fakeProviders struct {
	mu        sync.Mutex
	infos     []ports.ProviderInfo
	unhealthy map[string]bool
	webhooks  []ports.WebhookRequest
}

var _ ports.Providers = (*fakeProviders)(nil)

func newFakeProviders(names ...string) *fakeProviders {
	p := &fakeProviders{unhealthy: map[string]bool{}}
	for _, n := range names {
		p.infos = append(p.infos, ports.ProviderInfo{
			Name: n, Plugin: "smsgw-provider-" + n, Version: "1.0.0", Healthy: true, Breaker: "closed",
			Capabilities: ports.ProviderCapabilities{MaxBatch: 100, Inbound: true},
			Stats:        ports.ProviderStats{BatchesSent: 3, MessagesSent: 3, MessagesFailed: 1},
		})
	}
	return p
}

func (p *fakeProviders) known(name string) bool {
	return slices.ContainsFunc(p.infos, func(i ports.ProviderInfo) bool { return i.Name == name })
}

func (p *fakeProviders) setHealthy(name string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unhealthy[name] = !ok
}

func (p *fakeProviders) Send(context.Context, string, message.Message) (ports.SendResult, error) {
	return ports.SendResult{}, &ports.ProviderError{Class: ports.ClassUnavailable, Message: "not in this test"}
}

func (p *fakeProviders) PollStatus(context.Context, string, []string) ([]ports.StatusReport, error) {
	return nil, ports.ErrNotImplemented
}

func (p *fakeProviders) HandleWebhook(_ context.Context, provider string, req ports.WebhookRequest) (ports.WebhookResult, error) {
	if !p.known(provider) {
		return ports.WebhookResult{}, fmt.Errorf("provider %s: %w", provider, ports.ErrNotFound)
	}
	p.mu.Lock()
	p.webhooks = append(p.webhooks, req)
	p.mu.Unlock()
	var in struct{ From, To, Text, ID string }
	if err := json.Unmarshal(req.Body, &in); err != nil || in.From == "" {
		return ports.WebhookResult{StatusCode: 400, Headers: map[string][]string{"Content-Type": {"text/plain"}}, Body: []byte("bad webhook")}, nil
	}
	return ports.WebhookResult{
		StatusCode: 200,
		Headers:    map[string][]string{"Content-Type": {"application/json"}, "X-Plugin": {"loopback"}},
		Body:       []byte(`{"ok":true}`),
		Inbound:    []ports.InboundReport{{ProviderMessageID: in.ID, From: in.From, To: in.To, Text: in.Text}},
	}, nil
}

func (p *fakeProviders) lastWebhook() ports.WebhookRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.webhooks[len(p.webhooks)-1]
}

// Balance knows loopback's balance; other known providers have none, as a plugin without
// the capability answers.
func (p *fakeProviders) Balance(_ context.Context, provider string) (ports.Balance, error) {
	switch {
	case !p.known(provider):
		return ports.Balance{}, fmt.Errorf("provider %s: %w", provider, ports.ErrNotFound)
	case provider == "loopback":
		return ports.Balance{Amount: "12.50", Currency: "EUR"}, nil
	}
	return ports.Balance{}, fmt.Errorf("balance of %s: %w", provider, ports.ErrNotImplemented)
}

func (p *fakeProviders) List(context.Context) []ports.ProviderInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.infos)
	for i := range out {
		out[i].Healthy = !p.unhealthy[out[i].Name]
	}
	return out
}

func (p *fakeProviders) Healthy(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.known(name) && !p.unhealthy[name]
}

// seqIDs makes ids msg-0001, msg-0002, ... (sortable, so ties on created_at are ordered).
type seqIDs struct {
	mu sync.Mutex
	n  int
}

func (s *seqIDs) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("msg-%04d", s.n)
}
