package fastsmsing

import (
	"bytes"
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

// fakeAccounts is an account store with one account (real bcrypt hash) that can go down.
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
