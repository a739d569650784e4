package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/smsgw/smsgw/adapters/clock"
	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/dhos"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/fastsmsing"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/flowroute"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/smsapp"
	"github.com/smsgw/smsgw/adapters/pluginhost"
	"github.com/smsgw/smsgw/adapters/postgres"
	"github.com/smsgw/smsgw/adapters/queue"
	"github.com/smsgw/smsgw/adapters/sqlite"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
)

// shutdownTimeout bounds the graceful drain (HTTP, then the queue).
const shutdownTimeout = 25 * time.Second

func newLogger(cfg *Config, w io.Writer) hclog.Logger {
	level := hclog.LevelFromString(cfg.LogLevel)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name: "smsgw", Level: level, Output: w, JSONFormat: cfg.LogFormat == "json",
	})
}

func newRouter(cfg *Config) (routing.Router, error) {
	names := make([]string, len(cfg.Providers))
	for i, p := range cfg.Providers {
		names[i] = p.Name
	}
	return routing.New(names, cfg.Routes)
}

func hostProvider(p ProviderConfig) pluginhost.ProviderConfig {
	return pluginhost.ProviderConfig{
		Name: p.Name, Plugin: p.Plugin, PluginDir: p.PluginDir, SHA256: p.SHA256, Dev: p.Dev, Config: p.Config,
		Batch: pluginhost.BatchConfig{MaxSize: p.BatchSize, Linger: p.Linger},
	}
}

// openedStore is a migrated store plus what the queue needs from it.
type openedStore struct {
	store  ports.Store
	db     *sql.DB
	driver string
	close  func() error
}

// openStore opens the configured store and applies migrations (under goose's session lock
// on Postgres, so replicas starting together are safe).
func openStore(ctx context.Context, sc StorageConfig) (*openedStore, error) {
	switch sc.Driver {
	case "postgres":
		st, err := postgres.Open(ctx, sc.DSN, postgres.WithMaxOpenConns(sc.MaxOpenConns))
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		if err := postgres.Migrate(ctx, st.DB()); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("migrate postgres: %w", err)
		}
		return &openedStore{store: st, db: st.DB(), driver: sc.Driver, close: st.Close}, nil
	case "sqlite":
		st, err := sqlite.Open(ctx, sc.DSN)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		if err := sqlite.Migrate(ctx, st.DB()); err != nil {
			_ = st.Close()
			return nil, fmt.Errorf("migrate sqlite: %w", err)
		}
		return &openedStore{store: st, db: st.DB(), driver: sc.Driver, close: st.Close}, nil
	}
	return nil, fmt.Errorf("unknown storage driver %q", sc.Driver)
}

func newQueue(st *openedStore, opts queue.Options) (*queue.Queue, error) {
	if st.driver == "postgres" {
		return queue.NewPostgres(st.db, opts)
	}
	return queue.NewSQLite(st.db, opts)
}

// queueWorkers sizes the send worker pool against the connection pool: every running send
// holds a connection for its transactions, and a pool taken entirely by workers would make
// the API (each accepted message is a transaction too) wait for one. A quarter of the pool
// keeps provider batches full while the API keeps most connections.
func queueWorkers(sc StorageConfig) int {
	if sc.Driver != "postgres" {
		return 0 // the queue's default; SQLite has a single connection anyway
	}
	return max(4, sc.MaxOpenConns/4)
}

// syncAccounts makes the store hold every account block of the config.
func syncAccounts(ctx context.Context, store ports.AccountStore, accounts []AccountConfig, now time.Time) error {
	for _, a := range accounts {
		if err := store.PutAccount(ctx, ports.Account{ID: a.Name, PasswordHash: a.PasswordBcrypt, CreatedAt: now}); err != nil {
			return fmt.Errorf("store account %s: %w", a.Name, err)
		}
	}
	return nil
}

// dispatchFunc adapts a function to the queue's dispatcher; it breaks the construction
// cycle queue → gateway → queue.
type dispatchFunc func(ctx context.Context, a ports.DispatchAttempt) error

func (f dispatchFunc) Dispatch(ctx context.Context, a ports.DispatchAttempt) error { return f(ctx, a) }

// sweepFunc adapts a function to the queue's sweeper, like dispatchFunc.
type sweepFunc func(ctx context.Context) error

func (f sweepFunc) Sweep(ctx context.Context) error { return f(ctx) }

