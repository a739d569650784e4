package providersim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/plugins/twilio/signature"
)

const (
	twSID   = "AC0123456789abcdef0123456789abcdef"
	twToken = "s3cret-token"
)

// newTwilioServer serves a fresh Twilio simulator with the test credentials.
func newTwilioServer(t *testing.T, opts TwilioOptions) (*Twilio, *httptest.Server) {
	t.Helper()
	if opts.AccountSID == "" {
		opts.AccountSID = twSID
	}
	if opts.AuthToken == "" {
		opts.AuthToken = twToken
	}
	if opts.CallbackBackoff == 0 {
		opts.CallbackBackoff = time.Millisecond
	}
	sim := NewTwilio(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close() // stops the callbacks first, so no goroutine outlives the test
		srv.Close()
	})
	return sim, srv
}

type twResponse struct {
	status int
	body   []byte
	header http.Header
}

// twCall makes one vendor API call with the given Basic credentials (none when user is "")
// and form (none when nil).
func twCall(t *testing.T, method, rawURL, user, pass string, form url.Values) twResponse {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return twResponse{status: resp.StatusCode, body: b, header: resp.Header}
}

func messagesURL(srv *httptest.Server) string {
	return srv.URL + "/2010-04-01/Accounts/" + twSID + "/Messages.json"
}

func messageURL(srv *httptest.Server, sid string) string {
	return srv.URL + "/2010-04-01/Accounts/" + twSID + "/Messages/" + sid + ".json"
}

func sendForm(to, body, callback string) url.Values {
	f := url.Values{"To": {to}, "From": {"+15550001111"}, "Body": {body}}
	if callback != "" {
		f.Set("StatusCallback", callback)
	}
	return f
}

// createMessage creates a message and returns its resource; it fails the test unless 201.
func createMessage(t *testing.T, srv *httptest.Server, form url.Values) wireResource {
	t.Helper()
	r := twCall(t, "POST", messagesURL(srv), twSID, twToken, form)
	if r.status != http.StatusCreated {
		t.Fatalf("create %v = %d %s, want 201", form, r.status, r.body)
	}
	return decodeResource(t, r.body)
}

func fetchMessage(t *testing.T, srv *httptest.Server, sid string) wireResource {
	t.Helper()
	r := twCall(t, "GET", messageURL(srv, sid), twSID, twToken, nil)
	if r.status != http.StatusOK {
		t.Fatalf("fetch %s = %d %s, want 200", sid, r.status, r.body)
	}
	return decodeResource(t, r.body)
}

// wireResource decodes the message resource as a client would, keeping nulls visible.
type wireResource struct {
	SID          string            `json:"sid"`
	AccountSID   string            `json:"account_sid"`
	To           string            `json:"to"`
	From         string            `json:"from"`
	Body         string            `json:"body"`
	Status       string            `json:"status"`
	NumSegments  string            `json:"num_segments"`
	NumMedia     string            `json:"num_media"`
	Direction    string            `json:"direction"`
	APIVersion   string            `json:"api_version"`
	DateCreated  string            `json:"date_created"`
	DateUpdated  string            `json:"date_updated"`
	DateSent     *string           `json:"date_sent"`
	ErrorCode    *int              `json:"error_code"`
	ErrorMessage *string           `json:"error_message"`
	Price        *string           `json:"price"`
	PriceUnit    string            `json:"price_unit"`
	URI          string            `json:"uri"`
	Subresources map[string]string `json:"subresource_uris"`
	raw          map[string]json.RawMessage
}

func decodeResource(t *testing.T, body []byte) wireResource {
	t.Helper()
	var res wireResource
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("decode resource %s: %v", body, err)
	}
	if err := json.Unmarshal(body, &res.raw); err != nil {
		t.Fatal(err)
	}
	return res
}

type twError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// checkTwilioError checks r is Twilio's error body with the status and code.
func checkTwilioError(t *testing.T, r twResponse, status, code int) twError {
	t.Helper()
	var e twError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if r.status != status || e.Status != status || e.Code != code || e.Message == "" ||
		e.MoreInfo != fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code) {
		t.Errorf("answer %d %s, want %d with Twilio's error body for code %d", r.status, r.body, status, code)
	}
	return e
}

var sidPattern = regexp.MustCompile(`^SM[0-9a-f]{32}$`)

