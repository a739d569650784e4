package providersim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
)

// receiver is a webhook receiver for the Twilio and Flowroute simulators' callbacks and
// inbound posts: it records every request and answers the nth (1-based) with answer(n).
type receiver struct {
	srv    *httptest.Server
	answer func(n int, r *http.Request) (int, string)

	mu      sync.Mutex
	reqs    []receivedRequest
	arrived chan struct{} // gets a value as each request arrives, if anyone listens
}

type receivedRequest struct {
	url    string
	header http.Header
	body   []byte
	params url.Values // the form of a form post (Twilio's), else empty
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) (int, string)) *receiver {
	t.Helper()
	if answer == nil {
		answer = func(int, *http.Request) (int, string) { return http.StatusOK, "" }
	}
	rc := &receiver{answer: answer, arrived: make(chan struct{}, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		params := url.Values{}
		if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
			if params, err = url.ParseQuery(string(body)); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, receivedRequest{url: "http://" + r.Host + r.URL.RequestURI(), header: r.Header.Clone(), body: body, params: params})
		n := len(rc.reqs)
		rc.mu.Unlock()
		select {
		case rc.arrived <- struct{}{}:
		default:
		}
		status, answer := rc.answer(n, r)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []receivedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}
