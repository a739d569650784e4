package sdk

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	providerv1 "github.com/smsgw/smsgw/plugins/sdk/proto/smsgw/provider/v1"
)

// grpcServer serves a Provider on the plugin side. The optional interfaces are discovered
// by type assertion; a missing one answers codes.Unimplemented.
type grpcServer struct {
	providerv1.UnimplementedProviderServiceServer
	p Provider
}

var _ providerv1.ProviderServiceServer = (*grpcServer)(nil)

func newGRPCServer(p Provider) *grpcServer { return &grpcServer{p: p} }

func unimplemented(capability string) error {
	return status.Errorf(codes.Unimplemented, "provider does not implement %s", capability)
}

func (s *grpcServer) Info(ctx context.Context, _ *providerv1.InfoRequest) (*providerv1.InfoResponse, error) {
	info, err := s.p.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return infoToProto(info), nil
}

func (s *grpcServer) Configure(ctx context.Context, req *providerv1.ConfigureRequest) (*providerv1.ConfigureResponse, error) {
	if err := s.p.Configure(ctx, configureFromProto(req)); err != nil {
		return nil, toStatus(err)
	}
	return &providerv1.ConfigureResponse{}, nil
}

func (s *grpcServer) Send(ctx context.Context, req *providerv1.SendRequest) (*providerv1.SendResponse, error) {
	msgs := messagesFromProto(req.GetMessages())
	results, err := s.p.Send(ctx, msgs)
	if err != nil {
		return nil, sendStatus(err)
	}
	if len(results) != len(msgs) {
		// The host could not tell which messages went out, so the whole batch is ambiguous.
		return nil, sendStatus(&Error{
			Class:   ClassAmbiguous,
			Message: fmt.Sprintf("provider returned %d results for %d messages", len(results), len(msgs)),
		})
	}
	return &providerv1.SendResponse{Results: resultsToProto(results)}, nil
}

func (s *grpcServer) HandleWebhook(ctx context.Context, req *providerv1.HandleWebhookRequest) (*providerv1.HandleWebhookResponse, error) {
	h, ok := s.p.(WebhookHandler)
	if !ok {
		return nil, unimplemented("webhooks")
	}
	resp, err := h.HandleWebhook(ctx, webhookRequestFromProto(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return webhookResponseToProto(resp), nil
}

func (s *grpcServer) PollStatus(ctx context.Context, req *providerv1.PollStatusRequest) (*providerv1.PollStatusResponse, error) {
	sp, ok := s.p.(StatusPoller)
	if !ok {
		return nil, unimplemented("status polling")
	}
	updates, err := sp.PollStatus(ctx, req.GetProviderMessageIds())
	if err != nil {
		return nil, toStatus(err)
	}
	return &providerv1.PollStatusResponse{Statuses: statusesToProto(updates)}, nil
}

func (s *grpcServer) Balance(ctx context.Context, _ *providerv1.BalanceRequest) (*providerv1.BalanceResponse, error) {
	br, ok := s.p.(BalanceReporter)
	if !ok {
		return nil, unimplemented("balance")
	}
	b, err := br.Balance(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return balanceToProto(b), nil
}

func (s *grpcServer) Events(_ *providerv1.EventsRequest, stream grpc.ServerStreamingServer[providerv1.Event]) error {
	es, ok := s.p.(EventSource)
	if !ok {
		return unimplemented("the event stream")
	}
	err := es.Events(stream.Context(), func(e Event) error {
		pe, err := eventToProto(e)
		if err != nil {
			return fmt.Errorf("emit: %w", err)
		}
		return stream.Send(pe)
	})
	return toStatus(err)
}
