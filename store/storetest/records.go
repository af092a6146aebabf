package storetest

import (
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/store"
)

func testUsers(t *testing.T, newStore NewStore) {
	t.Run("duplicate external id", func(t *testing.T) {
		s := newStore(t)
		mustUser(t, s, "ext-1")
		u := store.User{ExternalID: "ext-1"}
		wantErr(t, "CreateUser with a taken ExternalID", s.CreateUser(ctxT(t), &u), store.ErrAlreadyExists)
	})
	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "ext-1")
		dup := store.User{ID: u.ID, ExternalID: "ext-2"}
		wantErr(t, "CreateUser with a taken ID", s.CreateUser(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("update to a taken external id", func(t *testing.T) {
		s := newStore(t)
		mustUser(t, s, "ext-1")
		u2 := mustUser(t, s, "ext-2")
		_, err := s.UpdateUser(ctxT(t), u2.ID, func(u *store.User) error { u.ExternalID = "ext-1"; return nil })
		wantErr(t, "UpdateUser to a taken ExternalID", err, store.ErrAlreadyExists)
		got, err := s.GetUser(ctxT(t), u2.ID)
		noErr(t, "GetUser", err)
		sameRecord(t, "user after refused update", got, u2)
	})
	t.Run("create get update", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u := store.User{ExternalID: "bank-42", DisplayName: "Ada", WebAuthnID: []byte{1, 2, 3}}
		noErr(t, "CreateUser", s.CreateUser(ctx, &u))
		if _, err := uuid.Parse(u.ID); err != nil {
			t.Fatalf("assigned ID %q is not a UUID: %v", u.ID, err)
		}
		if u.Version != 1 || u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() {
			t.Fatalf("CreateUser did not assign Version 1 and times: %+v", u)
		}
		got, err := s.GetUser(ctx, u.ID)
		noErr(t, "GetUser", err)
		sameRecord(t, "GetUser", got, u)
		got, err = s.GetUserByExternalID(ctx, "bank-42")
		noErr(t, "GetUserByExternalID", err)
		sameRecord(t, "GetUserByExternalID", got, u)

		later := base.Add(time.Hour)
		up, err := s.UpdateUser(ctx, u.ID, func(v *store.User) error {
			v.DisplayName = "Ada L."
			v.PasscodeVerifier = []byte("verifier")
			v.PasscodeFailed = 2
			v.PasscodeLocked = true
			v.UpdatedAt = later
			v.ID = "hijack" // ignored: the store owns ID, CreatedAt and Version
			v.Version = 99
			return nil
		})
		noErr(t, "UpdateUser", err)
		want := u
		want.DisplayName, want.PasscodeVerifier, want.PasscodeFailed, want.PasscodeLocked = "Ada L.", []byte("verifier"), 2, true
		want.UpdatedAt, want.Version = later, 2
		sameRecord(t, "UpdateUser result", up, want)
		got, err = s.GetUser(ctx, u.ID)
		noErr(t, "GetUser after update", err)
		sameRecord(t, "GetUser after update", got, want)
	})
	t.Run("caller id kept", func(t *testing.T) {
		s := newStore(t)
		u := store.User{ID: "11111111-2222-4333-8444-555555555555", ExternalID: "e"}
		noErr(t, "CreateUser", s.CreateUser(ctxT(t), &u))
		if u.ID != "11111111-2222-4333-8444-555555555555" {
			t.Fatalf("CreateUser replaced the caller's ID with %q", u.ID)
		}
	})
}

// testOperationWithCredential: the one-round-trip read returns what the two
// reads return.
func testOperationWithCredential(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ctx := ctxT(t)
	u := mustUser(t, s, "a")
	at := base.Add(time.Minute)
	// Text that looks like a time stays text: the label and lookup key come
	// back through expressions (coalesce) that a driver must not read as times.
	c := mustCredential(t, s, store.Credential{UserID: u.ID, Label: "2030-01-02", LookupKey: "2030-01-02 03:04:05", PublicKey: []byte{1}, Counter: 4,
		FailedAttempts: 1, MaxFailedAttempts: 5, Device: []byte(`{}`), CreatedAt: base, ActivatedAt: &at})
	o := mustOperation(t, s, store.Operation{UserID: u.ID, DL: []byte{2}, Amount: "1.00", Currency: "EUR"})

	gotO, gotC, err := s.GetOperationWithCredential(ctx, o.ID, c.ID)
	noErr(t, "GetOperationWithCredential", err)
	sameRecord(t, "operation", gotO, o)
	sameRecord(t, "credential", gotC, c)

	gotO, gotC, err = s.GetOperationWithCredential(ctx, o.ID, "00000000-0000-4000-8000-000000000000")
	noErr(t, "GetOperationWithCredential of an unknown credential", err)
	sameRecord(t, "operation", gotO, o)
	sameRecord(t, "unknown credential", gotC, store.Credential{})

	_, _, err = s.GetOperationWithCredential(ctx, "00000000-0000-4000-8000-000000000000", c.ID)
	wantErr(t, "GetOperationWithCredential of an unknown operation", err, store.ErrNotFound)
}

