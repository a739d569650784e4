package dhos

import (
	"time"

	"github.com/smsgw/smsgw/core/message"
)

// The message tags the dialect keeps its own values in. trustomer_code and product_name are
// the tenant (X-Trustomer, X-Product, lower-cased); receiver is the receiver as the client
// wrote it, since the message's To is its E.164 form (the answer returns the given one).
const (
	tagTrustomer = "trustomer_code"
	tagProduct   = "product_name"
	tagReceiver  = "receiver"
)

// timeLayout is ISO 8601 in UTC with milliseconds, as v1 writes its timestamps.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// smsDict is the message dict of API.md §8.3. The optional keys are absent, not null, when
// unknown, as in the legacy service.
type smsDict struct {
	UUID          string `json:"uuid"`
	Sender        string `json:"sender"`
	Receiver      string `json:"receiver"`
	Content       string `json:"content"`
	TrustomerCode string `json:"trustomer_code"`
	ProductName   string `json:"product_name"`
	Created       string `json:"created"`
	Modified      string `json:"modified"`
	Status        string `json:"status,omitempty"`
	TwilioSID     string `json:"twilio_sid,omitempty"`
	DateSent      string `json:"date_sent,omitempty"`
	ErrorCode     string `json:"error_code,omitempty"`
	ErrorMessage  string `json:"error_message,omitempty"`
	Deleted       string `json:"deleted,omitempty"`
}

// toDict renders m. status is the v1 status name; twilio_sid is the provider's message id
// (whichever provider took it); date_sent is when the message first became sent.
func toDict(m message.Message) smsDict {
	d := smsDict{
		UUID: m.ID, Sender: m.From, Receiver: m.To, Content: m.Text,
		TrustomerCode: m.Tags[tagTrustomer], ProductName: m.Tags[tagProduct],
		Created: formatTime(m.CreatedAt), Modified: formatTime(m.UpdatedAt),
		Status: string(m.Status), TwilioSID: m.ProviderMessageID,
	}
	// A message tagged through v1 has no receiver tag: its To is all there is.
	if r, ok := m.Tags[tagReceiver]; ok {
		d.Receiver = r
	}
	if m.Error != nil {
		d.ErrorCode, d.ErrorMessage = m.Error.Code, m.Error.Message
	}
	if at, ok := dateSent(m); ok {
		d.DateSent = formatTime(at)
	}
	return d
}

// dateSent is the time of the first applied event with status sent. An ignored one (a
// late report after the message had moved on) is not when it was sent.
func dateSent(m message.Message) (time.Time, bool) {
	for _, e := range m.Events {
		if e.Status == message.StatusSent && e.Detail != message.DetailIgnored {
			return e.At, true
		}
	}
	return time.Time{}, false
}

// isTenantMessage reports whether m is a message of this dialect: outbound, with both tenant
// tags. Others (inbound, or sent through v1 without them) are not DHOS messages: not found.
func isTenantMessage(m message.Message) bool {
	_, t := m.Tags[tagTrustomer]
	_, p := m.Tags[tagProduct]
	return m.Direction == message.Outbound && t && p
}

// tenant is the (X-Trustomer, X-Product) pair of a request, lower-cased.
type tenant struct{ trustomer, product string }

func (t tenant) owns(m message.Message) bool {
	return m.Tags[tagTrustomer] == t.trustomer && m.Tags[tagProduct] == t.product
}
