package txsign_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

// createProblems creates in and returns the field problems it was refused with (nil: created).
func createProblems(t *testing.T, svc *txsign.Service, in txsign.NewOperation) []fault.FieldProblem {
	t.Helper()
	_, _, err := svc.Create(context.Background(), "bank", in)
	if err == nil {
		return nil
	}
	var ie *fault.InvalidError
	if !errors.As(err, &ie) || fault.Classify(err).Kind != fault.ErrInvalid {
		t.Fatalf("Create refused with %v, want a field problem (400)", err)
	}
	return ie.Problems
}

// TestCreateCallbackURL: the bank's callback is reached over TLS; plain http only on the loopback
// interface (a developer's machine), never with credentials in the URL, and never a URL without a host.
func TestCreateCallbackURL(t *testing.T) {
	svc, _, uid := newService(t, newClock())
	refused := []fault.FieldProblem{{Field: "callback_url", Reason: "must be an https URL (http only for localhost)"}}
	for _, tc := range []struct {
		url  string
		want []fault.FieldProblem
	}{
		{"https://bank.example/signet/callback", nil},
		{"https://bank.example:8443/cb?x=1", nil},
		{"http://localhost:8080/cb", nil},
		{"http://127.0.0.1/cb", nil},
		{"http://[::1]:9000/cb", nil},

		{"http://bank.example/cb", refused},
		{"http://localhost.bank.example/cb", refused},
		{"http://127.0.0.2/cb", refused},
		{"ftp://bank.example/cb", refused},
		{"bank.example/cb", refused},
		{"https:///cb", refused},
		{"https://user:secret@bank.example/cb", refused},
		{"https://user@bank.example/cb", refused},
		{"https://bank.example/%zz", refused},
	} {
		in := payment(uid)
		in.CallbackURL = tc.url
		if got := createProblems(t, svc, in); !slices.Equal(got, tc.want) {
			t.Errorf("callback %q: problems %v, want %v", tc.url, got, tc.want)
		}
	}
}

