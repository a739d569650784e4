// Package httpcall holds the mechanics a plugin needs to call a provider's HTTP API and
// classify what happened, so that every plugin draws the line between "definitely not
// sent" and "ambiguous" the same way:
//
//   - NewRequest builds a request; Do makes one call, records whether the request was
//     written, and reads the answer; a call without an answer becomes a classified
//     *sdk.Error (TransportError).
//   - Answer.DecodeJSON reads a 2xx answer; one that cannot be read is ambiguous (the call
//     took effect, only its answer is lost).
//   - RetryAfter reads a Retry-After header, capped at MaxRetryAfter; Truncate bounds a
//     provider's error text.
//   - ForEach sends a batch as bounded concurrent requests, for APIs that take one message
//     per request; ForEachUntilError does the same for calls that stop at the first error,
//     and PollEach builds a status poll of one lookup per message on it.
//   - NewTransport and NewClient set up the HTTP client; BaseURL, CheckURL and WebhookBase
//     validate the URLs of a plugin's config.
//
// What an error answer means (its body, its codes, the class of each HTTP status) is the
// provider's own and stays in the plugin.
package httpcall

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
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// NewTransport is a clone of http.DefaultTransport (proxy from the environment, dial and
// TLS timeouts) keeping up to maxIdlePerHost idle connections to one host: enough for the
// concurrent requests of the host's batches in flight, so they do not each dial anew.
func NewTransport(maxIdlePerHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdlePerHost
	return t
}

// NewClient is an http.Client for a provider API over transport. It has no Timeout: each
// call's context carries the plugin's timeout, so a timeout is a context error and Do
// classifies it by whether the request had been written. It follows no redirect: a
// redirect is an answer, and a POST turned into a GET by a 302 would list messages instead
// of sending one.
func NewClient(transport http.RoundTripper) *http.Client {
	return &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Answer is a provider's answer, read whole (up to the limit given to Do).
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
	// ReadErr is why the body could not be read to its end; Body holds what was read.
	ReadErr error
}

// OK reports whether the answer is a 2xx.
func (a Answer) OK() bool { return a.Status >= 200 && a.Status <= 299 }

// DecodeJSON decodes the body of a 2xx answer into out. A body that cannot be read or
// decoded is a ClassAmbiguous *sdk.Error: the provider said yes, so the call took effect,
// and only what it answered is lost.
func (a Answer) DecodeJSON(out any) error {
	if a.ReadErr != nil {
		return &sdk.Error{Class: sdk.ClassAmbiguous, Message: fmt.Sprintf("read %d answer: %v", a.Status, a.ReadErr)}
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		return &sdk.Error{Class: sdk.ClassAmbiguous, Message: fmt.Sprintf("decode %d answer: %v", a.Status, err)}
	}
	return nil
}

// NewRequest builds a request on ctx (which carries the call's timeout) for Do. A body
// that is not nil is sent with the Content-Type contentType. A request that cannot be built
// (a bad method or URL) is a ClassInvalid *sdk.Error: no try will do better.
func NewRequest(ctx context.Context, method, url string, body []byte, contentType string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, &sdk.Error{Class: sdk.ClassInvalid, Message: fmt.Sprintf("build request: %v", err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// Do sends req with client and reads at most limit bytes of the answer, whatever its
// status. When no answer came, the error is TransportError's: whether the request had been
// written is tracked with an httptrace.ClientTrace added to req's context. The timeout is
// req's context's; Do has read the body and closed it when it returns.
func Do(client *http.Client, req *http.Request, limit int64) (Answer, error) {
	var wrote atomic.Bool
	ctx := httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		// Called even when writing failed part-way: the server may then still have had the
		// whole request, so "written" errs on the side of ambiguous.
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return Answer{}, TransportError(err, wrote.Load())
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, limit))
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: body, ReadErr: readErr}, nil
}

// TransportError classifies a call that got no answer. Nothing written (refused
// connection, DNS, TLS, cancelled before sending) means the provider cannot have the
// message: ClassUnavailable. Once the request is out, a timeout or a reset leaves it open
// whether the provider took it: ClassAmbiguous.
func TransportError(err error, wrote bool) *sdk.Error {
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

// MaxRetryAfter caps what a Retry-After can ask for (a day), so a broken header cannot
// park a message for years or overflow a Duration.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads a Retry-After header value (RFC 9110 §10.2.3): seconds or an HTTP date,
// capped at MaxRetryAfter; 0 when absent, not positive or unreadable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// Truncate cuts s to at most n bytes, on a rune boundary, marking a cut with "…": for a
// provider's error text, which ends up stored with the failed message.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ForEach calls fn(i) for every i in [0, n) on at most limit goroutines (a limit below 1
// counts as 1) and returns when all calls have. It is how a plugin whose provider takes one
// message per request sends a batch: each message's request runs on its own, and fn stores
// its result at i.
func ForEach(n, limit int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, max(limit, 1)) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// ForEachUntilError is ForEach for calls that may fail, as the lookups of a status poll:
// fn(ctx, i) runs for every i in [0, n) on at most limit goroutines until one returns an
// error. That first error cancels the ctx the running calls have, no further call starts,
// and it is what ForEachUntilError returns; the errors the cancelling causes are not. When
// the caller's ctx ends instead, calls may have been skipped, and the error is
// TransportError(ctx.Err(), false).
func ForEachUntilError(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		failOnce sync.Once
		firstErr error
	)
	ForEach(n, limit, func(i int) {
		if ctx.Err() != nil {
			return
		}
		if err := fn(ctx, i); err != nil {
			failOnce.Do(func() { firstErr = err; cancel() })
		}
	})
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return TransportError(err, false)
	}
	return nil
}

