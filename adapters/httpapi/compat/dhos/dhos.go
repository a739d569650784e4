// Package dhos is the legacy DHOS SMS dialect of API.md §8.3, under the prefix /dhos/v1
// plus GET /running: tenants (X-Trustomer, X-Product) within an account create, list, read
// and delete SMS as message dicts; a Twilio-style status callback, a status refresh and
// per-day status counts complete it. Refusals are {"message": "<text>"}.
package dhos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"github.com/nyaruka/phonenumbers"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/flaskreply"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

// Core is what the dialect needs from the use cases; *gateway.Gateway implements it.
type Core interface {
	// Send applies the rate limit, then the opt-out check, then accepts the message; the
	// refusals are *gateway.RateLimitedError and gateway.ErrOptedOut.
	Send(ctx context.Context, cmd gateway.SendCommand) (message.Message, error)
	// Get returns one of the account's messages, or ports.ErrNotFound.
	Get(ctx context.Context, accountID, id string) (message.Message, error)
	// List lists the account's messages newest first; q.Tags keeps those with every one of
	// the tags with exactly that value.
	List(ctx context.Context, accountID string, q ports.MessageQuery) (ports.MessagePage, error)
	// Delete cancels the message if it still can be, then hides it; ports.ErrNotFound for
	// an unknown id.
	Delete(ctx context.Context, accountID, id string) error
	// StatusCounts counts the account's messages per UTC day ("2006-01-02") of their
	// created_at and status, for start <= created_at <= end.
	StatusCounts(ctx context.Context, accountID string, start, end time.Time) (map[string]map[message.Status]int, error)
	// RefreshStatuses polls the providers for the current status of the account's
	// non-final outbound messages created at or after since, and applies the answers.
	RefreshStatuses(ctx context.Context, accountID string, since time.Time) (gateway.RefreshResult, error)
	// HandleWebhook passes a raw webhook to the provider's plugin (which checks its
	// signature against req.URL), commits what it parsed and returns the plugin's answer;
	// ports.ErrNotFound for an unknown provider.
	HandleWebhook(ctx context.Context, provider string, req ports.WebhookRequest) (ports.WebhookResult, error)
}

var _ Core = (*gateway.Gateway)(nil)

// Options are the compat.dhos block (ARCHITECTURE.md §5).
type Options struct {
	// Provider is the Twilio-style provider whose status webhook /sms/callback is. Required.
	Provider string
	// CallbackURL is the URL the provider was told to call for /sms/callback, as it was
	// told (the signature covers it): absolute http(s), without query or fragment. Required.
	CallbackURL string
	// CountryCode is the ISO 3166 alpha-2 region (e.g. GB; any case) of receivers written
	// without a country code. Required.
	CountryCode string
	// AnonymousAccount, when set, is the account of every request; no credentials needed.
	AnonymousAccount string
	// Now is the clock of deleted, measurement_timestamp and the refresh window; nil is
	// time.Now.
	Now func() time.Time
}

// Prefix is where the dialect's routes live (besides GET /running).
const Prefix = "/dhos/v1"

// Limits the dialect applies where the legacy service was silent.
const (
	defaultListLimit = 100
	maxListLimit     = 500 // v1's maximum page
	// maxTenantLen bounds X-Trustomer and X-Product (in characters): they are stored tags.
	maxTenantLen = 255
)

// The tenancy headers.
const (
	headerTrustomer = "X-Trustomer"
	headerProduct   = "X-Product"
)

// Answer texts. The legacy service answered its errors as Flask does, so the generic ones
// are the HTTP reason phrases.
const (
	textNotFound  = "Not Found"
	textMethod    = "Method Not Allowed"
	textForbidden = "Forbidden"
	// A blocked pair (the dialects share v1's opt-outs, §8); §8.3 names no text.
	textOptedOut = "receiver has opted out of messages from this sender"
)

// Dialect serves the DHOS routes; build it with New.
type Dialect struct {
	core        Core
	kit         httpapi.DialectKit
	provider    string
	callbackURL string
	region      string
	now         func() time.Time
}

var _ httpapi.Dialect = (*Dialect)(nil)

