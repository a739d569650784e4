// Package compattest holds the test helpers the legacy dialects under compat/ share: an
// account store, a log sink, requests with Basic credentials, and the served OpenAPI
// document. It is imported only by _test files; the dialects' own fakes stay with them.
package compattest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"golang.org/x/crypto/bcrypt"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/ports"
)

// The credentials of the one account of Accounts.
const (
	User = "alice"
	Pass = "correct horse"
)

var (
	hashOnce sync.Once
	hash     string
)

// Hash is a real bcrypt hash of Pass, computed once: the authenticator under test checks it
// as it would a stored one. MinCost keeps the tests fast.
func Hash() string {
	hashOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte(Pass), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		hash = string(h)
	})
	return hash
}

// Accounts is an account store with one account, User with the hash of Pass, that can go
// down. (porttest.MemStore would do, but it does not compile while ports.Tx is growing.)
type Accounts struct {
	mu  sync.Mutex
	err error
}

// NewAccounts returns the store, up.
func NewAccounts() *Accounts { return &Accounts{} }

// SetErr makes every lookup fail with err (nil: up again).
func (a *Accounts) SetErr(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = err
}

// GetAccount implements the account lookup of httpapi.Options.Accounts.
func (a *Accounts) GetAccount(_ context.Context, id string) (ports.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return ports.Account{}, a.err
	}
	if id != User {
		return ports.Account{}, ports.ErrNotFound
	}
	return ports.Account{ID: User, PasswordHash: Hash()}, nil
}

// SyncBuffer is a log sink safe for concurrent handlers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Request is a request to a dialect's route; the zero value is a POST with User's
// credentials and an empty body.
type Request struct {
	Method     string // default POST
	Path       string
	Body       string
	BodyReader io.Reader // instead of Body; sent without Content-Length (chunked)
	User, Pass string    // default User/Pass
	NoAuth     bool
	AuthHeader string // instead of User and Pass
}

// HTTP builds r as a JSON request, with Basic credentials unless NoAuth or AuthHeader.
func (r Request) HTTP() *http.Request {
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	body := r.BodyReader
	if body == nil {
		body = strings.NewReader(r.Body)
	}
	hr := httptest.NewRequest(r.Method, r.Path, body)
	if r.BodyReader != nil {
		hr.ContentLength = -1
	}
	hr.Header.Set("Content-Type", "application/json")
	switch {
	case r.AuthHeader != "":
		hr.Header.Set("Authorization", r.AuthHeader)
	case !r.NoAuth:
		user, pass := r.User, r.Pass
		if user == "" {
			user, pass = User, Pass
		}
		hr.SetBasicAuth(user, pass)
	}
	return hr
}

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

// Spec is the served OpenAPI document, which describes the dialects too, loaded and
// validated once.
func Spec(t *testing.T) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		if spec, specErr = loader.LoadFromData(httpapi.OpenAPISpec()); specErr == nil {
			specErr = spec.Validate(loader.Context)
		}
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return spec
}

// CheckAnswer holds rec to what op documents for its status: the JSON body's schema and the
// required headers. what names the request in failures ("POST /sms").
func CheckAnswer(t *testing.T, what string, op *openapi3.Operation, rec *httptest.ResponseRecorder) {
	t.Helper()
	ref := op.Responses.Status(rec.Code)
	if ref == nil || ref.Value == nil {
		t.Fatalf("%s: status %d is not documented", what, rec.Code)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if err := ref.Value.Content.Get("application/json").Schema.Value.VisitJSON(v); err != nil {
		t.Errorf("%s %d: body %s does not match openapi.yaml: %v", what, rec.Code, rec.Body, err)
	}
	for name, h := range ref.Value.Headers {
		if rec.Header().Get(name) == "" && h.Value.Required {
			t.Errorf("%s %d: no %s", what, rec.Code, name)
		}
	}
}

// BadCredential is a request's credentials, by name, that the authenticator must refuse.
type BadCredential struct {
	Name string
	Req  Request // the credentials only; the test sets the route and body
}

// BadCredentials are the ways a request's Basic credentials can be wrong; a dialect
// answers each one 401 with WWW-Authenticate, as v1 does.
func BadCredentials() []BadCredential {
	return []BadCredential{
		{"no credentials", Request{NoAuth: true}},
		{"wrong password", Request{User: User, Pass: "wrong"}},
		{"unknown user", Request{User: "mallory", Pass: Pass}},
		{"empty user", Request{AuthHeader: "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+Pass))}},
		{"not Basic", Request{AuthHeader: "Bearer " + Pass}},
		{"malformed Basic", Request{AuthHeader: "Basic !!!"}},
	}
}