// PollEach is the PollStatus of a plugin whose provider is asked about one message per
// request: lookup(ctx, id) runs for every id but "" on at most limit goroutines, as
// ForEachUntilError runs its calls, and the updates it found (ok) come back in the order of
// ids. An id lookup finds nothing about (unknown to the provider, or a status that says
// nothing about delivery) is left out. The first failure, or the caller giving up part-way
// (some ids never asked about), is the error.
func PollEach(ctx context.Context, ids []string, limit int,
	lookup func(ctx context.Context, id string) (u sdk.StatusUpdate, ok bool, err error)) ([]sdk.StatusUpdate, error) {
	found := make([]*sdk.StatusUpdate, len(ids))
	err := ForEachUntilError(ctx, len(ids), limit, func(ctx context.Context, i int) error {
		if ids[i] == "" {
			return nil
		}
		u, ok, err := lookup(ctx, ids[i])
		if ok && err == nil {
			found[i] = &u
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("poll %d statuses: %w", len(ids), err)
	}
	out := make([]sdk.StatusUpdate, 0, len(ids))
	for _, u := range found {
		if u != nil {
			out = append(out, *u)
		}
	}
	return out, nil
}

// BaseURL reads a config field holding an API's base URL (see CheckURL), without its
// trailing "/" so that paths can be appended. Every problem is a *sdk.ConfigError naming
// the field.
func BaseURL(f sdk.ConfigField) (string, error) {
	var s string
	if err := f.Decode(&s, "must be a URL string"); err != nil {
		return "", err
	}
	if err := CheckURL(s); err != nil {
		return "", &sdk.ConfigError{Field: f.Key, Message: err.Error()}
	}
	return strings.TrimRight(s, "/"), nil
}

// CheckURL accepts an absolute http(s) URL without credentials, query or fragment. The
// error says what is wrong, for a *sdk.ConfigError's message.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	case u.User != nil:
		// Credentials belong in the plugin's own config keys; a URL is logged and shows up
		// in errors.
		return fmt.Errorf("must not carry credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("must not have a query or fragment")
	}
	return nil
}

// WebhookBase is the base of a provider's webhook URLs, public_url + "/webhooks/" + name,
// from what the host tells every plugin. A provider that posts to the gateway cannot reach
// it without a good public URL, so a missing or bad one is a *sdk.ConfigError (why, as in
// "Twilio posts delivery reports to it", completes the message) instead of every report
// going missing.
func WebhookBase(req sdk.ConfigureRequest, why string) (string, error) {
	if req.PublicURL == "" {
		return "", &sdk.ConfigError{Field: "public_url", Message: "the gateway's public_url is required: " + why}
	}
	if err := CheckURL(req.PublicURL); err != nil {
		return "", &sdk.ConfigError{Field: "public_url", Message: err.Error()}
	}
	if req.Name == "" {
		return "", &sdk.ConfigError{Field: "name", Message: "the provider name is required: it is part of the webhook URLs"}
	}
	return strings.TrimRight(req.PublicURL, "/") + "/webhooks/" + url.PathEscape(req.Name), nil
}

// MessageIDParam is the query parameter a per-message callback URL (a delivery-report URL
// given to the provider with each send) names the gateway's message with. A report can
// arrive before the host has stored the provider's id the send returned; with the
// gateway's own id in the report (sdk.StatusUpdate.MessageID) the host applies it anyway.
const MessageIDParam = "message_id"

// CallbackURL is base with the message id of one send added as MessageIDParam (base as is
// for an empty id). base must not have a query of its own.
func CallbackURL(base, messageID string) string {
	if messageID == "" {
		return base
	}
	return base + "?" + url.Values{MessageIDParam: {messageID}}.Encode()
}

// CallbackMessageID is the gateway message id a callback URL made by CallbackURL names, or
// "". Trust it as far as the request itself is trusted (its signature, or a secret in the
// path).
func CallbackMessageID(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Query().Get(MessageIDParam)
}
