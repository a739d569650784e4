package flowroute

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/flaskreply"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// tnReply answers POST and DELETE /tn.
type tnReply struct {
	Message string `json:"message"`
	Value   string `json:"value"`
}

// virtualTN is one number of GET /tn.
type virtualTN struct {
	Value     string  `json:"value"`
	SessionID *string `json:"session_id"`
}

// poolReply answers GET /tn.
type poolReply struct {
	VirtualTNs []virtualTN `json:"virtual_tns"`
	PoolSize   int         `json:"pool_size"`
	Available  int         `json:"available"`
	InUse      int         `json:"in_use"`
}

// createdReply answers POST /session.
type createdReply struct {
	Message      string  `json:"message"`
	SessionID    string  `json:"session_id"`
	VirtualTN    string  `json:"virtual_tn"`
	ParticipantA string  `json:"participant_a"`
	ParticipantB string  `json:"participant_b"`
	ExpiryDate   *string `json:"expiry_date"`
}

// sessionJSON is one session of GET /session.
type sessionJSON struct {
	ID           string  `json:"id"`
	VirtualTN    string  `json:"virtual_tn"`
	ParticipantA string  `json:"participant_a"`
	ParticipantB string  `json:"participant_b"`
	DateCreated  string  `json:"date_created"`
	ExpiryDate   *string `json:"expiry_date"`
}

// sessionsReply answers GET /session.
type sessionsReply struct {
	TotalSessions int           `json:"total_sessions"`
	Sessions      []sessionJSON `json:"sessions"`
}

// endedReply answers DELETE /session.
type endedReply struct {
	Message   string `json:"message"`
	SessionID string `json:"session_id"`
}

func toSessionJSON(s proxy.Session) sessionJSON {
	return sessionJSON{
		ID: s.ID, VirtualTN: fromE164(s.ProxyNumber),
		ParticipantA: fromE164(s.ParticipantA), ParticipantB: fromE164(s.ParticipantB),
		DateCreated: s.CreatedAt.UTC().Format(dateLayout), ExpiryDate: expiryDate(s),
	}
}

// expiryDate is the session's expiry in the legacy layout, or nil for none.
func expiryDate(s proxy.Session) *string {
	if s.ExpiresAt == nil {
		return nil
	}
	v := s.ExpiresAt.UTC().Format(dateLayout)
	return &v
}

// decodeBody reads and decodes the request's body; false once it has answered the refusal.
func decodeBody[T any](d *Dialect, c *gin.Context, decode func([]byte) (T, error)) (T, bool) {
	var zero T
	raw, ok := d.kit.Body(c)
	if !ok {
		return zero, false
	}
	v, err := decode(raw)
	var bad *badRequest
	switch {
	case errors.As(err, &bad):
		flaskreply.Refuse(c, http.StatusBadRequest, bad.text)
		return zero, false
	case err != nil:
		d.kit.Fail(c, "decode body", err)
		return zero, false
	}
	return v, true
}

// fieldError is the *message.FieldError in err's chain, if any.
func fieldError(err error) (*message.FieldError, bool) {
	var fe *message.FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

// addTN is POST /tn {"value"}: the number joins the account's pool, reached through the
// configured provider. A number already in a pool (this account's or another's: a number
// is in one pool at most) is the legacy duplicate, 400.
func (d *Dialect) addTN(c *gin.Context, account string) {
	number, ok := decodeBody(d, c, decodeTN)
	if !ok {
		return
	}
	n, err := d.core.AddProxyNumber(c.Request.Context(), account, number, d.provider)
	if fe, ok := fieldError(err); ok && fe.Field == "number" {
		// Stricter than this dialect's form check (the core's own rules): the client's value.
		d.kit.Log.Debug("flowroute_proxy number refused by the core", "number", number, "error", fe)
		flaskreply.Refuse(c, http.StatusBadRequest, textNumberArg(keyValue))
		return
	}
	switch {
	case errors.Is(err, ports.ErrConflict):
		flaskreply.Refuse(c, http.StatusBadRequest, textDuplicate)
	case err != nil:
		// A provider field error too: compat.flowroute_proxy.provider is a config error.
		d.kit.Fail(c, "add proxy number", err)
	default:
		c.JSON(http.StatusOK, tnReply{Message: textAdded, Value: fromE164(n.Number)})
	}
}

// removeTN is DELETE /tn {"value"}: the number leaves the pool, unless an open session
// uses it (400, as the legacy service answered).
func (d *Dialect) removeTN(c *gin.Context, account string) {
	number, ok := decodeBody(d, c, decodeTN)
	if !ok {
		return
	}
	err := d.core.RemoveProxyNumber(c.Request.Context(), account, number)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		flaskreply.Refuse(c, http.StatusNotFound, textTNUnknown)
	case errors.Is(err, ports.ErrConflict):
		flaskreply.Refuse(c, http.StatusBadRequest, textTNInUse)
	case err != nil:
		d.kit.Fail(c, "remove proxy number", err)
	default:
		c.JSON(http.StatusOK, tnReply{Message: textRemoved, Value: fromE164(number)})
	}
}

