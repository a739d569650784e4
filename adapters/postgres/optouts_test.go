package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/ports"
)

// TestBlockOptOutWhileAnotherWrites pins BlockOptOut's decision when another transaction
// changes the pair while it waits: it decides on the row as the other left it. "insert"
// is the case the statement runs twice for: the row is not in its snapshot at all.
func TestBlockOptOutWhileAnotherWrites(t *testing.T) {
	t.Parallel()
	const sender, recipient = "+15550001111", "+15550002222"
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ptr := func(t time.Time) *time.Time { return &t }
	first := ports.OptOut{Sender: sender, Recipient: recipient, Source: optout.SourceKeyword, CreatedAt: at(0), ExpiresAt: ptr(at(2 * time.Hour))}
	second := ports.OptOut{Sender: sender, Recipient: recipient, Source: optout.SourceSMSApp, CreatedAt: at(time.Minute), ExpiresAt: ptr(at(4 * time.Hour))}
	expired := ports.OptOut{Sender: sender, Recipient: recipient, Source: optout.SourceProvider, CreatedAt: at(-2 * time.Hour), ExpiresAt: ptr(at(-time.Hour))}
	blockIn := func(o ports.OptOut) func(context.Context, ports.Tx) error {
		return func(ctx context.Context, tx ports.Tx) error { _, _, err := tx.BlockOptOut(ctx, o); return err }
	}
	tests := []struct {
		name        string
		before      *ports.OptOut                         // committed first
		other       func(context.Context, ports.Tx) error // holds the row while the second waits
		wantCreated bool
		want        ports.OptOut
	}{
		{"insert", nil, blockIn(first), false,
			ports.OptOut{Sender: sender, Recipient: recipient, Source: optout.SourceKeyword, CreatedAt: at(0), ExpiresAt: ptr(at(4 * time.Hour))}},
		{"replace an expired row", &expired, blockIn(first), false,
			ports.OptOut{Sender: sender, Recipient: recipient, Source: optout.SourceKeyword, CreatedAt: at(0), ExpiresAt: ptr(at(4 * time.Hour))}},
		{"extend", &first, blockIn(ports.OptOut{Sender: sender, Recipient: recipient, Source: optout.SourceAPI, CreatedAt: at(time.Second)}), false,
			ports.OptOut{Sender: sender, Recipient: recipient, Source: optout.SourceKeyword, CreatedAt: at(0)}},
		{"lift", &first, func(ctx context.Context, tx ports.Tx) error {
			_, err := tx.LiftOptOut(ctx, sender, recipient, at(time.Second))
			return err
		}, true, second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := context.Background()
			if tc.before != nil {
				inTx(t, s, blockIn(*tc.before))
			}
			written, release := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				err := s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
					if err := tc.other(ctx, tx); err != nil {
						return err
					}
					close(written)
					<-release
					return nil
				})
				if err != nil {
					t.Errorf("other transaction: %v", err)
				}
			})
			<-written
			type result struct {
				stored  ports.OptOut
				created bool
				err     error
			}
			done := make(chan result, 1)
			go func() {
				var r result
				r.err = s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
					var err error
					r.stored, r.created, err = tx.BlockOptOut(ctx, second)
					return err
				})
				done <- r
			}()
			waitForLockWaiter(t, s)
			close(release)
			wg.Wait()
			r := <-done
			if r.err != nil {
				t.Fatalf("BlockOptOut: %v", r.err)
			}
			if r.created != tc.wantCreated || fmt.Sprint(r.stored) != fmt.Sprint(tc.want) {
				t.Errorf("BlockOptOut = %v, created %v; want %v, created %v", r.stored, r.created, tc.want, tc.wantCreated)
			}
		})
	}
}

// TestOptOutTimes: times are stored in UTC at microsecond precision, truncated, so that a
// list cursor (microseconds) finds the row again.
func TestOptOutTimes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	zone := time.FixedZone("UTC+5", 5*3600)
	created := time.Date(2026, 11, 22, 13, 0, 0, 123456789, zone)
	expires := created.Add(time.Hour)
	var stored ports.OptOut
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		var err error
		stored, _, err = tx.BlockOptOut(ctx, ports.OptOut{Sender: "a", Recipient: "b", Source: optout.SourceAPI, CreatedAt: created, ExpiresAt: &expires})
		return err
	})
	wantCreated := time.Date(2026, 11, 22, 8, 0, 0, 123456000, time.UTC)
	if stored.CreatedAt != wantCreated || stored.ExpiresAt == nil || *stored.ExpiresAt != wantCreated.Add(time.Hour) {
		t.Errorf("stored %v .. %v, want %v .. %v", stored.CreatedAt, stored.ExpiresAt, wantCreated, wantCreated.Add(time.Hour))
	}
	page, err := s.ListOptOuts(context.Background(), ports.OptOutQuery{Limit: 1, After: &ports.Cursor{CreatedAt: wantCreated.Add(time.Microsecond), ID: ports.OptOutCursorID("a", "b")}}, created)
	if err != nil || len(page.Items) != 1 || page.Items[0].CreatedAt != wantCreated {
		t.Errorf("ListOptOuts after the next microsecond = %v, %v; want the block", page.Items, err)
	}
	page, err = s.ListOptOuts(context.Background(), ports.OptOutQuery{Limit: 1, After: ports.OptOutCursor(stored)}, created)
	if err != nil || len(page.Items) != 0 {
		t.Errorf("ListOptOuts after the block's own cursor = %v, %v; want nothing", page.Items, err)
	}
}
