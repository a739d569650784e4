// Package porttest holds the contract suites every storage adapter runs against a real
// database, so that SQLite and Postgres are held to the same documented behaviour.
package porttest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

// Accounts every message of the suite belongs to. They are created before any message is
// inserted, so a store with a foreign key from messages to accounts passes too.
const (
	accountA = "acct-a"
	accountB = "acct-b"
)

// base is the suite's reference instant, exact to the millisecond so that bounds and ties
// hold in a store of millisecond precision too. Times with a sub-millisecond part add less
// than half a millisecond, so stores that round and stores that truncate agree.
var base = time.Date(2026, time.March, 1, 12, 0, 0, 123_000_000, time.UTC)

// RunStore runs the ports.Store contract suite. newStore must return a fresh, empty,
// migrated store for each call; every subtest calls it once with its own t.
//
// Beyond the interface documentation the suite pins down: timestamps come back in UTC with
// at least millisecond precision; ListMessages never hands out a Next cursor that leads to
// an empty page; a cursor survives ports.Cursor.Encode/DecodeCursor; PutAccount on an
// existing account keeps its CreatedAt. For opt-outs: numbers compare bytewise in the list
// order (as Go compares strings), and ListOptOuts' Next is never a cursor to an empty page.
// For proxy sessions: InsertProxySession validates the times as stored (an expiry within
// the creation's microsecond is invalid).
func RunStore(t *testing.T, newStore func(t *testing.T) ports.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s ports.Store)
	}{
		{"Ping", testPing},
		{"Accounts", testAccounts},
		{"InsertGetRoundTrip", testInsertGetRoundTrip},
		{"GetMessageScope", testGetMessageScope},
		{"InsertMessages", testInsertMessages},
		{"ManyForUpdate", testManyForUpdate},
		{"InsertDuplicateID", testInsertDuplicateID},
		{"InboundDedupe", testInboundDedupe},
		{"UpdateMessage", testUpdateMessage},
		{"UnknownID", testUnknownID},
		{"Hidden", testHidden},
		{"FindByProviderID", testFindByProviderID},
		{"MessageIDsByProviderID", testMessageIDsByProviderID},
		{"ListMessagesFilters", testListMessagesFilters},
		{"ListMessagesPaging", testListMessagesPaging},
		{"ListAwaitingStatus", testListAwaitingStatus},
		{"CountStatuses", testCountStatuses},
		{"InTxRollback", testInTxRollback},
		{"InTxCommit", testInTxCommit},
		{"LockForUpdate", testLockForUpdate},
		{"OptOutBlockDirection", testOptOutBlockDirection},
		{"OptOutInvalid", testOptOutInvalid},
		{"OptOutExpiry", testOptOutExpiry},
		{"OptOutRenew", testOptOutRenew},
		{"OptOutLift", testOptOutLift},
		{"ListOptOutsFilters", testListOptOutsFilters},
		{"ListOptOutsPaging", testListOptOutsPaging},
		{"OptOutRollback", testOptOutRollback},
		{"PruneOptOuts", testPruneOptOuts},
		{"OptOutConcurrentBlock", testOptOutConcurrentBlock},
		{"BlockedPairs", testBlockedPairs},
		{"RateLimitWindow", testRateLimitWindow},
		{"RateLimitBatch", testRateLimitBatch},
		{"RateLimitInvalid", testRateLimitInvalid},
		{"RateLimitRollback", testRateLimitRollback},
		{"RateLimitConcurrent", testRateLimitConcurrent},
		{"RateLimitOverlappingKeys", testRateLimitOverlappingKeys},
		{"PruneRateLogs", testPruneRateLogs},
		{"IdempotencyClaims", testIdempotencyClaims},
		{"IdempotencyRollback", testIdempotencyRollback},
		{"IdempotencyConcurrentClaim", testIdempotencyConcurrentClaim},
		{"PruneIdempotencyKeys", testPruneIdempotencyKeys},
		{"ProxyAddNumbers", testProxyAddNumbers},
		{"ProxyGetNumber", testProxyGetNumber},
		{"ProxyRemoveNumber", testProxyRemoveNumber},
		{"ProxyPoolUsage", testProxyPoolUsage},
		{"ProxyConcurrentExclusive", testProxyConcurrentExclusive},
		{"ProxyConcurrentShared", testProxyConcurrentShared},
		{"ProxyInsertSession", testProxyInsertSession},
		{"ProxyCloseSession", testProxyCloseSession},
		{"ProxyFindOpenSession", testProxyFindOpenSession},
		{"ProxyListSessions", testProxyListSessions},
		{"ProxyCloseExpired", testProxyCloseExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

var errBoom = errors.New("boom")

// --- helpers -------------------------------------------------------------------------------

func at(d time.Duration) time.Time { return base.Add(d) }

// outbound builds a minimal valid outbound message created at created.
func outbound(id, account string, created time.Time) message.Message {
	return message.Message{
		ID: id, AccountID: account, Direction: message.Outbound,
		From: "+15550000001", To: "+15550000002", Text: "hello " + id,
		Status: message.StatusQueued, Provider: "p1", Route: []string{"p1"},
		Segments: 1, Encoding: message.GSM7, Tags: map[string]string{},
		CreatedAt: created, UpdatedAt: created,
		Events: []message.Event{{Status: message.StatusQueued, At: created}},
	}
}

// inbound builds a minimal valid inbound message created at created.
func inbound(id, account, provider, pid string, created time.Time) message.Message {
	return message.Message{
		ID: id, AccountID: account, Direction: message.Inbound,
		From: "+15550000002", To: "+15550000001", Text: "reply " + id,
		Status: message.StatusReceived, Provider: provider, ProviderMessageID: pid,
		Segments: 1, Encoding: message.GSM7,
		CreatedAt: created, UpdatedAt: created,
		Events: []message.Event{{Status: message.StatusReceived, At: created}},
	}
}

func seedAccounts(t *testing.T, s ports.Store) {
	t.Helper()
	for _, id := range []string{accountA, accountB} {
		if err := s.PutAccount(t.Context(), ports.Account{ID: id, PasswordHash: "x", CreatedAt: base}); err != nil {
			t.Fatalf("PutAccount(%s): %v", id, err)
		}
	}
}

func inTx(t *testing.T, s ports.Store, fn func(ctx context.Context, tx ports.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func insert(t *testing.T, s ports.Store, msgs ...message.Message) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		for _, m := range msgs {
			if err := tx.InsertMessage(ctx, m); err != nil {
				return fmt.Errorf("insert %s: %w", m.ID, err)
			}
		}
		return nil
	})
}

func get(t *testing.T, s ports.Store, id string) message.Message {
	t.Helper()
	m, err := s.GetMessage(t.Context(), "", id)
	if err != nil {
		t.Fatalf("GetMessage(%s): %v", id, err)
	}
	return m
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

// view is a message reduced to what the suite compares: times in UTC at millisecond
// precision, nil and empty collections alike.
type view struct {
	ID, AccountID, Direction, From, To, Text, Status, Provider string
	Route                                                      []string
	ProviderMessageID                                          string
	Segments                                                   int
	Encoding                                                   string
	Tags                                                       map[string]string
	Error                                                      string
	SendAt, CreatedAt, UpdatedAt                               string
	Events                                                     []string
}

func ms(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano) }

func viewOf(m message.Message) view {
	v := view{
		ID: m.ID, AccountID: m.AccountID, Direction: string(m.Direction), From: m.From, To: m.To,
		Text: m.Text, Status: string(m.Status), Provider: m.Provider,
		ProviderMessageID: m.ProviderMessageID, Segments: m.Segments, Encoding: string(m.Encoding),
		Error: "<nil>", SendAt: "<nil>", CreatedAt: ms(m.CreatedAt), UpdatedAt: ms(m.UpdatedAt),
	}
	if len(m.Route) > 0 {
		v.Route = slices.Clone(m.Route)
	}
	if len(m.Tags) > 0 {
		v.Tags = maps.Clone(m.Tags)
	}
	if m.Error != nil {
		v.Error = m.Error.Code + "|" + m.Error.Message
	}
	if m.SendAt != nil {
		v.SendAt = ms(*m.SendAt)
	}
	for _, e := range m.Events {
		v.Events = append(v.Events, string(e.Status)+"@"+ms(e.At)+"/"+e.Detail)
	}
	return v
}

func sameView(a, b view) bool {
	return a.ID == b.ID && a.AccountID == b.AccountID && a.Direction == b.Direction &&
		a.From == b.From && a.To == b.To && a.Text == b.Text && a.Status == b.Status &&
		a.Provider == b.Provider && slices.Equal(a.Route, b.Route) &&
		a.ProviderMessageID == b.ProviderMessageID && a.Segments == b.Segments &&
		a.Encoding == b.Encoding && maps.Equal(a.Tags, b.Tags) && a.Error == b.Error &&
		a.SendAt == b.SendAt && a.CreatedAt == b.CreatedAt && a.UpdatedAt == b.UpdatedAt &&
		slices.Equal(a.Events, b.Events)
}

// checkMessage compares got with want field by field and checks every timestamp is UTC.
func checkMessage(t *testing.T, what string, got, want message.Message) {
	t.Helper()
	if g, w := viewOf(got), viewOf(want); !sameView(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
	times := []time.Time{got.CreatedAt, got.UpdatedAt}
	if got.SendAt != nil {
		times = append(times, *got.SendAt)
	}
	for _, e := range got.Events {
		times = append(times, e.At)
	}
	for _, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: timestamp %v is in %v, want UTC", what, tm, tm.Location())
		}
	}
}

func ids(msgs []message.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// --- tests ---------------------------------------------------------------------------------

func testPing(t *testing.T, s ports.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testAccounts(t *testing.T, s ports.Store) {
	ctx := t.Context()
	if _, err := s.GetAccount(ctx, "nobody"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetAccount(unknown): %v, want ErrNotFound", err)
	}
	got, err := s.ListAccounts(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("ListAccounts(empty store) = %v, %v; want none", got, err)
	}
	for i, id := range []string{"carol", "alice", "bob"} {
		a := ports.Account{ID: id, PasswordHash: "$2a$10$hash-" + id, CreatedAt: at(time.Duration(i) * time.Hour)}
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatalf("PutAccount(%s): %v", id, err)
		}
	}
	// Replacing keeps the account (and its creation time), with the new hash.
	if err := s.PutAccount(ctx, ports.Account{ID: "carol", PasswordHash: "$2a$10$new", CreatedAt: at(48 * time.Hour)}); err != nil {
		t.Fatalf("PutAccount(replace): %v", err)
	}
	a, err := s.GetAccount(ctx, "carol")
	if err != nil {
		t.Fatalf("GetAccount(carol): %v", err)
	}
	if a.ID != "carol" || a.PasswordHash != "$2a$10$new" || ms(a.CreatedAt) != ms(base) {
		t.Errorf("GetAccount(carol) = %+v, want new hash and CreatedAt %s", a, ms(base))
	}
	if a.CreatedAt.Location() != time.UTC {
		t.Errorf("account CreatedAt %v not UTC", a.CreatedAt)
	}
	list, err := s.ListAccounts(ctx)
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.ID)
	}
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(names, want) {
		t.Errorf("ListAccounts = %v, want %v", names, want)
	}
	if list[0].PasswordHash != "$2a$10$hash-alice" {
		t.Errorf("ListAccounts[0].PasswordHash = %q", list[0].PasswordHash)
	}
}

// roundTripFixtures are messages that exercise every field and edge of the row mapping.
func roundTripFixtures() []struct {
	name string
	m    message.Message
} {
	sendAt := at(2*time.Hour + 250*time.Microsecond)
	full := message.Message{
		ID: "full", AccountID: accountA, Direction: message.Outbound,
		From: "ACME", To: "+447700900123", Text: "Grüße — 你好 ✓",
		Status: message.StatusSent, Provider: "backup", Route: []string{"primary", "backup", "third"},
		ProviderMessageID: "SM123", Segments: 3, Encoding: message.UCS2,
		Tags:      map[string]string{"campaign": "spring", "user": "42", "empty": ""},
		Error:     &message.Error{Code: "provider_unavailable", Message: "primary down"},
		SendAt:    &sendAt,
		CreatedAt: at(0), UpdatedAt: at(3 * time.Second),
		Events: []message.Event{
			{Status: message.StatusScheduled, At: at(0)},
			{Status: message.StatusQueued, At: at(time.Second), Detail: "due"},
			{Status: message.StatusSending, At: at(time.Second), Detail: "attempt 1 via primary failed: unavailable"},
			{Status: message.StatusSent, At: at(3 * time.Second)},
		},
	}
	minimal := inbound("min", accountB, "p1", "", at(time.Minute))
	minimal.Text = ""
	minimal.Segments = 0
	minimal.Tags = nil
	minimal.Events = nil
	local := outbound("local", accountA, at(time.Hour).In(time.FixedZone("X", 5*3600)))
	local.UpdatedAt = local.CreatedAt

	return []struct {
		name string
		m    message.Message
	}{
		{"every field", full},
		{"inbound minimal", minimal},
		{"non-UTC input", local},
	}
}

