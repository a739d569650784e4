package dhos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/ports"
)

// The generic refusals (flaskreply.Kit): Flask's reason phrases, as the legacy service sent.
const (
	textUnauth   = "Unauthorized"
	textTooLarge = "Request Entity Too Large"
	textFailure  = "Internal Server Error"
)

// authOps are the operations that need Basic credentials, each with a request that would
// otherwise succeed.
var authOps = []req{
	{method: http.MethodPost, path: smsPath, body: `{"sender": "ACME", "receiver": "07911123456", "content": "hi"}`},
	{method: http.MethodPost, path: smsPath, body: `[]`, tenant: http.Header{}}, // 401 before headers and body
	{method: http.MethodGet, path: smsPath},
	{method: http.MethodGet, path: smsPath + "/m1"},
	{method: http.MethodDelete, path: smsPath + "/m1"},
	{method: http.MethodGet, path: bulkPath},
	{method: http.MethodPost, path: bulkPath},
	{method: http.MethodGet, path: countsPath + "?start_date=2026-11-20&end_date=2026-11-20"},
}

func TestRunning(t *testing.T) {
	t.Parallel()
	for _, auth := range []compattest.Request{{}, {NoAuth: true}, {User: "mallory", Pass: "x"}} {
		e := newEnv(t, nil)
		e.accounts.SetErr(errors.New("the account store is never asked"))
		r := e.do(req{path: "/running", auth: auth, tenant: http.Header{}}).code(http.StatusOK)
		if got := strings.TrimSpace(r.rec.Body.String()); got != `{"running":true}` {
			t.Errorf("body %s", got)
		}
		e.noCoreCalls()
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	for _, op := range authOps {
		for _, c := range compattest.BadCredentials() {
			t.Run(op.method+" "+op.path+" "+c.Name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, nil)
				e.core.put(dhosMessage("m1", tenantTrustomer, tenantProduct))
				r := op
				r.auth = c.Req
				e.do(r).is(http.StatusUnauthorized, textUnauth).header("WWW-Authenticate", `Basic realm="smsgw"`)
				e.noCoreCalls()
			})
		}
	}
	t.Run("account store unavailable", func(t *testing.T) {
		t.Parallel()
		for _, op := range authOps {
			e := newEnv(t, nil)
			e.accounts.SetErr(fmt.Errorf("ping 10.0.0.7: %w", ports.ErrUnavailable))
			e.do(op).is(http.StatusInternalServerError, textFailure).header("WWW-Authenticate", "").notLeaking("10.0.0.7")
			e.logged("10.0.0.7")
			e.noCoreCalls()
		}
	})
}

func TestAnonymousAccount(t *testing.T) {
	t.Parallel()
	for _, auth := range []compattest.Request{{NoAuth: true}, {User: "mallory", Pass: "whatever"}, {}} {
		e := newEnv(t, func(o *Options) { o.AnonymousAccount = "legacy" })
		e.accounts.SetErr(errors.New("the store is never asked"))
		m := dhosMessage("old", tenantTrustomer, tenantProduct)
		m.AccountID = "legacy"
		e.core.put(m)
		for _, op := range authOps {
			r := op
			r.auth = auth
			if r.tenant != nil { // the 401 probe: here it gets as far as the headers
				e.do(r).is(http.StatusBadRequest, "X-Trustomer header is required")
				continue
			}
			if r.path == smsPath+"/m1" {
				r.path = smsPath + "/old"
			}
			if got := e.do(r).rec.Code; got >= 300 {
				t.Errorf("%s %s: %d", r.method, r.path, got)
			}
		}
		calls := e.core.recorded()
		if len(calls.sends) != 1 || calls.sends[0].AccountID != "legacy" ||
			len(calls.lists) != 1 || calls.lists[0].account != "legacy" ||
			len(calls.gets) != 2 || calls.gets[0].account != "legacy" ||
			len(calls.deletes) != 1 || calls.deletes[0].account != "legacy" ||
			len(calls.refreshes) != 2 || calls.refreshes[1].account != "legacy" ||
			len(calls.counts) != 1 || calls.counts[0].account != "legacy" {
			t.Fatalf("calls %+v", calls)
		}
	}
}

