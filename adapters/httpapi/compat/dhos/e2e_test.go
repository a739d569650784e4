package dhos

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
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

// twilioSignature is X-Twilio-Signature (API.md §9): base64(HMAC-SHA1(token, URL + each
// POST parameter's name and value, sorted by name)).
func twilioSignature(token, rawURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k + v)
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

const e2eToken = "twilio-auth-token"

// twilioWebhooks is a ports.Providers whose one provider, twilio, answers status webhooks
// as the Twilio plugin does: it checks X-Twilio-Signature against the URL it is given
// (403 when wrong), then reports MessageStatus for MessageSid. Accepting a send never calls
// a provider (the queue does, later), so nothing else is implemented.
type twilioWebhooks struct {
	ports.Providers
	mu   sync.Mutex
	urls []string
}

func (p *twilioWebhooks) HandleWebhook(_ context.Context, provider string, req ports.WebhookRequest) (ports.WebhookResult, error) {
	if provider != "twilio" {
		return ports.WebhookResult{}, fmt.Errorf("provider %s: %w", provider, ports.ErrNotFound)
	}
	p.mu.Lock()
	p.urls = append(p.urls, req.URL)
	p.mu.Unlock()
	form, err := url.ParseQuery(string(req.Body))
	if err != nil || req.Path != "/status" || req.Method != http.MethodPost {
		return ports.WebhookResult{StatusCode: http.StatusBadRequest}, nil
	}
	got := http.Header(req.Headers).Get("X-Twilio-Signature")
	if !hmac.Equal([]byte(got), []byte(twilioSignature(e2eToken, req.URL, form))) {
		return ports.WebhookResult{StatusCode: http.StatusForbidden, Body: []byte("bad signature")}, nil
	}
	return ports.WebhookResult{
		StatusCode: http.StatusOK, Body: []byte("<Response/>"),
		Statuses: []ports.StatusReport{{ProviderMessageID: form.Get("MessageSid"), Status: message.Status(form.Get("MessageStatus"))}},
	}, nil
}

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

type countingJobs struct {
	mu sync.Mutex
	n  int
}

func (j *countingJobs) EnqueueSends(_ context.Context, _ ports.Tx, jobs ...ports.SendJob) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.n += len(jobs)
	return nil
}

