package providersim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// maxTwilioForm bounds a create call's form (Twilio's body limit is 1600 characters).
	maxTwilioForm = 1 << 20
	// maxTwilioBody is Twilio's limit on a message body, in characters.
	maxTwilioBody = 1600
	twilioPrefix  = "/2010-04-01/Accounts/{account}/"
)

var _ http.Handler = (*Twilio)(nil)

// ServeHTTP serves the vendor and admin APIs (see the comment at the top of twilio.go).
func (t *Twilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.handler.ServeHTTP(w, r)
}

func (t *Twilio) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST "+twilioPrefix+"Messages.json", t.vendor(t.postMessage))
	// A wildcard is a whole path segment, so "{sid}.json" is matched as one and cut here.
	m.HandleFunc("GET "+twilioPrefix+"Messages/{file}", t.vendor(t.getMessage))
	m.HandleFunc("GET "+twilioPrefix+"Balance.json", t.vendor(t.getBalance))
	handleCallbackAdmin(m, t)
	m.HandleFunc("POST /admin/rules", adminRules(t.SetRules))
	m.HandleFunc("POST /admin/inbound", t.adminInbound())
	m.HandleFunc("GET /admin/messages", adminGet(t.Messages))
	m.HandleFunc("GET /admin/callbacks", adminGet(t.Callbacks))
	m.HandleFunc("GET /admin/stats", adminGet(t.Stats))
	return m
}

// vendor wraps a vendor API handler with the latency knob and the Basic authentication: the
// credentials must be the account's, and the path's account that account too.
func (t *Twilio) vendor(h http.HandlerFunc) http.HandlerFunc {
	return t.guard(h, t.authorized, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			t.countCreate(TwilioOutcomeUnauthorized)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeTwilioError(w, http.StatusUnauthorized, 20003, twilioErrorMessage(20003))
	})
}

func (t *Twilio) authorized(r *http.Request) bool {
	return basicAuthIs(r, t.opts.AccountSID, t.opts.AuthToken) && r.PathValue("account") == t.opts.AccountSID
}

// countCreate counts a create call that ended before create.
func (t *Twilio) countCreate(outcome string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.creates++
	t.outcomes[outcome]++
}

func (t *Twilio) postMessage(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTwilioForm)
	if err := r.ParseForm(); err != nil {
		t.countCreate(TwilioOutcomeBadRequest)
		writeTwilioError(w, http.StatusBadRequest, 20001, "Unable to parse the request body as a form")
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	callback := r.PostForm.Get("StatusCallback")
	if code, msg := validateCreate(to, from, body, callback); code != 0 {
		t.countCreate(TwilioOutcomeBadRequest)
		writeTwilioError(w, http.StatusBadRequest, code, msg)
		return
	}
	d := t.create(to, from, body, callback)
	switch d.outcome {
	case TwilioOutcomeUnavailable:
		writeTwilioError(w, http.StatusServiceUnavailable, 20503, twilioErrorMessage(20503))
	case TwilioOutcomeRateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(d.retry)))
		writeTwilioError(w, http.StatusTooManyRequests, 20429, twilioErrorMessage(20429))
	case TwilioOutcomeRefused:
		msg := twilioErrorMessage(d.code)
		if d.code == 21211 {
			msg = fmt.Sprintf("The 'To' number %s is not a valid phone number.", to)
		}
		writeTwilioError(w, http.StatusBadRequest, d.code, msg)
	default:
		w.Header().Set("Location", t.messageURI(d.msg.SID))
		writeJSON(w, http.StatusCreated, t.resource(d.msg))
	}
}

// validateCreate checks a create call's parameters in Twilio's order and returns the Twilio
// error code and message of the first problem, or 0.
func validateCreate(to, from, body, callback string) (int, string) {
	for _, p := range [][2]string{{"To", to}, {"From", from}, {"Body", body}, {"StatusCallback", callback}} {
		if !utf8.ValidString(p[1]) {
			// JSON could not give the text back as it came; Twilio takes UTF-8 only.
			return 20001, fmt.Sprintf("Invalid parameter %s: not valid UTF-8", p[0])
		}
	}
	switch {
	case to == "":
		return 21604, twilioErrorMessage(21604)
	case from == "":
		return 21603, twilioErrorMessage(21603)
	case body == "":
		return 21602, twilioErrorMessage(21602)
	case !isE164(to):
		return 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to)
	case utf8.RuneCountInString(body) > maxTwilioBody:
		return 21617, twilioErrorMessage(21617)
	}
	if callback != "" {
		if !isHTTPURL(callback) {
			return 21609, fmt.Sprintf("The StatusCallback URL %s is not a valid URL.", callback)
		}
	}
	return 0, ""
}

func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

func (t *Twilio) getMessage(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	t.fetches++
	t.mu.Unlock()
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	m, found := t.Message(sid)
	if !ok || !found {
		writeTwilioError(w, http.StatusNotFound, 20404,
			fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, t.resource(m))
}

func (t *Twilio) getBalance(w http.ResponseWriter, _ *http.Request) {
	balance, currency := t.balance()
	writeJSON(w, http.StatusOK, map[string]string{
		"account_sid": t.opts.AccountSID, "balance": balance, "currency": currency,
	})
}

func (t *Twilio) messageURI(sid string) string {
	return "/2010-04-01/Accounts/" + t.opts.AccountSID + "/Messages/" + sid + ".json"
}

// twilioResource is Twilio's message resource on the wire. Twilio sends num_segments and
// num_media as strings, the dates in RFC 2822, and null for what is not known yet.
type twilioResource struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                string            `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

func rfc2822(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func (t *Twilio) resource(m TwilioMessage) twilioResource {
	uri := t.messageURI(m.SID)
	res := twilioResource{
		AccountSID:      t.opts.AccountSID,
		APIVersion:      twilioAPIVersion,
		Body:            m.Body,
		DateCreated:     rfc2822(m.DateCreated),
		DateUpdated:     rfc2822(m.DateUpdated),
		Direction:       "outbound-api",
		From:            m.From,
		NumMedia:        "0",
		NumSegments:     strconv.Itoa(m.NumSegments),
		PriceUnit:       t.opts.Currency,
		SID:             m.SID,
		Status:          m.Status,
		SubresourceURIs: map[string]string{"media": strings.TrimSuffix(uri, ".json") + "/Media.json"},
		To:              m.To,
		URI:             uri,
	}
	if !m.DateSent.IsZero() {
		sent := rfc2822(m.DateSent)
		res.DateSent = &sent
		// Twilio prices a message once it has gone out; a failed one is free.
		price := "-" + formatCents(t.opts.PriceCents)
		res.Price = &price
	}
	if m.ErrorCode != 0 {
		code, msg := m.ErrorCode, twilioErrorMessage(m.ErrorCode)
		res.ErrorCode, res.ErrorMessage = &code, &msg
	}
	return res
}

func writeTwilioError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		"status":    status,
	})
}

// adminInbound sends an inbound message and answers with the receiver's answer (see
// adminInbound).
func (t *Twilio) adminInbound() http.HandlerFunc {
	type request struct {
		From string `json:"from"`
		To   string `json:"to"`
		Body string `json:"body"`
	}
	return adminInbound(func(req request) error {
		if req.From == "" || req.To == "" {
			return errors.New("from and to: required")
		}
		return nil
	}, t.InboundURL, func(ctx context.Context, req request) (int, string, error) {
		return t.SendInbound(ctx, req.From, req.To, req.Body)
	})
}
