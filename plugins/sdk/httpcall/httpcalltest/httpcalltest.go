// Package httpcalltest has the test helpers of plugins that call a provider's HTTP API
// with package httpcall: a hand-made provider, one that always gives the same answer, ones
// that take a request and never answer it, one that measures how many calls come at once,
// an address that refuses connections, a stand-in for the gateway's webhook route, and a
// log buffer.
package httpcalltest

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// Server serves h as a hand-made provider API until the test ends and returns its URL.
func Server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Answering is a Server that answers every call with status and body, after setting the
// header pairs given (name, value, name, value, …).
func Answering(t *testing.T, status int, body string, header ...string) string {
	t.Helper()
	return Server(t, func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

// Hanging is a Server that reads each request whole and never answers: a call to it times
// out after the request was written.
func Hanging(t *testing.T) string {
	t.Helper()
	return Server(t, func(_ http.ResponseWriter, r *http.Request) {
		// Read the whole request first: only then does the server notice the client hang
		// up, which ends the context.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	})
}

// Resetting is a Server that reads each request whole and then drops the connection
// without a word: the request was written, and no answer comes.
func Resetting(t *testing.T) string {
	t.Helper()
	return Server(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	})
}

// RefusedURL is the http URL of a local port nothing listens on: a call to it is refused
// before anything is written.
func RefusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// Concurrent is a Server for a plugin's bound on concurrent calls: it reads each request
// whole (only then does a client hanging up end the request's context), holds it until n
// requests are in at once (the first wave of a batch), then hands every request to h.
// peak gives the most requests that were in at once. A request whose client hangs up
// while held gets no answer.
func Concurrent(t *testing.T, n int, h http.HandlerFunc) (url string, peak func() int) {
	t.Helper()
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	var releaseOnce sync.Once
	url = Server(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request: %v", err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			old := most.Load()
			if cur <= old || most.CompareAndSwap(old, cur) {
				break
			}
		}
		if int(cur) == n {
			releaseOnce.Do(func() { close(release) }) // the first wave is all in
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		h(w, r)
	})
	return url, func() int { return int(most.Load()) }
}

// Gateway stands in for the gateway's /webhooks/<name>/... route: it hands each request to
// the handler set with SetHandler, as the host does (URL = public URL + request URI, Path
// what follows the provider name), and answers with the handler's answer, keeping what it
// parsed in arrival order.
type Gateway struct {
	// URL is the gateway's public URL.
	URL    string
	prefix string

	mu       sync.Mutex
	h        sdk.WebhookHandler
	statuses []sdk.StatusUpdate
	inbound  []sdk.InboundMessage
}

// NewGateway serves a Gateway for the provider named name until the test ends. Until a
// handler is set, every request is a 404.
func NewGateway(t *testing.T, name string) *Gateway {
	t.Helper()
	g := &Gateway{prefix: "/webhooks/" + name}
	g.URL = Server(t, g.serve)
	return g
}

// SetHandler makes h the plugin the webhooks go to.
func (g *Gateway) SetHandler(h sdk.WebhookHandler) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.h = h
}

// Parsed is what the handler parsed so far, in arrival order.
func (g *Gateway) Parsed() ([]sdk.StatusUpdate, []sdk.InboundMessage) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.statuses), slices.Clone(g.inbound)
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, g.prefix)
	g.mu.Lock()
	h := g.h
	g.mu.Unlock()
	if !ok || h == nil {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := h.HandleWebhook(r.Context(), sdk.WebhookRequest{
		Method: r.Method, URL: g.URL + r.URL.RequestURI(), Path: path, Headers: r.Header.Clone(), Body: body,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	g.mu.Lock()
	g.statuses = append(g.statuses, resp.Statuses...)
	g.inbound = append(g.inbound, resp.Inbound...)
	g.mu.Unlock()
	for k, vs := range resp.Headers {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(resp.Body)
}

// LogBuffer is a bytes.Buffer safe for the concurrent writes of a logger, for tests of what
// a plugin logs.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