func testInsertGetRoundTrip(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	for _, tc := range roundTripFixtures() {
		t.Run(tc.name, func(t *testing.T) {
			insert(t, s, tc.m)
			got, err := s.GetMessage(t.Context(), tc.m.AccountID, tc.m.ID)
			if err != nil {
				t.Fatalf("GetMessage: %v", err)
			}
			checkMessage(t, "GetMessage", got, tc.m)
			checkMessage(t, "GetMessage(any account)", get(t, s, tc.m.ID), tc.m)
			inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
				got, err := tx.GetMessageForUpdate(ctx, tc.m.ID)
				if err != nil {
					return fmt.Errorf("GetMessageForUpdate: %w", err)
				}
				checkMessage(t, "GetMessageForUpdate", got, tc.m)
				return nil
			})
		})
	}
}

func testGetMessageScope(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	insert(t, s, outbound("m1", accountA, base))
	ctx := t.Context()
	if _, err := s.GetMessage(ctx, accountA, "m1"); err != nil {
		t.Errorf("GetMessage(owner): %v", err)
	}
	if _, err := s.GetMessage(ctx, "", "m1"); err != nil {
		t.Errorf("GetMessage(any account): %v", err)
	}
	_, err := s.GetMessage(ctx, accountB, "m1")
	wantErr(t, "GetMessage(other account)", err, ports.ErrNotFound)
	_, err = s.GetMessage(ctx, accountA, "nope")
	wantErr(t, "GetMessage(unknown id)", err, ports.ErrNotFound)
}

// testInsertMessages: a group insert stores every message exactly as single inserts do, and
// a conflict anywhere in the group is reported (the caller then rolls back).
func testInsertMessages(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	var group []message.Message
	for _, tc := range roundTripFixtures() {
		group = append(group, tc.m)
	}
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error { return tx.InsertMessages(ctx, group) })
	for _, m := range group {
		checkMessage(t, "after InsertMessages", get(t, s, m.ID), m)
	}
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		got, err := tx.GetMessageForUpdate(ctx, group[0].ID)
		if err != nil {
			return err
		}
		checkMessage(t, "GetMessageForUpdate after InsertMessages", got, group[0])
		// Events appended later continue the sequence the group insert started.
		next := message.Event{Status: message.StatusDelivered, At: at(time.Hour), Detail: "later"}
		got.Status = message.StatusDelivered
		return tx.UpdateMessage(ctx, got, next)
	})
	if evs := get(t, s, group[0].ID).Events; len(evs) != len(group[0].Events)+1 || evs[len(evs)-1].Detail != "later" {
		t.Errorf("events after update: %+v", evs)
	}

	fresh := outbound("fresh", accountA, at(time.Minute))
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		return tx.InsertMessages(ctx, []message.Message{fresh, group[1]})
	})
	wantErr(t, "InsertMessages(group with a stored id)", err, ports.ErrConflict)
	if _, err := s.GetMessage(t.Context(), "", "fresh"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("rolled-back group left %q behind: %v", "fresh", err)
	}
}

// testManyForUpdate: locking and updating several messages at once behaves as the single
// calls do, in id order, leaving unknown ids out.
func testManyForUpdate(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	a := outbound("many-a", accountA, at(time.Second))
	b := outbound("many-b", accountB, at(2*time.Second))
	c := outbound("many-c", accountA, at(3*time.Second))
	insert(t, s, c, a, b)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		got, err := tx.GetMessagesForUpdate(ctx, []string{"many-c", "many-a", "nope", "many-b", "many-a"})
		if err != nil {
			return err
		}
		if fmt.Sprint(ids(got)) != "[many-a many-b many-c]" {
			t.Fatalf("GetMessagesForUpdate = %v, want a, b, c in id order", ids(got))
		}
		checkMessage(t, "GetMessagesForUpdate", got[1], b)
		ua, ub := got[0], got[1]
		ua.Status, ua.ProviderMessageID, ua.UpdatedAt = message.StatusSending, "", at(time.Minute)
		ub.Status, ub.Provider, ub.ProviderMessageID, ub.UpdatedAt = message.StatusSent, "other", "P-B", at(time.Minute)
		ub.Error = &message.Error{Code: "x", Message: "y"}
		return tx.UpdateMessages(ctx, []ports.MessageUpdate{
			{Message: ua, NewEvents: []message.Event{{Status: message.StatusSending, At: at(time.Minute)}}},
			{Message: ub, NewEvents: []message.Event{
				{Status: message.StatusSending, At: at(time.Minute)},
				{Status: message.StatusSent, At: at(time.Minute), Detail: "via other"},
			}},
		})
	})
	wantA, wantB := a, b
	wantA.Status, wantA.UpdatedAt = message.StatusSending, at(time.Minute)
	wantA.Events = append(slices.Clone(a.Events), message.Event{Status: message.StatusSending, At: at(time.Minute)})
	wantB.Status, wantB.Provider, wantB.ProviderMessageID, wantB.UpdatedAt = message.StatusSent, "other", "P-B", at(time.Minute)
	wantB.Error = &message.Error{Code: "x", Message: "y"}
	wantB.Events = append(slices.Clone(b.Events),
		message.Event{Status: message.StatusSending, At: at(time.Minute)},
		message.Event{Status: message.StatusSent, At: at(time.Minute), Detail: "via other"})
	checkMessage(t, "after UpdateMessages (a)", get(t, s, "many-a"), wantA)
	checkMessage(t, "after UpdateMessages (b)", get(t, s, "many-b"), wantB)
	checkMessage(t, "untouched (c)", get(t, s, "many-c"), c)

	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		ghost := outbound("ghost", accountA, at(time.Hour))
		return tx.UpdateMessages(ctx, []ports.MessageUpdate{{Message: wantA}, {Message: ghost}})
	})
	wantErr(t, "UpdateMessages(with an unknown id)", err, ports.ErrNotFound)
}

func testInsertDuplicateID(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	first := outbound("dup", accountA, base)
	second := outbound("dup", accountB, at(time.Second))
	second.Text = "second"
	after := outbound("after", accountA, at(2*time.Second))

	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InsertMessage(ctx, first); err != nil {
			return err
		}
		wantErr(t, "InsertMessage(duplicate id, same tx)", tx.InsertMessage(ctx, second), ports.ErrConflict)
		// The conflict must not have aborted the transaction.
		if _, err := tx.GetMessageForUpdate(ctx, "dup"); err != nil {
			return fmt.Errorf("read after conflict: %w", err)
		}
		return tx.InsertMessage(ctx, after)
	})
	checkMessage(t, "first insert", get(t, s, "dup"), first)
	checkMessage(t, "insert after conflict", get(t, s, "after"), after)

	// A duplicate of a committed message conflicts too, and the tx still commits.
	later := outbound("later", accountA, at(3*time.Second))
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		wantErr(t, "InsertMessage(duplicate of committed id)", tx.InsertMessage(ctx, second), ports.ErrConflict)
		return tx.InsertMessage(ctx, later)
	})
	checkMessage(t, "committed after conflict", get(t, s, "later"), later)
	checkMessage(t, "original unchanged", get(t, s, "dup"), first)
}

func testInboundDedupe(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	existingIn := inbound("in-1", accountA, "p1", "PX", base)
	existingOut := outbound("out-1", accountA, base)
	existingOut.ProviderMessageID = "PO"
	insert(t, s, existingIn, existingOut)

	outSamePID := outbound("out-2", accountA, at(time.Second))
	outSamePID.ProviderMessageID = "PX"
	tests := []struct {
		name     string
		m        message.Message
		conflict bool
	}{
		{"inbound same provider and id", inbound("in-2", accountA, "p1", "PX", at(time.Second)), true},
		{"inbound same id for another account", inbound("in-3", accountB, "p1", "PX", at(time.Second)), true},
		{"inbound same id other provider", inbound("in-4", accountA, "p2", "PX", at(time.Second)), false},
		{"outbound with an inbound's provider id", outSamePID, false},
		{"inbound with an outbound's provider id", inbound("in-5", accountA, "p1", "PO", at(time.Second)), false},
		{"inbound empty provider id", inbound("in-6", accountA, "p1", "", at(time.Second)), false},
		{"inbound empty provider id again", inbound("in-7", accountA, "p1", "", at(time.Second)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			marker := outbound("marker-"+tc.m.ID, accountA, at(time.Minute))
			inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
				err := tx.InsertMessage(ctx, tc.m)
				if tc.conflict {
					wantErr(t, "InsertMessage", err, ports.ErrConflict)
				} else if err != nil {
					return fmt.Errorf("InsertMessage: %w", err)
				}
				return tx.InsertMessage(ctx, marker) // the tx goes on either way
			})
			_, err := s.GetMessage(t.Context(), "", tc.m.ID)
			if tc.conflict {
				wantErr(t, "GetMessage(rejected duplicate)", err, ports.ErrNotFound)
			} else if err != nil {
				t.Errorf("GetMessage: %v", err)
			}
			get(t, s, marker.ID)
		})
	}
	checkMessage(t, "original inbound", get(t, s, "in-1"), existingIn)
}

func testUpdateMessage(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	orig := outbound("m1", accountA, base)
	orig.Route = []string{"p1", "p2"}
	orig.Error = &message.Error{Code: "old", Message: "old error"}
	insert(t, s, orig)

	upd := orig
	upd.Status = message.StatusSent
	upd.Provider = "p2"
	upd.Route = []string{"p2", "p3"}
	upd.ProviderMessageID = "PID-9"
	upd.Error = &message.Error{Code: "provider_unavailable", Message: "p1 down"}
	upd.UpdatedAt = at(5 * time.Second)
	evs := []message.Event{
		{Status: message.StatusSending, At: at(4 * time.Second), Detail: "attempt 1 via p1 failed: unavailable"},
		{Status: message.StatusSent, At: at(5 * time.Second)},
	}
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		return tx.UpdateMessage(ctx, upd, evs...)
	})
	want := upd
	want.Events = append(slices.Clone(orig.Events), evs...)
	checkMessage(t, "after update", get(t, s, "m1"), want)

	// Immutable fields are not written; no events is fine; a nil Error clears it; further
	// events keep being appended after the earlier ones (even at the same instant).
	upd2 := want
	upd2.Text = "rewritten"
	upd2.To = "+19999999999"
	upd2.Error = nil
	upd2.Status = message.StatusDelivered
	upd2.UpdatedAt = at(6 * time.Second)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.UpdateMessage(ctx, upd2); err != nil {
			return err
		}
		// The late report carries an earlier time: history keeps the order of appending.
		return tx.UpdateMessage(ctx, upd2, message.Event{Status: message.StatusDelivered, At: at(5 * time.Second)},
			message.Event{Status: message.StatusSent, At: at(2 * time.Second), Detail: message.DetailIgnored})
	})
	want2 := upd2
	want2.Text, want2.To = orig.Text, orig.To
	want2.Events = append(slices.Clone(want.Events),
		message.Event{Status: message.StatusDelivered, At: at(5 * time.Second)},
		message.Event{Status: message.StatusSent, At: at(2 * time.Second), Detail: message.DetailIgnored})
	checkMessage(t, "after second update", get(t, s, "m1"), want2)
}

func testUnknownID(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	insert(t, s, outbound("known", accountA, base))
	ghost := outbound("ghost", accountA, base)
	tests := []struct {
		name string
		call func(ctx context.Context, tx ports.Tx) error
	}{
		{"UpdateMessage", func(ctx context.Context, tx ports.Tx) error {
			return tx.UpdateMessage(ctx, ghost, message.Event{Status: message.StatusSent, At: base})
		}},
		{"HideMessage", func(ctx context.Context, tx ports.Tx) error { return tx.HideMessage(ctx, "ghost", base) }},
		{"GetMessageForUpdate", func(ctx context.Context, tx ports.Tx) error {
			_, err := tx.GetMessageForUpdate(ctx, "ghost")
			return err
		}},
		{"FindByProviderIDForUpdate", func(ctx context.Context, tx ports.Tx) error {
			_, err := tx.FindByProviderIDForUpdate(ctx, message.Outbound, "p1", "nope")
			return err
		}},
		{"FindByProviderIDForUpdate empty id", func(ctx context.Context, tx ports.Tx) error {
			_, err := tx.FindByProviderIDForUpdate(ctx, message.Outbound, "p1", "")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.InTx(t.Context(), tc.call)
			wantErr(t, tc.name, err, ports.ErrNotFound)
		})
	}
	if _, err := s.GetMessage(t.Context(), "", "ghost"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("UpdateMessage of an unknown id created it: %v", err)
	}
	get(t, s, "known")
}

