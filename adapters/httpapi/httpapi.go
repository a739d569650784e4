// Package httpapi is the HTTP face of smsgw: the v1 JSON API, the provider webhooks and the
// operations endpoints (health, readiness, version, metrics, the OpenAPI spec), on a Gin
// engine with our own middleware (request id, access log, JSON recovery, body limit, Basic
// auth) and one table that maps errors to HTTP answers.
package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

//go:embed openapi.yaml
var specYAML []byte

// OpenAPISpec returns the hand-written contract of this API (OpenAPI 3.0.3, YAML), the
// document served at /openapi.yaml.
func OpenAPISpec() []byte { return bytes.Clone(specYAML) }

// Gateway is what the HTTP API needs from the use cases; *gateway.Gateway implements it.
type Gateway interface {
	// Send validates and accepts an outbound message; validation failures are
	// *message.FieldError.
	Send(ctx context.Context, cmd gateway.SendCommand) (message.Message, error)
	// Get returns one of the account's messages, or ErrNotFound.
	Get(ctx context.Context, accountID, id string) (message.Message, error)
	// List lists the account's messages newest first.
	List(ctx context.Context, accountID string, q ports.MessageQuery) (ports.MessagePage, error)
	// Cancel cancels a scheduled or queued message; ErrConflict otherwise.
	Cancel(ctx context.Context, accountID, id string) (message.Message, error)
	// Delete cancels the message if it still can be, then hides it.
	Delete(ctx context.Context, accountID, id string) error
	// StatusCounts counts the account's messages per UTC day of creation and status,
	// created from start to end inclusive; end before start is a *message.FieldError.
	StatusCounts(ctx context.Context, accountID string, start, end time.Time) (map[string]map[message.Status]int, error)
	// RefreshStatuses polls the providers for the account's messages still waiting for a
	// status, created since `since` (zero: the last 7 days), and applies the answers.
	RefreshStatuses(ctx context.Context, accountID string, since time.Time) (gateway.RefreshResult, error)
	// Receive records an inbound message.
	Receive(ctx context.Context, cmd gateway.ReceiveCommand) (message.Message, error)
	// HandleWebhook passes a raw provider webhook to its plugin and commits what it parsed;
	// ErrNotFound for an unknown provider.
	HandleWebhook(ctx context.Context, provider string, req ports.WebhookRequest) (ports.WebhookResult, error)
	// AddProxyNumber adds a number to the account's proxy pool; ErrConflict when it is in one.
	AddProxyNumber(ctx context.Context, accountID, number, provider string) (proxy.Number, error)
	// ProxyNumbers describes the account's pool and its use.
	ProxyNumbers(ctx context.Context, accountID string) (gateway.ProxyPool, error)
	// RemoveProxyNumber takes a number out of the pool; ErrConflict while a session uses it.
	RemoveProxyNumber(ctx context.Context, accountID, number string) error
	// CreateProxySession opens a session; gateway.ErrNoProxyNumber when no number is free.
	CreateProxySession(ctx context.Context, cmd gateway.ProxySessionCommand) (proxy.Session, error)
	// GetProxySession returns one of the account's sessions as of now, or ErrNotFound.
	GetProxySession(ctx context.Context, accountID, id string) (proxy.Session, error)
	// ListProxySessions lists the account's open or closed sessions as of now.
	ListProxySessions(ctx context.Context, accountID string, q ports.ProxySessionQuery) (ports.ProxySessionPage, error)
	// CloseProxySession closes a session and sends the end message, once; closed reports
	// whether this call closed it.
	CloseProxySession(ctx context.Context, accountID, id string) (s proxy.Session, closed bool, err error)
	// Providers describes the configured providers, in config order.
	Providers(ctx context.Context) []ports.ProviderInfo
	// Balance is a provider's balance; ErrNotFound for an unknown provider,
	// ErrNotImplemented when its plugin has none.
	Balance(ctx context.Context, provider string) (ports.Balance, error)
	// ListOptOuts lists the blocks in force, newest first.
	ListOptOuts(ctx context.Context, q ports.OptOutQuery) (ports.OptOutPage, error)
	// BlockPair blocks a pair (source api), reporting whether the block is new.
	BlockPair(ctx context.Context, sender, recipient string) (ports.OptOut, bool, error)
	// LiftPair deletes a pair's block; ErrNotFound when none is in force.
	LiftPair(ctx context.Context, sender, recipient string) error
}

var _ Gateway = (*gateway.Gateway)(nil)

