package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/signet-sca/signet/store"
)

func testRecoveryCodes(t *testing.T, newStore NewStore) {
	setup := func(t *testing.T) (store.Store, store.Application) {
		s := newStore(t)
		a := store.Application{Name: "app", AppKey: "key-r", AppSecret: "secret", Status: "ACTIVE"}
		noErr(t, "CreateApplication", s.CreateApplication(ctxT(t), &a))
		return s, a
	}
	code := func(app, user, act, key string) store.RecoveryCode {
		return store.RecoveryCode{ApplicationID: app, UserID: user, ActivationID: act, LookupKey: key,
			CodeMasked: "XXXXX-XXXXX-XXXXX-ABCDE", Status: "CREATED", MaxFailedAttempts: 10,
			PUKs: []byte(`[{"index":1,"status":"VALID"}]`), Secret: []byte{0x00, 0xff, 0x01}}
	}
	t.Run("application recovery settings round-trip", func(t *testing.T) {
		s, a := setup(t)
		got, err := s.UpdateApplication(ctxT(t), a.ID, func(a *store.Application) error {
			a.RecoveryEnabled, a.PostcardPrivateKey, a.PostcardPublicKey, a.PrinterPublicKey = true, []byte{1}, []byte{2}, []byte{3}
			return nil
		})
		noErr(t, "UpdateApplication", err)
		read, err := s.GetApplication(ctxT(t), a.ID)
		noErr(t, "GetApplication", err)
		if !read.RecoveryEnabled || !bytes.Equal(read.PrinterPublicKey, []byte{3}) || !bytes.Equal(read.PostcardPrivateKey, []byte{1}) ||
			!bytes.Equal(read.PostcardPublicKey, []byte{2}) || read.Version != got.Version || read.Version != 2 {
			t.Fatalf("application after update = %+v", read)
		}
	})
	t.Run("create, look up, list, update", func(t *testing.T) {
		s, a := setup(t)
		ctx := ctxT(t)
		_, err := s.GetRecoveryCodeByLookupKey(ctx, a.ID, "nope")
		wantErr(t, "GetRecoveryCodeByLookupKey of an unknown key", err, store.ErrNotFound)
		_, err = s.GetRecoveryCodeByLookupKey(ctx, a.ID, "")
		wantErr(t, "GetRecoveryCodeByLookupKey of an empty key", err, store.ErrNotFound)
		r1 := code(a.ID, "user-1", "", "k1")
		r1.CreatedAt = base
		noErr(t, "CreateRecoveryCode", s.CreateRecoveryCode(ctx, &r1))
		dup := code(a.ID, "user-2", "", "k1")
		wantErr(t, "CreateRecoveryCode with a taken lookup key", s.CreateRecoveryCode(ctx, &dup), store.ErrAlreadyExists)
		r2 := code(a.ID, "user-1", "11111111-2222-4333-8444-555555555555", "k2")
		r2.CreatedAt = base.Add(1e9)
		noErr(t, "CreateRecoveryCode", s.CreateRecoveryCode(ctx, &r2))
		got, err := s.GetRecoveryCodeByLookupKey(ctx, a.ID, "k1")
		noErr(t, "GetRecoveryCodeByLookupKey", err)
		if got.ID != r1.ID || !got.UpdatedAt.Equal(base) || !bytes.Equal(got.Secret, r1.Secret) || got.MaxFailedAttempts != 10 {
			t.Fatalf("looked up %+v, want %+v", got, r1)
		}
		list, err := s.ListRecoveryCodes(ctx, store.RecoveryCodeFilter{UserID: "user-1"})
		noErr(t, "ListRecoveryCodes", err)
		if len(list) != 2 || list[0].ID != r1.ID || list[1].ID != r2.ID {
			t.Fatalf("user list = %+v", list)
		}
		list, err = s.ListRecoveryCodes(ctx, store.RecoveryCodeFilter{ActivationID: r2.ActivationID})
		noErr(t, "ListRecoveryCodes by activation", err)
		if len(list) != 1 || list[0].ID != r2.ID {
			t.Fatalf("activation list = %+v", list)
		}
		if _, err := s.ListRecoveryCodes(ctx, store.RecoveryCodeFilter{}); err == nil {
			t.Fatal("ListRecoveryCodes without a user or activation listed every code")
		}
		up, err := s.UpdateRecoveryCode(ctx, r1.ID, func(r *store.RecoveryCode) error {
			r.Status, r.FailedAttempts = "BLOCKED", 10
			return nil
		})
		noErr(t, "UpdateRecoveryCode", err)
		if up.Version != 2 || up.Status != "BLOCKED" || up.FailedAttempts != 10 || up.UpdatedAt.Equal(base) {
			t.Fatalf("updated = %+v", up)
		}
		boom := errors.New("boom")
		_, err = s.UpdateRecoveryCode(ctx, r1.ID, func(*store.RecoveryCode) error { return boom })
		wantErr(t, "UpdateRecoveryCode whose closure fails", err, boom)
		_, err = s.UpdateRecoveryCode(ctx, "00000000-0000-4000-8000-000000000000", func(*store.RecoveryCode) error { return nil })
		wantErr(t, "UpdateRecoveryCode of an unknown id", err, store.ErrNotFound)
	})
}
