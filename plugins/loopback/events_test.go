package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func ev(id string) sdk.Event {
	return sdk.Event{Status: &sdk.StatusUpdate{ProviderMessageID: id, Status: sdk.StatusDelivered}}
}

func popAll(q *eventQueue) []string {
	var ids []string
	for {
		e, ok := q.tryPop()
		if !ok {
			return ids
		}
		ids = append(ids, e.Status.ProviderMessageID)
	}
}

func TestEventQueue(t *testing.T) {
	tests := []struct {
		name        string
		limit       int
		run         func(q *eventQueue) int // returns the events dropped
		want        []string
		wantDropped int
	}{
		{
			name:  "fifo",
			limit: 10,
			run:   func(q *eventQueue) int { return q.push(ev("1"), ev("2")) + q.push(ev("3")) },
			want:  []string{"1", "2", "3"},
		},
		{
			name:        "drops the oldest when full",
			limit:       3,
			run:         func(q *eventQueue) int { return q.push(ev("1"), ev("2")) + q.push(ev("3"), ev("4"), ev("5")) },
			want:        []string{"3", "4", "5"},
			wantDropped: 2,
		},
		{
			name:  "unpop goes first",
			limit: 10,
			run: func(q *eventQueue) int {
				q.push(ev("1"), ev("2"))
				e, _ := q.tryPop()
				q.unpop(e)
				q.unpop(ev("0")) // at the front of the buffer: needs room made
				return 0
			},
			want: []string{"0", "1", "2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newEventQueue(tc.limit)
			if dropped := tc.run(q); dropped != tc.wantDropped {
				t.Errorf("dropped %d, want %d", dropped, tc.wantDropped)
			}
			if got := popAll(q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("popped %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEventQueueCompacts checks that a queue used as a steady pipe does not keep growing.
func TestEventQueueCompacts(t *testing.T) {
	const limit = 1000
	q := newEventQueue(limit)
	for i := range 10 * limit {
		q.push(ev(fmt.Sprint(i)), ev(fmt.Sprint(i))) // drops one once full
		q.tryPop()
	}
	if q.len() != limit-1 || cap(q.buf) > 4*limit {
		t.Errorf("len %d cap %d: the buffer is not bounded", q.len(), cap(q.buf))
	}
}

// TestEventQueueConsumers: with several subscribers each event goes to exactly one of them.
func TestEventQueueConsumers(t *testing.T) {
	const consumers, events = 4, 2000
	q := newEventQueue(events)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	got := make(chan string)
	var wg sync.WaitGroup
	for range consumers {
		wg.Go(func() {
			for {
				e, err := q.pop(ctx)
				if err != nil {
					return
				}
				select {
				case got <- e.Status.ProviderMessageID:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range events {
			q.push(ev(fmt.Sprint(i)))
		}
	})

	seen := map[string]int{}
	for len(seen) < events {
		select {
		case id := <-got:
			seen[id]++
			if seen[id] > 1 {
				t.Fatalf("event %s delivered twice", id)
			}
		case <-ctx.Done():
			t.Fatalf("only %d of %d events arrived", len(seen), events)
		}
	}
	cancel()
	wg.Wait()
}
