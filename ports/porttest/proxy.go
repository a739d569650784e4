package porttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// Pool numbers of the proxy cases. pool10 sorts before pool2 bytewise although 10 > 2, so
// "number order" is seen to be the strings' order.
const (
	pool1  = "+15551000001"
	pool2  = "+15551000002"
	pool3  = "+15551000003"
	pool10 = "+155510000010"
	poolB  = "+15552000001" // account B's
)

// participant is the i-th participant number of the proxy cases.
func participant(i int) string { return fmt.Sprintf("+4477009%05d", i) }

func poolNumber(number, account string) proxy.Number {
	return proxy.Number{Number: number, Provider: "p1", AccountID: account, CreatedAt: at(0)}
}

// session builds a session of account on number between participants a and b, created at
// created, expiring at expires (nil: never).
func session(id, account, number string, a, b int, created time.Time, expires *time.Time) proxy.Session {
	return proxy.Session{ID: id, AccountID: account, ProxyNumber: number, ParticipantA: participant(a), ParticipantB: participant(b),
		CreatedAt: created, ExpiresAt: expires}
}

func addNumbers(t *testing.T, s ports.Store, ns ...proxy.Number) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		for _, n := range ns {
			if err := tx.AddProxyNumber(ctx, n); err != nil {
				return fmt.Errorf("add %s: %w", n.Number, err)
			}
		}
		return nil
	})
}

func insertSessions(t *testing.T, s ports.Store, ss ...proxy.Session) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		for _, ps := range ss {
			if err := tx.InsertProxySession(ctx, ps); err != nil {
				return fmt.Errorf("insert %s: %w", ps.ID, err)
			}
		}
		return nil
	})
}

// closeSession runs CloseProxySession in a transaction of its own.
func closeSession(t *testing.T, s ports.Store, account, id string, at time.Time) (proxy.Session, bool, error) {
	t.Helper()
	var (
		got    proxy.Session
		closed bool
	)
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		var err error
		got, closed, err = tx.CloseProxySession(ctx, account, id, at)
		return err
	})
	return got, closed, err
}

func lockPool(t *testing.T, s ports.Store, account string, now time.Time) []proxy.Usage {
	t.Helper()
	var pool []proxy.Usage
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		var err error
		pool, err = tx.LockProxyPool(ctx, account, now)
		return err
	})
	return pool
}

func listNumbers(t *testing.T, s ports.Store, account string, now time.Time) []proxy.Usage {
	t.Helper()
	pool, err := s.ListProxyNumbers(t.Context(), account, now)
	if err != nil {
		t.Fatalf("ListProxyNumbers(%s): %v", account, err)
	}
	return pool
}

// usageStrings renders a pool for comparison: each number with its fields (creation time at
// millisecond precision) and its participants, sorted (their order is not specified).
func usageStrings(pool []proxy.Usage) []string {
	out := make([]string, len(pool))
	for i, u := range pool {
		ps := slices.Sorted(slices.Values(u.Participants))
		n := u.Number
		out[i] = fmt.Sprintf("%s %s %s %s [%s]", n.Number, n.Provider, n.AccountID, ms(n.CreatedAt), strings.Join(ps, " "))
	}
	return out
}

// usage is the expected rendering of a pool number with the participants of its open sessions.
func usage(n proxy.Number, participants ...int) string {
	ps := make([]string, len(participants))
	for i, p := range participants {
		ps[i] = participant(p)
	}
	slices.Sort(ps)
	return fmt.Sprintf("%s %s %s %s [%s]", n.Number, n.Provider, n.AccountID, ms(n.CreatedAt), strings.Join(ps, " "))
}

func checkPool(t *testing.T, what string, got []proxy.Usage, want ...string) {
	t.Helper()
	if g := usageStrings(got); !slices.Equal(g, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, g, want)
	}
	for _, u := range got {
		if u.Number.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: number %s created at %v, not in UTC", what, u.Number.Number, u.Number.CreatedAt)
		}
	}
}

func optTime(p *time.Time) string {
	if p == nil {
		return "<nil>"
	}
	return ms(*p)
}

