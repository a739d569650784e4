package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// headerIdempotencyKey carries a send's idempotency key (API.md §1).
const headerIdempotencyKey = "Idempotency-Key"

// List page sizes (API.md §0).
const (
	defaultLimit = 50
	maxLimit     = 500
)

func (s *server) sendMessage(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		fail(c, err)
		return
	}
	req, err := decodeSend(body)
	if err != nil {
		fail(c, err)
		return
	}
	if req.Deferred != nil {
		// provider comes before tags and send_at: report an unknown one first.
		if req.Cmd.Provider != "" && !s.knownProvider(c.Request.Context(), req.Cmd.Provider) {
			fail(c, message.Invalid("provider", "provider %q is not configured", req.Cmd.Provider))
			return
		}
		fail(c, req.Deferred)
		return
	}
	req.Cmd.AccountID = accountID(c)
	req.Cmd.IdempotencyKey = c.GetHeader(headerIdempotencyKey)
	m, err := s.gw.Send(c.Request.Context(), req.Cmd)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, toMessageJSON(m))
}

func (s *server) knownProvider(ctx context.Context, name string) bool {
	return slices.ContainsFunc(s.gw.Providers(ctx), func(p ports.ProviderInfo) bool { return p.Name == name })
}

func (s *server) getMessage(c *gin.Context) {
	m, err := s.gw.Get(c.Request.Context(), accountID(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toMessageJSON(m))
}

func (s *server) listMessages(c *gin.Context) {
	q, err := parseListQuery(c)
	if err != nil {
		fail(c, err)
		return
	}
	page, err := s.gw.List(c.Request.Context(), accountID(c), q)
	if err != nil {
		fail(c, err)
		return
	}
	out := messageListJSON{Items: make([]messageJSON, len(page.Items))}
	for i, m := range page.Items {
		out.Items[i] = toMessageJSON(m)
	}
	out.NextCursor = nextCursor(page.Next)
	c.JSON(http.StatusOK, out)
}

// parseListQuery reads the list filters; an empty one is not given, a bad one is
// invalid_parameter naming it.
func parseListQuery(c *gin.Context) (ports.MessageQuery, error) {
	q := ports.MessageQuery{Limit: defaultLimit}
	if v := c.Query("direction"); v != "" {
		d := message.Direction(v)
		if d != message.Outbound && d != message.Inbound {
			return q, invalidParam("direction", "direction must be outbound or inbound")
		}
		q.Direction = d
	}
	if v := c.Query("status"); v != "" {
		st := message.Status(v)
		if !st.Valid() {
			return q, invalidParam("status", "status is not a known message status")
		}
		q.Status = st
	}
	// Numbers are matched as stored, i.e. normalised when they normalise.
	for _, f := range []struct {
		name string
		dst  *string
	}{{"from", &q.From}, {"to", &q.To}} {
		v := c.Query(f.name)
		if n, ok := message.NormalizeSender(v); ok {
			v = n
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"created_after", &q.CreatedAfter}, {"created_before", &q.CreatedBefore}} {
		if v := c.Query(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return q, invalidParam(f.name, f.name+" must be an RFC 3339 timestamp")
			}
			*f.dst = t.UTC()
		}
	}
	var err error
	q.Limit, q.After, err = parsePage(c)
	return q, err
}

// parsePage reads the paging parameters every list takes: limit (default 50, 1..500) and
// cursor.
func parsePage(c *gin.Context) (limit int, after *ports.Cursor, err error) {
	limit = defaultLimit
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return 0, nil, invalidParam("limit", "limit must be an integer from 1 to 500")
		}
		limit = n
	}
	if v := c.Query("cursor"); v != "" {
		cur, err := ports.DecodeCursor(v)
		if err != nil {
			return 0, nil, invalidParam("cursor", "cursor is not one this API returned")
		}
		after = &cur
	}
	return limit, after, nil
}

func (s *server) cancelMessage(c *gin.Context) {
	m, err := s.gw.Cancel(c.Request.Context(), accountID(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toMessageJSON(m))
}

func (s *server) deleteMessage(c *gin.Context) {
	if err := s.gw.Delete(c.Request.Context(), accountID(c), c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *server) receiveMessage(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		fail(c, err)
		return
	}
	cmd, err := decodeInbound(body)
	if err != nil {
		fail(c, err)
		return
	}
	if cmd.Provider != "" && !s.knownProvider(c.Request.Context(), cmd.Provider) {
		fail(c, message.Invalid("provider", "provider %q is not configured", cmd.Provider))
		return
	}
	cmd.AccountID = accountID(c)
	m, err := s.gw.Receive(c.Request.Context(), cmd)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toMessageJSON(m))
}

func (s *server) listProviders(c *gin.Context) {
	ps := s.gw.Providers(c.Request.Context())
	out := struct {
		Items []providerJSON `json:"items"`
	}{Items: make([]providerJSON, len(ps))}
	for i, p := range ps {
		out.Items[i] = toProviderJSON(p)
	}
	c.JSON(http.StatusOK, out)
}

func (s *server) providerBalance(c *gin.Context) {
	b, err := s.gw.Balance(c.Request.Context(), c.Param("name"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"amount": b.Amount, "currency": b.Currency})
}
