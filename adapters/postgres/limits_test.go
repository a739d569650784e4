package postgres_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/ratelimit"
	"github.com/smsgw/smsgw/ports"
)

// TestHitFollowsAdmit: the SQL of Hit decides as ratelimit.Window.Admit does, over a random
// history of batches (the contract suite pins the rule on chosen cases; this walks many).
func TestHitFollowsAdmit(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	w := ratelimit.Window{Limit: 5, Period: 30 * time.Second}
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "c", "d"}
	model := map[string][]time.Time{}
	now := t0.Truncate(time.Millisecond)
	for step := range 300 {
		now = now.Add(time.Duration(rng.IntN(12_000)) * time.Millisecond)
		var demands []ports.RateDemand
		for _, k := range keys {
			if rng.IntN(2) == 0 {
				demands = append(demands, ports.RateDemand{Key: k, N: rng.IntN(5)})
			}
		}
		rng.Shuffle(len(demands), func(i, j int) { demands[i], demands[j] = demands[j], demands[i] })
		var got []ports.RateGrant
		inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
			var err error
			got, err = tx.Hit(ctx, w, now, demands)
			return err
		})
		for i, d := range demands {
			kept, admitted, retry := w.Admit(model[d.Key], now, d.N)
			model[d.Key] = kept
			if want := (ports.RateGrant{Admitted: admitted, RetryAfter: retry}); got[i] != want {
				t.Fatalf("step %d, %+v at %s: got %+v, Admit says %+v", step, d, now.Format(time.StampMilli), got[i], want)
			}
		}
	}
}