func testHidden(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	m := outbound("hid", accountA, base)
	m.ProviderMessageID = "PH"
	m.Status = message.StatusSent
	visible := outbound("vis", accountA, at(time.Second))
	visible.ProviderMessageID = "PV"
	visible.Status = message.StatusSent
	insert(t, s, m, visible)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error { return tx.HideMessage(ctx, "hid", at(time.Minute)) })

	ctx := t.Context()
	_, err := s.GetMessage(ctx, accountA, "hid")
	wantErr(t, "GetMessage(hidden)", err, ports.ErrNotFound)
	_, err = s.GetMessage(ctx, "", "hid")
	wantErr(t, "GetMessage(hidden, any account)", err, ports.ErrNotFound)
	page, err := s.ListMessages(ctx, accountA, ports.MessageQuery{Limit: 50})
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if got := ids(page.Items); !slices.Equal(got, []string{"vis"}) {
		t.Errorf("ListMessages = %v, want [vis]", got)
	}
	aw, err := s.ListAwaitingStatus(ctx, ports.AwaitingQuery{Provider: "p1", Limit: 50})
	if err != nil {
		t.Fatalf("ListAwaitingStatus: %v", err)
	}
	if got := ids(aw); !slices.Equal(got, []string{"vis"}) {
		t.Errorf("ListAwaitingStatus = %v, want [vis]", got)
	}
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		got, err := tx.GetMessageForUpdate(ctx, "hid")
		if err != nil {
			return fmt.Errorf("GetMessageForUpdate(hidden): %w", err)
		}
		checkMessage(t, "GetMessageForUpdate(hidden)", got, m)
		got, err = tx.FindByProviderIDForUpdate(ctx, message.Outbound, "p1", "PH")
		if err != nil {
			return fmt.Errorf("FindByProviderIDForUpdate(hidden): %w", err)
		}
		checkMessage(t, "FindByProviderIDForUpdate(hidden)", got, m)
		// A hidden message can still take updates (a late status report).
		got.Status = message.StatusDelivered
		return tx.UpdateMessage(ctx, got, message.Event{Status: message.StatusDelivered, At: at(time.Hour)})
	})
}

func testFindByProviderID(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	out := outbound("out", accountA, base)
	out.ProviderMessageID = "X1"
	out.Status = message.StatusSent
	in := inbound("in", accountB, "p1", "X1", at(time.Second))
	other := outbound("other", accountA, at(2*time.Second))
	other.Provider = "p2"
	other.ProviderMessageID = "X2"
	insert(t, s, out, in, other)

	tests := []struct {
		name          string
		dir           message.Direction
		provider, pid string
		want          message.Message // zero ID: ErrNotFound
	}{
		{"outbound", message.Outbound, "p1", "X1", out},
		{"inbound", message.Inbound, "p1", "X1", in},
		{"other provider", message.Outbound, "p2", "X2", other},
		{"wrong provider", message.Outbound, "p2", "X1", message.Message{}},
		{"wrong direction", message.Inbound, "p2", "X2", message.Message{}},
		{"unknown id", message.Outbound, "p1", "X9", message.Message{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got message.Message
			err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
				var err error
				got, err = tx.FindByProviderIDForUpdate(ctx, tc.dir, tc.provider, tc.pid)
				return err
			})
			if tc.want.ID == "" {
				wantErr(t, "FindByProviderIDForUpdate", err, ports.ErrNotFound)
				return
			}
			if err != nil {
				t.Fatalf("FindByProviderIDForUpdate: %v", err)
			}
			checkMessage(t, "FindByProviderIDForUpdate", got, tc.want)
		})
	}
}

func testMessageIDsByProviderID(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	old := outbound("old", accountA, base)
	old.ProviderMessageID = "X1"
	newer := outbound("newer", accountA, at(time.Second)) // the same provider id, later
	newer.ProviderMessageID = "X1"
	two := outbound("two", accountA, at(2*time.Second))
	two.ProviderMessageID = "X2"
	in := inbound("in", accountB, "p1", "X3", at(3*time.Second))
	other := outbound("other", accountA, at(4*time.Second))
	other.Provider, other.ProviderMessageID = "p2", "X4"
	insert(t, s, old, newer, two, in, other)

	var got map[string]string
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		got, err = tx.MessageIDsByProviderID(ctx, message.Outbound, "p1", []string{"X1", "X2", "X3", "X4", "X9", "", "X2"})
		return err
	})
	if err != nil {
		t.Fatalf("MessageIDsByProviderID: %v", err)
	}
	want := map[string]string{"X1": "newer", "X2": "two"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MessageIDsByProviderID = %v, want %v (newest wins; other direction, other provider, unknown and empty left out)", got, want)
	}
}

// listFixture stores a mixed set of messages for accountA (plus noise for accountB) and
// returns accountA's messages. Several share one created_at to exercise the id tie-break.
func listFixture(t *testing.T, s ports.Store) []message.Message {
	t.Helper()
	seedAccounts(t, s)
	statuses := []message.Status{message.StatusQueued, message.StatusSent, message.StatusDelivered, message.StatusFailed}
	var mine, all []message.Message
	for i := range 30 {
		created := at(time.Duration(i) * time.Second)
		if i >= 10 && i < 22 {
			created = at(10*time.Second + 7*time.Millisecond) // twelve at the same instant
		}
		id := fmt.Sprintf("m%02d", (i*7)%30) // ids not in creation order
		var m message.Message
		if i%3 == 2 {
			m = inbound(id, accountA, "p1", "in-"+id, created)
			m.From = fmt.Sprintf("+1555000%04d", i%4)
		} else {
			m = outbound(id, accountA, created)
			m.Status = statuses[i%len(statuses)]
			m.To = fmt.Sprintf("+1555111%04d", i%5)
		}
		if tags := fixtureTags(i); tags != nil {
			m.Tags = tags
		}
		b := outbound("b-"+id, accountB, created)
		b.Tags = maps.Clone(m.Tags) // the same tags in another account
		mine = append(mine, m)
		all = append(all, m, b)
	}
	insert(t, s, all...)
	return mine
}

// Tags of listFixture, as the DHOS dialect sets them on a tenant's messages.
const (
	tagTenant  = "trustomer_code"
	tagProduct = "product_name"
	// oddTagKey and oddTagValue hold what JSON paths, SQL string literals and identifiers
	// quote: a store must bind a tag key, never splice it into its query.
	oddTagKey   = `we"ird.$[0]'key\`
	oddTagValue = `it's "odd"`
)

// fixtureTags are the tags of listFixture's i-th message; nil leaves it without tags (an
// empty map outbound, nil inbound).
func fixtureTags(i int) map[string]string {
	var tags map[string]string
	switch i % 5 {
	case 0:
		tags = map[string]string{tagTenant: "T1", tagProduct: "P1"}
	case 1:
		tags = map[string]string{tagTenant: "T1", tagProduct: "P2"}
	case 2:
		tags = map[string]string{tagTenant: "T2", tagProduct: "P1"}
	case 3:
		tags = map[string]string{tagTenant: "T1", "note": ""}
	}
	if i == 7 {
		tags[oddTagKey] = oddTagValue
	}
	return tags
}

// expectList is the reference implementation of ListMessages' filter and order.
func expectList(msgs []message.Message, q ports.MessageQuery) []string {
	var out []message.Message
	for _, m := range msgs {
		if (q.Direction != "" && m.Direction != q.Direction) || (q.Status != "" && m.Status != q.Status) ||
			(q.From != "" && m.From != q.From) || (q.To != "" && m.To != q.To) ||
			(!q.CreatedAfter.IsZero() && m.CreatedAt.Before(q.CreatedAfter)) ||
			(!q.CreatedBefore.IsZero() && m.CreatedAt.After(q.CreatedBefore)) || !hasTags(m, q.Tags) {
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b message.Message) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	return ids(out)
}

// hasTags reports whether m has every one of tags with exactly its value.
func hasTags(m message.Message, tags map[string]string) bool {
	for k, v := range tags {
		if got, ok := m.Tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// listQueries are the queries the list tests run on listFixture; those named "no match…"
// match nothing there, every other one matches something.
func listQueries() []struct {
	name string
	q    ports.MessageQuery
} {
	same := at(10*time.Second + 7*time.Millisecond)
	type tags = map[string]string
	return []struct {
		name string
		q    ports.MessageQuery
	}{
		{"all", ports.MessageQuery{}},
		{"tag", ports.MessageQuery{Tags: tags{tagTenant: "T1"}}},
		{"two tags", ports.MessageQuery{Tags: tags{tagTenant: "T1", tagProduct: "P2"}}},
		{"tag with an empty value", ports.MessageQuery{Tags: tags{"note": ""}}},
		{"tag key needing quotes", ports.MessageQuery{Tags: tags{oddTagKey: oddTagValue}}},
		{"empty tag map", ports.MessageQuery{Tags: tags{}}},
		{"tags with other filters", ports.MessageQuery{Direction: message.Outbound, CreatedAfter: at(4 * time.Second),
			Tags: tags{tagTenant: "T1", tagProduct: "P1"}}},
		{"tag on the shared instant", ports.MessageQuery{CreatedAfter: same, CreatedBefore: same, Tags: tags{tagProduct: "P1"}}},
		{"tag inbound", ports.MessageQuery{Direction: message.Inbound, Tags: tags{tagTenant: "T1"}}},
		{"no match: tag value differs", ports.MessageQuery{Tags: tags{tagTenant: "T3"}}},
		{"no match: tag value differs in case", ports.MessageQuery{Tags: tags{tagTenant: "t1"}}},
		{"no match: one of two tags differs", ports.MessageQuery{Tags: tags{tagTenant: "T2", tagProduct: "P2"}}},
		{"no match: tag key absent", ports.MessageQuery{Tags: tags{"customer": "T1"}}},
		{"no match: empty value of an absent key", ports.MessageQuery{Tags: tags{"customer": ""}}},
		{"no match: NUL in a tag", ports.MessageQuery{Tags: tags{tagTenant + "\x00": "T1", "note": "\x00"}}},
		{"no match: tag key like SQL", ports.MessageQuery{Tags: tags{`') OR 1=1 OR ('`: "x", `$.` + tagTenant: "T1"}}},
		{"inbound", ports.MessageQuery{Direction: message.Inbound}},
		{"outbound", ports.MessageQuery{Direction: message.Outbound}},
		{"status delivered", ports.MessageQuery{Status: message.StatusDelivered}},
		{"status received", ports.MessageQuery{Status: message.StatusReceived}},
		{"from", ports.MessageQuery{From: "+15550000001"}},
		{"to", ports.MessageQuery{To: "+15551110002"}},
		{"created after inclusive", ports.MessageQuery{CreatedAfter: at(25 * time.Second)}},
		{"created before inclusive", ports.MessageQuery{CreatedBefore: at(3 * time.Second)}},
		{"window on the shared instant", ports.MessageQuery{CreatedAfter: same, CreatedBefore: same}},
		{"window", ports.MessageQuery{CreatedAfter: at(5 * time.Second), CreatedBefore: at(24 * time.Second)}},
		{"combined", ports.MessageQuery{Direction: message.Outbound, Status: message.StatusQueued, CreatedAfter: at(4 * time.Second)}},
		{"no match: to", ports.MessageQuery{To: "+10000000000"}},
	}
}

func testListMessagesFilters(t *testing.T, s ports.Store) {
	mine := listFixture(t, s)
	for _, tc := range listQueries() {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Limit = 500
			page, err := s.ListMessages(t.Context(), accountA, q)
			if err != nil {
				t.Fatalf("ListMessages: %v", err)
			}
			want := expectList(mine, tc.q)
			if noMatch := strings.HasPrefix(tc.name, "no match"); noMatch != (len(want) == 0) {
				t.Fatalf("fixture: the reference lists %v for %q", want, tc.name)
			}
			if got := ids(page.Items); !slices.Equal(got, want) {
				t.Errorf("ListMessages ids\n got %v\nwant %v", got, want)
			}
			if page.Next != nil {
				t.Errorf("Next = %+v on a page holding everything, want nil", *page.Next)
			}
		})
	}
	t.Run("limit", func(t *testing.T) {
		page, err := s.ListMessages(t.Context(), accountA, ports.MessageQuery{Limit: 4})
		if err != nil {
			t.Fatalf("ListMessages: %v", err)
		}
		if got, want := ids(page.Items), expectList(mine, ports.MessageQuery{})[:4]; !slices.Equal(got, want) {
			t.Errorf("ListMessages(limit 4) = %v, want %v", got, want)
		}
		if page.Next == nil {
			t.Fatal("Next = nil, want a cursor")
		}
		last := page.Items[3]
		if page.Next.ID != last.ID || ms(page.Next.CreatedAt) != ms(last.CreatedAt) {
			t.Errorf("Next = %+v, want the last item's (created_at, id) %s %s", *page.Next, ms(last.CreatedAt), last.ID)
		}
	})
	t.Run("full message", func(t *testing.T) {
		page, err := s.ListMessages(t.Context(), accountB, ports.MessageQuery{Limit: 1})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("ListMessages = %v, %v", page.Items, err)
		}
		checkMessage(t, "listed message", page.Items[0], get(t, s, page.Items[0].ID))
	})
	t.Run("other account sees nothing of A", func(t *testing.T) {
		page, err := s.ListMessages(t.Context(), "acct-none", ports.MessageQuery{Limit: 500})
		if err != nil || len(page.Items) != 0 || page.Next != nil {
			t.Errorf("ListMessages(account without messages) = %v, %v, %v", ids(page.Items), page.Next, err)
		}
	})
}

