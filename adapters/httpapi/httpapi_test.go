package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/adapters/clock"
	"github.com/smsgw/smsgw/adapters/sqlite"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
	"github.com/smsgw/smsgw/ports/porttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test accounts; the hashes are bcrypt cost 4 of the passwords.
const (
	alicePass = "s3cret"
	aliceHash = "$2a$04$3egfikcthnNJJx6O9aejnumdDDKjyEnNbndRmKdC3m.Io4zku3hTa"
	bobPass   = "other-pw"
	bobHash   = "$2a$04$idlAMbMjm/DdhaCK02kQbOM0WF9fiX0ya.9O6/LNGeHpj7dc7Qft6"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// syncBuffer is a log sink safe to read while the handler may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	t      *testing.T
	engine *gin.Engine
	srv    *server
	store  *faultStore
	provs  *fakeProviders
	jobs   *recordingJobs
	clock  *clock.Fake
	logs   *syncBuffer
	spec   *openapi3.T
	router routers.Router
}

func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPISpec())
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("validate openapi.yaml: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("openapi router: %v", err)
	}
	return doc, router
}

// storeFactories are the ports.Store implementations the handler tests can run on.
var storeFactories = map[string]func(t *testing.T) ports.Store{
	"sqlite": newSQLiteStore,
	"memory": func(*testing.T) ports.Store { return porttest.NewMemStore() },
}

// newSQLiteStore opens a migrated SQLite store in a temporary directory.
func newSQLiteStore(t *testing.T) ports.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "smsgw.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close sqlite: %v", err)
		}
	})
	if err := sqlite.Migrate(ctx, st.DB()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return st
}

// newEnv builds the handler on a real *gateway.Gateway over the SQLite store.
func newEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnvOn(t, newSQLiteStore(t))
}

func newEnvOn(t *testing.T, store ports.Store) *testEnv {
	t.Helper()
	return newEnvConfig(t, store, gateway.Config{DefaultAccount: "alice"})
}

// newEnvConfig is newEnvOn with the gateway's configuration given.
func newEnvConfig(t *testing.T, store ports.Store, cfg gateway.Config) *testEnv {
	t.Helper()
	spec, router := loadSpec(t)
	e := &testEnv{
		t: t, store: &faultStore{Store: store}, provs: newFakeProviders("loopback", "twilio"),
		jobs: &recordingJobs{}, clock: clock.NewFake(t0), logs: &syncBuffer{}, spec: spec, router: router,
	}
	ctx := context.Background()
	for _, a := range []ports.Account{{ID: "alice", PasswordHash: aliceHash}, {ID: "bob", PasswordHash: bobHash}} {
		if err := e.store.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	rt, err := routing.New([]string{"loopback", "twilio"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Deps{
		Store: e.store, Jobs: e.jobs, Providers: e.provs, Clock: e.clock, IDs: &seqIDs{}, Router: rt,
		Config: cfg,
	})
	e.engine, e.srv = newEngine(Options{
		Gateway: gw, Accounts: e.store,
		Logger:    hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Trace, JSONFormat: true}),
		PublicURL: "https://sms.example.com/", Registry: prometheus.NewRegistry(),
		Version: VersionInfo{Version: "1.2.3", Commit: "abc123", Go: "go1.26"},
		Ready:   gw.Ready,
	})
	return e
}

// request describes one call; by default it authenticates as alice.
type request struct {
	method, path string
	body         string
	header       map[string]string
	user, pass   string
	noAuth       bool
	chunked      bool // no Content-Length: the body is read as a stream
}

type response struct {
	*httptest.ResponseRecorder
	t *testing.T
}

