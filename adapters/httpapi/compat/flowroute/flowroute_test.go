package flowroute

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/proxy"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // no route dumps from the engines the tests build by hand
	goleak.VerifyTestMain(m)
}

// start is the clock's time when a test begins.
var start = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

const testProvider = "flowroute"

// prefixes are the mounts every route test runs under: the legacy root and a prefix.
var prefixes = []string{"/", "/proxy"}

type env struct {
	t        *testing.T
	prefix   string
	h        http.Handler
	clock    *clock
	core     *fakeCore
	accounts *compattest.Accounts
	logs     *compattest.SyncBuffer
}

// newEnv serves the dialect at prefix (Options changed by mod) on the real v1 engine: shared
// middleware, real authenticator.
func newEnv(t *testing.T, prefix string, mod func(*Options)) *env {
	t.Helper()
	c := &clock{t: start}
	e := &env{t: t, prefix: prefix, clock: c, core: newFakeCore(c), accounts: compattest.NewAccounts(), logs: &compattest.SyncBuffer{}}
	log := hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Debug, JSONFormat: true})
	opts := Options{Provider: testProvider, Prefix: prefix, Now: c.Now}
	if mod != nil {
		mod(&opts)
	}
	d, err := New(e.core, log.Named("flowroute_proxy"), opts)
	if err != nil {
		t.Fatal(err)
	}
	e.h = newHandler(e, d)
	return e
}

// path is the request path of the dialect's path p ("/", "/tn", "/session") at the
// env's prefix.
func (e *env) path(p string) string {
	if e.prefix == "/" {
		return p
	}
	if p == "/" {
		return e.prefix + "/"
	}
	return e.prefix + p
}

// req is a request to the dialect.
type req struct {
	method     string // default GET
	path       string // the dialect's path ("/tn"); the env adds its prefix
	raw        bool   // path is the full request path, without the prefix added
	body       string
	bodyReader io.Reader
	auth       compattest.Request // the credentials only; the zero value is the good ones
}

type resp struct {
	t   *testing.T
	rec *httptest.ResponseRecorder
}

// do serves r and holds the answer to openapi.yaml and to the dialect's shapes.
func (e *env) do(r req) *resp {
	e.t.Helper()
	cr := r.auth
	cr.Method, cr.Path, cr.Body, cr.BodyReader = r.method, r.path, r.body, r.bodyReader
	if !r.raw {
		cr.Path = e.path(r.path)
	}
	if cr.Method == "" {
		cr.Method = http.MethodGet
	}
	hr := cr.HTTP()
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	if rec.Header().Get("X-Request-Id") == "" {
		e.t.Error("no X-Request-Id")
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s: %d with Content-Type %q, body %s", hr.Method, hr.URL, rec.Code, ct, rec.Body)
	}
	checkSpec(e.t, e.prefix, hr, rec)
	return &resp{t: e.t, rec: rec}
}

// is asserts a refusal: status and {"message": text}.
func (r *resp) is(status int, text string) *resp {
	r.t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.rec.Body.Bytes(), &body); err != nil || len(body) != 1 || body["message"] != text || r.rec.Code != status {
		r.t.Fatalf("got %d %s, want %d {\"message\": %q}", r.rec.Code, r.rec.Body, status, text)
	}
	return r
}

// ok asserts a 200 and returns its body.
func (r *resp) ok() map[string]any {
	r.t.Helper()
	if r.rec.Code != http.StatusOK {
		r.t.Fatalf("got %d %s, want 200", r.rec.Code, r.rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.rec.Body.Bytes(), &body); err != nil {
		r.t.Fatal(err)
	}
	return body
}

// equals asserts a 200 whose body is want (as JSON decodes it).
func (r *resp) equals(want map[string]any) {
	r.t.Helper()
	r.equalsMap(r.ok(), want)
}

// equalsMap asserts got (a body as JSON decodes it) is want.
func (r *resp) equalsMap(got, want map[string]any) {
	r.t.Helper()
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		r.t.Errorf("body\n got %s\nwant %s", gb, wb)
	}
}

func (r *resp) header(name, want string) *resp {
	r.t.Helper()
	if got := r.rec.Header().Get(name); got != want {
		r.t.Errorf("%s: %q, want %q", name, got, want)
	}
	return r
}

func (r *resp) notLeaking(secret string) *resp {
	r.t.Helper()
	if strings.Contains(r.rec.Body.String(), secret) {
		r.t.Errorf("internal error text leaked: %s", r.rec.Body)
	}
	return r
}

func (e *env) noCoreCalls() {
	e.t.Helper()
	if n := e.core.calls(); n != 0 {
		e.t.Fatalf("the core was called %d times: %+v", n, e.core.recorded())
	}
}

func (e *env) logged(s string) {
	e.t.Helper()
	if !strings.Contains(e.logs.String(), s) {
		e.t.Errorf("%q was not logged; log:\n%s", s, e.logs)
	}
}

// jsonBody renders v as a request body.
func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// openSession is a session of compattest.User created at created, expiring after ttl
// (0: never).
func openSession(id, number, a, b string, created time.Time, ttl time.Duration) proxy.Session {
	s := proxy.Session{ID: id, AccountID: compattest.User, ProxyNumber: number, ParticipantA: a, ParticipantB: b, CreatedAt: created}
	if ttl > 0 {
		exp := created.Add(ttl)
		s.ExpiresAt = &exp
	}
	return s
}

// forEachPrefix runs f under each of prefixes, in parallel.
func forEachPrefix(t *testing.T, f func(t *testing.T, prefix string)) {
	t.Helper()
	for _, p := range prefixes {
		t.Run("at "+p, func(t *testing.T) {
			t.Parallel()
			f(t, p)
		})
	}
}

// newHandler serves d on the real v1 engine with e's accounts and log.
func newHandler(e *env, d *Dialect) http.Handler {
	log := hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Debug, JSONFormat: true})
	return httpapi.New(httpapi.Options{Accounts: e.accounts, Logger: log, Dialects: []httpapi.Dialect{d}})
}
