package webauthn_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webauthn"
)

var cheap = webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}

// Many approvals at once never run more hashes at a time than the gate has
// slots: the gate counts hashes inside the hash function itself, and each hash
// is held long enough (20 ms) that an unbounded path would overlap.
func TestArgon2GateBoundsConcurrentApprovals(t *testing.T) {
	const slots, users = 2, 12
	gate := webauthn.NewArgon2Gate(slots, users, cheap)
	e := newEnv(t, func(c *webauthn.Config) { c.Argon2Gate = gate })
	attempts := make([]attempt, users)
	ops := make([]store.Operation, users)
	for i := range attempts {
		u, d := e.enrolled(fmt.Sprintf("gate-%d", i))
		ops[i] = e.payment(u.ID, "10.00")
		attempts[i] = e.prepare(ops[i], d, txsign.Approve, testPasscode)
	}
	gate.SetHook(func() { time.Sleep(20 * time.Millisecond) })
	var wg sync.WaitGroup
	errs := make([]error, users)
	for i := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.FinishApproval(e.ctx, ops[i].ID, attempts[i].in)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("approval %d: %v", i, err)
		}
	}
	if p := gate.Peak(); p != slots {
		t.Fatalf("peak concurrent hashes %d, want exactly %d (the bound, reached)", p, slots)
	}
	if gate.InFlight() != 0 || gate.Refused() != 0 {
		t.Fatalf("in flight %d, refused %d after the run", gate.InFlight(), gate.Refused())
	}
}

// A full queue refuses at once, before anything changed, with a retry delay;
// the same ceremony then finishes once there is room.
func TestArgon2GateQueueFullRefusesBeforeAnythingChanges(t *testing.T) {
	gate := webauthn.NewArgon2Gate(1, 1, cheap)
	e := newEnv(t, func(c *webauthn.Config) { c.Argon2Gate = gate })
	u, d := e.enrolled("gate-full")
	op := e.payment(u.ID, "10.00")
	a := e.prepare(op, d, txsign.Approve, testPasscode)
	r1, _ := gate.Admit()
	r2, _ := gate.Admit()
	_, err := e.svc.FinishApproval(e.ctx, op.ID, a.in)
	var ra *fault.RetryAfterError
	if !errors.Is(err, fault.ErrUnavailable) || !errors.As(err, &ra) || ra.After < time.Second {
		t.Fatalf("full queue: %v, want ErrUnavailable with a retry delay", err)
	}
	if got := e.user(u.ID); got.PasscodeFailed != 0 {
		t.Fatalf("a refused request counted a passcode try: %d", got.PasscodeFailed)
	}
	r1()
	r2()
	if res, err := e.svc.FinishApproval(e.ctx, op.ID, a.in); err != nil || res.Operation.Status != store.OpApproved {
		t.Fatalf("same ceremony after the queue drained: %v %v", res.Operation.Status, err)
	}
}

// A request waiting for a slot whose context ends leaves the queue, gets its
// reserved passcode try back and leaves the operation untouched.
func TestArgon2GateCanceledWaiterLeavesQueue(t *testing.T) {
	gate := webauthn.NewArgon2Gate(1, 1, cheap)
	e := newEnv(t, func(c *webauthn.Config) { c.Argon2Gate = gate })
	u, d := e.enrolled("gate-cancel")
	op := e.payment(u.ID, "10.00")
	a := e.prepare(op, d, txsign.Approve, testPasscode)
	hold, err := gate.Acquire(context.Background()) // the one slot is busy
	if err != nil {
		t.Fatal(err)
	}
	defer hold()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.FinishApproval(ctx, op.ID, a.in)
		done <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); gate.Waiting() != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the approval never queued")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := gate.Admit(); err != nil {
		t.Fatalf("queue of 1 with one waiter admitted nobody else: %v", err)
	} // 2 of 2 admitted: the waiter and this one
	cancel()
	// The answer is the request's end itself, not the decision's refusal wrapping it.
	if err := <-done; !errors.Is(err, context.Canceled) || err.Error() != context.Canceled.Error() {
		t.Fatalf("canceled waiter: %v", err)
	}
	if n := gate.InFlight(); n != 1 {
		t.Fatalf("in flight after the cancel: %d, want 1 (only the extra admission)", n)
	}
	if n := gate.Waiting(); n != 0 {
		t.Fatalf("waiting after the cancel: %d", n)
	}
	if got := e.user(u.ID); got.PasscodeFailed != 0 {
		t.Fatalf("the canceled waiter's try was not refunded: %d", got.PasscodeFailed)
	}
	if got := e.op(op.ID); got.Status != store.OpPending || got.FailedAttempts != 0 {
		t.Fatalf("operation after the cancel: %s, %d failures", got.Status, got.FailedAttempts)
	}
}

func TestArgon2GateDefaults(t *testing.T) {
	g := webauthn.NewArgon2Gate(0, -1, webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 64})
	if g.Slots() != 1 || g.Queue() != webauthn.DefaultArgon2Queue {
		t.Fatalf("slots %d queue %d", g.Slots(), g.Queue())
	}
}
