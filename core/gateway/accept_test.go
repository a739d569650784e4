package gateway

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// scriptedWrite records each transaction's batch; the first call blocks until release is
// closed, so the test can queue sends behind it.
type scriptedWrite struct {
	mu      sync.Mutex
	batches [][]string
	entered chan struct{}
	release chan struct{}
	fail    func(id string) error // fails the whole transaction
	refuse  func(id string) error // refuses one admission, committing the others
}

func newScriptedWrite() *scriptedWrite {
	return &scriptedWrite{entered: make(chan struct{}), release: make(chan struct{})}
}

func (w *scriptedWrite) write(_ context.Context, _ ports.Tx, as []admission) ([]error, error) {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.m.ID
	}
	w.mu.Lock()
	w.batches = append(w.batches, ids)
	first := len(w.batches) == 1
	w.mu.Unlock()
	if first {
		close(w.entered)
		<-w.release
	}
	refusals := make([]error, len(ids))
	for i, id := range ids {
		if w.fail != nil {
			if err := w.fail(id); err != nil {
				return nil, err
			}
		}
		if w.refuse != nil {
			refusals[i] = w.refuse(id)
		}
	}
	return refusals, nil
}

func (w *scriptedWrite) recorded() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, ids := range w.batches {
		fmt.Fprintf(&b, "%v", ids)
	}
	return b.String()
}

// queued waits (without sleeping) until n accepts are waiting in the queue.
func queued(a *acceptor, n int) {
	for {
		a.mu.Lock()
		l := len(a.queue)
		a.mu.Unlock()
		if l >= n {
			return
		}
		runtime.Gosched()
	}
}

// runBlocked starts accepts for "first" and then for rest, which queue behind first's
// blocked transaction; it returns each id's result once first is released.
func runBlocked(t *testing.T, a *acceptor, w *scriptedWrite, ctx context.Context, rest ...string) map[string]error {
	t.Helper()
	var (
		mu  sync.Mutex
		out = map[string]error{}
		wg  sync.WaitGroup
	)
	run := func(id string) {
		defer wg.Done()
		err := a.accept(ctx, admission{m: message.Message{ID: id}})
		mu.Lock()
		out[id] = err
		mu.Unlock()
	}
	wg.Add(1)
	go run("first")
	<-w.entered
	for _, id := range rest {
		wg.Add(1)
		go run(id)
	}
	queued(a, len(rest))
	close(w.release)
	wg.Wait()
	return out
}

func TestAcceptorGroupsConcurrentSends(t *testing.T) {
	w := newScriptedWrite()
	a := newAcceptor(newMemStore(), 1, 64, w.write)
	res := runBlocked(t, a, w, context.Background(), "a", "b", "c")
	for id, err := range res {
		if err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.batches) != 2 || len(w.batches[1]) != 3 {
		t.Fatalf("transactions %v, want [first] then the three queued sends together", w.batches)
	}
}

// TestAcceptorRefusals: a refusal reaches only its own caller; the group still commits in
// one transaction, with no retry of its members one by one.
func TestAcceptorRefusals(t *testing.T) {
	w := newScriptedWrite()
	refused := errors.New("refused by policy")
	w.refuse = func(id string) error {
		if id == "b" {
			return refused
		}
		return nil
	}
	a := newAcceptor(newMemStore(), 1, 64, w.write)
	res := runBlocked(t, a, w, context.Background(), "a", "b", "c")
	for id, err := range res {
		if want := map[string]error{"b": refused}[id]; !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", id, err, want)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.batches) != 2 || len(w.batches[1]) != 3 {
		t.Fatalf("transactions %v, want [first] then the three queued sends together", w.batches)
	}
}

func TestAcceptorBatchLimit(t *testing.T) {
	w := newScriptedWrite()
	a := newAcceptor(newMemStore(), 1, 2, w.write)
	runBlocked(t, a, w, context.Background(), "a", "b", "c", "d", "e")
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.batches {
		if len(b) > 2 {
			t.Fatalf("batch %v over the limit of 2", b)
		}
	}
	if len(w.batches) != 4 { // [first] + 5 queued in batches of at most 2
		t.Fatalf("transactions %v", w.batches)
	}
}

func TestAcceptorFailures(t *testing.T) {
	errBad := errors.New("bad row")
	tests := []struct {
		name     string
		fail     error
		wantErrs map[string]error // nil entries: success
		// wantRetried: after the failed group, each message got its own transaction.
		wantRetried bool
	}{
		{
			name: "one bad message fails alone", fail: errBad,
			wantErrs:    map[string]error{"first": nil, "a": nil, "bad": errBad, "c": nil},
			wantRetried: true,
		},
		{
			name: "store unavailable fails the group without retries", fail: ports.ErrUnavailable,
			wantErrs: map[string]error{"first": nil, "a": ports.ErrUnavailable, "bad": ports.ErrUnavailable, "c": ports.ErrUnavailable},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newScriptedWrite()
			w.fail = func(id string) error {
				if id == "bad" {
					return tt.fail
				}
				return nil
			}
			a := newAcceptor(newMemStore(), 1, 64, w.write)
			res := runBlocked(t, a, w, context.Background(), "a", "bad", "c")
			for id, want := range tt.wantErrs {
				if got := res[id]; (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
					t.Errorf("%s: got %v, want %v", id, got, want)
				}
			}
			w.mu.Lock()
			n := len(w.batches)
			w.mu.Unlock()
			if retried := n == 5; retried != tt.wantRetried { // [first] [group] + 3 singles
				t.Errorf("transactions %s", w.recorded())
			}
		})
	}
}

func TestAcceptorWithdrawsCanceledSends(t *testing.T) {
	w := newScriptedWrite()
	a := newAcceptor(newMemStore(), 1, 64, w.write)
	done := make(chan error, 1)
	go func() { done <- a.accept(context.Background(), admission{m: message.Message{ID: "first"}}) }()
	<-w.entered

	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { gone <- a.accept(ctx, admission{m: message.Message{ID: "gone"}}) }()
	queued(a, 1)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled accept: %v", err)
	}
	close(w.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.batches {
		if slices.Contains(b, "gone") {
			t.Fatalf("withdrawn send was written: %v", w.batches)
		}
	}
}
