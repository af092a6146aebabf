// Package storetest is the conformance suite of store.Store: every backend
// runs Run and must pass it unchanged, so that callers can rely on the same
// sentinel errors, compare-and-swap and time/byte round trips everywhere.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

// NewStore returns an empty, migrated store for one test and arranges (with
// t.Cleanup) for it to be closed.
type NewStore func(t *testing.T) store.Store

// Run runs the whole suite; each subtest gets a store of its own.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, g := range []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"NotFound", testNotFound},
		{"Users", testUsers},
		{"Credentials", testCredentials},
		{"Operations", testOperations},
		{"OperationWithCredential", testOperationWithCredential},
		{"ReadApproval", testReadApproval},
		{"Audit", testAudit},
		{"SigningKeys", testSigningKeys},
		{"Ceremonies", testCeremonies},
		{"Outbox", testOutbox},
		{"Applications", testApplications},
		{"RecoveryCodes", testRecoveryCodes},
		{"PushTokens", testPushTokens},
		{"Inbox", testInbox},
		{"CompareAndSwap", testCompareAndSwap},
		{"UpdateWith", testUpdateWith},
		{"Times", testTimes},
		{"Bytes", testBytes},
		{"Context", testContext},
		{"RoundTrip", testRoundTrip},
	} {
		t.Run(g.name, func(t *testing.T) { g.fn(t, newStore) })
	}
}

// base is a fixed instant with no sub-microsecond part; the suite passes
// explicit times wherever the contract takes one, so no test depends on the
// wall clock.
var base = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ptr[T any](v T) *T { return &v }

func mustUser(t *testing.T, s store.Store, externalID string) store.User {
	t.Helper()
	u := store.User{ExternalID: externalID, DisplayName: "User " + externalID, WebAuthnID: []byte(externalID)}
	if err := s.CreateUser(ctxT(t), &u); err != nil {
		t.Fatalf("CreateUser(%q): %v", externalID, err)
	}
	return u
}

func mustCredential(t *testing.T, s store.Store, c store.Credential) store.Credential {
	t.Helper()
	if c.Status == "" {
		c.Status = store.StatusActive
	}
	if c.Kind == "" {
		c.Kind = store.KindDeviceKey
	}
	if err := s.CreateCredential(ctxT(t), &c); err != nil {
		t.Fatalf("CreateCredential: %v", err)
	}
	return c
}

func mustOperation(t *testing.T, s store.Store, o store.Operation) store.Operation {
	t.Helper()
	if o.Type == "" {
		o.Type = "payment"
	}
	if o.Status == "" {
		o.Status = store.OpPending
	}
	if o.ExpiresAt.IsZero() {
		o.ExpiresAt = base.Add(5 * time.Minute)
	}
	if err := s.CreateOperation(ctxT(t), &o); err != nil {
		t.Fatalf("CreateOperation: %v", err)
	}
	return o
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sameRecord fails unless got and want are equal field by field, with times
// compared as instants and required to be in UTC, and byte slices compared
// by content (a nil and an empty slice are the same).
func sameRecord(t *testing.T, what string, got, want any) {
	t.Helper()
	if diffs := diff(reflect.ValueOf(got), reflect.ValueOf(want), ""); len(diffs) > 0 {
		t.Fatalf("%s differs:\n%v", what, diffs)
	}
}

var timeType = reflect.TypeOf(time.Time{})

func diff(got, want reflect.Value, path string) []string {
	if got.Type() != want.Type() {
		return []string{fmt.Sprintf("%s: type %s vs %s", path, got.Type(), want.Type())}
	}
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		var out []string
		if !g.Equal(w) {
			out = append(out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
		}
		if !g.IsZero() && g.Location() != time.UTC {
			out = append(out, fmt.Sprintf("%s: location %v, want UTC", path, g.Location()))
		}
		return out
	case got.Kind() == reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
			}
			return nil
		}
		return diff(got.Elem(), want.Elem(), path)
	case got.Kind() == reflect.Slice && got.Type().Elem().Kind() == reflect.Uint8:
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			return []string{fmt.Sprintf("%s: got %x, want %x", path, got.Bytes(), want.Bytes())}
		}
		return nil
	case got.Kind() == reflect.Struct:
		var out []string
		for i := range got.NumField() {
			out = append(out, diff(got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name)...)
		}
		return out
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
	}
	return nil
}

// testNotFound: every Get and Update of an unknown id gives ErrNotFound, and
// no updater closure runs.
func testNotFound(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ctx := ctxT(t)
	const missing = "00000000-0000-4000-8000-000000000000"
	called := false
	never := func() error { called = true; return nil }
	tests := []struct {
		name string
		call func() error
	}{
		{"GetUser", func() error { _, err := s.GetUser(ctx, missing); return err }},
		{"GetUserByExternalID", func() error { _, err := s.GetUserByExternalID(ctx, "nobody"); return err }},
		{"GetUserByExternalID empty", func() error { _, err := s.GetUserByExternalID(ctx, ""); return err }},
		{"UpdateUser", func() error {
			_, err := s.UpdateUser(ctx, missing, func(*store.User) error { return never() })
			return err
		}},
		{"GetCredential", func() error { _, err := s.GetCredential(ctx, missing); return err }},
		{"GetCredentialByLookupKey", func() error {
			_, err := s.GetCredentialByLookupKey(ctx, store.KindPasskey, "nope")
			return err
		}},
		{"GetCredentialByLookupKey empty", func() error {
			_, err := s.GetCredentialByLookupKey(ctx, store.KindPasskey, "")
			return err
		}},
		{"UpdateCredential", func() error {
			_, err := s.UpdateCredential(ctx, missing, func(*store.Credential) error { return never() })
			return err
		}},
		{"GetOperation", func() error { _, err := s.GetOperation(ctx, missing); return err }},
		{"GetOperationByIdempotencyKey", func() error { _, err := s.GetOperationByIdempotencyKey(ctx, "nope"); return err }},
		{"GetOperationByIdempotencyKey empty", func() error { _, err := s.GetOperationByIdempotencyKey(ctx, ""); return err }},
		{"UpdateOperation", func() error {
			_, err := s.UpdateOperation(ctx, missing, func(*store.Operation) error { return never() })
			return err
		}},
		{"UpdateSigningKey", func() error {
			_, err := s.UpdateSigningKey(ctx, missing, func(*store.SigningKey) error { return never() })
			return err
		}},
		{"GetCeremony", func() error { _, err := s.GetCeremony(ctx, missing); return err }},
		{"GetCeremonyByLookupKey", func() error { _, err := s.GetCeremonyByLookupKey(ctx, "enrollment", "nope"); return err }},
		{"GetCeremonyByLookupKey empty", func() error { _, err := s.GetCeremonyByLookupKey(ctx, "enrollment", ""); return err }},
		{"UpdateCeremony", func() error {
			_, err := s.UpdateCeremony(ctx, missing, func(*store.Ceremony) error { return never() })
			return err
		}},
		{"ConsumeCeremony", func() error { _, err := s.ConsumeCeremony(ctx, missing, base); return err }},
		{"UpdateOutbox", func() error {
			_, err := s.UpdateOutbox(ctx, missing, func(*store.OutboxEvent) error { return never() })
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, tt.call(), store.ErrNotFound)
			if called {
				t.Fatal("updater closure ran for a missing record")
			}
		})
	}
}

func testContext(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.GetUser(ctx, "x")
	wantErr(t, "GetUser with a canceled context", err, context.Canceled)
	noErr(t, "Ping", s.Ping(ctxT(t)))
}