func sessionString(s proxy.Session) string {
	return fmt.Sprintf("%s %s %s %s↔%s %s..%s closed %s", s.ID, s.AccountID, s.ProxyNumber, s.ParticipantA, s.ParticipantB,
		ms(s.CreatedAt), optTime(s.ExpiresAt), optTime(s.ClosedAt))
}

// checkSession compares got with want at millisecond precision and checks its times are UTC.
func checkSession(t *testing.T, what string, got, want proxy.Session) {
	t.Helper()
	if g, w := sessionString(got), sessionString(want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
	for _, p := range []*time.Time{&got.CreatedAt, got.ExpiresAt, got.ClosedAt} {
		if p != nil && p.Location() != time.UTC {
			t.Errorf("%s: time %v not in UTC", what, *p)
		}
	}
}

func sessionIDs(ss []proxy.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func closedAt(s proxy.Session, at time.Time) proxy.Session {
	s.ClosedAt = &at
	return s
}

// --- numbers -------------------------------------------------------------------------------

func testProxyAddNumbers(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	a1, a2, a10 := poolNumber(pool1, accountA), poolNumber(pool2, accountA), poolNumber(pool10, accountA)
	a2.Provider, a2.CreatedAt = "p2", at(time.Minute+250*time.Microsecond)
	b := poolNumber(poolB, accountB)
	addNumbers(t, s, a2, b)

	// Conflicts leave the transaction usable: its other additions commit.
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.AddProxyNumber(ctx, a10); err != nil {
			return err
		}
		dup := a2
		dup.Provider = "p3"
		wantErr(t, "AddProxyNumber(already in the pool)", tx.AddProxyNumber(ctx, dup), ports.ErrConflict)
		wantErr(t, "AddProxyNumber(in another account's pool)", tx.AddProxyNumber(ctx, poolNumber(poolB, accountA)), ports.ErrConflict)
		wantErr(t, "AddProxyNumber(added in this transaction)", tx.AddProxyNumber(ctx, a10), ports.ErrConflict)
		return tx.AddProxyNumber(ctx, a1)
	})
	for _, tc := range []struct {
		name string
		n    proxy.Number
	}{
		{"empty number", proxy.Number{Provider: "p1", AccountID: accountA, CreatedAt: at(0)}},
		{"empty provider", proxy.Number{Number: pool3, AccountID: accountA, CreatedAt: at(0)}},
		{"empty account", proxy.Number{Number: pool3, Provider: "p1", CreatedAt: at(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error { return tx.AddProxyNumber(ctx, tc.n) })
			wantErr(t, "AddProxyNumber", err, ports.ErrInvalid)
		})
	}
	insertSessions(t, s, session("s1", accountA, pool2, 1, 2, at(0), nil), session("s2", accountA, pool2, 3, 4, at(0), ptr(at(time.Hour))))

	checkPool(t, "ListProxyNumbers(A)", listNumbers(t, s, accountA, at(30*time.Minute)),
		usage(a1), usage(a10), usage(a2, 1, 2, 3, 4))
	checkPool(t, "ListProxyNumbers(A) after s2 expired", listNumbers(t, s, accountA, at(time.Hour)),
		usage(a1), usage(a10), usage(a2, 1, 2))
	checkPool(t, "ListProxyNumbers(B)", listNumbers(t, s, accountB, at(0)), usage(b))
	if got := listNumbers(t, s, "acct-none", at(0)); len(got) != 0 {
		t.Errorf("ListProxyNumbers(account without a pool) = %q, want none", usageStrings(got))
	}
}

func testProxyGetNumber(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	a := poolNumber(pool1, accountA)
	a.CreatedAt = at(time.Second).In(time.FixedZone("E", 3600))
	b := poolNumber(poolB, accountB)
	b.Provider = "p2"
	addNumbers(t, s, a, b)
	for _, tc := range []struct {
		name, number string
		want         *proxy.Number
	}{
		{"account A's", pool1, &a},
		{"account B's", poolB, &b},
		{"unknown", pool3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				got proxy.Number
				err error
			)
			inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
				got, err = tx.GetProxyNumber(ctx, tc.number)
				return nil
			})
			if tc.want == nil {
				wantErr(t, "GetProxyNumber", err, ports.ErrNotFound)
				return
			}
			if err != nil {
				t.Fatalf("GetProxyNumber: %v", err)
			}
			checkPool(t, "GetProxyNumber", []proxy.Usage{{Number: got}}, usage(*tc.want))
		})
	}
}

