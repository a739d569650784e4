package main

import (
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

// maxResponse bounds what is read of a Flowroute answer.
const maxResponse = 1 << 20

// jsonAPI is the media type of Flowroute's requests and answers.
const jsonAPI = "application/vnd.api+json"

// apiClient speaks the Flowroute-style Messages API v2.1 of API.md §9 for one account.
type apiClient struct {
	http    *http.Client
	base    string // base_url + "/v2.1"
	key     string
	secret  string
	timeout time.Duration
	now     func() time.Time // for Retry-After given as a date
}

func newAPIClient(cfg config, transport http.RoundTripper, now func() time.Time) *apiClient {
	return &apiClient{
		http:    httpcall.NewClient(transport), // no redirects, no client timeout: see there
		base:    cfg.baseURL + "/v2.1",
		key:     cfg.accessKey,
		secret:  cfg.secretKey,
		timeout: cfg.timeout,
		now:     now,
	}
}

// sendBody is the body of POST /v2.1/messages: the flat form Flowroute's reference gives.
type sendBody struct {
	To          string `json:"to"`
	From        string `json:"from"`
	Body        string `json:"body"`
	DLRCallback string `json:"dlr_callback,omitempty"`
}

// sendMessage asks Flowroute to send one SMS (numbers as 11 digits) and returns its mdr2 id.
func (c *apiClient) sendMessage(ctx context.Context, m sendBody) (string, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("send message: %w", &sdk.Error{Class: sdk.ClassInvalid, Message: err.Error()})
	}
	var out struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/messages", body, &out); err != nil {
		return "", fmt.Errorf("send message to %s: %w", m.To, err)
	}
	if out.Data.ID == "" {
		// Flowroute said yes but not to what: the message may exist, under an id we lack.
		return "", fmt.Errorf("send message to %s: %w", m.To,
			&sdk.Error{Class: sdk.ClassAmbiguous, Message: "answer without a message id"})
	}
	return out.Data.ID, nil
}

// mdr is the part of a message detail record (GET /v2.1/messages/{id}) the plugin reads.
type mdr struct {
	Data struct {
		ID         string `json:"id"`
		Attributes struct {
			Status           string        `json:"status"`
			Timestamp        string        `json:"timestamp"`
			DeliveryReceipts []receiptAttr `json:"delivery_receipts"`
		} `json:"attributes"`
	} `json:"data"`
}

// lookupMessage reads one message detail record; found is false when Flowroute does not
// know the id.
func (c *apiClient) lookupMessage(ctx context.Context, id string) (m mdr, found bool, err error) {
	status, err := c.do(ctx, http.MethodGet, "/messages/"+url.PathEscape(id), nil, &m)
	switch {
	case status == http.StatusNotFound:
		return mdr{}, false, nil
	case err != nil:
		return mdr{}, false, fmt.Errorf("look up message %s: %w", id, err)
	case m.Data.ID == "":
		return mdr{}, false, fmt.Errorf("look up message %s: %w", id,
			&sdk.Error{Class: sdk.ClassAmbiguous, Message: "answer without a message id"})
	}
	return m, true, nil
}

// do makes one call (with a JSON body when body is not nil) and decodes a 2xx answer into
// out. It returns the HTTP status when Flowroute answered (0 when not) and a classified
// *sdk.Error for every failure: httpcall.TransportError before an answer, answerError for a non-2xx
// one, and ClassAmbiguous for a 2xx it cannot read (the call took effect; only its answer is
// lost).
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := httpcall.NewRequest(ctx, method, c.base+path, body, jsonAPI)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(c.key, c.secret)
	req.Header.Set("Accept", jsonAPI)
	a, err := httpcall.Do(c.http, req, maxResponse)
	if err != nil {
		return 0, err // not sent, or sent without an answer: httpcall.TransportError
	}
	if !a.OK() {
		return a.Status, answerError(a.Status, a.Header, a.Body, c.now())
	}
	return a.Status, a.DecodeJSON(out)
}

// apiErrors is Flowroute's JSON:API error document.
type apiErrors struct {
	Errors []struct {
		ID     string     `json:"id"`
		Status statusCode `json:"status"`
		Title  string     `json:"title"`
		Detail string     `json:"detail"`
	} `json:"errors"`
}

// statusCode is an HTTP status in an error object: JSON:API allows a string, Flowroute
// sends a number. Anything else reads as 0.
type statusCode int

func (s *statusCode) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		*s = 0
		return nil
	}
	v, err := strconv.Atoi(n.String())
	if err != nil {
		v = 0
	}
	*s = statusCode(v)
	return nil
}

// answerError classifies a non-2xx answer from Flowroute's error document, when it has one,
// and the HTTP status. Only a document whose first error repeats the HTTP status, as
// Flowroute's do, counts as Flowroute's: a proxy's JSON error page says nothing about
// whether Flowroute has the message.
func answerError(status int, h http.Header, body []byte, now time.Time) *sdk.Error {
	var doc apiErrors
	fromFlowroute := json.Unmarshal(body, &doc) == nil && len(doc.Errors) > 0 && int(doc.Errors[0].Status) == status
	e := &sdk.Error{Class: classify(status, fromFlowroute), Code: strconv.Itoa(status)}
	if fromFlowroute {
		first := doc.Errors[0]
		e.Message = strings.TrimSpace(first.Title)
		if d := strings.TrimSpace(first.Detail); d != "" {
			if e.Message != "" {
				e.Message += ": "
			}
			e.Message += d
		}
		e.Message = httpcall.Truncate(e.Message, maxErrorMessage)
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	}
	if e.Class == sdk.ClassRateLimited {
		e.RetryAfter = httpcall.RetryAfter(h.Get("Retry-After"), now)
	}
	return e
}

// maxErrorMessage bounds the provider message kept with an error (it ends up stored with
// the failed message).
const maxErrorMessage = 300

// classify is the one place a failed Flowroute call gets its class. Flowroute's errors carry
// no codes of their own, so the HTTP status decides, and whether the answer is Flowroute's.
//
// Every answer here is an error answer, so Flowroute did not take the message, with one
// exception: a 5xx that is not Flowroute's error document (a 502 or 504 from a proxy or load
// balancer, an HTML page) may come after Flowroute took the request, so it is ambiguous. 503
// says the request was not handled (RFC 9110), whoever says it.
func classify(httpStatus int, fromFlowroute bool) sdk.ErrorClass {
	switch {
	case httpStatus == http.StatusUnauthorized || httpStatus == http.StatusForbidden:
		// Wrong credentials, or (403) a from number the account may not send from.
		return sdk.ClassAuth
	case httpStatus == http.StatusPaymentRequired:
		return sdk.ClassCredit
	case httpStatus == http.StatusTooManyRequests:
		return sdk.ClassRateLimited
	case httpStatus == http.StatusBadRequest || httpStatus == http.StatusRequestEntityTooLarge ||
		httpStatus == http.StatusUnprocessableEntity:
		if fromFlowroute {
			// Flowroute read the request and found a value wrong: the message as it is can
			// never be sent.
			return sdk.ClassInvalid
		}
		return sdk.ClassRejected
	case httpStatus == http.StatusServiceUnavailable:
		return sdk.ClassUnavailable
	case httpStatus >= 500 && fromFlowroute:
		return sdk.ClassUnavailable
	case httpStatus >= 500:
		return sdk.ClassAmbiguous
	case httpStatus >= 400:
		return sdk.ClassRejected
	default:
		// 1xx or 3xx (redirects are not followed): base_url answered without taking the
		// request; another try, or another provider, may do better.
		return sdk.ClassUnavailable
	}
}
