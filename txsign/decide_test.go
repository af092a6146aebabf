package txsign_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

// decideCase is one attempt on a fresh operation of a fresh user with one ACTIVE device key: prepare
// brings the operation (and service) into the state under test and returns the credential that tries.
type decideCase struct {
	name     string
	attested []string // Config.AttestedDeviceKeyTypes
	in       func(uid string) txsign.NewOperation
	prepare  func(t *testing.T, e decideEnv) store.Credential
}

type decideEnv struct {
	svc  *txsign.Service
	st   store.Store
	clk  *clock
	op   store.Operation
	cred store.Credential
}

func (c decideCase) run(t *testing.T) (e decideEnv, called bool, err error) {
	t.Helper()
	e = decideEnv{clk: newClock(), st: sqltest.OpenSQLite(t)}
	e.svc = configuredService(t, e.clk, e.st, txsign.Config{AttestedDeviceKeyTypes: c.attested})
	u := newUser(t, e.clk, e.st)
	e.cred, _ = deviceKey(t, e.st, u.ID)
	in := payment(u.ID)
	if c.in != nil {
		in = c.in(u.ID)
	}
	if e.op, _, err = e.svc.Create(context.Background(), "bank", in); err != nil {
		t.Fatal(err)
	}
	cred := e.cred
	if c.prepare != nil {
		cred = c.prepare(t, e)
	}
	_, err = e.svc.Decide(context.Background(), txsign.Attempt{OperationID: e.op.ID, CredentialID: cred.ID, Decision: txsign.Approve,
		Actor: "device", Verify: func(op store.Operation, c store.Credential) (txsign.Evidence, error) {
			called = true
			return verified("hwk")(op, c)
		}})
	return e, called, err
}

