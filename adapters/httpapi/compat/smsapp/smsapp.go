// Package smsapp is the legacy smsapp dialect of API.md §8.1: POST /inbound/sms and
// POST /outbound/sms (with or without a trailing slash), answering
// {"message": "…", "error": "…"} with exactly one of the two non-empty.
package smsapp

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/ratelimit"
)

// Core is what the dialect needs from the use cases; *gateway.Gateway implements it.
type Core interface {
	// Send applies the rate limit, then the opt-out check, then accepts the message; the
	// refusals are *gateway.RateLimitedError and gateway.ErrOptedOut.
	Send(ctx context.Context, cmd gateway.SendCommand) (message.Message, error)
	// Receive stores an inbound message and applies cmd.Keywords to its text.
	Receive(ctx context.Context, cmd gateway.ReceiveCommand) (message.Message, error)
}

var _ Core = (*gateway.Gateway)(nil)

// The answers' texts (API.md §8.1).
const (
	inboundOK      = "inbound sms is ok"
	outboundOK     = "outbound sms is ok"
	textUnauth     = "unauthorized"
	unknownFailure = "unknown failure"
	// The legacy service had no body limit, so §8.1 names no text for it; see WriteError.
	textTooLarge = "request body too large"
	// The legacy service answered only POST; §8.1 names no text for other methods.
	textMethod = "method not allowed"
)

// Dialect serves the smsapp routes; build it with New.
type Dialect struct {
	core Core
	kit  httpapi.DialectKit
}

var _ httpapi.Dialect = (*Dialect)(nil)

// New returns the dialect. With a non-empty anonymousAccount the routes need no
// credentials and every request acts as that account (any Authorization header is
// ignored); otherwise they need Basic auth like v1. A nil log discards the error details.
func New(core Core, log hclog.Logger, anonymousAccount string) *Dialect {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Dialect{core: core, kit: httpapi.DialectKit{
		Name: "smsapp", Log: log, Anonymous: anonymousAccount,
		Unauthorized: func(c *gin.Context) { refuse(c, http.StatusUnauthorized, textUnauth) },
		TooLarge:     func(c *gin.Context) { refuse(c, http.StatusRequestEntityTooLarge, textTooLarge) },
		Failure:      func(c *gin.Context) { refuse(c, http.StatusInternalServerError, unknownFailure) },
	}}
}

// Mount implements httpapi.Dialect. Every method is routed here, so that a wrong one is
// answered in this dialect's shape (405) rather than as a v1 404.
func (d *Dialect) Mount(r gin.IRouter, auth httpapi.Authenticator) {
	inbound, outbound := d.handler(auth, d.inbound), d.handler(auth, d.outbound)
	for _, p := range []string{"/inbound/sms", "/inbound/sms/"} {
		r.Any(p, inbound)
	}
	for _, p := range []string{"/outbound/sms", "/outbound/sms/"} {
		r.Any(p, outbound)
	}
}

// WriteError implements httpapi.Dialect. A body over httpapi.MaxBodyBytes is answered 413
// as the gateway-wide limit of API.md §0 says, in this dialect's shape: it is the client's
// fault, and a 5xx would invite retries of a request that can never succeed. Everything
// else is "unknown failure" 500 (§8.1); the shared middleware has logged the cause.
func (d *Dialect) WriteError(c *gin.Context, status int) {
	if status == http.StatusRequestEntityTooLarge {
		refuse(c, status, textTooLarge)
		return
	}
	refuse(c, http.StatusInternalServerError, unknownFailure)
}

// reply is the body of every answer.
type reply struct {
	Message string `json:"message"`
	Error   string `json:"error"`
}

func answer(c *gin.Context, status int, msg string) {
	c.JSON(status, reply{Message: msg})
}

func refuse(c *gin.Context, status int, text string) {
	c.AbortWithStatusJSON(status, reply{Error: text})
}

// handler runs what both routes share: method, auth, body and validation, then do with
// the account and the valid request. Nothing reaches the core before all of them pass.
func (d *Dialect) handler(auth httpapi.Authenticator, do func(*gin.Context, string, request)) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer d.kit.Recover(c)
		if c.Request.Method != http.MethodPost {
			c.Header("Allow", http.MethodPost)
			refuse(c, http.StatusMethodNotAllowed, textMethod)
			return
		}
		account, ok := d.kit.Account(c, auth)
		if !ok {
			return
		}
		body, ok := d.kit.Body(c)
		if !ok {
			return
		}
		req, err := decode(body)
		if err != nil {
			refuse(c, http.StatusBadRequest, err.Error())
			return
		}
		do(c, account, req)
	}
}

func (d *Dialect) inbound(c *gin.Context, account string, req request) {
	_, err := d.core.Receive(c.Request.Context(), gateway.ReceiveCommand{
		AccountID: account, From: req.From, To: req.To, Text: req.Text, Keywords: gateway.LegacyStop,
	})
	if err != nil {
		d.kit.Fail(c, "receive", err)
		return
	}
	answer(c, http.StatusOK, inboundOK)
}

func (d *Dialect) outbound(c *gin.Context, account string, req request) {
	_, err := d.core.Send(c.Request.Context(), gateway.SendCommand{
		AccountID: account, From: req.From, To: req.To, Text: req.Text, Verbatim: true,
	})
	if rl, ok := gateway.AsRateLimited(err); ok {
		c.Header("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(rl.RetryAfter)))
		refuse(c, http.StatusTooManyRequests, "limit reached for from "+req.From)
		return
	}
	switch {
	case errors.Is(err, gateway.ErrOptedOut):
		refuse(c, http.StatusForbidden, "sms from "+req.From+" and to "+req.To+" blocked by STOP request")
	case err != nil:
		// Includes a *message.FieldError: the values passed this dialect's rules, so the
		// core refusing one is a bug to see in the log, not the client's fault.
		d.kit.Fail(c, "send", err)
	default:
		answer(c, http.StatusOK, outboundOK)
	}
}
