package dhos

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/httpapi"
	"github.com/smsgw/smsgw/adapters/httpapi/compat/compattest"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// listFixture is what the list tests run on: the tenant's messages t1 (older) and t2
// (newer, to another number), and messages the tenant must not see.
func listFixture(e *env) {
	t1 := dhosMessage("t1", tenantTrustomer, tenantProduct)
	t2 := dhosMessage("t2", tenantTrustomer, tenantProduct)
	t2.To, t2.Tags[tagReceiver], t2.CreatedAt = "+14155550101", "+1 415 555 0101", created.Add(time.Minute)
	otherTrustomer := dhosMessage("o1", "other", tenantProduct)
	otherProduct := dhosMessage("o2", tenantTrustomer, "other")
	otherAccount := dhosMessage("o3", tenantTrustomer, tenantProduct)
	otherAccount.AccountID = "bob"
	inbound := dhosMessage("o4", tenantTrustomer, tenantProduct)
	inbound.Direction, inbound.Status = message.Inbound, message.StatusReceived
	untagged := dhosMessage("o5", "", "")
	untagged.Tags = map[string]string{"module": "users"}
	e.core.put(t1, t2, otherTrustomer, otherProduct, otherAccount, inbound, untagged)
}

func ids(l []map[string]any) []string {
	var out []string
	for _, d := range l {
		out = append(out, fmt.Sprint(d["uuid"]))
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()
	tags := map[string]string{tagTrustomer: tenantTrustomer, tagProduct: tenantProduct}
	cases := []struct {
		name       string
		query      string
		ignoreTags bool
		wantQuery  ports.MessageQuery
		wantIDs    []string
	}{
		{"all, newest first", "", false, ports.MessageQuery{Direction: message.Outbound, Tags: tags, Limit: 100}, []string{"t2", "t1"}},
		{"limit", "?limit=1", false, ports.MessageQuery{Direction: message.Outbound, Tags: tags, Limit: 1}, []string{"t2"}},
		{"limit 500", "?limit=500", false, ports.MessageQuery{Direction: message.Outbound, Tags: tags, Limit: 500}, []string{"t2", "t1"}},
		{"receiver normalised", "?receiver=07911%20123456", false, ports.MessageQuery{Direction: message.Outbound, Tags: tags, To: "+447911123456", Limit: 100}, []string{"t1"}},
		{"receiver in another form", "?receiver=%2B447911123456&limit=7", false, ports.MessageQuery{Direction: message.Outbound, Tags: tags, To: "+447911123456", Limit: 7}, []string{"t1"}},
		{"receiver with no messages", "?receiver=07400123456", false, ports.MessageQuery{Direction: message.Outbound, Tags: tags, To: "+447400123456", Limit: 100}, nil},
		{"empty receiver is any", "?receiver=&limit=", false, ports.MessageQuery{Direction: message.Outbound, Tags: tags, Limit: 100}, []string{"t2", "t1"}},
		{"unknown parameters ignored", "?page=2", false, ports.MessageQuery{Direction: message.Outbound, Tags: tags, Limit: 100}, []string{"t2", "t1"}},
		// A store that ignored the tags must still not show another tenant's messages.
		{"store ignoring tags", "", true, ports.MessageQuery{Direction: message.Outbound, Tags: tags, Limit: 100}, []string{"t2", "t1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			listFixture(e)
			e.core.ignoreTags = c.ignoreTags
			l := e.do(req{path: smsPath + c.query}).list()
			if got := ids(l); !reflect.DeepEqual(got, c.wantIDs) {
				t.Errorf("ids %v, want %v", got, c.wantIDs)
			}
			lists := e.core.recorded().lists
			if len(lists) != 1 || lists[0].account != compattest.User || !reflect.DeepEqual(lists[0].q, c.wantQuery) {
				t.Errorf("list calls %+v, want one of %+v", lists, c.wantQuery)
			}
		})
	}
	t.Run("dicts", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		listFixture(e)
		l := e.do(req{path: smsPath}).list()
		checkDict(t, l[0], wantDict{
			"uuid": "t2", "sender": "ACME", "receiver": "+1 415 555 0101", "content": "hello",
			"trustomer_code": tenantTrustomer, "product_name": tenantProduct,
			"created": "2026-11-20T09:31:00.123Z", "modified": "2026-11-20T09:30:00.123Z", "status": "queued",
		})
	})
	t.Run("none is an empty array", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		if body := strings.TrimSpace(e.do(req{path: smsPath}).code(http.StatusOK).rec.Body.String()); body != "[]" {
			t.Errorf("body %s", body)
		}
	})
}