func testCredentials(t *testing.T, newStore NewStore) {
	t.Run("unknown user", func(t *testing.T) {
		s := newStore(t)
		c := store.Credential{UserID: "no-such-user", Kind: store.KindPasskey, Status: store.StatusActive}
		wantErr(t, "CreateCredential for an unknown user", s.CreateCredential(ctxT(t), &c), store.ErrNotFound)
	})
	t.Run("duplicate kind and lookup key", func(t *testing.T) {
		s := newStore(t)
		u1, u2 := mustUser(t, s, "a"), mustUser(t, s, "b")
		mustCredential(t, s, store.Credential{UserID: u1.ID, Kind: store.KindPasskey, LookupKey: "cred-id"})
		dup := store.Credential{UserID: u2.ID, Kind: store.KindPasskey, Status: store.StatusActive, LookupKey: "cred-id"}
		wantErr(t, "CreateCredential with a taken (kind, lookup key)", s.CreateCredential(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		c := mustCredential(t, s, store.Credential{UserID: u.ID})
		dup := store.Credential{ID: c.ID, UserID: u.ID, Kind: store.KindPasskey, Status: store.StatusActive}
		wantErr(t, "CreateCredential with a taken ID", s.CreateCredential(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("lookup key unique per kind only, empty not unique", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPasskey, LookupKey: "k"})
		mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPowerAuth, LookupKey: "k"})
		mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindDeviceKey})
		mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindDeviceKey})
	})
	t.Run("update to a taken lookup key", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPowerAuth, LookupKey: "AAAAA-BBBBB"})
		c := mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPowerAuth})
		_, err := s.UpdateCredential(ctxT(t), c.ID, func(c *store.Credential) error { c.LookupKey = "AAAAA-BBBBB"; return nil })
		wantErr(t, "UpdateCredential to a taken lookup key", err, store.ErrAlreadyExists)
	})
	t.Run("create get update", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u := mustUser(t, s, "a")
		exp := base.Add(24 * time.Hour)
		c := store.Credential{
			UserID: u.ID, Kind: store.KindPowerAuth, Status: store.StatusCreated,
			MaxFailedAttempts: 5, Label: "Phone", LookupKey: "ABCDE-FGHIJ-KLMNO-PQRST",
			PublicKey: []byte{0x04, 0x01}, Device: []byte(`{"platform":"ios"}`), Data: []byte(`{"x":1}`),
			Secret: []byte{0xde, 0xad}, ExpiresAt: &exp,
		}
		noErr(t, "CreateCredential", s.CreateCredential(ctx, &c))
		if _, err := uuid.Parse(c.ID); err != nil || c.Version != 1 || c.CreatedAt.IsZero() {
			t.Fatalf("CreateCredential did not assign ID, Version 1 and CreatedAt: %+v", c)
		}
		got, err := s.GetCredential(ctx, c.ID)
		noErr(t, "GetCredential", err)
		sameRecord(t, "GetCredential", got, c)
		got, err = s.GetCredentialByLookupKey(ctx, store.KindPowerAuth, c.LookupKey)
		noErr(t, "GetCredentialByLookupKey", err)
		sameRecord(t, "GetCredentialByLookupKey", got, c)
		_, err = s.GetCredentialByLookupKey(ctx, store.KindPasskey, c.LookupKey)
		wantErr(t, "GetCredentialByLookupKey with another kind", err, store.ErrNotFound)

		now := base.Add(time.Minute)
		up, err := s.UpdateCredential(ctx, c.ID, func(v *store.Credential) error {
			if err := v.Transition(store.StatusActive, store.ReasonNone, now); err != nil {
				return err
			}
			v.LookupKey = ""
			v.Counter = 7
			v.RecordSuccess(now)
			return nil
		})
		noErr(t, "UpdateCredential", err)
		want := c
		want.Status, want.LookupKey, want.Counter, want.ActivatedAt, want.LastUsedAt, want.Version =
			store.StatusActive, "", 7, &now, &now, 2
		sameRecord(t, "UpdateCredential result", up, want)
		got, err = s.GetCredential(ctx, c.ID)
		noErr(t, "GetCredential after update", err)
		sameRecord(t, "GetCredential after update", got, want)
		_, err = s.GetCredentialByLookupKey(ctx, store.KindPowerAuth, "ABCDE-FGHIJ-KLMNO-PQRST")
		wantErr(t, "lookup by a cleared key", err, store.ErrNotFound)
	})
	t.Run("list filters", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		a1 := mustCredential(t, s, store.Credential{UserID: a.ID, Kind: store.KindPasskey, Status: store.StatusActive})
		a2 := mustCredential(t, s, store.Credential{UserID: a.ID, Kind: store.KindPowerAuth, Status: store.StatusBlocked, BlockReason: store.ReasonIssuer})
		a3 := mustCredential(t, s, store.Credential{UserID: a.ID, Kind: store.KindDeviceKey, Status: store.StatusActive})
		b1 := mustCredential(t, s, store.Credential{UserID: b.ID, Kind: store.KindPasskey, Status: store.StatusRemoved})
		tests := []struct {
			name string
			f    store.CredentialFilter
			want []store.Credential
		}{
			{"no match", store.CredentialFilter{UserID: b.ID, Status: store.StatusActive}, nil},
			{"unknown user", store.CredentialFilter{UserID: "nobody"}, nil},
			{"all", store.CredentialFilter{}, []store.Credential{a1, a2, a3, b1}},
			{"by user", store.CredentialFilter{UserID: a.ID}, []store.Credential{a1, a2, a3}},
			{"by kind", store.CredentialFilter{Kind: store.KindPasskey}, []store.Credential{a1, b1}},
			{"by status", store.CredentialFilter{Status: store.StatusActive}, []store.Credential{a1, a3}},
			{"by user and kind", store.CredentialFilter{UserID: a.ID, Kind: store.KindPowerAuth}, []store.Credential{a2}},
			{"by user, kind and status", store.CredentialFilter{UserID: a.ID, Kind: store.KindDeviceKey, Status: store.StatusActive}, []store.Credential{a3}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListCredentials(ctx, tt.f)
				noErr(t, "ListCredentials", err)
				sameSet(t, got, tt.want, func(c store.Credential) string { return c.ID })
			})
		}
	})
}