// do serves the request and checks what every response must satisfy: an X-Request-Id
// and conformance to openapi.yaml.
func (e *testEnv) do(r request) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.chunked {
		req.ContentLength = -1
		req.Body = io.NopCloser(strings.NewReader(r.body))
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if !r.noAuth {
		user, pass := r.user, r.pass
		if user == "" {
			user, pass = "alice", alicePass
		}
		req.SetBasicAuth(user, pass)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	if rec.Header().Get(headerRequestID) == "" {
		e.t.Errorf("%s %s: no X-Request-Id", r.method, r.path)
	}
	e.conform(req, rec)
	return response{rec, e.t}
}

// conform validates the response against the spec; a response of a route the spec does not
// describe (404 of an unknown path, the test-only panic route) must still be an ErrorBody.
func (e *testEnv) conform(req *http.Request, rec *httptest.ResponseRecorder) {
	e.t.Helper()
	lookup := req
	if parts := strings.SplitN(req.URL.Path, "/", 4); len(parts) == 4 && parts[1] == "webhooks" {
		// {path} spans segments, which an OpenAPI path parameter cannot express.
		lookup = req.Clone(req.Context())
		lookup.URL.Path = "/webhooks/" + parts[2] + "/rest"
	}
	route, params, err := e.router.FindRoute(lookup)
	if err != nil {
		if rec.Code < 400 {
			e.t.Errorf("%s %s: %d from a route the spec does not describe", req.Method, req.URL, rec.Code)
			return
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			e.t.Errorf("%s %s: error body is not JSON: %q", req.Method, req.URL, rec.Body)
			return
		}
		if err := e.spec.Components.Schemas["ErrorBody"].Value.VisitJSON(v); err != nil {
			e.t.Errorf("%s %s: error body does not match ErrorBody: %v", req.Method, req.URL, err)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		e.t.Errorf("%s %s: response %d does not conform to openapi.yaml: %v\nbody: %s", req.Method, req.URL, rec.Code, err, rec.Body)
	}
}

func (r response) status(want int) response {
	r.t.Helper()
	if r.Code != want {
		r.t.Fatalf("status = %d, want %d; body: %s", r.Code, want, r.Body)
	}
	return r
}

func (r response) json() map[string]any {
	r.t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body.Bytes(), &v); err != nil {
		r.t.Fatalf("body is not a JSON object: %v: %q", err, r.Body)
	}
	return v
}

// apiError checks an error answer's status, code and field.
func (r response) apiError(status int, code, field string) {
	r.t.Helper()
	r.status(status)
	e, _ := r.json()["error"].(map[string]any)
	if e["code"] != code {
		r.t.Errorf("error code = %v, want %s; body: %s", e["code"], code, r.Body)
	}
	got, _ := e["field"].(string)
	if got != field {
		r.t.Errorf("error field = %q, want %q; body: %s", got, field, r.Body)
	}
}

func (e *testEnv) send(body string) map[string]any {
	e.t.Helper()
	return e.do(request{method: "POST", path: "/v1/messages", body: body}).status(http.StatusAccepted).json()
}

// TestSpecMatchesRoutes checks that openapi.yaml (loaded and validated by loadSpec)
// describes exactly the routes the engine serves (webhooks: GET and POST stand for all).
func TestSpecMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if e.spec.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %s", e.spec.OpenAPI)
	}
	served := map[string]bool{}
	toSpec := strings.NewReplacer(":id", "{id}", ":provider", "{provider}", ":name", "{name}", ":number", "{number}", "*path", "{path}")
	for _, r := range e.engine.Routes() {
		if strings.HasPrefix(r.Path, "/webhooks/") && r.Method != "GET" && r.Method != "POST" {
			continue
		}
		served[r.Method+" "+toSpec.Replace(r.Path)] = true
	}
	described := map[string]bool{}
	for path, item := range e.spec.Paths.Map() {
		for method, op := range item.Operations() {
			if _, ok := op.Extensions["x-dialect"]; ok {
				continue // served only when configured; compat/<dialect> checks its own
			}
			described[method+" "+path] = true
		}
	}
	for k := range served {
		if !described[k] {
			t.Errorf("%s is served but not in openapi.yaml", k)
		}
	}
	for k := range described {
		if !served[k] {
			t.Errorf("%s is in openapi.yaml but not served", k)
		}
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.send(`{"from": "+1 (415) 555-0100", "to": "+14155550101", "text": "hello", "tags": {"module": "users"}, "unknown": [1]}`)
	want := map[string]any{
		"id": "msg-0001", "direction": "outbound", "from": "+14155550100", "to": "+14155550101",
		"text": "hello", "status": "queued", "provider": "loopback", "provider_message_id": nil,
		"segments": 1.0, "encoding": "GSM-7", "error": nil, "send_at": nil,
		"created_at": "2026-11-20T10:00:00.000Z", "updated_at": "2026-11-20T10:00:00.000Z",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if tags, _ := m["tags"].(map[string]any); tags["module"] != "users" {
		t.Errorf("tags = %v", m["tags"])
	}
	events, _ := m["events"].([]any)
	if len(events) != 1 {
		t.Fatalf("events = %v", m["events"])
	}
	if ev := events[0].(map[string]any); ev["status"] != "queued" || ev["at"] != "2026-11-20T10:00:00.000Z" || ev["detail"] != nil {
		t.Errorf("event = %v", ev)
	}
	if jobs := e.jobs.sent(); len(jobs) != 1 || !slices.Equal(jobs[0].MessageIDs, []string{"msg-0001"}) || !jobs[0].RunAt.IsZero() {
		t.Errorf("jobs = %+v", jobs)
	}
	// Tags default to {} and the stored message reads back identically.
	m2 := e.send(`{"from": "ACME", "to": "+14155550101", "text": "x", "provider": "twilio"}`)
	if tags, ok := m2["tags"].(map[string]any); !ok || len(tags) != 0 || m2["provider"] != "twilio" || m2["from"] != "ACME" {
		t.Errorf("second message = %v", m2)
	}
	got := e.do(request{method: "GET", path: "/v1/messages/msg-0001"}).status(http.StatusOK).json()
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(m)
	if !bytes.Equal(a, b) {
		t.Errorf("GET = %s\nwant %s", a, b)
	}
}

func TestSendSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		text     string
		segments float64
		encoding string
	}{
		{"gsm single", strings.Repeat("a", 160), 1, "GSM-7"},
		{"gsm two", strings.Repeat("a", 161), 2, "GSM-7"},
		{"gsm extension counts two", strings.Repeat("€", 80), 1, "GSM-7"},
		{"gsm extension not split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 10), 2, "GSM-7"},
		{"ucs2 single", strings.Repeat("☃", 70), 1, "UCS-2"},
		{"ucs2 two", strings.Repeat("☃", 71), 2, "UCS-2"},
		{"surrogate pairs", strings.Repeat("😀", 35), 1, "UCS-2"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"from": "+14155550100", "to": "+14155550101", "text": tt.text})
			m := e.send(string(body))
			if m["segments"] != tt.segments || m["encoding"] != tt.encoding {
				t.Errorf("segments, encoding = %v, %v; want %v, %v", m["segments"], m["encoding"], tt.segments, tt.encoding)
			}
		})
	}
}