func testListMessagesPaging(t *testing.T, s ports.Store) {
	mine := listFixture(t, s)
	for _, tc := range listQueries() {
		for _, limit := range []int{1, 3, 5, 12} {
			t.Run(fmt.Sprintf("%s/limit %d", tc.name, limit), func(t *testing.T) {
				want := expectList(mine, tc.q)
				q := tc.q
				q.Limit = limit
				got := pageAll(t, limit, len(mine), func(after *ports.Cursor) ([]string, *ports.Cursor, error) {
					q.After = after
					page, err := s.ListMessages(t.Context(), accountA, q)
					return ids(page.Items), page.Next, err
				})
				if !slices.Equal(got, want) {
					t.Errorf("paged ids\n got %v\nwant %v", got, want)
				}
			})
		}
	}
}

// pageAll follows a list from its first page to its last through each page's cursor (in
// its wire form, as the HTTP API pages) and returns the keys of every item in order. It
// fails the test if a page exceeds limit, a page after the first is empty, or paging does
// not end within total+1 pages.
func pageAll(t *testing.T, limit, total int, page func(after *ports.Cursor) ([]string, *ports.Cursor, error)) []string {
	t.Helper()
	var (
		got   []string
		after *ports.Cursor
	)
	for pages := 0; ; pages++ {
		if pages > total+1 {
			t.Fatalf("paging does not end; got so far %q", got)
		}
		items, next, err := page(after)
		if err != nil {
			t.Fatalf("list (page %d): %v", pages, err)
		}
		if len(items) > limit {
			t.Fatalf("page %d has %d items, limit %d", pages, len(items), limit)
		}
		if pages > 0 && len(items) == 0 {
			t.Errorf("page %d is empty: the previous page should have had no next cursor", pages)
		}
		got = append(got, items...)
		if next == nil {
			return got
		}
		c, err := ports.DecodeCursor(next.Encode())
		if err != nil {
			t.Fatalf("DecodeCursor: %v", err)
		}
		after = &c
	}
}

func testListAwaitingStatus(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	mk := func(id, account string, created time.Duration, st message.Status, provider, pid string) message.Message {
		m := outbound(id, account, at(created))
		m.Status, m.Provider, m.ProviderMessageID = st, provider, pid
		return m
	}
	const tie = 3 * time.Minute // w3 and the t* messages share it
	msgs := []message.Message{
		mk("w3", accountA, tie, message.StatusSent, "p1", "P3"),
		mk("w1", accountA, 1*time.Minute, message.StatusQueued, "p1", "P1"),
		mk("w2", accountA, 2*time.Minute, message.StatusSending, "p1", "P2"),
		mk("w4", accountA, 4*time.Minute, message.StatusScheduled, "p1", "P4"),
		mk("w5", accountA, 5*time.Minute, message.StatusSent, "p1", "P5"),
		mk("old", accountA, 0, message.StatusSent, "p1", "P0"),
		mk("t4", accountA, tie, message.StatusSent, "p1", "PT4"),
		mk("t1", accountA, tie, message.StatusSent, "p1", "PT1"),
		mk("t3", accountA, tie, message.StatusQueued, "p1", "PT3"),
		mk("t0", accountA, tie, message.StatusSent, "p1", "PT0"),
		mk("t2", accountB, tie, message.StatusSent, "p1", "PT2"),
		mk("w-b", accountB, 150*time.Second, message.StatusSent, "p1", "PB"),
		// Never listed: final, without a provider id, of another provider, hidden, inbound.
		mk("delivered", accountA, 2*time.Minute, message.StatusDelivered, "p1", "PD"),
		mk("undelivered", accountA, 2*time.Minute, message.StatusUndelivered, "p1", "PU"),
		mk("failed", accountA, tie, message.StatusFailed, "p1", "PF"),
		mk("canceled", accountA, 2*time.Minute, message.StatusCanceled, "p1", "PC"),
		mk("no-pid", accountA, tie, message.StatusSent, "p1", ""),
		mk("other-provider", accountA, 2*time.Minute, message.StatusSent, "p2", "PO"),
		mk("hidden", accountA, tie, message.StatusSent, "p1", "PH"),
		inbound("inbound", accountA, "p1", "PI", at(2*time.Minute)),
	}
	insert(t, s, msgs...)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error { return tx.HideMessage(ctx, "hidden", at(time.Hour)) })

	after := func(created time.Duration, id string) *ports.Cursor {
		return &ports.Cursor{CreatedAt: at(created), ID: id}
	}
	tests := []struct {
		name string
		q    ports.AwaitingQuery
		want []string
	}{
		{"all since", ports.AwaitingQuery{Provider: "p1", Since: at(time.Minute), Limit: 100},
			[]string{"w1", "w2", "w-b", "t0", "t1", "t2", "t3", "t4", "w3", "w4", "w5"}},
		{"limit", ports.AwaitingQuery{Provider: "p1", Since: at(time.Minute), Limit: 2}, []string{"w1", "w2"}},
		{"limit max", ports.AwaitingQuery{Provider: "p1", Since: at(4 * time.Minute), Limit: ports.MaxAwaitingLimit}, []string{"w4", "w5"}},
		{"since inclusive", ports.AwaitingQuery{Provider: "p1", Since: at(tie), Limit: 100},
			[]string{"t0", "t1", "t2", "t3", "t4", "w3", "w4", "w5"}},
		{"zero since", ports.AwaitingQuery{Provider: "p1", Limit: 100},
			[]string{"old", "w1", "w2", "w-b", "t0", "t1", "t2", "t3", "t4", "w3", "w4", "w5"}},
		{"account", ports.AwaitingQuery{Provider: "p1", AccountID: accountA, Limit: 100},
			[]string{"old", "w1", "w2", "t0", "t1", "t3", "t4", "w3", "w4", "w5"}},
		{"other account", ports.AwaitingQuery{Provider: "p1", AccountID: accountB, Limit: 100}, []string{"w-b", "t2"}},
		{"account without messages", ports.AwaitingQuery{Provider: "p1", AccountID: "acct-none", Limit: 100}, nil},
		{"after exclusive", ports.AwaitingQuery{Provider: "p1", After: after(2*time.Minute, "w2"), Limit: 100},
			[]string{"w-b", "t0", "t1", "t2", "t3", "t4", "w3", "w4", "w5"}},
		{"after inside a tie", ports.AwaitingQuery{Provider: "p1", After: after(tie, "t1"), Limit: 100},
			[]string{"t2", "t3", "t4", "w3", "w4", "w5"}},
		{"after a position no message has", ports.AwaitingQuery{Provider: "p1", After: after(tie, "t15"), Limit: 100},
			[]string{"t2", "t3", "t4", "w3", "w4", "w5"}},
		{"after with a later since", ports.AwaitingQuery{Provider: "p1", Since: at(4 * time.Minute), After: after(tie, "t3"), Limit: 100},
			[]string{"w4", "w5"}},
		{"after with an earlier since", ports.AwaitingQuery{Provider: "p1", Since: at(time.Minute), After: after(tie, "t3"), Limit: 100},
			[]string{"t4", "w3", "w4", "w5"}},
		{"after with account and limit", ports.AwaitingQuery{Provider: "p1", AccountID: accountA, After: after(tie, "t1"), Limit: 2},
			[]string{"t3", "t4"}},
		{"after the last", ports.AwaitingQuery{Provider: "p1", After: after(5*time.Minute, "w5"), Limit: 100}, nil},
		{"other provider", ports.AwaitingQuery{Provider: "p2", Limit: 100}, []string{"other-provider"}},
		{"unknown provider", ports.AwaitingQuery{Provider: "p9", Limit: 100}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAwaitingStatus(t.Context(), tc.q)
			if err != nil {
				t.Fatalf("ListAwaitingStatus: %v", err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("ListAwaitingStatus = %v, want %v", ids(got), tc.want)
			}
			for _, m := range got {
				if len(m.Events) == 0 {
					t.Errorf("message %s listed without its events", m.ID)
				}
			}
		})
	}
	t.Run("full message", func(t *testing.T) {
		got, err := s.ListAwaitingStatus(t.Context(), ports.AwaitingQuery{Provider: "p1", After: after(tie, "t3"), Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("ListAwaitingStatus = %v, %v; want one message", ids(got), err)
		}
		checkMessage(t, "listed message", got[0], get(t, s, "t4"))
	})

	// Paging by the last item's position never skips or repeats a message, also through
	// the tie at 3m — a cursor on created_at alone would lose the rest of the tie.
	for _, q := range []ports.AwaitingQuery{
		{Provider: "p1"},
		{Provider: "p1", AccountID: accountA},
		{Provider: "p1", Since: at(tie)},
	} {
		for _, limit := range []int{1, 2, 3, 4} {
			t.Run(fmt.Sprintf("paging %s since %s/limit %d", cmp.Or(q.AccountID, "every account"), ms(q.Since), limit), func(t *testing.T) {
				whole := q
				whole.Limit = ports.MaxAwaitingLimit
				want, err := s.ListAwaitingStatus(t.Context(), whole)
				if err != nil {
					t.Fatalf("ListAwaitingStatus(one page): %v", err)
				}
				q := q
				q.Limit = limit
				var got []string
				for pages := 0; ; pages++ {
					if pages > len(want)+1 {
						t.Fatalf("paging does not end; got so far %v", got)
					}
					page, err := s.ListAwaitingStatus(t.Context(), q)
					if err != nil {
						t.Fatalf("ListAwaitingStatus(page %d): %v", pages, err)
					}
					if len(page) > limit {
						t.Fatalf("page %d has %d items, limit %d", pages, len(page), limit)
					}
					got = append(got, ids(page)...)
					if len(page) < limit {
						break
					}
					last := page[len(page)-1]
					// In its wire form, as a caller would keep it.
					c, err := ports.DecodeCursor(ports.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}.Encode())
					if err != nil {
						t.Fatalf("DecodeCursor: %v", err)
					}
					q.After = &c
				}
				if !slices.Equal(got, ids(want)) {
					t.Errorf("paged ids\n got %v\nwant %v", got, ids(want))
				}
			})
		}
	}

	t.Run("invalid", func(t *testing.T) {
		for _, q := range []ports.AwaitingQuery{
			{Limit: 10},
			{Provider: "p1"},
			{Provider: "p1", Limit: -1},
			{Provider: "p1", Limit: ports.MaxAwaitingLimit + 1},
		} {
			got, err := s.ListAwaitingStatus(t.Context(), q)
			wantErr(t, fmt.Sprintf("ListAwaitingStatus(%+v)", q), err, ports.ErrInvalid)
			if len(got) != 0 {
				t.Errorf("ListAwaitingStatus(%+v) = %v with its error, want nothing", q, ids(got))
			}
		}
	})
}