// New returns the dialect, or an error naming the option at fault: an empty Provider, a
// CallbackURL that is not an absolute http(s) URL without query and fragment, or a
// CountryCode phonenumbers does not know. A nil log discards the error details.
func New(core Core, log hclog.Logger, opts Options) (*Dialect, error) {
	if core == nil {
		return nil, errors.New("dhos: no core")
	}
	if opts.Provider == "" {
		return nil, errors.New("dhos: provider is required")
	}
	if err := checkCallbackURL(opts.CallbackURL); err != nil {
		return nil, fmt.Errorf("dhos: callback_url %q: %w", opts.CallbackURL, err)
	}
	region := strings.ToUpper(opts.CountryCode)
	if !phonenumbers.GetSupportedRegions()[region] {
		return nil, fmt.Errorf("dhos: country_code %q is not an ISO 3166 alpha-2 region code phonenumbers knows (e.g. GB)", opts.CountryCode)
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Dialect{
		core: core, provider: opts.Provider, callbackURL: opts.CallbackURL, region: region, now: opts.Now,
		kit: flaskreply.Kit("dhos", log, opts.AnonymousAccount),
	}, nil
}

// checkCallbackURL: the request's query is appended to it, so it may not have its own.
func checkCallbackURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("not an absolute http or https URL")
	case u.Host == "" || u.Opaque != "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("credentials in the URL")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("a query (the provider's request brings its own)")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("a fragment")
	}
	return nil
}

// Mount implements httpapi.Dialect. Everything under the prefix is routed here (every
// method, and a catch-all below it), so that an unknown path is a 404 and a wrong method a
// 405 in this dialect's shape rather than a v1 404; /running likewise.
func (d *Dialect) Mount(r gin.IRouter, auth httpapi.Authenticator) {
	h := d.handler(auth)
	r.Any("/running", h)
	r.Any(Prefix, h)
	r.Any(Prefix+"/*rest", h)
}

// operation is what a request to one of the dialect's routes asks for.
type operation int

const (
	opNone operation = iota
	opRunning
	opCreate
	opList
	opGet
	opDelete
	opCallback
	opBulkUpdate
	opCounts
)

// methodOp is one method of an endpoint and what it does.
type methodOp struct {
	method string
	op     operation
}

// endpointOf is the endpoint the request's path names (its methods; nil for none) and its
// {uuid}. The path is the decoded one (Gin's default), so /sms/a%2Fb has three segments.
// /sms/callback and /sms/bulk_update are not uuids: the gateway's ids are UUIDs.
func endpointOf(c *gin.Context) ([]methodOp, string) {
	if c.FullPath() == "/running" {
		return []methodOp{{http.MethodGet, opRunning}}, ""
	}
	rest := "" // "" for the prefix itself, else "/…"
	if c.FullPath() != Prefix {
		rest = c.Param("rest")
	}
	switch rest {
	case "/sms":
		return []methodOp{{http.MethodGet, opList}, {http.MethodPost, opCreate}}, ""
	case "/sms/callback":
		return []methodOp{{http.MethodPost, opCallback}}, ""
	case "/sms/bulk_update":
		return []methodOp{{http.MethodGet, opBulkUpdate}, {http.MethodPost, opBulkUpdate}}, ""
	case "/sms_status_counts":
		return []methodOp{{http.MethodGet, opCounts}}, ""
	}
	if id, ok := strings.CutPrefix(rest, "/sms/"); ok && id != "" && !strings.Contains(id, "/") {
		return []methodOp{{http.MethodDelete, opDelete}, {http.MethodGet, opGet}}, id
	}
	return nil, ""
}

// operationOf is the request's operation; opNone with the allowed methods for a path the
// dialect has but not with this method, opNone with none for a path it does not have.
func operationOf(c *gin.Context) (op operation, allow []string, id string) {
	ep, id := endpointOf(c)
	for _, mo := range ep {
		if mo.method == c.Request.Method {
			return mo.op, nil, id
		}
		allow = append(allow, mo.method)
	}
	return opNone, allow, ""
}

