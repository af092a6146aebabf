package webauthn_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

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

// resetSession opens a passcode-reset session for userID (the bank's reset link, opened).
func (e *env) resetSession(userID string) string {
	e.t.Helper()
	link, err := e.svc.IssuePasscodeReset(e.ctx, "bank", userID)
	if err != nil {
		e.t.Fatal(err)
	}
	_, token, _ := strings.Cut(link.URL, "#token=")
	sess, err := e.svc.OpenSession(e.ctx, token)
	if err != nil {
		e.t.Fatal(err)
	}
	return sess.Token
}

// A passcode change or reset that fails after the gate admitted it gives its admission back, and one that
// succeeds holds it until its hashes are done (issue 17 item 1: the gate bounds the memory of concurrent
// Argon2id, RFC 9106 §3.1). The gate here admits one request at a time and queues none, so a leaked
// admission would refuse the next finish with a 503; every failure is one that startPasscodeFinish returns
// after its Admit.
func TestArgon2GateAdmissionGivenBackWhenPasscodeFinishFails(t *testing.T) {
	gate := webauthn.NewArgon2Gate(1, 0, cheap)
	e := newEnv(t, func(c *webauthn.Config) { c.Argon2Gate = gate })
	u, d := e.enrolled("gate-finish")
	sess := e.session(u.ID)
	stranger := newDevice(virtualwebauthn.AuthenticatorOptions{}) // a passkey no user has
	change := func(dev *device, newField, newPC string) error {
		b, err := e.svc.BeginPasscodeChange(e.ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		return e.svc.FinishPasscodeChange(e.ctx, sess, webauthn.PasscodeChange{CeremonyID: b.CeremonyID,
			Credential: dev.assert(t, b.PublicKey), Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode),
			NewPasscode: seal(t, b.HPKE, newField, newPC)})
	}
	reset := func(rsess, newPC string) error {
		b, err := e.svc.BeginPasscodeReset(e.ctx, rsess)
		if err != nil {
			t.Fatal(err)
		}
		return e.svc.FinishPasscodeReset(e.ctx, rsess, webauthn.PasscodeReset{CeremonyID: b.CeremonyID,
			Credential: d.assert(t, b.PublicKey), NewPasscode: seal(t, b.HPKE, webauthn.FieldNewPasscode, newPC)})
	}
	wantDrained := func(t *testing.T) {
		t.Helper()
		if gate.InFlight() != 0 || gate.Waiting() != 0 || gate.Refused() != 0 {
			t.Fatalf("gate after the finish: %d in flight, %d waiting, %d refused; want all 0",
				gate.InFlight(), gate.Waiting(), gate.Refused())
		}
	}
	// why is the refusal's exact reason: the field problem of an invalid new passcode, else the audited reason.
	why := func(t *testing.T, err error, event string) string {
		t.Helper()
		var inv *fault.InvalidError
		if errors.As(err, &inv) {
			return fmt.Sprintf("%v", inv.Problems)
		}
		wantErr(t, err, fault.ErrUnauthenticated)
		evs := e.audits(store.AuditFilter{UserID: u.ID})
		if last := evs[len(evs)-1]; last.Type == event && last.Outcome == "failure" {
			return last.Reason
		}
		return "not audited: " + err.Error()
	}
	failures := []struct {
		name, event string
		finish      func() error
		want        string
	}{
		{"change to a weak new passcode", "passcode.change", func() error { return change(d, webauthn.FieldNewPasscode, "111111") },
			"[{new_passcode must not be the same digit repeated}]"},
		{"change whose new passcode is sealed for the old one's field", "passcode.change",
			func() error { return change(d, webauthn.FieldPasscode, "975319") }, "new passcode: passcode ciphertext does not decrypt for this ceremony"},
		{"change signed by an unknown passkey", "passcode.change",
			func() error { return change(stranger, webauthn.FieldNewPasscode, "975319") }, "unknown, foreign or inactive passkey"},
		{"reset to a weak new passcode", "passcode.reset", func() error { return reset(e.resetSession(u.ID), "123456") },
			"[{new_passcode must not be a straight run of consecutive digits, ascending or descending}]"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			if got := why(t, tc.finish(), tc.event); got != tc.want {
				t.Fatalf("refusal %q, want %q", got, tc.want)
			}
			wantDrained(t)
		})
	}
	t.Run("a later change is admitted and holds its admission while it hashes", func(t *testing.T) {
		var held []int
		gate.SetHook(func() { held = append(held, gate.InFlight()) })
		defer gate.SetHook(nil)
		if err := change(d, webauthn.FieldNewPasscode, "975319"); err != nil {
			t.Fatalf("change after the failures: %v", err)
		}
		// Two hashes: the old passcode's check and the new verifier.
		if !slices.Equal(held, []int{1, 1}) {
			t.Fatalf("admissions held during the change's hashes: %v, want [1 1]", held)
		}
		wantDrained(t)
	})
}

