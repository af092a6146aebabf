package webauthn_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/uuid"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/mds"
	"github.com/signet-sca/signet/mds/mdstest"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/verify"
	"github.com/signet-sca/signet/webauthn"
)

// The authenticator models of the passkey-only tests: one FIDO certified with a biometric user
// verification (allowed), one the metadata lists but does not certify.
const (
	allowedAAGUID     = "01020304-0506-0708-0102-030405060708"
	uncertifiedAAGUID = "0a0b0c0d-0506-0708-0102-030405060708"
)

// allowlist is the FIDO MDS3 BLOB of entries, signed by a test CA and loaded as the service loads it.
func allowlist(t *testing.T, entries ...map[string]any) *mds.Allowlist {
	t.Helper()
	ca := mdstest.New(t)
	root, err := mds.RootFromPEM(ca.RootPEM())
	if err != nil {
		t.Fatal(err)
	}
	a, err := mds.Load(ca.Blob(t, time.Now().AddDate(0, 1, 0).Format(time.DateOnly), entries...), root, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// policyAllowlist allows allowedAAGUID (fingerprint: amr "fpt") and lists uncertifiedAAGUID as not certified.
func policyAllowlist(t *testing.T) *mds.Allowlist {
	return allowlist(t,
		mdstest.Entry(allowedAAGUID, "Phone platform authenticator", []string{"FIDO_CERTIFIED_L1"}, "fingerprint_internal"),
		mdstest.Entry(uncertifiedAAGUID, "Uncertified key", []string{"NOT_FIDO_CERTIFIED"}, "passcode_internal"))
}

// newPolicyEnv is newEnv whose service lets a passkey of an allowed model approve a "login" alone.
func newPolicyEnv(t *testing.T) *env {
	allow := policyAllowlist(t)
	return newEnv(t, func(c *webauthn.Config) {
		c.PasskeyOnlyTypes = []string{"login"}
		c.Authenticators = allow
	})
}

// modelDevice is a software authenticator reporting aaguid as its model.
func modelDevice(aaguid string) *device {
	d := newDevice(virtualwebauthn.AuthenticatorOptions{})
	id := uuid.MustParse(aaguid)
	copy(d.auth.Aaguid[:], id[:])
	return d
}

// enrolledModel is enrolled with a passkey of the model aaguid.
func (e *env) enrolledModel(ext, aaguid string) (store.User, *device) {
	e.t.Helper()
	u := e.createUser(ext)
	d := modelDevice(aaguid)
	if _, err := e.enroll(e.session(u.ID), d, testPasscode); err != nil {
		e.t.Fatal(err)
	}
	return u, d
}

// login is an operation of type "login" (no payee, no amount).
func (e *env) login(userID string) store.Operation {
	e.t.Helper()
	op, _, err := e.ops.Create(e.ctx, "bank", txsign.NewOperation{UserID: userID, Type: "login", Text: "Sign in to internet banking"})
	if err != nil {
		e.t.Fatal(err)
	}
	return op
}

// begin is BeginApproval that must succeed.
func (e *env) begin(op store.Operation, d txsign.Decision) webauthn.AssertionOptions {
	e.t.Helper()
	b, err := e.svc.BeginApproval(e.ctx, op.ID, d)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// lastAudit is the last audit event of operation id.
func (e *env) lastAudit(opID string) store.AuditEvent {
	e.t.Helper()
	evs := e.audits(store.AuditFilter{OperationID: opID})
	if len(evs) == 0 {
		e.t.Fatalf("no audit event for operation %s", opID)
	}
	return evs[len(evs)-1]
}

// evidenceExtra is the "extra" member of an audit event's evidence (txsign.Evidence.Extra).
func evidenceExtra(t *testing.T, ev store.AuditEvent) map[string]any {
	t.Helper()
	var e struct {
		Extra map[string]any `json:"extra"`
	}
	if err := json.Unmarshal(ev.Evidence, &e); err != nil {
		t.Fatalf("evidence %s: %v", ev.Evidence, err)
	}
	return e.Extra
}

// allowed is the ids (base64url) of an assertion request's allowCredentials, in order.
func allowed(b webauthn.AssertionOptions) []string {
	var ids []string
	for _, c := range b.PublicKey.Response.AllowedCredentials {
		ids = append(ids, base64.RawURLEncoding.EncodeToString(c.CredentialID))
	}
	return ids
}

func credID(d *device) string { return base64.RawURLEncoding.EncodeToString(d.cred.ID) }

// wantPasscodeOffer checks that b is an ordinary approval offer: the passcode is needed, every passkey
// listed in want is asked for, and user verification is the service's ("preferred" by default).
func wantPasscodeOffer(t *testing.T, b webauthn.AssertionOptions, want ...string) {
	t.Helper()
	if b.PasscodeOptional || b.PublicKey.Response.UserVerification != protocol.VerificationPreferred ||
		strings.Join(allowed(b), " ") != strings.Join(want, " ") {
		t.Fatalf("begin: passcode optional %v, userVerification %q, allowCredentials %v; want false, preferred, %v",
			b.PasscodeOptional, b.PublicKey.Response.UserVerification, allowed(b), want)
	}
}

// wantPasscodeRequired checks that finishing without a passcode was refused as a request missing its
// passcode (400), before anything was checked: no audit event, nothing counted, the operation PENDING.
func wantPasscodeRequired(t *testing.T, e *env, op store.Operation, err error, failedBefore int) {
	t.Helper()
	var inv *fault.InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Field != "passcode" || inv.Problems[0].Reason != "is required" {
		t.Fatalf("finish without a passcode: %v, want passcode is required", err)
	}
	if got := e.op(op.ID); got.Status != store.OpPending || got.FailedAttempts != 0 {
		t.Fatalf("operation %s with %d failed attempts", got.Status, got.FailedAttempts)
	}
	for _, ev := range e.audits(store.AuditFilter{OperationID: op.ID}) {
		if ev.Type != "operation.create" {
			t.Fatalf("audited %s %s %q", ev.Type, ev.Outcome, ev.Reason)
		}
	}
	if got := e.user(op.UserID).PasscodeFailed; got != failedBefore {
		t.Fatalf("passcode tries charged %d, want %d", got, failedBefore)
	}
}

// TestPasskeyOnlyApproval (docs/web-sdk.md, Passkey-only policy; issue 18 §2): for an operation type in
// Config.PasskeyOnlyTypes, a passkey of a model the FIDO metadata certifies is offered alone: only that
// passkey in allowCredentials, userVerification "required" (WebAuthn L3 §5.8.6), passcode optional. The
// assertion alone approves: the token's amr is the passkey, the model's user verification (RFC 8176
// "fpt") and "mfa", acr SCA; the evidence names the model; no passcode try is charged or reset.
func TestPasskeyOnlyApproval(t *testing.T) {
	e := newPolicyEnv(t)
	u, d := e.enrolledModel("cust-only", allowedAAGUID)
	// One wrong try left over: a passkey-only approval neither charges a try nor resets the count
	// (the passcode was not checked).
	if _, err := e.st.UpdateUserFrom(e.ctx, e.user(u.ID), func(x *store.User) error { x.PasscodeFailed = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	op := e.login(u.ID)
	b := e.begin(op, txsign.Approve)
	if !b.PasscodeOptional || b.PublicKey.Response.UserVerification != protocol.VerificationRequired ||
		strings.Join(allowed(b), " ") != credID(d) || b.HPKE == nil {
		t.Fatalf("begin: passcode optional %v, userVerification %q, allowCredentials %v, hpke %v; want true, required, [%s], set",
			b.PasscodeOptional, b.PublicKey.Response.UserVerification, allowed(b), b.HPKE != nil, credID(d))
	}
	res, err := e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: d.assert(t, b.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Operation.Status != store.OpApproved || res.Token == "" {
		t.Fatalf("operation %s token %q", res.Operation.Status, res.Token)
	}
	if amr, acr := signettest.TokenAMR(t, res.Token); amr != "hwk,fpt,mfa" || acr != verify.ACRSCA {
		t.Fatalf("amr %q acr %q, want hwk,fpt,mfa and %s", amr, acr, verify.ACRSCA)
	}
	ev := e.lastAudit(op.ID)
	x := evidenceExtra(t, ev)
	uvm, _ := x["user_verification"].(map[string]any)
	if ev.Outcome != "success" || x["passcode"] != "not required for operation type login" || x["uv"] != true ||
		x["uv_required"] != true ||
		uvm["aaguid"] != allowedAAGUID || uvm["model"] != "Phone platform authenticator" ||
		uvm["status"] != "FIDO_CERTIFIED_L1" || uvm["amr"] != "fpt" {
		t.Fatalf("audited %s %q, evidence %v", ev.Outcome, ev.Reason, x)
	}
	if got := e.user(u.ID); got.PasscodeFailed != 1 || got.PasscodeLocked {
		t.Fatalf("passcode tries charged %d (locked %v), want 1 as before", got.PasscodeFailed, got.PasscodeLocked)
	}
}

// TestPasskeyOnlyPasscodeSentAnyway (docs/web-sdk.md: "A passcode sent anyway is checked as always"): in
// a passkey-only ceremony a passcode that comes is checked: a wrong one is refused as any wrong passcode
// behind a valid assertion (401, audited failure, one failed attempt on the operation, a try charged),
// a right one approves with the passcode's amr ("pin") and resets the tries.
func TestPasskeyOnlyPasscodeSentAnyway(t *testing.T) {
	e := newPolicyEnv(t)
	u, d := e.enrolledModel("cust-anyway", allowedAAGUID)
	op := e.login(u.ID)
	wrong := e.prepare(op, d, txsign.Approve, "135790")
	if !wrong.begin.PasscodeOptional {
		t.Fatal("begin does not offer passkey-only")
	}
	_, err := e.svc.FinishApproval(e.ctx, op.ID, wrong.in)
	wantErr(t, err, fault.ErrUnauthenticated)
	if ev := e.lastAudit(op.ID); ev.Outcome != "failure" || ev.Reason != "passcode does not match" {
		t.Fatalf("audited %s %q", ev.Outcome, ev.Reason)
	}
	if got := e.op(op.ID); got.Status != store.OpPending || got.FailedAttempts != 1 {
		t.Fatalf("operation %s with %d failed attempts, want PENDING with 1", got.Status, got.FailedAttempts)
	}
	if got := e.user(u.ID).PasscodeFailed; got != 1 {
		t.Fatalf("passcode tries charged %d, want 1", got)
	}
	res, err := e.svc.FinishApproval(e.ctx, op.ID, e.prepare(op, d, txsign.Approve, testPasscode).in)
	if err != nil {
		t.Fatal(err)
	}
	if amr, acr := signettest.TokenAMR(t, res.Token); amr != "hwk,pin,mfa" || acr != verify.ACRSCA {
		t.Fatalf("amr %q acr %q, want hwk,pin,mfa and %s", amr, acr, verify.ACRSCA)
	}
	if x := evidenceExtra(t, e.lastAudit(op.ID)); x["passcode"] != "verified (HPKE, Argon2id)" || x["user_verification"] != nil {
		t.Fatalf("evidence %v", x)
	}
	if got := e.user(u.ID).PasscodeFailed; got != 0 {
		t.Fatalf("passcode tries charged %d after the right passcode, want 0", got)
	}
}

// TestPasskeyOnlyRefusals: everything the passkey-only policy does not cover still needs the passcode,
// and a passkey-only ceremony is refused when what it relied on no longer holds (docs/web-sdk.md,
// Passkey-only policy: "requires its UV flag, and checks the model again").
func TestPasskeyOnlyRefusals(t *testing.T) {
	t.Run("no UV flag in the assertion", func(t *testing.T) {
		// The ceremony asked for user verification (WebAuthn L3 §7.2 step 17): go-webauthn refuses
		// the assertion before its signature is verified, so it proves nothing and counts nothing
		// (audited unverified), and passkeyOnlyFactor's own UV check is never reached.
		e := newPolicyEnv(t)
		u, d := e.enrolledModel("cust-no-uv", allowedAAGUID)
		op := e.login(u.ID)
		b := e.begin(op, txsign.Approve)
		if !b.PasscodeOptional {
			t.Fatal("begin does not offer passkey-only")
		}
		d.auth.Options.UserNotVerified = true
		_, err := e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: d.assert(t, b.PublicKey)})
		wantErr(t, err, txsign.ErrPossessionNotProven)
		wantErr(t, err, fault.ErrUnauthenticated)
		if ev := e.lastAudit(op.ID); ev.Outcome != "unverified" || !strings.Contains(ev.Reason, "User verification required") {
			t.Fatalf("audited %s %q", ev.Outcome, ev.Reason)
		}
		if got := e.op(op.ID); got.Status != store.OpPending || got.FailedAttempts != 0 {
			t.Fatalf("operation %s with %d failed attempts", got.Status, got.FailedAttempts)
		}
		if c := e.passkey(u.ID); c.FailedAttempts != 0 || c.Status != store.StatusActive {
			t.Fatalf("passkey %s with %d failed attempts", c.Status, c.FailedAttempts)
		}
		if got := e.user(u.ID).PasscodeFailed; got != 0 {
			t.Fatalf("passcode tries charged %d", got)
		}
	})

	t.Run("a model the metadata does not certify", func(t *testing.T) {
		e := newPolicyEnv(t)
		for _, model := range []string{uncertifiedAAGUID, "0f0e0d0c-0b0a-0908-0706-050403020100" /* not listed */} {
			u, d := e.enrolledModel("cust-"+model[:8], model)
			op := e.login(u.ID)
			b := e.begin(op, txsign.Approve)
			wantPasscodeOffer(t, b, credID(d))
			_, err := e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: d.assert(t, b.PublicKey)})
			wantPasscodeRequired(t, e, op, err, 0)
		}
	})

	t.Run("a type not in PasskeyOnlyTypes", func(t *testing.T) {
		e := newPolicyEnv(t)
		u, d := e.enrolledModel("cust-payment", allowedAAGUID)
		op := e.payment(u.ID, "10.00")
		b := e.begin(op, txsign.Approve)
		wantPasscodeOffer(t, b, credID(d))
		_, err := e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: d.assert(t, b.PublicKey)})
		wantPasscodeRequired(t, e, op, err, 0)
		res, err := e.svc.FinishApproval(e.ctx, op.ID, e.prepare(op, d, txsign.Approve, testPasscode).in)
		if err != nil {
			t.Fatal(err)
		}
		if amr, _ := signettest.TokenAMR(t, res.Token); amr != "hwk,pin,mfa" {
			t.Fatalf("amr %q", amr)
		}
		// uv_required is what the ceremony asked for: the service's Config.UserVerification ("preferred"
		// here) when the passcode is the second factor.
		if x := evidenceExtra(t, e.lastAudit(op.ID)); x["uv_required"] != false || x["passcode"] != "verified (HPKE, Argon2id)" {
			t.Fatalf("evidence %v", x)
		}
	})

	t.Run("a rejection is never passkey-only", func(t *testing.T) {
		e := newPolicyEnv(t)
		u, d := e.enrolledModel("cust-reject", allowedAAGUID)
		op := e.login(u.ID)
		b := e.begin(op, txsign.Reject)
		wantPasscodeOffer(t, b, credID(d))
		if b.HPKE != nil {
			t.Fatal("a rejection offers a passcode")
		}
		res, err := e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: d.assert(t, b.PublicKey)})
		if err != nil {
			t.Fatal(err)
		}
		ev := e.lastAudit(op.ID)
		if x := evidenceExtra(t, ev); res.Operation.Status != store.OpRejected || ev.Type != "operation.reject" ||
			x["passcode"] != nil || x["user_verification"] != nil {
			t.Fatalf("operation %s, audited %s, evidence %v", res.Operation.Status, ev.Type, x)
		}
	})

	// The policy changed between begin and finish: the finish is by a service whose Config no longer
	// lets a passkey alone approve this ceremony (another replica, or this one restarted). The
	// assertion verified, so the refusal counts on the operation, but not on the passkey
	// (txsign.ErrOperationOnly): the customer did nothing wrong.
	changes := []struct {
		name   string
		mutate func(*testing.T, *webauthn.Config)
		reason string
	}{
		{"type removed", func(t *testing.T, c *webauthn.Config) { c.PasskeyOnlyTypes = []string{"payment"} },
			`counts on the operation only: operation type "login" is no longer approved by a passkey alone`},
		{"no metadata any more", func(t *testing.T, c *webauthn.Config) { c.PasskeyOnlyTypes, c.Authenticators = nil, nil },
			`counts on the operation only: operation type "login" is no longer approved by a passkey alone`},
		{"model revoked", func(t *testing.T, c *webauthn.Config) {
			c.Authenticators = allowlist(t, mdstest.Entry(allowedAAGUID, "Phone platform authenticator",
				[]string{"FIDO_CERTIFIED_L1", "REVOKED"}, "fingerprint_internal"))
		}, "counts on the operation only: authenticator model " + allowedAAGUID + " (Phone platform authenticator) is reported REVOKED"},
		{"model gone from the metadata", func(t *testing.T, c *webauthn.Config) { c.Authenticators = allowlist(t) },
			"counts on the operation only: authenticator model " + allowedAAGUID + " is not in the FIDO metadata"},
	}
	for _, tc := range changes {
		t.Run("policy changed: "+tc.name, func(t *testing.T) {
			e := newPolicyEnv(t)
			u, d := e.enrolledModel("cust-changed", allowedAAGUID)
			op := e.login(u.ID)
			b := e.begin(op, txsign.Approve)
			if !b.PasscodeOptional {
				t.Fatal("begin does not offer passkey-only")
			}
			cfg := e.cfg // the same ceremonies, store and keys
			tc.mutate(t, &cfg)
			later, err := webauthn.New(e.st, e.ops, e.audit, e.ring, cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = later.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: d.assert(t, b.PublicKey)})
			wantErr(t, err, fault.ErrUnauthenticated)
			if ev := e.lastAudit(op.ID); ev.Outcome != "failure" || ev.Reason != tc.reason {
				t.Fatalf("audited %s %q, want failure %q", ev.Outcome, ev.Reason, tc.reason)
			}
			if got := e.op(op.ID); got.Status != store.OpPending || got.FailedAttempts != 1 || got.Token != "" {
				t.Fatalf("operation %s with %d failed attempts, token %q; want PENDING with 1", got.Status, got.FailedAttempts, got.Token)
			}
			if c := e.passkey(u.ID); c.FailedAttempts != 0 || c.Status != store.StatusActive {
				t.Fatalf("passkey %s with %d failed attempts, want ACTIVE with 0", c.Status, c.FailedAttempts)
			}
			if got := e.user(u.ID).PasscodeFailed; got != 0 {
				t.Fatalf("passcode tries charged %d", got)
			}
		})
	}
}