// sweep runs one sweep and logs what it deleted.
func sweep(ctx context.Context, gw *gateway.Gateway, log hclog.Logger) error {
	r, err := gw.Sweep(ctx)
	if r != (gateway.SweepResult{}) {
		log.Info("swept expired rows", "opt_outs", r.OptOuts, "rate_logs", r.RateLogs, "idempotency_keys", r.IdempotencyKeys, "proxy_sessions", r.ProxySessions)
	}
	return err
}

// refreshFunc adapts a function to the queue's status refresher, like dispatchFunc.
type refreshFunc func(ctx context.Context) error

func (f refreshFunc) RefreshStatuses(ctx context.Context) error { return f(ctx) }

// refresh runs one periodic status refresh over every account and logs what it did.
func refresh(ctx context.Context, gw *gateway.Gateway, log hclog.Logger) error {
	r, err := gw.RefreshPeriodic(ctx)
	switch {
	case err != nil:
		log.Warn("status refresh incomplete", "checked", r.Checked, "updated", r.Updated, "error", err)
	case r.Checked > 0:
		log.Info("refreshed statuses", "checked", r.Checked, "updated", r.Updated)
	}
	return err
}

type uuidV7 struct{}

// NewID returns a UUIDv7: time-ordered, so new rows land at the end of the primary key index.
func (uuidV7) NewID() string {
	id, err := uuid.NewV7()
	if err != nil { // only when the random source fails
		return uuid.NewString()
	}
	return id.String()
}

// queueWebhooks are the webhook blocks as the queue delivers to them.
func queueWebhooks(cfg *Config) []queue.Webhook {
	var hooks []queue.Webhook
	for _, w := range cfg.Webhooks {
		hooks = append(hooks, queue.Webhook{Name: w.Name, URL: w.URL, Events: w.Events, Secret: []byte(w.Secret)})
	}
	return hooks
}

func gatewayConfig(cfg *Config) gateway.Config {
	gc := gateway.Config{Policies: map[string]gateway.ProviderPolicy{}, Breakers: map[string]routing.BreakerPolicy{}, ProviderAccounts: map[string]string{}}
	for _, p := range cfg.Providers {
		gc.Policies[p.Name] = gateway.ProviderPolicy{MaxAttempts: p.MaxAttempts, Backoff: p.Backoff}
		gc.Breakers[p.Name] = routing.BreakerPolicy{Failures: p.BreakerFailures, Cooldown: p.BreakerCooldown}
		if p.Account != "" {
			gc.ProviderAccounts[p.Name] = p.Account
		}
	}
	if len(cfg.Accounts) > 0 {
		gc.DefaultAccount = cfg.Accounts[0].Name
	}
	gc.RateLimit = ratelimit.Window{Limit: cfg.Limits.PerSender, Period: cfg.Limits.Window}
	gc.OptOut = optout.Policy{
		StopReply: cfg.OptOut.StopReply, StartReply: cfg.OptOut.StartReply, HelpReply: cfg.OptOut.HelpReply,
		Expiry: cfg.OptOut.Expiry,
	}
	gc.IgnoreOptOuts = !cfg.OptOut.Enforce
	if cfg.SMSApp != nil {
		gc.LegacyStopTTL = cfg.SMSApp.StopTTL
	}
	gc.Proxy = gateway.ProxyConfig{
		Allocation: proxy.Allocation(cfg.Proxy.Allocation), OrgName: cfg.Proxy.OrgName,
		StartMessage: cfg.Proxy.StartMessage, EndMessage: cfg.Proxy.EndMessage, NoSessionMessage: cfg.Proxy.NoSessionMessage,
	}
	return gc
}

func cmdServe(ctx context.Context, args []string, s streams, env map[string]string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(s.err)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, env)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg, s.err))
}