// TestCreateLocale: the customer's language is a BCP 47 tag of at most 35 characters (RFC 5646 §4.4.1's
// minimum buffer), stored in canonical form; anything else is refused and nothing is stored.
func TestCreateLocale(t *testing.T) {
	svc, _, uid := newService(t, newClock())
	refused := []fault.FieldProblem{{Field: "locale", Reason: "must be a BCP 47 language tag such as de or cs-CZ"}}
	for _, tc := range []struct {
		in, stored string
		want       []fault.FieldProblem
	}{
		{"de", "de", nil},
		{"de-at", "de-AT", nil},
		{"CS-cz", "cs-CZ", nil},
		{"zh-hant-tw", "zh-Hant-TW", nil},
		{"de_AT", "de-AT", nil}, // golang.org/x/text/language reads '_' as '-'
		{"en-x-aaaaaaaa-bbbbbbbb-cccccccc-ddd", "en-x-aaaaaaaa-bbbbbbbb-cccccccc-ddd", nil}, // 35 characters

		{"en-x-aaaaaaaa-bbbbbbbb-cccccccc-dddd", "", refused}, // 36 characters, well-formed
		{"not a tag", "", refused},
		{"x", "", refused},
	} {
		in := payment(uid)
		in.Locale = tc.in
		op, _, err := svc.Create(context.Background(), "bank", in)
		if tc.want == nil {
			if err != nil || txsign.Locale(op) != tc.stored {
				t.Errorf("locale %q: stored %q, %v; want %q", tc.in, txsign.Locale(op), err, tc.stored)
			}
			continue
		}
		if got := createProblems(t, svc, in); !slices.Equal(got, tc.want) {
			t.Errorf("locale %q: problems %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestCreateExpiryLimits: an operation lives 30 s to 1 h, 5 min unless the bank says otherwise; its expiry
// is whole seconds (the dynamic-linking digest carries Unix seconds).
func TestCreateExpiryLimits(t *testing.T) {
	clk := newClock()
	svc, _, uid := newService(t, clk)
	refused := []fault.FieldProblem{{Field: "expires_in", Reason: "must be between 30 and 3600 seconds"}}
	for _, tc := range []struct {
		in, lives time.Duration
		want      []fault.FieldProblem
	}{
		{0, 5 * time.Minute, nil},
		{30 * time.Second, 30 * time.Second, nil},
		{time.Hour, time.Hour, nil},
		{90*time.Second + 600*time.Millisecond, 90 * time.Second, nil},

		{29 * time.Second, 0, refused},
		{time.Hour + time.Second, 0, refused},
		{-time.Minute, 0, refused},
	} {
		in := payment(uid)
		in.ExpiresIn = tc.in
		if tc.want != nil {
			if got := createProblems(t, svc, in); !slices.Equal(got, tc.want) {
				t.Errorf("expires_in %s: problems %v, want %v", tc.in, got, tc.want)
			}
			continue
		}
		op, _, err := svc.Create(context.Background(), "bank", in)
		if err != nil || !op.ExpiresAt.Equal(clk.now().Add(tc.lives)) {
			t.Errorf("expires_in %s: expires at %s, %v; want now + %s", tc.in, op.ExpiresAt, err, tc.lives)
		}
	}
}

// lateLookup answers "not found" to the next idempotency-key lookups it is told to, as a store read just
// before a concurrent request with the same key committed its operation.
type lateLookup struct {
	store.Store
	misses atomic.Int32
}

func (l *lateLookup) GetOperationByIdempotencyKey(ctx context.Context, key string) (store.Operation, error) {
	if l.misses.Add(-1) >= 0 {
		return store.Operation{}, store.ErrNotFound
	}
	return l.Store.GetOperationByIdempotencyKey(ctx, key)
}

// TestIdempotentCreateLosingTheInsert: a request whose key was free when it looked but taken when it inserted
// (a concurrent request with the same key committed in between) answers the operation that won, not created,
// when it is the same request, and 409 when it is a different one; either way one operation and one
// creation event exist.
func TestIdempotentCreateLosingTheInsert(t *testing.T) {
	clk := newClock()
	st := &lateLookup{Store: sqltest.OpenSQLite(t)}
	svc := configuredService(t, clk, st, txsign.Config{})
	u := newUser(t, clk, st)
	ctx := context.Background()
	in := payment(u.ID)
	in.IdempotencyKey = "order-7"
	first, created, err := svc.Create(ctx, "bank", in)
	if err != nil || !created {
		t.Fatalf("first Create = %v, %v", created, err)
	}

	st.misses.Store(1)
	again, created, err := svc.Create(ctx, "bank", in)
	if err != nil || created || again.ID != first.ID || again.Status != store.OpPending {
		t.Fatalf("the same request losing the insert = %s (created %v), %v; want the first operation %s", again.ID, created, err, first.ID)
	}
	st.misses.Store(1)
	other := in
	other.Amount = "99.00"
	if op, created, err := svc.Create(ctx, "bank", other); !errors.Is(err, fault.ErrConflict) || created || op.ID != "" {
		t.Fatalf("a different request losing the insert = %s (created %v), %v; want 409", op.ID, created, err)
	}

	ops, _ := st.ListOperations(ctx, store.OperationFilter{UserID: u.ID})
	evs, _, _ := st.ListAudit(ctx, store.AuditFilter{UserID: u.ID, Limit: 100})
	if len(ops) != 1 || len(evs) != 1 || evs[0].Type != "operation.create" || evs[0].OperationID != first.ID {
		t.Fatalf("%d operations and audit %+v, want the first operation and its creation event", len(ops), evs)
	}
}

// TestCreateUserAndIdempotencyKey: the user is required and must be a well-formed id (one problem each, never
// both); the Idempotency-Key is at most 255 characters.
func TestCreateUserAndIdempotencyKey(t *testing.T) {
	svc, _, uid := newService(t, newClock())
	for _, tc := range []struct {
		name, user, key string
		want            []fault.FieldProblem
	}{
		{"no user", "", "", []fault.FieldProblem{{Field: "user_id", Reason: "is required"}}},
		{"malformed user", "user 42", "", []fault.FieldProblem{{Field: "user_id", Reason: "is not a valid identifier"}}},
		{"key of 255", uid, strings.Repeat("k", 255), nil},
		{"key of 256", uid, strings.Repeat("k", 256), []fault.FieldProblem{{Field: "Idempotency-Key", Reason: "must be at most 255 characters"}}},
	} {
		in := payment(tc.user)
		in.IdempotencyKey = tc.key
		if got := createProblems(t, svc, in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: problems %v, want %v", tc.name, got, tc.want)
		}
	}
}
