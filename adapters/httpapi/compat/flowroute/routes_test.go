package flowroute

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/dhos"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/fastsmsing"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/smsapp"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/ports"
)

// The generic refusals (flaskreply.Kit): Flask's reason phrases, as the legacy service sent.
const (
	textUnauth   = "Unauthorized"
	textTooLarge = "Request Entity Too Large"
	textFailure  = "Internal Server Error"
)

// ops are the dialect's operations, each with a request that would otherwise succeed.
var ops = []req{
	{method: http.MethodPost, path: "/tn", body: `{"value": "12062992129"}`},
	{method: http.MethodGet, path: "/tn"},
	{method: http.MethodDelete, path: "/tn", body: `{"value": "12065550001"}`},
	{method: http.MethodPost, path: "/session", body: `{"participant_a": "12065551212", "participant_b": "12065551213", "expiry_window": 5}`},
	{method: http.MethodGet, path: "/session"},
	{method: http.MethodDelete, path: "/session", body: `{"session_id": "s-open"}`},
	{method: http.MethodPost, path: "/", body: `{"to": "12065550001", "from": "12065551111", "body": "hi"}`},
	{method: http.MethodPost, path: "/", body: `[`}, // 401 before the body is read
}

// prepare gives env what ops need to succeed: a free pool number, one in use by s-open.
func (e *env) prepare(account string) {
	e.core.putNumber(account, "+12065550001")
	e.core.putNumber(account, "+12065550002")
	s := openSession("s-open", "+12065550002", "+12065557777", "+12065558888", start.Add(-time.Hour), 0)
	s.AccountID = account
	e.core.putSession(s)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, c := range compattest.BadCredentials() {
			if c.Name == "unknown user" && prefix != "/" {
				// The authenticator spends a full-cost bcrypt on it (so that unknown users
				// take as long as wrong passwords); once per operation is enough.
				continue
			}
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, prefix, nil) // one env: a refused request changes nothing
				e.prepare(compattest.User)
				for _, op := range ops {
					r := op
					r.auth = c.Req
					e.do(r).is(http.StatusUnauthorized, textUnauth).header("WWW-Authenticate", `Basic realm="smsgw"`)
				}
				e.noCoreCalls()
			})
		}
		t.Run("account store unavailable", func(t *testing.T) {
			t.Parallel()
			for _, op := range ops {
				e := newEnv(t, prefix, nil)
				e.accounts.SetErr(fmt.Errorf("ping 10.0.0.7: %w", ports.ErrUnavailable))
				e.do(op).is(http.StatusInternalServerError, textFailure).header("WWW-Authenticate", "").notLeaking("10.0.0.7")
				e.logged("10.0.0.7")
				e.noCoreCalls()
			}
		})
		t.Run("good credentials", func(t *testing.T) {
			t.Parallel()
			for _, op := range ops[:len(ops)-1] {
				e := newEnv(t, prefix, nil)
				e.prepare(compattest.User)
				if got := e.do(op).rec.Code; got != http.StatusOK {
					t.Errorf("%s %s: %d", op.method, op.path, got)
				}
			}
		})
	})
}

func TestAnonymousAccount(t *testing.T) {
	t.Parallel()
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, auth := range []compattest.Request{{NoAuth: true}, {User: "mallory", Pass: "whatever"}, {}} {
			e := newEnv(t, prefix, func(o *Options) { o.AnonymousAccount = "legacy" })
			e.accounts.SetErr(errors.New("the store is never asked"))
			e.prepare("legacy")
			for _, op := range ops {
				r := op
				r.auth = auth
				want := http.StatusOK
				if r.body == `[` {
					want = http.StatusBadRequest // it gets as far as the body
				}
				if got := e.do(r).rec.Code; got != want {
					t.Errorf("%s %s: %d, want %d", r.method, r.path, got, want)
				}
			}
			calls := e.core.recorded()
			if len(calls.adds) != 1 || calls.adds[0].account != "legacy" ||
				len(calls.pools) != 1 || calls.pools[0] != "legacy" ||
				len(calls.removes) != 1 || calls.removes[0].account != "legacy" ||
				len(calls.creates) != 1 || calls.creates[0].AccountID != "legacy" ||
				len(calls.lists) != 2 || calls.lists[0].account != "legacy" || calls.lists[1].account != "legacy" ||
				len(calls.gets) != 1 || calls.gets[0].account != "legacy" ||
				len(calls.closes) != 1 || calls.closes[0].account != "legacy" ||
				len(calls.receives) != 1 || calls.receives[0].AccountID != "legacy" {
				t.Fatalf("calls %+v", calls)
			}
		}
	})
}

