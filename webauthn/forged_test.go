package webauthn_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webauthn"
)

// corruptSignature flips one bit of an assertion's signature.
func corruptSignature(t testing.TB, assertion []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(assertion, &m); err != nil {
		t.Fatal(err)
	}
	resp := m["response"].(map[string]any)
	sig, err := base64.RawURLEncoding.DecodeString(resp["signature"].(string))
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	resp["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	out, _ := json.Marshal(m)
	return out
}

// TestForgedFinishesCountNothing (issue 13 item 2): the approval begin call is
// public and names the user's passkeys, so anyone who knows an operation id can
// send finishes. Twenty forged ones (a corrupted signature, another key
// claiming the victim's credential id, another user's valid passkey, an
// unknown credential, an assertion of an earlier ceremony) must neither fail
// the operation, nor block the passkey, nor spend passcode tries: each is
// audited as unverified, and the user still approves afterwards.
func TestForgedFinishesCountNothing(t *testing.T) {
	e := newEnv(t, nil) // defaults: passkey blocked at 5 failures, passcode locked at 3
	u, d := e.enrolled("cust-victim")
	_, mallory := e.enrolled("cust-mallory")
	op := e.payment(u.ID, "4999.00")
	captured := e.prepare(op, d, txsign.Approve, testPasscode).in.Credential // a ceremony never finished

	forgeries := []struct {
		name   string
		forge  func(t *testing.T, begin webauthn.AssertionOptions) []byte
		reason string // a fragment of the audited reason
	}{
		{"corrupted signature", func(t *testing.T, b webauthn.AssertionOptions) []byte {
			return corruptSignature(t, d.assert(t, b.PublicKey))
		}, "possession not proven: assertion"},
		{"another key claiming the victim's credential id", func(t *testing.T, b webauthn.AssertionOptions) []byte {
			impostor := newDevice(virtualwebauthn.AuthenticatorOptions{UserHandle: u.WebAuthnID})
			impostor.cred.ID = d.cred.ID
			impostor.auth.AddCredential(impostor.cred)
			return impostor.assert(t, b.PublicKey)
		}, "possession not proven: assertion"},
		{"another user's valid passkey", func(t *testing.T, b webauthn.AssertionOptions) []byte {
			return mallory.assert(t, b.PublicKey)
		}, "credential belongs to another user"},
		{"unknown credential", func(t *testing.T, b webauthn.AssertionOptions) []byte {
			return newDevice(virtualwebauthn.AuthenticatorOptions{UserHandle: u.WebAuthnID}).assert(t, b.PublicKey)
		}, "unknown passkey"},
		{"assertion of an earlier ceremony", func(t *testing.T, b webauthn.AssertionOptions) []byte {
			return captured
		}, "possession not proven: assertion: Error validating challenge"},
	}
	for i := range 20 {
		f := forgeries[i%len(forgeries)]
		b, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
		if err != nil {
			t.Fatalf("%s: begin: %v", f.name, err)
		}
		in := webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: f.forge(t, b),
			Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, "135790")} // a guess
		_, err = e.svc.FinishApproval(e.ctx, op.ID, in)
		wantErr(t, err, fault.ErrUnauthenticated)
		evs := e.audits(store.AuditFilter{OperationID: op.ID})
		last := evs[len(evs)-1]
		if last.Outcome != "unverified" || !strings.Contains(last.Reason, f.reason) {
			t.Fatalf("%s: audited %s %q, want unverified %q", f.name, last.Outcome, last.Reason, f.reason)
		}
	}
	got, cred, user := e.op(op.ID), e.passkey(u.ID), e.user(u.ID)
	switch {
	case got.Status != store.OpPending || got.FailedAttempts != 0:
		t.Fatalf("operation %s with %d failed attempts after forgeries, want PENDING with 0", got.Status, got.FailedAttempts)
	case cred.Status != store.StatusActive || cred.FailedAttempts != 0:
		t.Fatalf("passkey %s %s with %d failures after forgeries, want ACTIVE with 0", cred.Status, cred.BlockReason, cred.FailedAttempts)
	case user.PasscodeFailed != 0 || user.PasscodeLocked:
		t.Fatalf("passcode failed %d locked %v after forgeries", user.PasscodeFailed, user.PasscodeLocked)
	}
	unverified := 0
	for _, ev := range e.audits(store.AuditFilter{OperationID: op.ID}) {
		if ev.Type == "operation.approve" && ev.Outcome == "unverified" {
			unverified++
		}
	}
	if unverified != 20 {
		t.Fatalf("%d unverified attempts audited, want 20", unverified)
	}

	t.Run("a wrong passcode behind a valid assertion still counts", func(t *testing.T) {
		op := e.payment(u.ID, "1.00")
		_, err := e.approve(op, d, "135790")
		wantErr(t, err, fault.ErrUnauthenticated)
		evs := e.audits(store.AuditFilter{OperationID: op.ID})
		last := evs[len(evs)-1]
		if last.Outcome != "failure" || !strings.Contains(last.Reason, "passcode does not match") {
			t.Fatalf("audited %s %q", last.Outcome, last.Reason)
		}
		if got, cred, user := e.op(op.ID), e.passkey(u.ID), e.user(u.ID); got.FailedAttempts != 1 || cred.FailedAttempts != 1 || user.PasscodeFailed != 1 {
			t.Fatalf("operation %d, passkey %d, passcode %d failures, want 1 each", got.FailedAttempts, cred.FailedAttempts, user.PasscodeFailed)
		}
	})
	t.Run("the genuine user still approves", func(t *testing.T) {
		res, err := e.approve(op, d, testPasscode)
		if err != nil || res.Operation.Status != store.OpApproved || res.Token == "" {
			t.Fatalf("approve after forgeries: %v %+v", err, res.Operation)
		}
	})
}