// TestPasskeyOnlyOffersOnlyAllowedModels: a customer with a passkey of an allowed model and one of a
// model the metadata does not certify is asked, for a passkey-only approval, for the allowed one alone;
// the other, asserting anyway, is refused as a passkey the ceremony did not ask for (WebAuthn L3 §7.2
// step 5: allowCredentials). For a type that needs the passcode both are offered.
func TestPasskeyOnlyOffersOnlyAllowedModels(t *testing.T) {
	e := newPolicyEnv(t)
	u, good := e.enrolledModel("cust-two", allowedAAGUID)
	other := modelDevice(uncertifiedAAGUID)
	if _, err := e.enroll(e.session(u.ID), other, testPasscode); err != nil {
		t.Fatal(err)
	}
	if n := len(e.passkeysOf(u.ID)); n != 2 {
		t.Fatalf("%d passkeys", n)
	}
	op := e.login(u.ID)
	b := e.begin(op, txsign.Approve)
	if !b.PasscodeOptional || b.PublicKey.Response.UserVerification != protocol.VerificationRequired ||
		strings.Join(allowed(b), " ") != credID(good) {
		t.Fatalf("begin: passcode optional %v, userVerification %q, allowCredentials %v; want true, required, [%s]",
			b.PasscodeOptional, b.PublicKey.Response.UserVerification, allowed(b), credID(good))
	}
	_, err := e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: other.assert(t, b.PublicKey)})
	wantErr(t, err, fault.ErrUnauthenticated)
	if ev := e.lastAudit(op.ID); ev.Outcome != "unverified" || !strings.Contains(ev.Reason, "not in the sessions allowed credential list") {
		t.Fatalf("audited %s %q", ev.Outcome, ev.Reason)
	}
	if got := e.op(op.ID); got.Status != store.OpPending || got.FailedAttempts != 0 {
		t.Fatalf("operation %s with %d failed attempts", got.Status, got.FailedAttempts)
	}

	pay := e.begin(e.payment(u.ID, "5.00"), txsign.Approve)
	ids, want := allowed(pay), []string{credID(good), credID(other)}
	slices.Sort(ids)
	slices.Sort(want)
	if pay.PasscodeOptional || pay.PublicKey.Response.UserVerification != protocol.VerificationPreferred || !slices.Equal(ids, want) {
		t.Fatalf("payment begin: passcode optional %v, userVerification %q, allowCredentials %v; want false, preferred, %v",
			pay.PasscodeOptional, pay.PublicKey.Response.UserVerification, ids, want)
	}
}