func TestTwilioCreateRefused(t *testing.T) {
	long := strings.Repeat("a", 1601)
	tests := []struct {
		name        string
		path        string // under /2010-04-01/Accounts/; default our Messages.json
		user, pass  string
		form        url.Values
		wantStatus  int
		wantCode    int
		wantOutcome string
	}{
		{"no credentials", "", "", "", sendForm("+15551230000", "hi", ""), 401, 20003, TwilioOutcomeUnauthorized},
		{"wrong token", "", twSID, "nope", sendForm("+15551230000", "hi", ""), 401, 20003, TwilioOutcomeUnauthorized},
		{"wrong account", "", "AC" + strings.Repeat("f", 32), twToken, sendForm("+15551230000", "hi", ""), 401, 20003, TwilioOutcomeUnauthorized},
		{"another account's path", "AC" + strings.Repeat("f", 32) + "/Messages.json", twSID, twToken, sendForm("+15551230000", "hi", ""), 401, 20003, TwilioOutcomeUnauthorized},
		{"missing To", "", twSID, twToken, url.Values{"From": {"+1555"}, "Body": {"hi"}}, 400, 21604, TwilioOutcomeBadRequest},
		{"missing From", "", twSID, twToken, url.Values{"To": {"+15551230000"}, "Body": {"hi"}}, 400, 21603, TwilioOutcomeBadRequest},
		{"missing Body", "", twSID, twToken, url.Values{"To": {"+15551230000"}, "From": {"+1555"}}, 400, 21602, TwilioOutcomeBadRequest},
		{"nothing at all", "", twSID, twToken, url.Values{}, 400, 21604, TwilioOutcomeBadRequest},
		{"To not E.164", "", twSID, twToken, sendForm("5551230000", "hi", ""), 400, 21211, TwilioOutcomeBadRequest},
		{"Body over 1600 characters", "", twSID, twToken, sendForm("+15551230000", long, ""), 400, 21617, TwilioOutcomeBadRequest},
		{"relative StatusCallback", "", twSID, twToken, sendForm("+15551230000", "hi", "/status"), 400, 21609, TwilioOutcomeBadRequest},
		{"ftp StatusCallback", "", twSID, twToken, sendForm("+15551230000", "hi", "ftp://x/status"), 400, 21609, TwilioOutcomeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv := newTwilioServer(t, TwilioOptions{})
			u := messagesURL(srv)
			if tt.path != "" {
				u = srv.URL + "/2010-04-01/Accounts/" + tt.path
			}
			r := twCall(t, "POST", u, tt.user, tt.pass, tt.form)
			checkTwilioError(t, r, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if got := sim.Messages(); len(got) != 0 {
				t.Errorf("a refused call created %v", got)
			}
			if st := sim.Stats(); st.Creates != 1 || st.ByOutcome[tt.wantOutcome] != 1 || st.Pending != 0 {
				t.Errorf("stats %+v, want one %s create and nothing pending", st, tt.wantOutcome)
			}
		})
	}
}

func TestTwilioCreated(t *testing.T) {
	now := time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
	sim, srv := newTwilioServer(t, TwilioOptions{Now: func() time.Time { return now }})
	// Held queued by the delay, so the resource is the one of a fresh message.
	if err := sim.SetCallbackMode(CallbackNormal, time.Hour); err != nil {
		t.Fatal(err)
	}
	form := sendForm("+15551230000", "hello", "https://gw.example/webhooks/twilio/status")
	form.Set("MaxPrice", "0.5") // unknown parameters are ignored
	form.Set("ProvideFeedback", "true")
	r := twCall(t, "POST", messagesURL(srv), twSID, twToken, form)
	if r.status != 201 {
		t.Fatalf("create = %d %s, want 201", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	res := decodeResource(t, r.body)
	if !sidPattern.MatchString(res.SID) {
		t.Errorf("sid %q, want SM + 32 hex", res.SID)
	}
	wantDate := "Tue, 05 Mar 2024 07:08:09 +0000"
	want := wireResource{
		SID: res.SID, AccountSID: twSID, To: "+15551230000", From: "+15550001111", Body: "hello",
		Status: "queued", NumSegments: "1", NumMedia: "0", Direction: "outbound-api", APIVersion: "2010-04-01",
		DateCreated: wantDate, DateUpdated: wantDate, PriceUnit: "USD",
		URI: "/2010-04-01/Accounts/" + twSID + "/Messages/" + res.SID + ".json",
	}
	got := res
	got.raw, got.Subresources = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resource\n%+v\nwant\n%+v", got, want)
	}
	for _, null := range []string{"error_code", "error_message", "price", "date_sent", "messaging_service_sid"} {
		if v, ok := res.raw[null]; !ok || string(v) != "null" {
			t.Errorf("%s = %s, want null", null, v)
		}
	}
	if loc := r.header.Get("Location"); loc != res.URI {
		t.Errorf("Location %q, want %q", loc, res.URI)
	}

	msgs := sim.Messages()
	if len(msgs) != 1 || msgs[0].SID != res.SID || msgs[0].StatusCallback != form.Get("StatusCallback") ||
		msgs[0].Status != TwilioQueued || msgs[0].Body != "hello" || !msgs[0].DateCreated.Equal(now) {
		t.Errorf("Messages() = %+v, want the queued message", msgs)
	}
	if n := sim.Count("+15551230000"); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}

	// Segments are Twilio's: 161 GSM characters are 2, a 71-character UCS-2 text is 2.
	for body, segs := range map[string]string{strings.Repeat("a", 161): "2", strings.Repeat("é", 160): "1", strings.Repeat("ж", 71): "2"} {
		if got := createMessage(t, srv, sendForm("+15551230000", body, "")).NumSegments; got != segs {
			t.Errorf("num_segments of %d × %q = %s, want %s", len([]rune(body)), body[:2], got, segs)
		}
	}
}