func testProxyRemoveNumber(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	a1, a2, b := poolNumber(pool1, accountA), poolNumber(pool2, accountA), poolNumber(poolB, accountB)
	addNumbers(t, s, a1, a2, b)
	old := session("old", accountA, pool1, 1, 2, at(0), nil)
	insertSessions(t, s, old)
	if _, closed, err := closeSession(t, s, accountA, "old", at(time.Minute)); err != nil || !closed {
		t.Fatalf("CloseProxySession = %v, %v", closed, err)
	}
	remove := func(account, number string) error {
		return s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
			return tx.RemoveProxyNumber(ctx, account, number)
		})
	}
	wantErr(t, "RemoveProxyNumber(unknown)", remove(accountA, pool3), ports.ErrNotFound)
	wantErr(t, "RemoveProxyNumber(another account's)", remove(accountA, poolB), ports.ErrNotFound)
	checkPool(t, "ListProxyNumbers(B) after A tried to remove its number", listNumbers(t, s, accountB, at(0)), usage(b))

	// Inside the transaction the number is gone at once.
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.RemoveProxyNumber(ctx, accountA, pool1); err != nil {
			return err
		}
		_, err := tx.GetProxyNumber(ctx, pool1)
		wantErr(t, "GetProxyNumber(removed in this transaction)", err, ports.ErrNotFound)
		pool, err := tx.LockProxyPool(ctx, accountA, at(time.Hour))
		checkPool(t, "LockProxyPool after the removal", pool, usage(a2))
		return err
	})
	checkPool(t, "ListProxyNumbers(A) after the removal", listNumbers(t, s, accountA, at(time.Hour)), usage(a2))
	wantErr(t, "RemoveProxyNumber(again)", remove(accountA, pool1), ports.ErrNotFound)

	got, err := s.GetProxySession(t.Context(), accountA, "old")
	if err != nil {
		t.Fatalf("GetProxySession(session of the removed number): %v", err)
	}
	checkSession(t, "session of the removed number", got, closedAt(old, at(time.Minute)))
	page, err := s.ListProxySessions(t.Context(), accountA, ports.ProxySessionQuery{Closed: true, Limit: 10}, at(time.Hour))
	if err != nil || !slices.Equal(sessionIDs(page.Items), []string{"old"}) {
		t.Errorf("ListProxySessions(closed) = %v, %v; want the removed number's session", sessionIDs(page.Items), err)
	}
	// The number is free again, for any account.
	addNumbers(t, s, poolNumber(pool1, accountB))
	checkPool(t, "ListProxyNumbers(B) after taking the number", listNumbers(t, s, accountB, at(time.Hour)),
		usage(poolNumber(pool1, accountB)), usage(b))
}

