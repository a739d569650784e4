package sdk

import (
	"errors"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	providerv1 "github.com/smsgw/smsgw/plugins/sdk/proto/smsgw/provider/v1"
)

// Conversions between the plain SDK types and the generated protobuf types. Together with
// grpc_errors.go this is the only code that builds or reads generated messages outside the
// gRPC server and client. Empty slices and maps decode as nil, zero times as unset timestamps.

func infoToProto(i Info) *providerv1.InfoResponse {
	return &providerv1.InfoResponse{
		Name:            i.Name,
		Version:         i.Version,
		ProtocolVersion: clampInt32(i.ProtocolVersion),
		Capabilities: &providerv1.Capabilities{
			MaxBatch:            clampInt32(i.Capabilities.MaxBatch),
			SupportsStatusPoll:  i.Capabilities.StatusPoll,
			SupportsBalance:     i.Capabilities.Balance,
			SupportsInbound:     i.Capabilities.Inbound,
			SupportsEventStream: i.Capabilities.EventStream,
		},
	}
}

func infoFromProto(p *providerv1.InfoResponse) Info {
	c := p.GetCapabilities()
	return Info{
		Name:            p.GetName(),
		Version:         p.GetVersion(),
		ProtocolVersion: int(p.GetProtocolVersion()),
		Capabilities: Capabilities{
			MaxBatch:    int(c.GetMaxBatch()),
			StatusPoll:  c.GetSupportsStatusPoll(),
			Balance:     c.GetSupportsBalance(),
			Inbound:     c.GetSupportsInbound(),
			EventStream: c.GetSupportsEventStream(),
		},
	}
}

func configureToProto(r ConfigureRequest) *providerv1.ConfigureRequest {
	return &providerv1.ConfigureRequest{Name: r.Name, PublicUrl: r.PublicURL, ConfigJson: r.Config}
}

func configureFromProto(p *providerv1.ConfigureRequest) ConfigureRequest {
	return ConfigureRequest{Name: p.GetName(), PublicURL: p.GetPublicUrl(), Config: nilIfEmpty(p.GetConfigJson())}
}

func messagesToProto(msgs []OutboundMessage) []*providerv1.OutboundMessage {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]*providerv1.OutboundMessage, len(msgs))
	for i, m := range msgs {
		out[i] = &providerv1.OutboundMessage{Id: m.ID, From: m.From, To: m.To, Text: m.Text, Tags: m.Tags}
	}
	return out
}

func messagesFromProto(ps []*providerv1.OutboundMessage) []OutboundMessage {
	if len(ps) == 0 {
		return nil
	}
	out := make([]OutboundMessage, len(ps))
	for i, p := range ps {
		out[i] = OutboundMessage{ID: p.GetId(), From: p.GetFrom(), To: p.GetTo(), Text: p.GetText(), Tags: nilIfEmptyMap(p.GetTags())}
	}
	return out
}

func resultsToProto(rs []SendResult) []*providerv1.SendResult {
	if len(rs) == 0 {
		return nil
	}
	out := make([]*providerv1.SendResult, len(rs))
	for i, r := range rs {
		out[i] = &providerv1.SendResult{ProviderMessageId: r.ProviderMessageID, Status: r.Status, Error: errorToProto(r.Err)}
	}
	return out
}

func resultsFromProto(ps []*providerv1.SendResult) []SendResult {
	if len(ps) == 0 {
		return nil
	}
	out := make([]SendResult, len(ps))
	for i, p := range ps {
		out[i] = SendResult{ProviderMessageID: p.GetProviderMessageId(), Status: p.GetStatus(), Err: errorFromProto(p.GetError())}
	}
	return out
}

func webhookRequestToProto(r WebhookRequest) *providerv1.HandleWebhookRequest {
	return &providerv1.HandleWebhookRequest{
		Method:  r.Method,
		Url:     r.URL,
		Path:    r.Path,
		Headers: headersToProto(r.Headers),
		Body:    r.Body,
	}
}

func webhookRequestFromProto(p *providerv1.HandleWebhookRequest) WebhookRequest {
	return WebhookRequest{
		Method:  p.GetMethod(),
		URL:     p.GetUrl(),
		Path:    p.GetPath(),
		Headers: headersFromProto(p.GetHeaders()),
		Body:    nilIfEmpty(p.GetBody()),
	}
}

func webhookResponseToProto(r WebhookResponse) *providerv1.HandleWebhookResponse {
	return &providerv1.HandleWebhookResponse{
		StatusCode: clampInt32(r.StatusCode),
		Headers:    headersToProto(r.Headers),
		Body:       r.Body,
		Inbound:    inboundsToProto(r.Inbound),
		Statuses:   statusesToProto(r.Statuses),
	}
}

func webhookResponseFromProto(p *providerv1.HandleWebhookResponse) WebhookResponse {
	return WebhookResponse{
		StatusCode: int(p.GetStatusCode()),
		Headers:    headersFromProto(p.GetHeaders()),
		Body:       nilIfEmpty(p.GetBody()),
		Inbound:    inboundsFromProto(p.GetInbound()),
		Statuses:   statusesFromProto(p.GetStatuses()),
	}
}