func TestSendScheduled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "later", "send_at": "2026-12-01T11:00:00+01:00"}`)
	if m["status"] != "scheduled" || m["send_at"] != "2026-12-01T10:00:00.000Z" {
		t.Errorf("status, send_at = %v, %v", m["status"], m["send_at"])
	}
	if jobs := e.jobs.sent(); len(jobs) != 1 || !jobs[0].RunAt.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("jobs = %+v", jobs)
	}
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	const ok = `"from": "+14155550100", "to": "+14155550101", "text": "hi"`
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		field  string
	}{
		{"empty object", `{}`, 400, "missing_parameter", "from"},
		{"null from", `{"from": null, "to": 5}`, 400, "missing_parameter", "from"},
		{"empty from", `{"from": "", "to": 5}`, 400, "invalid_parameter", "from"},
		{"bad from before bad to", `{"from": "+12", "to": 5}`, 400, "invalid_parameter", "from"},
		{"from wrong type", `{"from": 14155550100}`, 400, "invalid_parameter", "from"},
		{"missing to", `{"from": "+14155550100", "text": 5}`, 400, "missing_parameter", "to"},
		{"to wrong type", `{"from": "+14155550100", "to": 5, "text": "x"}`, 400, "invalid_parameter", "to"},
		{"to alphanumeric", `{"from": "+14155550100", "to": "ACME", "text": "x"}`, 400, "invalid_parameter", "to"},
		{"to too short", `{"from": "+14155550100", "to": "+12345", "text": "x"}`, 400, "invalid_parameter", "to"},
		{"missing text", `{"from": "+14155550100", "to": "+14155550101"}`, 400, "missing_parameter", "text"},
		{"empty text", `{"from": "+14155550100", "to": "+14155550101", "text": ""}`, 400, "invalid_parameter", "text"},
		{"text too long", `{"from": "+14155550100", "to": "+14155550101", "text": "` + strings.Repeat("é", 1601) + `"}`, 400, "invalid_parameter", "text"},
		{"text wrong type", `{"from": "+14155550100", "to": "+14155550101", "text": ["hi"], "provider": 1}`, 400, "invalid_parameter", "text"},
		{"unknown provider", `{` + ok + `, "provider": "nope"}`, 400, "invalid_parameter", "provider"},
		{"empty provider", `{` + ok + `, "provider": ""}`, 400, "invalid_parameter", "provider"},
		{"provider wrong type", `{` + ok + `, "provider": 7}`, 400, "invalid_parameter", "provider"},
		{"unknown provider before bad tags", `{` + ok + `, "provider": "nope", "tags": 5}`, 400, "invalid_parameter", "provider"},
		{"unknown provider before bad send_at", `{` + ok + `, "provider": "nope", "send_at": "soon"}`, 400, "invalid_parameter", "provider"},
		{"tags wrong type", `{` + ok + `, "tags": 5, "send_at": "soon"}`, 400, "invalid_parameter", "tags"},
		{"tags not string map", `{` + ok + `, "tags": {"a": 1}}`, 400, "invalid_parameter", "tags"},
		{"tags array", `{` + ok + `, "tags": ["a"]}`, 400, "invalid_parameter", "tags"},
		{"send_at malformed", `{` + ok + `, "send_at": "tomorrow"}`, 400, "invalid_parameter", "send_at"},
		{"send_at wrong type", `{` + ok + `, "send_at": 1767225600}`, 400, "invalid_parameter", "send_at"},
		{"send_at empty", `{` + ok + `, "send_at": ""}`, 400, "invalid_parameter", "send_at"},
		{"send_at in the past", `{` + ok + `, "send_at": "2026-11-20T09:59:59Z"}`, 400, "invalid_parameter", "send_at"},
		{"send_at now", `{` + ok + `, "send_at": "2026-11-20T10:00:00Z"}`, 400, "invalid_parameter", "send_at"},
		{"array", `[]`, 400, "invalid_json", ""},
		{"string", `"x"`, 400, "invalid_json", ""},
		{"null", `null`, 400, "invalid_json", ""},
		{"number", `42`, 400, "invalid_json", ""},
		{"broken", `{"from": "+14155550100",`, 400, "invalid_json", ""},
		{"trailing garbage", `{} {}`, 400, "invalid_json", ""},
		{"empty body", ``, 400, "invalid_json", ""},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.do(request{method: "POST", path: "/v1/messages", body: tt.body}).apiError(tt.status, tt.code, tt.field)
		})
	}
	if jobs := e.jobs.sent(); len(jobs) != 0 {
		t.Errorf("refused sends enqueued jobs: %+v", jobs)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	big := `{"from": "+14155550100", "to": "+14155550101", "text": "hi", "pad": "` + strings.Repeat("x", 70<<10) + `"}`
	e := newEnv(t)
	for _, chunked := range []bool{false, true} {
		e.do(request{method: "POST", path: "/v1/messages", body: big, chunked: chunked}).apiError(http.StatusRequestEntityTooLarge, "payload_too_large", "")
		e.do(request{method: "POST", path: "/v1/inbound", body: big, chunked: chunked}).apiError(http.StatusRequestEntityTooLarge, "payload_too_large", "")
		e.do(request{method: "POST", path: "/webhooks/loopback/inbound", body: big, chunked: chunked, noAuth: true}).apiError(http.StatusRequestEntityTooLarge, "payload_too_large", "")
	}
	// Just under the limit is fine.
	under := `{"from": "+14155550100", "to": "+14155550101", "text": "hi", "pad": "` + strings.Repeat("x", 60<<10) + `"}`
	e.do(request{method: "POST", path: "/v1/messages", body: under, chunked: true}).status(http.StatusAccepted)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		req    request
		status int
	}{
		{"no credentials", request{noAuth: true}, 401},
		{"wrong password", request{user: "alice", pass: "nope"}, 401},
		{"other account's password", request{user: "alice", pass: bobPass}, 401},
		{"unknown user", request{user: "mallory", pass: alicePass}, 401},
		{"not basic", request{noAuth: true, header: map[string]string{"Authorization": "Bearer abc"}}, 401},
		{"malformed basic", request{noAuth: true, header: map[string]string{"Authorization": "Basic !!!"}}, 401},
		{"alice", request{}, 200},
		{"bob", request{user: "bob", pass: bobPass}, 200},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			tt.req.method, tt.req.path = "GET", "/v1/messages"
			r := e.do(tt.req)
			if tt.status == 401 {
				r.apiError(401, "unauthorized", "")
				if got := r.Header().Get("WWW-Authenticate"); got != `Basic realm="smsgw"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				return
			}
			r.status(tt.status)
		})
	}
	if strings.Contains(e.logs.String(), alicePass) || strings.Contains(e.logs.String(), "Authorization") {
		t.Error("credentials reached the log")
	}
}

func TestAuthCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := t0
	e.srv.auth.now = func() time.Time { return now }
	e.do(request{method: "GET", path: "/v1/providers"}).status(200)
	// A password change takes effect once the cached verification expires.
	if err := e.store.PutAccount(context.Background(), ports.Account{ID: "alice", PasswordHash: bobHash}); err != nil {
		t.Fatal(err)
	}
	e.do(request{method: "GET", path: "/v1/providers"}).status(200)
	now = now.Add(authCacheTTL)
	e.do(request{method: "GET", path: "/v1/providers"}).apiError(401, "unauthorized", "")
	e.do(request{method: "GET", path: "/v1/providers", user: "alice", pass: bobPass}).status(200)
	for k := range e.srv.auth.cache {
		if k.user == "alice" && strings.Contains(string(k.pass[:]), bobPass) {
			t.Error("the cache holds a plaintext password")
		}
	}
}

func TestAuthCacheBounded(t *testing.T) {
	t.Parallel()
	a := newAuthenticator(nil)
	now := t0
	for i := range authCacheSize * 3 {
		a.remember(authKey{user: string(rune('a' + i%26)), pass: [32]byte{byte(i), byte(i >> 8)}}, now.Add(time.Minute), now)
		if len(a.cache) > authCacheSize {
			t.Fatalf("cache grew to %d", len(a.cache))
		}
	}
}

