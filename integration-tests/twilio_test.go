package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
	"github.com/smsgw/smsgw/integration-tests/providersim"
	"github.com/smsgw/smsgw/plugins/twilio/signature"
)

const (
	twilioSID   = "ACit0000000000000000000000000000"
	twilioToken = "it-twilio-token"
)

// twilioEnv is one gateway on Postgres whose only provider is "twilio", the Twilio-style
// plugin against an in-process simulator that posts its signed callbacks to the gateway.
type twilioEnv struct {
	sim  *providersim.Twilio
	g    *harness.Gateway
	c    *harness.Client
	anon *harness.Client // no credentials: what a provider calling a webhook is
}

// startTwilio starts the simulator and a gateway; extra is appended to the config (policy
// and compat blocks).
func startTwilio(t *testing.T, extra string) *twilioEnv {
	t.Helper()
	sim := providersim.NewTwilio(providersim.TwilioOptions{AccountSID: twilioSID, AuthToken: twilioToken})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	dir := t.TempDir()
	addr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := storeSetup(t, "postgres", dir)
	if extra == "" {
		extra = noLimits
	}
	cfg := s.gatewayConfig(addr, twilioProvider(srv.URL, fastRetry), extra)
	path := filepath.Join(dir, "smsgw-twilio.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := start(t, dir, path, addr)
	sim.SetInboundURL(g.URL + "/webhooks/twilio/inbound")
	return &twilioEnv{sim: sim, g: g, c: harness.NewClient(g.URL, user, password), anon: harness.NewClient(g.URL, "", "")}
}

// sendFinal sends one message and waits for its final status.
func (e *twilioEnv) sendFinal(ctx context.Context, t *testing.T, from, to string) harness.Message {
	t.Helper()
	code, m, err := e.c.Send(ctx, from, to, "hello via twilio")
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("send to %s: %d %v", to, code, err)
	}
	final, err := e.c.WaitFinal(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	return final
}

// steps splits a message's history into the statuses it went through (repeats of one step
// folded: the provider's acceptance is a second "sending" event) and the set of reports
// recorded as ignored.
func steps(m harness.Message) (applied string, ignored map[string]bool) {
	var seq []string
	ignored = map[string]bool{}
	for _, ev := range m.Events {
		switch {
		case ev.Detail != nil && *ev.Detail == "ignored":
			ignored[ev.Status] = true
		case len(seq) == 0 || seq[len(seq)-1] != ev.Status:
			seq = append(seq, ev.Status)
		}
	}
	return strings.Join(seq, " "), ignored
}

// TestTwilioStatusCallbacks: the simulator's signed callbacks drive each message to its final
// status whatever the delivery order, and the history shows each step once.
func TestTwilioStatusCallbacks(t *testing.T) {
	e := startTwilio(t, "")
	if err := e.sim.SetRules([]providersim.TwilioRule{
		{Pattern: "+1415666*", Status: "undelivered", ErrorCode: 30003},
		{Pattern: "+1415777*", Status: "failed", ErrorCode: 30008},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A callback can beat the send result into the store (the simulator posts the moment it
	// has answered the create call); the plugin's callback URL names the message, so the
	// report applies all the same, and the send result that comes after is then a step
	// back ("queued" recorded as ignored). Which of the two comes first is timing, so the
	// assertions hold for both orders: the steps applied, and which reports may be ignored.
	tests := []struct {
		mode    string
		to      string
		status  string
		code    string          // the message's error code
		steps   string          // the statuses gone through
		ignored map[string]bool // reports that must be recorded as ignored
		mayIgn  map[string]bool // and those that may be (the race above)
	}{
		{"normal", "+14155550101", "delivered", "", "queued sending sent delivered", nil, set("queued")},
		{"normal", "+14156660101", "undelivered", "30003", "queued sending sent undelivered", nil, set("queued")},
		{"normal", "+14157770101", "failed", "30008", "queued sending failed", nil, set("queued")},
		// Each callback twice: the repeats are dropped without an event.
		{"twice", "+14155550102", "delivered", "", "queued sending sent delivered", nil, set("queued")},
		// Final first: the late sent (and queued) are recorded as ignored and change nothing.
		{"out_of_order", "+14155550103", "delivered", "", "queued sending delivered", set("sent", "queued"), nil},
		{"out_of_order", "+14156660103", "undelivered", "30003", "queued sending undelivered", set("sent", "queued"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.status, func(t *testing.T) {
			if err := e.sim.SetCallbackMode(tt.mode, 0); err != nil {
				t.Fatal(err)
			}
			before := len(e.sim.Callbacks())
			m := e.sendFinal(ctx, t, "+14155550100", tt.to)
			per := map[string]int{"delivered": 3, "undelivered": 3, "failed": 2}[tt.status]
			if tt.mode == "twice" {
				per *= 2
			}
			// Every callback of the message answered, so no late one can change it after.
			if err := e.sim.WaitCallbacks(ctx, before+per); err != nil {
				t.Fatal(err)
			}
			m = e.mustGet(ctx, t, m.ID)
			if m.Status != tt.status || m.Provider != "twilio" || m.ProviderMessageID == nil || !strings.HasPrefix(*m.ProviderMessageID, "SM") {
				t.Fatalf("message %+v, want %s via twilio with an SM sid", m, tt.status)
			}
			applied, ignored := steps(m)
			if applied != tt.steps {
				t.Errorf("steps %q, want %q", applied, tt.steps)
			}
			for s := range tt.ignored {
				if !ignored[s] {
					t.Errorf("report %s not recorded as ignored; ignored: %v", s, ignored)
				}
			}
			for s := range ignored {
				if !tt.ignored[s] && !tt.mayIgn[s] {
					t.Errorf("report %s recorded as ignored, want it applied or dropped", s)
				}
			}
			if tt.code != "" && (m.Error == nil || m.Error.Code != tt.code) {
				t.Errorf("error %+v, want code %s", m.Error, tt.code)
			}
		})
	}
}

func set(ss ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func (e *twilioEnv) mustGet(ctx context.Context, t *testing.T, id string) harness.Message {
	t.Helper()
	var m harness.Message
	if code, err := e.c.Do(ctx, http.MethodGet, "/v1/messages/"+id, nil, &m); err != nil || code != http.StatusOK {
		t.Fatalf("GET message %s: %d %v", id, code, err)
	}
	return m
}

// postForm posts a form to the gateway with an X-Twilio-Signature header (none when sig is
// empty) and returns the status code.
func (e *twilioEnv) postForm(ctx context.Context, t *testing.T, path string, form url.Values, sig string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.g.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestTwilioForgedCallback: a status callback without a valid signature gets 403 and
// changes nothing; the same callback signed with the account's token is applied.
func TestTwilioForgedCallback(t *testing.T) {
	e := startTwilio(t, "")
	if err := e.sim.SetCallbackMode("off", 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code, m, err := e.c.Send(ctx, "+14155550100", "+14155550111", "forge me")
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("send: %d %v", code, err)
	}
	m = e.waitSid(ctx, t, m.ID)
	form := url.Values{"MessageSid": {*m.ProviderMessageID}, "MessageStatus": {"failed"}, "ErrorCode": {"30008"}, "AccountSid": {twilioSID}}
	callbackURL := e.g.URL + "/webhooks/twilio/status"
	good := signature.Compute(twilioToken, callbackURL, form)
	forged := []struct {
		name string
		sig  string
		form url.Values
	}{
		{"no signature", "", form},
		{"wrong token", signature.Compute("not-the-token", callbackURL, form), form},
		{"tampered status", good, url.Values{"MessageSid": form["MessageSid"], "MessageStatus": {"delivered"}, "ErrorCode": {"30008"}, "AccountSid": form["AccountSid"]}},
		{"added parameter", good, withParam(form, "Extra", "1")},
	}
	for _, f := range forged {
		if got := e.postForm(ctx, t, "/webhooks/twilio/status", f.form, f.sig); got != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", f.name, got)
		}
	}
	if after := e.mustGet(ctx, t, m.ID); after.Status != m.Status || len(after.Events) != len(m.Events) {
		t.Fatalf("forged callbacks changed the message: %+v, was %+v", after, m)
	}
	if got := e.postForm(ctx, t, "/webhooks/twilio/status", form, good); got != http.StatusOK {
		t.Fatalf("signed callback: %d, want 200", got)
	}
	if after := e.mustGet(ctx, t, m.ID); after.Status != "failed" || after.Error == nil || after.Error.Code != "30008" {
		t.Fatalf("after the signed callback: %+v", after)
	}
}

func withParam(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for key, vs := range v {
		out[key] = append([]string(nil), vs...)
	}
	out.Set(k, val)
	return out
}

// waitSid polls a message until the provider's id for it is stored.
func (e *twilioEnv) waitSid(ctx context.Context, t *testing.T, id string) harness.Message {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		m := e.mustGet(ctx, t, id)
		if m.ProviderMessageID != nil {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("message %s got no provider id: %+v", id, m)
		case <-tick.C:
		}
	}
}

// TestTwilioRefreshStatuses: with the simulator's callbacks off, messages stay waiting until
// POST /v1/messages/refresh-statuses polls the provider, which brings each to its final
// status; a second refresh finds nothing left to do.
func TestTwilioRefreshStatuses(t *testing.T) {
	e := startTwilio(t, "")
	if err := e.sim.SetCallbackMode("off", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetRules([]providersim.TwilioRule{{Pattern: "+1415666*", Status: "undelivered", ErrorCode: 30003}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 12
	var ids []string
	for i := range n {
		to := fmt.Sprintf("+1415555%04d", i)
		if i%4 == 0 {
			to = fmt.Sprintf("+1415666%04d", i)
		}
		code, m, err := e.c.Send(ctx, "+14155550100", to, "poll me")
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("send: %d %v", code, err)
		}
		ids = append(ids, m.ID)
	}
	for _, id := range ids {
		if m := e.waitSid(ctx, t, id); m.Final() {
			t.Fatalf("message %s final without callbacks: %+v", id, m)
		}
	}
	// The simulator settles each message on a goroutine of its own: wait until it has, so
	// that the poll finds every message final rather than racing it.
	if err := e.sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	var r struct{ Checked, Updated int }
	if code, err := e.c.Do(ctx, http.MethodPost, "/v1/messages/refresh-statuses", nil, &r); err != nil || code != http.StatusOK {
		t.Fatalf("refresh-statuses: %d %v", code, err)
	}
	if r.Checked != n || r.Updated != n {
		t.Fatalf("refresh-statuses = %+v, want %d checked and updated", r, n)
	}
	for i, id := range ids {
		want := "delivered"
		if i%4 == 0 {
			want = "undelivered"
		}
		if m := e.mustGet(ctx, t, id); m.Status != want {
			t.Errorf("message %d: %s, want %s; events %+v", i, m.Status, want, m.Events)
		}
	}
	if code, err := e.c.Do(ctx, http.MethodPost, "/v1/messages/refresh-statuses", nil, &r); err != nil || code != http.StatusOK || r.Checked != 0 || r.Updated != 0 {
		t.Fatalf("second refresh: %d %v %+v, want nothing left", code, err, r)
	}
	// The counts report what the refresh brought about.
	day := time.Now().UTC()
	q := "start=" + url.QueryEscape(day.Add(-time.Hour).Format(time.RFC3339)) + "&end=" + url.QueryEscape(day.Add(time.Hour).Format(time.RFC3339))
	var counts struct {
		Days map[string]map[string]int `json:"days"`
	}
	if code, err := e.c.Do(ctx, http.MethodGet, "/v1/messages/status-counts?"+q, nil, &counts); err != nil || code != http.StatusOK {
		t.Fatalf("status-counts: %d %v", code, err)
	}
	total := map[string]int{}
	for _, byStatus := range counts.Days {
		for s, k := range byStatus {
			total[s] += k
		}
	}
	if total["delivered"] != n-n/4 || total["undelivered"] != n/4 || len(total) != 2 {
		t.Fatalf("status counts %+v, want %d delivered and %d undelivered", counts.Days, n-n/4, n/4)
	}
}

// TestTwilioInboundAndOptOut: a signed inbound message from the simulator is listed as
// received and answered with TwiML; a STOP through it blocks the reverse send; and a
// recipient the provider reports as unsubscribed (21610) is blocked for the next send.
func TestTwilioInboundAndOptOut(t *testing.T) {
	e := startTwilio(t, defaultPolicy)
	if err := e.sim.SetRules([]providersim.TwilioRule{{Pattern: "+1415777*", Refuse: true, ErrorCode: 21610}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ours, person := "+14155550100", "+14155550177"

	status, body, err := e.sim.SendInbound(ctx, person, ours, "hi there")
	if err != nil || status != http.StatusOK || !strings.Contains(body, "<Response") {
		t.Fatalf("inbound: %d %q %v, want 200 TwiML", status, body, err)
	}
	in, err := e.c.ListMessages(ctx, "direction=inbound&from="+url.QueryEscape(person))
	if err != nil || len(in) != 1 || in[0].Status != "received" || in[0].Text != "hi there" || in[0].To != ours {
		t.Fatalf("inbound list: %+v %v", in, err)
	}

	if status, _, err := e.sim.SendInbound(ctx, person, ours, " stop "); err != nil || status != http.StatusOK {
		t.Fatalf("inbound STOP: %d %v", status, err)
	}
	r, err := e.c.DoRaw(ctx, http.MethodPost, "/v1/messages", nil, map[string]string{"from": ours, "to": person, "text": "after stop"})
	if err != nil || r.Code != http.StatusForbidden {
		t.Fatalf("send after STOP: %v %d %s, want 403", err, r.Code, r.Body)
	}
	if items := listOptOuts(ctx, t, e.c, ours, person); len(items) != 1 || items[0].Source != "keyword" {
		t.Fatalf("opt-outs after STOP: %+v", items)
	}

	// The STOP confirmation goes out through twilio too; wait for it, so that the create
	// calls counted below are the refused recipient's only.
	replies, err := e.c.ListMessages(ctx, "direction=outbound&to="+url.QueryEscape(person))
	if err != nil || len(replies) != 1 || replies[0].Text != defaultStopReply {
		t.Fatalf("STOP reply: %+v %v", replies, err)
	}
	if m, err := e.c.WaitFinal(ctx, replies[0].ID); err != nil || m.Status != "delivered" {
		t.Fatalf("STOP reply: %+v %v", m, err)
	}

	// Twilio refuses the unsubscribed recipient with 21610: the send fails with that code,
	// and the pair is blocked (source provider), so the next send is refused at once.
	unsubscribed := "+14157770001"
	creates := e.sim.Stats().Creates
	m := e.sendFinal(ctx, t, ours, unsubscribed)
	if m.Status != "failed" || m.Error == nil || m.Error.Code != "21610" {
		t.Fatalf("send to an unsubscribed recipient: %+v", m)
	}
	if items := listOptOuts(ctx, t, e.c, ours, unsubscribed); len(items) != 1 || items[0].Source != "provider" {
		t.Fatalf("opt-outs after 21610: %+v", items)
	}
	if code, _, err := e.c.Send(ctx, ours, unsubscribed, "again"); err != nil || code != http.StatusForbidden {
		t.Fatalf("send after 21610: %d %v, want 403", code, err)
	}
	// One create call, refused (a permanent rejection is not retried); none for the
	// refused second send.
	if got := e.sim.Stats().Creates - creates; got != 1 {
		t.Fatalf("the simulator saw %d create calls for the unsubscribed number, want 1", got)
	}
}

// dhosDict is the part of the DHOS message dict the test reads.
type dhosDict struct {
	UUID          string `json:"uuid"`
	Receiver      string `json:"receiver"`
	TrustomerCode string `json:"trustomer_code"`
	ProductName   string `json:"product_name"`
	Status        string `json:"status"`
	TwilioSID     string `json:"twilio_sid"`
	DateSent      string `json:"date_sent"`
	ErrorCode     string `json:"error_code"`
	Deleted       string `json:"deleted"`
}

// TestDHOSThroughTwilio: the DHOS dialect over the real gateway, plugin and simulator: a
// tenant's send is normalised for the provider and delivered by its signed callbacks; the
// lists and deletes keep to the tenant; /sms/callback takes a Twilio callback signed for the
// configured callback URL and refuses a forged one; bulk_update polls; the counts report.
func TestDHOSThroughTwilio(t *testing.T) {
	e := startTwilio(t, noLimits+`compat {
  dhos {
    provider     = "twilio"
    country_code = "GB"
  }
}
`)
	if err := e.sim.SetRules([]providersim.TwilioRule{{Pattern: "+447400900666", Status: "undelivered", ErrorCode: 30003}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tenant := http.Header{"X-Trustomer": {"Acme"}, "X-Product": {"GDM"}}
	other := http.Header{"X-Trustomer": {"acme"}, "X-Product": {"send"}}

	var created dhosDict
	r, err := e.c.DoRaw(ctx, http.MethodPost, "/dhos/v1/sms", tenant, map[string]string{"sender": "ACME", "receiver": "07400 123456", "content": "hello"})
	if err != nil || r.Code != http.StatusOK || r.Decode(&created) != nil {
		t.Fatalf("create: %v %d %s", err, r.Code, r.Body)
	}
	if created.Receiver != "07400 123456" || created.TrustomerCode != "acme" || created.ProductName != "gdm" {
		t.Fatalf("created %+v", created)
	}
	m, err := e.c.WaitFinal(ctx, created.UUID)
	if err != nil || m.Status != "delivered" || m.To != "+447400123456" || m.From != "ACME" {
		t.Fatalf("the DHOS message through twilio: %+v %v", m, err)
	}
	var got dhosDict
	if r, err := e.c.DoRaw(ctx, http.MethodGet, "/dhos/v1/sms/"+created.UUID, nil, nil); err != nil || r.Code != http.StatusOK || r.Decode(&got) != nil ||
		got.Status != "delivered" || !strings.HasPrefix(got.TwilioSID, "SM") || got.DateSent == "" {
		t.Fatalf("GET the message: %v %+v", err, got)
	}

	// The list is the tenant's; another tenant of the same account cannot delete it.
	var list []dhosDict
	if r, err := e.c.DoRaw(ctx, http.MethodGet, "/dhos/v1/sms?receiver=07400123456", tenant, nil); err != nil || r.Code != http.StatusOK || r.Decode(&list) != nil || len(list) != 1 || list[0].UUID != created.UUID {
		t.Fatalf("tenant's list: %v %+v", err, list)
	}
	if r, err := e.c.DoRaw(ctx, http.MethodGet, "/dhos/v1/sms", other, nil); err != nil || r.Code != http.StatusOK || r.Decode(&list) != nil || len(list) != 0 {
		t.Fatalf("other tenant's list: %v %+v", err, list)
	}
	if r, err := e.c.DoRaw(ctx, http.MethodDelete, "/dhos/v1/sms/"+created.UUID, other, nil); err != nil || r.Code != http.StatusForbidden || string(r.Body) != `{"message":"Forbidden"}` {
		t.Fatalf("delete by another tenant: %v %d %s", err, r.Code, r.Body)
	}

	// A message sent before the switch, whose callbacks still go to the DHOS callback URL:
	// signed for that URL it is applied (204); forged it is 403 and changes nothing.
	if err := e.sim.SetCallbackMode("off", 0); err != nil {
		t.Fatal(err)
	}
	r, err = e.c.DoRaw(ctx, http.MethodPost, "/dhos/v1/sms", tenant, map[string]string{"sender": "ACME", "receiver": "+447400900666", "content": "old"})
	if err != nil || r.Code != http.StatusOK || r.Decode(&created) != nil {
		t.Fatalf("create: %v %d %s", err, r.Code, r.Body)
	}
	m = e.waitSid(ctx, t, created.UUID)
	callbackURL := e.g.URL + "/dhos/v1/sms/callback"
	form := url.Values{"MessageSid": {*m.ProviderMessageID}, "MessageStatus": {"sent"}, "AccountSid": {twilioSID}}
	if got := e.postForm(ctx, t, "/dhos/v1/sms/callback", form, signature.Compute("forged", callbackURL, form)); got != http.StatusForbidden {
		t.Fatalf("forged DHOS callback: %d, want 403", got)
	}
	if after := e.mustGet(ctx, t, m.ID); after.Status != m.Status {
		t.Fatalf("a forged callback changed the message: %s, was %s", after.Status, m.Status)
	}
	if got := e.postForm(ctx, t, "/dhos/v1/sms/callback", form, signature.Compute(twilioToken, callbackURL, form)); got != http.StatusNoContent {
		t.Fatalf("signed DHOS callback: %d, want 204", got)
	}
	if after := e.mustGet(ctx, t, m.ID); after.Status != "sent" {
		t.Fatalf("after the signed DHOS callback: %s, want sent", after.Status)
	}
	// bulk_update polls the provider, which has it undelivered once it has settled it.
	if err := e.sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := e.c.DoRaw(ctx, http.MethodGet, "/dhos/v1/sms/bulk_update", nil, nil); err != nil || r.Code != http.StatusNoContent {
		t.Fatalf("bulk_update: %v %d %s", err, r.Code, r.Body)
	}
	if r, err := e.c.DoRaw(ctx, http.MethodGet, "/dhos/v1/sms/"+created.UUID, nil, nil); err != nil || r.Decode(&got) != nil || got.Status != "undelivered" || got.ErrorCode != "30003" {
		t.Fatalf("after bulk_update: %v %+v", err, got)
	}

	var counts struct {
		DataType string                    `json:"data_type"`
		Data     map[string]map[string]int `json:"data"`
	}
	today := time.Now().UTC().Format("2006-01-02")
	if r, err := e.c.DoRaw(ctx, http.MethodGet, "/dhos/v1/sms_status_counts?start_date="+today+"&end_date="+today, nil, nil); err != nil || r.Code != http.StatusOK || r.Decode(&counts) != nil ||
		counts.DataType != "sms_status_counts" || counts.Data[today]["delivered"] != 1 || counts.Data[today]["undelivered"] != 1 {
		t.Fatalf("status counts: %v %+v", err, counts)
	}
	// Deleted by its tenant: 200 with deleted, then 404.
	var deleted dhosDict
	if r, err := e.c.DoRaw(ctx, http.MethodDelete, "/dhos/v1/sms/"+created.UUID, tenant, nil); err != nil || r.Code != http.StatusOK || r.Decode(&deleted) != nil || deleted.Deleted == "" {
		t.Fatalf("delete: %v %+v", err, deleted)
	}
	if r, err := e.c.DoRaw(ctx, http.MethodGet, "/dhos/v1/sms/"+created.UUID, nil, nil); err != nil || r.Code != http.StatusNotFound {
		t.Fatalf("GET after delete: %v %d", err, r.Code)
	}
	var running map[string]bool
	if code, err := e.anon.Do(ctx, http.MethodGet, "/running", nil, &running); err != nil || code != http.StatusOK || !running["running"] {
		t.Fatalf("GET /running: %d %v %v", code, running, err)
	}
}
