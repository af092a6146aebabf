package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

const (
	created = store.StatusCreated
	pending = store.StatusPendingCommit
	active  = store.StatusActive
	blocked = store.StatusBlocked
	removed = store.StatusRemoved
)

var statuses = []store.Status{created, pending, active, blocked, removed}

// lifecycle is the intended credential lifecycle, written out pair by pair
// (PowerAuth: CREATED → PENDING_COMMIT → ACTIVE ⇄ BLOCKED → REMOVED; CREATED →
// ACTIVE for kinds without a commit step; REMOVED from every non-terminal
// state and terminal itself; no self-transitions). It is deliberately not
// derived from the code under test.
var lifecycle = map[store.Status]map[store.Status]bool{
	//          CREATED       PENDING_COMMIT  ACTIVE        BLOCKED        REMOVED
	created: {created: false, pending: true, active: true, blocked: false, removed: true},
	pending: {created: false, pending: false, active: true, blocked: false, removed: true},
	active:  {created: false, pending: false, active: false, blocked: true, removed: true},
	blocked: {created: false, pending: false, active: true, blocked: false, removed: true},
	removed: {created: false, pending: false, active: false, blocked: false, removed: false},
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestLifecycleTableIsComplete(t *testing.T) {
	n := 0
	for _, from := range statuses {
		for _, to := range statuses {
			if _, ok := lifecycle[from][to]; !ok {
				t.Errorf("expected table lacks %s → %s", from, to)
			}
			n++
		}
	}
	if n != 25 {
		t.Fatalf("%d pairs, want 25", n)
	}
}

func TestCanTransition(t *testing.T) {
	// Refused pairs first, then allowed ones.
	for _, allowed := range []bool{false, true} {
		for _, from := range statuses {
			for _, to := range statuses {
				if lifecycle[from][to] != allowed {
					continue
				}
				t.Run(fmt.Sprintf("%s→%s", from, to), func(t *testing.T) {
					if got := store.CanTransition(from, to); got != allowed {
						t.Fatalf("CanTransition(%s, %s) = %v, want %v", from, to, got, allowed)
					}
				})
			}
		}
	}
	t.Run("unknown statuses", func(t *testing.T) {
		for _, s := range statuses {
			if store.CanTransition("", s) || store.CanTransition(s, "") || store.CanTransition("LOST", s) || store.CanTransition(s, "LOST") {
				t.Fatalf("a transition to or from an unknown status is allowed (%s)", s)
			}
		}
	})
}

// TestTransition drives Credential.Transition over all 25 pairs: refused
// ones leave the credential untouched; allowed ones set the status.
func TestTransition(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		for _, from := range statuses {
			for _, to := range statuses {
				if lifecycle[from][to] != allowed {
					continue
				}
				t.Run(fmt.Sprintf("%s→%s", from, to), func(t *testing.T) {
					c := store.Credential{Status: from, FailedAttempts: 2, Label: "x"}
					if from == blocked {
						c.BlockReason = store.ReasonLostDevice
					}
					before := c
					err := c.Transition(to, store.ReasonIssuer, t0)
					if !allowed {
						if !errors.Is(err, store.ErrInvalidTransition) {
							t.Fatalf("got %v, want ErrInvalidTransition", err)
						}
						if c.Status != before.Status || c.BlockReason != before.BlockReason || c.FailedAttempts != before.FailedAttempts ||
							c.ActivatedAt != nil || c.RemovedAt != nil {
							t.Fatalf("refused transition changed the credential: %+v", c)
						}
						return
					}
					if err != nil {
						t.Fatalf("Transition: %v", err)
					}
					if c.Status != to {
						t.Fatalf("status %s, want %s", c.Status, to)
					}
					if to != blocked && c.BlockReason != store.ReasonNone {
						t.Fatalf("block reason %q kept after leaving BLOCKED", c.BlockReason)
					}
				})
			}
		}
	}
}

func TestBlockNeedsValidReason(t *testing.T) {
	tests := []struct {
		reason store.BlockReason
		ok     bool
	}{
		{store.ReasonNone, false},
		{"BOGUS", false},
		{"issuer", false},
	}
	for _, r := range store.BlockReasons() {
		tests = append(tests, struct {
			reason store.BlockReason
			ok     bool
		}{r, true})
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.reason), func(t *testing.T) {
			c := store.Credential{Status: active}
			err := c.Transition(blocked, tt.reason, t0)
			if !tt.ok {
				if !errors.Is(err, store.ErrInvalidTransition) || c.Status != active || c.BlockReason != store.ReasonNone {
					t.Fatalf("blocking with %q: err %v, credential %+v", tt.reason, err, c)
				}
				return
			}
			if err != nil || c.Status != blocked || c.BlockReason != tt.reason {
				t.Fatalf("blocking with %q: err %v, credential %+v", tt.reason, err, c)
			}
		})
	}
}

