// Package webhook is for applications that receive smsgw's event webhooks (API.md §6): the
// event a delivery carries, and the check of its Smsgw-Signature header. It imports the
// standard library only, so an application can use it without pulling in the gateway.
//
// Every delivery is a POST of one JSON Event, signed with the webhook block's secret:
//
//	Smsgw-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// A delivery that failed is retried with the same body and the same event id, so a
// receiver verifies the signature over the raw body, then dedupes by Event.ID.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries a delivery's signature.
const SignatureHeader = "Smsgw-Signature"

// DefaultTolerance is how far a signature's timestamp may be from the receiver's clock when
// Verify is given no tolerance: enough for clock skew and a slow network, short enough that
// a captured delivery cannot be replayed later.
const DefaultTolerance = 5 * time.Minute

// The event types.
const (
	// TypeMessageReceived: an inbound message was stored.
	TypeMessageReceived = "message.received"
	// TypeMessageStatus: an outbound message changed status.
	TypeMessageStatus = "message.status"
)

// Event is the body of a delivery. Data is the message object of the v1 API, as
// GET /v1/messages/{id} returns it, at the moment of the event.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Errors of Verify, compared with errors.Is.
var (
	// ErrNoSignature: the header is empty.
	ErrNoSignature = errors.New("webhook: no signature")
	// ErrMalformed: the header is not t=<unix seconds>,v1=<hex>[,v1=<hex>...].
	ErrMalformed = errors.New("webhook: malformed signature header")
	// ErrTooOld: the signature's timestamp is further from now than the tolerance (a replay,
	// or a clock far off).
	ErrTooOld = errors.New("webhook: signature timestamp outside the tolerance")
	// ErrBadSignature: no v1 value is the HMAC of the body with the secret.
	ErrBadSignature = errors.New("webhook: signature does not match")
)

// Sign returns the Smsgw-Signature header value of body signed with secret at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks the header of a delivery of body against secret: one of its v1 values must
// be the HMAC of "<t>.<body>" (several are accepted, so a sender may sign with an old and a
// new secret while the secret rotates), and t must be within tolerance of now, in either
// direction (tolerance <= 0 means DefaultTolerance). body must be the raw request body,
// byte for byte. The comparison is constant-time. Unknown keys in the header are ignored,
// for future signature schemes.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if strings.TrimSpace(header) == "" {
		return ErrNoSignature
	}
	ts, sigs, err := parse(header)
	if err != nil {
		return err
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	t, _ := strconv.ParseInt(ts, 10, 64) // parse checked it
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now", ErrTooOld, time.Unix(t, 0).UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		// Every candidate is compared, and in constant time, so the timing says nothing
		// about which one matched or how much of it.
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// parse splits a signature header into its timestamp (decimal digits, as sent) and its v1
// values. Exactly one t and at least one v1 are required.
func parse(header string) (ts string, sigs []string, err error) {
	seenT := false
	for part := range strings.SplitSeq(header, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", nil, fmt.Errorf("%w: %q is not key=value", ErrMalformed, part)
		}
		switch k {
		case "t":
			if seenT {
				return "", nil, fmt.Errorf("%w: more than one t", ErrMalformed)
			}
			seenT = true
			if _, perr := strconv.ParseInt(v, 10, 64); perr != nil || v == "" || v[0] == '+' || v[0] == '-' {
				return "", nil, fmt.Errorf("%w: t=%q is not unix seconds", ErrMalformed, v)
			}
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	switch {
	case !seenT:
		return "", nil, fmt.Errorf("%w: no t", ErrMalformed)
	case len(sigs) == 0:
		return "", nil, fmt.Errorf("%w: no v1 signature", ErrMalformed)
	}
	return ts, sigs, nil
}
