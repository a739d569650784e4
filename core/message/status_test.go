package message

import "testing"

func TestTransition(t *testing.T) {
	tests := []struct {
		from, to Status
		want     Decision
	}{
		{StatusQueued, StatusSending, Apply},
		{StatusSending, StatusSent, Apply},
		{StatusSent, StatusDelivered, Apply},
		{StatusSent, StatusUndelivered, Apply},
		{StatusScheduled, StatusQueued, Apply},
		{StatusQueued, StatusDelivered, Apply}, // a lost "sent" report must not block progress
		{StatusQueued, StatusFailed, Apply},
		{StatusScheduled, StatusCanceled, Apply},
		{StatusSending, StatusFailed, Apply},
		{StatusSent, StatusSent, Drop},
		{StatusDelivered, StatusDelivered, Drop},
		{StatusSending, StatusQueued, Drop}, // the provider's own queue
		{StatusSent, StatusQueued, Ignore},
		{StatusSent, StatusSending, Ignore},
		{StatusDelivered, StatusSent, Ignore},
		{StatusDelivered, StatusUndelivered, Ignore}, // final is never overwritten
		{StatusFailed, StatusDelivered, Ignore},
		{StatusCanceled, StatusQueued, Ignore},
		{StatusUndelivered, StatusFailed, Ignore},
		{StatusQueued, Status("bogus"), Ignore},
		{StatusQueued, StatusReceived, Ignore},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			if got := Transition(tt.from, tt.to); got != tt.want {
				t.Fatalf("Transition(%s, %s) = %s, want %s", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestFinal(t *testing.T) {
	final := map[Status]bool{StatusDelivered: true, StatusUndelivered: true, StatusFailed: true, StatusCanceled: true, StatusReceived: true}
	for _, s := range []Status{StatusScheduled, StatusQueued, StatusSending, StatusSent, StatusDelivered, StatusUndelivered, StatusFailed, StatusCanceled, StatusReceived} {
		if s.Final() != final[s] {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if Status("x").Valid() {
		t.Error("unknown status valid")
	}
}
