// Package flowroute is the legacy dialect of Flowroute's sms-proxy service (API.md §8.4):
// a pool of virtual TNs (/tn), anonymous proxy sessions over it (/session), and the
// provider's inbound callback (POST /), at a configurable prefix (default "/"). It speaks
// the gateway's proxy sessions of API.md §3: the same pool, allocation, relay and system
// messages as /v1/proxy. Answers are {"message": "<text>", ...}; its numbers are the legacy
// service's 11 digits without "+" (see toE164).
package flowroute

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/flaskreply"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// Core is what the dialect needs from the use cases; *gateway.Gateway implements it.
// Numbers are E.164.
type Core interface {
	// AddProxyNumber puts number into the account's pool, reached through provider. A bad
	// number or provider is a *message.FieldError (field "number" or "provider"); a number
	// already in a pool (any account's) wraps ports.ErrConflict.
	AddProxyNumber(ctx context.Context, accountID, number, provider string) (proxy.Number, error)
	// ProxyNumbers returns the account's pool in number order with its use.
	ProxyNumbers(ctx context.Context, accountID string) (gateway.ProxyPool, error)
	// RemoveProxyNumber deletes the number from the account's pool: ports.ErrNotFound when
	// it has no such number, wrapping ports.ErrConflict while an open session uses it.
	RemoveProxyNumber(ctx context.Context, accountID, number string) error
	// CreateProxySession opens a session and sends the start message to both participants:
	// gateway.ErrNoProxyNumber when no pool number is free; bad participants or TTL are a
	// *message.FieldError (participant_a, participant_b, ttl_seconds).
	CreateProxySession(ctx context.Context, cmd gateway.ProxySessionCommand) (proxy.Session, error)
	// ListProxySessions lists the account's sessions as of now, newest first (an expired
	// one has ClosedAt set).
	ListProxySessions(ctx context.Context, accountID string, q ports.ProxySessionQuery) (ports.ProxySessionPage, error)
	// GetProxySession returns the account's session as of now, or ports.ErrNotFound.
	GetProxySession(ctx context.Context, accountID, id string) (proxy.Session, error)
	// CloseProxySession closes the account's session, sending the end message once; closed
	// reports whether this call closed it. ports.ErrNotFound for an unknown id.
	CloseProxySession(ctx context.Context, accountID, id string) (s proxy.Session, closed bool, err error)
	// Receive stores an inbound message, applies its keywords and relays it through the
	// proxy session of its number (API.md §3).
	Receive(ctx context.Context, cmd gateway.ReceiveCommand) (message.Message, error)
}

// Options are the compat.flowroute_proxy block (ARCHITECTURE.md §5).
type Options struct {
	// Provider is the provider the numbers added through POST /tn are reached through,
	// and the provider of the messages POST / receives. Required.
	Provider string
	// Prefix is where the routes live: "/" (the default, as the legacy service) or a path
	// such as "/proxy", without a trailing slash. See CheckPrefix.
	Prefix string
	// AnonymousAccount, when set, is the account of every request; no credentials needed.
	AnonymousAccount string
	// Now is the clock sessions are judged open by; nil is time.Now.
	Now func() time.Time
}

// DefaultPrefix is the prefix of the legacy service: its routes at the root.
const DefaultPrefix = "/"

// pageLimit is the page size of the session lists the dialect reads in full: v1's maximum.
const pageLimit = 500

// dateLayout is how the legacy service wrote its timestamps: UTC, to the second.
const dateLayout = "2006-01-02 15:04:05"

// Answer texts. The legacy service's are kept (its README and code). textTNInUse and
// textReceived are close to its own but this dialect's: the legacy in-use text named the
// session, and its callback answer reported the relay, which here is the core's business.
// The generic ones are the HTTP reason phrases, as Flask answers them.
const (
	textAdded          = "successfully added TN to pool"
	textRemoved        = "successfully removed TN from pool"
	textCreated        = "created session"
	textEnded          = "successfully ended session"
	textReceived       = "successfully received message"
	textDuplicate      = "Virtual TN already exists"
	textTNUnknown      = "Virtual TN could not be deleted because it does not exist"
	textTNInUse        = "Cannot delete the number. There is an active session using it."
	textNoTN           = "Could not create session -- No virtual TNs available"
	textSessionUnknown = "Session could not be deleted because it does not exist"
	textNotFound       = "Not Found"
	textMethod         = "Method Not Allowed"
)

// What New says of a prefix it refuses.
const (
	textPrefixReserved  = "is taken by another route of the gateway"
	textPrefixMalformed = `must be "/" or a path such as "/proxy": "/" and segments of A-Z, a-z, 0-9, ".", "_", "~", "-", without a trailing "/"`
)

// reservedSegments are the first path segments of the gateway's other routes (v1, the
// provider webhooks, the operations endpoints and the other dialects). A prefix under one
// of them would put this dialect's routes among theirs, which Gin refuses with a panic at
// start-up; New refuses it with an error instead.
var reservedSegments = map[string]bool{
	"v1": true, "webhooks": true, "healthz": true, "readyz": true, "version": true,
	"metrics": true, "openapi.yaml": true,
	"inbound": true, "outbound": true, "sms": true, "dhos": true, "running": true,
}

// Dialect serves the sms-proxy routes; build it with New.
type Dialect struct {
	core     Core
	kit      httpapi.DialectKit
	provider string
	prefix   string
	now      func() time.Time
}

var (
	_ httpapi.Dialect = (*Dialect)(nil)
	_ Core            = (*gateway.Gateway)(nil)
)

