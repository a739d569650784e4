package sdk

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const waitFor = 10 * time.Second

func TestHandshake(t *testing.T) {
	h := HandshakeConfig()
	if h.MagicCookieKey != "SMSGW_PLUGIN" || h.MagicCookieValue == "" || h.ProtocolVersion != ProtocolVersion {
		t.Errorf("handshake %+v", h)
	}
	sets := HostPluginSets()
	p, ok := sets[ProtocolVersion][PluginName].(*GRPCPlugin)
	if !ok || p.Provider != nil || len(sets) != 1 {
		t.Errorf("host plugin sets %#v", sets)
	}
}

func TestCallsReachTheProvider(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var gotConfig ConfigureRequest
	var gotIDs []string
	p := &fullProvider{
		basicProvider: basicProvider{
			info: Info{Name: "fake", Version: "9", ProtocolVersion: ProtocolVersion, Capabilities: Capabilities{MaxBatch: 7}},
			configure: func(r ConfigureRequest) error {
				gotConfig = r
				return nil
			},
		},
		webhook: func(r WebhookRequest) (WebhookResponse, error) {
			return WebhookResponse{StatusCode: 201, Body: r.Body, Inbound: []InboundMessage{{From: "+1", Text: r.Path}}}, nil
		},
		poll: func(ids []string) ([]StatusUpdate, error) {
			gotIDs = ids
			return []StatusUpdate{{ProviderMessageID: ids[0], Status: StatusDelivered, At: at}}, nil
		},
		balance: func() (Balance, error) { return Balance{Amount: "1.00", Currency: "USD"}, nil },
	}
	c, _ := connect(t, p)
	ctx := t.Context()

	info, err := c.Info(ctx)
	if err != nil || info != p.info {
		t.Errorf("info = %+v, %v", info, err)
	}
	req := ConfigureRequest{Name: "fake", PublicURL: "https://x", Config: []byte(`{"a":1}`)}
	if err := c.Configure(ctx, req); err != nil {
		t.Fatalf("configure: %v", err)
	}
	assertEqual(t, gotConfig, req)

	res, err := c.Send(ctx, []OutboundMessage{{ID: "a"}, {ID: "b"}})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	assertEqual(t, res, []SendResult{{ProviderMessageID: "p-a", Status: StatusSent}, {ProviderMessageID: "p-b", Status: StatusSent}})

	empty, err := c.Send(ctx, nil)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("empty send = %#v, %v; want an empty slice", empty, err)
	}

	wr, err := c.HandleWebhook(ctx, WebhookRequest{Method: "POST", Path: "/in", Body: []byte("b")})
	if err != nil || wr.StatusCode != 201 || string(wr.Body) != "b" || len(wr.Inbound) != 1 || wr.Inbound[0].Text != "/in" {
		t.Errorf("webhook = %+v, %v", wr, err)
	}

	st, err := c.PollStatus(ctx, []string{"p-a", "p-b"})
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	assertEqual(t, gotIDs, []string{"p-a", "p-b"})
	assertEqual(t, st, []StatusUpdate{{ProviderMessageID: "p-a", Status: StatusDelivered, At: at}})

	b, err := c.Balance(ctx)
	if err != nil || b != (Balance{Amount: "1.00", Currency: "USD"}) {
		t.Errorf("balance = %+v, %v", b, err)
	}
}

// streamProvider emits the given events, then blocks until its context ends and reports that
// on done.
func streamProvider(events []Event, done chan<- error) *fullProvider {
	return &fullProvider{events: func(ctx context.Context, emit func(Event) error) error {
		for _, e := range events {
			if err := emit(e); err != nil {
				done <- err
				return err
			}
		}
		<-ctx.Done()
		done <- ctx.Err()
		return ctx.Err()
	}}
}

func statusEvent(id string) Event {
	return Event{Status: &StatusUpdate{ProviderMessageID: id, Status: StatusDelivered}}
}

func TestEvents(t *testing.T) {
	events := []Event{statusEvent("1"), {Inbound: &InboundMessage{From: "+1", To: "+2", Text: "hi"}}, statusEvent("3")}

	t.Run("delivered in order until the subscriber stops", func(t *testing.T) {
		done := make(chan error, 1)
		c, _ := connect(t, streamProvider(events, done))
		errStop := errors.New("stop")
		var got []Event
		err := c.Events(t.Context(), func(e Event) error {
			got = append(got, e)
			if len(got) == len(events) {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Errorf("Events returned %v, want the emit error", err)
		}
		assertEqual(t, got, events)
		// Stopping the subscription must end the provider's Events too.
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatal("provider's Events did not end after the subscriber stopped")
		}
	})

	t.Run("context cancel", func(t *testing.T) {
		done := make(chan error, 1)
		c, _ := connect(t, streamProvider(events[:1], done))
		ctx, cancel := context.WithCancel(t.Context())
		err := c.Events(ctx, func(Event) error {
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Events returned %v, want context.Canceled", err)
		}
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatal("provider's Events did not end after cancel")
		}
	})

	t.Run("provider ends the stream", func(t *testing.T) {
		c, _ := connect(t, &fullProvider{events: func(context.Context, func(Event) error) error { return nil }})
		if err := c.Events(t.Context(), func(Event) error { return nil }); err != nil {
			t.Errorf("Events returned %v, want nil", err)
		}
	})

	t.Run("malformed event fails the provider's emit", func(t *testing.T) {
		emitErr := make(chan error, 1)
		c, _ := connect(t, &fullProvider{events: func(_ context.Context, emit func(Event) error) error {
			err := emit(Event{})
			emitErr <- err
			return err
		}})
		err := c.Events(t.Context(), func(Event) error { return nil })
		if status.Code(errors.Unwrap(err)) != codes.Unknown {
			t.Errorf("Events returned %v, want an Unknown status", err)
		}
		if err := <-emitErr; err == nil {
			t.Error("emit accepted an event with neither Status nor Inbound")
		}
	})
}