func TestListRefusals(t *testing.T) {
	t.Parallel()
	const textLimit = "limit must be an integer from 1 to 500"
	cases := []struct{ query, want string }{
		{"?limit=0", textLimit},
		{"?limit=501", textLimit},
		{"?limit=-1", textLimit},
		{"?limit=1.5", textLimit},
		{"?limit=ten", textLimit},
		{"?limit=%201", textLimit},
		{"?receiver=abc", "receiver must be a phone number (digits, optionally a leading +, spaces, dashes, dots and parentheses)"},
		{"?receiver=123", "receiver is not a valid phone number (numbers without a country code are read as GB numbers)"},
		{"?receiver=07911123456&limit=0", textLimit},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.do(req{path: smsPath + c.query}).is(http.StatusBadRequest, c.want)
			e.noCoreCalls()
		})
	}
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.core.listErr = fmt.Errorf("list: disk on fire at /var/lib/smsgw: %w", ports.ErrUnavailable)
		e.do(req{path: smsPath}).is(http.StatusInternalServerError, textFailure).notLeaking("disk")
		e.logged("disk on fire")
	})
}

func TestGet(t *testing.T) {
	t.Parallel()
	sentAt := created.Add(2 * time.Second)
	full := dhosMessage("full", "other", "tenant") // any tenant's, no headers needed
	full.Status, full.ProviderMessageID = message.StatusFailed, "SM0123456789abcdef0123456789abcdef"
	full.Error = &message.Error{Code: "30003", Message: "Unreachable destination handset"}
	full.UpdatedAt = created.Add(5 * time.Second)
	full.Events = []message.Event{
		{Status: message.StatusQueued, At: created},
		{Status: message.StatusSent, At: sentAt, Detail: message.DetailIgnored}, // not applied: not when it was sent
		{Status: message.StatusSending, At: created.Add(time.Second)},
		{Status: message.StatusSent, At: sentAt.Add(time.Second)},
		{Status: message.StatusSent, At: sentAt.Add(2 * time.Second)},
		{Status: message.StatusFailed, At: created.Add(5 * time.Second)},
	}
	v1Tagged := dhosMessage("v1", tenantTrustomer, tenantProduct)
	delete(v1Tagged.Tags, tagReceiver) // tagged through v1: the receiver is its To
	inbound := dhosMessage("in", tenantTrustomer, tenantProduct)
	inbound.Direction = message.Inbound
	untagged := dhosMessage("untagged", "", "")
	delete(untagged.Tags, tagProduct)
	bobs := dhosMessage("bobs", tenantTrustomer, tenantProduct)
	bobs.AccountID = "bob"

	cases := []struct {
		id       string
		want     wantDict // nil: 404
		asksCore bool
	}{
		{"full", wantDict{
			"uuid": "full", "sender": "ACME", "receiver": "07911 123456", "content": "hello",
			"trustomer_code": "other", "product_name": "tenant",
			"created": "2026-11-20T09:30:00.123Z", "modified": "2026-11-20T09:30:05.123Z", "status": "failed",
			"twilio_sid": "SM0123456789abcdef0123456789abcdef", "date_sent": "2026-11-20T09:30:03.123Z",
			"error_code": "30003", "error_message": "Unreachable destination handset",
		}, true},
		{"v1", wantDict{
			"uuid": "v1", "sender": "ACME", "receiver": "+447911123456", "content": "hello",
			"trustomer_code": tenantTrustomer, "product_name": tenantProduct,
			"created": "2026-11-20T09:30:00.123Z", "modified": "2026-11-20T09:30:00.123Z", "status": "queued",
		}, true},
		{"in", nil, true},       // inbound: not a DHOS message
		{"untagged", nil, true}, // without both tenant tags: not a DHOS message
		{"bobs", nil, true},     // another account's
		{"unknown", nil, true},
		{strings.Repeat("a", httpapi.MaxLookupID), nil, true},
		// Malformed: the store is not asked.
		{strings.Repeat("a", httpapi.MaxLookupID+1), nil, false},
		{"a b", nil, false},
		{"é", nil, false},
		{"\x00", nil, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%.20q", c.id), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.core.put(full, v1Tagged, inbound, untagged, bobs)
			r := e.do(req{path: smsPath + "/" + pathEscape(c.id), tenant: http.Header{}})
			if c.want == nil {
				r.is(http.StatusNotFound, textNotFound)
			} else {
				checkDict(t, r.dict(), c.want)
			}
			gets := e.core.recorded().gets
			switch {
			case c.asksCore && (len(gets) != 1 || gets[0] != idCall{compattest.User, c.id}):
				t.Errorf("gets %+v, want one of %q", gets, c.id)
			case !c.asksCore && len(gets) != 0:
				t.Errorf("a malformed id reached the core: %+v", gets)
			}
		})
	}
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.core.getErr = errors.New("select: secret detail")
		e.do(req{path: smsPath + "/m1"}).is(http.StatusInternalServerError, textFailure).notLeaking("secret")
		e.logged("secret detail")
	})
}

