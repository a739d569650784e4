package smsapp

import (
	"context"
	"sync"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
)

// fakeCore records the commands it gets and answers with the configured error (or panic).
type fakeCore struct {
	mu       sync.Mutex
	sends    []gateway.SendCommand
	receives []gateway.ReceiveCommand
	err      error // returned by both Send and Receive
	panicV   any   // when set, both panic with it
}

func (f *fakeCore) Send(_ context.Context, cmd gateway.SendCommand) (message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, cmd)
	if f.panicV != nil {
		panic(f.panicV)
	}
	return message.Message{ID: "m1"}, f.err
}

func (f *fakeCore) Receive(_ context.Context, cmd gateway.ReceiveCommand) (message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.receives = append(f.receives, cmd)
	if f.panicV != nil {
		panic(f.panicV)
	}
	return message.Message{ID: "m1"}, f.err
}

func (f *fakeCore) calls() ([]gateway.SendCommand, []gateway.ReceiveCommand) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gateway.SendCommand(nil), f.sends...), append([]gateway.ReceiveCommand(nil), f.receives...)
}