func TestOtherAccountIs404(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "mine"}`)["id"].(string)
	bob := func(method, path string) request {
		return request{method: method, path: path, user: "bob", pass: bobPass}
	}
	e.do(bob("GET", "/v1/messages/"+id)).apiError(404, "not_found", "")
	e.do(bob("POST", "/v1/messages/"+id+"/cancel")).apiError(404, "not_found", "")
	e.do(bob("DELETE", "/v1/messages/"+id)).apiError(404, "not_found", "")
	if items := e.do(bob("GET", "/v1/messages")).status(200).json()["items"].([]any); len(items) != 0 {
		t.Errorf("bob lists %d messages", len(items))
	}
	e.do(request{method: "GET", path: "/v1/messages/" + id}).status(200)
	e.do(request{method: "GET", path: "/v1/messages/nope"}).apiError(404, "not_found", "")
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	for name, newStore := range storeFactories {
		t.Run(name, func(t *testing.T) { testListPaging(t, newEnvOn(t, newStore(t))) })
	}
}

func testListPaging(t *testing.T, e *testEnv) {
	var want []string // newest first
	for i := range 11 {
		if i%3 == 0 {
			e.clock.Advance(time.Second) // others share a created_at: the id breaks the tie
		}
		want = append([]string{e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "hi"}`)["id"].(string)}, want...)
	}
	e.do(request{method: "POST", path: "/v1/messages", user: "bob", pass: bobPass, body: `{"from": "+14155550100", "to": "+14155550101", "text": "bob's"}`}).status(202)

	var got []string
	path := "/v1/messages?limit=4"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page := e.do(request{method: "GET", path: path}).status(200).json()
		for _, it := range page["items"].([]any) {
			got = append(got, it.(map[string]any)["id"].(string))
		}
		next, ok := page["next_cursor"].(string)
		if !ok {
			if page["next_cursor"] != nil {
				t.Fatalf("next_cursor = %v", page["next_cursor"])
			}
			break
		}
		path = "/v1/messages?limit=4&cursor=" + next
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("paged ids = %v\nwant %v", got, want)
	}
	// Default limit and filters.
	if n := len(e.do(request{method: "GET", path: "/v1/messages"}).status(200).json()["items"].([]any)); n != 11 {
		t.Errorf("default list has %d items", n)
	}
	filters := map[string]int{
		"direction=inbound": 0, "direction=outbound": 11, "status=queued": 11, "status=sent": 0,
		"to=%2B1%20415%20555%200101": 11, "from=%2B14155550199": 0,
		"created_after=2026-11-20T10:00:03Z": 5, "created_before=2026-11-20T10:00:02Z": 6,
		"created_after=2026-11-20T10:00:02Z&created_before=2026-11-20T10:00:02%2B00:00": 3,
	}
	for q, n := range filters {
		if got := len(e.do(request{method: "GET", path: "/v1/messages?" + q}).status(200).json()["items"].([]any)); got != n {
			t.Errorf("%s: %d items, want %d", q, got, n)
		}
	}
}

func TestListBadParameters(t *testing.T) {
	t.Parallel()
	tests := []struct{ query, field string }{
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"cursor=%21%21%21", "cursor"},
		{"cursor=bm90LWEtY3Vyc29y", "cursor"},
		{"direction=sideways", "direction"},
		{"status=lost", "status"},
		{"created_after=yesterday", "created_after"},
		{"created_before=2026-13-01", "created_before"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			e.t = t
			e.do(request{method: "GET", path: "/v1/messages?" + tt.query}).apiError(400, "invalid_parameter", tt.field)
		})
	}
	e.t = t
	for _, q := range []string{"limit=1", "limit=500", "limit=&cursor=&status="} {
		e.do(request{method: "GET", path: "/v1/messages?" + q}).status(200)
	}
}

func TestCancelAndDelete(t *testing.T) {
	t.Parallel()
	for name, newStore := range storeFactories {
		t.Run(name, func(t *testing.T) { testCancelAndDelete(t, newEnvOn(t, newStore(t))) })
	}
}