// testCountStatuses: counts by UTC day and status, over both inclusive bounds, of one
// account's visible messages.
func testCountStatuses(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	day1 := time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	day3, day4, day5 := day2.AddDate(0, 0, 1), day2.AddDate(0, 0, 2), day2.AddDate(0, 0, 3)
	lastMs := day2.Add(-time.Millisecond) // 23:59:59.999 on day 1
	east := time.FixedZone("UTC+5", 5*3600)
	mk := func(id, account string, created time.Time, st message.Status) message.Message {
		m := outbound(id, account, created)
		m.Status = st
		return m
	}
	received := func(id, account string, created time.Time) message.Message {
		return inbound(id, account, "p1", "P-"+id, created)
	}
	insert(t, s,
		mk("d1-start", accountA, day1, message.StatusQueued),
		mk("d1-end", accountA, lastMs, message.StatusDelivered),
		mk("d2-start", accountA, day2, message.StatusDelivered),
		received("d2-in", accountA, day2),
		mk("d2-noon-1", accountA, day2.Add(12*time.Hour), message.StatusFailed),
		mk("d2-noon-2", accountA, day2.Add(12*time.Hour), message.StatusFailed),
		// Day 3 in UTC+5, 21:00 of day 2 in UTC: the UTC day counts.
		mk("d2-east", accountA, time.Date(2026, time.March, 3, 2, 0, 0, 0, east), message.StatusSent),
		mk("d2-hidden", accountA, day2.Add(13*time.Hour), message.StatusDelivered),
		mk("d4", accountA, day4.Add(time.Hour), message.StatusSent),
		mk("b-d2", accountB, day2.Add(12*time.Hour), message.StatusDelivered),
		received("b-in", accountB, day1),
	)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error { return tx.HideMessage(ctx, "d2-hidden", day4) })

	type counts = map[string]map[message.Status]int
	const (
		queued, delivered, failed = message.StatusQueued, message.StatusDelivered, message.StatusFailed
		sent, recv                = message.StatusSent, message.StatusReceived
	)
	tests := []struct {
		name       string
		account    string
		start, end time.Time
		want       counts
	}{
		{"every day", accountA, day1, day5, counts{
			"2026-03-01": {queued: 1, delivered: 1},
			"2026-03-02": {delivered: 1, recv: 1, failed: 2, sent: 1},
			"2026-03-04": {sent: 1},
		}},
		{"start inclusive at the last millisecond of a day", accountA, lastMs, day2, counts{
			"2026-03-01": {delivered: 1},
			"2026-03-02": {delivered: 1, recv: 1},
		}},
		{"end inclusive at the last millisecond of a day", accountA, day1, lastMs, counts{
			"2026-03-01": {queued: 1, delivered: 1},
		}},
		{"end before the last millisecond", accountA, day1, lastMs.Add(-time.Millisecond), counts{
			"2026-03-01": {queued: 1},
		}},
		{"end inclusive at midnight", accountA, day1.Add(time.Millisecond), day2, counts{
			"2026-03-01": {delivered: 1},
			"2026-03-02": {delivered: 1, recv: 1},
		}},
		{"one instant", accountA, day2.Add(12 * time.Hour), day2.Add(12 * time.Hour), counts{
			"2026-03-02": {failed: 2},
		}},
		{"bounds in another zone", accountA, day2.In(east), day3.Add(-time.Millisecond).In(east), counts{
			"2026-03-02": {delivered: 1, recv: 1, failed: 2, sent: 1},
		}},
		{"other account", accountB, day1, day5, counts{
			"2026-03-01": {recv: 1},
			"2026-03-02": {delivered: 1},
		}},
		{"zero start", accountA, time.Time{}, lastMs, counts{
			"2026-03-01": {queued: 1, delivered: 1},
		}},
		{"day without messages", accountA, day3, day4.Add(-time.Millisecond), counts{}},
		{"start after end", accountA, day2, day1, counts{}},
		{"account without messages", "acct-none", day1, day5, counts{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.CountStatuses(t.Context(), tc.account, tc.start, tc.end)
			if err != nil {
				t.Fatalf("CountStatuses: %v", err)
			}
			if got == nil {
				t.Fatal("CountStatuses = nil, want a map")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("CountStatuses(%s, %s, %s)\n got %v\nwant %v", tc.account, ms(tc.start), ms(tc.end), got, tc.want)
			}
		})
	}
}

func testInTxRollback(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	kept := outbound("kept", accountA, base)
	insert(t, s, kept)

	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InsertMessage(ctx, outbound("gone", accountA, at(time.Second))); err != nil {
			return err
		}
		m, err := tx.GetMessageForUpdate(ctx, "kept")
		if err != nil {
			return err
		}
		m.Status = message.StatusFailed
		if err := tx.UpdateMessage(ctx, m, message.Event{Status: message.StatusFailed, At: at(time.Second)}); err != nil {
			return err
		}
		if err := tx.HideMessage(ctx, "kept", at(time.Second)); err != nil {
			return err
		}
		return fmt.Errorf("use case: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	_, err = s.GetMessage(t.Context(), "", "gone")
	wantErr(t, "GetMessage(rolled-back insert)", err, ports.ErrNotFound)
	checkMessage(t, "rolled-back update and hide", get(t, s, "kept"), kept)

	// A conflict the use case gives up on rolls back what came before it.
	err = s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InsertMessage(ctx, outbound("gone2", accountA, at(time.Second))); err != nil {
			return err
		}
		return tx.InsertMessage(ctx, kept)
	})
	wantErr(t, "InTx(conflict returned)", err, ports.ErrConflict)
	_, err = s.GetMessage(t.Context(), "", "gone2")
	wantErr(t, "GetMessage(rolled back after conflict)", err, ports.ErrNotFound)

	// The store is usable after rollbacks.
	insert(t, s, outbound("next", accountA, at(2*time.Second)))
	get(t, s, "next")
}

func testInTxCommit(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	a := outbound("a", accountA, base)
	b := inbound("b", accountA, "p1", "PB", at(time.Second))
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InsertMessage(ctx, a); err != nil {
			return err
		}
		if err := tx.InsertMessage(ctx, b); err != nil {
			return err
		}
		// Writes are visible inside their own transaction.
		got, err := tx.GetMessageForUpdate(ctx, "a")
		if err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		got.Status = message.StatusSending
		return tx.UpdateMessage(ctx, got, message.Event{Status: message.StatusSending, At: at(time.Second)})
	})
	wantA := a
	wantA.Status = message.StatusSending
	wantA.Events = append(slices.Clone(a.Events), message.Event{Status: message.StatusSending, At: at(time.Second)})
	checkMessage(t, "committed a", get(t, s, "a"), wantA)
	checkMessage(t, "committed b", get(t, s, "b"), b)
}

// testLockForUpdate runs concurrent read-modify-write increments of one message's
// ProviderMessageID: with a real lock no increment is lost.
func testLockForUpdate(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	m := outbound("counter", accountA, base)
	m.ProviderMessageID = "0"
	insert(t, s, m)

	const workers, rounds = 4, 5
	errs := make(chan error, workers*rounds)
	concurrently(workers, func(w int) {
		for r := range rounds {
			errs <- s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
				cur, err := tx.GetMessageForUpdate(ctx, "counter")
				if err != nil {
					return fmt.Errorf("worker %d round %d: lock: %w", w, r, err)
				}
				n, err := strconv.Atoi(cur.ProviderMessageID)
				if err != nil {
					return fmt.Errorf("worker %d round %d: counter %q: %w", w, r, cur.ProviderMessageID, err)
				}
				cur.ProviderMessageID = strconv.Itoa(n + 1)
				ev := message.Event{Status: message.StatusQueued, At: at(time.Second), Detail: cur.ProviderMessageID}
				return tx.UpdateMessage(ctx, cur, ev)
			})
		}
	})
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got := get(t, s, "counter")
	if got.ProviderMessageID != strconv.Itoa(workers*rounds) {
		t.Errorf("counter = %s after %d increments: updates were lost", got.ProviderMessageID, workers*rounds)
	}
	if len(got.Events) != 1+workers*rounds {
		t.Fatalf("%d events, want %d", len(got.Events), 1+workers*rounds)
	}
	for i, e := range got.Events[1:] {
		if e.Detail != strconv.Itoa(i+1) {
			t.Errorf("event %d detail %q, want %d (events out of order or lost)", i+1, e.Detail, i+1)
		}
	}
}

// --- opt-outs ------------------------------------------------------------------------------

// Numbers of the opt-out cases. optOutFixture adds senders that sort differently bytewise
// than in a natural-language collation ('+' < 'A' < 'a'), and numbers holding the characters
// a careless cursor encoding would split on (the smsapp dialect accepts any characters).
const (
	numA = "+15550000001"
	numB = "+15550000002"
	numC = "+15550000003"
)

func ptr(t time.Time) *time.Time { return &t }

// concurrently runs fn(0) … fn(n-1) in n goroutines released at once, and waits for all.
func concurrently(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// block runs BlockOptOut in a transaction of its own.
func block(t *testing.T, s ports.Store, o ports.OptOut) (ports.OptOut, bool) {
	t.Helper()
	var (
		stored  ports.OptOut
		created bool
	)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		var err error
		stored, created, err = tx.BlockOptOut(ctx, o)
		return err
	})
	return stored, created
}

func optedOut(t *testing.T, s ports.Store, sender, recipient string, now time.Time) bool {
	t.Helper()
	var out bool
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.OptedOut(ctx, sender, recipient, now)
		return err
	})
	return out
}

func lift(t *testing.T, s ports.Store, sender, recipient string, now time.Time) bool {
	t.Helper()
	var lifted bool
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		var err error
		lifted, err = tx.LiftOptOut(ctx, sender, recipient, now)
		return err
	})
	return lifted
}

// listAll lists every opt-out unexpired at now matching q's filters, on one page.
func listAll(t *testing.T, s ports.Store, q ports.OptOutQuery, now time.Time) []ports.OptOut {
	t.Helper()
	q.Limit = 500
	page, err := s.ListOptOuts(t.Context(), q, now)
	if err != nil {
		t.Fatalf("ListOptOuts(%+v): %v", q, err)
	}
	if page.Next != nil {
		t.Fatalf("ListOptOuts(%+v): Next = %+v on a page holding everything, want nil", q, *page.Next)
	}
	return page.Items
}

func optOutString(o ports.OptOut) string {
	exp := "permanent"
	if o.ExpiresAt != nil {
		exp = ms(*o.ExpiresAt)
	}
	return fmt.Sprintf("%q→%q %s %s..%s", o.Sender, o.Recipient, o.Source, ms(o.CreatedAt), exp)
}

// checkOptOut compares got with want at millisecond precision and checks its times are UTC.
func checkOptOut(t *testing.T, what string, got, want ports.OptOut) {
	t.Helper()
	if g, w := optOutString(got), optOutString(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
	if got.CreatedAt.Location() != time.UTC || (got.ExpiresAt != nil && got.ExpiresAt.Location() != time.UTC) {
		t.Errorf("%s: times %v, %v not in UTC", what, got.CreatedAt, got.ExpiresAt)
	}
}

func pairs(list []ports.OptOut) []string {
	out := make([]string, len(list))
	for i, o := range list {
		out[i] = o.Sender + "→" + o.Recipient
	}
	return out
}

func testOptOutBlockDirection(t *testing.T, s ports.Store) {
	o := ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceKeyword, CreatedAt: at(0)}
	// Inside its transaction the block is visible at once.
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		stored, created, err := tx.BlockOptOut(ctx, o)
		if err != nil {
			return err
		}
		if !created {
			t.Error("BlockOptOut(new pair): created = false")
		}
		checkOptOut(t, "BlockOptOut(new pair)", stored, o)
		if out, err := tx.OptedOut(ctx, numA, numB, at(time.Second)); err != nil || !out {
			t.Errorf("OptedOut in the blocking transaction = %v, %v; want true", out, err)
		}
		return nil
	})
	tests := []struct {
		name              string
		sender, recipient string
		now               time.Time
		want              bool
	}{
		{"blocked pair", numA, numB, at(time.Hour), true},
		{"at its creation", numA, numB, at(0), true},
		{"years later (permanent)", numA, numB, at(10 * 365 * 24 * time.Hour), true},
		{"other direction", numB, numA, at(time.Hour), false},
		{"other recipient", numA, numC, at(time.Hour), false},
		{"other sender", numC, numB, at(time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := optedOut(t, s, tc.sender, tc.recipient, tc.now); got != tc.want {
				t.Errorf("OptedOut(%s→%s) = %v, want %v", tc.sender, tc.recipient, got, tc.want)
			}
		})
	}
	got := listAll(t, s, ports.OptOutQuery{}, at(time.Hour))
	if len(got) != 1 {
		t.Fatalf("ListOptOuts = %v, want the one block", pairs(got))
	}
	checkOptOut(t, "listed", got[0], o)
}

func testOptOutInvalid(t *testing.T, s ports.Store) {
	good := ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceAPI, CreatedAt: at(0)}
	tests := []struct {
		name string
		edit func(o *ports.OptOut)
	}{
		{"unknown source", func(o *ports.OptOut) { o.Source = "sms" }},
		{"empty source", func(o *ports.OptOut) { o.Source = "" }},
		{"empty sender", func(o *ports.OptOut) { o.Sender = "" }},
		{"empty recipient", func(o *ports.OptOut) { o.Recipient = "" }},
		{"expires at creation", func(o *ports.OptOut) { o.ExpiresAt = ptr(o.CreatedAt) }},
		{"expires before creation", func(o *ports.OptOut) { o.ExpiresAt = ptr(o.CreatedAt.Add(-time.Hour)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
				_, _, err := tx.BlockOptOut(ctx, o)
				return err
			})
			wantErr(t, "BlockOptOut", err, ports.ErrInvalid)
		})
	}
	if got := listAll(t, s, ports.OptOutQuery{}, at(0)); len(got) != 0 {
		t.Errorf("invalid blocks were stored: %v", pairs(got))
	}
}

