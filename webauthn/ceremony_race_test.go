package webauthn_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/ceremony"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webauthn"
)

// gatedCeremonies holds every read of one ceremony until n readers have it, so that n concurrent
// finishes all load it unconsumed and meet at Consume, the one guard left between them.
type gatedCeremonies struct {
	webauthn.Ceremonies
	mu   sync.Mutex
	id   string
	n    int
	open chan struct{}
}

func (g *gatedCeremonies) gate(id string, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.id, g.n, g.open = id, n, make(chan struct{})
}

func (g *gatedCeremonies) Get(ctx context.Context, id string) (store.Ceremony, error) {
	c, err := g.Ceremonies.Get(ctx, id)
	g.mu.Lock()
	open, mine := g.open, id == g.id
	if mine {
		if g.n--; g.n == 0 {
			close(g.open)
		}
	}
	g.mu.Unlock()
	if mine {
		select {
		case <-open:
		case <-ctx.Done():
			return c, ctx.Err()
		}
	}
	return c, err
}

// TestConcurrentFinishesPassOneConsume: finishes that all read the ceremony before any consumed it
// are told apart by the ceremony store's Consume alone: one goes on to the decision, the others are
// refused as a used ceremony (401, audited unverified) before their passcode is checked or a try is
// counted. A Consume that let two through would send both to the passcode check and the decision.
func TestConcurrentFinishesPassOneConsume(t *testing.T) {
	g := &gatedCeremonies{}
	e := newEnv(t, func(c *webauthn.Config) { g.Ceremonies, c.Ceremonies = c.Ceremonies, g })
	u, d := e.enrolled("cust-gate")
	op := e.payment(u.ID, "10.00")
	a := e.prepare(op, d, txsign.Approve, testPasscode)
	const n = 4
	g.gate(a.in.CeremonyID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.svc.FinishApproval(e.ctx, op.ID, a.in) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, fault.ErrUnauthenticated):
			t.Errorf("a finish that lost the consume got %v; want the used ceremony's 401", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d finishes approved; want 1 (%v)", won, errs)
	}
	replays := 0
	for _, ev := range e.audits(store.AuditFilter{OperationID: op.ID}) {
		if ev.Reason == "approval ceremony replayed or expired" {
			replays++
		}
	}
	if replays != n-1 {
		t.Fatalf("%d refusals audited as a used ceremony; want %d", replays, n-1)
	}
	if got := e.user(u.ID); got.PasscodeFailed != 0 {
		t.Fatalf("PasscodeFailed %d after one right passcode; the losers' tries were counted", got.PasscodeFailed)
	}
}

// TestCeremonyStoreOutage: with the ceremonies in Redis and Redis down, a begin and a finish answer
// 503 (fault.ErrUnavailable) and change nothing: the operation stays pending, no passcode try is
// counted, and the same ceremony finishes once Redis is back.
func TestCeremonyStoreOutage(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { client.Close() })
	e := newEnv(t, func(c *webauthn.Config) { c.Ceremonies = ceremony.NewRedis(client, "") })
	u, d := e.enrolled("cust-outage")
	op := e.payment(u.ID, "10.00")
	a := e.prepare(op, d, txsign.Approve, testPasscode)

	mr.Close()
	_, err := e.svc.FinishApproval(e.ctx, op.ID, a.in)
	wantErr(t, err, fault.ErrUnavailable)
	_, err = e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
	wantErr(t, err, fault.ErrUnavailable)
	if got := e.op(op.ID).Status; got != store.OpPending {
		t.Fatalf("operation %s during the outage, want PENDING", got)
	}
	if got := e.user(u.ID).PasscodeFailed; got != 0 {
		t.Fatalf("PasscodeFailed %d after an outage", got)
	}

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.FinishApproval(e.ctx, op.ID, a.in); err != nil {
		t.Fatalf("the ceremony after the outage: %v", err)
	}
}