// WriteError implements httpapi.Dialect. What is no operation stays a 404 or 405 whatever
// the middleware refused it for. A body over httpapi.MaxBodyBytes is 413 (the gateway-wide
// limit of API.md §0): the client's fault, and a 5xx would invite retries. Everything else
// is 500; the shared middleware has logged the cause.
func (d *Dialect) WriteError(c *gin.Context, status int) {
	if op, allow, _ := operationOf(c); op == opNone {
		flaskreply.NoOperation(c, allow)
		return
	}
	flaskreply.MiddlewareError(c, status)
}

// handler routes to the operation, then authenticates. An unknown path or method is refused
// before auth, like v1's unknown paths: there is nothing there to protect. /running and
// /sms/callback need no credentials (the provider's signature authenticates the callback).
func (d *Dialect) handler(auth httpapi.Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer d.kit.Recover(c)
		op, allow, id := operationOf(c)
		switch op {
		case opNone:
			flaskreply.NoOperation(c, allow)
			return
		case opRunning:
			c.JSON(http.StatusOK, runningReply{Running: true})
			return
		case opCallback:
			d.callback(c)
			return
		}
		account, ok := d.kit.Account(c, auth)
		if !ok {
			return
		}
		switch op {
		case opCreate:
			d.create(c, account)
		case opList:
			d.list(c, account)
		case opGet:
			d.get(c, account, id)
		case opDelete:
			d.delete(c, account, id)
		case opBulkUpdate:
			d.bulkUpdate(c, account)
		case opCounts:
			d.counts(c, account)
		}
	}
}

type runningReply struct {
	Running bool `json:"running"`
}

// tenantOf reads the tenancy headers (§8.3: required on create, list and delete); false
// once it has answered the refusal. Each must be given once, 1-255 characters of valid
// UTF-8 without control characters (they become stored tags); they are lower-cased.
func (d *Dialect) tenantOf(c *gin.Context) (tenant, bool) {
	var vals [2]string
	for i, name := range []string{headerTrustomer, headerProduct} {
		vs := c.Request.Header.Values(name)
		switch {
		case len(vs) == 0 || vs[0] == "":
			flaskreply.Refuse(c, http.StatusBadRequest, name+" header is required")
			return tenant{}, false
		case len(vs) > 1:
			flaskreply.Refuse(c, http.StatusBadRequest, name+" header must be given once")
			return tenant{}, false
		case !tenantValue(vs[0]):
			flaskreply.Refuse(c, http.StatusBadRequest, fmt.Sprintf("%s header must be 1 to %d printable characters", name, maxTenantLen))
			return tenant{}, false
		}
		vals[i] = strings.ToLower(vs[0])
	}
	return tenant{trustomer: vals[0], product: vals[1]}, true
}

