package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	providerv1 "github.com/smsgw/smsgw/plugins/sdk/proto/smsgw/provider/v1"
)

// Client is the host's view of a provider plugin: it implements Provider and all the optional
// interfaces over gRPC. The host gets one by dispensing PluginName from a go-plugin client
// built with HandshakeConfig and HostPluginSets.
//
// Errors: a *ConfigError or *Error the plugin returned comes back as that type (compare with
// errors.As); a capability the plugin lacks comes back wrapping ErrUnimplemented. A Send that
// fails without a classified answer (the plugin died, the connection broke, the deadline
// passed) comes back as *Error with ClassAmbiguous, because the plugin may have handed the
// batch to the provider before the failure. Other calls return the gRPC status error wrapped
// with the rpc name.
type Client struct {
	rpc providerv1.ProviderServiceClient
}

var (
	_ Provider        = (*Client)(nil)
	_ WebhookHandler  = (*Client)(nil)
	_ StatusPoller    = (*Client)(nil)
	_ BalanceReporter = (*Client)(nil)
	_ EventSource     = (*Client)(nil)
)

func newClient(conn grpc.ClientConnInterface) *Client {
	return &Client{rpc: providerv1.NewProviderServiceClient(conn)}
}

// Info describes the plugin.
func (c *Client) Info(ctx context.Context) (Info, error) {
	resp, err := c.rpc.Info(ctx, &providerv1.InfoRequest{})
	if err != nil {
		return Info{}, fromStatus("info", err)
	}
	return infoFromProto(resp), nil
}

// Configure sends the provider block's config; a bad field comes back as *ConfigError.
func (c *Client) Configure(ctx context.Context, req ConfigureRequest) error {
	if _, err := c.rpc.Configure(ctx, configureToProto(req)); err != nil {
		return fromStatus("configure", err)
	}
	return nil
}

// Send hands a batch to the plugin. On success there is exactly one result per message, in
// order; any failure of the whole call is an *Error.
func (c *Client) Send(ctx context.Context, msgs []OutboundMessage) ([]SendResult, error) {
	resp, err := c.rpc.Send(ctx, &providerv1.SendRequest{Messages: messagesToProto(msgs)})
	if err != nil {
		return nil, sendError(err)
	}
	results := resultsFromProto(resp.GetResults())
	if len(results) != len(msgs) {
		// A plugin not built on this SDK broke the contract; nobody can tell which went out.
		return nil, &Error{
			Class:   ClassAmbiguous,
			Message: fmt.Sprintf("plugin send: %d results for %d messages", len(results), len(msgs)),
		}
	}
	if results == nil {
		results = []SendResult{}
	}
	return results, nil
}

// HandleWebhook passes a provider's HTTP request to the plugin.
func (c *Client) HandleWebhook(ctx context.Context, req WebhookRequest) (WebhookResponse, error) {
	resp, err := c.rpc.HandleWebhook(ctx, webhookRequestToProto(req))
	if err != nil {
		return WebhookResponse{}, fromStatus("handle webhook", err)
	}
	return webhookResponseFromProto(resp), nil
}

// PollStatus asks the plugin for the current status of messages it accepted.
func (c *Client) PollStatus(ctx context.Context, providerMessageIDs []string) ([]StatusUpdate, error) {
	resp, err := c.rpc.PollStatus(ctx, &providerv1.PollStatusRequest{ProviderMessageIds: providerMessageIDs})
	if err != nil {
		return nil, fromStatus("poll status", err)
	}
	return statusesFromProto(resp.GetStatuses()), nil
}

// Balance reports the account balance at the provider.
func (c *Client) Balance(ctx context.Context) (Balance, error) {
	resp, err := c.rpc.Balance(ctx, &providerv1.BalanceRequest{})
	if err != nil {
		return Balance{}, fromStatus("balance", err)
	}
	return balanceFromProto(resp), nil
}

// Events subscribes to the plugin's event stream and calls emit for each event until ctx is
// done (it returns ctx.Err()), emit fails (it returns emit's error unwrapped), or the stream
// ends (nil when the plugin ended it cleanly). The caller re-subscribes as it sees fit.
func (c *Client) Events(ctx context.Context, emit func(Event) error) error {
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream on the plugin side when emit fails
	stream, err := c.rpc.Events(streamCtx, &providerv1.EventsRequest{})
	if err != nil {
		return c.eventsError(ctx, err)
	}
	for {
		pe, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return c.eventsError(ctx, err)
		}
		e, err := eventFromProto(pe)
		if err != nil {
			return fmt.Errorf("plugin events: %w", err)
		}
		if err := emit(e); err != nil {
			return err
		}
	}
}

func (c *Client) eventsError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fromStatus("events", err)
}
