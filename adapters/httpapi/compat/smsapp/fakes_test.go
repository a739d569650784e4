package smsapp

import (
	"bytes"
	"context"
	"sync"

	"github.com/smsgw/smsgw/core/gateway"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
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

// fakeAccounts is an account store with one account (real bcrypt hash) that can go down.
// (porttest.MemStore would do, but it does not compile while ports.Tx is growing.)
type fakeAccounts struct {
	hash string
	mu   sync.Mutex
	err  error
}

func (a *fakeAccounts) GetAccount(_ context.Context, id string) (ports.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return ports.Account{}, a.err
	}
	if id != testUser {
		return ports.Account{}, ports.ErrNotFound
	}
	return ports.Account{ID: testUser, PasswordHash: a.hash}, nil
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