func TestTwilioFetch(t *testing.T) {
	sim, srv := newTwilioServer(t, TwilioOptions{})
	if err := sim.SetRules([]TwilioRule{
		{Pattern: "+1555666*", Status: TwilioUndelivered, ErrorCode: 30005},
		{Pattern: "+1555777*", Status: TwilioFailed, ErrorCode: 21610},
	}); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetCallbackMode(CallbackOff, 0); err != nil {
		t.Fatal(err)
	}
	delivered := createMessage(t, srv, sendForm("+15551230000", "a", ""))
	undelivered := createMessage(t, srv, sendForm("+15556660001", "b", ""))
	failed := createMessage(t, srv, sendForm("+15557770001", "c", ""))
	// With callbacks off the status still advances: poll-only receivers see it.
	if err := sim.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		sid       string
		status    string
		code      int
		sentPrice bool
	}{
		{"delivered", delivered.SID, "delivered", 0, true},
		{"undelivered", undelivered.SID, "undelivered", 30005, true},
		{"failed", failed.SID, "failed", 21610, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := fetchMessage(t, srv, tt.sid)
			if res.SID != tt.sid || res.Status != tt.status {
				t.Errorf("fetched %s %s, want %s %s", res.SID, res.Status, tt.sid, tt.status)
			}
			switch {
			case tt.code == 0 && (res.ErrorCode != nil || res.ErrorMessage != nil):
				t.Errorf("error %v %v on a delivered message", *res.ErrorCode, res.ErrorMessage)
			case tt.code != 0 && (res.ErrorCode == nil || *res.ErrorCode != tt.code || res.ErrorMessage == nil || *res.ErrorMessage == ""):
				t.Errorf("error_code %s error_message %s, want %d and its message", res.raw["error_code"], res.raw["error_message"], tt.code)
			}
			if got := res.DateSent != nil && res.Price != nil; got != tt.sentPrice {
				t.Errorf("date_sent %s price %s, want both set: %v", res.raw["date_sent"], res.raw["price"], tt.sentPrice)
			}
		})
	}
	if got := fetchMessage(t, srv, undelivered.SID).ErrorMessage; got == nil || *got != "Unknown destination handset" {
		t.Errorf("error_message of 30005 = %v", got)
	}

	t.Run("not found", func(t *testing.T) {
		for _, sid := range []string{"SM" + strings.Repeat("0", 32), delivered.SID[:10]} {
			e := checkTwilioError(t, twCall(t, "GET", messageURL(srv, sid), twSID, twToken, nil), 404, 20404)
			if !strings.Contains(e.Message, sid) {
				t.Errorf("404 message %q does not name the resource", e.Message)
			}
		}
		r := twCall(t, "GET", srv.URL+"/2010-04-01/Accounts/"+twSID+"/Messages/"+delivered.SID, twSID, twToken, nil)
		checkTwilioError(t, r, 404, 20404)
	})
	t.Run("unauthorized", func(t *testing.T) {
		checkTwilioError(t, twCall(t, "GET", messageURL(srv, delivered.SID), twSID, "bad", nil), 401, 20003)
	})
	if st := sim.Stats(); st.Fetches < 5 || st.ByStatus[TwilioDelivered] != 1 || st.ByStatus[TwilioUndelivered] != 1 || st.ByStatus[TwilioFailed] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestTwilioBalance(t *testing.T) {
	sim, srv := newTwilioServer(t, TwilioOptions{Balance: 1234, PriceCents: 5})
	if err := sim.SetRules([]TwilioRule{{Pattern: "+1555999*", Refuse: true, ErrorCode: 21610}}); err != nil {
		t.Fatal(err)
	}
	balanceURL := srv.URL + "/2010-04-01/Accounts/" + twSID + "/Balance.json"
	get := func() map[string]string {
		t.Helper()
		r := twCall(t, "GET", balanceURL, twSID, twToken, nil)
		var b map[string]string
		if err := json.Unmarshal(r.body, &b); r.status != 200 || err != nil {
			t.Fatalf("balance = %d %s", r.status, r.body)
		}
		return b
	}
	if b := get(); b["balance"] != "12.34" || b["currency"] != "USD" || b["account_sid"] != twSID {
		t.Errorf("balance %v, want 12.34 USD of %s", b, twSID)
	}
	for _, to := range []string{"+15551230000", "+15551230001", "+15559990000"} {
		twCall(t, "POST", messagesURL(srv), twSID, twToken, sendForm(to, "x", ""))
	}
	if b := get(); b["balance"] != "12.24" {
		t.Errorf("balance after two accepted and one refused message = %s, want 12.24", b["balance"])
	}
	checkTwilioError(t, twCall(t, "GET", balanceURL, "", "", nil), 401, 20003)
}