// AccountFinder looks accounts up for Basic auth; ports.AccountStore implements it.
type AccountFinder interface {
	// GetAccount returns the account with that id, or ErrNotFound.
	GetAccount(ctx context.Context, id string) (ports.Account, error)
}

var _ AccountFinder = ports.AccountStore(nil)

// VersionInfo is what GET /version answers.
type VersionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

// Options configure the handler.
type Options struct {
	Gateway  Gateway
	Accounts AccountFinder
	// Logger gets the access log and error details; nil discards them.
	Logger hclog.Logger
	// TrustedProxies are the proxies (IPs or CIDRs) whose X-Forwarded-For is believed; nil
	// trusts none, so the client IP is the peer address. An invalid entry is logged and then
	// no proxy is trusted.
	TrustedProxies []string
	// PublicURL is the externally visible base URL (scheme://host[:port][/prefix]); webhook
	// URLs given to plugins for signature checks are built from it. Empty: from the request.
	PublicURL string
	// Registry serves /metrics and gets the HTTP metrics; nil uses a private registry.
	Registry *prometheus.Registry
	Version  VersionInfo
	// Ready reports why the gateway cannot serve (nil or empty: ready); nil means ready.
	Ready func(ctx context.Context) []string
	// Dialects are the legacy dialects to serve (API.md §8), mounted after the v1 routes.
	Dialects []Dialect
}

// MaxBodyBytes is the largest request body accepted (API.md §0).
const MaxBodyBytes = 64 << 10

// New returns the HTTP handler of the whole API.
func New(opts Options) http.Handler {
	e, _ := newEngine(opts)
	return e
}

// server holds what the handlers share.
type server struct {
	gw        Gateway
	log       hclog.Logger
	publicURL string
	version   VersionInfo
	ready     func(ctx context.Context) []string
	auth      *authenticator
	// dialectRoutes maps "METHOD /route" to the dialect that mounted it.
	dialectRoutes map[string]Dialect
}

func newEngine(opts Options) (*gin.Engine, *server) {
	gin.SetMode(gin.ReleaseMode) // no debug route dump, no debug warnings
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &server{
		gw: opts.Gateway, log: log, publicURL: opts.PublicURL, version: opts.Version,
		ready: opts.Ready, auth: newAuthenticator(opts.Accounts),
	}

	e := gin.New()
	// JSON 404s instead of redirects: API clients should not follow 301s to fixed paths.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	if err := e.SetTrustedProxies(opts.TrustedProxies); err != nil {
		log.Error("invalid trusted_proxies; trusting no proxy", "error", err)
		_ = e.SetTrustedProxies(nil)
	}

	if opts.Gateway != nil {
		registerOrReuse(reg, newBreakerCollector(opts.Gateway))
	}
	e.Use(requestID(), observe(log, newHTTPMetrics(reg)), recovery(log), s.answerErrors(), limitBody(MaxBodyBytes))
	e.NoRoute(func(c *gin.Context) { fail(c, errRouteNotFound) })
	e.NoMethod(func(c *gin.Context) { fail(c, errRouteNotFound) })

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/version", s.versionInfo)
	e.GET("/openapi.yaml", openapiSpec)
	e.GET("/metrics", metricsHandler(reg))
	e.Any("/webhooks/:provider/*path", s.webhook)

	v1 := e.Group("/v1", s.auth.middleware())
	v1.POST("/messages", s.sendMessage)
	v1.GET("/messages", s.listMessages)
	v1.GET("/messages/status-counts", s.statusCounts)
	v1.POST("/messages/refresh-statuses", s.refreshStatuses)
	v1.GET("/messages/:id", s.getMessage)
	v1.POST("/messages/:id/cancel", s.cancelMessage)
	v1.DELETE("/messages/:id", s.deleteMessage)
	v1.POST("/inbound", s.receiveMessage)
	v1.GET("/proxy/numbers", s.listProxyNumbers)
	v1.POST("/proxy/numbers", s.addProxyNumber)
	v1.DELETE("/proxy/numbers/:number", s.removeProxyNumber)
	v1.GET("/proxy/sessions", s.listProxySessions)
	v1.POST("/proxy/sessions", s.createProxySession)
	v1.GET("/proxy/sessions/:id", s.getProxySession)
	v1.DELETE("/proxy/sessions/:id", s.closeProxySession)
	v1.GET("/providers", s.listProviders)
	v1.GET("/providers/:name/balance", s.providerBalance)
	v1.GET("/opt-outs", s.listOptOuts)
	v1.POST("/opt-outs", s.createOptOut)
	v1.DELETE("/opt-outs", s.deleteOptOut)

	s.mountDialects(e, opts.Dialects)
	return e, s
}
