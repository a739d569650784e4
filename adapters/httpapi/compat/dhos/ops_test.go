package dhos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

const callbackPath = Prefix + "/sms/callback"

// The callback goes to the configured provider's plugin with the configured URL (plus the
// request's query), the path /status and the raw request; no credentials are needed.
func TestCallbackRequest(t *testing.T) {
	t.Parallel()
	const form = "MessageSid=SM1&MessageStatus=delivered&To=%2B447911123456"
	cases := []struct {
		name, path, wantURL string
		auth                compattest.Request
	}{
		{"no query", callbackPath, testCallbackURL, compattest.Request{NoAuth: true}},
		{"with a query", callbackPath + "?a=1&b=%2F", testCallbackURL + "?a=1&b=%2F", compattest.Request{NoAuth: true}},
		{"credentials ignored", callbackPath, testCallbackURL, compattest.Request{User: "mallory", Pass: "x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.accounts.SetErr(errors.New("the account store is never asked"))
			e.core.webhookRes = ports.WebhookResult{StatusCode: http.StatusOK, Body: []byte("<Response/>")}
			e.do(req{method: http.MethodPost, path: c.path, body: form, auth: c.auth, tenant: http.Header{},
				header: http.Header{"X-Twilio-Signature": {"c2lnbmF0dXJl"}}}).code(http.StatusNoContent)
			hooks := e.core.recorded().webhooks
			if len(hooks) != 1 {
				t.Fatalf("webhooks %+v", hooks)
			}
			got := hooks[0]
			if got.provider != testProvider || got.req.Method != http.MethodPost || got.req.URL != c.wantURL ||
				got.req.Path != "/status" || string(got.req.Body) != form ||
				got.req.Headers["X-Twilio-Signature"][0] != "c2lnbmF0dXJl" {
				t.Errorf("webhook %s %+v", got.provider, got.req)
			}
			if e.core.calls() != 1 {
				t.Errorf("other core calls: %+v", e.core.recorded())
			}
		})
	}
}

// The plugin's answer maps to the dialect's: 2xx → 204, 403 → Forbidden, another 4xx or
// 5xx keeps its status, anything else and errors are failures.
func TestCallbackAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		res    ports.WebhookResult
		err    error
		status int
		text   string // "" for 204
		logged string
	}{
		{"200", ports.WebhookResult{StatusCode: 200, Body: []byte("<Response/>")}, nil, 204, "", ""},
		{"201", ports.WebhookResult{StatusCode: 201}, nil, 204, "", ""},
		{"204", ports.WebhookResult{StatusCode: 204}, nil, 204, "", ""},
		{"no status", ports.WebhookResult{}, nil, 204, "", ""},
		{"bad signature", ports.WebhookResult{StatusCode: 403, Body: []byte("invalid signature")}, nil, 403, textForbidden, ""},
		{"400", ports.WebhookResult{StatusCode: 400, Body: []byte("no MessageSid")}, nil, 400, "Bad Request", ""},
		{"404", ports.WebhookResult{StatusCode: 404}, nil, 404, "Not Found", ""},
		{"an unnamed 4xx", ports.WebhookResult{StatusCode: 499}, nil, 499, "callback refused", ""},
		{"503", ports.WebhookResult{StatusCode: 503}, nil, 503, "Service Unavailable", ""},
		{"302", ports.WebhookResult{StatusCode: 302}, nil, 500, textFailure, "status 302"},
		{"100", ports.WebhookResult{StatusCode: 100}, nil, 500, textFailure, "status 100"},
		{"out of range", ports.WebhookResult{StatusCode: 600}, nil, 500, textFailure, "status 600"},
		{"unknown provider", ports.WebhookResult{}, fmt.Errorf("provider twilio: %w", ports.ErrNotFound), 500, textFailure, "provider twilio"},
		{"commit failed", ports.WebhookResult{}, fmt.Errorf("commit webhook: secret: %w", ports.ErrUnavailable), 500, textFailure, "commit webhook: secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.core.webhookRes, e.core.webhookErr = c.res, c.err
			r := e.do(req{method: http.MethodPost, path: callbackPath, body: "a=b", auth: compattest.Request{NoAuth: true}})
			if c.text == "" {
				r.code(http.StatusNoContent)
				if r.rec.Body.Len() != 0 {
					t.Errorf("204 body %q", r.rec.Body)
				}
			} else {
				r.is(c.status, c.text).notLeaking("secret").notLeaking("invalid signature")
			}
			if c.logged != "" {
				e.logged(c.logged)
			}
		})
	}
}

