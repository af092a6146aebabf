package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

// testReadApproval: ReadApproval reads the operation, its user and the user's passkeys (every status, oldest
// first, nothing else); a reservation charges one try exactly when the user has a passcode, is not locked, has
// tries left, the operation is PENDING and the lookup key is one of the user's passkeys; concurrent
// reservations never charge more tries than are left. Alongside.PasscodeRight resets the tries with the
// operation's swap, and not without it.
func testReadApproval(t *testing.T, newStore NewStore) {
	type fixture struct {
		s         store.Store
		u         store.User
		op        store.Operation
		keys      []store.Credential // the user's passkeys, oldest first
		foreign   store.Credential   // another user's passkey
		unlimited int
	}
	setup := func(t *testing.T) fixture {
		s := newStore(t)
		ctx := ctxT(t)
		u := mustUser(t, s, "a")
		u, err := s.UpdateUser(ctx, u.ID, func(v *store.User) error { v.PasscodeVerifier = []byte{9, 9}; return nil })
		noErr(t, "UpdateUser", err)
		other := mustUser(t, s, "b")
		older := mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPasskey, LookupKey: "older",
			Status: store.StatusBlocked, CreatedAt: base})
		newer := mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPasskey, LookupKey: "newer",
			CreatedAt: base.Add(time.Second)})
		mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindDeviceKey, CreatedAt: base})
		foreign := mustCredential(t, s, store.Credential{UserID: other.ID, Kind: store.KindPasskey, LookupKey: "foreign"})
		op := mustOperation(t, s, store.Operation{UserID: u.ID, DL: []byte{1}, MaxFailedAttempts: 5})
		return fixture{s: s, u: u, op: op, keys: []store.Credential{older, newer}, foreign: foreign, unlimited: 100}
	}
	user := func(t *testing.T, f fixture) store.User {
		t.Helper()
		u, err := f.s.GetUser(ctxT(t), f.u.ID)
		noErr(t, "GetUser", err)
		return u
	}
	reserve := func(key string, max int) *store.PasscodeReservation {
		return &store.PasscodeReservation{LookupKey: key, Max: max, At: base.Add(time.Minute)}
	}

	t.Run("read", func(t *testing.T) {
		f := setup(t)
		a, err := f.s.ReadApproval(ctxT(t), f.op.ID, nil)
		noErr(t, "ReadApproval", err)
		sameRecord(t, "operation", a.Operation, f.op)
		sameRecord(t, "user", a.User, f.u)
		if len(a.Passkeys) != 2 || a.Reserved {
			t.Fatalf("%d passkeys, reserved %v: want the user's 2 passkeys, nothing reserved", len(a.Passkeys), a.Reserved)
		}
		for i := range a.Passkeys {
			sameRecord(t, "passkey", a.Passkeys[i], f.keys[i])
		}
		_, err = f.s.ReadApproval(ctxT(t), "00000000-0000-4000-8000-000000000000", nil)
		wantErr(t, "ReadApproval of an unknown operation", err, store.ErrNotFound)
		_, err = f.s.ReadApproval(ctxT(t), "00000000-0000-4000-8000-000000000000", reserve("newer", f.unlimited))
		wantErr(t, "ReadApproval with a reservation of an unknown operation", err, store.ErrNotFound)
		other, err := f.s.GetUserByExternalID(ctxT(t), "b")
		noErr(t, "GetUserByExternalID", err)
		if other.PasscodeFailed != 0 {
			t.Fatalf("another user charged: %d", other.PasscodeFailed)
		}
		bare := mustOperation(t, f.s, store.Operation{UserID: f.foreign.UserID, DL: []byte{1}})
		a, err = f.s.ReadApproval(ctxT(t), bare.ID, nil)
		noErr(t, "ReadApproval", err)
		if len(a.Passkeys) != 1 || a.Passkeys[0].ID != f.foreign.ID {
			t.Fatalf("passkeys %+v, want the other user's one", a.Passkeys)
		}
	})

	t.Run("reserve", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		for i := 1; i <= 3; i++ {
			a, err := f.s.ReadApproval(ctx, f.op.ID, reserve("older", 3)) // any status of the user's own passkey
			noErr(t, "ReadApproval", err)
			if !a.Reserved || a.User.PasscodeFailed != i || a.User.Version != f.u.Version+int64(i) || !a.User.UpdatedAt.Equal(base.Add(time.Minute)) {
				t.Fatalf("reservation %d: reserved %v, PasscodeFailed %d, Version %d (from %d), UpdatedAt %v", i, a.Reserved,
					a.User.PasscodeFailed, a.User.Version, f.u.Version, a.User.UpdatedAt)
			}
			sameRecord(t, "stored user", user(t, f), a.User)
			if len(a.Passkeys) != 2 {
				t.Fatalf("%d passkeys", len(a.Passkeys))
			}
		}
		a, err := f.s.ReadApproval(ctx, f.op.ID, reserve("newer", 3))
		noErr(t, "ReadApproval", err)
		if a.Reserved || a.User.PasscodeFailed != 3 {
			t.Fatalf("past the maximum: reserved %v, PasscodeFailed %d", a.Reserved, a.User.PasscodeFailed)
		}
	})

	t.Run("nothing reserved", func(t *testing.T) {
		for _, c := range []struct {
			name string
			key  string
			prep func(t *testing.T, f fixture)
		}{
			{"another user's passkey", "foreign", nil},
			{"unknown passkey", "unknown", nil},
			{"no passcode", "newer", func(t *testing.T, f fixture) {
				_, err := f.s.UpdateUser(ctxT(t), f.u.ID, func(v *store.User) error { v.PasscodeVerifier = nil; return nil })
				noErr(t, "UpdateUser", err)
			}},
			{"locked", "newer", func(t *testing.T, f fixture) {
				_, err := f.s.UpdateUser(ctxT(t), f.u.ID, func(v *store.User) error { v.PasscodeLocked = true; return nil })
				noErr(t, "UpdateUser", err)
			}},
			{"operation not pending", "newer", func(t *testing.T, f fixture) {
				_, err := f.s.UpdateOperation(ctxT(t), f.op.ID, func(v *store.Operation) error { v.Status = store.OpCanceled; return nil })
				noErr(t, "UpdateOperation", err)
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				f := setup(t)
				if c.prep != nil {
					c.prep(t, f)
				}
				before := user(t, f)
				a, err := f.s.ReadApproval(ctxT(t), f.op.ID, reserve(c.key, f.unlimited))
				noErr(t, "ReadApproval", err)
				if a.Reserved {
					t.Fatal("reserved")
				}
				sameRecord(t, "user read", a.User, before)
				sameRecord(t, "stored user", user(t, f), before)
			})
		}
	})

	t.Run("concurrent reservations stop at the maximum", func(t *testing.T) {
		f := setup(t)
		const max, attempts = 5, 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		reserved := 0
		for range attempts {
			wg.Go(func() {
				a, err := f.s.ReadApproval(ctxT(t), f.op.ID, reserve("newer", max))
				if err != nil {
					t.Error(err)
					return
				}
				if a.Reserved {
					mu.Lock()
					reserved++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if got := user(t, f).PasscodeFailed; reserved != max || got != max {
			t.Fatalf("%d of %d reservations charged, PasscodeFailed %d: want exactly %d", reserved, attempts, got, max)
		}
	})

	t.Run("passcode right with the swap only", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		u, err := f.s.UpdateUser(ctx, f.u.ID, func(v *store.User) error { v.PasscodeFailed, v.PasscodeLocked = 2, true; return nil })
		noErr(t, "UpdateUser", err)
		stale := f.op
		_, err = f.s.UpdateOperation(ctx, f.op.ID, func(v *store.Operation) error { v.Text = "moved on"; return nil })
		noErr(t, "UpdateOperation", err)
		// A lost swap (a stale copy whose fn refuses the fresh one) writes nothing alongside.
		_, err = f.s.UpdateOperationWith(ctx, stale, store.Alongside{PasscodeRight: u.ID}, func(v *store.Operation) error {
			if v.Text != "" {
				return errNotPending
			}
			return nil
		})
		wantErr(t, "UpdateOperationWith from a stale copy", err, errNotPending)
		sameRecord(t, "user after a lost swap", user(t, f), u)
		at := base.Add(time.Hour)
		_, err = f.s.UpdateOperationWith(ctx, stale, store.Alongside{PasscodeRight: u.ID,
			CredentialUse: store.CredentialUse{ID: f.keys[1].ID, At: at}}, func(v *store.Operation) error { v.Text = "approved"; return nil })
		noErr(t, "UpdateOperationWith", err)
		got := user(t, f)
		if got.PasscodeFailed != 0 || !got.PasscodeLocked || got.Version != u.Version+1 || !got.UpdatedAt.Equal(at) {
			t.Fatalf("settled: PasscodeFailed %d, locked %v, Version %d (from %d), UpdatedAt %v", got.PasscodeFailed,
				got.PasscodeLocked, got.Version, u.Version, got.UpdatedAt)
		}
	})
}
