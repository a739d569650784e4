package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall"
)

// maxResponse bounds what is read of a vendor answer.
const maxResponse = 4 << 20

// apiClient speaks the FastSMSing-style API of API.md §9.
type apiClient struct {
	http    *http.Client
	baseURL string
	apiKey  string
	timeout time.Duration
}

func newAPIClient(cfg config, transport http.RoundTripper) *apiClient {
	// No http.Client.Timeout: each call's context carries cfg.timeout, so a timeout is seen
	// as a context error and classified by whether the request had been written.
	return &apiClient{http: &http.Client{Transport: transport}, baseURL: cfg.baseURL, apiKey: cfg.apiKey, timeout: cfg.timeout}
}

// batchMessage is one message of POST /batches.
type batchMessage struct {
	ID          string `json:"id"`
	PhoneNumber string `json:"phone_number"`
	Message     string `json:"message"`
}

// postBatch sends one batch and returns the provider's batch id.
func (c *apiClient) postBatch(ctx context.Context, msgs []batchMessage) (string, error) {
	body, err := json.Marshal(map[string]any{"messages": msgs})
	if err != nil {
		return "", sdk.Errorf(sdk.ClassInvalid, "encode batch: %v", err)
	}
	var out struct {
		BatchID string `json:"batch_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/batches", body, &out); err != nil {
		return "", fmt.Errorf("post batch of %d: %w", len(msgs), err)
	}
	return out.BatchID, nil
}

// update is one item of GET /updates.
type update struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type updatesPage struct {
	Updates []update `json:"updates"`
	Cursor  string   `json:"cursor"`
}

func (c *apiClient) updates(ctx context.Context, after string) (updatesPage, error) {
	var p updatesPage
	if err := c.do(ctx, http.MethodGet, "/updates?after="+url.QueryEscape(after), nil, &p); err != nil {
		return updatesPage{}, fmt.Errorf("get updates: %w", err)
	}
	if p.Cursor == "" {
		// Without a cursor the next poll would start over; keep the old one instead.
		p.Cursor = after
	}
	return p, nil
}

func (c *apiClient) balance(ctx context.Context) (sdk.Balance, error) {
	var b struct {
		Amount   json.Number `json:"amount"` // a string or a number
		Currency string      `json:"currency"`
	}
	if err := c.do(ctx, http.MethodGet, "/balance", nil, &b); err != nil {
		return sdk.Balance{}, fmt.Errorf("get balance: %w", err)
	}
	return sdk.Balance{Amount: b.Amount.String(), Currency: b.Currency}, nil
}

// do makes one call and decodes a 2xx answer into out. Every error is a classified
// *sdk.Error (wrapped):
//   - no request written (refused connection, DNS, cancelled before sending) → unavailable;
//   - the request written but no answer (timeout, reset) → ambiguous;
//   - 503 → unavailable (the API's "unstable, not taken"); 429 → rate_limited;
//     401/403 → auth; 402 → credit; other 4xx → rejected; other 5xx → ambiguous (a proxy's
//     502/504 may come after the provider took the batch).
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := httpcall.NewRequest(ctx, method, c.baseURL+path, body, "application/json")
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	a, err := httpcall.Do(c.http, req, maxResponse)
	if err != nil {
		return err // not sent, or sent without an answer: httpcall.TransportError
	}
	if !a.OK() {
		return statusError(a)
	}
	if a.ReadErr == nil && (out == nil || len(bytes.TrimSpace(a.Body)) == 0) {
		return nil // nothing to read, or nothing wanted: the API may answer a 2xx bare
	}
	return a.DecodeJSON(out)
}

// statusError classifies a non-2xx answer.
func statusError(resp httpcall.Answer) error {
	var class sdk.ErrorClass
	var retryAfter time.Duration
	switch code := resp.Status; {
	case code == http.StatusServiceUnavailable:
		class = sdk.ClassUnavailable
	case code == http.StatusTooManyRequests:
		class = sdk.ClassRateLimited
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			retryAfter = time.Duration(s) * time.Second
		}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		class = sdk.ClassAuth
	case code == http.StatusPaymentRequired:
		class = sdk.ClassCredit
	case code >= 400 && code < 500:
		class = sdk.ClassRejected
	default:
		class = sdk.ClassAmbiguous
	}
	var e struct {
		Error string `json:"error"`
	}
	msg := http.StatusText(resp.Status)
	if json.Unmarshal(resp.Body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return &sdk.Error{Class: class, Code: strconv.Itoa(resp.Status), Message: msg, RetryAfter: retryAfter}
}
