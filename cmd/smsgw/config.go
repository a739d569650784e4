package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/nyaruka/phonenumbers"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/smsgw/smsgw/adapters/httpapi/compat/fastsmsing"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/flowroute"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/core/routing"
)

// The HCL file shape (ARCHITECTURE.md §5). Block and attribute names are a contract:
// extend them, never rename them. Durations are hcl.Expression so errors can point at
// the attribute's file:line.
type fileConfig struct {
	Listen                string          `hcl:"listen,optional"`
	PublicURL             string          `hcl:"public_url,optional"`
	PluginDir             string          `hcl:"plugin_dir,optional"`
	TrustedProxies        []string        `hcl:"trusted_proxies,optional"`
	LogLevel              string          `hcl:"log_level,optional"`
	LogFormat             string          `hcl:"log_format,optional"`
	StatusRefreshInterval hcl.Expression  `hcl:"status_refresh_interval,optional"`
	Storage               *storageBlock   `hcl:"storage,block"`
	Providers             []providerBlock `hcl:"provider,block"`
	Routes                []routeBlock    `hcl:"route,block"`
	Limits                *limitsBlock    `hcl:"limits,block"`
	OptOut                *optOutBlock    `hcl:"opt_out,block"`
	Accounts              []accountBlock  `hcl:"account,block"`
	Webhooks              []webhookBlock  `hcl:"webhook,block"`
	Proxy                 *proxyBlock     `hcl:"proxy,block"`
	Compat                *compatBlock    `hcl:"compat,block"`
}

type storageBlock struct {
	Driver       string    `hcl:"driver"`
	DSN          string    `hcl:"dsn"`
	MaxOpenConns int       `hcl:"max_open_conns,optional"`
	DefRange     hcl.Range `hcl:",def_range"`
}

type providerBlock struct {
	Name     string        `hcl:"name,label"`
	Plugin   string        `hcl:"plugin"`
	SHA256   string        `hcl:"sha256,optional"`
	Dev      bool          `hcl:"dev,optional"`
	Account  string        `hcl:"account,optional"`
	Config   cty.Value     `hcl:"config,optional"`
	Batch    *batchBlock   `hcl:"batch,block"`
	Retry    *retryBlock   `hcl:"retry,block"`
	Breaker  *breakerBlock `hcl:"breaker,block"`
	DefRange hcl.Range     `hcl:",def_range"`
}

type batchBlock struct {
	MaxSize int            `hcl:"max_size,optional"`
	Linger  hcl.Expression `hcl:"linger,optional"`
}

type retryBlock struct {
	MaxAttempts int            `hcl:"max_attempts,optional"`
	Backoff     hcl.Expression `hcl:"backoff,optional"`
}

// breakerBlock is a provider's circuit breaker: it opens after `failures` consecutive failed
// sends and lets a trial through after `cooldown`.
type breakerBlock struct {
	Failures *int           `hcl:"failures,optional"`
	Cooldown hcl.Expression `hcl:"cooldown,optional"`
}

type routeBlock struct {
	Name      string      `hcl:"name,label"`
	Providers []string    `hcl:"providers"`
	Match     *matchBlock `hcl:"match,block"`
	DefRange  hcl.Range   `hcl:",def_range"`
}

type matchBlock struct {
	ToPrefix   string            `hcl:"to_prefix,optional"`
	FromPrefix string            `hcl:"from_prefix,optional"`
	Tag        map[string]string `hcl:"tag,optional"`
}

type limitsBlock struct {
	PerSender *int           `hcl:"per_sender,optional"`
	Window    hcl.Expression `hcl:"window,optional"`
	DefRange  hcl.Range      `hcl:",def_range"`
}

type optOutBlock struct {
	Expiry     hcl.Expression `hcl:"expiry,optional"`
	StopReply  *string        `hcl:"stop_reply,optional"`
	StartReply *string        `hcl:"start_reply,optional"`
	HelpReply  *string        `hcl:"help_reply,optional"`
	Enforce    *bool          `hcl:"enforce,optional"`
}

type accountBlock struct {
	Name           string    `hcl:"name,label"`
	PasswordBcrypt string    `hcl:"password_bcrypt"`
	DefRange       hcl.Range `hcl:",def_range"`
}

