package providersim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
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