func TestTransitionTimes(t *testing.T) {
	t.Run("activation stamps ActivatedAt", func(t *testing.T) {
		for _, from := range []store.Status{created, pending} {
			c := store.Credential{Status: from}
			if err := c.Transition(active, store.ReasonNone, t0); err != nil {
				t.Fatal(err)
			}
			if c.ActivatedAt == nil || !c.ActivatedAt.Equal(t0) {
				t.Fatalf("%s → ACTIVE: ActivatedAt %v", from, c.ActivatedAt)
			}
		}
	})
	t.Run("unblock resets failures and keeps ActivatedAt", func(t *testing.T) {
		first := t0.Add(-time.Hour)
		c := store.Credential{Status: blocked, BlockReason: store.ReasonMaxFailedAttempts, FailedAttempts: 5,
			MaxFailedAttempts: 5, ActivatedAt: &first}
		if err := c.Transition(active, store.ReasonNone, t0); err != nil {
			t.Fatal(err)
		}
		if c.FailedAttempts != 0 || c.BlockReason != store.ReasonNone || c.ActivatedAt == nil || !c.ActivatedAt.Equal(first) {
			t.Fatalf("after unblock: %+v", c)
		}
	})
	t.Run("removal stamps RemovedAt", func(t *testing.T) {
		c := store.Credential{Status: blocked, BlockReason: store.ReasonStolenDevice}
		if err := c.Transition(removed, store.ReasonNone, t0); err != nil {
			t.Fatal(err)
		}
		if c.RemovedAt == nil || !c.RemovedAt.Equal(t0) || c.BlockReason != store.ReasonNone {
			t.Fatalf("after removal: %+v", c)
		}
	})
}

func TestRecordFailure(t *testing.T) {
	t.Run("not active: nothing counted", func(t *testing.T) {
		for _, s := range []store.Status{created, pending, blocked, removed} {
			c := store.Credential{Status: s, MaxFailedAttempts: 1}
			if c.RecordFailure(t0) || c.FailedAttempts != 0 || c.Status != s {
				t.Fatalf("RecordFailure on %s: %+v", s, c)
			}
		}
	})
	t.Run("no maximum never blocks", func(t *testing.T) {
		c := store.Credential{Status: active}
		for range 100 {
			if c.RecordFailure(t0) {
				t.Fatal("blocked without a maximum")
			}
		}
		if c.FailedAttempts != 100 || c.Status != active {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("blocks at the maximum", func(t *testing.T) {
		c := store.Credential{Status: active, MaxFailedAttempts: 3}
		for i := 1; i <= 2; i++ {
			if c.RecordFailure(t0) || c.Status != active || c.FailedAttempts != i {
				t.Fatalf("failure %d: %+v", i, c)
			}
		}
		if !c.RecordFailure(t0) {
			t.Fatal("third failure did not block")
		}
		if c.Status != blocked || c.BlockReason != store.ReasonMaxFailedAttempts || c.FailedAttempts != 3 {
			t.Fatalf("after the third failure: %+v", c)
		}
		if c.RecordFailure(t0) || c.FailedAttempts != 3 {
			t.Fatalf("a blocked credential kept counting: %+v", c)
		}
		if err := c.Transition(active, store.ReasonNone, t0); err != nil || c.FailedAttempts != 0 {
			t.Fatalf("unblock: %v, %+v", err, c)
		}
	})
	t.Run("success resets", func(t *testing.T) {
		c := store.Credential{Status: active, MaxFailedAttempts: 3, FailedAttempts: 2}
		c.RecordSuccess(t0)
		if c.FailedAttempts != 0 || c.LastUsedAt == nil || !c.LastUsedAt.Equal(t0) {
			t.Fatalf("after success: %+v", c)
		}
	})
}

func TestStatusBytes(t *testing.T) {
	// PowerAuth 3.x activation status bytes.
	want := map[store.Status]byte{created: 1, pending: 2, active: 3, blocked: 4, removed: 5, "": 0, "GONE": 0}
	for s, b := range want {
		if s.Byte() != b || s.Valid() != (b != 0) {
			t.Errorf("%q: Byte %d Valid %v, want %d", s, s.Byte(), s.Valid(), b)
		}
	}
}
