package sdk

import (
	"context"
	"testing"

	"github.com/hashicorp/go-plugin"
)

// basicProvider implements only the mandatory Provider interface, with behaviour injected.
type basicProvider struct {
	info      Info
	configure func(ConfigureRequest) error
	send      func([]OutboundMessage) ([]SendResult, error)
}

func (p *basicProvider) Info(context.Context) (Info, error) { return p.info, nil }

func (p *basicProvider) Configure(_ context.Context, req ConfigureRequest) error {
	if p.configure == nil {
		return nil
	}
	return p.configure(req)
}

func (p *basicProvider) Send(_ context.Context, msgs []OutboundMessage) ([]SendResult, error) {
	if p.send == nil {
		out := make([]SendResult, len(msgs))
		for i := range msgs {
			out[i] = SendResult{ProviderMessageID: "p-" + msgs[i].ID, Status: StatusSent}
		}
		return out, nil
	}
	return p.send(msgs)
}

// fullProvider adds every optional capability.
type fullProvider struct {
	basicProvider
	webhook func(WebhookRequest) (WebhookResponse, error)
	poll    func([]string) ([]StatusUpdate, error)
	balance func() (Balance, error)
	events  func(ctx context.Context, emit func(Event) error) error
}

func (p *fullProvider) HandleWebhook(_ context.Context, req WebhookRequest) (WebhookResponse, error) {
	return p.webhook(req)
}

func (p *fullProvider) PollStatus(_ context.Context, ids []string) ([]StatusUpdate, error) {
	return p.poll(ids)
}

func (p *fullProvider) Balance(context.Context) (Balance, error) { return p.balance() }

func (p *fullProvider) Events(ctx context.Context, emit func(Event) error) error {
	return p.events(ctx, emit)
}

// connect serves p over a real gRPC connection and returns the host-side client and the
// go-plugin server (to stop it early when a test needs a dead plugin).
func connect(t *testing.T, p Provider) (*Client, *plugin.GRPCServer) {
	t.Helper()
	ps := map[string]plugin.Plugin{PluginName: &GRPCPlugin{Provider: p}}
	client, server := plugin.TestPluginGRPCConn(t, false, ps)
	// Close asks the server to stop through go-plugin's controller; stopping it here as well
	// would race with that inside go-plugin.
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	c, ok := raw.(*Client)
	if !ok {
		t.Fatalf("dispensed %T, want *Client", raw)
	}
	return c, server
}
