package providersim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a request body (a batch of a few thousand messages fits easily).
const maxBody = 16 << 20

var _ http.Handler = (*Sim)(nil)

// ServeHTTP serves the vendor and admin APIs (see the package comment).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Sim) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /batches", s.vendor(s.postBatches))
	m.HandleFunc("GET /updates", s.vendor(s.getUpdates))
	m.HandleFunc("GET /balance", s.vendor(s.getBalance))
	m.HandleFunc("POST /admin/latency", adminLatency(s.SetLatency))
	m.HandleFunc("POST /admin/fail", s.adminFault(s.setFail))
	m.HandleFunc("POST /admin/hang", s.adminFault(s.setHang))
	m.HandleFunc("POST /admin/statuses", adminRules(s.SetStatusRules))
	m.HandleFunc("POST /admin/inject", adminJSON(func(req Update) error { return s.Inject(req.ID, req.Status) }))
	m.HandleFunc("POST /admin/reset", adminReset(s.Reset))
	m.HandleFunc("GET /admin/batches", adminGet(s.Batches))
	m.HandleFunc("GET /admin/stats", adminGet(s.Stats))
	return m
}

// vendor wraps a vendor API handler with the latency knob. Authentication is checked by the
// handlers, so a refused batch is still recorded.
func (s *Sim) vendor(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		d := s.latency
		s.mu.Unlock()
		if !waitLatency(r.Context(), d) {
			return
		}
		h(w, r)
	}
}

// waitLatency waits d (the latency knob of a simulator, or a callback's delay or backoff);
// false when ctx ended first.
func waitLatency(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Sim) authorized(r *http.Request) bool {
	if s.opts.APIKey == "" {
		return true
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token == s.opts.APIKey
}

func (s *Sim) postBatches(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		s.record(Batch{Outcome: OutcomeUnauthorized})
		writeError(w, http.StatusUnauthorized, "invalid api key")
		return
	}
	var req struct {
		Messages []wireMessage `json:"messages"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.record(Batch{Outcome: OutcomeBadRequest})
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := validateBatch(req.Messages); err != nil {
		s.record(Batch{Outcome: OutcomeBadRequest})
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, batchID := s.receive(req.Messages)
	switch d {
	case decideFail:
		writeError(w, http.StatusServiceUnavailable, "temporarily unavailable")
	case decideHang:
		s.hang(r.Context())
	default:
		writeJSON(w, http.StatusOK, map[string]string{"batch_id": batchID})
	}
}

// hang blocks until the client gives up or the simulator is reset or closed.
func (s *Sim) hang(ctx context.Context) {
	s.mu.Lock()
	released := s.released
	s.hanging++
	s.mu.Unlock()
	select {
	case s.hungCh <- struct{}{}:
	default:
	}
	defer func() {
		s.mu.Lock()
		s.hanging--
		s.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
	case <-released:
	}
}

func validateBatch(msgs []wireMessage) error {
	if len(msgs) == 0 {
		return errors.New("messages: must not be empty")
	}
	for i, m := range msgs {
		switch {
		case m.ID == "":
			return fmt.Errorf("messages[%d].id: required", i)
		case m.PhoneNumber == "":
			return fmt.Errorf("messages[%d].phone_number: required", i)
		}
	}
	return nil
}

// record appends a batch that was refused before its messages were read.
func (s *Sim) record(b Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b.Seq = len(s.batches) + 1
	b.At = s.opts.Now().UTC()
	b.IDs = []string{}
	s.batches = append(s.batches, b)
}

func (s *Sim) getUpdates(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "invalid api key")
		return
	}
	q := r.URL.Query()
	after, err := decodeCursor(q.Get("after"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "after: not a cursor this API handed out")
		return
	}
	limit := defaultPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageSize {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: must be 1..%d", maxPageSize))
			return
		}
		limit = n
	}
	updates, cursor := s.updatesAfter(q.Get("after"), after, limit)
	writeJSON(w, http.StatusOK, map[string]any{"updates": updates, "cursor": cursor})
}

func (s *Sim) getBalance(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "invalid api key")
		return
	}
	amount, currency := s.balance()
	writeJSON(w, http.StatusOK, map[string]string{"amount": amount, "currency": currency})
}

// faultRequest is the body of /admin/fail and /admin/hang.
type faultRequest struct {
	Next     int     `json:"next"`
	Fraction float64 `json:"fraction"`
	Seed     *uint64 `json:"seed"`
}

func (s *Sim) setFail(f faultRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failFault = faultKnob{next: f.Next, fraction: f.Fraction}
}

func (s *Sim) setHang(f faultRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangFault = faultKnob{next: f.Next, fraction: f.Fraction}
}

func (s *Sim) adminFault(set func(faultRequest)) http.HandlerFunc {
	return adminJSON(func(req faultRequest) error {
		if err := checkFaultCounts(req.Next, req.Fraction); err != nil {
			return err
		}
		if req.Seed != nil {
			s.Seed(*req.Seed)
		}
		set(req)
		return nil
	})
}

func decodeJSON(r *http.Request, dst any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("malformed JSON body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