// testProxyPoolUsage: a number's usage counts its sessions open at now only — not closed
// ones, nor those expired at or before now — and a pool holds its own account's numbers.
func testProxyPoolUsage(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	n1, n2, n3, nb := poolNumber(pool1, accountA), poolNumber(pool2, accountA), poolNumber(pool3, accountA), poolNumber(poolB, accountB)
	addNumbers(t, s, n3, nb, n1, n2)
	insertSessions(t, s,
		session("open", accountA, pool1, 1, 2, at(0), nil),
		session("till2h", accountA, pool1, 3, 4, at(0), ptr(at(2*time.Hour))),
		session("closed", accountA, pool2, 1, 3, at(0), nil),
		session("till1h", accountA, pool2, 5, 6, at(0), ptr(at(time.Hour))),
		session("till1h+1ms", accountA, pool3, 7, 8, at(0), ptr(at(time.Hour+time.Millisecond))),
		session("b", accountB, poolB, 1, 2, at(0), nil),
	)
	if _, closed, err := closeSession(t, s, accountA, "closed", at(time.Minute)); err != nil || !closed {
		t.Fatalf("CloseProxySession = %v, %v", closed, err)
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		want []string
	}{
		{"before any expiry", at(30 * time.Minute), []string{usage(n1, 1, 2, 3, 4), usage(n2, 5, 6), usage(n3, 7, 8)}},
		{"exactly at an expiry", at(time.Hour), []string{usage(n1, 1, 2, 3, 4), usage(n2), usage(n3, 7, 8)}},
		{"just after", at(time.Hour + time.Millisecond), []string{usage(n1, 1, 2, 3, 4), usage(n2), usage(n3)}},
		{"later", at(3 * time.Hour), []string{usage(n1, 1, 2), usage(n2), usage(n3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkPool(t, "LockProxyPool", lockPool(t, s, accountA, tc.now), tc.want...)
			checkPool(t, "ListProxyNumbers", listNumbers(t, s, accountA, tc.now), tc.want...)
		})
	}
	checkPool(t, "LockProxyPool(B)", lockPool(t, s, accountB, at(0)), usage(nb, 1, 2))
	if got := lockPool(t, s, "acct-none", at(0)); len(got) != 0 {
		t.Errorf("LockProxyPool(account without a pool) = %q, want none", usageStrings(got))
	}
}

// allocation is what one worker of the concurrent allocation cases got.
type allocation struct {
	a, b   string
	number string // "" = none free
	err    error
}

// allocateConcurrently runs one transaction per pair at once, each locking account A's pool,
// picking a number under mode and inserting a session on it, the way the use case does.
func allocateConcurrently(t *testing.T, s ports.Store, mode proxy.Allocation, pairs [][2]int) []allocation {
	t.Helper()
	now := at(time.Hour)
	results := make([]allocation, len(pairs))
	concurrently(len(pairs), func(i int) {
		r := &results[i]
		r.a, r.b = participant(pairs[i][0]), participant(pairs[i][1])
		r.err = s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
			pool, err := tx.LockProxyPool(ctx, accountA, now)
			if err != nil {
				return err
			}
			n, ok := proxy.Allocate(mode, pool, r.a, r.b)
			if !ok {
				return nil
			}
			r.number = n.Number
			return tx.InsertProxySession(ctx, proxy.Session{ID: fmt.Sprintf("w%02d", i), AccountID: accountA, ProxyNumber: n.Number,
				ParticipantA: r.a, ParticipantB: r.b, CreatedAt: now})
		})
	})
	for i, r := range results {
		if r.err != nil {
			t.Errorf("worker %d (%s↔%s): %v", i, r.a, r.b, r.err)
		}
	}
	return results
}

// testProxyConcurrentExclusive: allocations racing for a pool of 3 in exclusive mode get
// one number each, 3 of them; the others find none.
func testProxyConcurrentExclusive(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	addNumbers(t, s, poolNumber(pool1, accountA), poolNumber(pool2, accountA), poolNumber(pool3, accountA))
	const workers = 20
	pairs := make([][2]int, workers)
	for i := range pairs {
		pairs[i] = [2]int{2 * i, 2*i + 1}
	}
	got := map[string]int{}
	for _, r := range allocateConcurrently(t, s, proxy.Exclusive, pairs) {
		if r.number != "" {
			got[r.number]++
		}
	}
	if len(got) != 3 || got[pool1] != 1 || got[pool2] != 1 || got[pool3] != 1 {
		t.Errorf("numbers allocated %v, want each of the 3 exactly once", got)
	}
	for _, u := range listNumbers(t, s, accountA, at(time.Hour)) {
		if u.Sessions() != 1 {
			t.Errorf("%s has %d open sessions, want 1 (exclusive)", u.Number.Number, u.Sessions())
		}
	}
}

