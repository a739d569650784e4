package dhos

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
)

// specPath is the openapi.yaml path a request path falls under: itself, or
// /dhos/v1/sms/{uuid} for /dhos/v1/sms/<one segment> but callback and bulk_update.
func specPath(path string) string {
	rest, ok := strings.CutPrefix(path, Prefix+"/sms/")
	if ok && rest != "" && !strings.Contains(rest, "/") && rest != "callback" && rest != "bulk_update" {
		return Prefix + "/sms/{uuid}"
	}
	return path
}

// checkSpec holds an answer to the operation openapi.yaml describes for the request. A
// request to no operation must be a 404 or 405 DHOSError; a 204 must be documented and
// have no body.
func checkSpec(t *testing.T, r *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	spec := compattest.Spec(t)
	path := specPath(r.URL.Path)
	var op *openapi3.Operation
	if item := spec.Paths.Value(path); item != nil {
		op = item.GetOperation(r.Method)
	}
	if op == nil {
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: %d from an operation openapi.yaml does not describe", r.Method, r.URL.Path, rec.Code)
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s: body %q: %v", r.Method, r.URL.Path, rec.Body, err)
		}
		if err := spec.Components.Schemas["DHOSError"].Value.VisitJSON(v); err != nil {
			t.Errorf("%s %s: body %s does not match DHOSError: %v", r.Method, r.URL.Path, rec.Body, err)
		}
		return
	}
	if op.Extensions["x-dialect"] != "dhos" {
		t.Fatalf("%s %s is not marked x-dialect: dhos", r.Method, path)
	}
	if rec.Code == http.StatusNoContent {
		if op.Responses.Status(rec.Code) == nil {
			t.Errorf("%s %s: 204 is not documented", r.Method, path)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("%s %s: 204 with a body %q", r.Method, path, rec.Body)
		}
		return
	}
	compattest.CheckAnswer(t, r.Method+" "+path, op, rec)
}

// The dialect mounts exactly /running, the prefix and its catch-all (every method), and
// openapi.yaml describes exactly its operations, each with every status it can answer.
func TestSpecDescribesTheRoutes(t *testing.T) {
	t.Parallel()
	e := gin.New()
	d, err := New(newFakeCore(now), nil, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	d.Mount(e, nil)
	mounted := map[string][]string{}
	for _, r := range e.Routes() {
		mounted[r.Path] = append(mounted[r.Path], r.Method)
	}
	anyMethod := []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
	if len(mounted) != 3 {
		t.Errorf("mounted %v, want /running, %s and %s/*rest", mounted, Prefix, Prefix)
	}
	for _, p := range []string{"/running", Prefix, Prefix + "/*rest"} {
		slices.Sort(mounted[p])
		if !slices.Equal(mounted[p], anyMethod) {
			t.Errorf("%s: methods %v, want all of %v", p, mounted[p], anyMethod)
		}
	}

	spec := compattest.Spec(t)
	described := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Extensions["x-dialect"] == "dhos" {
				described[method+" "+path] = true
			}
		}
	}
	want := map[string][]int{
		"GET /running":                   {200, 413},
		"POST /dhos/v1/sms":              {200, 400, 401, 403, 413, 429, 500},
		"GET /dhos/v1/sms":               {200, 400, 401, 413, 500},
		"GET /dhos/v1/sms/{uuid}":        {200, 401, 404, 413, 500},
		"DELETE /dhos/v1/sms/{uuid}":     {200, 400, 401, 403, 404, 413, 500},
		"POST /dhos/v1/sms/callback":     {204, 400, 403, 404, 413, 500, 503},
		"GET /dhos/v1/sms/bulk_update":   {204, 401, 413, 500},
		"POST /dhos/v1/sms/bulk_update":  {204, 401, 413, 500},
		"GET /dhos/v1/sms_status_counts": {200, 400, 401, 413, 500},
	}
	for k := range described {
		if want[k] == nil {
			t.Errorf("%s is in openapi.yaml (x-dialect: dhos) but is not an operation of the dialect", k)
		}
	}
	for k, codes := range want {
		if !described[k] {
			t.Errorf("%s is not in openapi.yaml with x-dialect: dhos", k)
			continue
		}
		method, path, _ := strings.Cut(k, " ")
		op := spec.Paths.Value(path).GetOperation(method)
		for _, code := range codes {
			if op.Responses.Status(code) == nil {
				t.Errorf("%s: %d undocumented", k, code)
			}
		}
		// Only the routes without Basic auth say so.
		noAuth := op.Security != nil && len(*op.Security) == 0
		if wantNoAuth := k == "GET /running" || k == "POST /dhos/v1/sms/callback"; noAuth != wantNoAuth {
			t.Errorf("%s: security: [] is %v, want %v", k, noAuth, wantNoAuth)
		}
	}
}
