package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/adapters/postgres"
	"github.com/smsgw/smsgw/adapters/postgres/pgtest"
	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// newStore opens a migrated store on a database of its own.
func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	return openMigrated(t, pgtest.DSN(t))
}

func openMigrated(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := postgres.Migrate(ctx, s.DB()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

var t0 = time.Date(2026, 11, 22, 8, 0, 0, 123456000, time.UTC)

func outbound(id string, created time.Time) message.Message {
	return message.Message{
		ID: id, AccountID: "acme", Direction: message.Outbound,
		From: "+15550001111", To: "+15550002222", Text: "hello ünïcode", Status: message.StatusQueued,
		Route: []string{"twilio", "fastsms"}, Segments: 1, Encoding: message.UCS2,
		Tags:      map[string]string{"campaign": "x"},
		CreatedAt: created, UpdatedAt: created,
		Events: []message.Event{{Status: message.StatusQueued, At: created}},
	}
}

func inTx(t *testing.T, s ports.Store, fn func(ctx context.Context, tx ports.Tx) error) {
	t.Helper()
	if err := s.InTx(context.Background(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

func insert(t *testing.T, s ports.Store, ms ...message.Message) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		for _, m := range ms {
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	sendAt := t0.Add(time.Hour)
	full := outbound("m-full", t0)
	full.Provider, full.ProviderMessageID = "twilio", "SM1"
	full.Error = &message.Error{Code: "30003", Message: "unreachable"}
	full.SendAt = &sendAt
	full.Events = append(full.Events, message.Event{Status: message.StatusSending, At: t0.Add(time.Second), Detail: "try 1"})
	bare := message.Message{ID: "m-bare", AccountID: "acme", Direction: message.Inbound, From: "a", To: "b",
		Status: message.StatusReceived, CreatedAt: t0, UpdatedAt: t0}
	empty := outbound("m-empty", t0)
	empty.Route, empty.Tags, empty.Error = []string{}, map[string]string{}, &message.Error{}
	insert(t, s, full, bare, empty)

	for _, want := range []message.Message{full, bare, empty} {
		got, err := s.GetMessage(ctx, "acme", want.ID)
		if err != nil {
			t.Fatalf("GetMessage %s: %v", want.ID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GetMessage %s\n got %#v\nwant %#v", want.ID, got, want)
		}
	}
	if _, err := s.GetMessage(ctx, "other", "m-full"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("other account: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetMessage(ctx, "", "m-full"); err != nil {
		t.Errorf("any account: %v", err)
	}
}

func TestTimesAreUTCMicroseconds(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	paris := time.FixedZone("CET", 3600)
	m := outbound("m1", time.Date(2026, 1, 2, 3, 4, 5, 999999999, paris))
	insert(t, s, m)
	got, err := s.GetMessage(context.Background(), "", "m1")
	if err != nil {
		t.Fatal(err)
	}
	want := m.CreatedAt.UTC().Truncate(time.Microsecond)
	if got.CreatedAt != want || got.Events[0].At != want {
		t.Errorf("created %v, event %v; want %v", got.CreatedAt, got.Events[0].At, want)
	}
}

func TestInsertConflictKeepsTxUsable(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	insert(t, s, outbound("m1", t0))
	in := message.Message{ID: "in1", AccountID: "acme", Direction: message.Inbound, Provider: "twilio",
		ProviderMessageID: "SMX", Status: message.StatusReceived, CreatedAt: t0, UpdatedAt: t0}
	insert(t, s, in)

	dupInbound := in
	dupInbound.ID = "in2"
	err := s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InsertMessage(ctx, outbound("m1", t0)); !errors.Is(err, ports.ErrConflict) {
			return fmt.Errorf("duplicate id: err = %v, want ErrConflict", err)
		}
		if err := tx.InsertMessage(ctx, dupInbound); !errors.Is(err, ports.ErrConflict) {
			return fmt.Errorf("duplicate inbound provider id: err = %v, want ErrConflict", err)
		}
		// The transaction is still usable.
		return tx.InsertMessage(ctx, outbound("m2", t0))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMessage(ctx, "", "m2"); err != nil {
		t.Fatalf("m2 after conflicts: %v", err)
	}
	// Outbound messages may share a provider id; an empty one is never a duplicate.
	o1, o2 := outbound("o1", t0), outbound("o2", t0)
	o1.Provider, o1.ProviderMessageID, o2.Provider, o2.ProviderMessageID = "p", "same", "p", "same"
	e1 := in
	e1.ID, e1.ProviderMessageID = "e1", ""
	e2 := e1
	e2.ID = "e2"
	insert(t, s, o1, o2, e1, e2)
}

func TestUpdateAppendsEvents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	insert(t, s, outbound("m1", t0))
	var want message.Message
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		m, err := tx.GetMessageForUpdate(ctx, "m1")
		if err != nil {
			return err
		}
		m.Status, m.Provider, m.ProviderMessageID = message.StatusSent, "twilio", "SM9"
		m.Route = []string{"twilio"}
		m.Error = &message.Error{Code: "c", Message: "m"}
		m.UpdatedAt = t0.Add(2 * time.Second)
		evs := []message.Event{
			{Status: message.StatusSending, At: t0.Add(time.Second)},
			{Status: message.StatusSent, At: t0.Add(2 * time.Second), Detail: "ok"},
		}
		if err := tx.UpdateMessage(ctx, m, evs...); err != nil {
			return err
		}
		m.Events = append(m.Events, evs...)
		want = m
		return nil
	})
	got, err := s.GetMessage(ctx, "acme", "m1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after update\n got %#v\nwant %#v", got, want)
	}
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		got.Error = nil
		if err := tx.UpdateMessage(ctx, got); err != nil {
			return err
		}
		if err := tx.UpdateMessage(ctx, outbound("nope", t0)); !errors.Is(err, ports.ErrNotFound) {
			return fmt.Errorf("unknown id: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if got, _ := s.GetMessage(ctx, "acme", "m1"); got.Error != nil || len(got.Events) != 3 {
		t.Errorf("after update without events: error %v, %d events", got.Error, len(got.Events))
	}
}

// A transaction that waited for another's lock sees the history the other one appended.
func TestForUpdateSeesEventsCommittedWhileWaiting(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	insert(t, s, outbound("m1", t0))
	locked, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
			m, err := tx.GetMessageForUpdate(ctx, "m1")
			if err != nil {
				return err
			}
			close(locked)
			<-release
			m.Status = message.StatusSending
			return tx.UpdateMessage(ctx, m, message.Event{Status: message.StatusSending, At: t0.Add(time.Second)})
		})
		if err != nil {
			t.Errorf("first tx: %v", err)
		}
	})
	<-locked
	var got message.Message
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
			var err error
			got, err = tx.FindByProviderIDForUpdate(ctx, message.Outbound, "", "x")
			if !errors.Is(err, ports.ErrNotFound) {
				return fmt.Errorf("unknown provider id: err = %v, want ErrNotFound", err)
			}
			got, err = tx.GetMessageForUpdate(ctx, "m1")
			return err
		})
	}()
	waitForLockWaiter(t, s)
	close(release)
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got.Status != message.StatusSending || len(got.Events) != 2 {
		t.Errorf("second tx saw status %s with %d events, want sending with 2", got.Status, len(got.Events))
	}
}

