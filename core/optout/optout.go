// Package optout holds the opt-out rules of the gateway: which inbound texts are keywords
// (API.md §2), the legacy smsapp STOP rule (API.md §8.1), what a keyword makes the gateway do,
// and where an opt-out record came from. It is pure domain: no I/O and no clock; callers pass
// the current time in.
package optout

// Source says how an opt-out record came to exist. It is stored with the record and listed by
// GET /v1/opt-outs, so the values are part of the API.
type Source string

const (
	// SourceKeyword: the recipient sent a v1 keyword such as STOP.
	SourceKeyword Source = "keyword"
	// SourceSMSApp: the legacy smsapp dialect's exact-STOP rule (API.md §8.1).
	SourceSMSApp Source = "smsapp"
	// SourceAPI: created through POST /v1/opt-outs.
	SourceAPI Source = "api"
	// SourceProvider: a provider reported the recipient as unsubscribed (e.g. Twilio 21610).
	SourceProvider Source = "provider"
)

// Valid reports whether s is one of the sources above, so stores and handlers can reject
// anything else before it reaches the API.
func (s Source) Valid() bool {
	switch s {
	case SourceKeyword, SourceSMSApp, SourceAPI, SourceProvider:
		return true
	}
	return false
}