type webhookBlock struct {
	Name     string    `hcl:"name,label"`
	URL      string    `hcl:"url"`
	Events   []string  `hcl:"events,optional"`
	Secret   string    `hcl:"secret,optional"`
	DefRange hcl.Range `hcl:",def_range"`
}

type proxyBlock struct {
	Allocation       string    `hcl:"allocation,optional"`
	OrgName          string    `hcl:"org_name,optional"`
	StartMessage     *string   `hcl:"start_message,optional"`
	EndMessage       *string   `hcl:"end_message,optional"`
	NoSessionMessage *string   `hcl:"no_session_message,optional"`
	DefRange         hcl.Range `hcl:",def_range"`
}

type compatBlock struct {
	SMSApp         *smsappBlock         `hcl:"smsapp,block"`
	FastSMSing     *fastsmsingBlock     `hcl:"fastsmsing,block"`
	DHOS           *dhosBlock           `hcl:"dhos,block"`
	FlowrouteProxy *flowrouteProxyBlock `hcl:"flowroute_proxy,block"`
}

type smsappBlock struct {
	StopTTL          hcl.Expression `hcl:"stop_ttl,optional"`
	AnonymousAccount string         `hcl:"anonymous_account,optional"`
	DefRange         hcl.Range      `hcl:",def_range"`
}

type fastsmsingBlock struct {
	From             string    `hcl:"from,optional"`
	AnonymousAccount string    `hcl:"anonymous_account,optional"`
	DefRange         hcl.Range `hcl:",def_range"`
}

type dhosBlock struct {
	Provider         string    `hcl:"provider,optional"`
	CallbackURL      string    `hcl:"callback_url,optional"`
	CountryCode      string    `hcl:"country_code,optional"`
	AnonymousAccount string    `hcl:"anonymous_account,optional"`
	DefRange         hcl.Range `hcl:",def_range"`
}

type flowrouteProxyBlock struct {
	Provider         string    `hcl:"provider,optional"`
	Prefix           string    `hcl:"prefix,optional"`
	AnonymousAccount string    `hcl:"anonymous_account,optional"`
	DefRange         hcl.Range `hcl:",def_range"`
}

// Config is the validated configuration the wiring uses.
type Config struct {
	Path                  string
	Listen                string
	PublicURL             string
	PluginDir             string
	TrustedProxies        []string
	LogLevel              string
	LogFormat             string // "text" or "json"
	StatusRefreshInterval time.Duration
	Storage               StorageConfig
	Providers             []ProviderConfig
	Routes                []routing.Rule
	Accounts              []AccountConfig
	Webhooks              []WebhookConfig
	Limits                LimitsConfig
	OptOut                OptOutConfig
	SMSApp                *SMSAppConfig         // nil: the dialect is off
	FastSMSing            *FastSMSingConfig     // nil: the dialect is off
	DHOS                  *DHOSConfig           // nil: the dialect is off
	FlowrouteProxy        *FlowrouteProxyConfig // nil: the dialect is off
	Proxy                 ProxyConfig
}

// FlowrouteProxyConfig is the compat.flowroute_proxy block.
type FlowrouteProxyConfig struct {
	Provider         string // the provider of the numbers added through POST /tn
	Prefix           string // where the dialect's routes live (default "/")
	AnonymousAccount string
}

// ProxyConfig is the proxy block (API.md §3).
type ProxyConfig struct {
	Allocation       string // "shared" or "exclusive"
	OrgName          string
	StartMessage     string
	EndMessage       string
	NoSessionMessage string
}

// The proxy block's defaults: Twilio Proxy's allocation, and the texts of the Flowroute
// sms-proxy the dialect replaces. "" switches a message off.
const (
	defaultStartMessage     = "Your new session has started, send a message!"
	defaultEndMessage       = "This session has ended, talk to you again soon!"
	defaultNoSessionMessage = "An active session was not found."
)

// DHOSConfig is the compat.dhos block.
type DHOSConfig struct {
	Provider         string // the Twilio-style provider whose status callbacks /sms/callback takes
	CallbackURL      string // the URL the provider signs those callbacks for
	CountryCode      string // ISO 3166 region of receivers given without a country code
	AnonymousAccount string
}

// SMSAppConfig is the compat.smsapp block.
type SMSAppConfig struct {
	StopTTL          time.Duration
	AnonymousAccount string
}

