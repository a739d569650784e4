package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/postgres"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// whileHeld runs hold in a transaction that stays open until the transaction of wait (run
// once hold returned) blocks on a row lock; then hold's transaction commits, or rolls back
// when rollback is set. It returns wait's error.
func whileHeld(t *testing.T, s *postgres.Store, rollback bool, hold, wait func(context.Context, ports.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	held, release := make(chan struct{}), make(chan struct{})
	errRolledBack := errors.New("rolled back on purpose")
	var wg sync.WaitGroup
	wg.Go(func() {
		err := s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
			if err := hold(ctx, tx); err != nil {
				return err
			}
			close(held)
			<-release
			if rollback {
				return errRolledBack
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRolledBack) {
			t.Errorf("holding transaction: %v", err)
		}
	})
	<-held
	done := make(chan error, 1)
	go func() { done <- s.InTx(ctx, wait) }()
	waitForLockWaiter(t, s)
	close(release)
	wg.Wait()
	return <-done
}

// TestLockProxyPoolSeesSessionCommittedWhileWaiting pins why LockProxyPool reads the
// sessions in a statement of their own: a locker that waited for an allocation's lock sees
// the session that allocation committed meanwhile, so it does not hand out the number again.
func TestLockProxyPoolSeesSessionCommittedWhileWaiting(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	const account, number = "acct", "+15551000001"
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		return tx.AddProxyNumber(ctx, proxy.Number{Number: number, Provider: "p1", AccountID: account, CreatedAt: t0})
	})
	var pool []proxy.Usage
	err := whileHeld(t, s, false, func(ctx context.Context, tx ports.Tx) error {
		if _, err := tx.LockProxyPool(ctx, account, t0); err != nil {
			return err
		}
		return tx.InsertProxySession(ctx, proxy.Session{ID: "s1", AccountID: account, ProxyNumber: number,
			ParticipantA: "+447700900001", ParticipantB: "+447700900002", CreatedAt: t0})
	}, func(ctx context.Context, tx ports.Tx) error {
		var err error
		pool, err = tx.LockProxyPool(ctx, account, t0)
		return err
	})
	if err != nil {
		t.Fatalf("LockProxyPool: %v", err)
	}
	if len(pool) != 1 || !slices.Equal(pool[0].Participants, []string{"+447700900001", "+447700900002"}) {
		t.Errorf("LockProxyPool after waiting = %+v, want the number with the session committed meanwhile", pool)
	}
	if _, ok := proxy.Allocate(proxy.Exclusive, pool, "+447700900003", "+447700900004"); ok {
		t.Error("the number taken while LockProxyPool waited is still allocatable")
	}
}

// TestAddProxyNumberWhileAnotherAdds: an addition racing another of the same number waits
// for it, then conflicts without aborting its transaction — or adds the number if the other
// rolled back.
func TestAddProxyNumberWhileAnotherAdds(t *testing.T) {
	t.Parallel()
	const number, spare = "+15551000001", "+15551000002"
	add := func(n, account string) func(context.Context, ports.Tx) error {
		return func(ctx context.Context, tx ports.Tx) error {
			return tx.AddProxyNumber(ctx, proxy.Number{Number: n, Provider: "p1", AccountID: account, CreatedAt: t0})
		}
	}
	for _, tc := range []struct {
		name      string
		rollback  bool
		wantOwner string
	}{
		{"the other commits", false, "first"},
		{"the other rolls back", true, "second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			var addErr error
			err := whileHeld(t, s, tc.rollback, add(number, "first"), func(ctx context.Context, tx ports.Tx) error {
				addErr = add(number, "second")(ctx, tx)
				return add(spare, "second")(ctx, tx) // the transaction goes on either way
			})
			if err != nil {
				t.Fatalf("second transaction: %v", err)
			}
			if wantConflict := !tc.rollback; errors.Is(addErr, ports.ErrConflict) != wantConflict || (!wantConflict && addErr != nil) {
				t.Errorf("AddProxyNumber while another added it = %v; want a conflict: %v", addErr, wantConflict)
			}
			inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
				for n, owner := range map[string]string{number: tc.wantOwner, spare: "second"} {
					got, err := tx.GetProxyNumber(ctx, n)
					if err != nil {
						return err
					}
					if got.AccountID != owner {
						t.Errorf("%s is in %s's pool, want %s's", n, got.AccountID, owner)
					}
				}
				return nil
			})
		})
	}
}

// TestProxyTimes: session times are stored in UTC at microsecond precision, truncated, so
// that a list cursor (microseconds) finds the row again.
func TestProxyTimes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	created := time.Date(2026, 3, 1, 12, 0, 0, 123_456_789, time.FixedZone("E", 3600))
	expires := created.Add(time.Hour)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		return tx.InsertProxySession(ctx, proxy.Session{ID: "s1", AccountID: "acct", ProxyNumber: "+15551000001",
			ParticipantA: "+447700900001", ParticipantB: "+447700900002", CreatedAt: created, ExpiresAt: &expires})
	})
	got, err := s.GetProxySession(t.Context(), "acct", "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := created.UTC().Truncate(time.Microsecond)
	if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC || got.ExpiresAt == nil ||
		!got.ExpiresAt.Equal(want.Add(time.Hour)) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("times read back %v..%v, want %v..%v in UTC", got.CreatedAt, got.ExpiresAt, want, want.Add(time.Hour))
	}
	page, err := s.ListProxySessions(t.Context(), "acct", ports.ProxySessionQuery{Limit: 1,
		After: &ports.Cursor{CreatedAt: want.Add(time.Microsecond), ID: "s0"}}, created)
	if err != nil || len(page.Items) != 1 {
		t.Errorf("list after a cursor one microsecond later = %v, %v; want the session", page.Items, err)
	}
}