func testCancelAndDelete(t *testing.T, e *testEnv) {
	id := e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "hi"}`)["id"].(string)
	e.clock.Advance(time.Second)
	m := e.do(request{method: "POST", path: "/v1/messages/" + id + "/cancel"}).status(200).json()
	if m["status"] != "canceled" || len(m["events"].([]any)) != 2 || m["updated_at"] != "2026-11-20T10:00:01.000Z" {
		t.Errorf("canceled message = %v", m)
	}
	e.do(request{method: "POST", path: "/v1/messages/" + id + "/cancel"}).apiError(409, "conflict", "")

	scheduled := e.send(`{"from": "+14155550100", "to": "+14155550101", "text": "hi", "send_at": "2027-01-01T00:00:00Z"}`)["id"].(string)
	e.do(request{method: "DELETE", path: "/v1/messages/" + scheduled}).status(204)
	e.do(request{method: "GET", path: "/v1/messages/" + scheduled}).apiError(404, "not_found", "")
	e.do(request{method: "DELETE", path: "/v1/messages/" + scheduled}).apiError(404, "not_found", "")
	e.do(request{method: "POST", path: "/v1/messages/" + scheduled + "/cancel"}).apiError(404, "not_found", "")
	items := e.do(request{method: "GET", path: "/v1/messages"}).status(200).json()["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Errorf("list after delete = %v", items)
	}
}

func TestInbound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.do(request{method: "POST", path: "/v1/inbound", body: `{"from": "+14155550101", "to": "+1 415 555 0100", "text": "STOP please", "provider": "twilio"}`}).status(201).json()
	if m["direction"] != "inbound" || m["status"] != "received" || m["to"] != "+14155550100" || m["provider"] != "twilio" || m["provider_message_id"] != nil {
		t.Errorf("inbound = %v", m)
	}
	m = e.do(request{method: "POST", path: "/v1/inbound", body: `{"from": "+14155550101", "to": "+14155550100", "text": "hi"}`}).status(201).json()
	if m["provider"] != nil {
		t.Errorf("provider = %v, want null", m["provider"])
	}
	if n := len(e.do(request{method: "GET", path: "/v1/messages?direction=inbound"}).status(200).json()["items"].([]any)); n != 2 {
		t.Errorf("%d inbound messages listed", n)
	}
	tests := []struct{ body, code, field string }{
		{`{"to": "+14155550100", "text": "hi"}`, "missing_parameter", "from"},
		{`{"from": "+14155550101", "to": 1, "text": "hi"}`, "invalid_parameter", "to"},
		{`{"from": "+14155550101", "to": "+14155550100"}`, "missing_parameter", "text"},
		{`{"from": "+14155550101", "to": "+14155550100", "text": "hi", "provider": "nope"}`, "invalid_parameter", "provider"},
		{`[]`, "invalid_json", ""},
	}
	for _, tt := range tests {
		e.do(request{method: "POST", path: "/v1/inbound", body: tt.body}).apiError(400, tt.code, tt.field)
	}
}

func TestProviders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.provs.setHealthy("twilio", false)
	items := e.do(request{method: "GET", path: "/v1/providers"}).status(200).json()["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("items = %v", items)
	}
	p := items[0].(map[string]any)
	st := p["stats"].(map[string]any)
	caps := p["capabilities"].(map[string]any)
	if p["name"] != "loopback" || p["plugin"] != "smsgw-provider-loopback" || p["healthy"] != true || p["breaker"] != "closed" ||
		st["success_percentage"] != 75.0 || st["messages_failed"] != 1.0 || caps["max_batch"] != 100.0 || caps["inbound"] != true {
		t.Errorf("provider = %v", p)
	}
	if items[1].(map[string]any)["healthy"] != false {
		t.Errorf("twilio = %v", items[1])
	}
	b := e.do(request{method: "GET", path: "/v1/providers/loopback/balance"}).status(200).json()
	if b["amount"] != "12.50" || b["currency"] != "EUR" {
		t.Errorf("balance = %v", b)
	}
	e.do(request{method: "GET", path: "/v1/providers/twilio/balance"}).apiError(501, "not_implemented", "")
	e.do(request{method: "GET", path: "/v1/providers/nope/balance"}).apiError(404, "not_found", "")
	e.do(request{method: "GET", path: "/v1/providers/loopback/balance", noAuth: true}).apiError(401, "unauthorized", "")
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(request{method: "POST", path: "/webhooks/loopback/inbound?sig=1", noAuth: true,
		body: `{"from": "+14155550101", "to": "+14155550100", "text": "hello", "id": "lb-1"}`}).status(200)
	if r.Body.String() != `{"ok":true}` || r.Header().Get("X-Plugin") != "loopback" || r.Header().Get("Content-Type") != "application/json" {
		t.Errorf("answer = %q %v", r.Body, r.Header())
	}
	got := e.provs.lastWebhook()
	if got.Method != "POST" || got.Path != "/inbound" || got.URL != "https://sms.example.com/webhooks/loopback/inbound?sig=1" ||
		!strings.Contains(string(got.Body), "lb-1") || got.Headers["Content-Type"][0] != "application/json" {
		t.Errorf("plugin got %+v", got)
	}
	// Committed before the answer: the inbound message belongs to the default account.
	items := e.do(request{method: "GET", path: "/v1/messages?direction=inbound"}).status(200).json()["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["provider_message_id"] != "lb-1" {
		t.Errorf("inbound after webhook = %v", items)
	}
	// The plugin's refusal passes through as is.
	r = e.do(request{method: "GET", path: "/webhooks/twilio/status/deep/path", noAuth: true}).status(400)
	if r.Body.String() != "bad webhook" || e.provs.lastWebhook().Path != "/status/deep/path" {
		t.Errorf("refusal = %q, path %q", r.Body, e.provs.lastWebhook().Path)
	}
	e.do(request{method: "POST", path: "/webhooks/nope/inbound", noAuth: true, body: `{}`}).apiError(404, "not_found", "")
	if strings.Contains(e.logs.String(), "/webhooks/loopback/inbound") {
		t.Error("webhook paths (which may hold secret tokens) reached the access log")
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if v := e.do(request{method: "GET", path: "/readyz", noAuth: true}).status(200).json(); v["ready"] != true {
		t.Errorf("readyz = %v", v)
	}
	e.provs.setHealthy("twilio", false)
	v := e.do(request{method: "GET", path: "/readyz", noAuth: true}).status(503).json()
	if reasons, _ := v["reasons"].([]any); v["ready"] != false || len(reasons) != 1 || reasons[0] != "provider twilio: unhealthy" {
		t.Errorf("readyz = %v", v)
	}
	e.provs.setHealthy("twilio", true)
	e.store.setDown(ports.ErrUnavailable)
	e.do(request{method: "GET", path: "/readyz", noAuth: true}).status(503)
}

func TestOperations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(request{method: "GET", path: "/healthz", noAuth: true}).status(200)
	if v := e.do(request{method: "GET", path: "/version", noAuth: true}).status(200).json(); v["version"] != "1.2.3" || v["commit"] != "abc123" || v["go"] != "go1.26" {
		t.Errorf("version = %v", v)
	}
	if r := e.do(request{method: "GET", path: "/openapi.yaml", noAuth: true}).status(200); !bytes.Equal(r.Body.Bytes(), OpenAPISpec()) {
		t.Error("openapi.yaml differs from the embedded spec")
	}
	// The breaker states come from the gateway (all closed here: no send failed); the
	// integration tests see them open and close.
	r := e.do(request{method: "GET", path: "/metrics", noAuth: true}).status(200)
	for _, want := range []string{
		`http_requests_total{code="200",method="GET",route="/version"} 1`, "http_request_duration_seconds_bucket",
		`smsgw_provider_breaker_state{provider="loopback",state="closed"} 1`,
		`smsgw_provider_breaker_state{provider="loopback",state="open"} 0`,
		`smsgw_provider_breaker_state{provider="twilio",state="closed"} 1`,
		`smsgw_provider_breaker_state{provider="twilio",state="half_open"} 0`,
	} {
		if !strings.Contains(r.Body.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, r.Body)
		}
	}
	e.do(request{method: "GET", path: "/nowhere", noAuth: true}).apiError(404, "not_found", "")
	e.do(request{method: "PUT", path: "/v1/messages"}).apiError(404, "not_found", "")
	// A second handler on the same registry reuses the collectors.
	reg := prometheus.NewRegistry()
	New(Options{Registry: reg})
	New(Options{Registry: reg})
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		trusted []string
		want    string
	}{
		{"none trusted by default", nil, `"client_ip":"192.0.2.1"`},
		{"trusted proxy", []string{"192.0.2.0/24"}, `"client_ip":"203.0.113.9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			h := New(Options{
				Logger:         hclog.New(&hclog.LoggerOptions{Output: logs, JSONFormat: true}),
				TrustedProxies: tt.trusted,
			})
			req := httptest.NewRequest("GET", "/healthz", nil) // RemoteAddr 192.0.2.1
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			h.ServeHTTP(httptest.NewRecorder(), req)
			if !strings.Contains(logs.String(), tt.want) {
				t.Errorf("access log %s lacks %s", logs.String(), tt.want)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("a", 129)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"echoed", "req-123_ABC.x", true},
		{"max length", strings.Repeat("b", 128), true},
		{"too long", long, false},
		{"space", "a b", false},
		{"control", "a\x01", false},
		{"non-ascii", "ré", false},
		{"absent", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			h := map[string]string{}
			if tt.sent != "" {
				h[headerRequestID] = tt.sent
			}
			for _, req := range []request{
				{method: "GET", path: "/healthz", noAuth: true, header: h},
				{method: "GET", path: "/v1/messages", noAuth: true, header: h}, // 401
				{method: "GET", path: "/v1/messages/x", header: h},             // 404
			} {
				got := e.do(req).Header().Get(headerRequestID)
				if tt.echoed != (got == tt.sent) || len(got) > maxRequestIDLen {
					t.Errorf("%s: X-Request-Id = %q (sent %q)", req.path, got, tt.sent)
				}
			}
		})
	}
}

