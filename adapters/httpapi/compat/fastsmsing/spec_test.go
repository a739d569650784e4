package fastsmsing

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

// specPath is the openapi.yaml path a request path falls under: itself, or /sms/{id} for
// /sms/<one segment>.
func specPath(path string) string {
	if rest, ok := strings.CutPrefix(path, "/sms/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return "/sms/{id}"
	}
	return path
}

// checkSpec holds an answer to the operation openapi.yaml describes for the request; a
// request to no operation must be the 404 the spec's FastSMSingNotFound describes.
func checkSpec(t *testing.T, r *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	path := specPath(r.URL.Path)
	var op *openapi3.Operation
	if item := compattest.Spec(t).Paths.Value(path); item != nil {
		op = item.GetOperation(r.Method)
	}
	if op == nil {
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s %s: %d from an operation openapi.yaml does not describe", r.Method, r.URL.Path, rec.Code)
		}
		if err := compattest.Spec(t).Components.Schemas["FastSMSingNotFound"].Value.VisitJSON(v); err != nil {
			t.Errorf("%s %s: body %s does not match FastSMSingNotFound: %v", r.Method, r.URL.Path, rec.Body, err)
		}
		return
	}
	if op.Extensions["x-dialect"] != "fastsmsing" {
		t.Fatalf("%s %s is not marked x-dialect: fastsmsing", r.Method, path)
	}
	compattest.CheckAnswer(t, r.Method+" "+path, op, rec)
}

// The dialect mounts exactly /sms and its catch-all (every method), and openapi.yaml
// describes exactly its three operations, each with every status it can answer.
func TestSpecDescribesTheRoutes(t *testing.T) {
	t.Parallel()
	e := gin.New()
	New(&fakeCore{}, nil, "", "").Mount(e, nil)
	mounted := map[string][]string{}
	for _, r := range e.Routes() {
		mounted[r.Path] = append(mounted[r.Path], r.Method)
	}
	anyMethod := []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
	if len(mounted) != 2 {
		t.Errorf("mounted %v, want /sms and /sms/*rest", mounted)
	}
	for _, p := range []string{"/sms", "/sms/*rest"} {
		slices.Sort(mounted[p])
		if !slices.Equal(mounted[p], anyMethod) {
			t.Errorf("%s: methods %v, want all of %v", p, mounted[p], anyMethod)
		}
	}

	described := map[string]bool{}
	for path, item := range compattest.Spec(t).Paths.Map() {
		for method, op := range item.Operations() {
			if op.Extensions["x-dialect"] == "fastsmsing" {
				described[method+" "+path] = true
			}
		}
	}
	want := map[string][]int{
		"POST /sms":     {202, 400, 401, 403, 413, 500},
		"POST /sms/":    {202, 400, 401, 403, 413, 500},
		"GET /sms/{id}": {200, 401, 413, 500},
	}
	for k := range described {
		if want[k] == nil {
			t.Errorf("%s is in openapi.yaml (x-dialect: fastsmsing) but is not an operation of the dialect", k)
		}
	}
	for k, codes := range want {
		if !described[k] {
			t.Errorf("%s is not in openapi.yaml with x-dialect: fastsmsing", k)
			continue
		}
		method, path, _ := strings.Cut(k, " ")
		op := compattest.Spec(t).Paths.Value(path).GetOperation(method)
		for _, code := range codes {
			if op.Responses.Status(code) == nil {
				t.Errorf("%s: %d undocumented", k, code)
			}
		}
	}
	// Each described operation is served (not the catch-all 404).
	env := newEnv(t, "")
	for _, r := range []req{{Path: "/sms", Body: valid}, {Path: "/sms/", Body: valid}, {Method: http.MethodGet, Path: "/sms/m1"}} {
		if got := env.do(r); got.rec.Code == http.StatusNotFound {
			t.Errorf("%s %s: 404", r.Method, r.Path)
		}
	}
}