// testProxyConcurrentShared: allocations racing in shared mode, with participants in several
// sessions at once, never give one participant one number twice; and each that found none
// still finds none against the final pool (sessions only add up, so "none" stays true).
func testProxyConcurrentShared(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	addNumbers(t, s, poolNumber(pool1, accountA), poolNumber(pool2, accountA), poolNumber(pool3, accountA))
	// Every pair of 6 participants, then the first ones again: 20 sessions asked, at most 9
	// fit (3 numbers × 3 disjoint pairs).
	var all [][2]int
	for a := range 6 {
		for b := a + 1; b < 6; b++ {
			all = append(all, [2]int{a, b})
		}
	}
	pairs := slices.Concat(all, all[:5])
	results := allocateConcurrently(t, s, proxy.Shared, pairs)
	final := listNumbers(t, s, accountA, at(time.Hour))
	allocated := 0
	for _, u := range final {
		allocated += u.Sessions()
		seen := map[string]bool{}
		for _, p := range u.Participants {
			if seen[p] {
				t.Errorf("%s: %s holds it in two open sessions (%q)", u.Number.Number, p, u.Participants)
			}
			seen[p] = true
		}
	}
	succeeded := 0
	for i, r := range results {
		if r.number != "" {
			succeeded++
			continue
		}
		if n, ok := proxy.Allocate(proxy.Shared, final, r.a, r.b); ok {
			t.Errorf("worker %d (%s↔%s) found no number, but %s is free for it in the final pool", i, r.a, r.b, n.Number)
		}
	}
	if succeeded == 0 || succeeded != allocated {
		t.Errorf("%d allocations succeeded, %d sessions open; want the same, and some", succeeded, allocated)
	}
}

// --- sessions ------------------------------------------------------------------------------

func testProxyInsertSession(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	good := session("s1", accountA, pool1, 1, 2, at(0), ptr(at(time.Hour)))
	for _, tc := range []struct {
		name string
		edit func(s *proxy.Session)
	}{
		{"empty id", func(s *proxy.Session) { s.ID = "" }},
		{"empty account", func(s *proxy.Session) { s.AccountID = "" }},
		{"empty proxy number", func(s *proxy.Session) { s.ProxyNumber = "" }},
		{"empty participant a", func(s *proxy.Session) { s.ParticipantA = "" }},
		{"empty participant b", func(s *proxy.Session) { s.ParticipantB = "" }},
		{"same participants", func(s *proxy.Session) { s.ParticipantB = s.ParticipantA }},
		{"expires at creation", func(s *proxy.Session) { s.ExpiresAt = ptr(s.CreatedAt) }},
		{"expires before creation", func(s *proxy.Session) { s.ExpiresAt = ptr(s.CreatedAt.Add(-time.Second)) }},
		{"expires within the creation's microsecond", func(s *proxy.Session) { s.ExpiresAt = ptr(s.CreatedAt.Add(time.Nanosecond)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := good
			tc.edit(&ps)
			err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error { return tx.InsertProxySession(ctx, ps) })
			wantErr(t, "InsertProxySession", err, ports.ErrInvalid)
		})
	}
	if page, err := s.ListProxySessions(t.Context(), accountA, ports.ProxySessionQuery{Limit: 10}, at(0)); err != nil || len(page.Items) != 0 {
		t.Errorf("invalid sessions were stored: %v, %v", sessionIDs(page.Items), err)
	}

	// Round trip, and a duplicate id leaves the transaction usable.
	zoned := session("s2", accountA, pool2, 3, 4, at(time.Second+250*time.Microsecond).In(time.FixedZone("W", -5*3600)), nil)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InsertProxySession(ctx, good); err != nil {
			return err
		}
		dup := session("s1", accountB, pool3, 5, 6, at(time.Minute), nil)
		wantErr(t, "InsertProxySession(duplicate id)", tx.InsertProxySession(ctx, dup), ports.ErrConflict)
		return tx.InsertProxySession(ctx, zoned)
	})
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error { return tx.InsertProxySession(ctx, good) })
	wantErr(t, "InsertProxySession(id stored before)", err, ports.ErrConflict)
	for _, want := range []proxy.Session{good, zoned} {
		got, err := s.GetProxySession(t.Context(), accountA, want.ID)
		if err != nil {
			t.Fatalf("GetProxySession(%s): %v", want.ID, err)
		}
		checkSession(t, "GetProxySession", got, want)
	}
}