func TestPanicIsInternal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.engine.GET("/boom", func(*gin.Context) { panic("secret panic text: db password hunter2") })
	r := e.do(request{method: "GET", path: "/boom", noAuth: true, header: map[string]string{headerRequestID: "panic-req"}})
	r.apiError(500, "internal", "")
	if strings.Contains(r.Body.String(), "secret") || strings.Contains(r.Body.String(), "hunter2") {
		t.Errorf("panic text leaked: %s", r.Body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "hunter2") || !strings.Contains(logs, "panic-req") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with request id and stack:\n%s", logs)
	}
}

func TestStoreFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(request{method: "GET", path: "/v1/messages"}).status(200) // warms the auth cache
	e.store.setDown(errors.New("pq: connection to 10.0.0.7 refused, password=hunter2"))
	r := e.do(request{method: "GET", path: "/v1/messages/x", header: map[string]string{headerRequestID: "fail-req"}})
	r.apiError(500, "internal", "")
	if strings.Contains(r.Body.String(), "hunter2") || !strings.Contains(e.logs.String(), "fail-req") {
		t.Errorf("body %s / logs %s", r.Body, e.logs.String())
	}
	e.store.setDown(fmtWrap("begin tx", ports.ErrUnavailable))
	r = e.do(request{method: "POST", path: "/v1/messages", body: `{"from": "+14155550100", "to": "+14155550101", "text": "hi"}`})
	r.apiError(503, "unavailable", "")
	if r.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// Not yet verified credentials cannot be checked either: 503, not 401.
	e.do(request{method: "GET", path: "/v1/messages", user: "bob", pass: bobPass}).apiError(503, "unavailable", "")
}