// sameSet compares two lists of records ignoring order.
func sameSet[T any](t *testing.T, got, want []T, id func(T) string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	sort.Slice(got, func(i, j int) bool { return id(got[i]) < id(got[j]) })
	want = append([]T(nil), want...)
	sort.Slice(want, func(i, j int) bool { return id(want[i]) < id(want[j]) })
	for i := range got {
		sameRecord(t, "record "+id(want[i]), got[i], want[i])
	}
}

func testOperations(t *testing.T, newStore NewStore) {
	t.Run("unknown user", func(t *testing.T) {
		s := newStore(t)
		o := store.Operation{UserID: "nobody", Type: "payment", Status: store.OpPending, ExpiresAt: base}
		wantErr(t, "CreateOperation for an unknown user", s.CreateOperation(ctxT(t), &o), store.ErrNotFound)
	})
	t.Run("duplicate idempotency key", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		mustOperation(t, s, store.Operation{UserID: u.ID, IdempotencyKey: "idem-1"})
		o := store.Operation{UserID: u.ID, Type: "payment", Status: store.OpPending, ExpiresAt: base, IdempotencyKey: "idem-1"}
		wantErr(t, "CreateOperation with a taken idempotency key", s.CreateOperation(ctxT(t), &o), store.ErrAlreadyExists)
	})
	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		o := mustOperation(t, s, store.Operation{UserID: u.ID})
		dup := store.Operation{ID: o.ID, UserID: u.ID, Type: "payment", Status: store.OpPending, ExpiresAt: base}
		wantErr(t, "CreateOperation with a taken ID", s.CreateOperation(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("empty idempotency keys do not collide", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		mustOperation(t, s, store.Operation{UserID: u.ID})
		mustOperation(t, s, store.Operation{UserID: u.ID})
	})
	t.Run("create get update", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u := mustUser(t, s, "a")
		o := store.Operation{
			UserID: u.ID, Type: "payment", PayeeAccount: "DE89370400440532013000", PayeeName: "ACME GmbH",
			Amount: "100.00", Currency: "EUR", Text: "Invoice 7", Nonce: "bm9uY2U", DL: make([]byte, 32),
			Status: store.OpPending, Factors: "passkey,powerauth", CallbackURL: "https://bank.example/cb",
			IdempotencyKey: "idem-7", MaxFailedAttempts: 5, Data: []byte(`{"pa":"A1*A100.00EUR"}`),
			ExpiresAt: base.Add(5 * time.Minute),
		}
		o.DL[0], o.DL[31] = 0xff, 0x01
		noErr(t, "CreateOperation", s.CreateOperation(ctx, &o))
		if _, err := uuid.Parse(o.ID); err != nil || o.Version != 1 || o.CreatedAt.IsZero() || o.UpdatedAt.IsZero() {
			t.Fatalf("CreateOperation did not assign ID, Version 1 and times: %+v", o)
		}
		got, err := s.GetOperation(ctx, o.ID)
		noErr(t, "GetOperation", err)
		sameRecord(t, "GetOperation", got, o)
		got, err = s.GetOperationByIdempotencyKey(ctx, "idem-7")
		noErr(t, "GetOperationByIdempotencyKey", err)
		sameRecord(t, "GetOperationByIdempotencyKey", got, o)

		now, texp := base.Add(time.Minute), base.Add(3*time.Minute)
		up, err := s.UpdateOperation(ctx, o.ID, func(v *store.Operation) error {
			v.Status = store.OpApproved
			v.ApprovedCredentialID = "cred-1"
			v.ApprovedAt = &now
			v.TokenJTI, v.Token, v.TokenExpiresAt = "jti", "eyJ...", &texp
			v.FailedAttempts = 1
			v.UpdatedAt = now
			return nil
		})
		noErr(t, "UpdateOperation", err)
		want := o
		want.Status, want.ApprovedCredentialID, want.ApprovedAt = store.OpApproved, "cred-1", &now
		want.TokenJTI, want.Token, want.TokenExpiresAt, want.FailedAttempts = "jti", "eyJ...", &texp, 1
		want.UpdatedAt, want.Version = now, 2
		sameRecord(t, "UpdateOperation result", up, want)
		got, err = s.GetOperation(ctx, o.ID)
		noErr(t, "GetOperation after update", err)
		sameRecord(t, "GetOperation after update", got, want)
	})
	t.Run("update stamps UpdatedAt", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		old := base.Add(-24 * time.Hour)
		o := mustOperation(t, s, store.Operation{UserID: u.ID, CreatedAt: old, UpdatedAt: old})
		up, err := s.UpdateOperation(ctxT(t), o.ID, func(v *store.Operation) error { v.Text = "x"; return nil })
		noErr(t, "UpdateOperation", err)
		if up.UpdatedAt.Equal(old) || !up.CreatedAt.Equal(old) {
			t.Fatalf("UpdatedAt %v not stamped or CreatedAt %v changed (was %v)", up.UpdatedAt, up.CreatedAt, old)
		}
	})
	t.Run("list filters", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		a, b := mustUser(t, s, "a"), mustUser(t, s, "b")
		a1 := mustOperation(t, s, store.Operation{UserID: a.ID, Status: store.OpPending, ExpiresAt: base.Add(1 * time.Minute)})
		a2 := mustOperation(t, s, store.Operation{UserID: a.ID, Status: store.OpApproved, ExpiresAt: base.Add(2 * time.Minute)})
		a3 := mustOperation(t, s, store.Operation{UserID: a.ID, Status: store.OpPending, ExpiresAt: base.Add(3 * time.Minute)})
		b1 := mustOperation(t, s, store.Operation{UserID: b.ID, Status: store.OpPending, ExpiresAt: base.Add(4 * time.Minute)})
		tests := []struct {
			name string
			f    store.OperationFilter
			want []store.Operation
		}{
			{"no match", store.OperationFilter{UserID: b.ID, Status: store.OpApproved}, nil},
			{"expires before everything", store.OperationFilter{ExpiresBefore: base}, nil},
			{"all", store.OperationFilter{}, []store.Operation{a1, a2, a3, b1}},
			{"by user", store.OperationFilter{UserID: a.ID}, []store.Operation{a1, a2, a3}},
			{"by status", store.OperationFilter{Status: store.OpPending}, []store.Operation{a1, a3, b1}},
			{"expires before is exclusive", store.OperationFilter{ExpiresBefore: base.Add(3 * time.Minute)}, []store.Operation{a1, a2}},
			{"pending and expiring", store.OperationFilter{Status: store.OpPending, ExpiresBefore: base.Add(4 * time.Minute)}, []store.Operation{a1, a3}},
			{"user, status and expiry", store.OperationFilter{UserID: a.ID, Status: store.OpPending, ExpiresBefore: base.Add(2 * time.Minute)}, []store.Operation{a1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListOperations(ctx, tt.f)
				noErr(t, "ListOperations", err)
				sameSet(t, got, tt.want, func(o store.Operation) string { return o.ID })
			})
		}
		t.Run("limit", func(t *testing.T) {
			got, err := s.ListOperations(ctx, store.OperationFilter{Limit: 2})
			noErr(t, "ListOperations", err)
			if len(got) != 2 {
				t.Fatalf("Limit 2 gave %d operations", len(got))
			}
		})
	})
	t.Run("newest first keeps the latest", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		var ops []store.Operation
		for i := 3; i >= 1; i-- {
			at := base.Add(-time.Duration(i) * time.Hour)
			ops = append(ops, mustOperation(t, s, store.Operation{UserID: u.ID, CreatedAt: at, UpdatedAt: at}))
		}
		got, err := s.ListOperations(ctxT(t), store.OperationFilter{UserID: u.ID, Limit: 2, Newest: true})
		noErr(t, "ListOperations", err)
		if len(got) != 2 || got[0].ID != ops[2].ID || got[1].ID != ops[1].ID {
			t.Fatalf("Newest with Limit 2 gave %v, want [%s %s]", ids(got), ops[2].ID, ops[1].ID)
		}
	})
	t.Run("default limit is 100", func(t *testing.T) {
		s := newStore(t)
		u := mustUser(t, s, "a")
		for range 101 {
			mustOperation(t, s, store.Operation{UserID: u.ID})
		}
		got, err := s.ListOperations(ctxT(t), store.OperationFilter{UserID: u.ID})
		noErr(t, "ListOperations", err)
		if len(got) != 100 {
			t.Fatalf("default limit gave %d operations, want 100", len(got))
		}
	})
}

