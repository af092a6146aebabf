package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

var errVeto = errors.New("storetest: closure refuses")

func testCompareAndSwap(t *testing.T, newStore NewStore) {
	t.Run("closure error is returned as is and nothing is written", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u := mustUser(t, s, "a")
		c := mustCredential(t, s, store.Credential{UserID: u.ID})
		o := mustOperation(t, s, store.Operation{UserID: u.ID})
		k := store.SigningKey{ID: "kid", State: store.KeyNext, Algorithm: "ES256"}
		noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, &k))
		cer := store.Ceremony{Kind: "enrollment", ExpiresAt: base}
		noErr(t, "CreateCeremony", s.CreateCeremony(ctx, &cer))
		ev := store.OutboxEvent{Endpoint: "https://x", Type: "t", NextAttemptAt: base}
		noErr(t, "EnqueueOutbox", s.EnqueueOutbox(ctx, &ev))

		tests := []struct {
			name   string
			update func() error
			reread func() (any, error)
			before any
		}{
			{"user", func() error {
				_, err := s.UpdateUser(ctx, u.ID, func(v *store.User) error { v.DisplayName = "changed"; return errVeto })
				return err
			}, func() (any, error) { return s.GetUser(ctx, u.ID) }, u},
			{"credential", func() error {
				_, err := s.UpdateCredential(ctx, c.ID, func(v *store.Credential) error { v.Counter = 99; return errVeto })
				return err
			}, func() (any, error) { return s.GetCredential(ctx, c.ID) }, c},
			{"operation", func() error {
				_, err := s.UpdateOperation(ctx, o.ID, func(v *store.Operation) error { v.Status = store.OpApproved; return errVeto })
				return err
			}, func() (any, error) { return s.GetOperation(ctx, o.ID) }, o},
			{"signing key", func() error {
				_, err := s.UpdateSigningKey(ctx, k.ID, func(v *store.SigningKey) error { v.State = store.KeyActive; return errVeto })
				return err
			}, func() (any, error) {
				keys, err := s.ListSigningKeys(ctx)
				if err != nil || len(keys) != 1 {
					return nil, fmt.Errorf("ListSigningKeys: %d keys, %v", len(keys), err)
				}
				return keys[0], nil
			}, k},
			{"ceremony", func() error {
				_, err := s.UpdateCeremony(ctx, cer.ID, func(v *store.Ceremony) error { v.Attempts = 3; return errVeto })
				return err
			}, func() (any, error) { return s.GetCeremony(ctx, cer.ID) }, cer},
			{"outbox", func() error {
				_, err := s.UpdateOutbox(ctx, ev.ID, func(v *store.OutboxEvent) error { v.Attempts = 3; return errVeto })
				return err
			}, func() (any, error) {
				got, err := s.ClaimOutbox(ctx, base, 0, 10) // lease 0 leaves it due; it bumps Version
				if err != nil || len(got) != 1 {
					return nil, fmt.Errorf("ClaimOutbox: %d events, %v", len(got), err)
				}
				return got[0], nil
			}, ev},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.update(); err != errVeto { //nolint:errorlint // identity is the contract
					t.Fatalf("got error %v, want the closure's own error value", err)
				}
				got, err := tt.reread()
				noErr(t, "re-read", err)
				if e, ok := got.(store.OutboxEvent); ok { // the claim itself wrote NextAttemptAt and Version
					want := tt.before.(store.OutboxEvent)
					if e.Attempts != want.Attempts || e.Version != want.Version+1 {
						t.Fatalf("refused update wrote: %+v", e)
					}
					return
				}
				sameRecord(t, "record after a refused update", got, tt.before)
			})
		}
	})

	t.Run("50 concurrent increments", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		c := mustCredential(t, s, store.Credential{UserID: u.ID})
		const n = 50
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				_, err := s.UpdateCredential(ctxT(t), c.ID, func(v *store.Credential) error { v.Counter++; return nil })
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d of %d updates failed, first: %v", len(errs), n, errs[0])
		}
		got, err := s.GetCredential(ctxT(t), c.ID)
		noErr(t, "GetCredential", err)
		if got.Counter != n || got.Version != c.Version+n {
			t.Fatalf("Counter %d Version %d; want %d and %d", got.Counter, got.Version, n, c.Version+n)
		}
	})

	t.Run("one concurrent update is retried", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u := mustUser(t, s, "a")
		c := mustCredential(t, s, store.Credential{UserID: u.ID})
		calls := 0
		got, err := s.UpdateCredential(ctx, c.ID, func(v *store.Credential) error {
			calls++
			if calls == 1 { // another writer sneaks in between our read and our write
				if _, err := s.UpdateCredential(ctx, c.ID, func(w *store.Credential) error { w.Label = "other"; return nil }); err != nil {
					return err
				}
			}
			v.Counter++
			return nil
		})
		noErr(t, "UpdateCredential", err)
		if calls != 2 {
			t.Fatalf("closure ran %d times, want 2 (one retry)", calls)
		}
		if got.Label != "other" || got.Counter != 1 || got.Version != c.Version+2 {
			t.Fatalf("lost an update: Label %q Counter %d Version %d", got.Label, got.Counter, got.Version)
		}
		stored, err := s.GetCredential(ctx, c.ID)
		noErr(t, "GetCredential", err)
		sameRecord(t, "stored credential", stored, got)
	})

	t.Run("updates from the caller's copy", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u := mustUser(t, s, "a")
		c := mustCredential(t, s, store.Credential{UserID: u.ID})
		o := mustOperation(t, s, store.Operation{UserID: u.ID})

		// A current copy: applied once, stored, version bumped.
		calls := 0
		gotC, err := s.UpdateCredentialFrom(ctx, c, func(v *store.Credential) error { calls++; v.Counter = 7; return nil })
		noErr(t, "UpdateCredentialFrom", err)
		if calls != 1 || gotC.Counter != 7 || gotC.Version != c.Version+1 {
			t.Fatalf("calls %d Counter %d Version %d", calls, gotC.Counter, gotC.Version)
		}
		gotO, err := s.UpdateOperationFrom(ctx, o, func(v *store.Operation) error { v.FailedAttempts = 2; return nil })
		noErr(t, "UpdateOperationFrom", err)
		if gotO.FailedAttempts != 2 || gotO.Version != o.Version+1 {
			t.Fatalf("FailedAttempts %d Version %d", gotO.FailedAttempts, gotO.Version)
		}
		storedO, err := s.GetOperation(ctx, o.ID)
		noErr(t, "GetOperation", err)
		sameRecord(t, "stored operation", storedO, gotO)
		gotU, err := s.UpdateUserFrom(ctx, u, func(v *store.User) error { v.PasscodeFailed = 2; return nil })
		noErr(t, "UpdateUserFrom", err)
		if gotU.PasscodeFailed != 2 || gotU.Version != u.Version+1 {
			t.Fatalf("PasscodeFailed %d Version %d", gotU.PasscodeFailed, gotU.Version)
		}
		storedU, err := s.GetUser(ctx, u.ID)
		noErr(t, "GetUser", err)
		sameRecord(t, "stored user", storedU, gotU)
		// A stale user copy: re-read, fn re-applied to the current record.
		calls = 0
		gotU, err = s.UpdateUserFrom(ctx, u, func(v *store.User) error { calls++; v.PasscodeFailed++; return nil })
		noErr(t, "UpdateUserFrom with a stale copy", err)
		if calls != 2 || gotU.PasscodeFailed != 3 || gotU.Version != u.Version+2 {
			t.Fatalf("stale user copy: calls %d PasscodeFailed %d Version %d", calls, gotU.PasscodeFailed, gotU.Version)
		}

		// A stale copy (c is one version behind): the swap misses, the store
		// re-reads and re-applies fn to the current record; nothing is lost.
		calls = 0
		gotC, err = s.UpdateCredentialFrom(ctx, c, func(v *store.Credential) error {
			calls++
			v.Label = "from stale"
			return nil
		})
		noErr(t, "UpdateCredentialFrom with a stale copy", err)
		if calls != 2 || gotC.Counter != 7 || gotC.Label != "from stale" || gotC.Version != c.Version+2 {
			t.Fatalf("calls %d Counter %d Label %q Version %d", calls, gotC.Counter, gotC.Label, gotC.Version)
		}
		// A stale operation copy whose status moved on: fn sees the new status.
		if _, err := s.UpdateOperation(ctx, o.ID, func(v *store.Operation) error { v.Status = store.OpCanceled; return nil }); err != nil {
			t.Fatal(err)
		}
		sentinel := errors.New("not pending")
		_, err = s.UpdateOperationFrom(ctx, o, func(v *store.Operation) error {
			if v.Status != store.OpPending {
				return sentinel
			}
			v.Status = store.OpApproved
			return nil
		})
		if !errors.Is(err, sentinel) {
			t.Fatalf("UpdateOperationFrom with a stale PENDING copy of a CANCELED operation: %v", err)
		}
		// A copy of a record that does not exist.
		_, err = s.UpdateOperationFrom(ctx, store.Operation{ID: "00000000-0000-4000-8000-000000000000", Version: 1},
			func(*store.Operation) error { return nil })
		wantErr(t, "UpdateOperationFrom of an unknown id", err, store.ErrNotFound)
	})

	t.Run("endless concurrent updates give ErrConflict", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u := mustUser(t, s, "a")
		c := mustCredential(t, s, store.Credential{UserID: u.ID})
		calls := 0
		_, err := s.UpdateCredential(ctx, c.ID, func(v *store.Credential) error {
			calls++
			if _, err := s.UpdateCredential(ctx, c.ID, func(w *store.Credential) error { w.Counter++; return nil }); err != nil {
				return err
			}
			v.Label = "outer"
			return nil
		})
		wantErr(t, "UpdateCredential against a writer that always wins", err, store.ErrConflict)
		if calls < 2 {
			t.Fatalf("closure ran %d times: no retry before giving up", calls)
		}
		got, err := s.GetCredential(ctx, c.ID)
		noErr(t, "GetCredential", err)
		if got.Label == "outer" || got.Counter != int64(calls) {
			t.Fatalf("Label %q Counter %d after %d attempts: the losing writes must leave no trace", got.Label, got.Counter, calls)
		}
	})
}

