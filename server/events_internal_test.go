package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
)

func TestParseWait(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		invalid bool
	}{
		{in: "soon", invalid: true},
		{in: "-5s", invalid: true},
		{in: "0", invalid: true},
		{in: "0s", invalid: true},
		{in: "1.5", invalid: true},
		{in: "-36028797018963908", invalid: true},   // 60 - 2^55 seconds: wraps to +60 s if converted first
		{in: "-36028797018964028", invalid: true},   // -(60 + 2^55): wraps to -60 s
		{in: "99999999999999999999", invalid: true}, // beyond int64
		{in: "", want: 0},
		{in: "30s", want: 30 * time.Second},
		{in: "30", want: 30 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "2m", want: 60 * time.Second}, // at most 60 s
		{in: "86400", want: 60 * time.Second},
		{in: "36028797018963968", want: 60 * time.Second}, // 2^55 s wraps to 0 if converted first
		{in: "9223372036854775807", want: 60 * time.Second},
	}
	for _, tt := range tests {
		got, err := parseWait(tt.in)
		if (err != nil) != tt.invalid || got != tt.want {
			t.Errorf("parseWait(%q) = %s, %v", tt.in, got, err)
		}
	}
}

// gatedFeed is a feed whose Publish waits for the test (a slow Redis).
type gatedFeed struct {
	gate chan struct{}
	got  chan string
}

func (f *gatedFeed) Publish(ctx context.Context, id string) error {
	select {
	case <-f.gate:
		f.got <- id
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *gatedFeed) Run(ctx context.Context, _ func(string), _ func()) error {
	<-ctx.Done()
	return nil
}

// TestStopFeedPublishesWhatIsQueued: changes queued behind a slow Redis when a replica starts
// its graceful shutdown are still published (a rolling restart loses no wake-up), and then the
// feed stops.
func TestStopFeedPublishesWhatIsQueued(t *testing.T) {
	const n = 20
	f := &gatedFeed{gate: make(chan struct{}), got: make(chan string, n)}
	h := newHub()
	counts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "feed"}, []string{"result"})
	h.startFeed(f, counts, slog.New(slog.DiscardHandler))
	for i := range n {
		h.OperationChanged(context.Background(), store.Operation{ID: strconv.Itoa(i)})
	}
	stopped := make(chan struct{})
	go func() { h.stopFeedAfter(context.Background()); close(stopped) }()
	<-h.drain // the shutdown has begun; Redis answers again from now on
	for done := false; !done; {
		select {
		case f.gate <- struct{}{}:
		case <-stopped:
			done = true
		}
	}
	close(f.got)
	var got []string
	for id := range f.got {
		got = append(got, id)
	}
	if len(got) != n {
		t.Fatalf("published %d of the %d queued changes: %v", len(got), n, got)
	}
	for i, id := range got {
		if id != strconv.Itoa(i) {
			t.Fatalf("published out of order: %v", got)
		}
	}
}

// waitHarness is a server with only the operation service, for tests of waitForChange run in a
// synctest bubble, whose clock moves only when every goroutine in it waits: "answers at 1.5 s"
// is then an exact bound, not a timing.
type waitHarness struct {
	srv     *Server
	ops     *txsign.Service
	replica *txsign.Service // a second service on the same store: another replica's changes
	userID  string
}

func newWaitHarness(t *testing.T, poll time.Duration) *waitHarness {
	t.Helper()
	ctx := t.Context()
	st := sqltest.OpenSQLite(t)
	ring, _ := kek.New([][]byte{bytes.Repeat([]byte{3}, 32)})
	newService := func() *txsign.Service {
		keys := txsign.NewKeyring(st, ring, txsign.KeyringConfig{})
		if err := keys.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		return txsign.NewService(st, audit.New(st, nil, nil), keys, replay.NewMemory(nil),
			txsign.Config{Issuer: "https://signet.example", Audience: "payments"})
	}
	h := &waitHarness{ops: newService(), replica: newService()}
	h.srv = New(Deps{Operations: h.ops}, Options{OperationPoll: poll})
	u := store.User{ID: uuid.NewString(), ExternalID: "cust-wait", CreatedAt: time.Now().UTC()}
	if err := st.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	h.userID = u.ID
	return h
}

