package smsapp

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/smsgw/smsgw/adapters/httpapi"
)

var (
	specOnce sync.Once
	spec     *openapi3.T
	specErr  error
)

// loadSpec loads and validates the served OpenAPI document, which describes this dialect.
func loadSpec(t *testing.T) *openapi3.T {
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

// checkSpec holds a POST answer to the operation openapi.yaml describes for its path.
func checkSpec(t *testing.T, path string, rec *httptest.ResponseRecorder) {
	t.Helper()
	item := loadSpec(t).Paths.Value(path)
	if item == nil || item.Post == nil {
		t.Fatalf("POST %s is not in openapi.yaml", path)
	}
	ref := item.Post.Responses.Status(rec.Code)
	if ref == nil || ref.Value == nil {
		t.Fatalf("POST %s: status %d is not documented", path, rec.Code)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if err := ref.Value.Content.Get("application/json").Schema.Value.VisitJSON(v); err != nil {
		t.Errorf("POST %s %d: body %s does not match openapi.yaml: %v", path, rec.Code, rec.Body, err)
	}
	for name, h := range ref.Value.Headers {
		if rec.Header().Get(name) == "" && h.Value.Required {
			t.Errorf("POST %s %d: no %s", path, rec.Code, name)
		}
	}
}

func TestSpecDescribesTheRoutes(t *testing.T) {
	t.Parallel()
	e := gin.New()
	New(&fakeCore{}, nil, "").Mount(e, nil)
	served := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method == "POST" {
			served[r.Path] = true
		}
	}
	described := map[string]bool{}
	for path, item := range loadSpec(t).Paths.Map() {
		for method, op := range item.Operations() {
			if op.Extensions["x-dialect"] == "smsapp" {
				if method != "POST" {
					t.Errorf("%s %s: only POST is served", method, path)
				}
				described[path] = true
			}
		}
	}
	if len(served) != 4 {
		t.Errorf("served %v", served)
	}
	for p := range served {
		if !described[p] {
			t.Errorf("POST %s is served but not in openapi.yaml (with x-dialect: smsapp)", p)
		}
	}
	for p := range described {
		if !served[p] {
			t.Errorf("POST %s is in openapi.yaml but not served", p)
		}
	}
	// Every status the dialect answers is documented on each operation it can occur on.
	for _, p := range allPaths {
		for _, code := range []int{200, 400, 401, 405, 413, 500} {
			if loadSpec(t).Paths.Value(p).Post.Responses.Status(code) == nil {
				t.Errorf("POST %s: %s undocumented", p, strconv.Itoa(code))
			}
		}
	}
}
