package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

// maxResponse bounds what is read of a Twilio answer.
const maxResponse = 1 << 20

// apiClient speaks the Twilio-style Messages API of API.md §9 for one account.
type apiClient struct {
	http    *http.Client
	account string // base_url + "/2010-04-01/Accounts/" + sid
	sid     string
	token   string
	timeout time.Duration
	now     func() time.Time // for Retry-After given as a date
}

func newAPIClient(cfg config, transport http.RoundTripper, now func() time.Time) *apiClient {
	return &apiClient{
		http:    httpcall.NewClient(transport), // no redirects, no client timeout: see there
		account: cfg.baseURL + "/2010-04-01/Accounts/" + cfg.accountSID,
		sid:     cfg.accountSID,
		token:   cfg.authToken,
		timeout: cfg.timeout,
		now:     now,
	}
}

// apiMessage is the part of Twilio's Message resource the plugin reads.
type apiMessage struct {
	SID          string     `json:"sid"`
	Status       string     `json:"status"`
	ErrorCode    twilioCode `json:"error_code"`
	ErrorMessage string     `json:"error_message"` // null leaves it empty
	DateUpdated  string     `json:"date_updated"`  // RFC 1123 with a numeric zone
}

// updatedAt is when Twilio last changed the message, or fallback when it does not say.
func (m apiMessage) updatedAt(fallback time.Time) time.Time {
	if t, err := time.Parse(time.RFC1123Z, m.DateUpdated); err == nil {
		return t.UTC()
	}
	return fallback
}

// twilioCode is an error code as Twilio's JSON gives it: a number, sometimes a numeric
// string, or null (0).
type twilioCode int

func (c *twilioCode) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		*c = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*c = 0
			return nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("error code %.20q is not a whole number", s)
	}
	*c = twilioCode(n)
	return nil
}

// String is the code as the sdk carries it: "" for none.
func (c twilioCode) String() string {
	if c == 0 {
		return ""
	}
	return strconv.Itoa(int(c))
}

// createMessage asks Twilio to send one SMS and returns the new message resource.
func (c *apiClient) createMessage(ctx context.Context, from, to, body, statusCallback string) (apiMessage, error) {
	form := url.Values{"To": {to}, "From": {from}, "Body": {body}, "StatusCallback": {statusCallback}}
	var m apiMessage
	if _, err := c.do(ctx, http.MethodPost, "/Messages.json", form, &m); err != nil {
		return apiMessage{}, fmt.Errorf("create message to %s: %w", to, err)
	}
	if m.SID == "" {
		// Twilio said yes but not to what: the message may exist, under an id we lack.
		return apiMessage{}, fmt.Errorf("create message to %s: %w", to,
			&sdk.Error{Class: sdk.ClassAmbiguous, Message: "answer without a message sid"})
	}
	return m, nil
}

// fetchMessage reads one message resource; found is false when Twilio does not know it.
func (c *apiClient) fetchMessage(ctx context.Context, sid string) (m apiMessage, found bool, err error) {
	status, err := c.do(ctx, http.MethodGet, "/Messages/"+url.PathEscape(sid)+".json", nil, &m)
	switch {
	case status == http.StatusNotFound:
		return apiMessage{}, false, nil
	case err != nil:
		return apiMessage{}, false, fmt.Errorf("fetch message %s: %w", sid, err)
	case m.SID == "":
		return apiMessage{}, false, fmt.Errorf("fetch message %s: %w", sid,
			&sdk.Error{Class: sdk.ClassAmbiguous, Message: "answer without a message sid"})
	}
	return m, true, nil
}