// FastSMSingConfig is the compat.fastsmsing block.
type FastSMSingConfig struct {
	// From is the sender of every message the dialect sends (default fastsmsing.DefaultFrom),
	// passed through as given like the dialect's phone numbers.
	From             string
	AnonymousAccount string
}

// StorageConfig selects the store.
type StorageConfig struct {
	Driver       string // "sqlite" or "postgres"
	DSN          string
	MaxOpenConns int
}

// ProviderConfig is one provider block, resolved.
type ProviderConfig struct {
	Name        string
	Plugin      string // path to the binary
	PluginDir   string // plugin_dir, when plugin was a bare file name looked up there
	SHA256      string
	Dev         bool
	Account     string
	Config      json.RawMessage
	BatchSize   int
	Linger      time.Duration
	MaxAttempts int
	Backoff     time.Duration
	// BreakerFailures and BreakerCooldown are the breaker block (defaults 5 and 30s).
	BreakerFailures int
	BreakerCooldown time.Duration
}

// AccountConfig is an account block.
type AccountConfig struct {
	Name           string
	PasswordBcrypt string
}

// WebhookConfig is a webhook block.
type WebhookConfig struct {
	Name   string
	URL    string
	Events []string
	Secret string
}

// LimitsConfig is the limits block. PerSender 0 switches the limit off.
type LimitsConfig struct {
	PerSender int
	Window    time.Duration
}

// OptOutConfig is the opt_out block.
type OptOutConfig struct {
	Expiry                           time.Duration
	StopReply, StartReply, HelpReply string
	// Enforce (default true) refuses sends to opted-out pairs. Off, keywords still record
	// blocks but sends ignore them: only for deployments that enforce opt-outs upstream, and
	// for measuring the check's cost (make bench).
	Enforce bool
}

// Defaults that apply when the file leaves something out.
const (
	defaultListen      = "127.0.0.1:8080"
	defaultPluginDir   = "./bin/plugins"
	defaultRefresh     = time.Hour
	defaultMaxAttempts = 5
	defaultBackoff     = time.Second
	// defaultLinger: how long the first message of a batch may wait for company. A batch
	// also leaves as soon as it is full, and concurrent sends group while the plugin's
	// in-flight slots are busy, so under load batches fill long before this; at low rates it
	// trades up to 200ms of latency for far fewer (paid) provider calls. linger = "0s" turns
	// it off.
	defaultLinger       = 200 * time.Millisecond
	defaultPerSender    = 50
	defaultWindow       = time.Hour
	defaultStopReply    = "You have been unsubscribed. Reply START to resubscribe."
	defaultStartReply   = "You have been resubscribed. Reply STOP to unsubscribe."
	defaultHelpReply    = "Reply STOP to unsubscribe."
	defaultMaxOpenConns = 20
)

// LoadConfig reads and validates an HCL config file. env supplies the values of `env.NAME`
// references (the only way configuration reads the environment). Errors carry file:line.
func LoadConfig(path string, env map[string]string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, src, env)
}

// ParseConfig is LoadConfig on bytes; filename is used in error positions.
func ParseConfig(filename string, src []byte, env map[string]string) (*Config, error) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	envVals := make(map[string]cty.Value, len(env))
	for k, v := range env {
		envVals[k] = cty.StringVal(v)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"env": cty.ObjectVal(envVals)}}
	var fc fileConfig
	if diags := gohcl.DecodeBody(file.Body, ctx, &fc); diags.HasErrors() {
		return nil, diagError(diags)
	}
	c, diags := resolve(filename, &fc, ctx)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	return c, nil
}

// diagError renders diagnostics as one error: "file:line,col: summary; detail".
func diagError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += "; " + d.Detail
		}
		if d.Subject != nil {
			msg = fmt.Sprintf("%s:%d,%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
		}
		msgs = append(msgs, msg)
	}
	return errors.New(strings.Join(msgs, "\n"))
}

func errAt(r hcl.Range, summary string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf(summary, args...), Subject: r.Ptr()}
}