const bulkPath = Prefix + "/sms/bulk_update"

func TestBulkUpdate(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			r := e.do(req{method: method, path: bulkPath}).code(http.StatusNoContent)
			if r.rec.Body.Len() != 0 {
				t.Errorf("body %q", r.rec.Body)
			}
			want := []refreshCall{{compattest.User, now.Add(-7 * 24 * time.Hour)}}
			if got := e.core.recorded().refreshes; !reflect.DeepEqual(got, want) {
				t.Errorf("refreshes %+v, want %+v", got, want)
			}
		})
	}
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.core.refreshErr = errors.New("poll twilio: secret token")
		e.do(req{method: http.MethodPost, path: bulkPath}).is(http.StatusInternalServerError, textFailure).notLeaking("secret")
		e.logged("secret token")
	})
}

const countsPath = Prefix + "/sms_status_counts"

func TestStatusCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.core.counts = map[string]map[message.Status]int{
		"2026-11-19": {message.StatusDelivered: 10, message.StatusFailed: 1},
		"2026-11-20": {message.StatusQueued: 2, message.StatusReceived: 3},
	}
	r := e.do(req{path: countsPath + "?start_date=2026-11-19&end_date=2026-11-20"}).code(http.StatusOK)
	var got map[string]any
	if err := json.Unmarshal(r.rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"data_type": "sms_status_counts", "description": "This is a count of the sms statuses",
		"measurement_timestamp": "2026-11-20T10:00:00.000Z",
		"data": map[string]any{
			"2026-11-19": map[string]any{"delivered": 10.0, "failed": 1.0},
			"2026-11-20": map[string]any{"queued": 2.0, "received": 3.0},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body %s", r.rec.Body)
	}
	wantCall := countsCall{compattest.User, time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 23, 59, 59, 999999999, time.UTC)}
	if calls := e.core.recorded().counts; len(calls) != 1 || calls[0] != wantCall {
		t.Errorf("counts calls %+v, want %+v", calls, wantCall)
	}

	t.Run("none", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		r := e.do(req{path: countsPath + "?start_date=2026-11-19&end_date=2026-11-20"}).code(http.StatusOK)
		if !strings.Contains(r.rec.Body.String(), `"data":{}`) {
			t.Errorf("body %s", r.rec.Body)
		}
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.core.countsErr = fmt.Errorf("count: secret: %w", ports.ErrUnavailable)
		e.do(req{path: countsPath + "?start_date=2026-11-19&end_date=2026-11-20"}).is(http.StatusInternalServerError, textFailure).notLeaking("secret")
	})
}

