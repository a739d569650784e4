package providersim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// vendorKnobs is what the Twilio and Flowroute simulators share through callbackSim.
type vendorKnobs interface {
	FailNext(n int, kind string)
	FailFraction(fraction float64, kind string)
	SetRetryAfter(d time.Duration)
	SetLatency(d time.Duration)
	SetCallbackMode(mode string, delay time.Duration) error
	WaitCallbacks(ctx context.Context, n int) error
	WaitIdle(ctx context.Context) error
	Reset()
	Close()
	wait(ctx context.Context, done func() bool, describe func() string) error
}

// vendor drives the Twilio or the Flowroute simulator through what the tests of both share.
// Numbers are given in E.164; the Flowroute side drops the "+".
type vendor struct {
	name      string
	cbPath    string   // the receiver path the callbacks are sent to
	accepted  int      // the HTTP status of an accepted call
	queued    string   // the status of a message accepted after Close
	delivered string   // a delivered message's status
	callbacks []string // a delivered message's callbacks in normal mode, as byMessage groups them
	start     func(t *testing.T, o vendorOptions) *vendorRun
}

type vendorOptions struct {
	seed    uint64
	retries int           // CallbackRetries
	backoff time.Duration // CallbackBackoff; the test servers' default if 0
}

// vendorRun is one served simulator of a vendor.
type vendorRun struct {
	sim vendorKnobs
	// request is a send call; send makes one and returns the message's id, failing the test
	// unless it is accepted.
	request func(ctx context.Context, to, body, callback string) *http.Request
	send    func(t *testing.T, to, body, callback string) string
	// checkInvalid makes a call refused as invalid and checks the refusal.
	checkInvalid func(t *testing.T)
	// checkRefused checks r is the vendor's error answer for the HTTP status of a fault.
	checkRefused  func(t *testing.T, r twResponse, status int)
	status        func(t *testing.T, id string) string // as the vendor API reports it
	records       func() []callbackRecord
	recordsLocked func() int // how many, for a wait callback that runs under mu
	stats         func() vendorStats
	firstStatus   func() string // the oldest message's status
	count         func(to string) int
	byMessage     func(t *testing.T, reqs []receivedRequest) map[string][]string
}

// callbackRecord is the part of a Callback or FlowrouteCallback the shared tests check.
type callbackRecord struct {
	Attempt, Status int
	Dropped, OK     bool
	Error           string
}

// vendorStats is the part of TwilioStats or FlowrouteStats the shared tests check.
type vendorStats struct {
	Messages, Callbacks, CallbacksDropped, Pending int
	ByStatus                                       map[string]int
}

// post makes the send call and returns the answer.
func (v *vendorRun) post(t *testing.T, to, body, callback string) twResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(v.request(t.Context(), to, body, callback))
	if err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return twResponse{status: resp.StatusCode, body: b, header: resp.Header}
}