// testTimes: every time goes in with nanoseconds in a non-UTC zone and comes
// back as t.UTC().Truncate(time.Microsecond), in UTC, on every record type.
func testTimes(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ctx := ctxT(t)
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	in := time.Date(2031, 5, 6, 7, 8, 9, 123456789, zone)
	want := in.UTC().Truncate(time.Microsecond)
	check := func(t *testing.T, what string, got time.Time) {
		t.Helper()
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s = %v (%v), want %v in UTC", what, got, got.Location(), want)
		}
	}
	checkPtr := func(t *testing.T, what string, got *time.Time) {
		t.Helper()
		if got == nil {
			t.Errorf("%s is nil", what)
			return
		}
		check(t, what, *got)
	}

	u := store.User{ExternalID: "a", CreatedAt: in, UpdatedAt: in}
	noErr(t, "CreateUser", s.CreateUser(ctx, &u))
	t.Run("user", func(t *testing.T) {
		got, err := s.GetUser(ctx, u.ID)
		noErr(t, "GetUser", err)
		check(t, "CreatedAt", got.CreatedAt)
		check(t, "UpdatedAt", got.UpdatedAt)
	})
	t.Run("credential", func(t *testing.T) {
		c := store.Credential{UserID: u.ID, Kind: store.KindPasskey, Status: store.StatusActive,
			CreatedAt: in, ActivatedAt: &in, LastUsedAt: &in, RemovedAt: &in, ExpiresAt: &in}
		noErr(t, "CreateCredential", s.CreateCredential(ctx, &c))
		got, err := s.GetCredential(ctx, c.ID)
		noErr(t, "GetCredential", err)
		check(t, "CreatedAt", got.CreatedAt)
		checkPtr(t, "ActivatedAt", got.ActivatedAt)
		checkPtr(t, "LastUsedAt", got.LastUsedAt)
		checkPtr(t, "RemovedAt", got.RemovedAt)
		checkPtr(t, "ExpiresAt", got.ExpiresAt)
		up, err := s.UpdateCredential(ctx, c.ID, func(v *store.Credential) error {
			later := in.Add(time.Hour)
			v.LastUsedAt = &later
			return nil
		})
		noErr(t, "UpdateCredential", err)
		if up.LastUsedAt == nil || !up.LastUsedAt.Equal(want.Add(time.Hour)) || up.LastUsedAt.Location() != time.UTC {
			t.Errorf("updated LastUsedAt = %v", up.LastUsedAt)
		}
	})
	t.Run("operation", func(t *testing.T) {
		o := store.Operation{UserID: u.ID, Type: "payment", Status: store.OpPending,
			ExpiresAt: in, CreatedAt: in, UpdatedAt: in, ApprovedAt: &in, TokenExpiresAt: &in}
		noErr(t, "CreateOperation", s.CreateOperation(ctx, &o))
		got, err := s.GetOperation(ctx, o.ID)
		noErr(t, "GetOperation", err)
		check(t, "ExpiresAt", got.ExpiresAt)
		check(t, "CreatedAt", got.CreatedAt)
		check(t, "UpdatedAt", got.UpdatedAt)
		checkPtr(t, "ApprovedAt", got.ApprovedAt)
		checkPtr(t, "TokenExpiresAt", got.TokenExpiresAt)
		// Filters compare instants, whatever the zone they are given in.
		list, err := s.ListOperations(ctx, store.OperationFilter{ExpiresBefore: want.Add(time.Second).In(zone)})
		noErr(t, "ListOperations", err)
		if len(list) != 1 {
			t.Errorf("ExpiresBefore one second later (other zone) found %d operations, want 1", len(list))
		}
		list, err = s.ListOperations(ctx, store.OperationFilter{ExpiresBefore: want.Add(-time.Second).In(zone)})
		noErr(t, "ListOperations", err)
		if len(list) != 0 {
			t.Errorf("ExpiresBefore one second earlier (other zone) found %d operations, want 0", len(list))
		}
	})
	t.Run("audit", func(t *testing.T) {
		e := store.AuditEvent{Time: in, Type: "t", Outcome: "success", UserID: "times"}
		noErr(t, "AppendAudit", s.AppendAudit(ctx, &e))
		got, _, err := s.ListAudit(ctx, store.AuditFilter{UserID: "times", Since: want.In(zone), Until: want.Add(time.Microsecond).In(zone)})
		noErr(t, "ListAudit", err)
		if len(got) != 1 {
			t.Fatalf("ListAudit over [t, t+1µs) found %d events, want 1", len(got))
		}
		check(t, "Time", got[0].Time)
	})
	t.Run("signing key", func(t *testing.T) {
		k := store.SigningKey{ID: "kid", State: store.KeyActive, Algorithm: "ES256",
			CreatedAt: in, ActivatedAt: &in, RetiredAt: &in, PublishUntil: &in}
		noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, &k))
		keys, err := s.ListSigningKeys(ctx)
		noErr(t, "ListSigningKeys", err)
		if len(keys) != 1 {
			t.Fatalf("%d keys", len(keys))
		}
		check(t, "CreatedAt", keys[0].CreatedAt)
		checkPtr(t, "ActivatedAt", keys[0].ActivatedAt)
		checkPtr(t, "RetiredAt", keys[0].RetiredAt)
		checkPtr(t, "PublishUntil", keys[0].PublishUntil)
	})
	t.Run("ceremony", func(t *testing.T) {
		c := store.Ceremony{Kind: "k", ExpiresAt: in, CreatedAt: in}
		noErr(t, "CreateCeremony", s.CreateCeremony(ctx, &c))
		got, err := s.ConsumeCeremony(ctx, c.ID, in.Add(-time.Minute))
		noErr(t, "ConsumeCeremony", err)
		check(t, "ExpiresAt", got.ExpiresAt)
		check(t, "CreatedAt", got.CreatedAt)
		if got.ConsumedAt == nil || !got.ConsumedAt.Equal(want.Add(-time.Minute)) || got.ConsumedAt.Location() != time.UTC {
			t.Errorf("ConsumedAt = %v", got.ConsumedAt)
		}
	})
	t.Run("outbox", func(t *testing.T) {
		e := store.OutboxEvent{Endpoint: "x", Type: "t", NextAttemptAt: in, CreatedAt: in, DeliveredAt: &in}
		noErr(t, "EnqueueOutbox", s.EnqueueOutbox(ctx, &e))
		got, err := s.UpdateOutbox(ctx, e.ID, func(*store.OutboxEvent) error { return nil })
		noErr(t, "UpdateOutbox", err)
		check(t, "NextAttemptAt", got.NextAttemptAt)
		check(t, "CreatedAt", got.CreatedAt)
		checkPtr(t, "DeliveredAt", got.DeliveredAt)
	})
}