func headersToProto(h map[string][]string) map[string]*providerv1.HeaderValues {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]*providerv1.HeaderValues, len(h))
	for k, vs := range h {
		out[k] = &providerv1.HeaderValues{Values: vs}
	}
	return out
}

func headersFromProto(p map[string]*providerv1.HeaderValues) map[string][]string {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string][]string, len(p))
	for k, vs := range p {
		out[k] = vs.GetValues()
	}
	return out
}

func statusToProto(s StatusUpdate) *providerv1.StatusUpdate {
	return &providerv1.StatusUpdate{
		MessageId:         s.MessageID,
		ProviderMessageId: s.ProviderMessageID,
		Status:            s.Status,
		ErrorCode:         s.ErrorCode,
		ErrorMessage:      s.ErrorMessage,
		OptOut:            s.OptOut,
		At:                timeToProto(s.At),
	}
}

func statusFromProto(p *providerv1.StatusUpdate) StatusUpdate {
	return StatusUpdate{
		MessageID:         p.GetMessageId(),
		ProviderMessageID: p.GetProviderMessageId(),
		Status:            p.GetStatus(),
		ErrorCode:         p.GetErrorCode(),
		ErrorMessage:      p.GetErrorMessage(),
		OptOut:            p.GetOptOut(),
		At:                timeFromProto(p.GetAt()),
	}
}

func statusesToProto(ss []StatusUpdate) []*providerv1.StatusUpdate {
	if len(ss) == 0 {
		return nil
	}
	out := make([]*providerv1.StatusUpdate, len(ss))
	for i, s := range ss {
		out[i] = statusToProto(s)
	}
	return out
}

func statusesFromProto(ps []*providerv1.StatusUpdate) []StatusUpdate {
	if len(ps) == 0 {
		return nil
	}
	out := make([]StatusUpdate, len(ps))
	for i, p := range ps {
		out[i] = statusFromProto(p)
	}
	return out
}

func inboundToProto(m InboundMessage) *providerv1.InboundMessage {
	return &providerv1.InboundMessage{
		ProviderMessageId: m.ProviderMessageID,
		From:              m.From,
		To:                m.To,
		Text:              m.Text,
		At:                timeToProto(m.At),
	}
}

func inboundFromProto(p *providerv1.InboundMessage) InboundMessage {
	return InboundMessage{
		ProviderMessageID: p.GetProviderMessageId(),
		From:              p.GetFrom(),
		To:                p.GetTo(),
		Text:              p.GetText(),
		At:                timeFromProto(p.GetAt()),
	}
}

func inboundsToProto(ms []InboundMessage) []*providerv1.InboundMessage {
	if len(ms) == 0 {
		return nil
	}
	out := make([]*providerv1.InboundMessage, len(ms))
	for i, m := range ms {
		out[i] = inboundToProto(m)
	}
	return out
}

func inboundsFromProto(ps []*providerv1.InboundMessage) []InboundMessage {
	if len(ps) == 0 {
		return nil
	}
	out := make([]InboundMessage, len(ps))
	for i, p := range ps {
		out[i] = inboundFromProto(p)
	}
	return out
}

var errBadEvent = errors.New("event must set exactly one of Status and Inbound")

func eventToProto(e Event) (*providerv1.Event, error) {
	switch {
	case e.Status != nil && e.Inbound == nil:
		return &providerv1.Event{Event: &providerv1.Event_Status{Status: statusToProto(*e.Status)}}, nil
	case e.Inbound != nil && e.Status == nil:
		return &providerv1.Event{Event: &providerv1.Event_Inbound{Inbound: inboundToProto(*e.Inbound)}}, nil
	default:
		return nil, errBadEvent
	}
}

func eventFromProto(p *providerv1.Event) (Event, error) {
	switch ev := p.GetEvent().(type) {
	case *providerv1.Event_Status:
		s := statusFromProto(ev.Status)
		return Event{Status: &s}, nil
	case *providerv1.Event_Inbound:
		m := inboundFromProto(ev.Inbound)
		return Event{Inbound: &m}, nil
	default: // unset, or a kind of event from a newer plugin
		return Event{}, errBadEvent
	}
}

func balanceToProto(b Balance) *providerv1.BalanceResponse {
	return &providerv1.BalanceResponse{Amount: b.Amount, Currency: b.Currency}
}

func balanceFromProto(p *providerv1.BalanceResponse) Balance {
	return Balance{Amount: p.GetAmount(), Currency: p.GetCurrency()}
}

// timeToProto sends the zero time as an unset timestamp ("unknown").
func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeFromProto returns UTC times, and the zero time for an unset timestamp.
func timeFromProto(p *timestamppb.Timestamp) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.AsTime()
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nilIfEmptyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// clampInt32 keeps absurd values from wrapping around on the wire.
func clampInt32(n int) int32 {
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < math.MinInt32:
		return math.MinInt32
	default:
		return int32(n)
	}
}