// duration evaluates an optional duration attribute (a Go duration string).
func duration(expr hcl.Expression, ctx *hcl.EvalContext, name string, def time.Duration) (time.Duration, hcl.Diagnostics) {
	if expr == nil {
		return def, nil
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	if v.IsNull() {
		return def, nil
	}
	if v.Type() != cty.String {
		return 0, hcl.Diagnostics{errAt(expr.Range(), "%s must be a duration string such as \"1h\" or \"200ms\"", name)}
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil || d < 0 {
		return 0, hcl.Diagnostics{errAt(expr.Range(), "%s: %q is not a valid duration (use e.g. \"1h\", \"30s\", \"200ms\")", name, v.AsString())}
	}
	return d, nil
}

func resolve(filename string, fc *fileConfig, ctx *hcl.EvalContext) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	c := &Config{
		Path: filename, Listen: fc.Listen, PublicURL: strings.TrimRight(fc.PublicURL, "/"),
		PluginDir: fc.PluginDir, TrustedProxies: fc.TrustedProxies, LogLevel: fc.LogLevel, LogFormat: fc.LogFormat,
	}
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.PluginDir == "" {
		c.PluginDir = defaultPluginDir
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		diags = append(diags, errAt(hcl.Range{Filename: filename}, "log_format must be \"text\" or \"json\""))
	}
	var d hcl.Diagnostics
	c.StatusRefreshInterval, d = duration(fc.StatusRefreshInterval, ctx, "status_refresh_interval", defaultRefresh)
	diags = append(diags, d...)

	if fc.Storage == nil {
		diags = append(diags, errAt(hcl.Range{Filename: filename, Start: hcl.Pos{Line: 1, Column: 1}}, "missing storage block"))
	} else {
		s := fc.Storage
		c.Storage = StorageConfig{Driver: s.Driver, DSN: s.DSN, MaxOpenConns: s.MaxOpenConns}
		if s.Driver != "sqlite" && s.Driver != "postgres" {
			diags = append(diags, errAt(s.DefRange, "storage.driver must be \"sqlite\" or \"postgres\", not %q", s.Driver))
		}
		if s.DSN == "" {
			diags = append(diags, errAt(s.DefRange, "storage.dsn is empty"))
		}
		if c.Storage.MaxOpenConns <= 0 {
			c.Storage.MaxOpenConns = defaultMaxOpenConns
		}
	}

	seen := map[string]bool{}
	if len(fc.Providers) == 0 {
		diags = append(diags, errAt(hcl.Range{Filename: filename, Start: hcl.Pos{Line: 1, Column: 1}}, "no provider block: at least one provider is needed"))
	}
	for _, pb := range fc.Providers {
		p, d := resolveProvider(pb, c.PluginDir, ctx)
		diags = append(diags, d...)
		if seen[p.Name] {
			diags = append(diags, errAt(pb.DefRange, "provider %q is defined twice", p.Name))
		}
		seen[p.Name] = true
		c.Providers = append(c.Providers, p)
	}

	accounts := map[string]bool{}
	for _, ab := range fc.Accounts {
		if accounts[ab.Name] {
			diags = append(diags, errAt(ab.DefRange, "account %q is defined twice", ab.Name))
		}
		accounts[ab.Name] = true
		if !strings.HasPrefix(ab.PasswordBcrypt, "$2") {
			diags = append(diags, errAt(ab.DefRange, "account %q: password_bcrypt must be a bcrypt hash (make one with `smsgw accounts hash`)", ab.Name))
		}
		c.Accounts = append(c.Accounts, AccountConfig{Name: ab.Name, PasswordBcrypt: ab.PasswordBcrypt})
	}
	for i, p := range c.Providers {
		if p.Account != "" && !accounts[p.Account] {
			diags = append(diags, errAt(fc.Providers[i].DefRange, "provider %q: account %q is not defined by an account block", p.Name, p.Account))
		}
	}

	names := make([]string, len(c.Providers))
	for i, p := range c.Providers {
		names[i] = p.Name
	}
	for _, rb := range fc.Routes {
		rule := routing.Rule{Name: rb.Name, Providers: rb.Providers}
		if rb.Match != nil {
			rule.Match = routing.Match{ToPrefix: rb.Match.ToPrefix, FromPrefix: rb.Match.FromPrefix, Tags: rb.Match.Tag}
		}
		if len(rb.Providers) == 0 {
			diags = append(diags, errAt(rb.DefRange, "route %q: providers is empty", rb.Name))
		}
		listed := map[string]bool{}
		for _, name := range rb.Providers {
			if !seen[name] {
				diags = append(diags, errAt(rb.DefRange, "route %q: unknown provider %q", rb.Name, name))
			}
			if listed[name] {
				diags = append(diags, errAt(rb.DefRange, "route %q: provider %q is listed twice (failover tries the providers in order)", rb.Name, name))
			}
			listed[name] = true
		}
		c.Routes = append(c.Routes, rule)
	}

	c.Limits = LimitsConfig{PerSender: defaultPerSender, Window: defaultWindow}
	if fc.Limits != nil {
		if n := fc.Limits.PerSender; n != nil {
			if *n < 0 {
				diags = append(diags, errAt(fc.Limits.DefRange, "limits.per_sender must be 0 (no limit) or more, not %d", *n))
			}
			c.Limits.PerSender = max(*n, 0)
		}
		c.Limits.Window, d = duration(fc.Limits.Window, ctx, "limits.window", defaultWindow)
		diags = append(diags, d...)
	}
	c.OptOut = OptOutConfig{StopReply: defaultStopReply, StartReply: defaultStartReply, HelpReply: defaultHelpReply, Enforce: true}
	if o := fc.OptOut; o != nil {
		if o.Enforce != nil {
			c.OptOut.Enforce = *o.Enforce
		}
		c.OptOut.Expiry, d = duration(o.Expiry, ctx, "opt_out.expiry", 0)
		diags = append(diags, d...)
		for _, r := range []struct {
			src *string
			dst *string
		}{{o.StopReply, &c.OptOut.StopReply}, {o.StartReply, &c.OptOut.StartReply}, {o.HelpReply, &c.OptOut.HelpReply}} {
			if r.src != nil {
				*r.dst = *r.src
			}
		}
	}
	hooks := map[string]bool{}
	for _, wb := range fc.Webhooks {
		diags = append(diags, checkWebhook(wb)...)
		if hooks[wb.Name] {
			diags = append(diags, errAt(wb.DefRange, "webhook %q is defined twice", wb.Name))
		}
		hooks[wb.Name] = true
		c.Webhooks = append(c.Webhooks, WebhookConfig{Name: wb.Name, URL: wb.URL, Events: wb.Events, Secret: wb.Secret})
	}
	if fc.Compat != nil && fc.Compat.SMSApp != nil {
		sa := &SMSAppConfig{AnonymousAccount: fc.Compat.SMSApp.AnonymousAccount}
		sa.StopTTL, d = duration(fc.Compat.SMSApp.StopTTL, ctx, "compat.smsapp.stop_ttl", 4*time.Hour)
		diags = append(diags, d...)
		if sa.StopTTL == 0 && !d.HasErrors() {
			// A block that expires as it is made would ignore the STOP.
			diags = append(diags, errAt(fc.Compat.SMSApp.StopTTL.Range(), "compat.smsapp.stop_ttl must be more than 0"))
		}
		c.SMSApp = sa
	}
	if fc.Compat != nil && fc.Compat.FastSMSing != nil {
		fs := fc.Compat.FastSMSing
		c.FastSMSing = &FastSMSingConfig{From: cmp.Or(fs.From, fastsmsing.DefaultFrom), AnonymousAccount: fs.AnonymousAccount}
	}
	c.Proxy = ProxyConfig{Allocation: "shared", StartMessage: defaultStartMessage, EndMessage: defaultEndMessage, NoSessionMessage: defaultNoSessionMessage}
	if pb := fc.Proxy; pb != nil {
		c.Proxy.OrgName = pb.OrgName
		if pb.Allocation != "" {
			c.Proxy.Allocation = pb.Allocation
		}
		if a := proxy.Allocation(c.Proxy.Allocation); !a.Valid() {
			diags = append(diags, errAt(pb.DefRange, "proxy.allocation must be \"shared\" or \"exclusive\", not %q", pb.Allocation))
		}
		for _, m := range []struct {
			src *string
			dst *string
		}{{pb.StartMessage, &c.Proxy.StartMessage}, {pb.EndMessage, &c.Proxy.EndMessage}, {pb.NoSessionMessage, &c.Proxy.NoSessionMessage}} {
			if m.src != nil {
				*m.dst = *m.src
			}
		}
	}
	if fc.Compat != nil && fc.Compat.DHOS != nil {
		c.DHOS, d = resolveDHOS(fc.Compat.DHOS, c.PublicURL, seen)
		diags = append(diags, d...)
	}
	if fc.Compat != nil && fc.Compat.FlowrouteProxy != nil {
		c.FlowrouteProxy, d = resolveFlowrouteProxy(fc.Compat.FlowrouteProxy, seen)
		diags = append(diags, d...)
	}
	return c, diags
}

// checkWebhook checks a webhook block (API.md §6): an absolute http(s) URL, at least one
// event, each a known one, and a secret to sign with.
func checkWebhook(wb webhookBlock) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if u, err := url.Parse(wb.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		diags = append(diags, errAt(wb.DefRange, "webhook %q: url must be an absolute http or https URL, not %q", wb.Name, wb.URL))
	}
	if len(wb.Events) == 0 {
		diags = append(diags, errAt(wb.DefRange, "webhook %q: events is empty (use message.received, message.status)", wb.Name))
	}
	seen := map[string]bool{}
	for _, e := range wb.Events {
		switch {
		case e != "message.received" && e != "message.status":
			diags = append(diags, errAt(wb.DefRange, "webhook %q: unknown event %q (use message.received, message.status)", wb.Name, e))
		case seen[e]:
			diags = append(diags, errAt(wb.DefRange, "webhook %q: event %q is listed twice", wb.Name, e))
		}
		seen[e] = true
	}
	if wb.Secret == "" {
		diags = append(diags, errAt(wb.DefRange, "webhook %q: secret is empty (deliveries are signed with it; set it from the environment with env.NAME)", wb.Name))
	}
	return diags
}