// newDialects builds the legacy dialects the compat block turns on (API.md §8).
func newDialects(cfg *Config, gw *gateway.Gateway, log hclog.Logger) ([]httpapi.Dialect, error) {
	var ds []httpapi.Dialect
	if sa := cfg.SMSApp; sa != nil {
		ds = append(ds, smsapp.New(gw, log.Named("smsapp"), sa.AnonymousAccount))
	}
	if fs := cfg.FastSMSing; fs != nil {
		ds = append(ds, fastsmsing.New(gw, log.Named("fastsmsing"), fs.From, fs.AnonymousAccount))
	}
	if dc := cfg.DHOS; dc != nil {
		d, err := dhos.New(gw, log.Named("dhos"), dhos.Options{
			Provider: dc.Provider, CallbackURL: dc.CallbackURL, CountryCode: dc.CountryCode, AnonymousAccount: dc.AnonymousAccount,
		})
		if err != nil {
			return nil, fmt.Errorf("compat.dhos: %w", err)
		}
		ds = append(ds, d)
	}
	if fc := cfg.FlowrouteProxy; fc != nil {
		d, err := flowroute.New(gw, log.Named("flowroute_proxy"), flowroute.Options{
			Provider: fc.Provider, Prefix: fc.Prefix, AnonymousAccount: fc.AnonymousAccount,
		})
		if err != nil {
			return nil, fmt.Errorf("compat.flowroute_proxy: %w", err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// serve runs the gateway until ctx is done, then shuts down in order: readiness off →
// HTTP Shutdown → queue drain → plugins killed → store closed.
func serve(ctx context.Context, cfg *Config, log hclog.Logger) error {
	router, err := newRouter(cfg)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.close(); err != nil {
			log.Warn("close store", "error", err)
		}
	}()
	clk := clock.System{}
	if err := syncAccounts(ctx, st.store, cfg.Accounts, clk.Now().UTC()); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	hostCfg := pluginhost.Options{PublicURL: cfg.PublicURL, Logger: log, Registerer: reg}
	for _, p := range cfg.Providers {
		hostCfg.Providers = append(hostCfg.Providers, hostProvider(p))
	}
	host, err := pluginhost.Start(ctx, hostCfg)
	if err != nil {
		return err
	}
	defer host.Close()

	var gw *gateway.Gateway
	q, err := newQueue(st, queue.Options{
		Logger:                log.Named("queue"),
		Workers:               queueWorkers(cfg.Storage),
		Dispatcher:            dispatchFunc(func(ctx context.Context, a ports.DispatchAttempt) error { return gw.Dispatch(ctx, a) }),
		Sweeper:               sweepFunc(func(ctx context.Context) error { return sweep(ctx, gw, log) }),
		StatusRefresher:       refreshFunc(func(ctx context.Context) error { return refresh(ctx, gw, log) }),
		StatusRefreshInterval: cfg.StatusRefreshInterval,
		Webhooks:              queueWebhooks(cfg),
		RenderMessage:         httpapi.MessageJSON,
		UserAgent:             "smsgw/" + version,
		Registerer:            reg,
	})
	if err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	deps := gateway.Deps{
		Store: st.store, Jobs: q, Providers: host, Clock: clk, IDs: uuidV7{}, Router: router,
		Config:         gatewayConfig(cfg),
		BreakerChanged: breakerLog(log.Named("routing"), cfg),
	}
	if len(cfg.Webhooks) > 0 {
		deps.Events = q // without webhook blocks the gateway records no events at all
	}
	gw = gateway.New(deps)

	// Before any background work starts, so that a bad dialect config stops nothing half-run.
	dialects, err := newDialects(cfg, gw, log)
	if err != nil {
		return err
	}

	// Background work outlives ctx (the signal) until its own step of the shutdown.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	host.Run(bg, gw)
	if err := q.Start(bg); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}

	var draining atomic.Bool
	handler := httpapi.New(httpapi.Options{
		Dialects: dialects,
		Gateway:  gw, Accounts: st.store, Logger: log.Named("http"),
		TrustedProxies: cfg.TrustedProxies, PublicURL: cfg.PublicURL, Registry: reg,
		Version: httpapi.VersionInfo{Version: version, Commit: commit, Go: runtime.Version()},
		Ready: func(ctx context.Context) []string {
			if draining.Load() {
				return []string{"shutting down"}
			}
			return gw.Ready(ctx)
		},
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("smsgw serving", "addr", ln.Addr().String(), "store", cfg.Storage.Driver, "version", version)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	draining.Store(true)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "error", err)
	}
	if err := q.Stop(sctx); err != nil {
		log.Warn("queue stop", "error", err)
	}
	stopBG()
	host.Close()
	log.Info("stopped")
	return nil
}

// breakerLog logs each breaker change: open is a warning (traffic fails over), closed again
// is the all-clear.
func breakerLog(log hclog.Logger, cfg *Config) func(string, routing.BreakerState) {
	cooldown := map[string]time.Duration{}
	for _, p := range cfg.Providers {
		cooldown[p.Name] = p.BreakerCooldown
	}
	return func(provider string, to routing.BreakerState) {
		if to == routing.BreakerOpen {
			log.Warn("provider breaker open: sends with another provider in their route fail over", "provider", provider, "cooldown", cooldown[provider])
			return
		}
		log.Info("provider breaker closed", "provider", provider)
	}
}