func testProxyCloseSession(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	open := session("open", accountA, pool1, 1, 2, at(0), nil)
	expired := session("expired", accountA, pool1, 3, 4, at(0), ptr(at(30*time.Minute)))
	atExpiry := session("at-expiry", accountA, pool1, 5, 6, at(0), ptr(at(time.Hour)))
	other := session("other", accountB, poolB, 1, 2, at(0), nil)
	rolledBack := session("rolled-back", accountA, pool2, 1, 2, at(0), nil)
	insertSessions(t, s, open, expired, atExpiry, other, rolledBack)

	closedOpen := closedAt(open, at(time.Hour))
	for _, tc := range []struct {
		name, account, id string
		at                time.Time
		want              proxy.Session
		closed            bool
		err               error
	}{
		{"open", accountA, "open", at(time.Hour), closedOpen, true, nil},
		{"again", accountA, "open", at(2 * time.Hour), closedOpen, false, nil},
		{"expired", accountA, "expired", at(time.Hour), expired, false, nil},
		{"expiring at that instant", accountA, "at-expiry", at(time.Hour), atExpiry, false, nil},
		{"another account's", accountA, "other", at(time.Hour), proxy.Session{}, false, ports.ErrNotFound},
		{"unknown", accountA, "nope", at(time.Hour), proxy.Session{}, false, ports.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, closed, err := closeSession(t, s, tc.account, tc.id, tc.at)
			if tc.err != nil {
				wantErr(t, "CloseProxySession", err, tc.err)
				return
			}
			if err != nil {
				t.Fatalf("CloseProxySession: %v", err)
			}
			if closed != tc.closed {
				t.Errorf("closed = %v, want %v", closed, tc.closed)
			}
			checkSession(t, "CloseProxySession", got, tc.want)
			stored, err := s.GetProxySession(t.Context(), tc.account, tc.id)
			if err != nil {
				t.Fatalf("GetProxySession: %v", err)
			}
			checkSession(t, "stored", stored, tc.want)
		})
	}
	if got, err := s.GetProxySession(t.Context(), accountB, "other"); err != nil || !got.Open(at(time.Hour)) {
		t.Errorf("B's session after A tried to close it: %s, %v; want it open", sessionString(got), err)
	}
	err := s.InTx(t.Context(), func(ctx context.Context, tx ports.Tx) error {
		if _, closed, err := tx.CloseProxySession(ctx, accountA, "rolled-back", at(time.Hour)); err != nil || !closed {
			return fmt.Errorf("close: %v, %w", closed, err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	if got, err := s.GetProxySession(t.Context(), accountA, "rolled-back"); err != nil || got.ClosedAt != nil {
		t.Errorf("session closed in a rolled-back transaction: %s, %v", sessionString(got), err)
	}
}

func testProxyFindOpenSession(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	now := at(time.Hour)
	insertSessions(t, s,
		session("open", accountA, pool1, 1, 2, at(0), ptr(at(2*time.Hour))),
		session("closed", accountA, pool1, 3, 4, at(0), nil),
		session("expired", accountA, pool1, 5, 6, at(0), ptr(now)),
		session("other-number", accountA, pool2, 1, 7, at(0), nil),
		session("b", accountB, poolB, 1, 2, at(0), nil),
		// Several open sessions of one participant on one number (a pool changed by hand):
		// the newest by (created_at, id) wins.
		session("dup-1", accountA, pool3, 1, 2, at(0), nil),
		session("dup-3", accountA, pool3, 1, 3, at(time.Minute), nil),
		session("dup-2", accountA, pool3, 1, 4, at(time.Minute), nil),
	)
	if _, closed, err := closeSession(t, s, accountA, "closed", at(time.Minute)); err != nil || !closed {
		t.Fatalf("CloseProxySession = %v, %v", closed, err)
	}
	for _, tc := range []struct {
		name, number string
		participant  int
		want         string // "" = ErrNotFound
	}{
		{"as participant a", pool1, 1, "open"},
		{"as participant b", pool1, 2, "open"},
		{"a stranger", pool1, 9, ""},
		{"closed", pool1, 3, ""},
		{"expired at now", pool1, 6, ""},
		{"another number's participant", pool1, 7, ""},
		{"the other number", pool2, 1, "other-number"},
		{"on a number without sessions", pool10, 1, ""},
		{"another account's number", poolB, 2, "b"},
		{"the newest of several", pool3, 1, "dup-3"},
		{"the only one of a side", pool3, 4, "dup-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				got proxy.Session
				err error
			)
			inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
				got, err = tx.FindOpenProxySession(ctx, tc.number, participant(tc.participant), now)
				return nil
			})
			if tc.want == "" {
				wantErr(t, "FindOpenProxySession", err, ports.ErrNotFound)
				return
			}
			if err != nil {
				t.Fatalf("FindOpenProxySession: %v", err)
			}
			if got.ID != tc.want {
				t.Errorf("FindOpenProxySession = %s, want %s", sessionString(got), tc.want)
			}
		})
	}
}