// The bounds of the status counts: the ISO 8601 forms parseInstant reads, and the refusals.
func TestStatusCountsBounds(t *testing.T) {
	t.Parallel()
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	cases := []struct {
		name       string
		query      string
		start, end time.Time
		want       string // the 400 text, or "" when accepted
	}{
		{"dates", "start_date=2026-11-20&end_date=2026-11-21", utc(2026, 11, 20, 0, 0, 0, 0), utc(2026, 11, 21, 23, 59, 59, 999999999), ""},
		{"one day", "start_date=2026-11-20&end_date=2026-11-20", utc(2026, 11, 20, 0, 0, 0, 0), utc(2026, 11, 20, 23, 59, 59, 999999999), ""},
		{"leap day", "start_date=2028-02-29&end_date=2028-02-29", utc(2028, 2, 29, 0, 0, 0, 0), utc(2028, 2, 29, 23, 59, 59, 999999999), ""},
		{"date-times in UTC", "start_date=2026-11-20T10:00:00Z&end_date=2026-11-20T11:30:00.250Z", utc(2026, 11, 20, 10, 0, 0, 0), utc(2026, 11, 20, 11, 30, 0, 250_000_000), ""},
		{"offsets to UTC", "start_date=2026-11-20T10:00:00%2B01:00&end_date=2026-11-20T10:00:00-05:00", utc(2026, 11, 20, 9, 0, 0, 0), utc(2026, 11, 20, 15, 0, 0, 0), ""},
		{"an unescaped +", "start_date=2026-11-20T10:00:00+01:00&end_date=2026-11-21", utc(2026, 11, 20, 9, 0, 0, 0), utc(2026, 11, 21, 23, 59, 59, 999999999), ""},
		{"no offset is UTC", "start_date=2026-11-20T10:00:00&end_date=2026-11-20T10:00:00.5", utc(2026, 11, 20, 10, 0, 0, 0), utc(2026, 11, 20, 10, 0, 0, 500_000_000), ""},
		{"a date and a date-time", "start_date=2026-11-20&end_date=2026-11-20T00:00:00Z", utc(2026, 11, 20, 0, 0, 0, 0), utc(2026, 11, 20, 0, 0, 0, 0), ""},

		{"start missing", "end_date=2026-11-20", time.Time{}, time.Time{}, "start_date is required"},
		{"start empty", "start_date=&end_date=2026-11-20", time.Time{}, time.Time{}, "start_date is required"},
		{"end missing", "start_date=2026-11-20", time.Time{}, time.Time{}, "end_date is required"},
		{"both missing", "", time.Time{}, time.Time{}, "start_date is required"},
		{"start after end", "start_date=2026-11-21&end_date=2026-11-20", time.Time{}, time.Time{}, "start_date must not be after end_date"},
		{"start after end by an instant", "start_date=2026-11-20T10:00:00.000000001Z&end_date=2026-11-20T10:00:00Z", time.Time{}, time.Time{}, "start_date must not be after end_date"},
		{"month 13", "start_date=2026-13-01&end_date=2026-11-20", time.Time{}, time.Time{}, textBadDate("start_date")},
		{"30 February", "start_date=2026-11-01&end_date=2026-02-30", time.Time{}, time.Time{}, textBadDate("end_date")},
		{"basic format", "start_date=20261120&end_date=2026-11-20", time.Time{}, time.Time{}, textBadDate("start_date")},
		{"words", "start_date=yesterday&end_date=2026-11-20", time.Time{}, time.Time{}, textBadDate("start_date")},
		{"hour 25", "start_date=2026-11-20&end_date=2026-11-20T25:00:00Z", time.Time{}, time.Time{}, textBadDate("end_date")},
		{"unix seconds", "start_date=1763600000&end_date=2026-11-20", time.Time{}, time.Time{}, textBadDate("start_date")},
		{"a time only", "start_date=10:00:00&end_date=2026-11-20", time.Time{}, time.Time{}, textBadDate("start_date")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			r := e.do(req{path: countsPath + "?" + c.query})
			calls := e.core.recorded().counts
			if c.want != "" {
				r.is(http.StatusBadRequest, c.want)
				e.noCoreCalls()
				return
			}
			r.code(http.StatusOK)
			if len(calls) != 1 || !calls[0].start.Equal(c.start) || !calls[0].end.Equal(c.end) ||
				calls[0].start.Location() != time.UTC || calls[0].end.Location() != time.UTC {
				t.Errorf("counts calls %+v, want %s .. %s", calls, c.start, c.end)
			}
		})
	}
}

func textBadDate(name string) string {
	return name + " must be an ISO 8601 date (2026-11-20) or date-time (2026-11-20T10:00:00Z)"
}