// testBytes: byte strings round-trip exactly, zero bytes and 0xff included,
// and nil and empty come back alike.
func testBytes(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ctx := ctxT(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	values := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"one zero", []byte{0}},
		{"zeros", []byte{0, 0, 0, 0}},
		{"ff", []byte{0xff}},
		{"invalid UTF-8", []byte{0xc3, 0x28, 0xa0, 0xa1}},
		{"every byte", all},
	}
	u := mustUser(t, s, "bytes")
	var nilLike [2]bool // for "nil" and "empty": read back as nil?
	for i, v := range values {
		t.Run(v.name, func(t *testing.T) {
			c := store.Credential{UserID: u.ID, Kind: store.KindDeviceKey, Status: store.StatusActive,
				PublicKey: v.b, Device: v.b, Data: v.b, Secret: v.b}
			noErr(t, "CreateCredential", s.CreateCredential(ctx, &c))
			got, err := s.GetCredential(ctx, c.ID)
			noErr(t, "GetCredential", err)
			for name, b := range map[string][]byte{"PublicKey": got.PublicKey, "Device": got.Device, "Data": got.Data, "Secret": got.Secret} {
				if !bytes.Equal(b, v.b) {
					t.Errorf("%s = %x, want %x", name, b, v.b)
				}
			}
			if i < 2 {
				nilLike[i] = got.PublicKey == nil
			}

			usr := store.User{ExternalID: "bytes-" + v.name, WebAuthnID: v.b, PasscodeVerifier: v.b}
			noErr(t, "CreateUser", s.CreateUser(ctx, &usr))
			gu, err := s.GetUser(ctx, usr.ID)
			noErr(t, "GetUser", err)
			if !bytes.Equal(gu.WebAuthnID, v.b) || !bytes.Equal(gu.PasscodeVerifier, v.b) {
				t.Errorf("user bytes %x %x, want %x", gu.WebAuthnID, gu.PasscodeVerifier, v.b)
			}

			o := store.Operation{UserID: u.ID, Type: "payment", Status: store.OpPending, ExpiresAt: base, DL: v.b, Data: v.b}
			noErr(t, "CreateOperation", s.CreateOperation(ctx, &o))
			got2, err := s.GetOperation(ctx, o.ID)
			noErr(t, "GetOperation", err)
			if !bytes.Equal(got2.DL, v.b) || !bytes.Equal(got2.Data, v.b) {
				t.Errorf("operation bytes %x %x, want %x", got2.DL, got2.Data, v.b)
			}

			e := store.AuditEvent{Time: base, Type: "t", Outcome: "success", UserID: "bytes-" + v.name, Evidence: v.b}
			noErr(t, "AppendAudit", s.AppendAudit(ctx, &e))
			evs, _, err := s.ListAudit(ctx, store.AuditFilter{UserID: "bytes-" + v.name})
			noErr(t, "ListAudit", err)
			if len(evs) != 1 || !bytes.Equal(evs[0].Evidence, v.b) {
				t.Errorf("audit evidence %v, want %x", evs, v.b)
			}

			cer := store.Ceremony{Kind: "k", ExpiresAt: base, Data: v.b}
			noErr(t, "CreateCeremony", s.CreateCeremony(ctx, &cer))
			gc, err := s.GetCeremony(ctx, cer.ID)
			noErr(t, "GetCeremony", err)
			if !bytes.Equal(gc.Data, v.b) {
				t.Errorf("ceremony data %x, want %x", gc.Data, v.b)
			}

			ob := store.OutboxEvent{Endpoint: "x", Type: "t", NextAttemptAt: base, Payload: v.b}
			noErr(t, "EnqueueOutbox", s.EnqueueOutbox(ctx, &ob))
			gob, err := s.UpdateOutbox(ctx, ob.ID, func(*store.OutboxEvent) error { return nil })
			noErr(t, "UpdateOutbox", err)
			if !bytes.Equal(gob.Payload, v.b) {
				t.Errorf("outbox payload %x, want %x", gob.Payload, v.b)
			}

			k := store.SigningKey{ID: "kid-" + v.name, State: store.KeyNext, Algorithm: "ES256", PublicKey: v.b, PrivateKey: v.b}
			noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, &k))
			gk, err := s.UpdateSigningKey(ctx, k.ID, func(*store.SigningKey) error { return nil })
			noErr(t, "UpdateSigningKey", err)
			if !bytes.Equal(gk.PublicKey, v.b) || !bytes.Equal(gk.PrivateKey, v.b) {
				t.Errorf("signing key bytes %x %x, want %x", gk.PublicKey, gk.PrivateKey, v.b)
			}
		})
	}
	if nilLike[0] != nilLike[1] {
		t.Errorf("nil reads back as nil=%v but empty as nil=%v: treat them alike", nilLike[0], nilLike[1])
	}
}