// A path of the dialect with another method is 405 with Allow, and (under a prefix) any
// other path below it 404, before auth and whatever the body.
func TestOtherRoutes(t *testing.T) {
	t.Parallel()
	methods := []route{
		{http.MethodPut, "/tn", "DELETE, GET, POST"},
		{http.MethodPatch, "/tn", "DELETE, GET, POST"},
		{http.MethodHead, "/tn", "DELETE, GET, POST"},
		{http.MethodOptions, "/session", "DELETE, GET, POST"},
		{http.MethodPut, "/session", "DELETE, GET, POST"},
		{http.MethodGet, "/", "POST"},
		{http.MethodDelete, "/", "POST"},
		{http.MethodPut, "/", "POST"},
	}
	cases := map[string][]route{
		"/": methods,
		"/proxy": append([]route{
			{http.MethodGet, "/proxy", "POST"},
			{http.MethodGet, "/proxy/tn/", ""},
			{http.MethodPost, "/proxy/session/", ""},
			{http.MethodGet, "/proxy/TN", ""},
			{http.MethodGet, "/proxy/tn/x", ""},
			{http.MethodPost, "/proxy//", ""},
			{http.MethodPost, "/proxy/inbound", ""},
			{http.MethodDelete, "/proxy/session/s-open", ""},
			{http.MethodGet, "/proxy/v1/messages", ""},
		}, prefixed("/proxy", methods)...),
	}
	for prefix, routes := range cases {
		for _, c := range routes {
			t.Run(prefix+" "+c.method+" "+c.path, func(t *testing.T) {
				t.Parallel()
				for _, r := range []req{
					{method: c.method, path: c.path, raw: true, body: `{}`},
					{method: c.method, path: c.path, raw: true, body: `{}`, auth: compattest.Request{NoAuth: true}}, // nothing to guard
					{method: c.method, path: c.path, raw: true, body: `{`, auth: compattest.Request{User: "mallory", Pass: "x"}},
				} {
					e := newEnv(t, prefix, nil)
					rec := e.do(r)
					if c.allow == "" {
						rec.is(http.StatusNotFound, textNotFound).header("Allow", "")
					} else {
						rec.is(http.StatusMethodNotAllowed, textMethod).header("Allow", c.allow)
					}
					e.noCoreCalls()
				}
			})
		}
	}
}

// route is a request path (in full) with a method, and its Allow ("" for a 404).
type route struct {
	method, path string
	allow        string
}

// prefixed is rs with prefix before each path ("/" becoming the prefix and "/").
func prefixed(prefix string, rs []route) []route {
	out := make([]route, len(rs))
	for i, r := range rs {
		out[i] = r
		out[i].path = prefix + r.path
	}
	return out
}