// Any other path under the prefix is 404 and a wrong method 405, before auth and whatever
// the body.
func TestOtherRoutes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method, path string
		allow        string // "" for 404
	}{
		{http.MethodGet, Prefix, ""},
		{http.MethodGet, Prefix + "/", ""},
		{http.MethodPost, Prefix + "/sms/", ""},
		{http.MethodGet, Prefix + "/sms/", ""},
		{http.MethodGet, Prefix + "/smsx", ""},
		{http.MethodGet, Prefix + "/SMS", ""},
		{http.MethodGet, Prefix + "/sms/m1/", ""},
		{http.MethodGet, Prefix + "/sms/m1/x", ""},
		{http.MethodGet, Prefix + "/sms/a%2Fb", ""}, // decoded to /sms/a/b
		{http.MethodGet, Prefix + "/sms//m1", ""},
		{http.MethodGet, Prefix + "/sms_status_counts/", ""},
		{http.MethodPost, Prefix + "/sms/callback/", ""},
		{http.MethodGet, Prefix + "/running", ""},
		{http.MethodPut, smsPath, "GET, POST"},
		{http.MethodDelete, smsPath, "GET, POST"},
		{http.MethodHead, smsPath, "GET, POST"},
		{http.MethodPost, smsPath + "/m1", "DELETE, GET"},
		{http.MethodPatch, smsPath + "/m1", "DELETE, GET"},
		{http.MethodGet, callbackPath, "POST"},
		{http.MethodDelete, callbackPath, "POST"},
		{http.MethodDelete, bulkPath, "GET, POST"},
		{http.MethodPut, bulkPath, "GET, POST"},
		{http.MethodPost, countsPath, "GET"},
		{http.MethodPost, "/running", "GET"},
		{http.MethodOptions, "/running", "GET"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			t.Parallel()
			for _, r := range []req{
				{method: c.method, path: c.path, body: `{}`},
				{method: c.method, path: c.path, body: `{}`, auth: compattest.Request{NoAuth: true}}, // nothing to guard
				{method: c.method, path: c.path, body: `{`, auth: compattest.Request{User: "mallory", Pass: "x"}, tenant: http.Header{}},
			} {
				e := newEnv(t, nil)
				if c.allow == "" {
					e.do(r).is(http.StatusNotFound, textNotFound).header("Allow", "")
				} else {
					e.do(r).is(http.StatusMethodNotAllowed, textMethod).header("Allow", c.allow)
				}
				e.noCoreCalls()
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	big := `{"sender": "ACME", "receiver": "07911123456", "content": "` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`
	for _, p := range []string{smsPath, callbackPath} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			// Declared Content-Length: refused by the shared limit before the handler runs.
			e.do(req{method: http.MethodPost, path: p, body: big}).is(http.StatusRequestEntityTooLarge, textTooLarge)
			// Chunked: refused while the handler reads.
			e.do(req{method: http.MethodPost, path: p, bodyReader: io.MultiReader(strings.NewReader(big))}).is(http.StatusRequestEntityTooLarge, textTooLarge)
			e.noCoreCalls()
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		body := `{"sender": "ACME", "receiver": "07911123456", "content": "` + strings.Repeat(" ", 1500)
		body += strings.Repeat(" ", httpapi.MaxBodyBytes-len(body)-3) + `x"}`
		if len(body) != httpapi.MaxBodyBytes {
			t.Fatal(len(body))
		}
		// 1500 + … spaces and an x: over the content bound, so the body was read in full.
		e.do(req{method: http.MethodPost, path: smsPath, bodyReader: bytes.NewReader([]byte(body))}).
			is(http.StatusBadRequest, "content must be at most 1600 characters")
	})
	t.Run("other operations", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.do(req{method: http.MethodGet, path: smsPath, body: big}).is(http.StatusRequestEntityTooLarge, textTooLarge)
		e.do(req{method: http.MethodGet, path: "/running", body: big}).is(http.StatusRequestEntityTooLarge, textTooLarge)
		e.do(req{method: http.MethodPut, path: smsPath + "/x/y", body: big}).is(http.StatusNotFound, textNotFound)
		e.do(req{method: http.MethodPut, path: smsPath, body: big}).is(http.StatusMethodNotAllowed, textMethod)
		e.noCoreCalls()
	})
}