// testUpdateWith: CreateOperationWith commits the insert and the audit
// event together; UpdateOperationWith commits the swap, the credential's use
// and the audit event together, and none of them when the swap is lost or
// any one of them fails.
func testUpdateWith(t *testing.T, newStore NewStore) {
	type fixture struct {
		s    store.Store
		cred store.Credential
		op   store.Operation
	}
	setup := func(t *testing.T) fixture {
		s := newStore(t)
		u := mustUser(t, s, "a")
		c := mustCredential(t, s, store.Credential{UserID: u.ID, FailedAttempts: 2, MaxFailedAttempts: 5})
		o := mustOperation(t, s, store.Operation{UserID: u.ID, MaxFailedAttempts: 5, DL: []byte{1, 2, 3}})
		return fixture{s, c, o}
	}
	approve := func(v *store.Operation) error {
		if v.Status != store.OpPending {
			return errNotPending
		}
		v.Status, v.Token, v.TokenJTI = store.OpApproved, "tok", "jti"
		return nil
	}
	events := func(t *testing.T, s store.Store) []store.AuditEvent {
		t.Helper()
		evs, _, err := s.ListAudit(ctxT(t), store.AuditFilter{Limit: 1000})
		noErr(t, "ListAudit", err)
		return evs
	}
	unchanged := func(t *testing.T, f fixture) {
		t.Helper()
		ctx := ctxT(t)
		c, err := f.s.GetCredential(ctx, f.cred.ID)
		noErr(t, "GetCredential", err)
		if c.Version != f.cred.Version || c.LastUsedAt != nil || c.FailedAttempts != f.cred.FailedAttempts {
			t.Fatalf("credential written without its operation: Version %d LastUsedAt %v FailedAttempts %d",
				c.Version, c.LastUsedAt, c.FailedAttempts)
		}
	}

	t.Run("all three written", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		at := base.Add(time.Minute)
		ev := &store.AuditEvent{Time: at, Type: "operation.approve", Outcome: "success", OperationID: f.op.ID,
			CredentialID: f.cred.ID, Evidence: []byte(`{"alg":"ES256"}`)}
		got, err := f.s.UpdateOperationWith(ctx, f.op, store.Alongside{Audit: ev,
			CredentialUse: store.CredentialUse{ID: f.cred.ID, At: at, ResetFailures: true}}, approve)
		noErr(t, "UpdateOperationWith", err)
		if got.Status != store.OpApproved || got.Version != f.op.Version+1 {
			t.Fatalf("Status %s Version %d", got.Status, got.Version)
		}
		stored, err := f.s.GetOperation(ctx, f.op.ID)
		noErr(t, "GetOperation", err)
		sameRecord(t, "stored operation", stored, got)
		c, err := f.s.GetCredential(ctx, f.cred.ID)
		noErr(t, "GetCredential", err)
		if c.LastUsedAt == nil || !c.LastUsedAt.Equal(at) || c.FailedAttempts != 0 || c.Version != f.cred.Version+1 {
			t.Fatalf("credential use: LastUsedAt %v FailedAttempts %d Version %d", c.LastUsedAt, c.FailedAttempts, c.Version)
		}
		if ev.Seq == 0 || ev.ID == "" {
			t.Fatalf("audit event not filled in: Seq %d ID %q", ev.Seq, ev.ID)
		}
		evs := events(t, f.s)
		if len(evs) != 1 {
			t.Fatalf("%d audit events, want 1", len(evs))
		}
		sameRecord(t, "stored audit event", evs[0], *ev)
	})

	t.Run("failures kept without reset or on a credential no longer active", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		_, err := f.s.UpdateOperationWith(ctx, f.op, store.Alongside{CredentialUse: store.CredentialUse{ID: f.cred.ID, At: base}},
			func(v *store.Operation) error { v.Text = "x"; return nil })
		noErr(t, "UpdateOperationWith", err)
		c, err := f.s.GetCredential(ctx, f.cred.ID)
		noErr(t, "GetCredential", err)
		if c.FailedAttempts != 2 || c.LastUsedAt == nil {
			t.Fatalf("without ResetFailures: FailedAttempts %d LastUsedAt %v", c.FailedAttempts, c.LastUsedAt)
		}
		c, err = f.s.UpdateCredential(ctx, c.ID, func(v *store.Credential) error { v.Status = store.StatusBlocked; return nil })
		noErr(t, "UpdateCredential", err)
		op, err := f.s.GetOperation(ctx, f.op.ID)
		noErr(t, "GetOperation", err)
		_, err = f.s.UpdateOperationWith(ctx, op, store.Alongside{CredentialUse: store.CredentialUse{ID: c.ID, At: base, ResetFailures: true}}, approve)
		noErr(t, "UpdateOperationWith", err)
		c, err = f.s.GetCredential(ctx, f.cred.ID)
		noErr(t, "GetCredential", err)
		if c.FailedAttempts != 2 || c.Status != store.StatusBlocked {
			t.Fatalf("a BLOCKED credential's failures were reset: FailedAttempts %d Status %s", c.FailedAttempts, c.Status)
		}
	})

	t.Run("the signature counter only moves forward, its data with it", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		c, err := f.s.UpdateCredential(ctx, f.cred.ID, func(v *store.Credential) error {
			v.Counter, v.Data = 10, []byte(`{"ctr":10}`)
			return nil
		})
		noErr(t, "UpdateCredential", err)
		op := f.op
		for _, tc := range []struct {
			use      int64
			data     string // the use's Data ("": none)
			want     int64
			wantData string
		}{
			{9, `{"ctr":9}`, 10, `{"ctr":10}`}, // behind: neither moves
			{0, "", 10, `{"ctr":10}`},
			{10, `{"ctr":10,"x":1}`, 10, `{"ctr":10}`}, // the same position is not forward
			{11, `{"ctr":11}`, 11, `{"ctr":11}`},
			{12, "", 12, `{"ctr":11}`}, // a counter without data keeps the data
		} {
			var data []byte
			if tc.data != "" {
				data = []byte(tc.data)
			}
			op, err = f.s.UpdateOperationWith(ctx, op, store.Alongside{CredentialUse: store.CredentialUse{ID: c.ID, At: base,
				Counter: tc.use, Data: data}}, func(v *store.Operation) error { v.Text += "x"; return nil })
			noErr(t, "UpdateOperationWith", err)
			got, err := f.s.GetCredential(ctx, c.ID)
			noErr(t, "GetCredential", err)
			if got.Counter != tc.want || string(got.Data) != tc.wantData {
				t.Fatalf("use with counter %d and data %q: stored %d and %q, want %d and %q", tc.use, tc.data,
					got.Counter, got.Data, tc.want, tc.wantData)
			}
		}
	})

	t.Run("a lost swap writes nothing", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		if _, err := f.s.UpdateOperation(ctx, f.op.ID, func(v *store.Operation) error { v.Status = store.OpCanceled; return nil }); err != nil {
			t.Fatal(err)
		}
		_, err := f.s.UpdateOperationWith(ctx, f.op, store.Alongside{Audit: &store.AuditEvent{Type: "operation.approve"},
			CredentialUse: store.CredentialUse{ID: f.cred.ID, At: base, ResetFailures: true}}, approve)
		wantErr(t, "UpdateOperationWith from a stale PENDING copy of a CANCELED operation", err, errNotPending)
		unchanged(t, f)
		if n := len(events(t, f.s)); n != 0 {
			t.Fatalf("%d audit events appended by a lost swap", n)
		}
	})

	t.Run("a lost swap retried writes once", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		if _, err := f.s.UpdateOperation(ctx, f.op.ID, func(v *store.Operation) error { v.FailedAttempts = 1; return nil }); err != nil {
			t.Fatal(err)
		}
		calls := 0
		got, err := f.s.UpdateOperationWith(ctx, f.op, store.Alongside{Audit: &store.AuditEvent{Type: "operation.approve"},
			CredentialUse: store.CredentialUse{ID: f.cred.ID, At: base}}, func(v *store.Operation) error { calls++; return approve(v) })
		noErr(t, "UpdateOperationWith from a stale copy", err)
		if calls != 2 || got.FailedAttempts != 1 || got.Version != f.op.Version+2 {
			t.Fatalf("calls %d FailedAttempts %d Version %d", calls, got.FailedAttempts, got.Version)
		}
		c, err := f.s.GetCredential(ctx, f.cred.ID)
		noErr(t, "GetCredential", err)
		if c.Version != f.cred.Version+1 {
			t.Fatalf("credential Version %d, want %d: stamped once per attempt, not once", c.Version, f.cred.Version+1)
		}
		if n := len(events(t, f.s)); n != 1 {
			t.Fatalf("%d audit events, want 1", n)
		}
	})

	t.Run("a failing audit append undoes the swap", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		first := &store.AuditEvent{Type: "x"}
		noErr(t, "AppendAudit", f.s.AppendAudit(ctx, first))
		_, err := f.s.UpdateOperationWith(ctx, f.op, store.Alongside{Audit: &store.AuditEvent{ID: first.ID, Type: "operation.approve"},
			CredentialUse: store.CredentialUse{ID: f.cred.ID, At: base, ResetFailures: true}}, approve)
		wantErr(t, "UpdateOperationWith with a duplicate audit id", err, store.ErrAlreadyExists)
		op, err := f.s.GetOperation(ctx, f.op.ID)
		noErr(t, "GetOperation", err)
		sameRecord(t, "operation after the failed update", op, f.op)
		unchanged(t, f)
	})

	t.Run("create with the audit event", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		ev := &store.AuditEvent{Type: "operation.create", Outcome: "success", Time: base}
		o := store.Operation{UserID: f.op.UserID, Type: "payment", Status: store.OpPending, IdempotencyKey: "k1",
			DL: []byte{7}, ExpiresAt: base.Add(time.Minute), CreatedAt: base}
		noErr(t, "CreateOperationWith", f.s.CreateOperationWith(ctx, &o, store.Alongside{Audit: ev}))
		if o.ID == "" || o.Version != 1 || ev.Seq == 0 {
			t.Fatalf("ID %q Version %d audit Seq %d", o.ID, o.Version, ev.Seq)
		}
		stored, err := f.s.GetOperation(ctx, o.ID)
		noErr(t, "GetOperation", err)
		sameRecord(t, "stored operation", stored, o)
		evs := events(t, f.s)
		if len(evs) != 1 {
			t.Fatalf("%d audit events, want 1", len(evs))
		}
		sameRecord(t, "stored audit event", evs[0], *ev)

		// Refused inserts append no audit event.
		dup := o
		dup.ID = ""
		err = f.s.CreateOperationWith(ctx, &dup, store.Alongside{Audit: &store.AuditEvent{Type: "operation.create"}})
		wantErr(t, "CreateOperationWith with a used idempotency key", err, store.ErrAlreadyExists)
		orphan := store.Operation{UserID: "00000000-0000-4000-8000-000000000000", Type: "payment", Status: store.OpPending,
			ExpiresAt: base.Add(time.Minute)}
		err = f.s.CreateOperationWith(ctx, &orphan, store.Alongside{Audit: &store.AuditEvent{Type: "operation.create"}})
		wantErr(t, "CreateOperationWith for an unknown user", err, store.ErrNotFound)
		if n := len(events(t, f.s)); n != 1 {
			t.Fatalf("%d audit events after two refused creates, want 1", n)
		}

		// A refused audit event leaves no operation.
		lost := store.Operation{ID: "11111111-1111-4111-8111-111111111111", UserID: f.op.UserID, Type: "payment",
			Status: store.OpPending, ExpiresAt: base.Add(time.Minute)}
		err = f.s.CreateOperationWith(ctx, &lost, store.Alongside{Audit: &store.AuditEvent{ID: ev.ID, Type: "operation.create"}})
		wantErr(t, "CreateOperationWith with a duplicate audit id", err, store.ErrAlreadyExists)
		_, err = f.s.GetOperation(ctx, lost.ID)
		wantErr(t, "GetOperation of an operation whose audit event was refused", err, store.ErrNotFound)
	})

	t.Run("every column written", func(t *testing.T) {
		f := setup(t)
		ctx := ctxT(t)
		at := base.Add(time.Hour)
		got, err := f.s.UpdateOperationWith(ctx, f.op, store.Alongside{}, func(v *store.Operation) error {
			*v = store.Operation{ID: v.ID, UserID: v.UserID, Type: "login", PayeeAccount: "p", PayeeName: "n", Amount: "1.00",
				Currency: "CHF", Text: "t", Nonce: "nn", DL: []byte{9}, Status: store.OpRejected, Factors: "device_key",
				CallbackURL: "https://cb", IdempotencyKey: "idem", FailedAttempts: 3, MaxFailedAttempts: 4, Data: []byte(`{}`),
				ApprovedCredentialID: f.cred.ID, ApprovedAt: &at, TokenJTI: "j", Token: "t", TokenExpiresAt: &at,
				ExpiresAt: at, UpdatedAt: at}
			return nil
		})
		noErr(t, "UpdateOperationWith", err)
		stored, err := f.s.GetOperation(ctx, f.op.ID)
		noErr(t, "GetOperation", err)
		sameRecord(t, "stored operation", stored, got)
		if stored.Type != "login" || stored.IdempotencyKey != "idem" || !stored.UpdatedAt.Equal(at) {
			t.Fatalf("not written: %+v", stored)
		}
	})
}

var errNotPending = errors.New("not pending")
