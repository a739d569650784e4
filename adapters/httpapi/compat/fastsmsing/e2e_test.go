package fastsmsing

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/clock"
	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
	"github.com/smsgw/smsgw/ports/porttest"
)

// recordingJobs is a ports.JobQueue that records the send jobs it is given.
type recordingJobs struct {
	mu   sync.Mutex
	jobs []ports.SendJob
}

func (j *recordingJobs) EnqueueSends(_ context.Context, _ ports.Tx, jobs ...ports.SendJob) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs = append(j.jobs, jobs...)
	return nil
}

func (j *recordingJobs) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.jobs)
}

// noProviders: accepting a send never calls a provider (the queue does, later).
type noProviders struct{ ports.Providers }

// seqIDs makes ids msg-1, msg-2, ...
type seqIDs struct {
	mu sync.Mutex
	n  int
}

func (s *seqIDs) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("msg-%d", s.n)
}

// TestEndToEnd drives the dialect on the real core over the in-memory store: the message
// is stored as the configured sender's, to the phone number as given, queued for its
// route's provider, not rate limited, its status readable, opt-outs honoured.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := porttest.NewMemStore()
	for _, a := range []ports.Account{{ID: compattest.User, PasswordHash: compattest.Hash()}, {ID: "bob", PasswordHash: compattest.Hash()}} {
		if err := store.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	rt, err := routing.New([]string{"loopback"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs := &recordingJobs{}
	gw := gateway.New(gateway.Deps{
		Store: store, Jobs: jobs, Providers: noProviders{}, IDs: &seqIDs{}, Router: rt,
		Clock: clock.NewFake(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)),
		// One send per sender and hour: the dialect's sends must not be counted.
		Config: gateway.Config{DefaultAccount: compattest.User, RateLimit: ratelimit.Window{Limit: 1, Period: time.Hour}},
	})
	h := httpapi.New(httpapi.Options{
		Accounts: store,
		Dialects: []httpapi.Dialect{New(gw, nil, "LEGACYCO", "")},
	})

	const phone = "0044770090012"
	var ids []string
	for i := range 3 {
		r := do(t, h, req{Path: sendPaths[i%2], Body: fmt.Sprintf(`{"phonenumber": %q, "CONTENT": "hello %d"}`, phone, i)})
		if r.rec.Code != http.StatusAccepted {
			t.Fatalf("send %d: %d %s", i, r.rec.Code, r.rec.Body)
		}
		ids = append(ids, r.val)
	}
	for i, id := range ids {
		m, err := store.GetMessage(ctx, compattest.User, id)
		if err != nil {
			t.Fatalf("message %s: %v", id, err)
		}
		if m.From != "LEGACYCO" || m.To != phone || m.Text != fmt.Sprintf("hello %d", i) ||
			m.Direction != message.Outbound || m.Status != message.StatusQueued || m.Provider != "loopback" {
			t.Errorf("stored %+v", m)
		}
	}
	if got := jobs.count(); got != 3 {
		t.Errorf("%d send jobs, want 3", got)
	}

	status := func(user, id string) string {
		t.Helper()
		return do(t, h, req{Method: http.MethodGet, Path: "/sms/" + id, User: user, Pass: compattest.Pass}).val
	}
	if got := status(compattest.User, ids[0]); got != statusAccepted {
		t.Errorf("status of a queued message: %s", got)
	}
	for _, c := range []struct {
		to   message.Status
		want string
	}{{message.StatusSent, statusConfirmed}, {message.StatusDelivered, statusDelivered}} {
		setStatus(t, store, ids[0], c.to)
		if got := status(compattest.User, ids[0]); got != c.want {
			t.Errorf("status after %s: %s, want %s", c.to, got, c.want)
		}
	}
	if _, err := gw.Cancel(ctx, compattest.User, ids[1]); err != nil {
		t.Fatal(err)
	}
	if got := status(compattest.User, ids[1]); got != statusFailed {
		t.Errorf("status of a canceled message: %s", got)
	}
	if got := status("bob", ids[2]); got != statusNotFound {
		t.Errorf("another account's message: %s", got)
	}
	if got := status(compattest.User, "msg-999"); got != statusNotFound {
		t.Errorf("unknown message: %s", got)
	}

	// The pair (sender, phone as given) blocked: refused, nothing stored. (gw.BlockPair
	// takes only E.164 recipients, and blocks match the numbers exactly as stored.)
	if err := store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		_, _, err := tx.BlockOptOut(ctx, ports.OptOut{Sender: "LEGACYCO", Recipient: phone, Source: optout.SourceAPI, CreatedAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	do(t, h, req{Path: "/sms", Body: body(phone, "still there?")}).is(http.StatusForbidden, textOptedOut)
	page, err := store.ListMessages(ctx, compattest.User, ports.MessageQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 {
		t.Errorf("%d messages stored, want 3", len(page.Items))
	}
}

// setStatus moves a stored message to status, as a provider report would.
func setStatus(t *testing.T, store ports.Store, id string, status message.Status) {
	t.Helper()
	err := store.InTx(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		m, err := tx.GetMessageForUpdate(ctx, id)
		if err != nil {
			return err
		}
		m.Status = status
		ev := message.Event{Status: status, At: m.UpdatedAt}
		m.Events = append(m.Events, ev)
		return tx.UpdateMessage(ctx, m, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
}
