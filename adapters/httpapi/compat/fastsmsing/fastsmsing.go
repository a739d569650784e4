// Package fastsmsing is the legacy fastsmsing dialect of API.md §8.2: POST /sms (or /sms/)
// sends {"PhoneNumber", "Content"} from one configured sender and answers 202 {"ID"};
// GET /sms/{id} answers 200 {"Status"}. Refusals are {"Error": "…"}; any other method or
// path under /sms is 404 {"message": "not found"}.
package fastsmsing

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// DefaultFrom is the sender of this dialect's messages when compat.fastsmsing.from is not set.
const DefaultFrom = "FASTSMS"

// Core is what the dialect needs from the use cases; *gateway.Gateway implements it.
type Core interface {
	// Send applies the opt-out check (and, unless cmd.Unlimited, the rate limit), then
	// accepts the message; an opted-out pair is gateway.ErrOptedOut.
	Send(ctx context.Context, cmd gateway.SendCommand) (message.Message, error)
	// Get returns one of the account's messages, or ports.ErrNotFound.
	Get(ctx context.Context, accountID, id string) (message.Message, error)
}

var _ Core = (*gateway.Gateway)(nil)

// Answer texts that API.md §8.2 does not name (the others are in decode.go).
const (
	textUnauth     = "unauthorized"
	textNotFound   = "not found"
	unknownFailure = "unknown failure"
	// A blocked pair: §8.2 says opt-outs apply (the dialects share v1's opt-outs, §8) but
	// names no text.
	textOptedOut = "recipient opted out"
	// The legacy service had no body limit; the gateway-wide one of API.md §0 applies.
	textTooLarge = "request body too large"
)

// The Status values of GET /sms/{id}.
const (
	statusAccepted  = "ACCEPTED"
	statusConfirmed = "CONFIRMED"
	statusDelivered = "DELIVERED"
	statusFailed    = "FAILED"
	statusNotFound  = "NOT_FOUND"
)

// Dialect serves the fastsmsing routes; build it with New.
type Dialect struct {
	core Core
	kit  httpapi.DialectKit
	from string
}

var _ httpapi.Dialect = (*Dialect)(nil)

// New returns the dialect; its messages are sent from from (DefaultFrom when empty), as given.
// With a non-empty anonymousAccount the routes need no credentials and every request acts
// as that account (any Authorization header is ignored); otherwise they need Basic auth like
// v1. A nil log discards the error details.
func New(core Core, log hclog.Logger, from, anonymousAccount string) *Dialect {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if from == "" {
		from = DefaultFrom
	}
	return &Dialect{core: core, from: from, kit: httpapi.DialectKit{
		Name: "fastsmsing", Log: log, Anonymous: anonymousAccount,
		Unauthorized: func(c *gin.Context) { refuse(c, http.StatusUnauthorized, textUnauth) },
		TooLarge:     func(c *gin.Context) { refuse(c, http.StatusRequestEntityTooLarge, textTooLarge) },
		Failure:      func(c *gin.Context) { refuse(c, http.StatusInternalServerError, unknownFailure) },
	}}
}

// Mount implements httpapi.Dialect. Everything under /sms is routed here (every method,
// and a catch-all for the paths below it), so that whatever is not one of the two
// operations is answered 404 in this dialect's shape rather than by v1.
func (d *Dialect) Mount(r gin.IRouter, auth httpapi.Authenticator) {
	h := d.handler(auth)
	r.Any("/sms", h)
	r.Any("/sms/*rest", h)
}

// operation is what a request to one of the dialect's routes asks for.
type operation int

const (
	opNone   operation = iota // any other method or path under /sms: 404
	opSend                    // POST /sms, POST /sms/
	opStatus                  // GET /sms/{id}
)

// operationOf classifies the request; id is the {id} of opStatus. The path is the decoded
// one (Gin's default), so /sms/a%2Fb is /sms/a/b and so a path of three segments.
func operationOf(c *gin.Context) (operation, string) {
	rest := "" // "" for /sms, else "/…"
	if c.FullPath() != "/sms" {
		rest = c.Param("rest")
	}
	switch m := c.Request.Method; {
	case m == http.MethodPost && (rest == "" || rest == "/"):
		return opSend, ""
	case m == http.MethodGet && len(rest) > 1 && !strings.Contains(rest[1:], "/"):
		return opStatus, rest[1:]
	}
	return opNone, ""
}

