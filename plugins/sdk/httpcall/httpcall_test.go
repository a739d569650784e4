package httpcall_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall/httpcalltest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// call makes one POST to url through a fresh client, with the given timeout.
func call(t *testing.T, url string, timeout time.Duration, limit int64) (httpcall.Answer, error) {
	t.Helper()
	tr := httpcall.NewTransport(4)
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("to=1"))
	if err != nil {
		t.Fatal(err)
	}
	return httpcall.Do(httpcall.NewClient(tr), req, limit)
}

func TestDo(t *testing.T) {
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		limit   int64
		timeout time.Duration  // default 5s
		class   sdk.ErrorClass // "" for an answer
		message string         // the error's message, when class is set
		status  int
		body    string
	}{
		{name: "refused: not sent", url: httpcalltest.RefusedURL, class: sdk.ClassUnavailable},
		{name: "timeout after the request was written: ambiguous", url: httpcalltest.Hanging,
			timeout: 100 * time.Millisecond, class: sdk.ClassAmbiguous, message: "sent, no answer: timed out"},
		{name: "reset after the request was read: ambiguous", url: httpcalltest.Resetting, class: sdk.ClassAmbiguous},
		{name: "error answer is an answer", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 429, `{"e": 1}`, "Retry-After", "3")
		}, status: 429, body: `{"e": 1}`},
		{name: "redirect is not followed", url: func(t *testing.T) string {
			return httpcalltest.Answering(t, 302, ``, "Location", "/elsewhere")
		}, status: 302},
		{name: "body cut at the limit", url: func(t *testing.T) string { return httpcalltest.Answering(t, 200, `0123456789`) },
			limit: 4, status: 200, body: "0123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = 1 << 20
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			a, err := call(t, tc.url(t), timeout, limit)
			if tc.class != "" {
				var e *sdk.Error
				if !errors.As(err, &e) || e.Class != tc.class || (tc.message != "" && e.Message != tc.message) {
					t.Fatalf("Do = %+v, %v; want a %s error %q", a, err, tc.class, tc.message)
				}
				return
			}
			if err != nil || a.Status != tc.status || string(a.Body) != tc.body || a.ReadErr != nil {
				t.Fatalf("Do = %+v (body %q), %v; want %d %q", a, a.Body, err, tc.status, tc.body)
			}
			if a.Status == 429 && a.Header.Get("Retry-After") != "3" {
				t.Errorf("header %v, want Retry-After 3", a.Header)
			}
		})
	}
}

