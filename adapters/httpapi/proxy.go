package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// proxyNumberJSON is a pool number (API.md §3).
type proxyNumberJSON struct {
	Number         string `json:"number"`
	Provider       string `json:"provider"`
	ActiveSessions int    `json:"active_sessions"`
}

// proxySessionJSON is a proxy session (API.md §3).
type proxySessionJSON struct {
	ID           string  `json:"id"`
	ProxyNumber  string  `json:"proxy_number"`
	ParticipantA string  `json:"participant_a"`
	ParticipantB string  `json:"participant_b"`
	Status       string  `json:"status"`
	CreatedAt    string  `json:"created_at"`
	ExpiresAt    *string `json:"expires_at"`
}

// toProxySessionJSON renders a session the gateway returned as of now (proxy.Session.At),
// so ClosedAt alone says whether it is closed.
func toProxySessionJSON(s proxy.Session) proxySessionJSON {
	out := proxySessionJSON{
		ID: s.ID, ProxyNumber: s.ProxyNumber, ParticipantA: s.ParticipantA, ParticipantB: s.ParticipantB,
		Status: proxy.StatusOpen, CreatedAt: formatTime(s.CreatedAt),
	}
	if s.ClosedAt != nil {
		out.Status = proxy.StatusClosed
	}
	if s.ExpiresAt != nil {
		e := formatTime(*s.ExpiresAt)
		out.ExpiresAt = &e
	}
	return out
}

func (s *server) addProxyNumber(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		fail(c, err)
		return
	}
	_, v, err := objectStrings(body, "number", "provider")
	if err != nil {
		fail(c, err)
		return
	}
	n, err := s.gw.AddProxyNumber(c.Request.Context(), accountID(c), v[0], v[1])
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, proxyNumberJSON{Number: n.Number, Provider: n.Provider})
}

func (s *server) listProxyNumbers(c *gin.Context) {
	pool, err := s.gw.ProxyNumbers(c.Request.Context(), accountID(c))
	if err != nil {
		fail(c, err)
		return
	}
	out := struct {
		Items     []proxyNumberJSON `json:"items"`
		PoolSize  int               `json:"pool_size"`
		InUse     int               `json:"in_use"`
		Available int               `json:"available"`
	}{Items: make([]proxyNumberJSON, len(pool.Numbers)), PoolSize: pool.PoolSize, InUse: pool.InUse, Available: pool.Available}
	for i, u := range pool.Numbers {
		out.Items[i] = proxyNumberJSON{Number: u.Number.Number, Provider: u.Number.Provider, ActiveSessions: u.Sessions()}
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) removeProxyNumber(c *gin.Context) {
	// A number that is not E.164 cannot be in the pool.
	n, ok := message.NormalizeE164(c.Param("number"))
	if !ok {
		fail(c, ports.ErrNotFound)
		return
	}
	if err := s.gw.RemoveProxyNumber(c.Request.Context(), accountID(c), n); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *server) createProxySession(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		fail(c, err)
		return
	}
	cmd, err := decodeProxySession(body)
	if err != nil {
		fail(c, err)
		return
	}
	cmd.AccountID = accountID(c)
	sess, err := s.gw.CreateProxySession(c.Request.Context(), cmd)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toProxySessionJSON(sess))
}

// decodeProxySession decodes a POST /v1/proxy/sessions body, in the field order
// participant_a, participant_b, ttl_seconds (an integer of seconds, at least 1).
func decodeProxySession(body []byte) (gateway.ProxySessionCommand, error) {
	var cmd gateway.ProxySessionCommand
	fields, pair, err := objectStrings(body, "participant_a", "participant_b")
	if err != nil {
		return cmd, err
	}
	cmd.ParticipantA, cmd.ParticipantB = pair[0], pair[1]
	if present(fields, "ttl_seconds") {
		var ttl float64
		const maxTTL = 10 * 365 * 24 * 3600 // ten years: anything longer is a mistake
		if err := json.Unmarshal(fields["ttl_seconds"], &ttl); err != nil || ttl != math.Trunc(ttl) || ttl < 1 || ttl > maxTTL {
			return cmd, message.Invalid("ttl_seconds", "ttl_seconds must be a whole number of seconds from 1 to %d", maxTTL)
		}
		cmd.TTL = time.Duration(ttl) * time.Second
	}
	return cmd, nil
}

func (s *server) listProxySessions(c *gin.Context) {
	var q ports.ProxySessionQuery
	switch c.Query("status") {
	case "", proxy.StatusOpen:
	case proxy.StatusClosed:
		q.Closed = true
	default:
		fail(c, invalidParam("status", "status must be open or closed"))
		return
	}
	var err error
	if q.Limit, q.After, err = parsePage(c); err != nil {
		fail(c, err)
		return
	}
	page, err := s.gw.ListProxySessions(c.Request.Context(), accountID(c), q)
	if err != nil {
		fail(c, err)
		return
	}
	out := struct {
		Items      []proxySessionJSON `json:"items"`
		NextCursor *string            `json:"next_cursor"`
	}{Items: make([]proxySessionJSON, len(page.Items))}
	for i, ps := range page.Items {
		out.Items[i] = toProxySessionJSON(ps)
	}
	out.NextCursor = nextCursor(page.Next)
	c.JSON(http.StatusOK, out)
}

func (s *server) getProxySession(c *gin.Context) {
	ps, err := s.gw.GetProxySession(c.Request.Context(), accountID(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toProxySessionJSON(ps))
}

func (s *server) closeProxySession(c *gin.Context) {
	// A session closed already (or expired) is 204 too: the caller's goal holds.
	if _, _, err := s.gw.CloseProxySession(c.Request.Context(), accountID(c), c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