// New returns the dialect, or an error naming the option at fault: an empty Provider or a
// Prefix CheckPrefix refuses. A nil log discards the error details.
func New(core Core, log hclog.Logger, opts Options) (*Dialect, error) {
	if core == nil {
		return nil, errors.New("flowroute_proxy: no core")
	}
	if opts.Provider == "" {
		return nil, errors.New("flowroute_proxy: provider is required")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if err := CheckPrefix(opts.Prefix); err != nil {
		return nil, fmt.Errorf("flowroute_proxy: prefix %q %w", opts.Prefix, err)
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Dialect{
		core: core, provider: opts.Provider, prefix: opts.Prefix, now: opts.Now,
		kit: flaskreply.Kit("flowroute_proxy", log, opts.AnonymousAccount),
	}, nil
}

// CheckPrefix checks a compat.flowroute_proxy.prefix (the config check calls it too): "/" or "/seg[/seg…]" of unreserved URL characters (none that Gin reads as a
// parameter, ":" and "*", nor any that would need escaping), no "." or ".." segment, and
// a first segment no other route of the gateway uses.
func CheckPrefix(p string) error {
	if p == "/" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return errors.New(textPrefixMalformed)
	}
	segs := strings.Split(p[1:], "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return errors.New(textPrefixMalformed)
		}
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '~', c == '-':
			default:
				return errors.New(textPrefixMalformed)
			}
		}
	}
	if reservedSegments[segs[0]] {
		return errors.New(textPrefixReserved)
	}
	return nil
}

// Mount implements httpapi.Dialect. At "/" the dialect mounts exactly its three paths
// (every method, so that a wrong one is a 405 in this dialect's shape): a catch-all there
// would take every path of the gateway, so any other path stays the gateway's (a v1 404).
// Under another prefix it takes the prefix and everything below it, like dhos: an unknown
// path there is this dialect's 404.
func (d *Dialect) Mount(r gin.IRouter, auth httpapi.Authenticator) {
	h := d.handler(auth)
	if d.prefix == "/" {
		for _, p := range []string{"/", "/tn", "/session"} {
			r.Any(p, h)
		}
		return
	}
	r.Any(d.prefix, h)
	r.Any(d.prefix+"/*rest", h)
}

// operation is what a request to one of the dialect's routes asks for.
type operation int

const (
	opNone operation = iota
	opAddTN
	opListTNs
	opRemoveTN
	opCreateSession
	opListSessions
	opEndSession
	opInbound
)

// methodOp is one method of an endpoint and what it does.
type methodOp struct {
	method string
	op     operation
}

// Each endpoint's methods, in the order Allow lists them.
var (
	tnMethods      = []methodOp{{http.MethodDelete, opRemoveTN}, {http.MethodGet, opListTNs}, {http.MethodPost, opAddTN}}
	sessionMethods = []methodOp{{http.MethodDelete, opEndSession}, {http.MethodGet, opListSessions}, {http.MethodPost, opCreateSession}}
	inboundMethods = []methodOp{{http.MethodPost, opInbound}}
)

// endpointOf is the endpoint the request's path names below the prefix (its methods; nil
// for none). Under a prefix both the prefix itself and the prefix with "/" are the
// inbound callback (the legacy service's "/"), so either form of a callback URL works;
// trailing-slash forms of the others are not found, as in the legacy (Flask) service.
func (d *Dialect) endpointOf(c *gin.Context) []methodOp {
	rest := c.FullPath() // at "/": one of the three paths
	if d.prefix != "/" {
		rest = "/"
		if c.FullPath() != d.prefix {
			rest = c.Param("rest")
		}
	}
	switch rest {
	case "/":
		return inboundMethods
	case "/tn":
		return tnMethods
	case "/session":
		return sessionMethods
	}
	return nil
}

// operationOf is the request's operation; opNone with the allowed methods for a path the
// dialect has but not with this method, opNone with none for a path it does not have.
func (d *Dialect) operationOf(c *gin.Context) (op operation, allow []string) {
	for _, mo := range d.endpointOf(c) {
		if mo.method == c.Request.Method {
			return mo.op, nil
		}
		allow = append(allow, mo.method)
	}
	return opNone, allow
}

// WriteError implements httpapi.Dialect. What is no operation stays a 404 or 405 whatever
// the middleware refused it for. A body over httpapi.MaxBodyBytes is 413 (the gateway-wide
// limit of API.md §0): the client's fault, and a 5xx would invite retries. Everything else
// is 500; the shared middleware has logged the cause.
func (d *Dialect) WriteError(c *gin.Context, status int) {
	if op, allow := d.operationOf(c); op == opNone {
		flaskreply.NoOperation(c, allow)
		return
	}
	flaskreply.MiddlewareError(c, status)
}

// handler routes to the operation, then authenticates. An unknown path or method is refused
// before auth, like v1's unknown paths: there is nothing there to protect. Every operation,
// the inbound callback included, needs Basic credentials unless the dialect has an
// anonymous account (API.md §8): a provider that cannot send credentials calls a gateway
// configured with one.
func (d *Dialect) handler(auth httpapi.Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer d.kit.Recover(c)
		op, allow := d.operationOf(c)
		if op == opNone {
			flaskreply.NoOperation(c, allow)
			return
		}
		account, ok := d.kit.Account(c, auth)
		if !ok {
			return
		}
		switch op {
		case opAddTN:
			d.addTN(c, account)
		case opListTNs:
			d.listTNs(c, account)
		case opRemoveTN:
			d.removeTN(c, account)
		case opCreateSession:
			d.createSession(c, account)
		case opListSessions:
			d.listSessions(c, account)
		case opEndSession:
			d.endSession(c, account)
		case opInbound:
			d.inbound(c, account)
		}
	}
}
