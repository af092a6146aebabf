package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webhook"
)

var secret = webhook.Secret("0123456789abcdef0123456789abcdef")

// backends runs f on SQLite, and on PostgreSQL when SIGNET_TEST_POSTGRES_URL is set.
func backends(t *testing.T, f func(t *testing.T, s *signettest.Stack)) {
	for _, b := range []struct {
		name     string
		postgres bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(b.name, func(t *testing.T) {
			f(t, signettest.New(t, signettest.Options{Postgres: b.postgres}))
		})
	}
}

// receiver is an idempotent webhook endpoint: it checks the signature, processes each event id
// once and counts every delivery.
type receiver struct {
	t   testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	mode       string // "up", "down" (503), "reset" (connection dropped), "hang" (process, never answer)
	processed  map[string]webhook.Event
	deliveries map[string]int
	failures   int
	release    chan struct{}
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, mode: "up", processed: map[string]webhook.Event{}, deliveries: map[string]int{}, release: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.unblock()
		r.srv.Close()
	})
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hooks/signet" }

func (r *receiver) set(mode string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = mode
}

func (r *receiver) unblock() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.release:
	default:
		close(r.release)
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := webhook.Verify(secret, req.Header.Get(webhook.HeaderSignature), body, time.Now(), 0); err != nil {
		r.t.Errorf("bad signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	mode, release := r.mode, r.release
	switch mode {
	case "down":
		r.failures++
		r.mu.Unlock()
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	case "reset":
		r.failures++
		r.mu.Unlock()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(webhook.HeaderEventID) {
		r.mu.Unlock()
		r.t.Errorf("bad event %s: %v", body, err)
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	r.deliveries[ev.ID]++
	if _, seen := r.processed[ev.ID]; !seen { // idempotent: act once per event id
		r.processed[ev.ID] = ev
	}
	r.mu.Unlock()
	if mode == "hang" {
		<-release // processed, but the answer never reaches the sender
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) counts() (processed, failures int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.processed), r.failures
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fastWorker(t *testing.T, s webhook.WorkerStore, reg prometheus.Registerer) *webhook.Worker {
	t.Helper()
	w, err := webhook.NewWorker(s, webhook.WorkerConfig{Secret: secret, Timeout: 2 * time.Second, Lease: 3 * time.Second,
		BackoffBase: 20 * time.Millisecond, BackoffMax: 150 * time.Millisecond,
		Breaker:    webhook.BreakerConfig{Failures: 3, Cooldown: 100 * time.Millisecond, MaxCooldown: 300 * time.Millisecond},
		Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func run(t *testing.T, w *webhook.Worker, kick <-chan struct{}) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx, kick, 20*time.Millisecond); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			_ = w.Close(context.Background())
		})
	}
	t.Cleanup(stop)
	return stop
}

var errRead = errors.New("read only")

// outboxEvent reads one outbox event without changing it (the update closure aborts).
func outboxEvent(t *testing.T, s webhook.WorkerStore, id string) (store.OutboxEvent, bool) {
	t.Helper()
	var got store.OutboxEvent
	_, err := s.UpdateOutbox(context.Background(), id, func(e *store.OutboxEvent) error { got = *e; return errRead })
	if errors.Is(err, store.ErrNotFound) {
		return got, false
	}
	if !errors.Is(err, errRead) {
		t.Fatal(err)
	}
	return got, true
}

// undelivered returns the events of ops (at their current status) not delivered yet.
func undelivered(t *testing.T, s webhook.WorkerStore, ops ...store.Operation) []store.OutboxEvent {
	t.Helper()
	var out []store.OutboxEvent
	for _, op := range ops {
		if e, ok := outboxEvent(t, s, webhook.EventID(op.ID, op.Status)); ok && e.DeliveredAt == nil {
			out = append(out, e)
		}
	}
	return out
}

// terminalOperations ends three operations with callback: approved, rejected, canceled.
func terminalOperations(t *testing.T, s *signettest.Stack, callback string) []store.Operation {
	t.Helper()
	u := s.User("cust-" + t.Name())
	d := s.DeviceKey(u.ID)
	cb := func(n *txsign.NewOperation) { n.CallbackURL = callback }
	a, r, c := s.Payment(u.ID, "10", "EUR", cb), s.Payment(u.ID, "20", "EUR", cb), s.Payment(u.ID, "30", "EUR", cb)
	s.Approve(a, d)
	if _, err := s.Decide(r, d, txsign.Reject); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ops.Cancel(context.Background(), "bank", c.ID); err != nil {
		t.Fatal(err)
	}
	var out []store.Operation
	for _, op := range []store.Operation{a, r, c} {
		got, _ := s.Store.GetOperation(context.Background(), op.ID)
		out = append(out, got)
	}
	return out
}

func TestOutboxEnqueuesOnTerminalStatusOnce(t *testing.T) {
	s := signettest.New(t, signettest.Options{})
	ctx := context.Background()
	withDefault := webhook.NewOutbox(s.Store, "https://bank.example/hooks", nil)
	s.Ops.Observe(withDefault)
	u := s.User("cust-outbox")
	tests := []struct {
		name     string
		callback string
		end      bool
		want     string // endpoint; "" = no event
	}{
		{name: "pending operation sends nothing", callback: "https://cb.example/x", end: false, want: ""},
		{name: "callback_url wins over the default", callback: "https://cb.example/x", end: true, want: "https://cb.example/x"},
		{name: "default URL without callback_url", end: true, want: "https://bank.example/hooks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := s.Payment(u.ID, "1", "EUR", func(n *txsign.NewOperation) { n.CallbackURL = tt.callback })
			if tt.end {
				var err error
				if op, err = s.Ops.Cancel(ctx, "bank", op.ID); err != nil {
					t.Fatal(err)
				}
			}
			var got *store.OutboxEvent
			if e, ok := outboxEvent(t, s.Store, webhook.EventID(op.ID, store.OpCanceled)); ok {
				got = &e
			}
			if tt.want == "" {
				if got != nil {
					t.Fatalf("event for a %s operation: %+v", op.Status, got)
				}
				return
			}
			if got == nil || got.Endpoint != tt.want || got.ID != webhook.EventID(op.ID, store.OpCanceled) || got.Type != "operation.canceled" {
				t.Fatalf("event %+v", got)
			}
			var ev webhook.Event
			if err := json.Unmarshal(got.Payload, &ev); err != nil || ev.Status != "CANCELED" || ev.OperationID != op.ID || !ev.OccurredAt.Equal(op.UpdatedAt) {
				t.Fatalf("payload %s", got.Payload)
			}
			// The same event again (from the reconciler or another replica) inserts nothing.
			if inserted, err := withDefault.Enqueue(ctx, op); inserted || err != nil {
				t.Fatalf("re-enqueue: %v %v", inserted, err)
			}
		})
	}
	t.Run("no callback_url and no default sends nothing", func(t *testing.T) {
		none := webhook.NewOutbox(s.Store, "", nil)
		op := s.Payment(u.ID, "1", "EUR")
		op, _ = s.Ops.Cancel(ctx, "bank", op.ID)
		op.ID = "00000000-0000-4000-8000-000000000000" // not the real one: the observer above enqueued that
		if inserted, err := none.Enqueue(ctx, op); inserted || err != nil {
			t.Fatalf("%v %v", inserted, err)
		}
	})
	first, again := webhook.EventID("op", store.OpApproved), webhook.EventID("op", store.OpApproved)
	if first == webhook.EventID("op", store.OpRejected) || first != again || first == webhook.EventID("op2", store.OpApproved) {
		t.Fatal("event ids must be stable per operation and status")
	}
}

func TestDeliveryOutcomes(t *testing.T) {
	s := signettest.New(t, signettest.Options{})
	ctx := context.Background()
	redirect := httptest.NewServer(http.RedirectHandler("https://elsewhere.example/", http.StatusFound))
	defer redirect.Close()
	fail500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer fail500.Close()
	ok := newReceiver(t)
	tests := []struct {
		name      string
		endpoint  string
		maxAge    time.Duration
		delivered bool
		errPart   string
	}{
		{name: "5xx is retried later", endpoint: fail500.URL, errPart: "HTTP 500"},
		{name: "redirect is not followed", endpoint: redirect.URL, errPart: "HTTP 302"},
		{name: "link-local address is refused", endpoint: "http://169.254.169.254/latest", errPart: "refusing to connect"},
		{name: "too old is abandoned", endpoint: fail500.URL, maxAge: time.Nanosecond, errPart: "abandoned after 1 attempts"},
		{name: "2xx is delivered", endpoint: ok.url(), delivered: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := webhook.EventID("case", store.OperationStatus(rune('a'+i)))
			if err := s.Store.EnqueueOutbox(ctx, &store.OutboxEvent{ID: id, Endpoint: tt.endpoint, Type: "operation.approved",
				Payload: []byte(`{"id":"` + id + `"}`)}); err != nil {
				t.Fatal(err)
			}
			w, err := webhook.NewWorker(s.Store, webhook.WorkerConfig{Secret: secret, Timeout: 2 * time.Second,
				BackoffBase: time.Hour, MaxAge: tt.maxAge})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := w.Dispatch(ctx); n != 1 || err != nil {
				t.Fatalf("dispatched %d: %v", n, err)
			}
			_ = w.Close(ctx)
			left, _ := outboxEvent(t, s.Store, id)
			if tt.delivered {
				if left.DeliveredAt == nil || left.Attempts != 1 {
					t.Fatalf("not delivered: %+v", left)
				}
				return
			}
			if left.DeliveredAt != nil || left.Attempts != 1 || !strings.Contains(left.LastError, tt.errPart) {
				t.Fatalf("event %+v, want error containing %q", left, tt.errPart)
			}
			wantLater := time.Now().Add(25 * time.Minute) // BackoffBase 1h with equal jitter: at least 30 min
			if tt.maxAge > 0 {
				wantLater = time.Now().Add(50 * 365 * 24 * time.Hour) // parked
			}
			if left.NextAttemptAt.Before(wantLater) {
				t.Fatalf("next attempt %s, want after %s", left.NextAttemptAt, wantLater)
			}
		})
	}
	if _, err := webhook.NewWorker(s.Store, webhook.WorkerConfig{Secret: webhook.Secret("short")}); err == nil {
		t.Fatal("a short secret must be refused")
	}
}

