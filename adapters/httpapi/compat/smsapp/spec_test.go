package smsapp

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
)

// checkSpec holds a POST answer to the operation openapi.yaml describes for its path.
func checkSpec(t *testing.T, path string, rec *httptest.ResponseRecorder) {
	t.Helper()
	item := compattest.Spec(t).Paths.Value(path)
	if item == nil || item.Post == nil {
		t.Fatalf("POST %s is not in openapi.yaml", path)
	}
	compattest.CheckAnswer(t, "POST "+path, item.Post, rec)
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
	for path, item := range compattest.Spec(t).Paths.Map() {
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
			if compattest.Spec(t).Paths.Value(p).Post.Responses.Status(code) == nil {
				t.Errorf("POST %s: %s undocumented", p, strconv.Itoa(code))
			}
		}
	}
}