// At "/" the dialect has only its three paths: everything else stays the gateway's — v1,
// the webhooks, the operations endpoints and the other dialects, mounted alongside — and
// its unknown paths are v1's 404s.
func TestRootPrefixLeavesTheOtherRoutes(t *testing.T) {
	t.Parallel()
	c := &clock{t: start}
	core := newFakeCore(c)
	d, err := New(core, nil, Options{Provider: testProvider, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	dh, err := dhos.New((*gateway.Gateway)(nil), nil, dhos.Options{Provider: "tw", CallbackURL: "https://sms.example.com/dhos/v1/sms/callback", CountryCode: "GB"})
	if err != nil {
		t.Fatal(err)
	}
	gw := &webhooksOnly{}
	h := httpapi.New(httpapi.Options{
		Gateway: gw, Accounts: compattest.NewAccounts(), Logger: hclog.NewNullLogger(),
		Dialects: []httpapi.Dialect{smsapp.New(nil, nil, ""), fastsmsing.New(nil, nil, "FASTSMS", ""), dh, d},
	})
	for _, c := range []struct {
		method, path string
		want         string // status and body prefix
	}{
		{http.MethodPost, "/v1/messages", `401 {"error":{"code":"unauthorized"`},
		{http.MethodGet, "/v1/messages", `401 {"error":{"code":"unauthorized"`},
		{http.MethodGet, "/healthz", "200 "},
		{http.MethodGet, "/openapi.yaml", "200 openapi: 3.0.3"},
		{http.MethodPost, "/webhooks/flowroute/token/inbound", `404 {"error":{"code":"not_found"`},
		{http.MethodGet, "/running", `200 {"running":true}`},
		{http.MethodGet, "/sms", `404 {"message":"not found"}`},
		{http.MethodGet, "/outbound/sms", "405 "},
		{http.MethodGet, "/tn/", `404 {"error":{"code":"not_found"`},
		{http.MethodGet, "/sessions", `404 {"error":{"code":"not_found"`},
		{http.MethodGet, "/x", `404 {"error":{"code":"not_found"`},
		{http.MethodGet, "/tn", `401 {"message":"Unauthorized"}`},
		{http.MethodGet, "/", `405 {"message":"Method Not Allowed"}`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if got := fmt.Sprint(rec.Code, " ", rec.Body.String()); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s %s: %.120s, want %s…", c.method, c.path, got, c.want)
		}
	}
	if gw.calls != 1 {
		t.Errorf("the webhook reached the gateway %d times", gw.calls)
	}
	if n := core.calls(); n != 0 {
		t.Errorf("the dialect's core was called %d times", n)
	}
}

// webhooksOnly is a v1 gateway that knows no provider; only its webhook route is used.
type webhooksOnly struct {
	httpapi.Gateway
	calls int
}

func (g *webhooksOnly) HandleWebhook(_ context.Context, provider string, _ ports.WebhookRequest) (ports.WebhookResult, error) {
	g.calls++
	return ports.WebhookResult{}, fmt.Errorf("provider %s: %w", provider, ports.ErrNotFound)
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	big := `{"value": "12062992129", "x": "` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, op := range ops {
			if op.body == "" || op.body == `[` {
				continue
			}
			e := newEnv(t, prefix, nil)
			// Declared Content-Length: refused by the shared limit before the handler runs.
			e.do(req{method: op.method, path: op.path, body: big}).is(http.StatusRequestEntityTooLarge, textTooLarge)
			// Chunked: refused while the handler reads.
			e.do(req{method: op.method, path: op.path, bodyReader: io.MultiReader(strings.NewReader(big))}).is(http.StatusRequestEntityTooLarge, textTooLarge)
			e.noCoreCalls()
		}
		t.Run("at the limit", func(t *testing.T) {
			e := newEnv(t, prefix, nil)
			body := `{"value": "12062992129", "x": "`
			body += strings.Repeat(" ", httpapi.MaxBodyBytes-len(body)-2) + `"}`
			if len(body) != httpapi.MaxBodyBytes {
				t.Fatal(len(body))
			}
			e.do(req{method: http.MethodPost, path: "/tn", bodyReader: bytes.NewReader([]byte(body))}).ok()
		})
		t.Run("other requests", func(t *testing.T) {
			e := newEnv(t, prefix, nil)
			e.do(req{method: http.MethodGet, path: "/tn", body: big}).is(http.StatusRequestEntityTooLarge, textTooLarge)
			e.do(req{method: http.MethodGet, path: "/session", body: big}).is(http.StatusRequestEntityTooLarge, textTooLarge)
			e.do(req{method: http.MethodPut, path: "/tn", body: big}).is(http.StatusMethodNotAllowed, textMethod)
			if prefix != "/" {
				e.do(req{method: http.MethodPost, path: prefix + "/x", raw: true, body: big}).is(http.StatusNotFound, textNotFound)
			}
			e.noCoreCalls()
		})
	})
}

