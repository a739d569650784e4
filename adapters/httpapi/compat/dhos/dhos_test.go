package dhos

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/message"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// now is the dialect's clock in the tests; created is when the fake core's messages were.
var (
	now     = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	created = time.Date(2026, 11, 20, 9, 30, 0, 123_000_000, time.UTC)
)

const (
	testProvider    = "twilio"
	testCallbackURL = "https://sms.example.com/dhos/v1/sms/callback"
)

func testOptions() Options {
	return Options{Provider: testProvider, CallbackURL: testCallbackURL, CountryCode: "GB", Now: func() time.Time { return now }}
}

type env struct {
	t        *testing.T
	h        http.Handler
	core     *fakeCore
	accounts *compattest.Accounts
	logs     *compattest.SyncBuffer
}

// newEnv serves the dialect (testOptions, changed by mod) on the real v1 engine: shared
// middleware, real authenticator.
func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	e := &env{t: t, core: newFakeCore(created), accounts: compattest.NewAccounts(), logs: &compattest.SyncBuffer{}}
	log := hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Debug, JSONFormat: true})
	opts := testOptions()
	if mod != nil {
		mod(&opts)
	}
	d, err := New(e.core, log.Named("dhos"), opts)
	if err != nil {
		t.Fatal(err)
	}
	e.h = httpapi.New(httpapi.Options{Accounts: e.accounts, Logger: log, Dialects: []httpapi.Dialect{d}})
	return e
}

// defaultTenant is the tenant of a request whose tenant is nil: as sent, and as stored.
var defaultTenant = http.Header{headerTrustomer: {"ACME-Trust"}, headerProduct: {"Pulse"}}

const (
	tenantTrustomer = "acme-trust"
	tenantProduct   = "pulse"
)

// req is a request to the dialect.
type req struct {
	method     string // default GET
	path       string
	body       string
	bodyReader io.Reader
	auth       compattest.Request // the credentials only; the zero value is the good ones
	tenant     http.Header        // the tenancy headers; nil is defaultTenant, empty is none
	header     http.Header        // more headers, replacing any of the same name
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
	if cr.Method == "" {
		cr.Method = http.MethodGet
	}
	hr := cr.HTTP()
	tenant := r.tenant
	if tenant == nil {
		tenant = defaultTenant
	}
	for k, vs := range tenant {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	for k, vs := range r.header {
		hr.Header[http.CanonicalHeaderKey(k)] = vs
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, hr)
	if rec.Header().Get("X-Request-Id") == "" {
		e.t.Error("no X-Request-Id")
	}
	if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusNoContent && !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s %s: %d with Content-Type %q, body %s", hr.Method, hr.URL, rec.Code, ct, rec.Body)
	}
	checkSpec(e.t, hr, rec)
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

// code asserts the status only.
func (r *resp) code(status int) *resp {
	r.t.Helper()
	if r.rec.Code != status {
		r.t.Fatalf("got %d %s, want %d", r.rec.Code, r.rec.Body, status)
	}
	return r
}

// dict is the 200 body, a message dict.
func (r *resp) dict() map[string]any {
	r.t.Helper()
	r.code(http.StatusOK)
	var d map[string]any
	if err := json.Unmarshal(r.rec.Body.Bytes(), &d); err != nil {
		r.t.Fatal(err)
	}
	return d
}

// list is the 200 body, an array of message dicts.
func (r *resp) list() []map[string]any {
	r.t.Helper()
	r.code(http.StatusOK)
	var l []map[string]any
	if err := json.Unmarshal(r.rec.Body.Bytes(), &l); err != nil || l == nil {
		r.t.Fatalf("body %s is not an array: %v", r.rec.Body, err)
	}
	return l
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

func createBody(sender, receiver, content any) string {
	b, err := json.Marshal(map[string]any{"sender": sender, "receiver": receiver, "content": content})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// dhosMessage is a stored message of the dialect: outbound, of compattest.User, with the
// tenant's tags.
func dhosMessage(id, trustomer, product string) message.Message {
	return message.Message{
		ID: id, AccountID: compattest.User, Direction: message.Outbound,
		From: "ACME", To: "+447911123456", Text: "hello", Status: message.StatusQueued,
		Tags:      map[string]string{tagTrustomer: trustomer, tagProduct: product, tagReceiver: "07911 123456"},
		CreatedAt: created, UpdatedAt: created,
	}
}

// wantDict is a dict as JSON decodes it.
type wantDict = map[string]any

func checkDict(t *testing.T, got, want wantDict) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		t.Errorf("dict\n got %s\nwant %s", gb, wb)
	}
}
