package flowroute

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

// owned reports whether the dialect mounted at prefix owns the request path, and which
// openapi.yaml path it falls under (openapi.yaml describes the default prefix "/"). At "/"
// it owns its three paths only; under a prefix, the prefix and everything below it.
func owned(prefix, path string) (string, bool) {
	if prefix == "/" {
		switch path {
		case "/", "/tn", "/session":
			return path, true
		}
		return "", false
	}
	if path == prefix {
		return "/", true
	}
	rest, ok := strings.CutPrefix(path, prefix+"/")
	return "/" + rest, ok
}

// checkSpec holds an answer to what openapi.yaml says of the request: an operation of the
// dialect's answers as documented; any other request to a path the dialect owns is a 404
// or 405 FlowrouteProxyError; a request to a path it does not own is the gateway's, in
// v1's error shape (ErrorBody) when it is an error.
func checkSpec(t *testing.T, prefix string, r *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	spec := compattest.Spec(t)
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s %s: body %q: %v", r.Method, r.URL.Path, rec.Body, err)
	}
	path, ok := owned(prefix, r.URL.Path)
	if !ok {
		if rec.Code >= 400 {
			if err := spec.Components.Schemas["ErrorBody"].Value.VisitJSON(v); err != nil {
				t.Errorf("%s %s (not the dialect's): body %s is not v1's ErrorBody: %v", r.Method, r.URL.Path, rec.Body, err)
			}
		}
		return
	}
	// Under a prefix, a path below it that is also a v1 path (/proxy/v1/messages) is
	// still no operation of the dialect.
	var op *openapi3.Operation
	if item := spec.Paths.Value(path); item != nil {
		if o := item.GetOperation(r.Method); o != nil && o.Extensions["x-dialect"] == "flowroute_proxy" {
			op = o
		}
	}
	if op == nil {
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: %d from an operation openapi.yaml does not describe", r.Method, r.URL.Path, rec.Code)
		}
		if err := spec.Components.Schemas["FlowrouteProxyError"].Value.VisitJSON(v); err != nil {
			t.Errorf("%s %s: body %s does not match FlowrouteProxyError: %v", r.Method, r.URL.Path, rec.Body, err)
		}
		return
	}
	compattest.CheckAnswer(t, r.Method+" "+path, op, rec)
}

// The dialect mounts exactly its paths (every method) at "/", the prefix and its
// catch-all elsewhere, and openapi.yaml describes exactly its operations, each with every
// status it can answer.
func TestSpecDescribesTheRoutes(t *testing.T) {
	t.Parallel()
	anyMethod := []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
	for prefix, want := range map[string][]string{
		"/":         {"/", "/tn", "/session"},
		"/proxy":    {"/proxy", "/proxy/*rest"},
		"/a/b-c.d~": {"/a/b-c.d~", "/a/b-c.d~/*rest"},
	} {
		e := gin.New()
		d, err := New(newFakeCore(&clock{t: start}), nil, Options{Provider: testProvider, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		d.Mount(e, nil)
		mounted := map[string][]string{}
		for _, r := range e.Routes() {
			mounted[r.Path] = append(mounted[r.Path], r.Method)
		}
		if len(mounted) != len(want) {
			t.Errorf("at %s: mounted %v, want %v", prefix, mounted, want)
		}
		for _, p := range want {
			slices.Sort(mounted[p])
			if !slices.Equal(mounted[p], anyMethod) {
				t.Errorf("at %s: %s: methods %v, want all of %v", prefix, p, mounted[p], anyMethod)
			}
		}
	}

	spec := compattest.Spec(t)
	described := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Extensions["x-dialect"] == "flowroute_proxy" {
				described[method+" "+path] = true
			}
		}
	}
	want := map[string][]int{
		"POST /tn":        {200, 400, 401, 413, 500},
		"GET /tn":         {200, 401, 413, 500},
		"DELETE /tn":      {200, 400, 401, 404, 413, 500},
		"POST /session":   {200, 400, 401, 413, 500},
		"GET /session":    {200, 401, 413, 500},
		"DELETE /session": {200, 400, 401, 404, 413, 500},
		"POST /":          {200, 400, 401, 413, 500},
	}
	for k := range described {
		if want[k] == nil {
			t.Errorf("%s is in openapi.yaml (x-dialect: flowroute_proxy) but is not an operation of the dialect", k)
		}
	}
	for k, codes := range want {
		if !described[k] {
			t.Errorf("%s is not in openapi.yaml with x-dialect: flowroute_proxy", k)
			continue
		}
		method, path, _ := strings.Cut(k, " ")
		op := spec.Paths.Value(path).GetOperation(method)
		for _, code := range codes {
			if op.Responses.Status(code) == nil {
				t.Errorf("%s: %d undocumented", k, code)
			}
		}
		if len(op.Responses.Map()) != len(codes) {
			t.Errorf("%s: documents %d statuses, the dialect answers %v", k, len(op.Responses.Map()), codes)
		}
		if op.Security != nil {
			t.Errorf("%s: every route needs Basic auth (the default security)", k)
		}
	}
}
