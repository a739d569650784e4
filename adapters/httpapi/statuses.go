package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsgw/smsgw/core/message"
)

// statusCountsJSON is the answer of GET /v1/messages/status-counts.
type statusCountsJSON struct {
	Start string                            `json:"start"`
	End   string                            `json:"end"`
	Days  map[string]map[message.Status]int `json:"days"`
}

func (s *server) statusCounts(c *gin.Context) {
	start, err := timeQuery(c, "start", true)
	if err != nil {
		fail(c, err)
		return
	}
	end, err := timeQuery(c, "end", true)
	if err != nil {
		fail(c, err)
		return
	}
	days, err := s.gw.StatusCounts(c.Request.Context(), accountID(c), start, end)
	if err != nil {
		fail(c, err)
		return
	}
	if days == nil {
		days = map[string]map[message.Status]int{}
	}
	c.JSON(http.StatusOK, statusCountsJSON{Start: formatTime(start), End: formatTime(end), Days: days})
}

func (s *server) refreshStatuses(c *gin.Context) {
	since, err := timeQuery(c, "since", false) // zero: the gateway's 7 days
	if err != nil {
		fail(c, err)
		return
	}
	r, err := s.gw.RefreshStatuses(c.Request.Context(), accountID(c), since)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"checked": r.Checked, "updated": r.Updated})
}

// timeQuery reads an RFC 3339 query parameter; zero when it is absent and not required.
func timeQuery(c *gin.Context, name string, required bool) (time.Time, error) {
	v, ok := c.GetQuery(name)
	switch {
	case !ok && required:
		return time.Time{}, message.Missing(name)
	case !ok:
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, invalidParam(name, name+" must be an RFC 3339 timestamp")
	}
	return t.UTC(), nil
}