// TestEndToEnd drives the dialect on the real core over the in-memory store: sends are
// stored from the sender as given, to the receiver in E.164, tagged with the tenant, rate
// limited and opt-out checked; lists keep to the tenant (the in-memory store ignores
// q.Tags, so this also holds the dialect's own check); a signed status callback reaches
// the message through the configured URL; a delete is refused to another tenant and hides
// the message from its own.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := porttest.NewMemStore()
	if err := store.PutAccount(ctx, ports.Account{ID: compattest.User, PasswordHash: compattest.Hash()}); err != nil {
		t.Fatal(err)
	}
	rt, err := routing.New([]string{"twilio"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs, providers := &countingJobs{}, &twilioWebhooks{}
	gw := gateway.New(gateway.Deps{
		Store: store, Jobs: jobs, Providers: providers, IDs: &seqIDs{}, Router: rt,
		Clock:  clock.NewFake(now),
		Config: gateway.Config{DefaultAccount: compattest.User, RateLimit: ratelimit.Window{Limit: 4, Period: time.Hour}},
	})
	d, err := New(gw, nil, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, h: httpapi.New(httpapi.Options{Accounts: store, Dialects: []httpapi.Dialect{d}})}
	tenantB := http.Header{headerTrustomer: {"Other"}, headerProduct: {"Pulse"}}

	// Sends: two of the default tenant, one of B.
	send := func(receiver string, tenant http.Header) *resp {
		return e.do(req{method: http.MethodPost, path: smsPath, body: createBody("ACME", receiver, "hello"), tenant: tenant})
	}
	a1 := send("07911 123456", nil).dict()["uuid"].(string)
	a2 := send("+44 7911 123457", nil).dict()["uuid"].(string)
	b1 := send("07911123456", tenantB).dict()["uuid"].(string)
	for id, want := range map[string][3]string{
		a1: {"+447911123456", tenantTrustomer, "07911 123456"},
		a2: {"+447911123457", tenantTrustomer, "+44 7911 123457"},
		b1: {"+447911123456", "other", "07911123456"},
	} {
		m, err := store.GetMessage(ctx, compattest.User, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.From != "ACME" || m.To != want[0] || m.Tags[tagTrustomer] != want[1] || m.Tags[tagProduct] != tenantProduct ||
			m.Tags[tagReceiver] != want[2] || m.Status != message.StatusQueued || m.Provider != "twilio" {
			t.Errorf("stored %+v", m)
		}
	}
	if jobs.n != 3 {
		t.Errorf("%d send jobs, want 3", jobs.n)
	}

	// An opted-out pair is refused (and counted), then the sender's window is full.
	if err := store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		_, _, err := tx.BlockOptOut(ctx, ports.OptOut{Sender: "ACME", Recipient: "+447400123456", Source: optout.SourceAPI, CreatedAt: now.Add(-time.Hour)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	send("07400 123456", nil).is(http.StatusForbidden, textOptedOut)
	send("07911123456", nil).is(http.StatusTooManyRequests, "rate limit reached for sender ACME")

	// Lists keep to the tenant, newest first (same created_at: by id).
	if got := ids(e.do(req{path: smsPath}).list()); !slices.Equal(got, []string{a2, a1}) {
		t.Errorf("tenant's list %v, want [%s %s]", got, a2, a1)
	}
	if got := ids(e.do(req{path: smsPath + "?receiver=%2B447911123456"}).list()); !slices.Equal(got, []string{a1}) {
		t.Errorf("list to +447911123456: %v", got)
	}
	if got := ids(e.do(req{path: smsPath, tenant: tenantB}).list()); !slices.Equal(got, []string{b1}) {
		t.Errorf("B's list %v", got)
	}

	// The provider took a1 (as dispatch would record it), then reports it delivered.
	markSent(t, store, a1, "SM1")
	form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "AccountSid": {"AC1"}}
	callback := func(sig string) *resp {
		return e.do(req{method: http.MethodPost, path: callbackPath, body: form.Encode(), auth: compattest.Request{NoAuth: true},
			tenant: http.Header{}, header: http.Header{"X-Twilio-Signature": {sig}, "Content-Type": {"application/x-www-form-urlencoded"}}})
	}
	// Signed for another URL (the one the gateway itself sees): refused, nothing applied.
	callback(twilioSignature(e2eToken, "http://example.com"+callbackPath, form)).is(http.StatusForbidden, textForbidden)
	if got := e.do(req{path: smsPath + "/" + a1}).dict()["status"]; got != "sent" {
		t.Errorf("status after a refused callback: %v", got)
	}
	callback(twilioSignature(e2eToken, testCallbackURL, form)).code(http.StatusNoContent)
	got := e.do(req{path: smsPath + "/" + a1}).dict()
	if got["status"] != "delivered" || got["twilio_sid"] != "SM1" || got["date_sent"] != "2026-11-20T10:00:00.000Z" || got["receiver"] != "07911 123456" {
		t.Errorf("after the callback: %v", got)
	}
	if providers.urls[len(providers.urls)-1] != testCallbackURL {
		t.Errorf("the plugin checked against %v", providers.urls)
	}

	// Delete: not by another tenant; by its own, then gone.
	e.do(req{method: http.MethodDelete, path: smsPath + "/" + a2, tenant: tenantB}).is(http.StatusForbidden, textForbidden)
	e.do(req{path: smsPath + "/" + a2}).code(http.StatusOK)
	if d := e.do(req{method: http.MethodDelete, path: smsPath + "/" + a2}).dict(); d["deleted"] != "2026-11-20T10:00:00.000Z" || d["uuid"] != a2 {
		t.Errorf("delete answered %v", d)
	}
	e.do(req{path: smsPath + "/" + a2}).is(http.StatusNotFound, textNotFound)
	e.do(req{method: http.MethodDelete, path: smsPath + "/" + a2}).is(http.StatusNotFound, textNotFound)
	if got := ids(e.do(req{path: smsPath}).list()); !slices.Equal(got, []string{a1}) {
		t.Errorf("list after delete %v", got)
	}
	// The queued message was canceled before it was hidden (v1's DELETE).
	if err := store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		m, err := tx.GetMessageForUpdate(ctx, a2)
		if err == nil && m.Status != message.StatusCanceled {
			t.Errorf("deleted message in status %s", m.Status)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// markSent records that the provider took the message with provider id pid, as a send
// result would.
func markSent(t *testing.T, store ports.Store, id, pid string) {
	t.Helper()
	err := store.InTx(context.Background(), func(ctx context.Context, tx ports.Tx) error {
		m, err := tx.GetMessageForUpdate(ctx, id)
		if err != nil {
			return err
		}
		m.Status, m.ProviderMessageID, m.UpdatedAt = message.StatusSent, pid, now
		ev := message.Event{Status: message.StatusSent, At: now}
		m.Events = append(m.Events, ev)
		return tx.UpdateMessage(ctx, m, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
}