// listTNs is GET /tn: the pool in number order with the core's counts. A number's
// session_id is the id of an open session on it, null when none. With shared allocation a
// number may carry several open sessions (with different participants); the legacy
// service had one session per number, so the newest one is shown (the one most recently
// handed out). The counts and the sessions are two reads: a session closed between them
// leaves its number counted in use with a null session_id.
func (d *Dialect) listTNs(c *gin.Context, account string) {
	ctx := c.Request.Context()
	pool, err := d.core.ProxyNumbers(ctx, account)
	if err != nil {
		d.kit.Fail(c, "list proxy numbers", err)
		return
	}
	newest := map[string]proxy.Session{} // by proxy number
	if inUse(pool) {
		sessions, err := d.openSessions(c, account)
		if err != nil {
			d.kit.Fail(c, "list proxy sessions", err)
			return
		}
		for _, s := range sessions {
			if cur, ok := newest[s.ProxyNumber]; !ok || newer(s, cur) {
				newest[s.ProxyNumber] = s
			}
		}
	}
	out := poolReply{VirtualTNs: make([]virtualTN, 0, len(pool.Numbers)), PoolSize: pool.PoolSize, Available: pool.Available, InUse: pool.InUse}
	for _, u := range pool.Numbers {
		tn := virtualTN{Value: fromE164(u.Number.Number)}
		if s, ok := newest[u.Number.Number]; ok {
			tn.SessionID = &s.ID
		}
		out.VirtualTNs = append(out.VirtualTNs, tn)
	}
	c.JSON(http.StatusOK, out)
}

// inUse reports whether any number of the pool has an open session, so that GET /tn reads
// the sessions only when it has ids to show.
func inUse(pool gateway.ProxyPool) bool {
	for _, u := range pool.Numbers {
		if u.Sessions() > 0 {
			return true
		}
	}
	return pool.InUse > 0
}

// newer orders sessions as the lists do: by (created_at, id).
func newer(a, b proxy.Session) bool {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c > 0
	}
	return cmp.Less(b.ID, a.ID)
}

// openSessions reads every page of the account's open sessions, newest first, keeping
// those open at the dialect's clock (a session that expired after the store's read is not
// shown). A store whose cursor does not move on is an error, not an endless loop.
func (d *Dialect) openSessions(c *gin.Context, account string) ([]proxy.Session, error) {
	var (
		out   []proxy.Session
		after *ports.Cursor
	)
	now := d.now()
	for {
		page, err := d.core.ListProxySessions(c.Request.Context(), account, ports.ProxySessionQuery{Limit: pageLimit, After: after})
		if err != nil {
			return nil, err
		}
		for _, s := range page.Items {
			if s.Open(now) {
				out = append(out, s)
			}
		}
		if page.Next == nil {
			return out, nil
		}
		if len(page.Items) == 0 || (after != nil && *page.Next == *after) {
			return nil, fmt.Errorf("list proxy sessions of %s: the page after %+v does not move on", account, after)
		}
		next := *page.Next
		after = &next
	}
}