var twilioVendor = vendor{
	name:      "twilio",
	cbPath:    "/s",
	accepted:  http.StatusCreated,
	queued:    TwilioQueued,
	delivered: TwilioDelivered,
	callbacks: []string{"queued", "sent", "delivered"},
	start: func(t *testing.T, o vendorOptions) *vendorRun {
		sim, srv := newTwilioServer(t, TwilioOptions{Seed: o.seed, CallbackRetries: o.retries, CallbackBackoff: o.backoff})
		return &vendorRun{
			sim: sim,
			request: func(ctx context.Context, to, body, callback string) *http.Request {
				req, _ := http.NewRequestWithContext(ctx, "POST", messagesURL(srv), strings.NewReader(sendForm(to, body, callback).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(twSID, twToken)
				return req
			},
			send: func(t *testing.T, to, body, callback string) string {
				t.Helper()
				return createMessage(t, srv, sendForm(to, body, callback)).SID
			},
			checkInvalid: func(t *testing.T) {
				t.Helper()
				checkTwilioError(t, twCall(t, "POST", messagesURL(srv), twSID, twToken, url.Values{"From": {"+1"}}), 400, 21604)
			},
			checkRefused: func(t *testing.T, r twResponse, status int) {
				t.Helper()
				checkTwilioError(t, r, status, map[int]int{503: 20503, 429: 20429}[status])
			},
			status: func(t *testing.T, id string) string { t.Helper(); return fetchMessage(t, srv, id).Status },
			records: func() []callbackRecord {
				var out []callbackRecord
				for _, c := range sim.Callbacks() {
					out = append(out, callbackRecord{Attempt: c.Attempt, Status: c.Status, Dropped: c.Dropped, OK: c.OK(), Error: c.Error})
				}
				return out
			},
			recordsLocked: func() int { return len(sim.callbacks) },
			stats: func() vendorStats {
				st := sim.Stats()
				return vendorStats{Messages: st.Messages, Callbacks: st.Callbacks, CallbacksDropped: st.CallbacksDropped, Pending: st.Pending, ByStatus: st.ByStatus}
			},
			firstStatus: func() string { return sim.Messages()[0].Status },
			count:       sim.Count,
			byMessage:   func(_ *testing.T, reqs []receivedRequest) map[string][]string { return statusesBySID(reqs) },
		}
	},
}

var flowrouteVendor = vendor{
	name:      "flowroute",
	cbPath:    "/dlr",
	accepted:  http.StatusAccepted,
	queued:    "queued",
	delivered: FlowrouteDelivered,
	callbacks: []string{"1:smsc submit", "2:delivered"},
	start: func(t *testing.T, o vendorOptions) *vendorRun {
		sim, srv := newFlowrouteServer(t, FlowrouteOptions{Seed: o.seed, CallbackRetries: o.retries, CallbackBackoff: o.backoff})
		number := func(to string) string { return strings.TrimPrefix(to, "+") }
		return &vendorRun{
			sim: sim,
			request: func(ctx context.Context, to, body, callback string) *http.Request {
				req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v2.1/messages", strings.NewReader(frSendBody(number(to), body, callback)))
				req.Header.Set("Content-Type", "application/vnd.api+json")
				req.SetBasicAuth(frKey, frSecret)
				return req
			},
			send: func(t *testing.T, to, body, callback string) string {
				t.Helper()
				return frSend(t, srv, number(to), body, callback)
			},
			checkInvalid: func(t *testing.T) {
				t.Helper()
				checkFlowrouteError(t, frPost(t, srv, `{"from": "1"}`), 422)
			},
			checkRefused: func(t *testing.T, r twResponse, status int) { t.Helper(); checkFlowrouteError(t, r, status) },
			status:       func(t *testing.T, id string) string { t.Helper(); return frLookup(t, srv, id).Data.Attributes.Status },
			records: func() []callbackRecord {
				var out []callbackRecord
				for _, c := range sim.Callbacks() {
					out = append(out, callbackRecord{Attempt: c.Attempt, Status: c.Status, Dropped: c.Dropped, OK: c.OK(), Error: c.Error})
				}
				return out
			},
			recordsLocked: func() int { return len(sim.callbacks) },
			stats: func() vendorStats {
				st := sim.Stats()
				return vendorStats{Messages: st.Messages, Callbacks: st.Callbacks, CallbacksDropped: st.CallbacksDropped, Pending: st.Pending, ByStatus: st.ByStatus}
			},
			firstStatus: func() string { return sim.Messages()[0].Status },
			count:       sim.Count,
			byMessage:   receiptsByID,
		}
	},
}

// forEachVendor runs test as a subtest for each callback simulator.
func forEachVendor(t *testing.T, test func(t *testing.T, v vendor)) {
	for _, v := range []vendor{twilioVendor, flowrouteVendor} {
		t.Run(v.name, func(t *testing.T) { test(t, v) })
	}
}

func TestVendorCallbackRetry(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/s"
	dead.Close() // connection refused from now on

	type want struct {
		attempts, statuses []int
		dropped            int
	}
	tests := []struct {
		name    string
		retries int
		answer  func(n int, _ *http.Request) (int, string)
		url     string          // default the receiver's
		want    map[string]want // by vendor: Twilio sends 3 callbacks a message, Flowroute 2
	}{
		{
			name:    "flaky receiver",
			retries: 3,
			answer: func(n int, _ *http.Request) (int, string) {
				if n <= 2 {
					return http.StatusInternalServerError, "later"
				}
				return http.StatusNoContent, ""
			},
			want: map[string]want{
				"twilio":    {[]int{1, 2, 3, 1, 1}, []int{500, 500, 204, 204, 204}, 0},
				"flowroute": {[]int{1, 2, 3, 1}, []int{500, 500, 204, 204}, 0},
			},
		},
		{
			name:    "receiver always 404",
			retries: -1, // never retried
			answer:  func(int, *http.Request) (int, string) { return http.StatusNotFound, "" },
			want: map[string]want{
				"twilio":    {[]int{1, 1, 1}, []int{404, 404, 404}, 3},
				"flowroute": {[]int{1, 1}, []int{404, 404}, 2},
			},
		},
		{
			name:    "connection refused",
			retries: 1,
			url:     deadURL,
			want: map[string]want{
				"twilio":    {[]int{1, 2, 1, 2, 1, 2}, []int{0, 0, 0, 0, 0, 0}, 3},
				"flowroute": {[]int{1, 2, 1, 2}, []int{0, 0, 0, 0}, 2},
			},
		},
	}
	forEachVendor(t, func(t *testing.T, v vendor) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := tt.want[v.name]
				run := v.start(t, vendorOptions{retries: tt.retries})
				rc := newReceiver(t, tt.answer)
				cbURL := tt.url
				if cbURL == "" {
					cbURL = rc.srv.URL + v.cbPath
				}
				run.send(t, "+15551230000", "x", cbURL)
				must(t, run.sim.WaitIdle(t.Context()))
				var attempts, statuses []int
				dropped := 0
				for _, c := range run.records() {
					attempts, statuses = append(attempts, c.Attempt), append(statuses, c.Status)
					if c.Dropped {
						dropped++
					}
					if c.OK != (c.Error == "") {
						t.Errorf("record %+v: an error exactly when not 2xx", c)
					}
				}
				if !slices.Equal(attempts, want.attempts) || !slices.Equal(statuses, want.statuses) || dropped != want.dropped {
					t.Errorf("attempts %v statuses %v dropped %d, want %v %v %d", attempts, statuses, dropped, want.attempts, want.statuses, want.dropped)
				}
				if st := run.stats(); st.CallbacksDropped != want.dropped || st.Callbacks != len(want.attempts) || st.Pending != 0 {
					t.Errorf("stats %+v", st)
				}
				// The message's status never waited for its callbacks.
				if got := run.firstStatus(); got != v.delivered {
					t.Errorf("status %s, want %s", got, v.delivered)
				}
			})
		}
	})
}