func withStatus(s store.Status) func(t *testing.T, e decideEnv) store.Credential {
	return func(t *testing.T, e decideEnv) store.Credential {
		c, err := e.st.UpdateCredentialFrom(context.Background(), e.cred, func(c *store.Credential) error {
			c.Status = s
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// attestedKey gives the credential an Android key attestation's assurance.
func attestedKey(t *testing.T, e decideEnv) store.Credential {
	data, _ := json.Marshal(devicekey.CredentialData{Assurance: attest.Assurance{Format: attest.FormatAndroidKey,
		HardwareLevel: "strongbox", UserVerification: attest.UVBiometric}})
	c, err := e.st.UpdateCredentialFrom(context.Background(), e.cred, func(c *store.Credential) error {
		c.Data = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func login(uid string) txsign.NewOperation {
	return txsign.NewOperation{UserID: uid, Type: "login", ExpiresIn: time.Minute}
}

func onlyFactors(f ...string) func(uid string) txsign.NewOperation {
	return func(uid string) txsign.NewOperation {
		in := payment(uid)
		in.Factors = f
		return in
	}
}

// claimedBy has the operation claimed by the credential's sibling (another device of the same user),
// or by the credential itself.
func claimedBy(sibling bool) func(t *testing.T, e decideEnv) store.Credential {
	return func(t *testing.T, e decideEnv) store.Credential {
		claimer := e.cred
		if sibling {
			claimer, _ = deviceKey(t, e.st, e.cred.UserID)
		}
		if _, err := e.svc.Claim(context.Background(), e.op.ID, claimer); err != nil {
			t.Fatal(err)
		}
		return e.cred
	}
}

// TestDecideRefusesBeforeVerifying: an operation that is no longer PENDING, a credential that is not
// ACTIVE, a factor the bank did not allow for the operation, a device key without the attestation the
// bank requires for the operation type, and an operation another device claimed are refused before the
// factor is checked, with the answer each deserves, audited as unverified with the exact reason, and
// count nothing against the operation or the credential (issue 13 item 2).
func TestDecideRefusesBeforeVerifying(t *testing.T) {
	ended := func(f func(t *testing.T, e decideEnv)) func(t *testing.T, e decideEnv) store.Credential {
		return func(t *testing.T, e decideEnv) store.Credential { f(t, e); return e.cred }
	}
	for _, tc := range []struct {
		decideCase
		kind   error
		reason string
	}{
		{decideCase{name: "approved", prepare: ended(func(t *testing.T, e decideEnv) { decide(t, e.svc, e.op, e.cred, txsign.Approve) })},
			fault.ErrConflict, "operation is APPROVED"},
		{decideCase{name: "rejected", prepare: ended(func(t *testing.T, e decideEnv) { decide(t, e.svc, e.op, e.cred, txsign.Reject) })},
			fault.ErrConflict, "operation is REJECTED"},
		{decideCase{name: "canceled", prepare: ended(func(_ *testing.T, e decideEnv) { _, _ = e.svc.Cancel(context.Background(), "bank", e.op.ID) })},
			fault.ErrConflict, "operation is CANCELED"},
		{decideCase{name: "expired", prepare: ended(func(_ *testing.T, e decideEnv) { e.clk.advance(time.Minute) })},
			fault.ErrGone, "operation is EXPIRED"},
		{decideCase{name: "credential blocked", prepare: withStatus(store.StatusBlocked)},
			txsign.ErrPossessionNotProven, "credential is BLOCKED"},
		{decideCase{name: "credential removed", prepare: withStatus(store.StatusRemoved)},
			txsign.ErrPossessionNotProven, "credential is REMOVED"},
		{decideCase{name: "factor not allowed", in: onlyFactors("passkey", "powerauth")},
			fault.ErrForbidden, "factor device_key not allowed for this operation"},
		{decideCase{name: "type needs an attested key", attested: []string{"transfer", "payment"}},
			fault.ErrForbidden, "device key without attestation, required for operation type payment"},
		{decideCase{name: "every type needs an attested key", attested: []string{"*"}, in: login},
			fault.ErrForbidden, "device key without attestation, required for operation type login"},
		{decideCase{name: "claimed by another device", prepare: claimedBy(true)},
			txsign.ErrClaimedByOther, "operation claimed by another credential"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, called, err := tc.run(t)
			if !errors.Is(err, tc.kind) || called {
				t.Fatalf("Decide = %v (factor checked: %v), want %v before the factor is checked", err, called, tc.kind)
			}
			if tc.kind == txsign.ErrPossessionNotProven && !errors.Is(err, fault.ErrUnauthenticated) {
				t.Fatalf("Decide = %v, want the uniform 401", err)
			}
			ev := lastAudit(t, e.st, e.op.ID)
			if ev.Type != "operation.approve" || ev.Outcome != audit.Unverified || ev.Reason != tc.reason || ev.CredentialID != e.cred.ID {
				t.Fatalf("audited %s %s %q (credential %s), want operation.approve unverified %q", ev.Type, ev.Outcome, ev.Reason, ev.CredentialID, tc.reason)
			}
			op, _ := e.st.GetOperation(context.Background(), e.op.ID)
			c, _ := e.st.GetCredential(context.Background(), e.cred.ID)
			if op.FailedAttempts != 0 || c.FailedAttempts != 0 {
				t.Fatalf("a refusal counted: operation %d, credential %d failed attempts", op.FailedAttempts, c.FailedAttempts)
			}
		})
	}
}

// TestDecideAllowsWhatTheRulesAllow: the same rules let through what they must not stop: a factor the
// operation lists, an attested key where attestation is required, an unattested key for a type that does
// not require it, and the device that claimed the operation.
func TestDecideAllowsWhatTheRulesAllow(t *testing.T) {
	for _, tc := range []decideCase{
		{name: "factor listed", in: onlyFactors("passkey", "device_key")},
		{name: "attested key where required", attested: []string{"payment"}, prepare: attestedKey},
		{name: "attested key where every type requires it", attested: []string{"*"}, prepare: attestedKey},
		{name: "unattested key, another type requires attestation", attested: []string{"transfer", "payment"}, in: login},
		{name: "claimed by this device", prepare: claimedBy(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, called, err := tc.run(t)
			op, _ := e.st.GetOperation(context.Background(), e.op.ID)
			if err != nil || !called || op.Status != store.OpApproved {
				t.Fatalf("Decide = %v (factor checked: %v), operation %s; want APPROVED", err, called, op.Status)
			}
		})
	}
}

// TestDecideLosesTheRace: when the operation is cancelled or expires while the factor is being checked,
// the approval's compare-and-swap loses: the answer is the operation's state (409, 410), audited as a
// failure of the attempt, and no token is stored or counted against the user.
func TestDecideLosesTheRace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		during func(e decideEnv)
		kind   error
		reason string
		status store.OperationStatus
	}{
		{"cancelled", func(e decideEnv) { _, _ = e.svc.Cancel(context.Background(), "bank", e.op.ID) },
			fault.ErrConflict, "lost the race: conflict: the operation is CANCELED", store.OpCanceled},
		{"expired", func(e decideEnv) { e.clk.advance(time.Minute) },
			fault.ErrGone, "lost the race: gone: the operation expired", store.OpPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := decideEnv{clk: newClock(), st: sqltest.OpenSQLite(t)}
			e.svc = configuredService(t, e.clk, e.st, txsign.Config{})
			u := newUser(t, e.clk, e.st)
			e.cred, _ = deviceKey(t, e.st, u.ID)
			e.op, _, _ = e.svc.Create(context.Background(), "bank", payment(u.ID))
			_, err := e.svc.Decide(context.Background(), txsign.Attempt{OperationID: e.op.ID, CredentialID: e.cred.ID, Decision: txsign.Approve,
				Actor: "device", Verify: func(op store.Operation, c store.Credential) (txsign.Evidence, error) {
					tc.during(e)
					return verified("hwk")(op, c)
				}})
			if !errors.Is(err, tc.kind) {
				t.Fatalf("Decide = %v, want %v", err, tc.kind)
			}
			ev := lastAudit(t, e.st, e.op.ID)
			if ev.Type != "operation.approve" || ev.Outcome != audit.Failure || ev.Reason != tc.reason {
				t.Fatalf("audited %s %s %q, want operation.approve failure %q", ev.Type, ev.Outcome, ev.Reason, tc.reason)
			}
			op, _ := e.st.GetOperation(context.Background(), e.op.ID)
			c, _ := e.st.GetCredential(context.Background(), e.cred.ID)
			if op.Status != tc.status || op.Token != "" || op.ApprovedAt != nil || op.FailedAttempts != 0 || c.FailedAttempts != 0 {
				t.Fatalf("after the lost race: %s, token %q, approved at %v, %d/%d failures; want %s, untouched",
					op.Status, op.Token, op.ApprovedAt, op.FailedAttempts, c.FailedAttempts, tc.status)
			}
		})
	}
}

// TestOperationFailsAtTheAttemptLimit (PSD2 RTS Art. 4(3)(a): at most five failed authentication attempts):
// the fifth failed factor check, not the fourth, makes the operation FAILED, which observers hear once; the
// credential is blocked at its own limit; a later attempt answers the operation's state and counts nothing.
func TestOperationFailsAtTheAttemptLimit(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc := configuredService(t, clk, st, txsign.Config{})
	heard := &recorder{}
	svc.Observe(heard)
	u := newUser(t, clk, st)
	cred, _ := deviceKey(t, st, u.ID)
	ctx := context.Background()
	op, _, err := svc.Create(ctx, "bank", payment(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	wrong := func() error {
		_, err := svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve, Actor: "device",
			Verify: func(store.Operation, store.Credential) (txsign.Evidence, error) {
				return txsign.Evidence{}, errors.New("passcode does not match")
			}})
		return err
	}
	for i := 1; i <= 5; i++ {
		if err := wrong(); !errors.Is(err, fault.ErrUnauthenticated) {
			t.Fatalf("failure %d: %v, want 401", i, err)
		}
		want := store.OpPending
		if i == 5 {
			want = store.OpFailed
		}
		if got, _ := st.GetOperation(ctx, op.ID); got.Status != want || got.FailedAttempts != i {
			t.Fatalf("after %d failures: %s with %d counted, want %s", i, got.Status, got.FailedAttempts, want)
		}
	}
	if c, _ := st.GetCredential(ctx, cred.ID); c.Status != store.StatusBlocked || c.FailedAttempts != 5 {
		t.Fatalf("credential %s with %d failures, want BLOCKED at 5", c.Status, c.FailedAttempts)
	}
	heard.mu.Lock()
	if want := []store.OperationStatus{store.OpPending, store.OpFailed}; !slices.Equal(heard.got, want) {
		t.Fatalf("observers heard %v, want %v", heard.got, want)
	}
	heard.mu.Unlock()

	if err := wrong(); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("an attempt on the FAILED operation: %v, want 409", err)
	}
	if ev := lastAudit(t, st, op.ID); ev.Outcome != audit.Unverified || ev.Reason != "operation is FAILED" {
		t.Fatalf("audited %s %q, want unverified \"operation is FAILED\"", ev.Outcome, ev.Reason)
	}
	if got, _ := st.GetOperation(ctx, op.ID); got.FailedAttempts != 5 {
		t.Fatalf("the attempt on the FAILED operation counted: %d", got.FailedAttempts)
	}
}

// failingCredentialUpdates lets everything through but credential updates, as a database that went away
// between the operation's count and the credential's would.
type failingCredentialUpdates struct {
	store.Store
}

func (f *failingCredentialUpdates) UpdateCredentialFrom(context.Context, store.Credential, func(*store.Credential) error) (store.Credential, error) {
	return store.Credential{}, fmt.Errorf("update: %w", store.ErrUnavailable)
}

// TestUncountedCredentialFailureIsNotAPlain401: a failure that cannot be counted on the credential (the limit
// that blocks a stolen device depends on it) is answered as the outage it is (503), not as an ordinary 401
// the client would simply retry; the operation's count stands.
func TestUncountedCredentialFailureIsNotAPlain401(t *testing.T) {
	clk := newClock()
	st := &failingCredentialUpdates{Store: sqltest.OpenSQLite(t)}
	svc := configuredService(t, clk, st, txsign.Config{})
	u := newUser(t, clk, st)
	cred, _ := deviceKey(t, st, u.ID)
	ctx := context.Background()
	op, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	_, err := svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve, Actor: "device",
		Verify: func(store.Operation, store.Credential) (txsign.Evidence, error) {
			return txsign.Evidence{}, errors.New("passcode does not match")
		}})
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("Decide = %v, want the store's unavailability, not a plain 401", err)
	}
	if got, _ := st.GetOperation(ctx, op.ID); got.FailedAttempts != 1 {
		t.Fatalf("operation counted %d failures, want 1", got.FailedAttempts)
	}
}