// waitForLockWaiter returns once some session of the database waits on a row lock.
func waitForLockWaiter(t *testing.T, s *postgres.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := s.DB().QueryRow(`SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no transaction waits for the row lock")
}

func TestConcurrentAppends(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	insert(t, s, outbound("m1", t0))
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
				m, err := tx.GetMessageForUpdate(ctx, "m1")
				if err != nil {
					return err
				}
				return tx.UpdateMessage(ctx, m, message.Event{Status: message.StatusSending, At: t0, Detail: fmt.Sprint(i)})
			})
			if err != nil {
				t.Errorf("append %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetMessage(ctx, "", "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != n+1 {
		t.Errorf("%d events, want %d", len(got.Events), n+1)
	}
}

func TestFindByProviderID(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	m := outbound("m1", t0)
	m.Provider, m.ProviderMessageID = "twilio", "SM1"
	insert(t, s, m)
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		got, err := tx.FindByProviderIDForUpdate(ctx, message.Outbound, "twilio", "SM1")
		if err != nil || got.ID != "m1" {
			return fmt.Errorf("find: %v, %v", got.ID, err)
		}
		for _, q := range [][3]string{{"inbound", "twilio", "SM1"}, {"outbound", "other", "SM1"}, {"outbound", "twilio", "SM2"}} {
			if _, err := tx.FindByProviderIDForUpdate(ctx, message.Direction(q[0]), q[1], q[2]); !errors.Is(err, ports.ErrNotFound) {
				return fmt.Errorf("find %v: err = %v, want ErrNotFound", q, err)
			}
		}
		return nil
	})
}

func TestHide(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	insert(t, s, outbound("m1", t0))
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.HideMessage(ctx, "m1", t0); err != nil {
			return err
		}
		if err := tx.HideMessage(ctx, "nope", t0); !errors.Is(err, ports.ErrNotFound) {
			return fmt.Errorf("hide unknown: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if _, err := s.GetMessage(ctx, "acme", "m1"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("hidden: err = %v, want ErrNotFound", err)
	}
	page, err := s.ListMessages(ctx, "acme", ports.MessageQuery{Limit: 10})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("list after hide: %d items, %v", len(page.Items), err)
	}
	inTx(t, s, func(ctx context.Context, tx ports.Tx) error {
		_, err := tx.GetMessageForUpdate(ctx, "m1")
		return err
	})
}

func TestListMessages(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	var all []message.Message
	for i := range 7 {
		// Pairs share a creation time, so ties are broken by id.
		m := outbound(fmt.Sprintf("m%d", i), t0.Add(time.Duration(i/2)*time.Minute))
		if i%3 == 0 {
			m.Status = message.StatusDelivered
		}
		all = append(all, m)
	}
	other := outbound("x", t0)
	other.AccountID = "other"
	insert(t, s, append(all, other)...)

	var ids []string
	q := ports.MessageQuery{Limit: 3}
	for pages := 0; ; pages++ {
		page, err := s.ListMessages(ctx, "acme", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Items {
			ids = append(ids, m.ID)
			if len(m.Events) != 1 {
				t.Errorf("%s has %d events", m.ID, len(m.Events))
			}
		}
		if page.Next == nil {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		// The cursor survives its string form.
		c, err := ports.DecodeCursor(page.Next.Encode())
		if err != nil {
			t.Fatal(err)
		}
		q.After = &c
	}
	if want := []string{"m6", "m5", "m4", "m3", "m2", "m1", "m0"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("pages give %v, want %v", ids, want)
	}

	tests := []struct {
		name string
		q    ports.MessageQuery
		want int
	}{
		{"status", ports.MessageQuery{Status: message.StatusDelivered}, 3},
		{"direction", ports.MessageQuery{Direction: message.Inbound}, 0},
		{"from", ports.MessageQuery{From: "+15550001111"}, 7},
		{"to", ports.MessageQuery{To: "nobody"}, 0},
		{"created range inclusive", ports.MessageQuery{CreatedAfter: t0.Add(time.Minute), CreatedBefore: t0.Add(2 * time.Minute)}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Limit = 100
			page, err := s.ListMessages(ctx, "acme", tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != tt.want || page.Next != nil {
				t.Errorf("%d items (next %v), want %d", len(page.Items), page.Next, tt.want)
			}
		})
	}
}

func TestListAwaitingStatus(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	mk := func(id string, minute int, status message.Status, provider, pid string) message.Message {
		m := outbound(id, t0.Add(time.Duration(minute)*time.Minute))
		m.Status, m.Provider, m.ProviderMessageID = status, provider, pid
		return m
	}
	in := mk("in", 3, message.StatusReceived, "p", "in-1")
	in.Direction = message.Inbound
	insert(t, s,
		mk("a", 2, message.StatusSent, "p", "1"),
		mk("b", 1, message.StatusSending, "p", "2"),
		mk("c", 3, message.StatusDelivered, "p", "3"),
		mk("d", 4, message.StatusSent, "p", ""),
		mk("e", 5, message.StatusSent, "q", "5"),
		mk("f", 0, message.StatusSent, "p", "6"),
		mk("g", 6, message.StatusQueued, "p", "7"),
		in)
	got, err := s.ListAwaitingStatus(ctx, ports.AwaitingQuery{Provider: "p", Since: t0.Add(time.Minute), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range got {
		ids = append(ids, m.ID)
	}
	if want := []string{"b", "a", "g"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("awaiting = %v, want %v", ids, want)
	}
	if got, _ := s.ListAwaitingStatus(ctx, ports.AwaitingQuery{Provider: "p", Since: t0, Limit: 2}); len(got) != 2 || got[0].ID != "f" {
		t.Errorf("limit 2 gave %d messages", len(got))
	}
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.GetAccount(ctx, "acme"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("unknown account: err = %v, want ErrNotFound", err)
	}
	for _, a := range []ports.Account{
		{ID: "zeta", PasswordHash: "h1", CreatedAt: t0},
		{ID: "Acme", PasswordHash: "h2", CreatedAt: t0},
		{ID: "zeta", PasswordHash: "h3", CreatedAt: t0.Add(time.Hour)},
	} {
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetAccount(ctx, "zeta")
	if err != nil {
		t.Fatal(err)
	}
	if want := (ports.Account{ID: "zeta", PasswordHash: "h3", CreatedAt: t0}); got != want {
		t.Errorf("GetAccount = %+v, want %+v", got, want)
	}
	list, err := s.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "Acme" || list[1].ID != "zeta" {
		t.Errorf("ListAccounts = %+v", list)
	}
}

func TestInTx(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InsertMessage(ctx, outbound("m1", t0)); err != nil {
			return err
		}
		sqlTx, ok := tx.(ports.SQLTx)
		if !ok {
			return errors.New("Tx is not a ports.SQLTx")
		}
		// A write through the raw transaction is part of the same unit of work.
		if _, err := sqlTx.SQLTx().ExecContext(ctx, `INSERT INTO accounts VALUES ('raw', 'h', now())`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	if _, err := s.GetMessage(ctx, "", "m1"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("rolled back message: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetAccount(ctx, "raw"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("rolled back raw write: err = %v, want ErrNotFound", err)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in fn was swallowed")
			}
		}()
		_ = s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error { panic("fn panics") })
	}()
	// The pool still works after the panic.
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = postgres.Open(ctx, "postgres://postgres@"+addr+"/x?sslmode=disable&connect_timeout=2")
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("Open unreachable: err = %v, want ErrUnavailable", err)
	}

	s := newStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(context.Context, ports.Tx) error { return nil }); err == nil {
		t.Error("InTx on a closed store succeeded")
	}
}

// A connection the server drops in the middle of a transaction reads as ErrUnavailable.
func TestConnectionLostIsUnavailable(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	err := s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var pid int
		if err := tx.(ports.SQLTx).SQLTx().QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			return err
		}
		if _, err := s.DB().ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			return err
		}
		_, err := tx.GetMessageForUpdate(ctx, "m1")
		return err
	})
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("InTx on a terminated connection: err = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("the pool does not recover: %v", err)
	}
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	s := newStore(t) // migrated once
	for range 2 {
		if err := postgres.Migrate(context.Background(), s.DB()); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	for i := range stores {
		s, err := postgres.Open(ctx, dsn, postgres.WithMaxOpenConns(4))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			if err := postgres.Migrate(ctx, s.DB()); err != nil {
				t.Errorf("replica %d: Migrate: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	insert(t, stores[0], outbound("m1", t0))
}

func TestRiverTablesExist(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, table := range []string{"river_job", "river_leader", "river_migration", "river_queue", "river_client", "messages", "accounts"} {
		var exists bool
		if err := s.DB().QueryRow(`SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if !exists {
			t.Errorf("table %s is missing after Migrate", table)
		}
	}
}

// BenchmarkInsertMessage measures the store's share of an accept: one transaction holding
// one message with its first event.
func BenchmarkInsertMessage(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		m := outbound(fmt.Sprintf("m%d", i), t0)
		err := s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.InsertMessage(ctx, m) })
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestStalePreparedStatements: a migration by another replica that changes a column's type
// invalidates this store's prepared statements; the transaction that notices fails as
// unavailable (nothing written, safe to retry) and the next one prepares them again.
func TestStalePreparedStatements(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	insert(t, s, outbound("m1", t0))
	lock := func() error {
		return s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
			_, err := tx.GetMessageForUpdate(ctx, "m1")
			return err
		})
	}
	if err := lock(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `ALTER TABLE messages ALTER COLUMN text TYPE varchar(2000)`); err != nil {
		t.Fatal(err)
	}
	// Each connection of the pool may hold the old plan once; within a few transactions the
	// statements are prepared afresh and stay good.
	var err error
	for i := range 50 {
		if err = lock(); err == nil {
			t.Logf("recovered after %d stale transaction(s)", i)
			break
		}
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Fatalf("stale statement: %v, want ErrUnavailable", err)
		}
	}
	if err != nil {
		t.Fatalf("statements never recovered: %v", err)
	}
}