func (h *waitHarness) create(t *testing.T) store.Operation {
	t.Helper()
	op, _, err := h.ops.Create(t.Context(), "bank", txsign.NewOperation{UserID: h.userID, Type: "payment",
		PayeeAccount: "DE89370400440532013000", PayeeName: "ACME GmbH", Amount: "1", Currency: "EUR", ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

type waitResult struct {
	op  store.Operation
	err error
	at  time.Duration // on the bubble's clock, from the start of the wait
}

func (r waitResult) String() string {
	return fmt.Sprintf("%s after %s (err %v)", r.op.Status, r.at, r.err)
}

// startWait runs waitForChange in the bubble and returns where its result will arrive once it
// has subscribed (synctest.Wait: every goroutine of the bubble is blocked).
func (h *waitHarness) startWait(t *testing.T, op store.Operation, wait time.Duration) <-chan waitResult {
	t.Helper()
	done := make(chan waitResult, 1)
	start := time.Now()
	go func() {
		got, err := h.srv.waitForChange(t.Context(), op, wait)
		done <- waitResult{got, err, time.Since(start)}
	}()
	synctest.Wait()
	return done
}

// answered returns the wait's result if it has returned by now (synctest.Wait: everything
// that could run has run).
func answered(done <-chan waitResult) (waitResult, bool) {
	synctest.Wait()
	select {
	case r := <-done:
		return r, true
	default:
		return waitResult{}, false
	}
}

func TestWaitForChange(t *testing.T) {
	const wait = 1500 * time.Millisecond
	t.Run("unchanged: answers PENDING when the wait runs out, not before", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newWaitHarness(t, time.Hour)
			done := h.startWait(t, h.create(t), wait)
			time.Sleep(wait - time.Nanosecond)
			if r, ok := answered(done); ok {
				t.Fatalf("answered %s of a %s wait", r, wait)
			}
			time.Sleep(time.Nanosecond)
			r, ok := answered(done)
			if !ok || r.err != nil || r.op.Status != store.OpPending || r.at != wait {
				t.Fatalf("when the wait ran out: answered=%v %v", ok, r)
			}
		})
	})
	t.Run("a change in this process wakes the waiter at once (store poll off)", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newWaitHarness(t, time.Hour)
			op := h.create(t)
			done := h.startWait(t, op, wait)
			if _, err := h.ops.Cancel(t.Context(), "bank", op.ID); err != nil {
				t.Fatal(err)
			}
			// No time passes: only the hub can have woken it.
			r, ok := answered(done)
			if !ok || r.err != nil || r.op.Status != store.OpCanceled || r.at != 0 {
				t.Fatalf("after the cancel: answered=%v %v", ok, r)
			}
		})
	})
	t.Run("another replica's change is seen at the next store poll", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const poll = 400 * time.Millisecond
			h := newWaitHarness(t, poll)
			op := h.create(t)
			done := h.startWait(t, op, wait)
			if _, err := h.replica.Cancel(t.Context(), "bank", op.ID); err != nil {
				t.Fatal(err)
			}
			time.Sleep(poll - time.Nanosecond)
			if r, ok := answered(done); ok {
				t.Fatalf("answered before the first poll: %v", r)
			}
			time.Sleep(time.Nanosecond)
			r, ok := answered(done)
			if !ok || r.err != nil || r.op.Status != store.OpCanceled || r.at != poll {
				t.Fatalf("at the first poll: answered=%v %v", ok, r)
			}
		})
	})
	t.Run("terminal: answers at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newWaitHarness(t, time.Hour)
			op := h.create(t)
			if _, err := h.replica.Cancel(t.Context(), "bank", op.ID); err != nil {
				t.Fatal(err)
			}
			// The caller read it PENDING before the change: the read after subscribing sees it.
			r, ok := answered(h.startWait(t, op, wait))
			if !ok || r.err != nil || r.op.Status != store.OpCanceled || r.at != 0 {
				t.Fatalf("answered=%v %v", ok, r)
			}
		})
	})
	t.Run("shutdown releases the waiter at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := newWaitHarness(t, time.Hour)
			done := h.startWait(t, h.create(t), wait)
			h.srv.hub.close()
			r, ok := answered(done)
			if !ok || r.err != nil || r.op.Status != store.OpPending || r.at != 0 {
				t.Fatalf("after close: answered=%v %v", ok, r)
			}
		})
	})
}