func TestVendorFailKnobs(t *testing.T) {
	const ok = 0 // accepted: the vendor's 201 or 202
	tests := []struct {
		name           string
		set            func(vendorKnobs)
		want           []int
		wantRetryAfter string
	}{
		{"next 2 unavailable", func(s vendorKnobs) { s.FailNext(2, FailUnavailable) }, []int{503, 503, ok}, ""},
		{"next 1 default kind", func(s vendorKnobs) { s.FailNext(1, "") }, []int{503, ok}, ""},
		{"next 1 rate limit", func(s vendorKnobs) { s.FailNext(1, FailRateLimit) }, []int{429, ok}, "1"},
		{"retry after rounded up", func(s vendorKnobs) { s.SetRetryAfter(2500 * time.Millisecond); s.FailNext(1, FailRateLimit) }, []int{429, ok}, "3"},
		{"fraction 1", func(s vendorKnobs) { s.FailFraction(1, FailRateLimit) }, []int{429, 429, 429}, "1"},
		{"next before fraction", func(s vendorKnobs) { s.FailNext(1, FailUnavailable); s.FailFraction(1, FailRateLimit) }, []int{503, 429}, "1"},
	}
	forEachVendor(t, func(t *testing.T, v vendor) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				run := v.start(t, vendorOptions{})
				tt.set(run.sim)
				// An invalid call is refused before the knobs and does not use one up.
				run.checkInvalid(t)
				accepted := 0
				for i, want := range tt.want {
					r := run.post(t, "+15551230000", fmt.Sprint(i), "")
					if want == ok {
						if r.status != v.accepted {
							t.Errorf("call %d = %d %s, want %d", i, r.status, r.body, v.accepted)
						}
						accepted++
						continue
					}
					run.checkRefused(t, r, want)
					if got := r.header.Get("Retry-After"); want == 429 && got != tt.wantRetryAfter {
						t.Errorf("Retry-After %q, want %q", got, tt.wantRetryAfter)
					}
				}
				if got := run.stats().Messages; got != accepted {
					t.Errorf("%d messages, want only the %d accepted", got, accepted)
				}
			})
		}
		t.Run("bad arguments panic", func(t *testing.T) {
			sim := v.start(t, vendorOptions{}).sim
			for name, f := range map[string]func(){
				"unknown kind":     func() { sim.FailNext(1, "boom") },
				"negative n":       func() { sim.FailNext(-1, FailUnavailable) },
				"fraction above 1": func() { sim.FailFraction(1.5, FailUnavailable) },
				"NaN fraction":     func() { sim.FailFraction(nan(), FailUnavailable) },
			} {
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("%s: no panic", name)
						}
					}()
					f()
				}()
			}
		})
	})
}