// TestAssertionOfAnEarlierCeremonyIsRefused (issue 13 item 7): with an
// authenticator whose signature counter stays 0 (most synced passkeys), an
// assertion captured in one ceremony (here one that failed on a wrong
// passcode, so its assertion is also in the audit evidence) must not approve
// in a later ceremony of the same operation, even with the right passcode
// encrypted for that ceremony. Likewise for rejections.
func TestAssertionOfAnEarlierCeremonyIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-synced-replay")
	op := e.payment(u.ID, "320.00")

	first, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
	if err != nil {
		t.Fatal(err)
	}
	captured := d.assertWith(t, first.PublicKey, 0)
	_, err = e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: first.CeremonyID, Credential: captured,
		Passcode: seal(t, first.HPKE, webauthn.FieldPasscode, "135790")})
	wantErr(t, err, fault.ErrUnauthenticated)
	if got := e.op(op.ID); got.FailedAttempts != 1 {
		t.Fatalf("the wrong passcode was not counted: %d", got.FailedAttempts)
	}

	second, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
	if err != nil {
		t.Fatal(err)
	}
	replay := webauthn.ApprovalResult{CeremonyID: second.CeremonyID, Credential: captured,
		Passcode: seal(t, second.HPKE, webauthn.FieldPasscode, testPasscode)} // the attacker even knows the passcode
	_, err = e.svc.FinishApproval(e.ctx, op.ID, replay)
	wantErr(t, err, fault.ErrUnauthenticated)
	evs := e.audits(store.AuditFilter{OperationID: op.ID})
	if last := evs[len(evs)-1]; last.Outcome != "unverified" || !strings.Contains(last.Reason, "Error validating challenge") {
		t.Fatalf("replay audited %s %q, want unverified challenge mismatch", last.Outcome, last.Reason)
	}
	if got := e.op(op.ID); got.Status != store.OpPending || got.FailedAttempts != 1 {
		t.Fatalf("operation %s with %d failures after the replay, want PENDING with 1", got.Status, got.FailedAttempts)
	}
	t.Run("the ceremony is single use", func(t *testing.T) {
		_, err := e.svc.FinishApproval(e.ctx, op.ID, replay)
		wantErr(t, err, fault.ErrUnauthenticated)
		evs := e.audits(store.AuditFilter{OperationID: op.ID})
		if last := evs[len(evs)-1]; last.Outcome != "unverified" || !strings.Contains(last.Reason, "used") && !strings.Contains(last.Reason, "replayed") {
			t.Fatalf("second finish audited %s %q", last.Outcome, last.Reason)
		}
	})
	t.Run("a rejection assertion of an earlier ceremony", func(t *testing.T) {
		r1, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Reject)
		if err != nil {
			t.Fatal(err)
		}
		rejection := d.assertWith(t, r1.PublicKey, 0)
		r2, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Reject)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: r2.CeremonyID, Credential: rejection})
		wantErr(t, err, fault.ErrUnauthenticated)
		evs := e.audits(store.AuditFilter{OperationID: op.ID})
		if last := evs[len(evs)-1]; last.Type != "operation.reject" || last.Outcome != "unverified" ||
			!strings.Contains(last.Reason, "Error validating challenge") {
			t.Fatalf("rejection replay audited %s %s %q", last.Type, last.Outcome, last.Reason)
		}
		if got := e.op(op.ID); got.Status != store.OpPending {
			t.Fatalf("operation %s", got.Status)
		}
	})
	t.Run("a fresh assertion approves", func(t *testing.T) {
		third, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: third.CeremonyID,
			Credential: d.assertWith(t, third.PublicKey, 0), Passcode: seal(t, third.HPKE, webauthn.FieldPasscode, testPasscode)})
		if err != nil || res.Operation.Status != store.OpApproved {
			t.Fatalf("fresh assertion: %v", err)
		}
	})
}