func testOptOutExpiry(t *testing.T, s ports.Store) {
	timed := ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceSMSApp, CreatedAt: at(0), ExpiresAt: ptr(at(time.Hour))}
	block(t, s, timed)
	for _, tc := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{"before expiry", at(time.Hour - time.Millisecond), true},
		{"at expiry", at(time.Hour), false},
		{"after expiry", at(2 * time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := optedOut(t, s, numA, numB, tc.now); got != tc.want {
				t.Errorf("OptedOut = %v, want %v", got, tc.want)
			}
			listed := listAll(t, s, ports.OptOutQuery{}, tc.now)
			if tc.want != (len(listed) == 1) {
				t.Errorf("ListOptOuts = %v; want the block listed: %v", pairs(listed), tc.want)
			}
			listed = listAll(t, s, ports.OptOutQuery{Sender: numA, Recipient: numB}, tc.now)
			if tc.want != (len(listed) == 1) {
				t.Errorf("ListOptOuts(pair) = %v; want the block listed: %v", pairs(listed), tc.want)
			}
		})
	}
	// A block over an expired one is new: new source, creation time and expiry.
	fresh := ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceAPI, CreatedAt: at(2 * time.Hour)}
	stored, created := block(t, s, fresh)
	if !created {
		t.Error("BlockOptOut over an expired block: created = false, want true")
	}
	checkOptOut(t, "BlockOptOut over an expired block", stored, fresh)
	if !optedOut(t, s, numA, numB, at(1000*time.Hour)) {
		t.Error("OptedOut after the permanent re-block = false")
	}
	// The same at the instant of expiry: expired blocks include that instant.
	timed2 := ports.OptOut{Sender: numB, Recipient: numA, Source: optout.SourceSMSApp, CreatedAt: at(0), ExpiresAt: ptr(at(time.Hour))}
	block(t, s, timed2)
	again := ports.OptOut{Sender: numB, Recipient: numA, Source: optout.SourceKeyword, CreatedAt: at(time.Hour), ExpiresAt: ptr(at(3 * time.Hour))}
	stored, created = block(t, s, again)
	if !created {
		t.Error("BlockOptOut at the old block's expiry: created = false, want true")
	}
	checkOptOut(t, "BlockOptOut at the old block's expiry", stored, again)
}

func testOptOutRenew(t *testing.T, s ports.Store) {
	first := ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceSMSApp, CreatedAt: at(0), ExpiresAt: ptr(at(time.Hour))}
	block(t, s, first)
	kept := func(exp *time.Time) ports.OptOut {
		o := first
		o.ExpiresAt = exp
		return o
	}
	steps := []struct {
		name string
		o    ports.OptOut
		want ports.OptOut
	}{
		{"shorter does not shorten",
			ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceKeyword, CreatedAt: at(10 * time.Minute), ExpiresAt: ptr(at(30 * time.Minute))},
			kept(ptr(at(time.Hour)))},
		{"equal keeps",
			ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceAPI, CreatedAt: at(15 * time.Minute), ExpiresAt: ptr(at(time.Hour))},
			kept(ptr(at(time.Hour)))},
		{"longer extends",
			ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceKeyword, CreatedAt: at(20 * time.Minute), ExpiresAt: ptr(at(3 * time.Hour))},
			kept(ptr(at(3 * time.Hour)))},
		{"timed to permanent",
			ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceAPI, CreatedAt: at(30 * time.Minute)},
			kept(nil)},
		{"permanent stays permanent",
			ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceProvider, CreatedAt: at(5 * time.Hour), ExpiresAt: ptr(at(9 * time.Hour))},
			kept(nil)},
	}
	for _, st := range steps {
		stored, created := block(t, s, st.o)
		if created {
			t.Errorf("%s: created = true over an unexpired block", st.name)
		}
		checkOptOut(t, st.name+": returned", stored, st.want)
		listed := listAll(t, s, ports.OptOutQuery{Sender: numA, Recipient: numB}, st.o.CreatedAt)
		if len(listed) != 1 {
			t.Fatalf("%s: listed %v, want one block", st.name, pairs(listed))
		}
		checkOptOut(t, st.name+": stored", listed[0], st.want)
	}
}

func testOptOutLift(t *testing.T, s ports.Store) {
	block(t, s, ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceKeyword, CreatedAt: at(0)})
	block(t, s, ports.OptOut{Sender: numB, Recipient: numA, Source: optout.SourceKeyword, CreatedAt: at(0)})
	if !lift(t, s, numA, numB, at(time.Hour)) {
		t.Error("LiftOptOut(blocked pair) = false, want true")
	}
	if optedOut(t, s, numA, numB, at(time.Hour)) {
		t.Error("OptedOut after LiftOptOut = true")
	}
	if lift(t, s, numA, numB, at(time.Hour)) {
		t.Error("LiftOptOut a second time = true, want false")
	}
	if !optedOut(t, s, numB, numA, at(time.Hour)) {
		t.Error("lifting A→B lifted B→A too")
	}
	if lift(t, s, numA, numC, at(time.Hour)) {
		t.Error("LiftOptOut(pair never blocked) = true, want false")
	}

	// An expired row is deleted, but there was nothing to lift.
	block(t, s, ports.OptOut{Sender: numA, Recipient: numC, Source: optout.SourceSMSApp, CreatedAt: at(0), ExpiresAt: ptr(at(time.Hour))})
	if lift(t, s, numA, numC, at(2*time.Hour)) {
		t.Error("LiftOptOut(expired block) = true, want false")
	}
	n, err := s.PruneOptOuts(t.Context(), at(2*time.Hour))
	if err != nil || n != 0 {
		t.Errorf("PruneOptOuts after lifting the expired row = %d, %v; want 0 (the row is gone)", n, err)
	}
	if got := listAll(t, s, ports.OptOutQuery{}, at(0)); !slices.Equal(pairs(got), []string{numB + "→" + numA}) {
		t.Errorf("ListOptOuts(at creation) = %v, want only B→A", pairs(got))
	}
}

// optOutFixture stores a mix of blocks and returns those unexpired at optOutNow. Several
// share one created_at to exercise the (sender, recipient) tie-break.
func optOutFixture(t *testing.T, s ports.Store) []ports.OptOut {
	t.Helper()
	senders := []string{numA, "ACME", "acme", "12:x\ny", numB}
	recipients := []string{numC, numB, "+4477009001", "3:a"}
	sources := []optout.Source{optout.SourceKeyword, optout.SourceSMSApp, optout.SourceAPI, optout.SourceProvider}
	var live []ports.OptOut
	i := 0
	for _, snd := range senders {
		for _, rcp := range recipients {
			if snd == rcp {
				continue
			}
			created := at(time.Duration(i) * time.Second)
			if i%3 == 1 {
				created = at(7*time.Second + 250*time.Microsecond) // many at one instant
			}
			o := ports.OptOut{Sender: snd, Recipient: rcp, Source: sources[i%len(sources)], CreatedAt: created}
			switch i % 4 {
			case 1:
				o.ExpiresAt = ptr(optOutNow.Add(time.Hour))
			case 2:
				o.ExpiresAt = ptr(optOutNow.Add(-time.Millisecond)) // expired by then
			}
			block(t, s, o)
			if o.Active(optOutNow) {
				live = append(live, o)
			}
			i++
		}
	}
	return live
}

// optOutNow is when the list cases look.
var optOutNow = at(time.Hour)

// expectOptOuts is the reference of ListOptOuts' filter and order.
func expectOptOuts(all []ports.OptOut, q ports.OptOutQuery) []string {
	var out []ports.OptOut
	for _, o := range all {
		if (q.Sender == "" || o.Sender == q.Sender) && (q.Recipient == "" || o.Recipient == q.Recipient) {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b ports.OptOut) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if a.Sender != b.Sender {
			if a.Sender > b.Sender {
				return -1
			}
			return 1
		}
		switch {
		case a.Recipient > b.Recipient:
			return -1
		case a.Recipient < b.Recipient:
			return 1
		}
		return 0
	})
	return pairs(out)
}

func optOutQueries() []struct {
	name string
	q    ports.OptOutQuery
} {
	return []struct {
		name string
		q    ports.OptOutQuery
	}{
		{"neither", ports.OptOutQuery{}},
		{"sender", ports.OptOutQuery{Sender: "ACME"}},
		{"sender with a newline", ports.OptOutQuery{Sender: "12:x\ny"}},
		{"recipient", ports.OptOutQuery{Recipient: numB}},
		{"both", ports.OptOutQuery{Sender: "acme", Recipient: "3:a"}},
		{"both, expired", ports.OptOutQuery{Sender: numA, Recipient: "+4477009001"}},
		{"nothing matches", ports.OptOutQuery{Sender: numC}},
	}
}