// resolveFlowrouteProxy checks the compat.flowroute_proxy block: the provider of its pool
// numbers must be configured, and its prefix one the dialect can mount.
func resolveFlowrouteProxy(b *flowrouteProxyBlock, providers map[string]bool) (*FlowrouteProxyConfig, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	c := &FlowrouteProxyConfig{Provider: b.Provider, Prefix: cmp.Or(b.Prefix, flowroute.DefaultPrefix), AnonymousAccount: b.AnonymousAccount}
	switch {
	case b.Provider == "":
		diags = append(diags, errAt(b.DefRange, "compat.flowroute_proxy.provider is required: the provider the pool numbers are reached through"))
	case !providers[b.Provider]:
		diags = append(diags, errAt(b.DefRange, "compat.flowroute_proxy.provider: unknown provider %q", b.Provider))
	}
	if err := flowroute.CheckPrefix(c.Prefix); err != nil {
		diags = append(diags, errAt(b.DefRange, "compat.flowroute_proxy.prefix %q: %v", c.Prefix, err))
	}
	return c, diags
}

// resolveDHOS checks the compat.dhos block: its provider must be configured (its plugin
// checks the callbacks' signatures), and its callback URL defaults to where this gateway
// serves the callback behind public_url.
func resolveDHOS(b *dhosBlock, publicURL string, providers map[string]bool) (*DHOSConfig, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	c := &DHOSConfig{Provider: b.Provider, CallbackURL: b.CallbackURL, CountryCode: strings.ToUpper(b.CountryCode), AnonymousAccount: b.AnonymousAccount}
	switch {
	case b.Provider == "":
		diags = append(diags, errAt(b.DefRange, "compat.dhos.provider is required: the Twilio-style provider whose status callbacks /dhos/v1/sms/callback receives"))
	case !providers[b.Provider]:
		diags = append(diags, errAt(b.DefRange, "compat.dhos.provider: unknown provider %q", b.Provider))
	}
	if c.CallbackURL == "" {
		c.CallbackURL = strings.TrimRight(publicURL, "/") + "/dhos/v1/sms/callback"
	}
	if u, err := url.Parse(c.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		diags = append(diags, errAt(b.DefRange, "compat.dhos.callback_url must be an absolute http(s) URL without query, fragment or credentials, not %q", c.CallbackURL))
	}
	switch {
	case c.CountryCode == "":
		diags = append(diags, errAt(b.DefRange, "compat.dhos.country_code is required: the ISO 3166 region (e.g. \"GB\") of receivers given without a country code"))
	case !phonenumbers.GetSupportedRegions()[c.CountryCode]:
		// The dialect reads receivers with phonenumbers' metadata: a region it does not know
		// would pass here and only fail serve.
		diags = append(diags, errAt(b.DefRange, "compat.dhos.country_code %q is not an ISO 3166 alpha-2 region code (e.g. \"GB\")", b.CountryCode))
	}
	return c, diags
}

