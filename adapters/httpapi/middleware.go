package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

const headerRequestID = "X-Request-Id"

// maxRequestIDLen bounds an echoed X-Request-Id.
const maxRequestIDLen = 128

// requestID echoes a sane X-Request-Id (1-128 printable ASCII characters) or makes one, and
// sets it on the response before anything else can write.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(headerRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Header(headerRequestID, id)
		c.Next()
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// httpMetrics are the request counters served at /metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	m.requests = registerOrReuse(reg, m.requests)
	m.duration = registerOrReuse(reg, m.duration)
	return m
}

// registerOrReuse registers c, or returns the identical collector already registered (a
// second handler on the same registry, as in tests).
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("httpapi: register metrics: " + err.Error()) // a programming error: clashing names
	}
	return c
}

// observe writes the access log line and the metrics of each request. It logs neither
// headers nor bodies, and only the route template of webhook paths (they may carry a
// provider's secret token).
func observe(log hclog.Logger, m *httpMetrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		path := c.Request.URL.Path
		if strings.HasPrefix(route, "/webhooks/") {
			path = "/webhooks/" + c.Param("provider") + "/…"
		}
		status := c.Writer.Status()
		m.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(c.Request.Method, route).Observe(elapsed.Seconds())
		log.Info("request", "method", c.Request.Method, "path", path, "status", status,
			"duration_ms", float64(elapsed.Microseconds())/1000, "request_id", c.Writer.Header().Get(headerRequestID),
			"client_ip", c.ClientIP())
	}
}

// recovery turns a panic into a JSON 500 `internal`; the panic value and stack go to the
// log only. http.ErrAbortHandler keeps its meaning (abort the response silently).
func recovery(log hclog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			log.Error("panic in handler", "request_id", c.Writer.Header().Get(headerRequestID),
				"method", c.Request.Method, "route", c.FullPath(), "panic", p, "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError, errorBody{Error: errorDetail{Code: codeInternal, Message: "internal error"}})
		}()
		c.Next()
	}
}

// limitBody caps request bodies at max bytes: a declared Content-Length over it is refused
// at once, and a body without one (chunked) fails with *http.MaxBytesError when read past it.
func limitBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			fail(c, errPayloadTooLarge)
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}
