package fastsmsing

import (
	"context"
	"sync"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// getCall is one Get the fake core was asked.
type getCall struct{ account, id string }

// fakeCore records the calls it gets. Send answers the message id "m1" or sendErr; Get
// answers msgs[id] when its account matches, else ports.ErrNotFound, or getErr.
type fakeCore struct {
	mu      sync.Mutex
	sends   []gateway.SendCommand
	gets    []getCall
	sendErr error
	getErr  error
	msgs    map[string]message.Message
	panicV  any // when set, both panic with it
}

func (f *fakeCore) Send(_ context.Context, cmd gateway.SendCommand) (message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, cmd)
	if f.panicV != nil {
		panic(f.panicV)
	}
	if f.sendErr != nil {
		return message.Message{}, f.sendErr
	}
	return message.Message{ID: "m1"}, nil
}

func (f *fakeCore) Get(_ context.Context, account, id string) (message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, getCall{account, id})
	if f.panicV != nil {
		panic(f.panicV)
	}
	if f.getErr != nil {
		return message.Message{}, f.getErr
	}
	m, ok := f.msgs[id]
	if !ok || m.AccountID != account {
		return message.Message{}, ports.ErrNotFound
	}
	return m, nil
}

func (f *fakeCore) calls() ([]gateway.SendCommand, []getCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gateway.SendCommand(nil), f.sends...), append([]getCall(nil), f.gets...)
}