// NewArgon2Gate(0, …) (the default, SIGNET_ARGON2_CONCURRENCY unset) means one hash per core divided by
// the lanes of a hash, and at least one: a gate with no slot at all would admit every request and leave it
// waiting for a slot forever. The approval is bounded by a deadline so that such a gate fails the test
// instead of hanging it.
func TestArgon2GateZeroSlotsHashes(t *testing.T) {
	gate := webauthn.NewArgon2Gate(0, -1, cheap)
	e := newEnv(t, func(c *webauthn.Config) { c.Argon2Gate = gate })
	var cancel context.CancelFunc
	e.ctx, cancel = context.WithTimeout(e.ctx, 10*time.Second) // the enrollment hashes through the gate too
	defer cancel()
	u, d := e.enrolled("gate-zero")
	op := e.payment(u.ID, "10.00")
	a := e.prepare(op, d, txsign.Approve, testPasscode)
	res, err := e.svc.FinishApproval(e.ctx, op.ID, a.in)
	if err != nil || res.Operation.Status != store.OpApproved {
		t.Fatalf("approval through NewArgon2Gate(0, -1): %v %v", res.Operation.Status, err)
	}
	if want := max(runtime.GOMAXPROCS(0), 1); gate.Slots() != want || gate.Peak() != 1 {
		t.Fatalf("slots %d, peak %d; want %d slots (GOMAXPROCS / 1 lane) and the one hash", gate.Slots(), gate.Peak(), want)
	}
}

// TestSessionPurpose: a session opened by a passcode reset link says so (the page offers the reset), one
// opened by an enrollment link has no purpose.
func TestSessionPurpose(t *testing.T) {
	e := newEnv(t, nil)
	u, _ := e.enrolled("cust-purpose")
	for _, tc := range []struct {
		name, sess, want string
	}{
		{"reset link", e.resetSession(u.ID), webauthn.PurposePasscodeReset},
		{"enrollment link", e.session(u.ID), ""},
	} {
		if st, err := e.svc.State(e.ctx, tc.sess); err != nil || st.Purpose != tc.want {
			t.Errorf("%s: purpose %q, %v; want %q", tc.name, st.Purpose, err, tc.want)
		}
	}
}

// TestPasskeyFailureLimit: a passkey is registered with the configured number of bad signatures before it is
// BLOCKED, DefaultCredentialFailures (5) when none is configured.
func TestPasskeyFailureLimit(t *testing.T) {
	for _, tc := range []struct{ configured, want int }{{0, webauthn.DefaultCredentialFailures}, {2, 2}} {
		e := newEnv(t, func(c *webauthn.Config) { c.CredentialMaxFailures = tc.configured })
		u, _ := e.enrolled("cust-failure-limit")
		if got := e.passkey(u.ID).MaxFailedAttempts; got != tc.want {
			t.Errorf("CredentialMaxFailures %d: the passkey is blocked after %d failures, want %d", tc.configured, got, tc.want)
		}
	}
}
