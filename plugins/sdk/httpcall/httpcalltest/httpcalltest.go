// Package httpcalltest has the test helpers of plugins that call a provider's HTTP API
// with package httpcall: a hand-made provider, one that always gives the same answer, ones
// that take a request and never answer it, and an address that refuses connections.
package httpcalltest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
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