// sessionFixture stores sessions of both accounts in every state at sessionNow, several
// created at one instant, and returns account A's as stored.
func sessionFixture(t *testing.T, s ports.Store) []proxy.Session {
	t.Helper()
	seedAccounts(t, s)
	var mine, all []proxy.Session
	for i := range 14 {
		created := at(time.Duration(i) * time.Minute)
		if i%3 == 0 {
			created = at(20*time.Minute + 250*time.Microsecond) // ties on created_at
		}
		ps := session(fmt.Sprintf("s%02d", i), accountA, pool1, 2*i, 2*i+1, created, nil)
		switch i % 4 {
		case 1:
			ps.ExpiresAt = ptr(sessionNow) // expired at the list's now, not swept
		case 2:
			ps.ExpiresAt = ptr(sessionNow.Add(time.Millisecond))
		}
		all = append(all, ps)
	}
	all = append(all, session("b1", accountB, poolB, 1, 2, at(0), nil), session("b2", accountB, poolB, 3, 4, at(0), ptr(at(time.Minute))))
	insertSessions(t, s, all...)
	for _, ps := range all[:14] {
		if ps.ID == "s04" || ps.ID == "s07" || ps.ID == "s09" { // closed ones, one of them (s09) expired too
			closed, ok, err := closeSession(t, s, accountA, ps.ID, at(30*time.Minute))
			if err != nil || !ok {
				t.Fatalf("CloseProxySession(%s) = %v, %v", ps.ID, ok, err)
			}
			ps = closed
		}
		mine = append(mine, ps)
	}
	return mine
}

// sessionNow is when the list cases look.
var sessionNow = at(time.Hour)

// expectSessions is the reference of ListProxySessions' filter and order.
func expectSessions(mine []proxy.Session, closed bool) []string {
	var out []proxy.Session
	for _, ps := range mine {
		if ps.Open(sessionNow) != closed {
			out = append(out, ps)
		}
	}
	slices.SortFunc(out, sessionNewestFirst)
	return sessionIDs(out)
}

func testProxyListSessions(t *testing.T, s ports.Store) {
	mine := sessionFixture(t, s)
	for _, closed := range []bool{false, true} {
		want := expectSessions(mine, closed)
		for _, limit := range []int{1, 2, 3, 5, ports.MaxProxySessionLimit} {
			t.Run(fmt.Sprintf("closed %v/limit %d", closed, limit), func(t *testing.T) {
				got := pageAll(t, limit, len(mine), func(after *ports.Cursor) ([]string, *ports.Cursor, error) {
					page, err := s.ListProxySessions(t.Context(), accountA, ports.ProxySessionQuery{Closed: closed, Limit: limit, After: after}, sessionNow)
					return sessionIDs(page.Items), page.Next, err
				})
				if !slices.Equal(got, want) {
					t.Errorf("paged\n got %q\nwant %q", got, want)
				}
			})
		}
	}
	t.Run("records", func(t *testing.T) {
		byID := map[string]proxy.Session{}
		for _, ps := range mine {
			byID[ps.ID] = ps
		}
		for _, closed := range []bool{false, true} {
			page, err := s.ListProxySessions(t.Context(), accountA, ports.ProxySessionQuery{Closed: closed, Limit: 50}, sessionNow)
			if err != nil {
				t.Fatalf("ListProxySessions: %v", err)
			}
			if page.Next != nil {
				t.Errorf("Next = %+v on a page holding everything, want nil", *page.Next)
			}
			for _, got := range page.Items {
				checkSession(t, "listed", got, byID[got.ID])
			}
		}
	})
	t.Run("another account", func(t *testing.T) {
		page, err := s.ListProxySessions(t.Context(), accountB, ports.ProxySessionQuery{Limit: 50}, sessionNow)
		if err != nil || !slices.Equal(sessionIDs(page.Items), []string{"b1"}) {
			t.Errorf("ListProxySessions(B, open) = %q, %v; want b1", sessionIDs(page.Items), err)
		}
		_, err = s.GetProxySession(t.Context(), accountA, "b1")
		wantErr(t, "GetProxySession(another account's)", err, ports.ErrNotFound)
		_, err = s.GetProxySession(t.Context(), accountA, "nope")
		wantErr(t, "GetProxySession(unknown)", err, ports.ErrNotFound)
	})
	t.Run("next cursor", func(t *testing.T) {
		page, err := s.ListProxySessions(t.Context(), accountA, ports.ProxySessionQuery{Limit: 2}, sessionNow)
		if err != nil || len(page.Items) != 2 || page.Next == nil {
			t.Fatalf("ListProxySessions(limit 2) = %q, next %v, %v", sessionIDs(page.Items), page.Next, err)
		}
		last := page.Items[1]
		if page.Next.ID != last.ID || ms(page.Next.CreatedAt) != ms(last.CreatedAt) {
			t.Errorf("Next = %+v, want the last item's position %s %s", *page.Next, ms(last.CreatedAt), last.ID)
		}
	})
	for _, limit := range []int{0, -1, ports.MaxProxySessionLimit + 1} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			_, err := s.ListProxySessions(t.Context(), accountA, ports.ProxySessionQuery{Limit: limit}, sessionNow)
			wantErr(t, "ListProxySessions", err, ports.ErrInvalid)
		})
	}
}