// pathEscape escapes every byte that is not unreserved, so the server decodes exactly id.
func pathEscape(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func TestDelete(t *testing.T) {
	t.Parallel()
	t.Run("own message", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		m := dhosMessage("m1", tenantTrustomer, tenantProduct)
		m.ProviderMessageID = "SM1"
		e.core.put(m)
		// The tenant as sent: compared lower-cased.
		tenant := http.Header{headerTrustomer: {"ACME-TRUST"}, headerProduct: {"pUlSe"}}
		d := e.do(req{method: http.MethodDelete, path: smsPath + "/m1", tenant: tenant}).dict()
		checkDict(t, d, wantDict{
			"uuid": "m1", "sender": "ACME", "receiver": "07911 123456", "content": "hello",
			"trustomer_code": tenantTrustomer, "product_name": tenantProduct,
			"created": "2026-11-20T09:30:00.123Z", "modified": "2026-11-20T09:30:00.123Z", "status": "queued",
			"twilio_sid": "SM1", "deleted": "2026-11-20T10:00:00.000Z",
		})
		if dels := e.core.recorded().deletes; len(dels) != 1 || dels[0] != (idCall{compattest.User, "m1"}) {
			t.Errorf("deletes %+v", dels)
		}
		// Afterwards: 404 to read, delete and list.
		e.do(req{path: smsPath + "/m1"}).is(http.StatusNotFound, textNotFound)
		e.do(req{method: http.MethodDelete, path: smsPath + "/m1"}).is(http.StatusNotFound, textNotFound)
		if l := e.do(req{path: smsPath}).list(); len(l) != 0 {
			t.Errorf("listed after delete: %v", ids(l))
		}
	})
	t.Run("another tenant's", func(t *testing.T) {
		t.Parallel()
		for _, owner := range [][2]string{{"other", tenantProduct}, {tenantTrustomer, "other"}} {
			e := newEnv(t, nil)
			e.core.put(dhosMessage("m1", owner[0], owner[1]))
			e.do(req{method: http.MethodDelete, path: smsPath + "/m1"}).is(http.StatusForbidden, textForbidden)
			if dels := e.core.recorded().deletes; len(dels) != 0 {
				t.Errorf("deleted: %+v", dels)
			}
			e.do(req{path: smsPath + "/m1"}).code(http.StatusOK) // still there
		}
	})
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		inbound := dhosMessage("in", tenantTrustomer, tenantProduct)
		inbound.Direction = message.Inbound
		untagged := dhosMessage("untagged", "", "")
		untagged.Tags = nil
		bobs := dhosMessage("bobs", tenantTrustomer, tenantProduct)
		bobs.AccountID = "bob"
		for _, id := range []string{"unknown", "in", "untagged", "bobs", "a b", strings.Repeat("x", httpapi.MaxLookupID+1)} {
			e := newEnv(t, nil)
			e.core.put(inbound, untagged, bobs)
			e.do(req{method: http.MethodDelete, path: smsPath + "/" + pathEscape(id)}).is(http.StatusNotFound, textNotFound)
			if dels := e.core.recorded().deletes; len(dels) != 0 {
				t.Errorf("%q: deleted: %+v", id, dels)
			}
		}
	})
	t.Run("deleted meanwhile", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.core.put(dhosMessage("m1", tenantTrustomer, tenantProduct))
		e.core.deleteErr = fmt.Errorf("hide message m1: %w", ports.ErrNotFound)
		e.do(req{method: http.MethodDelete, path: smsPath + "/m1"}).is(http.StatusNotFound, textNotFound)
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.core.put(dhosMessage("m1", tenantTrustomer, tenantProduct))
		e.core.deleteErr = fmt.Errorf("hide message m1: secret: %w", ports.ErrUnavailable)
		e.do(req{method: http.MethodDelete, path: smsPath + "/m1"}).is(http.StatusInternalServerError, textFailure).notLeaking("secret")
		e.logged("hide message m1: secret")
	})
}
