package sdk

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	providerv1 "github.com/smsgw/smsgw/plugins/sdk/proto/smsgw/provider/v1"
)

// viaWire marshals and unmarshals m, so round trips also cover the encoding.
func viaWire[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("marshal %T: %v", m, err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatalf("unmarshal %T: %v", m, err)
	}
	return out
}

func assertEqual(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got  %#v\n want %#v", got, want)
	}
}

func TestConvertRoundTrip(t *testing.T) {
	// Times come back in UTC with nanoseconds intact.
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

	t.Run("info", func(t *testing.T) {
		for _, in := range []Info{
			{},
			{Name: "x", Version: "1.2.3", ProtocolVersion: 1, Capabilities: Capabilities{
				MaxBatch: 100, StatusPoll: true, Balance: true, Inbound: true, EventStream: true,
			}},
		} {
			assertEqual(t, infoFromProto(viaWire(t, infoToProto(in))), in)
		}
	})
	t.Run("configure", func(t *testing.T) {
		for _, in := range []ConfigureRequest{
			{},
			{Name: "lb", PublicURL: "https://sms.example.com", Config: json.RawMessage(`{"a":1}`)},
		} {
			assertEqual(t, configureFromProto(viaWire(t, configureToProto(in))), in)
		}
	})
	t.Run("outbound messages", func(t *testing.T) {
		for _, in := range [][]OutboundMessage{
			nil,
			{{ID: "m1", From: "+1", To: "+2", Text: "hi ☃"}, {ID: "m2", Tags: map[string]string{"k": "v"}}},
		} {
			got := messagesFromProto(viaWire(t, &providerv1.SendRequest{Messages: messagesToProto(in)}).GetMessages())
			assertEqual(t, got, in)
		}
	})
	t.Run("send results", func(t *testing.T) {
		for _, in := range [][]SendResult{
			nil,
			{
				{ProviderMessageID: "p1", Status: StatusSent},
				{Err: &Error{Class: ClassRateLimited, Code: "429", Message: "slow down", RetryAfter: 1500 * time.Millisecond}},
				{Err: &Error{Class: ClassRejected, Message: "no"}},
			},
		} {
			got := resultsFromProto(viaWire(t, &providerv1.SendResponse{Results: resultsToProto(in)}).GetResults())
			assertEqual(t, got, in)
		}
	})
	t.Run("webhook request", func(t *testing.T) {
		for _, in := range []WebhookRequest{
			{},
			{
				Method: "POST", URL: "https://h/webhooks/x/status?a=1", Path: "/status",
				Headers: map[string][]string{"X-A": {"1", "2"}, "Content-Type": {"application/json"}},
				Body:    []byte(`{"x":1}`),
			},
		} {
			assertEqual(t, webhookRequestFromProto(viaWire(t, webhookRequestToProto(in))), in)
		}
	})
	t.Run("webhook response", func(t *testing.T) {
		for _, in := range []WebhookResponse{
			{},
			{
				StatusCode: 200,
				Headers:    map[string][]string{"Content-Type": {"text/xml"}},
				Body:       []byte("<Response/>"),
				Inbound:    []InboundMessage{{ProviderMessageID: "i1", From: "+1", To: "+2", Text: "yo", At: at}},
				Statuses: []StatusUpdate{{
					MessageID: "m1", ProviderMessageID: "p1", Status: StatusUndelivered,
					ErrorCode: "21610", ErrorMessage: "unsubscribed", OptOut: true, At: at,
				}},
			},
		} {
			assertEqual(t, webhookResponseFromProto(viaWire(t, webhookResponseToProto(in))), in)
		}
	})
	t.Run("poll statuses", func(t *testing.T) {
		in := []StatusUpdate{{ProviderMessageID: "p1", Status: StatusDelivered}, {ProviderMessageID: "p2", Status: StatusSent, At: at}}
		got := statusesFromProto(viaWire(t, &providerv1.PollStatusResponse{Statuses: statusesToProto(in)}).GetStatuses())
		assertEqual(t, got, in)
	})
	t.Run("balance", func(t *testing.T) {
		in := Balance{Amount: "12.50", Currency: "EUR"}
		assertEqual(t, balanceFromProto(viaWire(t, balanceToProto(in))), in)
	})
	t.Run("events", func(t *testing.T) {
		for _, in := range []Event{
			{Status: &StatusUpdate{ProviderMessageID: "p1", Status: StatusDelivered, At: at}},
			{Inbound: &InboundMessage{From: "+1", To: "+2", Text: "hi"}},
		} {
			pe, err := eventToProto(in)
			if err != nil {
				t.Fatalf("eventToProto: %v", err)
			}
			got, err := eventFromProto(viaWire(t, pe))
			if err != nil {
				t.Fatalf("eventFromProto: %v", err)
			}
			assertEqual(t, got, in)
		}
	})
	t.Run("time zone is normalised to UTC", func(t *testing.T) {
		local := at.In(time.FixedZone("X", 3600))
		got := timeFromProto(timeToProto(local))
		if !got.Equal(local) || got.Location() != time.UTC {
			t.Errorf("got %v, want %v in UTC", got, local)
		}
	})
}

func TestEventMustSetExactlyOne(t *testing.T) {
	for name, e := range map[string]Event{
		"none": {},
		"both": {Status: &StatusUpdate{}, Inbound: &InboundMessage{}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := eventToProto(e); err == nil {
				t.Error("eventToProto accepted a malformed event")
			}
		})
	}
	if _, err := eventFromProto(&providerv1.Event{}); err == nil {
		t.Error("eventFromProto accepted an event without a kind")
	}
}

func TestClampInt32(t *testing.T) {
	for _, tc := range []struct {
		in   int
		want int32
	}{{0, 0}, {100, 100}, {-5, -5}, {1 << 40, 1<<31 - 1}, {-(1 << 40), -(1 << 31)}} {
		if got := clampInt32(tc.in); got != tc.want {
			t.Errorf("clampInt32(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