func testSigningKeys(t *testing.T, newStore NewStore) {
	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		k := store.SigningKey{ID: "kid-1", State: store.KeyNext, Algorithm: "ES256"}
		noErr(t, "CreateSigningKey", s.CreateSigningKey(ctxT(t), &k))
		dup := store.SigningKey{ID: "kid-1", State: store.KeyNext, Algorithm: "ES256"}
		wantErr(t, "CreateSigningKey with a taken ID", s.CreateSigningKey(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("create list update", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		keys, err := s.ListSigningKeys(ctx)
		noErr(t, "ListSigningKeys on an empty store", err)
		if len(keys) != 0 {
			t.Fatalf("empty store lists %d keys", len(keys))
		}
		k1 := store.SigningKey{ID: "kid-1", State: store.KeyActive, Algorithm: "ES256",
			PublicKey: []byte{0x30, 0x59}, PrivateKey: []byte{0x00, 0xff, 0x00}, ActivatedAt: ptr(base)}
		k2 := store.SigningKey{ID: "kid-2", State: store.KeyNext, Algorithm: "ES256", PublicKey: []byte{0x30}}
		noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, &k1))
		noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, &k2))
		if k1.Version != 1 || k1.CreatedAt.IsZero() {
			t.Fatalf("CreateSigningKey did not assign Version 1 and CreatedAt: %+v", k1)
		}
		keys, err = s.ListSigningKeys(ctx)
		noErr(t, "ListSigningKeys", err)
		sameSet(t, keys, []store.SigningKey{k1, k2}, func(k store.SigningKey) string { return k.ID })

		retired, until := base.Add(time.Hour), base.Add(time.Hour+5*time.Minute)
		up, err := s.UpdateSigningKey(ctx, "kid-1", func(k *store.SigningKey) error {
			k.State, k.RetiredAt, k.PublishUntil = store.KeyRetired, &retired, &until
			return nil
		})
		noErr(t, "UpdateSigningKey", err)
		want := k1
		want.State, want.RetiredAt, want.PublishUntil, want.Version = store.KeyRetired, &retired, &until, 2
		sameRecord(t, "UpdateSigningKey result", up, want)
		keys, err = s.ListSigningKeys(ctx)
		noErr(t, "ListSigningKeys", err)
		sameSet(t, keys, []store.SigningKey{want, k2}, func(k store.SigningKey) string { return k.ID })
	})
}

func ids(ops []store.Operation) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.ID
	}
	return out
}