func fmtWrap(op string, err error) error { return errors.Join(errors.New(op), err) }

func TestErrorTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{errors.Join(errors.New("x"), ports.ErrNotFound), 404, "not_found", false},
		{errors.Join(errors.New("x"), ports.ErrConflict), 409, "conflict", false},
		{errors.Join(errors.New("x"), ports.ErrInvalid), 400, "invalid_parameter", false},
		{errors.Join(errors.New("x"), ports.ErrRejected), 403, "rejected", false},
		{errors.Join(errors.New("x"), ports.ErrNotImplemented), 501, "not_implemented", false},
		{errors.Join(errors.New("x"), ports.ErrUnavailable), 503, "unavailable", true},
		{context.DeadlineExceeded, 503, "unavailable", true},
		{&http.MaxBytesError{Limit: 1}, 413, "payload_too_large", false},
		{errors.New("secret"), 500, "internal", false},
	}
	for _, tt := range tests {
		status, body, ra := errorResponse(tt.err)
		if status != tt.status || body.Code != tt.code || (ra > 0) != tt.retryAfter || strings.Contains(body.Message, "secret") {
			t.Errorf("%v -> %d %+v %d", tt.err, status, body, ra)
		}
	}
}

// TestRealServer checks the body limit and auth over a real connection, where a chunked
// body has no Content-Length and net/http, not the recorder, owns the connection.
func TestRealServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewServer(e.engine)
	t.Cleanup(srv.Close)
	client := srv.Client()
	t.Cleanup(client.CloseIdleConnections)

	big := `{"from": "+14155550100", "to": "+14155550101", "text": "hi", "pad": "` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name   string
		body   io.Reader
		auth   bool
		status int
	}{
		{"chunked over the limit", io.MultiReader(strings.NewReader(big)), true, http.StatusRequestEntityTooLarge},
		{"sized over the limit", strings.NewReader(big), true, http.StatusRequestEntityTooLarge},
		{"no credentials", strings.NewReader(`{}`), false, http.StatusUnauthorized},
		{"accepted", io.MultiReader(strings.NewReader(`{"from": "+14155550100", "to": "+14155550101", "text": "hi"}`)), true, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", srv.URL+"/v1/messages", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth {
				req.SetBasicAuth("alice", alicePass)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if _, ok := tt.body.(*strings.Reader); !ok && req.ContentLength != 0 {
				t.Fatalf("request has a Content-Length (%d); the case needs a chunked body", req.ContentLength)
			}
			if res.StatusCode != tt.status || res.Header.Get(headerRequestID) == "" {
				b, _ := io.ReadAll(res.Body)
				t.Errorf("status = %d, want %d; request id %q; body %s", res.StatusCode, tt.status, res.Header.Get(headerRequestID), b)
			}
		})
	}
}