func TestNewRequest(t *testing.T) {
	tests := []struct {
		name, method, url string
		body              []byte
		wantType          string
		wantErr           bool
	}{
		{name: "with a body", method: http.MethodPost, url: "http://x.test/m", body: []byte(`{}`), wantType: "application/json"},
		{name: "empty body is a body", method: http.MethodPost, url: "http://x.test/m", body: []byte{}, wantType: "application/json"},
		{name: "no body", method: http.MethodGet, url: "http://x.test/m"},
		{name: "bad URL", method: http.MethodGet, url: "http://x.test/%zz", wantErr: true},
		{name: "bad method", method: "BAD METHOD", url: "http://x.test/", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := httpcall.NewRequest(t.Context(), tc.method, tc.url, tc.body, "application/json")
			if tc.wantErr {
				if sdk.ClassOf(err) != sdk.ClassInvalid || req != nil {
					t.Fatalf("NewRequest = %v, %v; want a ClassInvalid error", req, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
			var got []byte
			if req.Body != nil {
				got, _ = io.ReadAll(req.Body)
			}
			if string(got) != string(tc.body) || req.Method != tc.method || req.Context() != t.Context() {
				t.Errorf("request %s %s with %q, want %s with %q on the given ctx", req.Method, req.URL, got, tc.method, tc.body)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	tests := []struct {
		name   string
		a      httpcall.Answer
		ok     bool
		class  sdk.ErrorClass // "" when DecodeJSON succeeds
		wantID string
	}{
		{name: "200", a: httpcall.Answer{Status: 200, Body: []byte(`{"id": "x"}`)}, ok: true, wantID: "x"},
		{name: "299", a: httpcall.Answer{Status: 299, Body: []byte(`{}`)}, ok: true},
		{name: "garbage", a: httpcall.Answer{Status: 201, Body: []byte(`<html>`)}, ok: true, class: sdk.ClassAmbiguous},
		{name: "empty", a: httpcall.Answer{Status: 201}, ok: true, class: sdk.ClassAmbiguous},
		{name: "cut short", a: httpcall.Answer{Status: 200, Body: []byte(`{"id": "x"}`), ReadErr: io.ErrUnexpectedEOF},
			ok: true, class: sdk.ClassAmbiguous},
		{name: "199", a: httpcall.Answer{Status: 199}, ok: false},
		{name: "300", a: httpcall.Answer{Status: 300}, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.OK(); got != tc.ok {
				t.Errorf("OK() = %v, want %v", got, tc.ok)
			}
			if !tc.ok {
				return
			}
			var out struct {
				ID string `json:"id"`
			}
			err := tc.a.DecodeJSON(&out)
			if got := sdk.ClassOf(err); (err != nil || tc.class != "") && got != tc.class {
				t.Fatalf("DecodeJSON = %v, want class %q", err, tc.class)
			}
			if out.ID != tc.wantID {
				t.Errorf("decoded id %q, want %q", out.ID, tc.wantID)
			}
		})
	}
}

func TestTransportError(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		wrote bool
		class sdk.ErrorClass
		msg   string
	}{
		{"refused", errors.New("dial tcp: connection refused"), false, sdk.ClassUnavailable, "not sent: dial tcp: connection refused"},
		{"reset", errors.New("read: connection reset"), true, sdk.ClassAmbiguous, "sent, no answer: read: connection reset"},
		{"timeout before writing", context.DeadlineExceeded, false, sdk.ClassUnavailable, "not sent: timed out"},
		{"timeout after writing", context.DeadlineExceeded, true, sdk.ClassAmbiguous, "sent, no answer: timed out"},
		{"wrapped cancel", &wrapped{context.Canceled}, false, sdk.ClassUnavailable, "not sent: cancelled"},
		{"cancel after writing", context.Canceled, true, sdk.ClassAmbiguous, "sent, no answer: cancelled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := httpcall.TransportError(tc.err, tc.wrote)
			if e.Class != tc.class || e.Message != tc.msg || e.Code != "" || e.RetryAfter != 0 {
				t.Errorf("TransportError = %+v, want %s %q", e, tc.class, tc.msg)
			}
		})
	}
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "Post: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 3 ", 3 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"1.5", 0},
		{"86400", 24 * time.Hour},
		{"86401", 24 * time.Hour},
		{"99999999999", 24 * time.Hour},
		{"99999999999999999999", 0}, // out of int range: unreadable
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), 24 * time.Hour},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Format(http.TimeFormat), 0},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			if got := httpcall.RetryAfter(tc.value, now); got != tc.want {
				t.Errorf("RetryAfter(%q) = %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}

// FuzzRetryAfter: whatever the header says, the wait is within [0, MaxRetryAfter].
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "7", "-1", "99999999999999", "Wed, 02 Dec 2026 10:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := httpcall.RetryAfter(v, now); d < 0 || d > httpcall.MaxRetryAfter {
			t.Fatalf("RetryAfter(%q) = %s", v, d)
		}
	})
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"longer text", 6, "longer…"},
		{"ééé", 3, "é…"}, // never half a rune
		{"é", 1, "…"},
		{"", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.s, func(t *testing.T) {
			if got := httpcall.Truncate(tc.s, tc.n); got != tc.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}

func TestForEach(t *testing.T) {
	tests := []struct{ n, limit, wantMax int }{
		{0, 4, 0},
		{1, 4, 1},
		{10, 3, 3},
		{3, 10, 3},
		{5, 0, 1}, // a limit below 1 still gets the work done, one at a time
	}
	for _, tc := range tests {
		t.Run("", func(t *testing.T) {
			var (
				mu            sync.Mutex
				running, peak int
				calls         = make([]atomic.Int32, tc.n)
			)
			// Every call waits for the others that may run with it, so a pool of workers
			// fills up whenever it can: peak is then exactly the bound.
			gate := make(chan struct{})
			var started atomic.Int32
			httpcall.ForEach(tc.n, tc.limit, func(i int) {
				mu.Lock()
				running++
				peak = max(peak, running)
				mu.Unlock()
				if int(started.Add(1)) == min(tc.n, tc.wantMax) {
					close(gate)
				}
				<-gate
				calls[i].Add(1)
				mu.Lock()
				running--
				mu.Unlock()
			})
			if peak != tc.wantMax {
				t.Errorf("at most %d calls at once, want %d", peak, tc.wantMax)
			}
			for i := range calls {
				if c := calls[i].Load(); c != 1 {
					t.Errorf("fn(%d) called %d times, want once", i, c)
				}
			}
		})
	}
}

func TestForEachUntilError(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		n         int
		failAt    int  // the call that fails; -1 for none
		cancelled bool // the caller's ctx is done before the calls
		wantErr   error
		wantClass sdk.ErrorClass
	}{
		{name: "all succeed", n: 20, failAt: -1},
		{name: "none", n: 0, failAt: -1},
		{name: "first error is the answer", n: 20, failAt: 3, wantErr: boom},
		{name: "caller gave up", n: 20, failAt: -1, cancelled: true, wantClass: sdk.ClassUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancelled {
				cancel()
			}
			var calls atomic.Int32
			err := httpcall.ForEachUntilError(ctx, tc.n, 1, func(ctx context.Context, i int) error {
				calls.Add(1)
				if i == tc.failAt {
					return boom
				}
				if tc.failAt >= 0 && i > tc.failAt {
					t.Errorf("call %d started after call %d failed", i, tc.failAt)
				}
				return ctx.Err()
			})
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			case tc.wantClass != "" && (sdk.ClassOf(err) != tc.wantClass || !strings.Contains(err.Error(), "cancelled")):
				t.Errorf("err = %v, want a %s error saying cancelled", err, tc.wantClass)
			case tc.wantErr == nil && tc.wantClass == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			}
			want := int32(tc.n)
			switch {
			case tc.failAt >= 0:
				want = int32(tc.failAt + 1) // one at a time: nothing starts after the failure
			case tc.cancelled:
				want = 0
			}
			if got := calls.Load(); got != want {
				t.Errorf("%d calls, want %d", got, want)
			}
		})
	}
}