func nan() float64 {
	var zero float64
	return zero / zero
}

func TestVendorFailFractionIsSeeded(t *testing.T) {
	forEachVendor(t, func(t *testing.T, v vendor) {
		run := func(seed uint64) []int {
			run := v.start(t, vendorOptions{seed: seed})
			must(t, run.sim.SetCallbackMode(CallbackOff, 0))
			run.sim.FailFraction(0.3, FailUnavailable)
			var out []int
			for i := range 200 {
				out = append(out, run.post(t, "+15551230000", fmt.Sprint(i), "").status)
			}
			return out
		}
		a, b := run(7), run(7)
		if !slices.Equal(a, b) {
			t.Error("the same seed gave different faults")
		}
		if slices.Equal(a, run(8)) {
			t.Error("another seed gave the same 200 faults")
		}
		failed := 0
		for _, s := range a {
			if s == 503 {
				failed++
			}
		}
		if failed < 30 || failed > 90 {
			t.Errorf("%d of 200 calls failed at fraction 0.3", failed)
		}
	})
}

func TestVendorLatency(t *testing.T) {
	forEachVendor(t, func(t *testing.T, v vendor) {
		run := v.start(t, vendorOptions{})
		run.sim.SetLatency(30 * time.Millisecond)
		start := time.Now()
		run.send(t, "+15551230000", "x", "")
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("call took %s, want at least the 30ms latency", d)
		}
	})
}

