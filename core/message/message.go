// Package message is the SMS message entity: its statuses and their transition rules, input
// validation, and the exact GSM-7/UCS-2 segment count.
package message

import "time"

// Direction of a message relative to the gateway.
type Direction string

const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Encoding is the SMS character encoding a text needs.
type Encoding string

const (
	GSM7 Encoding = "GSM-7"
	UCS2 Encoding = "UCS-2"
)

// Error says why a send failed.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Event is one entry of a message's status history.
type Event struct {
	Status Status
	At     time.Time
	// Detail is empty, "ignored" for an update that was recorded but not applied, or a short
	// note (provider attempt outcome, error code).
	Detail string
}

// DetailIgnored marks an event whose update was recorded but not applied.
const DetailIgnored = "ignored"

// Message is an SMS, outbound or inbound, owned by one account.
type Message struct {
	ID        string
	AccountID string
	Direction Direction
	From      string
	To        string
	Text      string
	Status    Status
	// Provider is the provider that finally took the message (after any failover).
	Provider string
	// Route is the ordered provider list the message may use: primary first, then failover.
	Route             []string
	ProviderMessageID string
	Segments          int
	Encoding          Encoding
	Tags              map[string]string
	Error             *Error
	SendAt            *time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Events            []Event
}