// TestForEachUntilErrorCancelsRunning: a failure cancels the ctx of the calls already
// running, and the errors that causes are not the answer.
func TestForEachUntilErrorCancelsRunning(t *testing.T) {
	boom := errors.New("boom")
	started := make(chan struct{}, 3)
	err := httpcall.ForEachUntilError(t.Context(), 4, 4, func(ctx context.Context, i int) error {
		if i == 0 {
			for range 3 {
				<-started // the others are running
			}
			return boom
		}
		started <- struct{}{}
		<-ctx.Done()
		return httpcall.TransportError(ctx.Err(), true)
	})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
}

// TestPollEach: every id but "" is looked up once; what was found comes back in the order of
// the ids, what was not is left out, and a failure is the poll's error.
func TestPollEach(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		ids     []string
		want    string // the ids of the updates, in order
		wantErr error
	}{
		{name: "found, not found and empty", ids: []string{"a", "", "unknown", "b", "c"}, want: "[a b c]"},
		{name: "none", ids: nil, want: "[]"},
		{name: "a failure", ids: []string{"a", "fail", "b"}, wantErr: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			asked := map[string]int{}
			got, err := httpcall.PollEach(t.Context(), tc.ids, 2, func(_ context.Context, id string) (sdk.StatusUpdate, bool, error) {
				mu.Lock()
				asked[id]++
				mu.Unlock()
				switch id {
				case "fail":
					return sdk.StatusUpdate{}, false, boom
				case "unknown":
					return sdk.StatusUpdate{ProviderMessageID: id}, false, nil
				}
				return sdk.StatusUpdate{ProviderMessageID: id, Status: sdk.StatusSent}, true, nil
			})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != nil {
					t.Fatalf("PollEach = %+v, %v; want no updates and %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("PollEach: %v", err)
			}
			var ids []string
			for _, u := range got {
				ids = append(ids, u.ProviderMessageID)
			}
			if s := fmt.Sprint(ids); s != tc.want || got == nil {
				t.Errorf("updates for %s (%+v), want %s", s, got, tc.want)
			}
			for _, id := range tc.ids {
				want := 1
				if id == "" {
					want = 0
				}
				if asked[id] != want {
					t.Errorf("%q looked up %d times, want %d", id, asked[id], want)
				}
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		raw     string
		want    string
		wantErr string // part of the *sdk.ConfigError's message; "" for none
	}{
		{`"https://api.example.test"`, "https://api.example.test", ""},
		{`"http://127.0.0.1:8081/"`, "http://127.0.0.1:8081", ""},
		{`"https://example.test/api//"`, "https://example.test/api", ""},
		{`5`, "", "must be a URL string"},
		{`"ftp://example.test"`, "", "is not an absolute http(s) URL"},
		{`"example.test"`, "", "is not an absolute http(s) URL"},
		{`"https://"`, "", "is not an absolute http(s) URL"},
		{`"https://u:p@example.test"`, "", "must not carry credentials"},
		{`"https://example.test/?a=1"`, "", "must not have a query or fragment"},
		{`"https://example.test/#x"`, "", "must not have a query or fragment"},
		{`"https://exa mple.test"`, "", "is not an absolute http(s) URL"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			fields, err := sdk.ConfigFields(json.RawMessage(`{"base_url": ` + tc.raw + `}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := httpcall.BaseURL(fields[0])
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Errorf("BaseURL(%s) = %q, %v; want %q", tc.raw, got, err, tc.want)
				}
				return
			}
			var ce *sdk.ConfigError
			if !errors.As(err, &ce) || ce.Field != "base_url" || !strings.Contains(ce.Message, tc.wantErr) {
				t.Errorf("BaseURL(%s) = %q, %v; want a base_url error with %q", tc.raw, got, err, tc.wantErr)
			}
		})
	}
}

func TestWebhookBase(t *testing.T) {
	tests := []struct {
		name      string
		req       sdk.ConfigureRequest
		want      string
		wantField string
	}{
		{"plain", sdk.ConfigureRequest{Name: "tw", PublicURL: "https://sms.example.test"}, "https://sms.example.test/webhooks/tw", ""},
		{"trailing slash and a path", sdk.ConfigureRequest{Name: "tw", PublicURL: "https://example.test/sms/"}, "https://example.test/sms/webhooks/tw", ""},
		{"name escaped", sdk.ConfigureRequest{Name: "a b", PublicURL: "https://sms.example.test"}, "https://sms.example.test/webhooks/a%20b", ""},
		{"no public URL", sdk.ConfigureRequest{Name: "tw"}, "", "public_url"},
		{"bad public URL", sdk.ConfigureRequest{Name: "tw", PublicURL: "sms.example.test"}, "", "public_url"},
		{"public URL with credentials", sdk.ConfigureRequest{Name: "tw", PublicURL: "https://u:p@sms.example.test"}, "", "public_url"},
		{"no name", sdk.ConfigureRequest{PublicURL: "https://sms.example.test"}, "", "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := httpcall.WebhookBase(tc.req, "the provider posts reports to it")
			var ce *sdk.ConfigError
			switch {
			case tc.wantField == "" && (err != nil || got != tc.want):
				t.Errorf("WebhookBase = %q, %v; want %q", got, err, tc.want)
			case tc.wantField != "" && (!errors.As(err, &ce) || ce.Field != tc.wantField):
				t.Errorf("WebhookBase = %q, %v; want a %s error", got, err, tc.wantField)
			case tc.name == "no public URL" && !strings.HasSuffix(ce.Message, ": the provider posts reports to it"):
				t.Errorf("message %q does not say why", ce.Message)
			}
		})
	}
}

func TestNewTransport(t *testing.T) {
	tr := httpcall.NewTransport(64)
	if tr == http.DefaultTransport || tr.MaxIdleConnsPerHost != 64 || tr.Proxy == nil {
		t.Errorf("transport %+v: want a clone of the default with 64 idle connections a host", tr)
	}
	if c := httpcall.NewClient(tr); c.Timeout != 0 || c.Transport != tr || c.CheckRedirect == nil {
		t.Errorf("client %+v: want no timeout, the transport, and no redirects", c)
	}
}

// TestCallbackURL: the message id added to a callback URL comes back out of it, escaped on
// the way; a URL without one names none.
func TestCallbackURL(t *testing.T) {
	const base = "https://sms.example.com/webhooks/tw/status"
	tests := []struct {
		id, want string
	}{
		{"", base},
		{"01a2-b3", base + "?message_id=01a2-b3"},
		{"a b&c=d", base + "?message_id=a+b%26c%3Dd"},
	}
	for _, tt := range tests {
		u := httpcall.CallbackURL(base, tt.id)
		if u != tt.want {
			t.Errorf("CallbackURL(%q) = %q, want %q", tt.id, u, tt.want)
		}
		if got := httpcall.CallbackMessageID(u); got != tt.id {
			t.Errorf("CallbackMessageID(%q) = %q, want %q", u, got, tt.id)
		}
	}
	if got := httpcall.CallbackMessageID("%zz"); got != "" {
		t.Errorf("CallbackMessageID of a malformed URL = %q", got)
	}
}