func resolveProvider(pb providerBlock, pluginDir string, ctx *hcl.EvalContext) (ProviderConfig, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p := ProviderConfig{
		Name: pb.Name, SHA256: strings.ToLower(pb.SHA256), Dev: pb.Dev, Account: pb.Account,
		MaxAttempts: defaultMaxAttempts, Backoff: defaultBackoff, Linger: defaultLinger,
		BreakerFailures: routing.DefaultBreakerFailures, BreakerCooldown: routing.DefaultBreakerCooldown,
	}
	// A bare file name is looked up in plugin_dir; anything with a slash is a path.
	// Relative paths are relative to the working directory, like plugin_dir itself.
	p.Plugin = pb.Plugin
	if !strings.ContainsRune(pb.Plugin, filepath.Separator) {
		p.Plugin = filepath.Join(pluginDir, pb.Plugin)
		p.PluginDir = pluginDir
		if abs, err := filepath.Abs(pluginDir); err == nil {
			p.PluginDir = abs
		}
	}
	// The host execs absolute paths only, so that exec never searches $PATH.
	if abs, err := filepath.Abs(p.Plugin); err == nil && pb.Plugin != "" {
		p.Plugin = abs
	}
	if pb.Plugin == "" {
		diags = append(diags, errAt(pb.DefRange, "provider %q: plugin is empty", pb.Name))
	}
	if p.SHA256 == "" && !p.Dev {
		diags = append(diags, errAt(pb.DefRange, "provider %q: sha256 is required (or set dev = true to skip the checksum); compute it with `smsgw plugin sha256 FILE`", pb.Name))
	}
	if p.SHA256 != "" && (len(p.SHA256) != 64 || strings.Trim(p.SHA256, "0123456789abcdef") != "") {
		diags = append(diags, errAt(pb.DefRange, "provider %q: sha256 must be 64 hex digits", pb.Name))
	}
	p.Config = json.RawMessage("{}")
	if !pb.Config.IsNull() && pb.Config.IsKnown() {
		if !pb.Config.Type().IsObjectType() && !pb.Config.Type().IsMapType() {
			diags = append(diags, errAt(pb.DefRange, "provider %q: config must be an object", pb.Name))
		} else if raw, err := ctyjson.Marshal(pb.Config, pb.Config.Type()); err != nil {
			diags = append(diags, errAt(pb.DefRange, "provider %q: config: %v", pb.Name, err))
		} else {
			p.Config = raw
		}
	}
	var d hcl.Diagnostics
	if pb.Batch != nil {
		if pb.Batch.MaxSize < 0 {
			diags = append(diags, errAt(pb.DefRange, "provider %q: batch.max_size must be positive", pb.Name))
		}
		p.BatchSize = pb.Batch.MaxSize
		p.Linger, d = duration(pb.Batch.Linger, ctx, "batch.linger", defaultLinger)
		diags = append(diags, d...)
	}
	if pb.Retry != nil {
		if pb.Retry.MaxAttempts > 0 {
			p.MaxAttempts = pb.Retry.MaxAttempts
		}
		p.Backoff, d = duration(pb.Retry.Backoff, ctx, "retry.backoff", defaultBackoff)
		diags = append(diags, d...)
	}
	if b := pb.Breaker; b != nil {
		if b.Failures != nil {
			if *b.Failures < 1 {
				diags = append(diags, errAt(pb.DefRange, "provider %q: breaker.failures must be at least 1", pb.Name))
			}
			p.BreakerFailures = *b.Failures
		}
		p.BreakerCooldown, d = duration(b.Cooldown, ctx, "breaker.cooldown", routing.DefaultBreakerCooldown)
		diags = append(diags, d...)
		if len(d) == 0 && p.BreakerCooldown <= 0 {
			diags = append(diags, errAt(b.Cooldown.Range(), "provider %q: breaker.cooldown must be positive", pb.Name))
		}
	}
	return p, diags
}