func TestPanicIsFailure(t *testing.T) {
	t.Parallel()
	forEachPrefix(t, func(t *testing.T, prefix string) {
		for _, op := range ops[:len(ops)-1] {
			e := newEnv(t, prefix, nil)
			e.prepare(compattest.User)
			e.core.panicV = "boom in core"
			e.do(op).is(http.StatusInternalServerError, textFailure)
			e.logged("boom in core")
		}
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mod  func(*Options)
		want string // "" for no error
	}{
		{"defaults", func(*Options) {}, ""},
		{"root", func(o *Options) { o.Prefix = "/" }, ""},
		{"a prefix", func(o *Options) { o.Prefix = "/proxy" }, ""},
		{"a deep prefix", func(o *Options) { o.Prefix = "/legacy/sms-proxy_v1.2~x" }, ""},
		{"a prefix sharing its start with a route", func(o *Options) { o.Prefix = "/v1x" }, ""},
		{"no provider", func(o *Options) { o.Provider = "" }, "flowroute_proxy: provider is required"},
		{"no leading slash", func(o *Options) { o.Prefix = "proxy" }, `flowroute_proxy: prefix "proxy" must be "/" or a path`},
		{"trailing slash", func(o *Options) { o.Prefix = "/proxy/" }, `prefix "/proxy/" must be`},
		{"double slash", func(o *Options) { o.Prefix = "//proxy" }, "must be"},
		{"empty segment", func(o *Options) { o.Prefix = "/a//b" }, "must be"},
		{"dot segment", func(o *Options) { o.Prefix = "/a/./b" }, "must be"},
		{"dot-dot segment", func(o *Options) { o.Prefix = "/.." }, "must be"},
		{"a Gin parameter", func(o *Options) { o.Prefix = "/:account" }, "must be"},
		{"a Gin catch-all", func(o *Options) { o.Prefix = "/*x" }, "must be"},
		{"a query", func(o *Options) { o.Prefix = "/proxy?x=1" }, "must be"},
		{"an escape", func(o *Options) { o.Prefix = "/pro%20xy" }, "must be"},
		{"a space", func(o *Options) { o.Prefix = "/pro xy" }, "must be"},
		{"v1", func(o *Options) { o.Prefix = "/v1" }, `flowroute_proxy: prefix "/v1" is taken by another route of the gateway`},
		{"under v1", func(o *Options) { o.Prefix = "/v1/legacy" }, "is taken"},
		{"webhooks", func(o *Options) { o.Prefix = "/webhooks" }, "is taken"},
		{"healthz", func(o *Options) { o.Prefix = "/healthz" }, "is taken"},
		{"openapi.yaml", func(o *Options) { o.Prefix = "/openapi.yaml" }, "is taken"},
		{"fastsmsing's /sms", func(o *Options) { o.Prefix = "/sms" }, "is taken"},
		{"under dhos", func(o *Options) { o.Prefix = "/dhos/proxy" }, "is taken"},
		{"smsapp's /inbound", func(o *Options) { o.Prefix = "/inbound" }, "is taken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Provider: testProvider}
			c.mod(&opts)
			d, err := New(newFakeCore(&clock{t: start}), nil, opts)
			switch {
			case c.want == "" && (err != nil || d == nil):
				t.Fatalf("New: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("New: %v, want an error with %q", err, c.want)
			case c.want != "" && d != nil:
				t.Fatal("a dialect with the error")
			}
			if err == nil { // it mounts without a clash with the v1 routes
				httpapi.New(httpapi.Options{Dialects: []httpapi.Dialect{d}})
			}
		})
	}
	if _, err := New(nil, nil, Options{Provider: testProvider}); err == nil {
		t.Error("New without a core: no error")
	}
	d, err := New(newFakeCore(&clock{t: start}), nil, Options{Provider: testProvider})
	if err != nil {
		t.Fatal(err)
	}
	if d.prefix != DefaultPrefix {
		t.Errorf("default prefix %q", d.prefix)
	}
	if got := d.now(); time.Since(got) > time.Minute || time.Since(got) < -time.Minute {
		t.Errorf("default clock says %s", got)
	}
}
