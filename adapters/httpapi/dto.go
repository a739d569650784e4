package httpapi

import (
	"math"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// timeLayout is RFC 3339 in UTC with milliseconds (API.md §0).
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// messageJSON is the message object of API.md §1.
type messageJSON struct {
	ID                string            `json:"id"`
	Direction         string            `json:"direction"`
	From              string            `json:"from"`
	To                string            `json:"to"`
	Text              string            `json:"text"`
	Status            string            `json:"status"`
	Provider          *string           `json:"provider"`
	ProviderMessageID *string           `json:"provider_message_id"`
	Segments          int               `json:"segments"`
	Encoding          string            `json:"encoding"`
	Tags              map[string]string `json:"tags"`
	Error             *message.Error    `json:"error"`
	SendAt            *string           `json:"send_at"`
	CreatedAt         string            `json:"created_at"`
	UpdatedAt         string            `json:"updated_at"`
	Events            []eventJSON       `json:"events"`
}

type eventJSON struct {
	Status string  `json:"status"`
	At     string  `json:"at"`
	Detail *string `json:"detail"`
}

// nextCursor is a list's next_cursor: the encoded position, or null on the last page.
func nextCursor(c *ports.Cursor) *string {
	if c == nil {
		return nil
	}
	next := c.Encode()
	return &next
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MessageJSON is the message object of API.md §1, exactly as GET /v1/messages/{id} answers
// it, for the data of the event webhooks (API.md §6).
func MessageJSON(m message.Message) any { return toMessageJSON(m) }

func toMessageJSON(m message.Message) messageJSON {
	out := messageJSON{
		ID: m.ID, Direction: string(m.Direction), From: m.From, To: m.To, Text: m.Text,
		Status: string(m.Status), Provider: nullable(m.Provider),
		ProviderMessageID: nullable(m.ProviderMessageID), Segments: m.Segments,
		Encoding: string(m.Encoding), Tags: m.Tags, Error: m.Error,
		CreatedAt: formatTime(m.CreatedAt), UpdatedAt: formatTime(m.UpdatedAt),
		Events: make([]eventJSON, len(m.Events)),
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if m.SendAt != nil {
		s := formatTime(*m.SendAt)
		out.SendAt = &s
	}
	for i, e := range m.Events {
		out.Events[i] = eventJSON{Status: string(e.Status), At: formatTime(e.At), Detail: nullable(e.Detail)}
	}
	return out
}

type messageListJSON struct {
	Items      []messageJSON `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

type providerJSON struct {
	Name         string                     `json:"name"`
	Plugin       string                     `json:"plugin"`
	Version      string                     `json:"version"`
	Healthy      bool                       `json:"healthy"`
	Restarts     int                        `json:"restarts"`
	Breaker      string                     `json:"breaker"`
	Capabilities ports.ProviderCapabilities `json:"capabilities"`
	Stats        providerStatsJSON          `json:"stats"`
}

type providerStatsJSON struct {
	BatchesSent       int64   `json:"batches_sent"`
	BatchesFailed     int64   `json:"batches_failed"`
	MessagesSent      int64   `json:"messages_sent"`
	MessagesFailed    int64   `json:"messages_failed"`
	SuccessPercentage float64 `json:"success_percentage"`
}

// toProviderJSON renders a provider; success_percentage is sent / (sent + failed) messages,
// rounded to two decimals, and 100 before any traffic (nothing has failed).
func toProviderJSON(p ports.ProviderInfo) providerJSON {
	st := p.Stats
	pct := 100.0
	if total := st.MessagesSent + st.MessagesFailed; total > 0 {
		pct = math.Round(float64(st.MessagesSent)/float64(total)*10000) / 100
	}
	return providerJSON{
		Name: p.Name, Plugin: p.Plugin, Version: p.Version, Healthy: p.Healthy,
		Restarts: p.Restarts, Breaker: breakerOf(p), Capabilities: p.Capabilities,
		Stats: providerStatsJSON{
			BatchesSent: st.BatchesSent, BatchesFailed: st.BatchesFailed,
			MessagesSent: st.MessagesSent, MessagesFailed: st.MessagesFailed,
			SuccessPercentage: pct,
		},
	}
}

// breakerOf is the provider's breaker state; a provider no breaker judged yet is closed.
func breakerOf(p ports.ProviderInfo) string {
	if p.Breaker == "" {
		return "closed"
	}
	return p.Breaker
}