func TestVendorCloseWithPendingCallbacks(t *testing.T) {
	forEachVendor(t, func(t *testing.T, v vendor) {
		t.Run("delayed", func(t *testing.T) {
			run := v.start(t, vendorOptions{})
			rc := newReceiver(t, nil)
			must(t, run.sim.SetCallbackMode(CallbackNormal, time.Hour))
			for i := range 5 {
				run.send(t, "+15551230000", fmt.Sprint(i), rc.srv.URL+v.cbPath)
			}
			run.sim.Close() // returns now; goleak in TestMain checks nothing is left
			if n := len(rc.requests()); n != 0 {
				t.Errorf("%d callbacks after Close", n)
			}
			// After Close a message is still accepted, and stays queued.
			id := run.send(t, "+15551230000", "after", rc.srv.URL+v.cbPath)
			if got := run.status(t, id); got != v.queued {
				t.Errorf("a message after Close is %s, want %s", got, v.queued)
			}
		})
		t.Run("in flight and in backoff", func(t *testing.T) {
			release := make(chan struct{})
			rc := newReceiver(t, func(n int, r *http.Request) (int, string) {
				if n == 1 {
					return 500, "" // the first message's first callback: retried after an hour
				}
				select { // the second message's: never answered until the request is cancelled
				case <-r.Context().Done():
				case <-release:
				}
				return 200, ""
			})
			t.Cleanup(func() { close(release) })
			run := v.start(t, vendorOptions{backoff: time.Hour})
			run.send(t, "+15551230000", "a", rc.srv.URL+v.cbPath)
			<-rc.arrived
			run.send(t, "+15551230001", "b", rc.srv.URL+v.cbPath)
			<-rc.arrived
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := run.sim.wait(ctx, func() bool { return run.recordsLocked() == 1 }, func() string { return "the 500 recorded" }); err != nil {
				t.Fatal(err)
			}
			run.sim.Close()
			recs := run.records()
			if len(recs) != 1 || recs[0].Status != 500 {
				t.Errorf("records %+v, want only the 500: a cancelled attempt is not recorded", recs)
			}
		})
	})
}

func TestVendorResetCancelsCallbacks(t *testing.T) {
	forEachVendor(t, func(t *testing.T, v vendor) {
		run := v.start(t, vendorOptions{})
		rc := newReceiver(t, nil)
		must(t, run.sim.SetCallbackMode(CallbackNormal, time.Hour))
		run.send(t, "+15551230000", "old", rc.srv.URL+v.cbPath)
		run.sim.Reset()
		if st := run.stats(); st.Messages != 0 || st.Pending != 0 {
			t.Errorf("stats after reset %+v", st)
		}
		// The mode is normal again, with no delay.
		id := run.send(t, "+15551230000", "new", rc.srv.URL+v.cbPath)
		must(t, run.sim.WaitCallbacks(t.Context(), len(v.callbacks)))
		must(t, run.sim.WaitIdle(t.Context()))
		for msgID := range run.byMessage(t, rc.requests()) {
			if msgID != id {
				t.Errorf("a callback of the message forgotten by Reset: %s", msgID)
			}
		}
	})
}

func TestVendorConcurrent(t *testing.T) {
	forEachVendor(t, func(t *testing.T, v vendor) {
		run := v.start(t, vendorOptions{})
		rc := newReceiver(t, nil)
		const workers, each = 8, 25
		statuses := make(chan int, workers*each)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					req := run.request(t.Context(), fmt.Sprintf("+1555123%04d", w), fmt.Sprint(i), rc.srv.URL+v.cbPath)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						statuses <- 0
						continue
					}
					resp.Body.Close()
					statuses <- resp.StatusCode
					_ = run.stats() // readers alongside the writers
				}
			})
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != v.accepted {
				t.Fatalf("a concurrent send answered %d", s)
			}
		}
		must(t, run.sim.WaitCallbacks(t.Context(), workers*each*len(v.callbacks)))
		must(t, run.sim.WaitIdle(t.Context()))
		for w := range workers {
			if n := run.count(fmt.Sprintf("+1555123%04d", w)); n != each {
				t.Errorf("Count of worker %d = %d, want %d", w, n, each)
			}
		}
		for id, got := range run.byMessage(t, rc.requests()) {
			if !slices.Equal(got, v.callbacks) {
				t.Errorf("callbacks of %s: %v", id, got)
			}
		}
		if st := run.stats(); st.Messages != workers*each || st.ByStatus[v.delivered] != workers*each {
			t.Errorf("stats %+v", st)
		}
	})
}
