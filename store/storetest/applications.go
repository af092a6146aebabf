package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/store"
)

func testApplications(t *testing.T, newStore NewStore) {
	app := func(key string) store.Application {
		return store.Application{Name: "Mobile banking " + key, AppKey: key, AppSecret: "secret-" + key,
			MasterPrivateKey: []byte{0x01, 0x00, 0xff}, MasterPublicKey: []byte{0x04, 0x01, 0x02}, Status: "ACTIVE"}
	}
	t.Run("not found", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		_, err := s.GetApplication(ctx, "00000000-0000-4000-8000-000000000000")
		wantErr(t, "GetApplication of an unknown id", err, store.ErrNotFound)
		_, err = s.GetApplicationByKey(ctx, "nope")
		wantErr(t, "GetApplicationByKey of an unknown key", err, store.ErrNotFound)
		_, err = s.GetApplicationByKey(ctx, "")
		wantErr(t, "GetApplicationByKey of an empty key", err, store.ErrNotFound)
	})
	t.Run("duplicate app key", func(t *testing.T) {
		s := newStore(t)
		a := app("key-1")
		noErr(t, "CreateApplication", s.CreateApplication(ctxT(t), &a))
		dup := app("key-1")
		wantErr(t, "CreateApplication with a taken AppKey", s.CreateApplication(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		a := app("key-1")
		noErr(t, "CreateApplication", s.CreateApplication(ctxT(t), &a))
		dup := app("key-2")
		dup.ID = a.ID
		wantErr(t, "CreateApplication with a taken ID", s.CreateApplication(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("create get list", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		apps, err := s.ListApplications(ctx)
		noErr(t, "ListApplications on an empty store", err)
		if len(apps) != 0 {
			t.Fatalf("empty store lists %d applications", len(apps))
		}
		a1 := app("key-1")
		a1.CreatedAt = base
		noErr(t, "CreateApplication", s.CreateApplication(ctx, &a1))
		if _, err := uuid.Parse(a1.ID); err != nil {
			t.Fatalf("assigned ID %q is not a UUID: %v", a1.ID, err)
		}
		if a1.Version != 1 || !a1.CreatedAt.Equal(base) {
			t.Fatalf("CreateApplication did not assign Version 1 or kept CreatedAt: %+v", a1)
		}
		a2 := app("key-2")
		a2.ID, a2.CreatedAt = "11111111-2222-4333-8444-555555555555", base.Add(time.Second)
		a2.MasterPrivateKey = nil
		noErr(t, "CreateApplication", s.CreateApplication(ctx, &a2))
		if a2.ID != "11111111-2222-4333-8444-555555555555" {
			t.Fatalf("CreateApplication replaced the caller's ID with %q", a2.ID)
		}
		got, err := s.GetApplication(ctx, a1.ID)
		noErr(t, "GetApplication", err)
		sameRecord(t, "GetApplication", got, a1)
		got, err = s.GetApplicationByKey(ctx, "key-2")
		noErr(t, "GetApplicationByKey", err)
		sameRecord(t, "GetApplicationByKey", got, a2)
		if got.MasterPrivateKey != nil {
			t.Fatalf("empty MasterPrivateKey read back as %x, want nil", got.MasterPrivateKey)
		}
		apps, err = s.ListApplications(ctx)
		noErr(t, "ListApplications", err)
		if len(apps) != 2 {
			t.Fatalf("ListApplications = %d applications, want 2", len(apps))
		}
		sameRecord(t, "first listed", apps[0], a1)
		sameRecord(t, "second listed", apps[1], a2)
	})
	// The one-round-trip read of a signed request returns what the two reads return.
	t.Run("credential with application", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		full := app("key-1")
		full.RecoveryEnabled, full.CreatedAt = true, base
		full.PostcardPrivateKey, full.PostcardPublicKey, full.PrinterPublicKey = []byte{1}, []byte{2}, []byte{3}
		noErr(t, "CreateApplication", s.CreateApplication(ctx, &full))
		bare := app("key-2")
		bare.MasterPrivateKey, bare.CreatedAt = nil, base.Add(time.Second)
		noErr(t, "CreateApplication", s.CreateApplication(ctx, &bare))
		u := mustUser(t, s, "a")
		c := mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPowerAuth, Counter: 3, Data: []byte(`{"x":1}`)})
		for _, want := range []store.Application{full, bare, {}} {
			key := want.AppKey
			if key == "" {
				key = "unknown"
			}
			gotC, gotA, err := s.GetCredentialWithApplication(ctx, c.ID, key)
			noErr(t, "GetCredentialWithApplication "+key, err)
			sameRecord(t, "credential", gotC, c)
			sameRecord(t, "application "+key, gotA, want)
		}
		_, _, err := s.GetCredentialWithApplication(ctx, "00000000-0000-4000-8000-000000000000", "key-1")
		wantErr(t, "GetCredentialWithApplication of an unknown credential", err, store.ErrNotFound)
	})
}