func TestDeliveredAfterReceiverReturns(t *testing.T) {
	backends(t, func(t *testing.T, s *signettest.Stack) {
		rcv := newReceiver(t)
		rcv.set("down")
		outbox := webhook.NewOutbox(s.Store, "", nil)
		s.Ops.Observe(outbox)
		ops := terminalOperations(t, s, rcv.url())
		reg := prometheus.NewRegistry()
		run(t, fastWorker(t, s.Store, reg), outbox.Kicked())

		// Down for a while: 503s, then dropped connections, long enough to open the circuit.
		waitFor(t, "failed deliveries", 10*time.Second, func() bool { _, f := rcv.counts(); return f >= 4 })
		rcv.set("reset")
		waitFor(t, "dropped connections", 10*time.Second, func() bool { _, f := rcv.counts(); return f >= 7 })
		if n, _ := rcv.counts(); n != 0 {
			t.Fatalf("%d events processed while the receiver was down", n)
		}
		rcv.set("up")
		waitFor(t, "every event delivered", 10*time.Second, func() bool { n, _ := rcv.counts(); return n == len(ops) })

		rcv.mu.Lock()
		for _, op := range ops {
			ev, ok := rcv.processed[webhook.EventID(op.ID, op.Status)]
			if !ok || ev.OperationID != op.ID || ev.Status != string(op.Status) || ev.Type != "operation."+strings.ToLower(string(op.Status)) {
				t.Errorf("operation %s (%s): event %+v", op.ID, op.Status, ev)
			}
		}
		rcv.mu.Unlock()
		waitFor(t, "deliveries recorded", 5*time.Second, func() bool { return len(undelivered(t, s.Store, ops...)) == 0 })
		if deferred := counter(t, reg, "signet_webhook_deliveries_total", "deferred"); deferred == 0 {
			t.Error("the circuit never opened (no deferred delivery)")
		}
	})
}