func testListOptOutsFilters(t *testing.T, s ports.Store) {
	live := optOutFixture(t, s)
	for _, tc := range optOutQueries() {
		t.Run(tc.name, func(t *testing.T) {
			got := listAll(t, s, tc.q, optOutNow)
			if want := expectOptOuts(live, tc.q); !slices.Equal(pairs(got), want) {
				t.Errorf("ListOptOuts\n got %q\nwant %q", pairs(got), want)
			}
		})
	}
	t.Run("records", func(t *testing.T) {
		byPair := map[string]ports.OptOut{}
		for _, o := range live {
			byPair[o.Sender+"→"+o.Recipient] = o
		}
		for _, got := range listAll(t, s, ports.OptOutQuery{}, optOutNow) {
			checkOptOut(t, "listed", got, byPair[got.Sender+"→"+got.Recipient])
		}
	})
	t.Run("limit", func(t *testing.T) {
		page, err := s.ListOptOuts(t.Context(), ports.OptOutQuery{Limit: 3}, optOutNow)
		if err != nil {
			t.Fatalf("ListOptOuts: %v", err)
		}
		if got, want := pairs(page.Items), expectOptOuts(live, ports.OptOutQuery{})[:3]; !slices.Equal(got, want) {
			t.Errorf("ListOptOuts(limit 3) = %q, want %q", got, want)
		}
		if page.Next == nil {
			t.Fatal("Next = nil, want a cursor")
		}
		last := page.Items[2]
		if want := ports.OptOutCursorID(last.Sender, last.Recipient); page.Next.ID != want || ms(page.Next.CreatedAt) != ms(last.CreatedAt) {
			t.Errorf("Next = %+v, want the last item's position %s %q", *page.Next, ms(last.CreatedAt), want)
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		_, err := s.ListOptOuts(t.Context(), ports.OptOutQuery{Limit: 3, After: &ports.Cursor{CreatedAt: base, ID: "m01"}}, optOutNow)
		wantErr(t, "ListOptOuts(cursor of another list)", err, ports.ErrInvalid)
	})
}

func testListOptOutsPaging(t *testing.T, s ports.Store) {
	live := optOutFixture(t, s)
	for _, tc := range optOutQueries() {
		for _, limit := range []int{1, 2, 3, 5} {
			t.Run(fmt.Sprintf("%s/limit %d", tc.name, limit), func(t *testing.T) {
				want := expectOptOuts(live, tc.q)
				q := tc.q
				q.Limit = limit
				got := pageAll(t, limit, len(live), func(after *ports.Cursor) ([]string, *ports.Cursor, error) {
					q.After = after
					page, err := s.ListOptOuts(t.Context(), q, optOutNow)
					return pairs(page.Items), page.Next, err
				})
				if !slices.Equal(got, want) {
					t.Errorf("paged\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

func testOptOutRollback(t *testing.T, s ports.Store) {
	kept := ports.OptOut{Sender: numB, Recipient: numA, Source: optout.SourceSMSApp, CreatedAt: at(0), ExpiresAt: ptr(at(time.Hour))}
	lifted := ports.OptOut{Sender: numC, Recipient: numA, Source: optout.SourceAPI, CreatedAt: at(0)}
	block(t, s, kept)
	block(t, s, lifted)
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		if _, _, err := tx.BlockOptOut(ctx, ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceKeyword, CreatedAt: at(time.Minute)}); err != nil {
			return err
		}
		// Renew kept to permanent, and lift the other.
		if _, _, err := tx.BlockOptOut(ctx, ports.OptOut{Sender: numB, Recipient: numA, Source: optout.SourceKeyword, CreatedAt: at(time.Minute)}); err != nil {
			return err
		}
		if ok, err := tx.LiftOptOut(ctx, numC, numA, at(time.Minute)); err != nil || !ok {
			return fmt.Errorf("lift: %v, %w", ok, err)
		}
		return fmt.Errorf("use case: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	if optedOut(t, s, numA, numB, at(time.Minute)) {
		t.Error("a block of a rolled-back transaction is in force")
	}
	got := listAll(t, s, ports.OptOutQuery{}, at(time.Minute))
	if want := expectOptOuts([]ports.OptOut{kept, lifted}, ports.OptOutQuery{}); !slices.Equal(pairs(got), want) {
		t.Fatalf("ListOptOuts after rollback = %q, want %q", pairs(got), want)
	}
	for _, o := range got {
		if o.Sender == kept.Sender {
			checkOptOut(t, "renewal rolled back", o, kept)
		}
	}
}

func testPruneOptOuts(t *testing.T, s ports.Store) {
	mk := func(sender string, exp *time.Time) ports.OptOut {
		return ports.OptOut{Sender: sender, Recipient: numA, Source: optout.SourceSMSApp, CreatedAt: at(0), ExpiresAt: exp}
	}
	for _, o := range []ports.OptOut{
		mk("permanent", nil),
		mk("1h", ptr(at(time.Hour))),
		mk("2h", ptr(at(2*time.Hour))), // expires exactly at the sweep: expired
		mk("2h+1ms", ptr(at(2*time.Hour+time.Millisecond))),
		mk("3h", ptr(at(3*time.Hour))),
	} {
		block(t, s, o)
	}
	n, err := s.PruneOptOuts(t.Context(), at(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneOptOuts = %d, %v; want 2", n, err)
	}
	// Looking before any expiry shows what is left in the store.
	want := []string{"permanent→" + numA, "3h→" + numA, "2h+1ms→" + numA}
	if got := pairs(listAll(t, s, ports.OptOutQuery{}, at(0))); !slices.Equal(got, want) {
		t.Errorf("after prune: %q, want %q", got, want)
	}
	if n, err := s.PruneOptOuts(t.Context(), at(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneOptOuts again = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneOptOuts(t.Context(), at(100*time.Hour)); err != nil || n != 2 {
		t.Errorf("PruneOptOuts(later) = %d, %v; want 2", n, err)
	}
	if !optedOut(t, s, "permanent", numA, at(100*time.Hour)) {
		t.Error("PruneOptOuts removed a permanent block")
	}
}

// testOptOutConcurrentBlock: transactions racing to block one pair, on a fresh pair and
// over an expired block, create it exactly once and lose no extension.
func testOptOutConcurrentBlock(t *testing.T, s ports.Store) {
	for _, tc := range []struct {
		name string
		old  *ports.OptOut
	}{
		{"new pair", nil},
		{"over an expired block", &ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceProvider,
			CreatedAt: at(-10 * time.Hour), ExpiresAt: ptr(at(-9 * time.Hour))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.old != nil {
				block(t, s, *tc.old)
			}
			defer lift(t, s, numA, numB, at(0))
			const workers = 20
			type result struct {
				stored  ports.OptOut
				created bool
				err     error
			}
			results := make([]result, workers)
			concurrently(workers, func(i int) {
				o := ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceKeyword,
					CreatedAt: at(0), ExpiresAt: ptr(at(time.Duration(i+1) * time.Hour))}
				r := &results[i]
				r.err = s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
					var err error
					r.stored, r.created, err = tx.BlockOptOut(ctx, o)
					return err
				})
			})
			created := 0
			for i, r := range results {
				if r.err != nil {
					t.Errorf("worker %d: %v", i, r.err)
					continue
				}
				if r.created {
					created++
				}
				if r.stored.ExpiresAt == nil || r.stored.ExpiresAt.Before(at(time.Duration(i+1)*time.Hour)) {
					t.Errorf("worker %d: stored %s expires before its own block", i, optOutString(r.stored))
				}
			}
			if created != 1 {
				t.Errorf("%d of %d racing BlockOptOut calls report created, want exactly 1", created, workers)
			}
			got := listAll(t, s, ports.OptOutQuery{}, at(0))
			want := ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceKeyword, CreatedAt: at(0), ExpiresAt: ptr(at(workers * time.Hour))}
			if len(got) != 1 {
				t.Fatalf("ListOptOuts = %v, want one block", pairs(got))
			}
			checkOptOut(t, "after the race (the longest expiry wins)", got[0], want)
		})
	}
}

func testBlockedPairs(t *testing.T, s ports.Store) {
	block(t, s, ports.OptOut{Sender: numA, Recipient: numB, Source: optout.SourceKeyword, CreatedAt: at(0)})
	block(t, s, ports.OptOut{Sender: numA, Recipient: numC, Source: optout.SourceSMSApp, CreatedAt: at(0), ExpiresAt: ptr(at(time.Hour))})
	block(t, s, ports.OptOut{Sender: numB, Recipient: numA, Source: optout.SourceSMSApp, CreatedAt: at(0), ExpiresAt: ptr(at(30 * time.Minute))})
	pair := func(sender, recipient string) ports.OptOutPair {
		return ports.OptOutPair{Sender: sender, Recipient: recipient}
	}
	asked := []ports.OptOutPair{
		pair(numA, numB), pair(numA, numC), pair(numB, numA), pair(numC, numA), pair(numB, numC),
		pair(numA, numB), // twice
	}
	tests := []struct {
		name  string
		pairs []ports.OptOutPair
		now   time.Time
		want  []ports.OptOutPair
	}{
		{"some blocked, one expired", asked, at(45 * time.Minute), []ports.OptOutPair{pair(numA, numB), pair(numA, numC)}},
		{"at the timed block's expiry", asked, at(time.Hour), []ports.OptOutPair{pair(numA, numB)}},
		{"before any expiry", asked, at(time.Minute), []ports.OptOutPair{pair(numA, numB), pair(numA, numC), pair(numB, numA)}},
		{"none blocked", []ports.OptOutPair{pair(numC, numA), pair(numB, numC)}, at(0), nil},
		{"empty input", nil, at(0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[ports.OptOutPair]bool
			inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
				var err error
				got, err = tx.BlockedPairs(ctx, tc.pairs, tc.now)
				return err
			})
			want := map[ports.OptOutPair]bool{}
			for _, p := range tc.want {
				want[p] = true
			}
			if len(got) != len(want) || !maps.Equal(got, want) {
				t.Errorf("BlockedPairs = %v, want %v", got, want)
			}
		})
	}
}

// --- rate limits ------------------------------------------------------------------------

// hit runs one Limiter.Hit in a transaction of its own.
func hit(t *testing.T, s ports.Store, w ratelimit.Window, now time.Time, demands ...ports.RateDemand) []ports.RateGrant {
	t.Helper()
	var grants []ports.RateGrant
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		var err error
		grants, err = tx.Hit(ctx, w, now, demands)
		return err
	})
	if len(grants) != len(demands) {
		t.Fatalf("Hit(%v) = %d grants, want one per demand", demands, len(grants))
	}
	return grants
}

func demand(key string, n int) ports.RateDemand { return ports.RateDemand{Key: key, N: n} }

func grant(admitted int, retry time.Duration) ports.RateGrant {
	return ports.RateGrant{Admitted: admitted, RetryAfter: retry}
}

// testRateLimitWindow walks one key's log through the sliding window, each step in a
// transaction of its own, against the rule of core/ratelimit.
func testRateLimitWindow(t *testing.T, s ports.Store) {
	w := ratelimit.Window{Limit: 3, Period: time.Minute}
	steps := []struct {
		name string
		at   time.Duration
		n    int
		want ports.RateGrant
	}{
		{"first hit", 0, 1, grant(1, 0)},
		{"second", 10 * time.Second, 1, grant(1, 0)},
		{"two with room for one", 20 * time.Second, 2, grant(1, 40*time.Second)}, // log 0s, 10s, 20s
		{"full", 30 * time.Second, 1, grant(0, 30*time.Second)},
		{"the 0s hit is exactly a period old: gone", time.Minute, 1, grant(1, 0)}, // log 10s, 20s, 60s
		{"full again at the same instant", time.Minute, 1, grant(0, 10*time.Second)},
		{"N = 0 refuses nothing", 70 * time.Second, 0, grant(0, 0)}, // log 20s, 60s
		{"more than the room", 70 * time.Second, 5, grant(1, 10*time.Second)},
		{"a millisecond before room opens", 80*time.Second - time.Millisecond, 1, grant(0, time.Millisecond)},
		{"all left the window", 10 * time.Minute, 3, grant(3, 0)},
		{"refused with the window full of now", 10 * time.Minute, 1, grant(0, time.Minute)},
	}
	for _, st := range steps {
		got := hit(t, s, w, at(st.at), demand("+15550000001", st.n))
		if got[0] != st.want {
			t.Errorf("%s: Hit(N=%d at %v) = %+v, want %+v", st.name, st.n, st.at, got[0], st.want)
		}
	}
}

// testRateLimitBatch: several demands in one call are independent, answered in order.
func testRateLimitBatch(t *testing.T, s ports.Store) {
	w := ratelimit.Window{Limit: 3, Period: time.Minute}
	hit(t, s, w, at(0), demand("k1", 3))
	steps := []struct {
		name    string
		at      time.Duration
		demands []ports.RateDemand
		want    []ports.RateGrant
	}{
		{"unsorted keys", time.Second, []ports.RateDemand{demand("k3", 2), demand("k1", 1), demand("k2", 5), demand("k0", 0)},
			[]ports.RateGrant{grant(2, 0), grant(0, 59*time.Second), grant(3, time.Minute), grant(0, 0)}},
		{"again", 2 * time.Second, []ports.RateDemand{demand("k2", 1), demand("k3", 2), demand("k1", 0)},
			[]ports.RateGrant{grant(0, 59*time.Second), grant(1, 59*time.Second), grant(0, 0)}},
		{"keys compare bytewise", 3 * time.Second, []ports.RateDemand{demand("b", 1), demand("B", 2), demand("a", 4), demand("ä", 1)},
			[]ports.RateGrant{grant(1, 0), grant(2, 0), grant(3, time.Minute), grant(1, 0)}},
		{"k1's hits left", time.Minute, []ports.RateDemand{demand("k3", 1), demand("k1", 4)},
			[]ports.RateGrant{grant(0, time.Second), grant(3, time.Minute)}},
		{"no demands", time.Minute, nil, []ports.RateGrant{}},
	}
	for _, st := range steps {
		got := hit(t, s, w, at(st.at), st.demands...)
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: Hit(%v) = %+v, want %+v", st.name, st.demands, got, st.want)
		}
	}
}

func testRateLimitInvalid(t *testing.T, s ports.Store) {
	w := ratelimit.Window{Limit: 3, Period: time.Minute}
	tests := []struct {
		name    string
		demands []ports.RateDemand
	}{
		{"duplicate key", []ports.RateDemand{demand("k1", 1), demand("k2", 1), demand("k1", 1)}},
		{"duplicate key with N = 0", []ports.RateDemand{demand("k1", 0), demand("k1", 0)}},
		{"negative N", []ports.RateDemand{demand("k1", 1), demand("k2", -1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
				_, err := tx.Hit(ctx, w, at(0), tc.demands)
				return err
			})
			wantErr(t, "Hit", err, ports.ErrInvalid)
		})
	}
	if got := hit(t, s, w, at(0), demand("k1", 3), demand("k2", 3)); !slices.Equal(got, []ports.RateGrant{grant(3, 0), grant(3, 0)}) {
		t.Errorf("Hit after the invalid calls = %+v, want all admitted (they counted nothing)", got)
	}
}

func testRateLimitRollback(t *testing.T, s ports.Store) {
	w := ratelimit.Window{Limit: 3, Period: time.Minute}
	hit(t, s, w, at(0), demand("k", 1))
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		if _, err := tx.Hit(ctx, w, at(time.Second), []ports.RateDemand{demand("k", 2), demand("other", 3)}); err != nil {
			return err
		}
		// The transaction sees its own hits.
		got, err := tx.Hit(ctx, w, at(time.Second), []ports.RateDemand{demand("k", 1)})
		if err != nil {
			return err
		}
		if got[0] != grant(0, 59*time.Second) {
			t.Errorf("Hit in the same transaction = %+v, want %+v", got[0], grant(0, 59*time.Second))
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	got := hit(t, s, w, at(2*time.Second), demand("k", 3), demand("other", 3))
	if want := []ports.RateGrant{grant(2, 58*time.Second), grant(3, 0)}; !slices.Equal(got, want) {
		t.Errorf("Hit after the rollback = %+v, want %+v (the rolled-back hits counted)", got, want)
	}
}

// testRateLimitConcurrent: transactions racing on one key admit exactly Limit in total.
func testRateLimitConcurrent(t *testing.T, s ports.Store) {
	const workers, limit = 40, 10
	w := ratelimit.Window{Limit: limit, Period: time.Minute}
	admitted := make([]int, workers)
	errs := make([]error, workers)
	concurrently(workers, func(i int) {
		errs[i] = s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
			g, err := tx.Hit(ctx, w, at(time.Duration(i)*time.Millisecond), []ports.RateDemand{demand("hot", 1)})
			if err == nil {
				admitted[i] = g[0].Admitted
			}
			return err
		})
	})
	total := 0
	for i := range workers {
		if errs[i] != nil {
			t.Errorf("worker %d: %v", i, errs[i])
		}
		total += admitted[i]
	}
	if total != limit {
		t.Errorf("%d racing transactions admitted %d hits, want exactly %d", workers, total, limit)
	}
	if got := hit(t, s, w, at(time.Second), demand("hot", 1)); got[0].Admitted != 0 {
		t.Errorf("Hit after the race = %+v, want the window full", got[0])
	}
}