func tenantValue(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxTenantLen {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// create is POST /sms. Checks in order: auth, tenancy headers, body (decodeCreate), then
// the core's rate limit and opt-out check. The receiver is sent to in E.164; the message
// keeps the given form in its receiver tag, which the dict returns.
func (d *Dialect) create(c *gin.Context, account string) {
	t, ok := d.tenantOf(c)
	if !ok {
		return
	}
	body, ok := d.kit.Body(c)
	if !ok {
		return
	}
	req, err := decodeCreate(body, d.region)
	if err != nil {
		flaskreply.Refuse(c, http.StatusBadRequest, err.Error())
		return
	}
	m, err := d.core.Send(c.Request.Context(), gateway.SendCommand{
		AccountID: account, From: req.Sender, To: req.To, Text: req.Content,
		Tags:     map[string]string{tagTrustomer: t.trustomer, tagProduct: t.product, tagReceiver: req.Receiver},
		Verbatim: true, // sender and receiver were checked above, by this dialect's rules
	})
	if rl, ok := gateway.AsRateLimited(err); ok {
		c.Header("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(rl.RetryAfter)))
		flaskreply.Refuse(c, http.StatusTooManyRequests, "rate limit reached for sender "+req.Sender)
		return
	}
	switch {
	case errors.Is(err, gateway.ErrOptedOut):
		flaskreply.Refuse(c, http.StatusForbidden, textOptedOut)
	case err != nil:
		// Includes a *message.FieldError: the values passed this dialect's rules, so the
		// core refusing one is a bug to see in the log, not the client's fault. A store
		// that cannot answer is a 500 too: the legacy service knew no 503.
		d.kit.Fail(c, "send", err)
	default:
		c.JSON(http.StatusOK, toDict(m))
	}
}

// list is GET /sms?receiver=&limit=: the tenant's outbound messages, newest first, the
// first limit of them (default 100, 1-500). receiver is normalised as on create and matched
// against the E.164 number sent to; empty means any.
func (d *Dialect) list(c *gin.Context, account string) {
	t, ok := d.tenantOf(c)
	if !ok {
		return
	}
	q := ports.MessageQuery{
		Direction: message.Outbound,
		Tags:      map[string]string{tagTrustomer: t.trustomer, tagProduct: t.product},
		Limit:     defaultListLimit,
	}
	if v := c.Query("receiver"); v != "" {
		to, err := normalizeReceiver(v, d.region, "receiver")
		if err != nil {
			flaskreply.Refuse(c, http.StatusBadRequest, err.Error())
			return
		}
		q.To = to
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			flaskreply.Refuse(c, http.StatusBadRequest, fmt.Sprintf("limit must be an integer from 1 to %d", maxListLimit))
			return
		}
		q.Limit = n
	}
	page, err := d.core.List(c.Request.Context(), account, q)
	if err != nil {
		d.kit.Fail(c, "list", err)
		return
	}
	out := make([]smsDict, 0, len(page.Items))
	for _, m := range page.Items {
		// The store filtered on the tags already; tenancy is a boundary, so it is checked
		// again here rather than trusted to every store.
		if isTenantMessage(m) && t.owns(m) {
			out = append(out, toDict(m))
		}
	}
	c.JSON(http.StatusOK, out)
}

// get is GET /sms/{uuid}: any DHOS message of the account, whatever the tenant (§8.3 asks
// for the tenancy headers on create, list and delete only; they are ignored here).
func (d *Dialect) get(c *gin.Context, account, id string) {
	m, ok := d.lookup(c, account, id)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, toDict(m))
}

// delete is DELETE /sms/{uuid}: the tenant's message is canceled if it still can be, then
// hidden (404 afterwards). The answer is the message as it was read just before, with
// deleted; another tenant's message is 403 Forbidden and stays.
func (d *Dialect) delete(c *gin.Context, account, id string) {
	t, ok := d.tenantOf(c)
	if !ok {
		return
	}
	m, ok := d.lookup(c, account, id)
	if !ok {
		return
	}
	if !t.owns(m) {
		flaskreply.Refuse(c, http.StatusForbidden, textForbidden)
		return
	}
	err := d.core.Delete(c.Request.Context(), account, id)
	switch {
	case errors.Is(err, ports.ErrNotFound): // deleted meanwhile
		flaskreply.Refuse(c, http.StatusNotFound, textNotFound)
	case err != nil:
		d.kit.Fail(c, "delete", err)
	default:
		out := toDict(m)
		out.Deleted = formatTime(d.now())
		c.JSON(http.StatusOK, out)
	}
}

// lookup reads one DHOS message of the account; false once it has answered 404 or the
// failure. An id that cannot be one of the gateway's (too long, or not printable ASCII: a
// store may refuse such a value rather than find nothing) is 404 without asking the store.
func (d *Dialect) lookup(c *gin.Context, account, id string) (message.Message, bool) {
	if !httpapi.PlausibleID(id) {
		flaskreply.Refuse(c, http.StatusNotFound, textNotFound)
		return message.Message{}, false
	}
	m, err := d.core.Get(c.Request.Context(), account, id)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		flaskreply.Refuse(c, http.StatusNotFound, textNotFound)
		return message.Message{}, false
	case err != nil:
		d.kit.Fail(c, "get", err)
		return message.Message{}, false
	case !isTenantMessage(m):
		flaskreply.Refuse(c, http.StatusNotFound, textNotFound)
		return message.Message{}, false
	}
	return m, true
}

