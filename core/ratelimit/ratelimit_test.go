package ratelimit

import (
	"testing"
	"time"
)

func TestAdmit(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	w := Window{Limit: 3, Period: time.Hour}
	for _, tc := range []struct {
		name         string
		hits         []time.Time
		now          time.Time
		n            int
		wantKept     int
		wantAdmitted int
		wantRetry    time.Duration
	}{
		{"empty log admits up to the limit", nil, t0, 2, 2, 2, 0},
		{"exactly the limit", nil, t0, 3, 3, 3, 0},
		{"over the limit admits the first ones", nil, t0, 5, 3, 3, time.Hour},
		{"full log refuses; retry when the oldest leaves", []time.Time{at(0), at(10 * time.Minute), at(20 * time.Minute)}, at(30 * time.Minute), 1, 3, 0, 30 * time.Minute},
		{"unsorted log: the oldest decides", []time.Time{at(20 * time.Minute), at(0), at(10 * time.Minute)}, at(30 * time.Minute), 1, 3, 0, 30 * time.Minute},
		{"a hit exactly one period old has left", []time.Time{at(0), at(10 * time.Minute), at(20 * time.Minute)}, at(time.Hour), 1, 3, 1, 0},
		{"a hit just inside still counts", []time.Time{at(0), at(10 * time.Minute), at(20 * time.Minute)}, at(time.Hour - time.Microsecond), 1, 3, 0, time.Microsecond},
		{"old hits are dropped", []time.Time{at(-2 * time.Hour), at(-90 * time.Minute)}, t0, 1, 1, 1, 0},
		{"a hit stamped after now (a racing caller) waits at most the window", []time.Time{at(0), at(10 * time.Minute), at(20 * time.Minute)}, at(-time.Second), 1, 3, 0, time.Hour},
		{"zero demand only prunes", []time.Time{at(-2 * time.Hour), at(0)}, at(time.Minute), 0, 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, admitted, retry := w.Admit(tc.hits, tc.now, tc.n)
			if len(kept) != tc.wantKept || admitted != tc.wantAdmitted || retry != tc.wantRetry {
				t.Fatalf("Admit = %d kept, %d admitted, retry %v; want %d, %d, %v", len(kept), admitted, retry, tc.wantKept, tc.wantAdmitted, tc.wantRetry)
			}
			for i := 1; i < len(kept); i++ {
				if kept[i].Before(kept[i-1]) {
					t.Fatalf("kept not sorted: %v", kept)
				}
			}
			for _, h := range kept {
				if !h.After(w.Since(tc.now)) {
					t.Fatalf("kept %v, outside the window at %v", h, tc.now)
				}
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Microsecond, 1}, {time.Second, 1}, {time.Second + time.Millisecond, 2}, {30 * time.Minute, 1800}} {
		if got := RetryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		w    Window
		want bool
	}{{Window{50, time.Hour}, true}, {Window{0, time.Hour}, false}, {Window{50, 0}, false}} {
		if got := tc.w.Enabled(); got != tc.want {
			t.Errorf("%+v.Enabled() = %v, want %v", tc.w, got, tc.want)
		}
	}
}