func TestPanicIsFailure(t *testing.T) {
	t.Parallel()
	ops := append([]req{{method: http.MethodPost, path: callbackPath, auth: compattest.Request{NoAuth: true}}}, authOps...)
	for _, r := range ops {
		if r.tenant != nil {
			continue
		}
		e := newEnv(t, nil)
		e.core.put(dhosMessage("m1", tenantTrustomer, tenantProduct))
		e.core.panicV = "boom in core"
		e.do(r).is(http.StatusInternalServerError, textFailure)
		e.logged("boom in core")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mod  func(*Options)
		want string // "" for no error
	}{
		{"valid", func(*Options) {}, ""},
		{"lower-case country code", func(o *Options) { o.CountryCode = "gb" }, ""},
		{"http callback with port and path", func(o *Options) { o.CallbackURL = "http://10.0.0.1:8080/x/y" }, ""},
		{"no provider", func(o *Options) { o.Provider = "" }, "dhos: provider is required"},
		{"no country code", func(o *Options) { o.CountryCode = "" }, `dhos: country_code "" is not`},
		{"unknown country code", func(o *Options) { o.CountryCode = "UK" }, `dhos: country_code "UK" is not`},
		{"alpha-3 country code", func(o *Options) { o.CountryCode = "GBR" }, `dhos: country_code "GBR" is not`},
		{"numeric country code", func(o *Options) { o.CountryCode = "44" }, `dhos: country_code "44" is not`},
		{"no callback URL", func(o *Options) { o.CallbackURL = "" }, `dhos: callback_url "": required`},
		{"relative callback URL", func(o *Options) { o.CallbackURL = "/dhos/v1/sms/callback" }, "not an absolute http or https URL"},
		{"other scheme", func(o *Options) { o.CallbackURL = "ftp://example.com/cb" }, "not an absolute http or https URL"},
		{"no host", func(o *Options) { o.CallbackURL = "https:///cb" }, "no host"},
		{"opaque", func(o *Options) { o.CallbackURL = "https:example.com" }, "no host"},
		{"credentials", func(o *Options) { o.CallbackURL = "https://u:p@example.com/cb" }, "credentials"},
		{"query", func(o *Options) { o.CallbackURL = "https://example.com/cb?a=1" }, "a query"},
		{"empty query", func(o *Options) { o.CallbackURL = "https://example.com/cb?" }, "a query"},
		{"fragment", func(o *Options) { o.CallbackURL = "https://example.com/cb#x" }, "a fragment"},
		{"unparsable", func(o *Options) { o.CallbackURL = "https://exa mple.com/%zz" }, "dhos: callback_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			c.mod(&opts)
			d, err := New(newFakeCore(now), nil, opts)
			switch {
			case c.want == "" && (err != nil || d == nil):
				t.Fatalf("New: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("New: %v, want an error with %q", err, c.want)
			case c.want != "" && d != nil:
				t.Fatal("a dialect with the error")
			}
		})
	}
	if _, err := New(nil, nil, testOptions()); err == nil {
		t.Error("New without a core: no error")
	}
	// The default clock is the real one.
	opts := testOptions()
	opts.Now = nil
	d, err := New(newFakeCore(now), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.now(); time.Since(got) > time.Minute || time.Since(got) < -time.Minute {
		t.Errorf("default clock says %s", got)
	}
}

// The v1 API is untouched by the dialect: its own errors keep v1's shape.
func TestV1Unaffected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodPost, "/v1/messages", 401, "unauthorized"},
		{http.MethodGet, "/dhos", 404, "not_found"},
		{http.MethodGet, "/dhos/v2/sms", 404, "not_found"},
		{http.MethodGet, "/runningx", 404, "not_found"},
	} {
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), `"code":"`+c.code+`"`) {
			t.Errorf("%s %s answered %d %s", c.method, c.path, rec.Code, rec.Body)
		}
	}
}
