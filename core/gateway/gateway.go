// Package gateway holds the use cases of smsgw: accept a send, dispatch it to a provider,
// receive an inbound message, apply a delivery status, cancel and delete. It speaks only to
// ports; every I/O detail lives in adapters.
package gateway

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
)

// ProviderPolicy is a provider block's retry settings.
type ProviderPolicy struct {
	MaxAttempts int
	Backoff     time.Duration
}

// Default retry policy when the provider block has no retry block.
const (
	DefaultMaxAttempts = 5
	DefaultBackoff     = time.Second
)

// Config is the part of the configuration the use cases need.
type Config struct {
	// Policies holds each provider's retry policy; missing ones use the defaults.
	Policies map[string]ProviderPolicy
	// Breakers holds each provider's circuit-breaker policy; missing ones use the defaults.
	Breakers map[string]routing.BreakerPolicy
	// ProviderAccounts names, per provider, the account that owns its inbound traffic.
	ProviderAccounts map[string]string
	// DefaultAccount owns inbound traffic of providers without an account (the first
	// account block).
	DefaultAccount string
	// ReconcileWindow is how far back a reconciliation after a plugin restart looks.
	ReconcileWindow time.Duration
	// AcceptSlots is how many group-commit transactions of accepted sends may run at once
	// (default 2); AcceptBatch caps the sends in one (default 64). See accept.go.
	AcceptSlots int
	AcceptBatch int

	// RateLimit is the per-sender window of outbound sends (the limits block); a zero
	// window limits nothing.
	RateLimit ratelimit.Window
	// OptOut is the keyword policy of inbound messages (the opt_out block).
	OptOut optout.Policy
	// IgnoreOptOuts (opt_out.enforce = false) skips the opt-out check of sends; keywords
	// still record blocks. The zero value enforces them.
	IgnoreOptOuts bool
	// Proxy is the proxy block: allocation mode and system messages of proxy sessions.
	Proxy ProxyConfig
	// LegacyStopTTL is how long the smsapp dialect's STOP blocks (compat.smsapp.stop_ttl,
	// default 4h).
	LegacyStopTTL time.Duration
	// IdempotencyTTL is how long an accepted Idempotency-Key is replayed (default 24h);
	// IdempotencyLease how long a claim may stay unaccepted before another request may take
	// the key over (default 1m, longer than an accept can take).
	IdempotencyTTL   time.Duration
	IdempotencyLease time.Duration
}

// Deps are the ports the gateway runs on.
type Deps struct {
	Store     ports.Store
	Jobs      ports.JobQueue
	Providers ports.Providers
	Clock     ports.Clock
	IDs       ports.IDGenerator
	Router    routing.Router
	Config    Config
	// Events queues the application events (API.md §6); nil when no webhook block is
	// configured, and then nothing is recorded.
	Events ports.EventQueue
	// BreakerChanged, when set, hears each change of a provider's breaker between closed
	// and open (for the operator's log); it must not block.
	BreakerChanged func(provider string, to routing.BreakerState)
}

// Gateway implements the use cases.
type Gateway struct {
	store          ports.Store
	jobs           ports.JobQueue
	providers      ports.Providers
	clock          ports.Clock
	ids            ports.IDGenerator
	router         routing.Router
	breakers       routing.Breakers
	cfg            Config
	acceptor       *acceptor
	events         ports.EventQueue // nil: no event webhooks
	breakerChanged func(provider string, to routing.BreakerState)
	// refreshFrom is, per provider, where the last periodic refresh of this process ran out
	// of time (RefreshPeriodic).
	refreshMu    sync.Mutex
	refreshFrom  map[string]*ports.Cursor
	refreshFirst string // the provider the next periodic refresh begins with ("": config order)
}

// New wires a Gateway.
func New(d Deps) *Gateway {
	d.Config.ReconcileWindow = cmp.Or(d.Config.ReconcileWindow, 7*24*time.Hour)
	d.Config.LegacyStopTTL = cmp.Or(d.Config.LegacyStopTTL, 4*time.Hour)
	d.Config.IdempotencyTTL = cmp.Or(d.Config.IdempotencyTTL, 24*time.Hour)
	d.Config.IdempotencyLease = cmp.Or(d.Config.IdempotencyLease, time.Minute)
	g := &Gateway{
		store: d.Store, jobs: d.Jobs, providers: d.Providers, clock: d.Clock, ids: d.IDs,
		router: d.Router, cfg: d.Config, events: d.Events, breakerChanged: d.BreakerChanged,
		breakers:    routing.NewBreakers(d.Router.Providers(), d.Config.Breakers),
		refreshFrom: map[string]*ports.Cursor{},
	}
	g.acceptor = newAcceptor(txFunc(g.inTx), cmp.Or(d.Config.AcceptSlots, defaultAcceptSlots),
		cmp.Or(d.Config.AcceptBatch, defaultAcceptBatch), g.admit)
	return g
}

// now is the current time at the stores' precision, so what is returned equals what is read
// back later.
func (g *Gateway) now() time.Time {
	return g.clock.Now().UTC().Truncate(time.Microsecond)
}

func (g *Gateway) policy(provider string) ProviderPolicy {
	p, ok := g.cfg.Policies[provider]
	if !ok || p.MaxAttempts < 1 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.Backoff <= 0 {
		p.Backoff = DefaultBackoff
	}
	return p
}

// Get returns one of the account's messages.
func (g *Gateway) Get(ctx context.Context, accountID, id string) (message.Message, error) {
	return g.store.GetMessage(ctx, accountID, id)
}

// List lists the account's messages, newest first.
func (g *Gateway) List(ctx context.Context, accountID string, q ports.MessageQuery) (ports.MessagePage, error) {
	return g.store.ListMessages(ctx, accountID, q)
}

// Providers describes the configured providers, with the state of their breakers.
func (g *Gateway) Providers(ctx context.Context) []ports.ProviderInfo {
	ps := g.providers.List(ctx)
	now := g.clock.Now()
	for i := range ps {
		ps[i].Breaker = string(g.breakers.For(ps[i].Name).State(now))
	}
	return ps
}

// Balance asks a provider for its account balance: ErrNotFound for an unknown provider,
// ErrNotImplemented when its plugin cannot tell.
func (g *Gateway) Balance(ctx context.Context, provider string) (ports.Balance, error) {
	return g.providers.Balance(ctx, provider)
}

// Ready reports why the gateway cannot serve, or nil: the store must answer, every route
// must have a healthy provider (with failover, one healthy provider of a route serves it),
// and a provider that no route uses (reached only by name) must be healthy itself.
func (g *Gateway) Ready(ctx context.Context) []string {
	var reasons []string
	if err := g.store.Ping(ctx); err != nil {
		reasons = append(reasons, "store: unavailable")
	}
	routed := map[string]bool{}
	for _, r := range g.router.Routes() {
		healthy := false
		for _, p := range r.Providers {
			routed[p] = true
			healthy = healthy || g.providers.Healthy(p)
		}
		if !healthy {
			reasons = append(reasons, fmt.Sprintf("route %s: no healthy provider (%s)", r.Name, strings.Join(r.Providers, ", ")))
		}
	}
	for _, p := range g.router.Providers() {
		if !routed[p] && !g.providers.Healthy(p) {
			reasons = append(reasons, "provider "+p+": unhealthy")
		}
	}
	return reasons
}