// callback is POST /sms/callback, the configured provider's status webhook. The plugin
// checks the signature against the configured callback URL (plus the request's query),
// since behind a proxy the URL the gateway sees is not the one the provider called. Its
// answer maps to this dialect's: 2xx is 204 with no body, 403 (a bad signature) is 403
// Forbidden, another 4xx or 5xx keeps its status with the reason phrase as message;
// anything else the plugin answers (1xx, 3xx) is a failure.
func (d *Dialect) callback(c *gin.Context) {
	body, ok := d.kit.Body(c)
	if !ok {
		return
	}
	u := d.callbackURL
	if q := c.Request.URL.RawQuery; q != "" {
		u += "?" + q
	}
	res, err := d.core.HandleWebhook(c.Request.Context(), d.provider, ports.WebhookRequest{
		Method: c.Request.Method, URL: u, Path: "/status", Headers: c.Request.Header.Clone(), Body: body,
	})
	if err != nil {
		// An unknown provider too: compat.dhos.provider names no provider, a config error.
		d.kit.Fail(c, "callback", err)
		return
	}
	status := res.StatusCode
	if status == 0 { // as the v1 webhook route reads it
		status = http.StatusOK
	}
	switch {
	case status >= 200 && status < 300:
		c.Status(http.StatusNoContent)
	case status == http.StatusForbidden:
		flaskreply.Refuse(c, status, textForbidden)
	case status >= 400 && status < 600:
		text := http.StatusText(status)
		if text == "" {
			text = "callback refused"
		}
		flaskreply.Refuse(c, status, text)
	default:
		d.kit.Fail(c, "callback", fmt.Errorf("provider %s answered the callback with status %d", d.provider, status))
	}
}

// bulkUpdate is GET or POST /sms/bulk_update: refresh the statuses of the account's
// messages of the last 7 days, then 204.
func (d *Dialect) bulkUpdate(c *gin.Context, account string) {
	res, err := d.core.RefreshStatuses(c.Request.Context(), account, d.now().UTC().Add(-gateway.RefreshWindow))
	if err != nil {
		d.kit.Fail(c, "refresh statuses", err)
		return
	}
	d.kit.Log.Debug("dhos status refresh", "account", account, "checked", res.Checked, "updated", res.Updated)
	c.Status(http.StatusNoContent)
}

// countsReply is the body of GET /sms_status_counts.
type countsReply struct {
	DataType             string                    `json:"data_type"`
	Description          string                    `json:"description"`
	MeasurementTimestamp string                    `json:"measurement_timestamp"`
	Data                 map[string]map[string]int `json:"data"`
}

// counts is GET /sms_status_counts?start_date=&end_date= (both required, parseInstant's
// forms, start not after end): the account's messages (every tenant, inbound too, as v1's
// status-counts) per UTC day of creation and status.
func (d *Dialect) counts(c *gin.Context, account string) {
	var bounds [2]time.Time
	for i, name := range []string{"start_date", "end_date"} {
		v := c.Query(name)
		if v == "" {
			flaskreply.Refuse(c, http.StatusBadRequest, name+" is required")
			return
		}
		t, ok := parseInstant(v, i == 1)
		if !ok {
			flaskreply.Refuse(c, http.StatusBadRequest, name+" must be an ISO 8601 date (2026-11-20) or date-time (2026-11-20T10:00:00Z)")
			return
		}
		bounds[i] = t
	}
	if bounds[0].After(bounds[1]) {
		flaskreply.Refuse(c, http.StatusBadRequest, "start_date must not be after end_date")
		return
	}
	measured := d.now()
	counts, err := d.core.StatusCounts(c.Request.Context(), account, bounds[0], bounds[1])
	if err != nil {
		d.kit.Fail(c, "status counts", err)
		return
	}
	data := make(map[string]map[string]int, len(counts))
	for day, byStatus := range counts {
		out := make(map[string]int, len(byStatus))
		for st, n := range byStatus {
			out[string(st)] = n
		}
		data[day] = out
	}
	c.JSON(http.StatusOK, countsReply{
		DataType: "sms_status_counts", Description: "This is a count of the sms statuses",
		MeasurementTimestamp: formatTime(measured), Data: data,
	})
}