func TestTwilioRules(t *testing.T) {
	sim, srv := newTwilioServer(t, TwilioOptions{})
	if err := sim.SetCallbackMode(CallbackOff, 0); err != nil {
		t.Fatal(err)
	}
	rules := []TwilioRule{
		{Pattern: "+15550000001", Refuse: true, ErrorCode: 21610},
		{Pattern: "+1555000*", Refuse: true, ErrorCode: 21211},
		{Pattern: "+1555666*", Status: TwilioUndelivered}, // default code
		{Pattern: "+15556660*", Status: TwilioFailed},     // shadowed: the first match wins
		{Pattern: "+1555777*", Status: TwilioFailed},
		{Pattern: "+1555888*", Status: TwilioDelivered},
	}
	if err := sim.SetRules(rules); err != nil {
		t.Fatal(err)
	}
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			to      string
			code    int
			message string
		}{
			{"+15550000001", 21610, "Attempt to send to unsubscribed recipient"},
			{"+15550000002", 21211, "The 'To' number +15550000002 is not a valid phone number."},
		} {
			r := twCall(t, "POST", messagesURL(srv), twSID, twToken, sendForm(tc.to, "x", "https://gw.example/s"))
			if e := checkTwilioError(t, r, 400, tc.code); e.Message != tc.message {
				t.Errorf("refusal message %q, want %q", e.Message, tc.message)
			}
			if n := sim.Count(tc.to); n != 0 {
				t.Errorf("Count(%s) = %d after a refusal", tc.to, n)
			}
		}
		if st := sim.Stats(); st.Messages != 0 || st.ByOutcome[TwilioOutcomeRefused] != 2 || st.Pending != 0 {
			t.Errorf("stats %+v, want 2 refusals and nothing queued", st)
		}
	})
	t.Run("fates", func(t *testing.T) {
		want := map[string]struct {
			status string
			code   int
		}{
			"+15556660001": {TwilioUndelivered, 30003},
			"+15557770001": {TwilioFailed, 30008},
			"+15558880001": {TwilioDelivered, 0},
			"+15559990001": {TwilioDelivered, 0},
		}
		sids := map[string]string{}
		for to := range want {
			sids[to] = createMessage(t, srv, sendForm(to, "x", "")).SID
		}
		if err := sim.WaitIdle(t.Context()); err != nil {
			t.Fatal(err)
		}
		for to, w := range want {
			m, ok := sim.Message(sids[to])
			if !ok || m.Status != w.status || m.ErrorCode != w.code {
				t.Errorf("message to %s: %+v, want %s with code %d", to, m, w.status, w.code)
			}
		}
	})
	t.Run("bad rules are refused and change nothing", func(t *testing.T) {
		for _, bad := range [][]TwilioRule{
			{{Pattern: "", Status: TwilioDelivered}},
			{{Pattern: "+1*5", Status: TwilioDelivered}},
			{{Pattern: "+1", Status: "lost"}},
			{{Pattern: "+1"}},
			{{Pattern: "+1", Status: TwilioDelivered, ErrorCode: 30003}},
			{{Pattern: "+1", Refuse: true}},
			{{Pattern: "+1", Status: TwilioFailed, ErrorCode: -1}},
			{{Pattern: "+1", Status: TwilioDelivered}, {Pattern: "*x*", Status: TwilioDelivered}},
		} {
			if err := sim.SetRules(bad); err == nil {
				t.Errorf("SetRules(%+v) succeeded", bad)
			}
		}
		r := twCall(t, "POST", messagesURL(srv), twSID, twToken, sendForm("+15550000001", "x", ""))
		checkTwilioError(t, r, 400, 21610)
	})
}

// checkSigned checks a request is a signed Twilio form post to exactly rawURL.
func checkSigned(t *testing.T, req receivedRequest, rawURL string) {
	t.Helper()
	if req.url != rawURL {
		t.Errorf("posted to %s, want %s", req.url, rawURL)
	}
	if ct := req.header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q", ct)
	}
	if !signature.Valid(twToken, rawURL, req.params, req.header.Get("X-Twilio-Signature")) {
		t.Errorf("X-Twilio-Signature %q is not valid for %s %v", req.header.Get("X-Twilio-Signature"), rawURL, req.params)
	}
}