// createSession is POST /session: a session between the participants on a pool number the
// allocation mode (proxy.allocation) gives, for expiry_window minutes or without expiry;
// the core sends the start message to both. None free is the legacy 400.
func (d *Dialect) createSession(c *gin.Context, account string) {
	req, ok := decodeBody(d, c, decodeSession)
	if !ok {
		return
	}
	s, err := d.core.CreateProxySession(c.Request.Context(), gateway.ProxySessionCommand{
		AccountID: account, ParticipantA: req.ParticipantA, ParticipantB: req.ParticipantB, TTL: req.TTL,
	})
	if fe, ok := fieldError(err); ok {
		// The core's own rules, stricter than this dialect's form checks: the field's text.
		if text, ok := sessionFieldText[fe.Field]; ok {
			d.kit.Log.Debug("flowroute_proxy session refused by the core", "field", fe.Field, "error", fe)
			flaskreply.Refuse(c, http.StatusBadRequest, text)
			return
		}
	}
	switch {
	case errors.Is(err, gateway.ErrNoProxyNumber):
		flaskreply.Refuse(c, http.StatusBadRequest, textNoTN)
	case err != nil:
		d.kit.Fail(c, "create proxy session", err)
	default:
		c.JSON(http.StatusOK, createdReply{
			Message: textCreated, SessionID: s.ID, VirtualTN: fromE164(s.ProxyNumber),
			ParticipantA: fromE164(s.ParticipantA), ParticipantB: fromE164(s.ParticipantB),
			ExpiryDate: expiryDate(s),
		})
	}
}

// sessionFieldText maps the core's field names of a session to this dialect's refusals.
var sessionFieldText = map[string]string{
	"participant_a": textNumberArg(keyParticipantA),
	"participant_b": textNumberArg(keyParticipantB),
	"ttl_seconds":   textExpiryArg,
}

// listSessions is GET /session: the account's open sessions, all of them (no pagination in
// the legacy service), newest first as the gateway lists them.
func (d *Dialect) listSessions(c *gin.Context, account string) {
	sessions, err := d.openSessions(c, account)
	if err != nil {
		d.kit.Fail(c, "list proxy sessions", err)
		return
	}
	out := sessionsReply{TotalSessions: len(sessions), Sessions: make([]sessionJSON, 0, len(sessions))}
	for _, s := range sessions {
		out.Sessions = append(out.Sessions, toSessionJSON(s))
	}
	c.JSON(http.StatusOK, out)
}

// endSession is DELETE /session {"session_id"}: closes the session, and the core sends the
// end message to both participants. A session that is closed already (or expired) is not
// found, as in the legacy service, which deleted ended sessions; an id that cannot be one
// of the gateway's is not found without asking the store.
func (d *Dialect) endSession(c *gin.Context, account string) {
	id, ok := decodeBody(d, c, decodeSessionID)
	if !ok {
		return
	}
	if !httpapi.PlausibleID(id) {
		flaskreply.Refuse(c, http.StatusNotFound, textSessionUnknown)
		return
	}
	ctx := c.Request.Context()
	s, err := d.core.GetProxySession(ctx, account, id)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		flaskreply.Refuse(c, http.StatusNotFound, textSessionUnknown)
		return
	case err != nil:
		d.kit.Fail(c, "get proxy session", err)
		return
	case !s.Open(d.now()):
		flaskreply.Refuse(c, http.StatusNotFound, textSessionUnknown)
		return
	}
	_, closed, err := d.core.CloseProxySession(ctx, account, id)
	switch {
	case errors.Is(err, ports.ErrNotFound), err == nil && !closed: // gone, or ended by a racing request
		flaskreply.Refuse(c, http.StatusNotFound, textSessionUnknown)
	case err != nil:
		d.kit.Fail(c, "close proxy session", err)
	default:
		c.JSON(http.StatusOK, endedReply{Message: textEnded, SessionID: id})
	}
}

// inbound is POST /, the provider's inbound callback {"to", "from", "body"}: the message is
// received as a webhook's would be (stored, keywords applied, relayed through the session
// of its number or answered with the no-session message, API.md §3) for the account, from
// the configured provider. The answer says it was received, not what the relay did: the
// relay is the core's, and the provider needs to know only that it need not retry.
func (d *Dialect) inbound(c *gin.Context, account string) {
	req, ok := decodeBody(d, c, decodeInbound)
	if !ok {
		return
	}
	_, err := d.core.Receive(c.Request.Context(), gateway.ReceiveCommand{
		AccountID: account, Provider: d.provider, From: req.From, To: req.To, Text: req.Body,
	})
	if err != nil {
		d.kit.Fail(c, "receive", err)
		return
	}
	c.JSON(http.StatusOK, flaskreply.Body{Message: textReceived})
}
