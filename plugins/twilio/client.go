package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/smsgw/smsgw/plugins/sdk"
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
		// No http.Client.Timeout: each call's context carries cfg.timeout, so a timeout is
		// a context error and classified by whether the request had been written.
		http: &http.Client{
			Transport: transport,
			// A redirect is an answer, not something to follow: a POST turned into a GET by
			// a 302 would list messages instead of sending one.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
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
// for every failure: transportError before an answer, answerError for a non-2xx one, and
// ClassAmbiguous for a 2xx it cannot read (the call took effect; only its answer is lost).
func (c *apiClient) do(ctx context.Context, method, path string, form url.Values, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// Called even when writing failed part-way: the server may then still have had the
		// whole request, so "written" errs on the side of ambiguous.
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.account+path, body)
	if err != nil {
		return 0, &sdk.Error{Class: sdk.ClassInvalid, Message: fmt.Sprintf("build request: %v", err)}
	}
	req.SetBasicAuth(c.sid, c.token)
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, transportError(err, wrote.Load())
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, answerError(resp.StatusCode, resp.Header, raw, c.now())
	}
	if readErr != nil {
		return resp.StatusCode, &sdk.Error{Class: sdk.ClassAmbiguous, Message: fmt.Sprintf("read %d answer: %v", resp.StatusCode, readErr)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp.StatusCode, &sdk.Error{Class: sdk.ClassAmbiguous, Message: fmt.Sprintf("decode %d answer: %v", resp.StatusCode, err)}
	}
	return resp.StatusCode, nil
}

// transportError classifies a call that got no answer: nothing written (refused connection,
// DNS, TLS, cancelled before sending) means Twilio cannot have the message; once the
// request is out, a timeout or a reset leaves it open whether Twilio created it.
func transportError(err error, wrote bool) *sdk.Error {
	class, what := sdk.ClassUnavailable, "not sent"
	if wrote {
		class, what = sdk.ClassAmbiguous, "sent, no answer"
	}
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		msg = "timed out"
	case errors.Is(err, context.Canceled):
		msg = "cancelled"
	}
	return &sdk.Error{Class: class, Message: fmt.Sprintf("%s: %s", what, msg)}
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
	e := &sdk.Error{Class: class, Code: b.Code.String(), Message: truncate(b.Message, maxErrorMessage), OptOut: optOut}
	if e.Message == "" {
		e.Message = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	}
	if class == sdk.ClassRateLimited {
		e.RetryAfter = retryAfter(h.Get("Retry-After"), now)
	}
	return e
}

// maxErrorMessage bounds the provider message kept with an error (it ends up stored with the
// failed message).
const maxErrorMessage = 300

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

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

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 when absent or useless.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, maxRetryAfterSeconds)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfterSeconds*time.Second)
	}
	return 0
}

// maxRetryAfterSeconds caps what a Retry-After can ask for (a day), so a broken header
// cannot park a message for years or overflow a Duration.
const maxRetryAfterSeconds = 24 * 60 * 60