// testRateLimitOverlappingKeys: transactions hitting overlapping key sets, each listing its
// keys in another order and holding the locks until it commits, neither deadlock nor lose
// a hit.
func testRateLimitOverlappingKeys(t *testing.T, s ports.Store) {
	const workers, limit = 30, 20
	keys := []string{"k-a", "k-b", "k-c", "k-d", "k-e"}
	w := ratelimit.Window{Limit: limit, Period: time.Hour}
	demanded := map[string]int{}
	sets := make([][]ports.RateDemand, workers)
	for i := range workers {
		// Three keys from a rotating start, forwards or backwards.
		for j := range 3 {
			k := keys[(i+j)%len(keys)]
			if i%2 == 1 {
				k = keys[(i+len(keys)-j)%len(keys)]
			}
			sets[i] = append(sets[i], demand(k, 1))
			demanded[k]++
		}
	}
	admitted := make([]map[string]int, workers)
	errs := make([]error, workers)
	concurrently(workers, func(i int) {
		errs[i] = s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
			admitted[i] = map[string]int{}
			g, err := tx.Hit(ctx, w, at(time.Duration(i)*time.Millisecond), sets[i])
			if err != nil {
				return err
			}
			for j, d := range sets[i] {
				admitted[i][d.Key] = g[j].Admitted
			}
			return nil
		})
	})
	total := map[string]int{}
	for i := range workers {
		if errs[i] != nil {
			t.Errorf("worker %d (%v): %v", i, sets[i], errs[i])
		}
		for k, n := range admitted[i] {
			total[k] += n
		}
	}
	for _, k := range keys {
		if want := min(limit, demanded[k]); total[k] != want {
			t.Errorf("key %s: %d admitted of %d demanded, want %d", k, total[k], demanded[k], want)
		}
	}
	// Every log holds exactly what was admitted.
	for _, k := range keys {
		room := limit - total[k]
		if got := hit(t, s, w, at(time.Minute), demand(k, limit)); got[0].Admitted != room {
			t.Errorf("key %s: %d admitted after the race, want the %d left", k, got[0].Admitted, room)
		}
	}
}

func testPruneRateLogs(t *testing.T, s ports.Store) {
	w := ratelimit.Window{Limit: 1, Period: time.Hour}
	hit(t, s, w, at(0), demand("old", 1), demand("empty", 0))
	hit(t, s, w, at(time.Minute), demand("edge", 1))
	hit(t, s, w, at(time.Minute+time.Millisecond), demand("recent", 1))
	if n, err := s.PruneRateLogs(t.Context(), at(time.Minute)); err != nil || n != 3 {
		t.Fatalf("PruneRateLogs = %d, %v; want 3 (old, edge, empty)", n, err)
	}
	// The pruned logs are gone although their hits were still in the window; the recent one
	// still counts.
	got := hit(t, s, w, at(2*time.Minute), demand("old", 1), demand("edge", 1), demand("recent", 1))
	if want := []ports.RateGrant{grant(1, 0), grant(1, 0), grant(0, 59*time.Minute+time.Millisecond)}; !slices.Equal(got, want) {
		t.Errorf("Hit after the prune = %+v, want %+v", got, want)
	}
	if n, err := s.PruneRateLogs(t.Context(), at(time.Minute)); err != nil || n != 0 {
		t.Errorf("PruneRateLogs again = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneRateLogs(t.Context(), at(3*time.Minute)); err != nil || n != 3 {
		t.Errorf("PruneRateLogs(later) = %d, %v; want 3", n, err)
	}
}

// --- idempotency keys --------------------------------------------------------------------

const (
	idemTTL   = 24 * time.Hour
	idemLease = 30 * time.Second
)

// idemRecord is the claim of key by the request of message msgID at created.
func idemRecord(account, key, msgID string, created time.Time) ports.IdempotencyRecord {
	return ports.IdempotencyRecord{AccountID: account, Key: key, RequestHash: "hash-" + msgID, MessageID: msgID,
		CreatedAt: created, LeaseUntil: created.Add(idemLease)}
}

func claim(t *testing.T, s ports.Store, r ports.IdempotencyRecord) (ports.IdempotencyRecord, bool) {
	t.Helper()
	got, claimed, err := s.ClaimIdempotencyKey(t.Context(), r, idemTTL)
	if err != nil {
		t.Fatalf("ClaimIdempotencyKey(%s/%s by %s): %v", r.AccountID, r.Key, r.MessageID, err)
	}
	return got, claimed
}

func acceptKey(t *testing.T, s ports.Store, account, key, msgID string) bool {
	t.Helper()
	var ok bool
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		var err error
		ok, err = tx.AcceptIdempotencyKey(ctx, account, key, msgID)
		return err
	})
	return ok
}

func releaseKey(t *testing.T, s ports.Store, account, key, msgID string) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		return tx.ReleaseIdempotencyKey(ctx, account, key, msgID)
	})
}

func idemString(r ports.IdempotencyRecord) string {
	return fmt.Sprintf("%s/%s %s %s accepted=%v %s lease %s", r.AccountID, r.Key, r.RequestHash, r.MessageID, r.Accepted,
		ms(r.CreatedAt), ms(r.LeaseUntil))
}

func checkIdem(t *testing.T, what string, got, want ports.IdempotencyRecord) {
	t.Helper()
	if g, w := idemString(got), idemString(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
	if got.CreatedAt.Location() != time.UTC || got.LeaseUntil.Location() != time.UTC {
		t.Errorf("%s: times %v, %v not in UTC", what, got.CreatedAt, got.LeaseUntil)
	}
}

// testIdempotencyClaims runs claim histories, one key each: every step is a claim (want
// claimed or the record of wantMsg in force), an accept (want ok) or a release.
func testIdempotencyClaims(t *testing.T, s ports.Store) {
	type step struct {
		op      string // "claim", "accept", "release"
		account string // accountA if empty
		msg     string
		at      time.Duration // of a claim
		// claim: claimed (want msg's record) or the record of wantMsg in force with
		// wantAccepted; accept: ok reports whether it changed the claim.
		ok           bool
		wantMsg      string
		wantAccepted bool
	}
	claimed := func(msg string, at time.Duration) step { return step{op: "claim", msg: msg, at: at, ok: true} }
	refused := func(msg string, at time.Duration, inForce string, accepted bool) step {
		return step{op: "claim", msg: msg, at: at, wantMsg: inForce, wantAccepted: accepted}
	}
	accept := func(msg string, ok bool) step { return step{op: "accept", msg: msg, ok: ok} }
	release := func(msg string) step { return step{op: "release", msg: msg} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"fresh key", []step{claimed("m1", 0)}},
		{"claimed key", []step{claimed("m1", 0), refused("m2", time.Second, "m1", false), refused("m3", idemLease-time.Millisecond, "m1", false)}},
		{"accepted key", []step{claimed("m1", 0), accept("m1", true), refused("m2", time.Hour, "m1", true), accept("m1", true)}},
		{"accepted key just before its ttl", []step{claimed("m1", 0), accept("m1", true), refused("m2", idemTTL-time.Millisecond, "m1", true)}},
		{"accepted key at its ttl", []step{claimed("m1", 0), accept("m1", true), claimed("m2", idemTTL), refused("m3", idemTTL+time.Second, "m2", false)}},
		{"abandoned claim at its lease end", []step{claimed("m1", 0), claimed("m2", idemLease), refused("m3", idemLease+time.Second, "m2", false)}},
		{"taken-over claim", []step{claimed("m1", 0), claimed("m2", time.Hour), accept("m1", false), release("m1"),
			refused("m3", time.Hour+time.Second, "m2", false), accept("m2", true), refused("m3", 2*time.Hour, "m2", true)}},
		{"released claim", []step{claimed("m1", 0), release("m1"), claimed("m2", time.Second), refused("m3", 2*time.Second, "m2", false)}},
		{"release of an accepted key", []step{claimed("m1", 0), accept("m1", true), release("m1"), refused("m2", time.Second, "m1", true)}},
		{"accept by another request", []step{claimed("m1", 0), accept("m9", false), refused("m2", time.Second, "m1", false)}},
		{"release by another request", []step{claimed("m1", 0), release("m9"), refused("m2", time.Second, "m1", false)}},
		{"accept of an unknown key", []step{accept("m1", false), claimed("m2", 0)}},
		{"keys are per account", []step{claimed("m1", 0), {op: "claim", account: accountB, msg: "m2", at: time.Second, ok: true},
			refused("m3", 2*time.Second, "m1", false), {op: "accept", account: accountB, msg: "m1", ok: false},
			{op: "claim", account: accountB, msg: "m4", at: 2 * time.Second, wantMsg: "m2"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "key " + tc.name
			stored := map[string]ports.IdempotencyRecord{} // by message id
			for i, st := range tc.steps {
				account := cmp.Or(st.account, accountA)
				what := fmt.Sprintf("step %d (%s %s by %s)", i, st.op, account, st.msg)
				switch st.op {
				case "claim":
					r := idemRecord(account, key, st.msg, at(st.at+250*time.Microsecond))
					got, ok := claim(t, s, r)
					if ok != st.ok {
						t.Fatalf("%s: claimed = %v, want %v (record in force %s)", what, ok, st.ok, idemString(got))
					}
					if ok {
						checkIdem(t, what, got, r)
						stored[st.msg] = r
						continue
					}
					want := stored[st.wantMsg]
					want.Accepted = st.wantAccepted
					checkIdem(t, what, got, want)
				case "accept":
					if ok := acceptKey(t, s, account, key, st.msg); ok != st.ok {
						t.Errorf("%s: Accept = %v, want %v", what, ok, st.ok)
					}
				case "release":
					releaseKey(t, s, account, key, st.msg)
				}
			}
		})
	}
}

func testIdempotencyRollback(t *testing.T, s ports.Store) {
	for _, key := range []string{"accepted", "released"} {
		claim(t, s, idemRecord(accountA, key, "m1", at(0)))
	}
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		if ok, err := tx.AcceptIdempotencyKey(ctx, accountA, "accepted", "m1"); err != nil || !ok {
			return fmt.Errorf("accept: %v, %w", ok, err)
		}
		if err := tx.ReleaseIdempotencyKey(ctx, accountA, "released", "m1"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	for _, key := range []string{"accepted", "released"} {
		got, claimed := claim(t, s, idemRecord(accountA, key, "m2", at(time.Second)))
		if claimed || got.MessageID != "m1" || got.Accepted {
			t.Errorf("%s in a rolled-back transaction: claim = %s, %v; want m1's unaccepted claim in force", key, idemString(got), claimed)
		}
	}
}

// testIdempotencyConcurrentClaim: of racing claims of one key exactly one wins, and every
// loser gets the winner's record, on a fresh key and over an abandoned claim.
func testIdempotencyConcurrentClaim(t *testing.T, s ports.Store) {
	for _, tc := range []struct {
		name string
		old  *ports.IdempotencyRecord
	}{
		{"fresh key", nil},
		{"over an abandoned claim", ptrTo(idemRecord(accountA, "over an abandoned claim", "old", at(-time.Hour)))},
		{"over an expired accepted key", ptrTo(idemRecord(accountA, "over an expired accepted key", "old", at(-idemTTL)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.old != nil {
				claim(t, s, *tc.old)
				if tc.old.CreatedAt.Equal(at(-idemTTL)) {
					acceptKey(t, s, accountA, tc.name, "old")
				}
			}
			const workers = 20
			type result struct {
				rec     ports.IdempotencyRecord
				claimed bool
				err     error
			}
			results := make([]result, workers)
			concurrently(workers, func(i int) {
				r := &results[i]
				r.rec, r.claimed, r.err = s.ClaimIdempotencyKey(t.Context(),
					idemRecord(accountA, tc.name, "w"+strconv.Itoa(i), at(time.Duration(i)*time.Millisecond)), idemTTL)
			})
			var winners []string
			for i, r := range results {
				if r.err != nil {
					t.Errorf("claim %d: %v", i, r.err)
				}
				if r.claimed {
					winners = append(winners, r.rec.MessageID)
				}
			}
			if len(winners) != 1 {
				t.Fatalf("winners %v of %d racing claims, want exactly one", winners, workers)
			}
			for i, r := range results {
				if r.err == nil && (r.rec.MessageID != winners[0] || r.rec.Accepted) {
					t.Errorf("claim %d got %s, want the winner %s's claim", i, idemString(r.rec), winners[0])
				}
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

func testPruneIdempotencyKeys(t *testing.T, s ports.Store) {
	created := []time.Duration{0, time.Hour, 2 * time.Hour, 2*time.Hour + time.Millisecond, 3 * time.Hour}
	for i, d := range created {
		key := "key" + strconv.Itoa(i)
		claim(t, s, idemRecord(accountA, key, "m1", at(d)))
		acceptKey(t, s, accountA, key, "m1")
	}
	if n, err := s.PruneIdempotencyKeys(t.Context(), at(2*time.Hour)); err != nil || n != 3 {
		t.Fatalf("PruneIdempotencyKeys = %d, %v; want 3", n, err)
	}
	if n, err := s.PruneIdempotencyKeys(t.Context(), at(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneIdempotencyKeys again = %d, %v; want 0", n, err)
	}
	for i, d := range created {
		_, claimed := claim(t, s, idemRecord(accountA, "key"+strconv.Itoa(i), "m2", at(4*time.Hour)))
		if pruned := d <= 2*time.Hour; claimed != pruned {
			t.Errorf("key created at +%v: claimed = %v after the prune, want %v", d, claimed, pruned)
		}
	}
}