func (c *apiClient) balance(ctx context.Context) (sdk.Balance, error) {
	var b struct {
		Balance  json.Number `json:"balance"` // Twilio sends a string; a number is fine too
		Currency string      `json:"currency"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/Balance.json", nil, &b); err != nil {
		return sdk.Balance{}, fmt.Errorf("get balance: %w", err)
	}
	if b.Balance == "" || b.Currency == "" {
		return sdk.Balance{}, fmt.Errorf("get balance: %w",
			&sdk.Error{Class: sdk.ClassAmbiguous, Message: "answer without balance or currency"})
	}
	return sdk.Balance{Amount: b.Balance.String(), Currency: b.Currency}, nil
}

// do makes one call (form-encoded when form is not nil) and decodes a 2xx answer into out.
// It returns the HTTP status when Twilio answered (0 when not) and a classified *sdk.Error
// for every failure: httpcall.TransportError before an answer, answerError for a non-2xx one, and
// ClassAmbiguous for a 2xx it cannot read (the call took effect; only its answer is lost).
func (c *apiClient) do(ctx context.Context, method, path string, form url.Values, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body []byte
	if form != nil {
		body = []byte(form.Encode())
	}
	req, err := httpcall.NewRequest(ctx, method, c.account+path, body, "application/x-www-form-urlencoded")
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(c.sid, c.token)
	req.Header.Set("Accept", "application/json")
	a, err := httpcall.Do(c.http, req, maxResponse)
	if err != nil {
		return 0, err // not sent, or sent without an answer: httpcall.TransportError
	}
	if !a.OK() {
		return a.Status, answerError(a.Status, a.Header, a.Body, c.now())
	}
	return a.Status, a.DecodeJSON(out)
}

// apiErrorBody is Twilio's JSON error answer.
type apiErrorBody struct {
	Code     twilioCode `json:"code"`
	Message  string     `json:"message"`
	MoreInfo string     `json:"more_info"`
	Status   int        `json:"status"`
}

// answerError classifies a non-2xx answer from Twilio's JSON error body, when it has one,
// and the HTTP status. Only a body that repeats the HTTP status, as Twilio's do, counts as
// Twilio's: a proxy's JSON error page says nothing about whether Twilio has the message.
func answerError(status int, h http.Header, body []byte, now time.Time) *sdk.Error {
	var b apiErrorBody
	fromTwilio := json.Unmarshal(body, &b) == nil && b.Status == status && (b.Code != 0 || b.Message != "")
	if !fromTwilio {
		b = apiErrorBody{}
	}
	class, optOut := classify(status, int(b.Code), fromTwilio)
	// Code is Twilio's own, or none: an HTTP status is not a provider error code (the
	// message names it), and the gateway shows a provider's code as the message's error code.
	e := &sdk.Error{Class: class, Code: b.Code.String(), Message: httpcall.Truncate(b.Message, maxErrorMessage), OptOut: optOut}
	if e.Message == "" {
		e.Message = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	}
	if class == sdk.ClassRateLimited {
		e.RetryAfter = httpcall.RetryAfter(h.Get("Retry-After"), now)
	}
	return e
}

// maxErrorMessage bounds the provider message kept with an error (it ends up stored with the
// failed message).
const maxErrorMessage = 300

// classify is the one place a failed Twilio call gets its class. Twilio's own error code
// decides when it is one we know; otherwise the HTTP status does.
//
// Every answer here is an error answer, so Twilio did not create the message, with one
// exception: a 5xx that is not Twilio's JSON error (a 502 or 504 from a proxy or load
// balancer, an HTML page) may come after Twilio took the request, so it is ambiguous. 503
// says the request was not handled (RFC 9110), whoever says it.
func classify(httpStatus, code int, fromTwilio bool) (class sdk.ErrorClass, optOut bool) {
	switch code {
	case 21610: // the recipient replied STOP to this sender
		return sdk.ClassRejected, true
	case 21211, // invalid 'To' number
		21212, // invalid 'From' number
		21266, // 'To' and 'From' are the same
		21602, // body required
		21603, // 'From' required
		21604, // 'To' required
		21605, // body too long (legacy 160 limit)
		21606, // 'From' cannot send to this destination from this account
		21614, // 'To' is not a mobile number
		21617, // body over 1600 characters
		21619, // neither body nor media
		21659, // 'From' is not a Twilio number or sender id
		21660: // 'From' does not belong to the account
		return sdk.ClassInvalid, false
	case 21408, // sending to the region is not enabled
		21608, // trial account, 'To' not verified
		21612, // no route for this 'To'/'From' pair
		30003, // unreachable
		30004, // blocked
		30005, // unknown destination
		30006, // landline or unreachable carrier
		30007, // filtered as spam
		30008: // unknown delivery error
		return sdk.ClassRejected, false
	case 20003: // authentication failed
		return sdk.ClassAuth, false
	case 10001, 20005, // account not active (out of funds, or suspended)
		30002: // account suspended
		return sdk.ClassCredit, false
	case 14107, // SMS send rate limit
		20429, // too many concurrent requests
		21611: // the sender's queue is full
		return sdk.ClassRateLimited, false
	case 20500, 20503: // Twilio's internal error / service unavailable
		return sdk.ClassUnavailable, false
	}
	switch {
	case httpStatus == http.StatusUnauthorized || httpStatus == http.StatusForbidden:
		return sdk.ClassAuth, false
	case httpStatus == http.StatusPaymentRequired:
		return sdk.ClassCredit, false
	case httpStatus == http.StatusTooManyRequests:
		return sdk.ClassRateLimited, false
	case httpStatus == http.StatusServiceUnavailable:
		return sdk.ClassUnavailable, false
	case httpStatus >= 500 && fromTwilio:
		return sdk.ClassUnavailable, false
	case httpStatus >= 500:
		return sdk.ClassAmbiguous, false
	case httpStatus >= 400:
		return sdk.ClassRejected, false
	default:
		// 1xx or 3xx (redirects are not followed): base_url answered without taking the
		// request; another try, or another provider, may do better.
		return sdk.ClassUnavailable, false
	}
}