func counter(t *testing.T, reg *prometheus.Registry, name, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// crashingStore stands for a process that dies: once crashed it writes nothing more.
type crashingStore struct {
	webhook.WorkerStore
	crashed atomic.Bool
}

var errDead = errors.New("process is dead")

func (c *crashingStore) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEvent, error) {
	if c.crashed.Load() {
		return nil, errDead
	}
	return c.WorkerStore.ClaimOutbox(ctx, now, lease, limit)
}

func (c *crashingStore) UpdateOutbox(ctx context.Context, id string, fn func(*store.OutboxEvent) error) (store.OutboxEvent, error) {
	if c.crashed.Load() {
		return store.OutboxEvent{}, errDead
	}
	return c.WorkerStore.UpdateOutbox(ctx, id, fn)
}

func TestWorkerRestartedMidDeliveryLosesNothing(t *testing.T) {
	backends(t, func(t *testing.T, s *signettest.Stack) {
		rcv := newReceiver(t)
		rcv.set("hang") // the receiver acts on the events but its answers never arrive
		outbox := webhook.NewOutbox(s.Store, "", nil)
		s.Ops.Observe(outbox)
		ops := terminalOperations(t, s, rcv.url())

		first := &crashingStore{WorkerStore: s.Store}
		w1, err := webhook.NewWorker(first, webhook.WorkerConfig{Secret: secret, Timeout: 500 * time.Millisecond,
			Lease: time.Second, BackoffBase: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		stop1 := run(t, w1, nil)
		waitFor(t, "first worker mid-delivery", 10*time.Second, func() bool { n, _ := rcv.counts(); return n == len(ops) })
		first.crashed.Store(true) // dies before recording anything
		stop1()
		if left := undelivered(t, s.Store, ops...); len(left) != len(ops) {
			t.Fatalf("%d events left undelivered after the crash, want %d", len(left), len(ops))
		}

		// An operation ends while no worker runs, then Signet starts again.
		u := s.User("cust-late")
		late := s.Payment(u.ID, "5", "EUR", func(n *txsign.NewOperation) { n.CallbackURL = rcv.url() })
		late, _ = s.Ops.Cancel(context.Background(), "bank", late.ID)
		ops = append(ops, late)
		rcv.set("up")
		rcv.unblock()
		w2 := fastWorker(t, s.Store, nil)
		run(t, w2, outbox.Kicked())
		waitFor(t, "redelivery after the restart", 10*time.Second, func() bool { return len(undelivered(t, s.Store, ops...)) == 0 })

		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if len(rcv.processed) != len(ops) {
			t.Fatalf("receiver processed %d events, want %d", len(rcv.processed), len(ops))
		}
		for _, op := range ops {
			id := webhook.EventID(op.ID, op.Status)
			if _, ok := rcv.processed[id]; !ok {
				t.Errorf("event of %s lost", op.ID)
			}
			if op.ID != late.ID && rcv.deliveries[id] < 2 {
				t.Errorf("event %s delivered %d times; the unanswered delivery must be repeated", id, rcv.deliveries[id])
			}
		}
	})
}

func TestReconcilerEnqueuesWhatTheRequestPathMissed(t *testing.T) {
	backends(t, func(t *testing.T, s *signettest.Stack) {
		ctx := context.Background()
		const cb = "https://bank.example/hooks"
		outbox := webhook.NewOutbox(s.Store, "", nil) // deliberately not observing: every enqueue is "lost"
		u := s.User("cust-reconcile")
		d := s.DeviceKey(u.ID)
		withCB := func(n *txsign.NewOperation) { n.CallbackURL = cb }
		approved := s.Payment(u.ID, "1", "EUR", withCB)
		s.Approve(approved, d)
		canceled := s.Payment(u.ID, "2", "EUR", withCB)
		if _, err := s.Ops.Cancel(ctx, "bank", canceled.ID); err != nil {
			t.Fatal(err)
		}
		// A crash right after the status change: no observer, no audit record of the change.
		crashed := s.Payment(u.ID, "3", "EUR", withCB)
		if _, err := s.Store.UpdateOperation(ctx, crashed.ID, func(o *store.Operation) error {
			o.Status = store.OpRejected
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		pending := s.Payment(u.ID, "4", "EUR", withCB)
		noEndpoint := s.Payment(u.ID, "5", "EUR")
		if _, err := s.Ops.Cancel(ctx, "bank", noEndpoint.ID); err != nil {
			t.Fatal(err)
		}

		r := webhook.NewReconciler(s.Store, outbox, webhook.ReconcilerConfig{})
		steps := []struct {
			name    string
			before  func()
			fresh   bool
			want    int
			tracked int
		}{
			{name: "first pass enqueues the three missed events", want: 3, tracked: 1},
			{name: "second pass finds nothing new", want: 0, tracked: 1},
			{name: "a later approval is found through the audit log", before: func() { s.Approve(pending, d) }, want: 1, tracked: 0},
			{name: "a restarted reconciler re-checks and inserts nothing twice", fresh: true, want: 0, tracked: 0},
		}
		for _, st := range steps {
			if st.before != nil {
				st.before()
			}
			if st.fresh {
				r = webhook.NewReconciler(s.Store, outbox, webhook.ReconcilerConfig{})
			}
			n, err := r.Pass(ctx)
			if err != nil || n != st.want || r.Tracked() != st.tracked {
				t.Fatalf("%s: enqueued %d (%v), tracking %d; want %d, tracking %d", st.name, n, err, r.Tracked(), st.want, st.tracked)
			}
		}
		for _, id := range []string{webhook.EventID(approved.ID, store.OpApproved), webhook.EventID(canceled.ID, store.OpCanceled),
			webhook.EventID(crashed.ID, store.OpRejected), webhook.EventID(pending.ID, store.OpApproved)} {
			if e, ok := outboxEvent(t, s.Store, id); !ok || e.Endpoint != cb {
				t.Errorf("event %s missing (%+v)", id, e)
			}
		}
		if _, ok := outboxEvent(t, s.Store, webhook.EventID(noEndpoint.ID, store.OpCanceled)); ok {
			t.Error("event enqueued for an operation without endpoint")
		}
	})
}

// TestPruneKeepsWhatIsStillRetried: Prune deletes, in batches, the events delivered or parked
// (abandoned by the worker itself) more than Retention after they were enqueued, and keeps
// recent ones and every event still being retried, however old.
func TestPruneKeepsWhatIsStillRetried(t *testing.T) {
	backends(t, func(t *testing.T, s *signettest.Stack) {
		ctx := context.Background()
		rcv := newReceiver(t)
		rcv.set("down")
		now := time.Now().UTC()
		old := now.Add(-8 * 24 * time.Hour)
		enqueue := func(e store.OutboxEvent) string {
			t.Helper()
			e.Endpoint, e.Type = rcv.url(), "operation.approved"
			if err := s.Store.EnqueueOutbox(ctx, &e); err != nil {
				t.Fatal(err)
			}
			return e.ID
		}
		const delivered = 1203 // more than one batch
		for range delivered {
			enqueue(store.OutboxEvent{CreatedAt: old, NextAttemptAt: old, DeliveredAt: &old})
		}
		recent := enqueue(store.OutboxEvent{CreatedAt: now.Add(-time.Hour), NextAttemptAt: now, DeliveredAt: &now})
		retried := enqueue(store.OutboxEvent{CreatedAt: old, NextAttemptAt: now.Add(time.Hour)})
		abandoned := enqueue(store.OutboxEvent{CreatedAt: old, NextAttemptAt: old})

		w := fastWorker(t, s.Store, nil)
		if _, err := w.Dispatch(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the old undeliverable event to be parked", 5*time.Second, func() bool {
			e, ok := outboxEvent(t, s.Store, abandoned)
			return ok && e.NextAttemptAt.After(now.Add(50*365*24*time.Hour))
		})
		_ = w.Close(ctx)

		n, err := w.Prune(ctx)
		if err != nil || n != delivered+1 {
			t.Fatalf("Prune deleted %d (%v), want the %d old delivered events and the parked one", n, err, delivered)
		}
		for id, want := range map[string]bool{recent: true, retried: true, abandoned: false} {
			if _, ok := outboxEvent(t, s.Store, id); ok != want {
				t.Errorf("event %s kept %v, want %v", id, ok, want)
			}
		}
		if n, err := w.Prune(ctx); n != 0 || err != nil {
			t.Fatalf("a second Prune deleted %d (%v)", n, err)
		}
	})
}

// slowClaimStore models a claim whose UPDATE commits while the caller's context ends: the
// database leases the rows, the caller only sees its context's error (as a driver answers a
// cancelled query).
type slowClaimStore struct {
	webhook.WorkerStore
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (c *slowClaimStore) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEvent, error) {
	first := false
	c.once.Do(func() { first = true })
	if !first {
		return c.WorkerStore.ClaimOutbox(ctx, now, lease, limit)
	}
	close(c.entered)
	<-c.release
	evs, err := c.WorkerStore.ClaimOutbox(context.WithoutCancel(ctx), now, lease, limit)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return evs, err
}

// TestShutdownDuringAClaimDeliversWhatWasClaimed: a replica told to stop (SIGTERM) while its
// claim is in flight finishes the claim and delivers what it leased before Close returns; a
// cancelled claim would leave the events leased to nobody until the lease ran out (2 minutes by
// default), which the replica run (make cluster) saw at each restart under load.
func TestShutdownDuringAClaimDeliversWhatWasClaimed(t *testing.T) {
	backends(t, func(t *testing.T, s *signettest.Stack) {
		rcv := newReceiver(t)
		outbox := webhook.NewOutbox(s.Store, "", nil)
		s.Ops.Observe(outbox)
		ops := terminalOperations(t, s, rcv.url())
		slow := &slowClaimStore{WorkerStore: s.Store, entered: make(chan struct{}), release: make(chan struct{})}
		w, err := webhook.NewWorker(slow, webhook.WorkerConfig{Secret: secret, Timeout: 2 * time.Second, Lease: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx, nil, time.Hour); close(done) }()
		<-slow.entered
		cancel() // SIGTERM while the claim is in flight
		close(slow.release)
		<-done
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if left := undelivered(t, s.Store, ops...); len(left) != 0 {
			t.Fatalf("%d of %d events leased and left undelivered by a worker stopped mid-claim", len(left), len(ops))
		}
		if n, _ := rcv.counts(); n != len(ops) {
			t.Fatalf("receiver got %d events, want %d", n, len(ops))
		}
	})
}
