package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// optOutJSON is an opt-out record (API.md §2).
type optOutJSON struct {
	Sender    string  `json:"sender"`
	Recipient string  `json:"recipient"`
	Source    string  `json:"source"`
	CreatedAt string  `json:"created_at"`
	ExpiresAt *string `json:"expires_at"`
}

func toOptOutJSON(o ports.OptOut) optOutJSON {
	out := optOutJSON{Sender: o.Sender, Recipient: o.Recipient, Source: string(o.Source), CreatedAt: formatTime(o.CreatedAt)}
	if o.ExpiresAt != nil {
		e := formatTime(*o.ExpiresAt)
		out.ExpiresAt = &e
	}
	return out
}

func (s *server) listOptOuts(c *gin.Context) {
	q := ports.OptOutQuery{Sender: c.Query("sender"), Recipient: c.Query("recipient")}
	var err error
	if q.Limit, q.After, err = parsePage(c); err != nil {
		fail(c, err)
		return
	}
	page, err := s.gw.ListOptOuts(c.Request.Context(), q)
	if err != nil {
		fail(c, err)
		return
	}
	out := struct {
		Items      []optOutJSON `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}{Items: make([]optOutJSON, len(page.Items))}
	for i, o := range page.Items {
		out.Items[i] = toOptOutJSON(o)
	}
	out.NextCursor = nextCursor(page.Next)
	c.JSON(http.StatusOK, out)
}

func (s *server) createOptOut(c *gin.Context) {
	body, err := readBody(c.Request)
	if err != nil {
		fail(c, err)
		return
	}
	_, pair, err := objectStrings(body, "sender", "recipient")
	if err != nil {
		fail(c, err)
		return
	}
	o, created, err := s.gw.BlockPair(c.Request.Context(), pair[0], pair[1])
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, toOptOutJSON(o))
}

func (s *server) deleteOptOut(c *gin.Context) {
	sender, recipient := c.Query("sender"), c.Query("recipient")
	for _, p := range []struct{ name, v string }{{"sender", sender}, {"recipient", recipient}} {
		if p.v == "" {
			fail(c, message.Missing(p.name))
			return
		}
	}
	if err := s.gw.LiftPair(c.Request.Context(), sender, recipient); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
