package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smsgw/smsgw/ports"
)

func (s *server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *server) readyz(c *gin.Context) {
	var reasons []string
	if s.ready != nil {
		reasons = s.ready(c.Request.Context())
	}
	if len(reasons) > 0 {
		c.JSON(http.StatusServiceUnavailable, gin.H{"ready": false, "reasons": reasons})
		return
	}
	c.JSON(http.StatusOK, gin.H{"ready": true})
}

func (s *server) versionInfo(c *gin.Context) {
	c.JSON(http.StatusOK, s.version)
}

func openapiSpec(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", specYAML)
}

func metricsHandler(reg *prometheus.Registry) gin.HandlerFunc {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return gin.WrapH(h)
}

// webhook hands the raw request to the provider's plugin (through the gateway, which
// commits what the plugin parsed before we answer) and returns the plugin's answer as is.
// No account auth: the plugin checks the provider's signature.
func (s *server) webhook(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		fail(c, err)
		return
	}
	req := ports.WebhookRequest{
		Method:  c.Request.Method,
		URL:     s.webhookURL(c.Request),
		Path:    c.Param("path"),
		Headers: c.Request.Header.Clone(),
		Body:    body,
	}
	res, err := s.gw.HandleWebhook(c.Request.Context(), c.Param("provider"), req)
	if err != nil {
		fail(c, err)
		return
	}
	for k, vs := range res.Headers {
		switch http.CanonicalHeaderKey(k) {
		case headerRequestID, "Content-Length", "Connection", "Transfer-Encoding":
			continue // ours, or computed by net/http from what we write
		}
		for _, v := range vs {
			c.Writer.Header().Add(k, v)
		}
	}
	status := res.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	c.Status(status)
	if len(res.Body) > 0 {
		_, _ = c.Writer.Write(res.Body)
	}
}

// webhookURL is the URL the provider called, as it saw it: public_url + the request URI
// when configured (behind a proxy the Host and scheme we see are not the provider's), else
// rebuilt from the request.
func (s *server) webhookURL(r *http.Request) string {
	if s.publicURL != "" {
		return strings.TrimRight(s.publicURL, "/") + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}