func testProxyCloseExpired(t *testing.T, s ports.Store) {
	seedAccounts(t, s)
	sessions := []proxy.Session{
		session("1h", accountA, pool1, 1, 2, at(0), ptr(at(time.Hour))),
		session("2h", accountA, pool1, 3, 4, at(0), ptr(at(2*time.Hour))), // expires exactly at the sweep
		session("2h+1ms", accountA, pool1, 5, 6, at(0), ptr(at(2*time.Hour+time.Millisecond))),
		session("never", accountA, pool1, 7, 8, at(0), nil),
		session("closed-early", accountA, pool2, 1, 2, at(0), ptr(at(30*time.Minute))),
		session("b-1h", accountB, poolB, 1, 2, at(0), ptr(at(time.Hour))),
	}
	insertSessions(t, s, sessions...)
	if _, closed, err := closeSession(t, s, accountA, "closed-early", at(10*time.Minute)); err != nil || !closed {
		t.Fatalf("CloseProxySession = %v, %v", closed, err)
	}
	want := map[string]*time.Time{"1h": ptr(at(time.Hour)), "2h": ptr(at(2 * time.Hour)), "closed-early": ptr(at(10 * time.Minute)), "b-1h": ptr(at(time.Hour))}
	check := func(when string) {
		t.Helper()
		for _, ps := range sessions {
			got, err := s.GetProxySession(t.Context(), ps.AccountID, ps.ID)
			if err != nil {
				t.Fatalf("%s: GetProxySession(%s): %v", when, ps.ID, err)
			}
			if g, w := optTime(got.ClosedAt), optTime(want[ps.ID]); g != w {
				t.Errorf("%s: %s closed at %s, want %s", when, ps.ID, g, w)
			}
		}
	}
	if n, err := s.CloseExpiredProxySessions(t.Context(), at(2*time.Hour)); err != nil || n != 3 {
		t.Fatalf("CloseExpiredProxySessions = %d, %v; want 3", n, err)
	}
	check("after the sweep")
	if n, err := s.CloseExpiredProxySessions(t.Context(), at(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("CloseExpiredProxySessions again = %d, %v; want 0", n, err)
	}
	check("after the second sweep")
	if _, closed, err := closeSession(t, s, accountA, "1h", at(3*time.Hour)); err != nil || closed {
		t.Errorf("CloseProxySession(swept) = %v, %v; want not closed again", closed, err)
	}
	if n, err := s.CloseExpiredProxySessions(t.Context(), at(3*time.Hour)); err != nil || n != 1 {
		t.Errorf("CloseExpiredProxySessions(later) = %d, %v; want 1", n, err)
	}
	want["2h+1ms"] = ptr(at(2*time.Hour + time.Millisecond))
	check("after the later sweep")
}
