package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

// Error codes of the HTTP layer itself (the validation codes live in core/message).
const (
	codeInvalidJSON     = "invalid_json"
	codeUnauthorized    = "unauthorized"
	codeRejected        = "rejected"
	codeNotFound        = "not_found"
	codeConflict        = "conflict"
	codeOptedOut        = "recipient_opted_out"
	codeRateLimited     = "rate_limited"
	codeKeyInUse        = "idempotency_key_in_use"
	codeKeyReused       = "idempotency_key_reused"
	codeNoProxyNumber   = "no_proxy_number_available"
	codePayloadTooLarge = "payload_too_large"
	codeNotImplemented  = "not_implemented"
	codeUnavailable     = "unavailable"
	codeInternal        = "internal"
)

// retryAfterUnavailable is the Retry-After (seconds) of a 503 unavailable.
const retryAfterUnavailable = 5

// apiError is an error the HTTP layer raises itself, already in its final shape.
type apiError struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

var (
	errInvalidJSON     = &apiError{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "the request body must be a JSON object"}
	errUnauthorized    = &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: "valid Basic credentials are required"}
	errRouteNotFound   = &apiError{Status: http.StatusNotFound, Code: codeNotFound, Message: "no such resource"}
	errPayloadTooLarge = &apiError{Status: http.StatusRequestEntityTooLarge, Code: codePayloadTooLarge, Message: "the request body exceeds 64 KiB"}
)

// invalidParam is a 400 invalid_parameter naming a query parameter or header.
func invalidParam(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: message.CodeInvalid, Message: msg, Field: field}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// errorResponse is THE error table: every error a handler or middleware reports becomes
// an HTTP status and a body here. retryAfter is in seconds (0: no header).
// The specific refusals come before the generic port errors they wrap.
func errorResponse(err error) (status int, body errorDetail, retryAfter int) {
	var (
		api     *apiError
		field   *message.FieldError
		big     *http.MaxBytesError
		limited *gateway.RateLimitedError
	)
	switch {
	case errors.As(err, &api):
		return api.Status, errorDetail{Code: api.Code, Message: api.Message, Field: api.Field}, 0
	case errors.As(err, &field):
		code := field.Code
		if code != message.CodeMissing {
			code = message.CodeInvalid
		}
		return http.StatusBadRequest, errorDetail{Code: code, Message: field.Message, Field: field.Field}, 0
	case errors.As(err, &big):
		return http.StatusRequestEntityTooLarge, errorDetail{Code: codePayloadTooLarge, Message: errPayloadTooLarge.Message}, 0
	case errors.As(err, &limited):
		return http.StatusTooManyRequests, errorDetail{Code: codeRateLimited, Message: "the sender has used its rate limit; retry after the Retry-After seconds"},
			ratelimit.RetryAfterSeconds(limited.RetryAfter)
	case errors.Is(err, gateway.ErrOptedOut):
		return http.StatusForbidden, errorDetail{Code: codeOptedOut, Message: "the recipient has opted out of messages from this sender", Field: "to"}, 0
	case errors.Is(err, gateway.ErrIdempotencyKeyInUse):
		return http.StatusConflict, errorDetail{Code: codeKeyInUse, Message: "a request with this Idempotency-Key is still in flight; retry later", Field: headerIdempotencyKey}, 0
	case errors.Is(err, gateway.ErrIdempotencyKeyReused):
		return http.StatusUnprocessableEntity, errorDetail{Code: codeKeyReused, Message: "this Idempotency-Key was used with a different request", Field: headerIdempotencyKey}, 0
	case errors.Is(err, ports.ErrNotFound):
		return http.StatusNotFound, errorDetail{Code: codeNotFound, Message: "not found"}, 0
	case errors.Is(err, gateway.ErrNoProxyNumber):
		return http.StatusConflict, errorDetail{Code: codeNoProxyNumber, Message: "no proxy number is available for this pair"}, 0
	case errors.Is(err, ports.ErrConflict):
		return http.StatusConflict, errorDetail{Code: codeConflict, Message: "the request conflicts with the current state of the resource"}, 0
	case errors.Is(err, ports.ErrInvalid):
		return http.StatusBadRequest, errorDetail{Code: message.CodeInvalid, Message: "a parameter is invalid"}, 0
	case errors.Is(err, ports.ErrRejected):
		return http.StatusForbidden, errorDetail{Code: codeRejected, Message: "the request was refused by policy"}, 0
	case errors.Is(err, ports.ErrNotImplemented):
		return http.StatusNotImplemented, errorDetail{Code: codeNotImplemented, Message: "not supported"}, 0
	case errors.Is(err, ports.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, errorDetail{Code: codeUnavailable, Message: "temporarily unavailable, retry later"}, retryAfterUnavailable
	}
	return http.StatusInternalServerError, errorDetail{Code: codeInternal, Message: "internal error"}, 0
}

// fail reports err for the errors middleware to answer, and stops the chain.
func fail(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// answerErrors writes the answer for the last error a handler reported, unless the handler has
// already written one. 5xx details go to the log with the request id, never to the client.
func (s *server) answerErrors() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		if d := s.dialectOf(c); d != nil {
			status, _, _ := errorResponse(err)
			if status >= 500 {
				s.log.Error("request failed", "request_id", c.Writer.Header().Get(headerRequestID),
					"method", c.Request.Method, "route", c.FullPath(), "status", status, "error", err)
			}
			d.WriteError(c, status)
			c.Abort()
			return
		}
		writeError(c, s.log, err)
	}
}

func writeError(c *gin.Context, log hclog.Logger, err error) {
	status, detail, retryAfter := errorResponse(err)
	if status >= 500 && status != http.StatusNotImplemented { // 501 is an answer, not a failure
		log.Error("request failed", "request_id", c.Writer.Header().Get(headerRequestID),
			"method", c.Request.Method, "route", c.FullPath(), "status", status, "error", err)
	}
	if retryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(retryAfter))
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Basic realm="smsgw"`)
	}
	c.AbortWithStatusJSON(status, errorBody{Error: detail})
}
