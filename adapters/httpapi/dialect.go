package httpapi

import (
	"errors"
	"io"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
)

// Dialect is a legacy HTTP dialect of API.md §8 (a package under compat/). The engine mounts
// each one after the v1 routes, behind the shared middleware (request id, access log,
// recovery, body limit); cmd/smsgw builds them, so this package never imports them.
type Dialect interface {
	// Mount adds the dialect's routes to r; auth checks Basic credentials as v1 does.
	Mount(r gin.IRouter, auth Authenticator)
	// WriteError answers, in the dialect's own body shape, a request to one of its routes
	// that the shared middleware refused before the dialect's handlers ran, or that a
	// handler reported with c.Error. status is what v1 would answer: 413 for a body over
	// MaxBodyBytes, 5xx for anything unexpected. (A dialect recovers its own handlers'
	// panics: the shared recovery answers in v1's shape.)
	WriteError(c *gin.Context, status int)
}

// Authenticator checks the Basic credentials of a request against the account store.
type Authenticator interface {
	// Authenticate returns the account id the request's credentials belong to. The error is
	// ErrUnauthorized when they are missing or wrong; any other error means the store could
	// not answer (the credentials may well be right), and wraps the store's error.
	Authenticate(r *http.Request) (accountID string, err error)
}

// ErrUnauthorized: the request carries no Basic credentials, or wrong ones.
var ErrUnauthorized = errors.New("missing or wrong Basic credentials")

// DialectKit is the request mechanics every dialect's handlers share (auth, body, failure,
// panic), so that the dialects differ only in their routes and answers. The funcs write the
// dialect's own body for a status and abort; the texts are the dialect's, not this package's.
type DialectKit struct {
	Name      string       // the dialect's name in log messages
	Log       hclog.Logger // where failures and panics are logged; not nil
	Anonymous string       // when not empty, the account of every request; no credentials needed

	Unauthorized func(c *gin.Context) // 401, missing or wrong credentials
	TooLarge     func(c *gin.Context) // 413, a body over MaxBodyBytes
	Failure      func(c *gin.Context) // 500, never the cause's text
}

// Account is the account the request acts as; false once it has answered the refusal. A
// store that cannot answer is a failure: v1 says 503, but the dialects know only 500.
func (k DialectKit) Account(c *gin.Context, auth Authenticator) (string, bool) {
	if k.Anonymous != "" {
		return k.Anonymous, true
	}
	id, err := auth.Authenticate(c.Request)
	switch {
	case errors.Is(err, ErrUnauthorized):
		c.Header("WWW-Authenticate", `Basic realm="smsgw"`)
		k.Unauthorized(c)
		return "", false
	case err != nil:
		k.Fail(c, "authenticate", err)
		return "", false
	}
	return id, true
}

// Body reads the request's body; false once it has answered the refusal (413 over the
// limit the shared middleware set, else a failure).
func (k DialectKit) Body(c *gin.Context) ([]byte, bool) {
	if c.Request.Body == nil {
		return nil, true
	}
	body, err := io.ReadAll(c.Request.Body)
	var big *http.MaxBytesError
	switch {
	case errors.As(err, &big):
		k.TooLarge(c)
		return nil, false
	case err != nil:
		k.Fail(c, "read body", err)
		return nil, false
	}
	return body, true
}

// Fail logs err with the request id, for the operator to find, and answers the dialect's
// 500: err's text is not for the client.
func (k DialectKit) Fail(c *gin.Context, op string, err error) {
	k.Log.Error(k.Name+" request failed", "op", op, "request_id", c.Writer.Header().Get("X-Request-Id"),
		"method", c.Request.Method, "route", c.FullPath(), "error", err)
	k.Failure(c)
}

// Recover answers a panic in a handler as the dialect's 500 (the shared recovery would
// answer in v1's shape); http.ErrAbortHandler keeps its meaning. Defer it directly
// (defer k.Recover(c)): recover() only works when called by the deferred function itself.
func (k DialectKit) Recover(c *gin.Context) {
	p := recover()
	if p == nil {
		return
	}
	if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(p)
	}
	k.Log.Error("panic in "+k.Name+" handler", "request_id", c.Writer.Header().Get("X-Request-Id"),
		"method", c.Request.Method, "route", c.FullPath(), "panic", p, "stack", string(debug.Stack()))
	if c.Writer.Written() {
		c.Abort()
		return
	}
	k.Failure(c)
}

// MaxLookupID bounds the message ids a dialect looks up; the gateway's own are 36 characters.
const MaxLookupID = 128

// PlausibleID reports whether id, taken from a dialect's URL, could be a message id: 1 to
// 128 printable ASCII characters. Anything else is answered as not found without asking the
// store.
func PlausibleID(id string) bool {
	if id == "" || len(id) > MaxLookupID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// mountDialects mounts ds on e and remembers which routes each one added, so that errors
// the shared middleware raises on them are answered in the dialect's shape.
func (s *server) mountDialects(e *gin.Engine, ds []Dialect) {
	s.dialectRoutes = map[string]Dialect{}
	seen := map[string]bool{}
	for _, r := range e.Routes() {
		seen[r.Method+" "+r.Path] = true
	}
	for _, d := range ds {
		d.Mount(e, s.auth)
		for _, r := range e.Routes() {
			if k := r.Method + " " + r.Path; !seen[k] {
				seen[k] = true
				s.dialectRoutes[k] = d
			}
		}
	}
}

// dialectOf is the dialect that owns the request's route, or nil.
func (s *server) dialectOf(c *gin.Context) Dialect {
	return s.dialectRoutes[c.Request.Method+" "+c.FullPath()]
}
