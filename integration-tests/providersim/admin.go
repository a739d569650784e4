package providersim

// This file is the plumbing of the simulators' admin APIs: each knob is a JSON body decoded
// into a request, checked and applied, answered {"ok": true} or 400 with the error.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// writeOK answers an admin call that was applied.
func writeOK(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// adminJSON is an admin handler that decodes the body into a T and applies it: a body that
// does not decode, or an error from apply, is a 400 with the error and changes nothing else.
func adminJSON[T any](apply func(T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := decodeAdmin(w, r, apply); ok {
			writeOK(w)
		}
	}
}

// decodeAdmin decodes an admin call's body into a T and runs use on it; a body that does not
// decode, or an error from use, is answered 400 with the error and reported false.
func decodeAdmin[T any](w http.ResponseWriter, r *http.Request, use func(T) error) (T, bool) {
	var req T
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return req, false
	}
	if err := use(req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return req, false
	}
	return req, true
}

// adminGet is an admin handler that answers what get returns.
func adminGet[T any](get func() T) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, get())
	}
}

// adminReset is POST /admin/reset.
func adminReset(reset func()) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		reset()
		writeOK(w)
	}
}

// adminLatency is POST /admin/latency {"latency": "50ms"}.
func adminLatency(set func(time.Duration)) http.HandlerFunc {
	return adminJSON(func(req struct {
		Latency string `json:"latency"`
	}) error {
		d, err := time.ParseDuration(req.Latency)
		if err != nil || d < 0 {
			return errors.New(`latency: must be a duration such as "50ms"`)
		}
		set(d)
		return nil
	})
}

// rulesRequest is the body of /admin/rules (and FastSMSing's /admin/statuses).
type rulesRequest[R any] struct {
	Rules []R `json:"rules"`
}

// adminRules is an admin handler that replaces a simulator's per-number rules with set.
func adminRules[R any](set func([]R) error) http.HandlerFunc {
	return adminJSON(func(req rulesRequest[R]) error { return set(req.Rules) })
}

// checkFaultCounts is the check of an admin fault knob's next and fraction.
func checkFaultCounts(next int, fraction float64) error {
	if next < 0 || fraction < 0 || fraction > 1 {
		return errors.New("next must be >= 0 and fraction in [0, 1]")
	}
	return nil
}

// failKnobs are the fail knobs of the Twilio and Flowroute simulators.
type failKnobs interface {
	Seed(seed uint64)
	SetRetryAfter(d time.Duration)
	FailNext(n int, kind string)
	FailFraction(fraction float64, kind string)
}

// failRequest is the body of the Twilio and Flowroute simulators' /admin/fail.
type failRequest struct {
	Next       int     `json:"next"`
	Fraction   float64 `json:"fraction"`
	Kind       string  `json:"kind"`
	Seed       *uint64 `json:"seed"`
	RetryAfter string  `json:"retry_after"`
}

// adminFail sets both fail knobs of k, with one kind; the Go methods set them apart. It
// checks the whole request before it changes anything.
func adminFail(k failKnobs) http.HandlerFunc {
	return adminJSON(func(req failRequest) error {
		kind, err := failKind(req.Kind)
		if err != nil {
			return err
		}
		if err := checkFaultCounts(req.Next, req.Fraction); err != nil {
			return err
		}
		var retryAfter time.Duration
		if req.RetryAfter != "" {
			if retryAfter, err = time.ParseDuration(req.RetryAfter); err != nil || retryAfter <= 0 {
				return errors.New(`retry_after: must be a positive duration such as "2s"`)
			}
		}
		if req.Seed != nil {
			k.Seed(*req.Seed)
		}
		if retryAfter > 0 {
			k.SetRetryAfter(retryAfter)
		}
		k.FailNext(req.Next, kind)
		k.FailFraction(req.Fraction, kind)
		return nil
	})
}

// callbackKnobs are the knobs the Twilio and Flowroute simulators share beyond failKnobs.
type callbackKnobs interface {
	failKnobs
	SetLatency(d time.Duration)
	SetCallbackMode(mode string, delay time.Duration) error
	SetInboundURL(u string)
	Reset()
}

// handleCallbackAdmin registers the admin routes the Twilio and Flowroute simulators share:
// latency, fail, callback_mode, inbound_url and reset.
func handleCallbackAdmin(m *http.ServeMux, k callbackKnobs) {
	m.HandleFunc("POST /admin/latency", adminLatency(k.SetLatency))
	m.HandleFunc("POST /admin/fail", adminFail(k))
	m.HandleFunc("POST /admin/callback_mode", adminCallbackMode(k.SetCallbackMode))
	m.HandleFunc("POST /admin/inbound_url", adminInboundURL(k.SetInboundURL))
	m.HandleFunc("POST /admin/reset", adminReset(k.Reset))
}

// adminCallbackMode is POST /admin/callback_mode {"mode": "out_of_order", "delay": "100ms"}.
func adminCallbackMode(set func(mode string, delay time.Duration) error) http.HandlerFunc {
	return adminJSON(func(req struct {
		Mode  string `json:"mode"`
		Delay string `json:"delay"`
	}) error {
		var delay time.Duration
		if req.Delay != "" {
			var err error
			if delay, err = time.ParseDuration(req.Delay); err != nil {
				return errors.New(`delay: must be a duration such as "100ms"`)
			}
		}
		return set(req.Mode, delay)
	})
}

// adminInboundURL is POST /admin/inbound_url {"url": "http://…"}.
func adminInboundURL(set func(string)) http.HandlerFunc {
	return adminJSON(func(req struct {
		URL string `json:"url"`
	}) error {
		if !isHTTPURL(req.URL) {
			return errors.New("url: must be an absolute http(s) URL")
		}
		set(req.URL)
		return nil
	})
}

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// adminInbound is POST /admin/inbound: it decodes a T, checks it (400 with the error), and
// sends it with send, answering {"status", "body"} with the receiver's answer; 409 when
// there is no inbound URL yet, 502 when the receiver could not be reached.
func adminInbound[T any](check func(T) error, inboundURL func() string,
	send func(ctx context.Context, req T) (int, string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeAdmin(w, r, check)
		if !ok {
			return
		}
		if inboundURL() == "" {
			writeError(w, http.StatusConflict, "no inbound URL: POST /admin/inbound_url first")
			return
		}
		status, body, err := send(r.Context(), req)
		if err != nil && status == 0 {
			writeError(w, http.StatusBadGateway, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": status, "body": body})
	}
}