// statusesBySID groups the MessageStatus of callbacks by message, in arrival order.
func statusesBySID(reqs []receivedRequest) map[string][]string {
	out := map[string][]string{}
	for _, r := range reqs {
		sid := r.params.Get("MessageSid")
		out[sid] = append(out[sid], r.params.Get("MessageStatus"))
	}
	return out
}

func TestTwilioCallbackModes(t *testing.T) {
	type fate struct {
		to     string
		code   string   // the ErrorCode of the final callback
		normal []string // the callbacks in order
	}
	fates := []fate{
		{"+15551230000", "", []string{"queued", "sent", "delivered"}},
		{"+15556660000", "30003", []string{"queued", "sent", "undelivered"}},
		{"+15557770000", "30008", []string{"queued", "failed"}},
	}
	tests := []struct {
		mode string
		want func([]string) []string
	}{
		{CallbackNormal, func(s []string) []string { return s }},
		{CallbackTwice, func(s []string) []string {
			var out []string
			for _, x := range s {
				out = append(out, x, x)
			}
			return out
		}},
		{CallbackOutOfOrder, func(s []string) []string {
			out := slices.Clone(s)
			slices.Reverse(out)
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			sim, srv := newTwilioServer(t, TwilioOptions{})
			rc := newReceiver(t, nil)
			if err := sim.SetRules([]TwilioRule{
				{Pattern: "+1555666*", Status: TwilioUndelivered, ErrorCode: 30003},
				{Pattern: "+1555777*", Status: TwilioFailed, ErrorCode: 30008},
			}); err != nil {
				t.Fatal(err)
			}
			if err := sim.SetCallbackMode(tt.mode, 0); err != nil {
				t.Fatal(err)
			}
			// A query string is part of the signed URL.
			cbURL := rc.srv.URL + "/webhooks/twilio/status?tenant=t1&x=%2F"
			want := map[string][]string{}
			total := 0
			for _, f := range fates {
				res := createMessage(t, srv, sendForm(f.to, "hi", cbURL))
				want[res.SID] = tt.want(f.normal)
				total += len(want[res.SID])
			}
			if err := sim.WaitCallbacks(t.Context(), total); err != nil {
				t.Fatal(err)
			}
			if err := sim.WaitIdle(t.Context()); err != nil {
				t.Fatal(err)
			}
			reqs := rc.requests()
			if len(reqs) != total {
				t.Fatalf("%d callbacks, want %d", len(reqs), total)
			}
			if got := statusesBySID(reqs); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("callbacks by message\n%v\nwant\n%v", got, want)
			}
			tokens := map[string]string{}
			for _, req := range reqs {
				checkSigned(t, req, cbURL)
				p := req.params
				keys := slices.Sorted(maps.Keys(p))
				wantKeys := []string{"AccountSid", "ApiVersion", "From", "MessageSid", "MessageStatus", "SmsSid", "SmsStatus", "To"}
				f := fates[slices.IndexFunc(fates, func(f fate) bool { return f.to == p.Get("To") })]
				status := p.Get("MessageStatus")
				if status == TwilioUndelivered || status == TwilioFailed {
					wantKeys = append(wantKeys, "ErrorCode")
					slices.Sort(wantKeys)
					if p.Get("ErrorCode") != f.code {
						t.Errorf("ErrorCode %q on %s, want %s", p.Get("ErrorCode"), status, f.code)
					}
				}
				if !slices.Equal(keys, wantKeys) {
					t.Errorf("params %v, want exactly %v", keys, wantKeys)
				}
				if p.Get("SmsSid") != p.Get("MessageSid") || p.Get("SmsStatus") != status || p.Get("AccountSid") != twSID ||
					p.Get("ApiVersion") != "2010-04-01" || p.Get("From") != "+15550001111" {
					t.Errorf("params %v", p)
				}
				// A redelivery of the same event carries the same idempotency token.
				key := p.Get("MessageSid") + status
				tok := req.header.Get("I-Twilio-Idempotency-Token")
				if prev, ok := tokens[key]; tok == "" || (ok && prev != tok) {
					t.Errorf("idempotency token %q (before %q) for %s", tok, prev, key)
				}
				tokens[key] = tok
			}
			recs := sim.Callbacks()
			if len(recs) != total {
				t.Fatalf("%d callback records, want %d", len(recs), total)
			}
			for i, c := range recs {
				if c.Seq != i+1 || !c.OK() || c.Attempt != 1 || c.Dropped || c.URL != cbURL || c.Error != "" ||
					c.Params.Get("MessageStatus") != c.MessageStatus || !signature.Valid(twToken, cbURL, c.Params, c.Signature) {
					t.Errorf("record %d: %+v", i, c)
				}
			}
			if st := sim.Stats(); st.Callbacks != total || st.CallbacksOK != total || st.CallbacksDropped != 0 || st.Pending != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestTwilioCallbacksOff(t *testing.T) {
	sim, srv := newTwilioServer(t, TwilioOptions{})
	rc := newReceiver(t, nil)
	// A message keeps the mode and delay it was created with.
	if err := sim.SetCallbackMode(CallbackNormal, time.Hour); err != nil {
		t.Fatal(err)
	}
	held := createMessage(t, srv, sendForm("+15551230000", "held", rc.srv.URL+"/s"))
	if err := sim.SetCallbackMode(CallbackOff, 0); err != nil {
		t.Fatal(err)
	}
	off := createMessage(t, srv, sendForm("+15551230001", "off", rc.srv.URL+"/s"))
	if err := sim.SetCallbackMode(CallbackNormal, 0); err != nil {
		t.Fatal(err)
	}
	plain := createMessage(t, srv, sendForm("+15551230002", "no callback URL", ""))
	// Only held is pending then; wait on the other two through polling, as a plugin would.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, sid := range []string{off.SID, plain.SID} {
		for fetchMessage(t, srv, sid).Status != TwilioDelivered {
			if err := sim.wait(ctx, func() bool { return sim.bySID[sid].Status == TwilioDelivered }, func() string { return "delivered " + sid }); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := fetchMessage(t, srv, held.SID).Status; got != TwilioQueued {
		t.Errorf("held message is %s, want queued until its delay", got)
	}
	if st := sim.Stats(); st.Pending != 1 {
		t.Errorf("pending %d, want only the held message", st.Pending)
	}
	if n := len(rc.requests()) + len(sim.Callbacks()); n != 0 {
		t.Errorf("%d callbacks with mode off / no StatusCallback / a pending delay", n)
	}
}

func TestTwilioCallbackDelay(t *testing.T) {
	sim, srv := newTwilioServer(t, TwilioOptions{})
	rc := newReceiver(t, nil)
	const delay = 60 * time.Millisecond
	if err := sim.SetCallbackMode(CallbackNormal, delay); err != nil {
		t.Fatal(err)
	}
	createMessage(t, srv, sendForm("+15551230000", "late", rc.srv.URL+"/s"))
	if err := sim.WaitCallbacks(t.Context(), 3); err != nil {
		t.Fatal(err)
	}
	m := sim.Messages()[0]
	if d := m.DateUpdated.Sub(m.DateCreated); d < delay {
		t.Errorf("settled %s after creation, want at least the %s delay", d, delay)
	}
	if d := sim.Callbacks()[0].At.Sub(m.DateCreated); d < delay {
		t.Errorf("first callback %s after creation, want at least %s", d, delay)
	}
	if got := statusesBySID(rc.requests())[m.SID]; !slices.Equal(got, []string{"queued", "sent", "delivered"}) {
		t.Errorf("late callbacks %v", got)
	}
	if err := sim.SetCallbackMode(CallbackNormal, -time.Second); err == nil {
		t.Error("a negative delay was accepted")
	}
	if err := sim.SetCallbackMode("loud", 0); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

func TestTwilioInbound(t *testing.T) {
	const twiml = `<?xml version="1.0" encoding="UTF-8"?><Response/>`
	rc := newReceiver(t, func(n int, r *http.Request) (int, string) {
		if n == 2 {
			return http.StatusForbidden, "bad signature"
		}
		return http.StatusOK, twiml
	})
	inboundURL := rc.srv.URL + "/webhooks/twilio/inbound?key=k1"
	sim, _ := newTwilioServer(t, TwilioOptions{})

	if _, _, err := sim.SendInbound(t.Context(), "+15551230000", "+447700900000", "hi"); err == nil {
		t.Fatal("SendInbound without an inbound URL succeeded")
	}
	sim.SetInboundURL(inboundURL)
	status, body, err := sim.SendInbound(t.Context(), "+15551230000", "+447700900000", "STOP")
	if err != nil || status != 200 || body != twiml {
		t.Fatalf("SendInbound = %d %q %v, want 200 and the receiver's TwiML", status, body, err)
	}
	req := rc.requests()[0]
	checkSigned(t, req, inboundURL)
	p := req.params
	want := map[string]string{
		"AccountSid": twSID, "From": "+15551230000", "To": "+447700900000", "Body": "STOP",
		"NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01", "SmsStatus": "received",
		"FromCountry": "US", "ToCountry": "GB", "FromCity": "", "ToZip": "",
	}
	for k, v := range want {
		if got, ok := p[k]; !ok || got[0] != v {
			t.Errorf("%s = %q (present %v), want %q", k, p.Get(k), ok, v)
		}
	}
	sid := p.Get("MessageSid")
	if !sidPattern.MatchString(sid) || p.Get("SmsMessageSid") != sid || p.Get("SmsSid") != sid {
		t.Errorf("sids %q %q %q", sid, p.Get("SmsMessageSid"), p.Get("SmsSid"))
	}
	// The empty geo parameters are signed too: dropping one breaks the signature.
	trimmed := cloneValues(p)
	trimmed.Del("FromCity")
	if signature.Valid(twToken, inboundURL, trimmed, req.header.Get("X-Twilio-Signature")) {
		t.Error("the signature does not cover the empty FromCity")
	}

	// The receiver's refusal is an answer, not an error.
	if status, body, err := sim.SendInbound(t.Context(), "+15551230000", "+15550001111", "x"); err != nil || status != 403 || !strings.Contains(body, "bad signature") {
		t.Errorf("refused inbound = %d %q %v, want 403 with the receiver's body", status, body, err)
	}
	rc.srv.Close()
	if _, _, err := sim.SendInbound(t.Context(), "+15551230000", "+15550001111", "x"); err == nil {
		t.Error("SendInbound to a closed receiver succeeded")
	}
	if _, _, err := sim.SendInbound(t.Context(), "", "+15550001111", "x"); err == nil {
		t.Error("SendInbound without from succeeded")
	}
	if st := sim.Stats(); st.Inbound != 3 {
		t.Errorf("inbound %d, want the 3 posted", st.Inbound)
	}
}

func TestTwilioAdminAPI(t *testing.T) {
	sim, srv := newTwilioServer(t, TwilioOptions{})
	rc := newReceiver(t, func(int, *http.Request) (int, string) { return 200, "<Response/>" })
	admin := func(method, path, body string) twResponse {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return twResponse{status: resp.StatusCode, body: b, header: resp.Header}
	}
	steps := []struct {
		path, body string
		wantStatus int
	}{
		{"/admin/latency", `{"latency": "1ms"}`, 200},
		{"/admin/latency", `{"latency": "soon"}`, 400},
		{"/admin/fail", `{"next": 1, "kind": "rate_limit", "seed": 3, "retry_after": "2s"}`, 200},
		{"/admin/fail", `{"next": 1, "kind": "boom"}`, 400},
		{"/admin/fail", `{"fraction": 2}`, 400},
		{"/admin/fail", `{"next": -1}`, 400},
		{"/admin/fail", `{"retry_after": "0s"}`, 400},
		{"/admin/rules", `{"rules": [{"pattern": "+1999*", "refuse": true, "error_code": 21610}]}`, 200},
		{"/admin/rules", `{"rules": [{"pattern": "+1*9", "status": "failed"}]}`, 400},
		{"/admin/rules", `{"rules": [{"pattern": "+1", "status": "delivered", "colour": "red"}]}`, 400},
		{"/admin/callback_mode", `{"mode": "twice"}`, 200},
		{"/admin/callback_mode", `{"mode": "loud"}`, 400},
		{"/admin/callback_mode", `{"mode": "normal", "delay": "-1s"}`, 400},
		{"/admin/callback_mode", `{"mode": "normal", "delay": "later"}`, 400},
		{"/admin/inbound", `{"from": "+15551230000", "to": "+15550001111", "body": "x"}`, 409},
		{"/admin/inbound_url", `{"url": "/relative"}`, 400},
		{"/admin/inbound_url", `{"url": "` + rc.srv.URL + `/in"}`, 200},
		{"/admin/inbound", `{"to": "+15550001111", "body": "x"}`, 400},
		{"/admin/fail", `{`, 400},
	}
	for _, s := range steps {
		if r := admin("POST", s.path, s.body); r.status != s.wantStatus {
			t.Errorf("POST %s %s = %d %s, want %d", s.path, s.body, r.status, r.body, s.wantStatus)
		}
	}

	// The knobs set over HTTP apply.
	r := twCall(t, "POST", messagesURL(srv), twSID, twToken, sendForm("+15551230000", "x", rc.srv.URL+"/s"))
	checkTwilioError(t, r, 429, 20429)
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
	checkTwilioError(t, twCall(t, "POST", messagesURL(srv), twSID, twToken, sendForm("+19990000000", "x", "")), 400, 21610)
	res := createMessage(t, srv, sendForm("+15551230000", "x", rc.srv.URL+"/s"))
	if err := sim.WaitCallbacks(t.Context(), 6); err != nil { // twice: 2 × queued, sent, delivered
		t.Fatal(err)
	}
	r = admin("POST", "/admin/inbound", `{"from": "+15551230000", "to": "+15550001111", "body": "hello"}`)
	var in struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	if err := json.Unmarshal(r.body, &in); err != nil || r.status != 200 || in.Status != 200 || in.Body != "<Response/>" {
		t.Errorf("POST /admin/inbound = %d %s, want the receiver's 200 <Response/>", r.status, r.body)
	}
	if got := rc.requests(); got[len(got)-1].params.Get("Body") != "hello" {
		t.Errorf("the inbound did not reach the receiver: %v", got[len(got)-1].params)
	}

	var msgs []TwilioMessage
	if err := json.Unmarshal(admin("GET", "/admin/messages", "").body, &msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].SID != res.SID || msgs[0].StatusCallback != rc.srv.URL+"/s" || msgs[0].To != "+15551230000" {
		t.Errorf("GET /admin/messages = %+v", msgs)
	}
	var cbs []Callback
	if err := json.Unmarshal(admin("GET", "/admin/callbacks", "").body, &cbs); err != nil {
		t.Fatal(err)
	}
	if len(cbs) != 6 || cbs[0].MessageSID != res.SID || cbs[0].Params.Get("MessageStatus") != "queued" {
		t.Errorf("GET /admin/callbacks = %+v", cbs)
	}
	var st TwilioStats
	if err := json.Unmarshal(admin("GET", "/admin/stats", "").body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Creates != 3 || st.Messages != 1 || st.ByOutcome[TwilioOutcomeRateLimited] != 1 || st.ByOutcome[TwilioOutcomeRefused] != 1 ||
		st.CallbacksOK != 6 || st.Inbound != 1 {
		t.Errorf("GET /admin/stats = %+v", st)
	}

	rc.srv.Close()
	if r := admin("POST", "/admin/inbound", `{"from": "+15551230000", "to": "+15550001111"}`); r.status != 502 {
		t.Errorf("inbound to a closed receiver = %d %s, want 502", r.status, r.body)
	}
	if r := admin("POST", "/admin/reset", ""); r.status != 200 {
		t.Fatalf("reset = %d", r.status)
	}
	if st := sim.Stats(); st.Creates != 0 || st.Messages != 0 || st.Callbacks != 0 || st.Inbound != 0 {
		t.Errorf("stats after reset %+v, want empty", st)
	}
	if sim.InboundURL() != rc.srv.URL+"/in" {
		t.Error("reset forgot the inbound URL")
	}
	// The knobs are gone too: latency, rules, mode.
	if r := twCall(t, "POST", messagesURL(srv), twSID, twToken, sendForm("+19990000000", "x", "")); r.status != 201 {
		t.Errorf("create after reset = %d %s, want 201", r.status, r.body)
	}
}

// FuzzTwilioCreate feeds arbitrary form bodies to the create call: it answers 201 with a
// message created from exactly those parameters, or Twilio's 400 and creates nothing.
func FuzzTwilioCreate(f *testing.F) {
	for _, seed := range []string{
		sendForm("+15551230000", "hi", "").Encode(),
		sendForm("+15551230000", "hi", "https://gw.example/s?a=1").Encode(),
		"To=%2B15551230000&From=x&Body=%E2%82%AC&Body=second",
		"To=&From=&Body=",
		"To=%2B0&From=a&Body=b",
		"%zz",
		"To=%2B15551230000&From=a&Body=b&StatusCallback=%3A%2F%2F",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, form string) {
		sim := NewTwilio(TwilioOptions{AccountSID: twSID, AuthToken: twToken})
		defer sim.Close()
		if err := sim.SetCallbackMode(CallbackNormal, time.Hour); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/2010-04-01/Accounts/"+twSID+"/Messages.json", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(twSID, twToken)
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		msgs := sim.Messages()
		switch w.Code {
		case 201:
			parsed, err := url.ParseQuery(form)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("201 for %q (parse error %v) with %d messages", form, err, len(msgs))
			}
			m := msgs[0]
			if m.To != parsed.Get("To") || m.From != parsed.Get("From") || m.Body != parsed.Get("Body") ||
				m.StatusCallback != parsed.Get("StatusCallback") || !isE164(m.To) || m.Body == "" || m.From == "" {
				t.Fatalf("created %+v from %q", m, form)
			}
			res := decodeResource(t, w.Body.Bytes())
			if res.SID != m.SID || res.Status != TwilioQueued || res.Body != m.Body {
				t.Fatalf("resource %s for %+v", w.Body.Bytes(), m)
			}
		case 400:
			var e twError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Status != 400 || e.Code == 0 {
				t.Fatalf("400 body %s", w.Body.Bytes())
			}
			if len(msgs) != 0 {
				t.Fatalf("a 400 created %+v", msgs)
			}
		default:
			t.Fatalf("status %d for %q", w.Code, form)
		}
	})
}