// WriteError implements httpapi.Dialect. A request that is not one of the operations is
// 404 whatever the middleware refused it for (a PUT with a huge body is still no route). A
// body over httpapi.MaxBodyBytes is 413, as the gateway-wide limit of API.md §0 says, in
// this dialect's shape: the client's fault, and a 5xx would invite retries. Everything else
// is 500 "unknown failure"; the shared middleware has logged the cause.
func (d *Dialect) WriteError(c *gin.Context, status int) {
	switch op, _ := operationOf(c); {
	case op == opNone:
		notFound(c)
	case status == http.StatusRequestEntityTooLarge:
		refuse(c, status, textTooLarge)
	default:
		refuse(c, http.StatusInternalServerError, unknownFailure)
	}
}

// The answers' bodies.
type (
	errorReply struct {
		Error string `json:"Error"`
	}
	acceptedReply struct {
		ID string `json:"ID"`
	}
	statusReply struct {
		Status string `json:"Status"`
	}
	notFoundReply struct {
		Message string `json:"message"`
	}
)

func refuse(c *gin.Context, status int, text string) {
	c.AbortWithStatusJSON(status, errorReply{Error: text})
}

func notFound(c *gin.Context) {
	c.AbortWithStatusJSON(http.StatusNotFound, notFoundReply{Message: textNotFound})
}

// handler routes to the operation, then authenticates. An unknown route is 404 before
// auth, like v1's unknown paths: there is nothing there to protect.
func (d *Dialect) handler(auth httpapi.Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer d.kit.Recover(c)
		op, id := operationOf(c)
		if op == opNone {
			notFound(c)
			return
		}
		account, ok := d.kit.Account(c, auth)
		if !ok {
			return
		}
		if op == opSend {
			d.send(c, account)
			return
		}
		d.status(c, account, id)
	}
}

// send is POST /sms. The body is parsed before any field is checked: §8.2 lists "malformed
// JSON" after the field checks, but the fields of a body that does not parse cannot be
// checked, so a malformed body answers its reason and the listed order holds among the
// checks of a body that parses.
func (d *Dialect) send(c *gin.Context, account string) {
	body, ok := d.kit.Body(c)
	if !ok {
		return
	}
	req, err := decode(body)
	if err != nil {
		refuse(c, http.StatusBadRequest, err.Error())
		return
	}
	if text := req.check(); text != "" {
		refuse(c, http.StatusBadRequest, text)
		return
	}
	m, err := d.core.Send(c.Request.Context(), gateway.SendCommand{
		AccountID: account, From: d.from, To: req.PhoneNumber, Text: req.Content,
		Verbatim: true, Unlimited: true,
	})
	switch {
	case errors.Is(err, gateway.ErrOptedOut):
		refuse(c, http.StatusForbidden, textOptedOut)
	case err != nil:
		// Includes a *message.FieldError: the values passed this dialect's rules, so the
		// core refusing one is a bug to see in the log, not the client's fault.
		d.kit.Fail(c, "send", err)
	default:
		c.JSON(http.StatusAccepted, acceptedReply{ID: m.ID})
	}
}

// status is GET /sms/{id}. An id that cannot be one of the gateway's (too long, or not
// printable ASCII: a store may refuse such a value rather than find nothing) is NOT_FOUND
// without asking the store.
func (d *Dialect) status(c *gin.Context, account, id string) {
	if !httpapi.PlausibleID(id) {
		c.JSON(http.StatusOK, statusReply{Status: statusNotFound})
		return
	}
	m, err := d.core.Get(c.Request.Context(), account, id)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		c.JSON(http.StatusOK, statusReply{Status: statusNotFound})
	case err != nil:
		d.kit.Fail(c, "get", err)
	default:
		c.JSON(http.StatusOK, statusReply{Status: legacyStatus(m)})
	}
}

// legacyStatus maps a message's status to §8.2's. An inbound message is not an SMS this
// dialect could have sent, so it is NOT_FOUND, as is a status this mapping does not know.
func legacyStatus(m message.Message) string {
	if m.Direction != message.Outbound {
		return statusNotFound
	}
	switch m.Status {
	case message.StatusScheduled, message.StatusQueued, message.StatusSending:
		return statusAccepted
	case message.StatusSent:
		return statusConfirmed
	case message.StatusDelivered:
		return statusDelivered
	case message.StatusFailed, message.StatusUndelivered, message.StatusCanceled:
		return statusFailed
	}
	return statusNotFound
}
