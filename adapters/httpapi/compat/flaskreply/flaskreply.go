// Package flaskreply answers the way the Flask services that the dhos and flowroute_proxy
// dialects replace did: every refusal is {"message": "<text>"}, and the generic ones carry
// Flask's reason phrases (which are Go's http.StatusText). The dialects keep their own
// texts for everything else.
package flaskreply

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/adapters/httpapi"
)

// Body is the body of every refusal (and of the legacy services' plain answers).
type Body struct {
	Message string `json:"message"`
}

// Refuse answers status with text and aborts.
func Refuse(c *gin.Context, status int, text string) {
	c.AbortWithStatusJSON(status, Body{Message: text})
}

// NoOperation answers a request that names no operation: 405 with Allow when the path has
// some (allow), else 404. The dialects answer it before auth, as v1 answers unknown paths:
// there is nothing there to protect.
func NoOperation(c *gin.Context, allow []string) {
	if len(allow) == 0 {
		Refuse(c, http.StatusNotFound, http.StatusText(http.StatusNotFound))
		return
	}
	c.Header("Allow", strings.Join(allow, ", "))
	Refuse(c, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
}

// MiddlewareError answers a request to an operation that the shared middleware refused
// (httpapi.Dialect.WriteError): a body over the gateway-wide limit is 413, the client's
// fault (a 5xx would invite retries); anything else is 500, whose cause the middleware has
// logged.
func MiddlewareError(c *gin.Context, status int) {
	if status == http.StatusRequestEntityTooLarge {
		Refuse(c, status, http.StatusText(status))
		return
	}
	Refuse(c, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError))
}

// Kit is the dialect kit of a Flask-style dialect: its 401, 413 and 500 carry Flask's reason
// phrases.
func Kit(name string, log hclog.Logger, anonymous string) httpapi.DialectKit {
	refuse := func(status int) func(*gin.Context) {
		return func(c *gin.Context) { Refuse(c, status, http.StatusText(status)) }
	}
	return httpapi.DialectKit{
		Name: name, Log: log, Anonymous: anonymous,
		Unauthorized: refuse(http.StatusUnauthorized),
		TooLarge:     refuse(http.StatusRequestEntityTooLarge),
		Failure:      refuse(http.StatusInternalServerError),
	}
}
