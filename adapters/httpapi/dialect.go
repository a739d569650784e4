package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
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
