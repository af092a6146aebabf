package txsign_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

type recorder struct {
	mu  sync.Mutex
	got []store.OperationStatus
}

func (r *recorder) OperationChanged(_ context.Context, op store.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, op.Status)
}

func TestObserversHearCreateAndTerminalStatus(t *testing.T) {
	clk := newClock()
	svc, _, uid := newService(t, clk)
	rec := &recorder{}
	svc.Observe(rec)
	ctx := context.Background()
	a, _, _ := svc.Create(ctx, "bank", payment(uid))
	if _, err := svc.Cancel(ctx, "bank", a.ID); err != nil {
		t.Fatal(err)
	}
	_, _, _ = svc.Create(ctx, "bank", payment(uid))
	clk.advance(2 * time.Minute)
	if _, err := svc.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	want := []store.OperationStatus{store.OpPending, store.OpCanceled, store.OpPending, store.OpExpired}
	if len(rec.got) != len(want) {
		t.Fatalf("got %v, want %v", rec.got, want)
	}
	for i := range want {
		if rec.got[i] != want[i] {
			t.Fatalf("got %v, want %v", rec.got, want)
		}
	}
}
