package webauthn_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webauthn"
)

func wantErr(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want %v", err, kind)
	}
}

func TestApprovalRefusals(t *testing.T) {
	e := newEnv(t, func(c *webauthn.Config) { c.CredentialMaxFailures = 50 })
	u, d := e.enrolled("cust-refusals")

	tests := []struct {
		name string
		// attempt builds a finish request for op; it may use other operations.
		attempt func(t *testing.T, op store.Operation) webauthn.ApprovalResult
		// outcome is the audited outcome: "unverified" when the assertion
		// does not verify (counts nothing), "failure" when a valid assertion
		// carries a wrong passcode (counts on the operation), "success" for the control.
		outcome string
		// reason is what the audited reason must contain: the cause of this refusal, not
		// another one that happens to refuse the same attempt.
		reason string
	}{
		{"wrong origin", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			evil := *d
			evil.rp.Origin = "http://evil.localhost:8080"
			return e.prepare(op, &evil, txsign.Approve, testPasscode).in
		}, "unverified", "Error validating origin: Expected Values: [http://localhost:8080], Received: http://evil.localhost:8080"},
		{"origin differing only by port", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			evil := *d
			evil.rp.Origin = "http://localhost:8081"
			return e.prepare(op, &evil, txsign.Approve, testPasscode).in
		}, "unverified", "Error validating origin: Expected Values: [http://localhost:8080], Received: http://localhost:8081"},
		{"wrong RP ID", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			evil := *d
			evil.rp.ID = "evil.example"
			return e.prepare(op, &evil, txsign.Approve, testPasscode).in
		}, "unverified", "RP Hash mismatch"},
		{"challenge of another operation", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			other := e.payment(u.ID, "9999.00")
			mine := e.prepare(op, d, txsign.Approve, testPasscode)
			theirs := e.prepare(other, d, txsign.Approve, testPasscode)
			// The assertion signs the other operation's DL; the ceremony and
			// the passcode are this operation's.
			mine.in.Credential = theirs.in.Credential
			return mine.in
		}, "unverified", "Error validating challenge"},
		{"approval assertion used to reject", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			rej, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Reject)
			if err != nil {
				t.Fatal(err)
			}
			app := e.prepare(op, d, txsign.Approve, testPasscode)
			return webauthn.ApprovalResult{CeremonyID: rej.CeremonyID, Credential: app.in.Credential}
		}, "unverified", "Error validating challenge"},
		{"passcode ciphertext of another ceremony", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			first := e.prepare(op, d, txsign.Approve, testPasscode)
			second := e.prepare(op, d, txsign.Approve, testPasscode)
			second.in.Passcode = first.in.Passcode // HPKE info binds ceremony id + challenge
			return second.in
		}, "failure", "passcode ciphertext does not decrypt for this ceremony"},
		{"passcode ciphertext for another field", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			a := e.prepare(op, d, txsign.Approve, testPasscode)
			hp := *a.begin.HPKE
			pub, _ := base64.RawURLEncoding.DecodeString(hp.PublicKey)
			info, _ := base64.RawURLEncoding.DecodeString(hp.Info[webauthn.FieldPasscode])
			info = bytes.Replace(info, []byte(webauthn.FieldPasscode), []byte(webauthn.FieldNewPasscode), 1)
			a.in.Passcode = sealInfo(t, pub, info, testPasscode)
			return a.in
		}, "failure", "passcode ciphertext does not decrypt for this ceremony"},
		{"unknown credential", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			stranger := newDevice(virtualwebauthn.AuthenticatorOptions{UserHandle: u.WebAuthnID})
			return e.prepare(op, stranger, txsign.Approve, testPasscode).in
		}, "unverified", "unknown passkey "},
		{"control: the enrolled passkey and the right passcode", func(t *testing.T, op store.Operation) webauthn.ApprovalResult {
			return e.prepare(op, d, txsign.Approve, testPasscode).in
		}, "success", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := e.payment(u.ID, "100.00")
			_, err := e.svc.FinishApproval(e.ctx, op.ID, tc.attempt(t, op))
			if tc.outcome == "success" {
				if got := e.op(op.ID); err != nil || got.Status != store.OpApproved || got.Token == "" {
					t.Fatalf("control: %v, operation %s token %q", err, got.Status, got.Token)
				}
				return
			}
			wantErr(t, err, fault.ErrUnauthenticated)
			if got := e.op(op.ID); got.Status != store.OpPending || got.Token != "" {
				t.Fatalf("operation %s token %q", got.Status, got.Token)
			}
			// The refusal is audited with its own cause.
			evs := e.audits(store.AuditFilter{OperationID: op.ID})
			last := evs[len(evs)-1]
			if last.Outcome != tc.outcome || !strings.Contains(last.Reason, tc.reason) {
				t.Fatalf("audited %s %q, want %s with %q", last.Outcome, last.Reason, tc.outcome, tc.reason)
			}
			if want := map[string]int{"unverified": 0, "failure": 1}[tc.outcome]; e.op(op.ID).FailedAttempts != want {
				t.Fatalf("operation failed attempts %d, want %d", e.op(op.ID).FailedAttempts, want)
			}
		})
	}
	if c := e.passkey(u.ID); c.Status != store.StatusActive {
		t.Fatalf("passkey %s %s after refusals that do not prove a clone", c.Status, c.BlockReason)
	}
}

func TestApproveThenReplay(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-replay")
	op := e.payment(u.ID, "1250.00")
	a := e.prepare(op, d, txsign.Approve, testPasscode)
	res, err := e.svc.FinishApproval(e.ctx, op.ID, a.in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Token == "" || res.Operation.Status != store.OpApproved {
		t.Fatalf("result %+v", res)
	}
	cred := e.passkey(u.ID)
	if res.Operation.ApprovedCredentialID != cred.ID || cred.Counter != int64(d.cred.Counter) || cred.LastUsedAt == nil {
		t.Fatalf("credential after approval: %+v", cred)
	}
	// The challenge was the operation's DL followed by the ceremony's 16
	// random bytes.
	var cdj struct{ Challenge string }
	var body struct {
		Response struct{ ClientDataJSON string } `json:"response"`
	}
	_ = json.Unmarshal(a.in.Credential, &body)
	raw, _ := base64.RawURLEncoding.DecodeString(body.Response.ClientDataJSON)
	_ = json.Unmarshal(raw, &cdj)
	if ch, _ := base64.RawURLEncoding.DecodeString(cdj.Challenge); len(ch) != 48 || !bytes.Equal(ch[:32], op.DL) {
		t.Fatalf("challenge %s is not DL ‖ 16 random bytes", cdj.Challenge)
	}
	// Evidence is audited, without the passcode.
	evs := e.audits(store.AuditFilter{OperationID: op.ID})
	var found bool
	for _, ev := range evs {
		if ev.Type == "operation.approve" && ev.Outcome == "success" {
			found = true
			var evd txsign.Evidence
			if err := json.Unmarshal(ev.Evidence, &evd); err != nil || evd.Algorithm != "ES256" || evd.Signature == "" ||
				strings.Join(evd.AMR, ",") != "hwk,pin,mfa" {
				t.Fatalf("evidence %s", ev.Evidence)
			}
		}
		if strings.Contains(string(ev.Evidence), testPasscode) {
			t.Fatalf("audit event carries the passcode: %s", ev.Evidence)
		}
	}
	if !found {
		t.Fatal("no success audit")
	}

	t.Run("replayed assertion", func(t *testing.T) {
		_, err := e.svc.FinishApproval(e.ctx, op.ID, a.in)
		wantErr(t, err, fault.ErrUnauthenticated)
	})
	t.Run("replayed assertion on a new ceremony of another operation", func(t *testing.T) {
		op2 := e.payment(u.ID, "1250.00")
		b, err := e.svc.BeginApproval(e.ctx, op2.ID, txsign.Approve)
		if err != nil {
			t.Fatal(err)
		}
		in := a.in
		in.CeremonyID = b.CeremonyID
		in.Passcode = seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode)
		_, err = e.svc.FinishApproval(e.ctx, op2.ID, in)
		wantErr(t, err, fault.ErrUnauthenticated)
	})
	t.Run("approved operation cannot be begun again", func(t *testing.T) {
		_, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
		wantErr(t, err, fault.ErrConflict)
	})
}

func TestConcurrentFinishSucceedsOnce(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-race")
	op := e.payment(u.ID, "10.00")
	a := e.prepare(op, d, txsign.Approve, testPasscode)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.FinishApproval(e.ctx, op.ID, a.in); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d finishes succeeded", wins)
	}
}

func TestCounterRegressionBlocksCredential(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-clone")
	d.cred.Counter = 41
	if _, err := e.approve(e.payment(u.ID, "1.00"), d, testPasscode); err != nil { // counter 42
		t.Fatal(err)
	}
	clone := *d
	clone.cred.Counter = 9 // the copy lags behind: it signs with counter 10
	op := e.payment(u.ID, "2.00")
	_, err := e.approve(op, &clone, testPasscode)
	wantErr(t, err, fault.ErrUnauthenticated)
	c := e.passkey(u.ID)
	if c.Status != store.StatusBlocked || c.BlockReason != store.ReasonCloneSuspected {
		t.Fatalf("credential %s %s, want BLOCKED CLONE_SUSPECTED", c.Status, c.BlockReason)
	}
	if e.op(op.ID).Status != store.OpPending {
		t.Fatal("operation changed")
	}
	// The refusal names both counters (WebAuthn L3 §7.2 step 21): the passkey's stored 42, the clone's 10.
	if ev := e.lastAudit(op.ID); ev.Type != "operation.approve" || ev.Outcome != "failure" ||
		ev.Reason != "sign counter did not increase: possible cloned authenticator (stored 42, asserted 10)" {
		t.Fatalf("audited %s %s %q", ev.Type, ev.Outcome, ev.Reason)
	}
	blocked := false
	for _, ev := range e.audits(store.AuditFilter{CredentialID: c.ID}) {
		blocked = blocked || (ev.Type == "credential.block" && ev.Reason == string(store.ReasonCloneSuspected))
	}
	if !blocked {
		t.Fatal("block not audited")
	}
	// Even the genuine authenticator is refused now; the bank must unblock.
	_, err = e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
	wantErr(t, err, fault.ErrConflict)

	t.Run("equal counter is a regression too", func(t *testing.T) {
		u2, d2 := e.enrolled("cust-clone-2")
		d2.cred.Counter = 5
		if _, err := e.approve(e.payment(u2.ID, "1.00"), d2, testPasscode); err != nil { // counter 6
			t.Fatal(err)
		}
		d2.cred.Counter = 5 // asserts 6 again
		_, err := e.approve(e.payment(u2.ID, "1.00"), d2, testPasscode)
		wantErr(t, err, fault.ErrUnauthenticated)
		if c := e.passkey(u2.ID); c.BlockReason != store.ReasonCloneSuspected {
			t.Fatalf("credential %s %s", c.Status, c.BlockReason)
		}
	})
	t.Run("authenticators without a counter (always 0) are fine", func(t *testing.T) {
		u3, d3 := e.enrolled("cust-counterless")
		for range 2 {
			op := e.payment(u3.ID, "1.00")
			b, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
			if err != nil {
				t.Fatal(err)
			}
			in := webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: d3.assertWith(t, b.PublicKey, 0),
				Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode)}
			if _, err := e.svc.FinishApproval(e.ctx, op.ID, in); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestPasscodeLockAndUnlock(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-lock")
	op := e.payment(u.ID, "500.00")
	for i := 1; i <= 3; i++ {
		_, err := e.approve(op, d, "135790")
		wantErr(t, err, fault.ErrUnauthenticated)
		if got := e.user(u.ID); got.PasscodeFailed != i || got.PasscodeLocked != (i == 3) {
			t.Fatalf("after %d wrong: failed %d locked %v", i, got.PasscodeFailed, got.PasscodeLocked)
		}
	}
	_, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
	wantErr(t, err, fault.ErrLocked)
	// Rejecting needs no passcode and stays possible while locked.
	if _, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Reject); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UnlockPasscode(e.ctx, "bank", u.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.user(u.ID); got.PasscodeLocked || got.PasscodeFailed != 0 {
		t.Fatalf("after unlock %+v", got)
	}
	var unlocks []store.AuditEvent
	for _, ev := range e.audits(store.AuditFilter{UserID: u.ID}) {
		if ev.Type == "passcode.unlock" {
			unlocks = append(unlocks, ev)
		}
	}
	if len(unlocks) != 1 || unlocks[0].Outcome != "success" || unlocks[0].Actor != "bank" {
		t.Fatalf("the unlock audited as %+v, want one passcode.unlock success by the bank", unlocks)
	}
	if _, err := e.approve(op, d, testPasscode); err != nil {
		t.Fatalf("after unlock: %v", err)
	}

	t.Run("a ceremony begun before the lock is refused after it", func(t *testing.T) {
		early := e.payment(u.ID, "1.00")
		a := e.prepare(early, d, txsign.Approve, testPasscode)
		other := e.payment(u.ID, "2.00")
		for range 3 {
			_, _ = e.approve(other, d, "135790")
		}
		_, err := e.svc.FinishApproval(e.ctx, early.ID, a.in)
		wantErr(t, err, fault.ErrLocked)
		if _, err := e.svc.UnlockPasscode(e.ctx, "bank", u.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong passcodes without the passkey are not counted", func(t *testing.T) {
		op := e.payment(u.ID, "1.00")
		stranger := newDevice(virtualwebauthn.AuthenticatorOptions{UserHandle: u.WebAuthnID})
		for range 5 {
			a := e.prepare(op, stranger, txsign.Approve, "135790")
			_, _ = e.svc.FinishApproval(e.ctx, op.ID, a.in)
		}
		if got := e.user(u.ID); got.PasscodeFailed != 0 || got.PasscodeLocked {
			t.Fatalf("failed %d locked %v", got.PasscodeFailed, got.PasscodeLocked)
		}
	})
	t.Run("the verifier holds no clear passcode", func(t *testing.T) {
		v := e.user(u.ID).PasscodeVerifier
		if len(v) != 62 || bytes.Contains(v, []byte(testPasscode)) {
			t.Fatalf("verifier %x", v)
		}
	})
}

// TestConcurrentPasscodeGuessesAreBounded: wrong passcodes sent in parallel, each behind a valid passkey
// assertion, get no more checks than the user has tries left, however many come at once: the try is
// charged before the check, in the statement that reads the approval (PSD2 RTS Art. 4(3)(d)). Every
// check counts exactly once, nothing else stays charged, and the passcode locks at the maximum. On both
// dialects: PostgreSQL runs the finishes on separate connections.
func TestConcurrentPasscodeGuessesAreBounded(t *testing.T) {
	for _, db := range []struct {
		name string
		open func(testing.TB, ...sqlstore.Option) *sqlstore.Store
	}{{"sqlite", sqltest.OpenSQLite}, {"postgres", sqltest.OpenPostgres}} {
		for _, prior := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/%d earlier wrong tries", db.name, prior), func(t *testing.T) {
				e := newEnvOn(t, db.open(t), nil)
				u, d := e.enrolled("cust-parallel")
				if _, err := e.st.UpdateUser(e.ctx, u.ID, func(v *store.User) error { v.PasscodeFailed = prior; return nil }); err != nil {
					t.Fatal(err)
				}
				op := e.payment(u.ID, "5.00")
				// A counterless authenticator (always 0): eight assertions from one counter
				// would reach the server out of order and trip clone detection, a
				// different failure that refunds its reserved try.
				var attempts []attempt
				for range 8 {
					b, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
					if err != nil {
						t.Fatal(err)
					}
					attempts = append(attempts, attempt{begin: b, in: webauthn.ApprovalResult{CeremonyID: b.CeremonyID,
						Credential: d.assertWith(t, b.PublicKey, 0), Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, "135790")}})
				}
				var wg sync.WaitGroup
				for _, a := range attempts {
					wg.Go(func() { _, _ = e.svc.FinishApproval(e.ctx, op.ID, a.in) })
				}
				wg.Wait()
				checked := 0
				for _, ev := range e.audits(store.AuditFilter{OperationID: op.ID}) {
					if strings.Contains(ev.Reason, "passcode does not match") {
						checked++
					}
				}
				left := e.cfg.PasscodeMaxFailures - prior
				if e.cfg.PasscodeMaxFailures == 0 {
					left = webauthn.DefaultPasscodeMaxFailures - prior
				}
				after := e.user(u.ID)
				if checked > left || (checked == left) != after.PasscodeLocked || after.PasscodeFailed != prior+checked {
					t.Fatalf("%d passcodes checked with %d tries left: PasscodeFailed %d, locked %v", checked, left,
						after.PasscodeFailed, after.PasscodeLocked)
				}
			})
		}
	}
}

func TestUserVerificationRequired(t *testing.T) {
	e := newEnv(t, func(c *webauthn.Config) { c.UserVerification = "required" })
	u := e.createUser("cust-uv")
	t.Run("registration without UV is refused", func(t *testing.T) {
		d := newDevice(virtualwebauthn.AuthenticatorOptions{UserNotVerified: true})
		_, err := e.enroll(e.session(u.ID), d, testPasscode)
		wantErr(t, err, fault.ErrUnauthenticated)
	})
	d := newDevice(virtualwebauthn.AuthenticatorOptions{})
	if _, err := e.enroll(e.session(u.ID), d, testPasscode); err != nil {
		t.Fatal(err)
	}
	op := e.payment(u.ID, "3.00")
	d.auth.Options.UserNotVerified = true // UV latched at registration must not count
	_, err := e.approve(op, d, testPasscode)
	wantErr(t, err, fault.ErrUnauthenticated)
	d.auth.Options.UserNotVerified = false
	if _, err := e.approve(op, d, testPasscode); err != nil {
		t.Fatal(err)
	}
}

// User verification is read from each assertion's flags (WebAuthn L3 §7.2 step 17) and required only when
// Config.UserVerification is "required" (§5.8.6). Under the default "preferred" an authenticator that did not
// verify the user still proves possession, and the passcode is the second factor: the approval goes through,
// its evidence recording uv false. Under "required" it is refused: by go-webauthn when the ceremony asked for
// it (unverified: nothing proven), and by the service's own check when the ceremony was begun under
// "preferred" and is finished by a service that now requires it (a configuration change between begin and
// finish: the ceremony store outlives a restart).
func TestUserVerificationOfTheAssertion(t *testing.T) {
	required := func(c *webauthn.Config) { c.UserVerification = "required" }
	tests := []struct {
		name            string
		begin, finish   func(*webauthn.Config)
		outcome, reason string
		status          store.OperationStatus
	}{
		{"required, asked for by the ceremony", required, required, "unverified",
			"possession not proven: assertion: Error validating the authenticator response: User verification required but flag not set by authenticator",
			store.OpPending},
		{"required since the ceremony began", nil, required, "failure",
			"assertion: user verification required but not performed", store.OpPending},
		{"preferred", nil, nil, "success", "", store.OpApproved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.begin)
			u, d := e.enrolled("cust-no-uv")
			cfg := e.cfg
			cfg.UserVerification = ""
			if tc.finish != nil {
				tc.finish(&cfg)
			}
			finisher, err := webauthn.New(e.st, e.ops, e.audit, e.ring, cfg)
			if err != nil {
				t.Fatal(err)
			}
			op := e.payment(u.ID, "5.00")
			d.auth.Options.UserNotVerified = true
			a := e.prepare(op, d, txsign.Approve, testPasscode)
			_, err = finisher.FinishApproval(e.ctx, op.ID, a.in)
			if (err == nil) != (tc.status == store.OpApproved) {
				t.Fatalf("finish: %v", err)
			}
			ev := e.lastAudit(op.ID)
			if ev.Type != "operation.approve" || ev.Outcome != tc.outcome || ev.Reason != tc.reason {
				t.Fatalf("audited %s %s %q, want %s %q", ev.Type, ev.Outcome, ev.Reason, tc.outcome, tc.reason)
			}
			if got := e.op(op.ID).Status; got != tc.status {
				t.Fatalf("operation %s, want %s", got, tc.status)
			}
			if tc.status == store.OpApproved {
				if x := evidenceExtra(t, ev); x["uv"] != false || x["uv_required"] != false || x["passcode"] != "verified (HPKE, Argon2id)" {
					t.Fatalf("evidence uv %v, uv_required %v, passcode %v", x["uv"], x["uv_required"], x["passcode"])
				}
			}
		})
	}
}

func TestReject(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-reject")
	op := e.payment(u.ID, "77.00")
	a := e.prepare(op, d, txsign.Reject, "")
	res, err := e.svc.FinishApproval(e.ctx, op.ID, a.in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Operation.Status != store.OpRejected || res.Token != "" {
		t.Fatalf("%+v", res.Operation)
	}
	var cdj struct{ Challenge string }
	var body struct {
		Response struct{ ClientDataJSON string } `json:"response"`
	}
	_ = json.Unmarshal(a.in.Credential, &body)
	raw, _ := base64.RawURLEncoding.DecodeString(body.Response.ClientDataJSON)
	_ = json.Unmarshal(raw, &cdj)
	got, _ := base64.RawURLEncoding.DecodeString(cdj.Challenge)
	if len(got) != webauthn.ChallengeSize || !bytes.Equal(got[:32], webauthn.Digest(op, txsign.Reject)) {
		t.Fatalf("reject challenge %x, want the reject digest %x ‖ 16 random bytes", got, webauthn.Digest(op, txsign.Reject))
	}
}

func TestOperationStateRefusals(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-state")
	t.Run("canceled between begin and finish", func(t *testing.T) {
		op := e.payment(u.ID, "8.00")
		a := e.prepare(op, d, txsign.Approve, testPasscode)
		if _, err := e.ops.Cancel(e.ctx, "bank", op.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.FinishApproval(e.ctx, op.ID, a.in)
		wantErr(t, err, fault.ErrConflict)
		if got := e.user(u.ID); got.PasscodeFailed != 0 {
			t.Fatalf("a refusal before any check cost a passcode try: %d", got.PasscodeFailed)
		}
		_, err = e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
		wantErr(t, err, fault.ErrConflict)
	})
	t.Run("expired between begin and finish", func(t *testing.T) {
		op, _, err := e.ops.Create(e.ctx, "bank", txsign.NewOperation{UserID: u.ID, Type: "payment", PayeeAccount: "CZ6508000000192000145399",
			PayeeName: "Alza.cz a.s.", Amount: "8.00", Currency: "CZK", ExpiresIn: txsign.MinExpiry})
		if err != nil {
			t.Fatal(err)
		}
		a := e.prepare(op, d, txsign.Approve, testPasscode)
		e.clock.add(txsign.MinExpiry + time.Second) // the ceremony lasts longer
		_, err = e.svc.FinishApproval(e.ctx, op.ID, a.in)
		wantErr(t, err, fault.ErrGone)
		// Still PENDING as read, past its expiry: the approval applies the expiry (stored), and the try its
		// read reserved is refunded.
		if got := e.op(op.ID).Status; got != store.OpExpired {
			t.Fatalf("operation %s, want EXPIRED", got)
		}
		if got := e.user(u.ID); got.PasscodeFailed != 0 {
			t.Fatalf("a refusal before any check cost a passcode try: %d", got.PasscodeFailed)
		}
	})
	t.Run("expired", func(t *testing.T) {
		op := e.payment(u.ID, "8.00")
		e.clock.add(txsign.DefaultExpiry + time.Second)
		_, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
		wantErr(t, err, fault.ErrGone)
	})
	t.Run("operation not accepting passkeys", func(t *testing.T) {
		op, _, err := e.ops.Create(e.ctx, "bank", txsign.NewOperation{UserID: u.ID, Type: "login", Factors: []string{"device_key"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
		wantErr(t, err, fault.ErrForbidden)
	})
	t.Run("user without a passkey", func(t *testing.T) {
		v := e.createUser("cust-nokey")
		op := e.payment(v.ID, "1.00")
		_, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
		wantErr(t, err, fault.ErrConflict)
	})
}

func TestEnrollment(t *testing.T) {
	e := newEnv(t, nil)
	u := e.createUser("cust-enroll")
	t.Run("link is single use", func(t *testing.T) {
		link, err := e.svc.IssueEnrollment(e.ctx, "bank", u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := link.ExpiresAt.Sub(e.clock.now()); d < 15*time.Minute-time.Second || d > 15*time.Minute {
			t.Fatalf("link valid for %v", d)
		}
		_, token, _ := strings.Cut(link.URL, "#token=")
		if _, err := e.svc.OpenSession(e.ctx, token); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.OpenSession(e.ctx, token)
		wantErr(t, err, fault.ErrUnauthenticated)
	})
	t.Run("link expires after 15 minutes", func(t *testing.T) {
		link, _ := e.svc.IssueEnrollment(e.ctx, "bank", u.ID)
		_, token, _ := strings.Cut(link.URL, "#token=")
		e.clock.add(15*time.Minute + time.Second)
		_, err := e.svc.OpenSession(e.ctx, token)
		wantErr(t, err, fault.ErrUnauthenticated)
	})
	t.Run("bad tokens", func(t *testing.T) {
		for _, tok := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("A", 44), "../../etc/passwd"} {
			_, err := e.svc.OpenSession(e.ctx, tok)
			wantErr(t, err, fault.ErrUnauthenticated)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := e.svc.IssueEnrollment(e.ctx, "bank", "00000000-0000-4000-8000-000000000000")
		wantErr(t, err, fault.ErrNotFound)
	})
	t.Run("first passkey needs a passcode that meets the policy", func(t *testing.T) {
		sess := e.session(u.ID)
		if st, err := e.svc.State(e.ctx, sess); err != nil || st.HasPasscode || len(st.Passkeys) != 0 {
			t.Fatalf("state before the first passkey %+v %v; want no passcode, no passkey", st, err)
		}
		d := newDevice(virtualwebauthn.AuthenticatorOptions{})
		_, err := e.enroll(sess, d, "")
		var inv *fault.InvalidError
		if !errors.As(err, &inv) || inv.Problems[0].Reason != "is required: choose a passcode of 6 to 12 digits" {
			t.Fatalf("no passcode: %v", err)
		}
		// A JSON null (what a page sends for a passcode left out) is no passcode either.
		begin, err := e.svc.BeginRegistration(e.ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(begin.PublicKey)
		opts, _ := virtualwebauthn.ParseAttestationOptions(string(raw))
		d.auth.Options.UserHandle = []byte(opts.UserID)
		_, err = e.svc.FinishRegistration(e.ctx, sess, webauthn.RegistrationResult{CeremonyID: begin.CeremonyID,
			Credential: []byte(virtualwebauthn.CreateAttestationResponse(d.rp, d.auth, d.cred, *opts)), Passcode: []byte("null")})
		if !errors.As(err, &inv) || inv.Problems[0].Reason != "is required: choose a passcode of 6 to 12 digits" {
			t.Fatalf("passcode null: %v", err)
		}
		_, err = e.enroll(sess, d, "123456")
		if !errors.As(err, &inv) || inv.Problems[0].Field != "passcode" {
			t.Fatalf("weak passcode: %v", err)
		}
		view, err := e.enroll(sess, d, testPasscode)
		if err != nil {
			t.Fatal(err)
		}
		c := e.passkey(u.ID)
		var data map[string]any
		_ = json.Unmarshal(c.Data, &data)
		if c.Status != store.StatusActive || c.LookupKey != base64.RawURLEncoding.EncodeToString(d.cred.ID) ||
			data["aaguid"] == "" || data["backup_eligible"] != false || data["alg"] != "ES256" || view.Label != "Test phone" {
			t.Fatalf("stored passkey %+v data %s", c, c.Data)
		}
		st, err := e.svc.State(e.ctx, sess)
		if err != nil || !st.HasPasscode || len(st.Passkeys) != 1 {
			t.Fatalf("state %+v %v", st, err)
		}
	})
	t.Run("registration ceremony is single use", func(t *testing.T) {
		sess := e.session(u.ID)
		d := newDevice(virtualwebauthn.AuthenticatorOptions{})
		begin, _ := e.svc.BeginRegistration(e.ctx, sess)
		raw, _ := json.Marshal(begin.PublicKey)
		opts, _ := virtualwebauthn.ParseAttestationOptions(string(raw))
		if len(opts.ExcludeCredentials) != 1 {
			t.Fatalf("existing passkeys not excluded: %v", opts.ExcludeCredentials)
		}
		if begin.Passcode != "current" {
			t.Fatalf("adding a passkey asks for a %q passcode", begin.Passcode)
		}
		resp := virtualwebauthn.CreateAttestationResponse(d.rp, d.auth, d.cred, *opts)
		in := webauthn.RegistrationResult{CeremonyID: begin.CeremonyID, Credential: []byte(resp),
			Passcode: seal(t, begin.HPKE, webauthn.FieldPasscode, testPasscode)}
		if _, err := e.svc.FinishRegistration(e.ctx, sess, in); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.FinishRegistration(e.ctx, sess, in)
		wantErr(t, err, fault.ErrUnauthenticated)
	})
	t.Run("credential id is unique across users", func(t *testing.T) {
		v := e.createUser("cust-enroll-other")
		d := newDevice(virtualwebauthn.AuthenticatorOptions{})
		if _, err := e.enroll(e.session(u.ID), d, testPasscode); err != nil {
			t.Fatal(err)
		}
		_, err := e.enroll(e.session(v.ID), d, testPasscode)
		// The generic registration failure; the audit names the real cause.
		wantErr(t, err, fault.ErrUnauthenticated)
		evs := e.audits(store.AuditFilter{UserID: v.ID})
		if last := evs[len(evs)-1]; last.Type != "passkey.register" || last.Outcome != "failure" ||
			!strings.HasPrefix(last.Reason, "credential id already registered to another user") {
			t.Fatalf("audit %s %s %q", last.Type, last.Outcome, last.Reason)
		}
	})
	t.Run("registration from a wrong origin", func(t *testing.T) {
		d := newDevice(virtualwebauthn.AuthenticatorOptions{})
		d.rp.Origin = "https://localhost:8080"
		_, err := e.enroll(e.session(u.ID), d, testPasscode)
		wantErr(t, err, fault.ErrUnauthenticated)
	})
	t.Run("adding a passkey needs the current passcode", func(t *testing.T) {
		before := len(e.passkeysOf(u.ID))
		d := newDevice(virtualwebauthn.AuthenticatorOptions{})
		var inv *fault.InvalidError
		if _, err := e.enroll(e.session(u.ID), d, ""); !errors.As(err, &inv) {
			t.Fatalf("no passcode: %v", err)
		}
		_, err := e.enroll(e.session(u.ID), d, "135790")
		wantErr(t, err, fault.ErrUnauthenticated)
		if got := e.user(u.ID); got.PasscodeFailed != 1 || len(e.passkeysOf(u.ID)) != before {
			t.Fatalf("wrong passcode: failed %d, %d passkeys", got.PasscodeFailed, len(e.passkeysOf(u.ID)))
		}
		if _, err := e.enroll(e.session(u.ID), d, testPasscode); err != nil {
			t.Fatal(err)
		}
		if got := e.user(u.ID); got.PasscodeFailed != 0 || len(e.passkeysOf(u.ID)) != before+1 {
			t.Fatalf("right passcode: failed %d", got.PasscodeFailed)
		}
	})
	t.Run("backup flags recorded", func(t *testing.T) {
		v := e.createUser("cust-synced")
		d := newDevice(virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true})
		if _, err := e.enroll(e.session(v.ID), d, testPasscode); err != nil {
			t.Fatal(err)
		}
		var data map[string]any
		_ = json.Unmarshal(e.passkey(v.ID).Data, &data)
		if data["backup_eligible"] != true || data["backup_state"] != true {
			t.Fatalf("data %v", data)
		}
		res, err := e.approve(e.payment(v.ID, "1.00"), d, testPasscode)
		if err != nil {
			t.Fatal(err)
		}
		_ = res
	})
}

func TestManagePasskeys(t *testing.T) {
	e := newEnv(t, nil)
	u, _ := e.enrolled("cust-manage")
	other, _ := e.enrolled("cust-manage-other")
	sess := e.session(u.ID)
	mine, theirs := e.passkey(u.ID), e.passkey(other.ID)
	if v, err := e.svc.RenamePasskey(e.ctx, sess, mine.ID, "  Work laptop "); err != nil || v.Label != "Work laptop" {
		t.Fatalf("rename %+v %v", v, err)
	}
	for _, bad := range []string{"", strings.Repeat("x", 65), "a\x00b"} {
		var inv *fault.InvalidError
		if _, err := e.svc.RenamePasskey(e.ctx, sess, mine.ID, bad); !errors.As(err, &inv) {
			t.Fatalf("label %q: %v", bad, err)
		}
	}
	_, err := e.svc.RenamePasskey(e.ctx, sess, theirs.ID, "mine now")
	wantErr(t, err, fault.ErrNotFound)
	wantErr(t, e.svc.RemovePasskey(e.ctx, sess, theirs.ID), fault.ErrNotFound)
	if err := e.svc.RemovePasskey(e.ctx, sess, mine.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.RemovePasskey(e.ctx, sess, mine.ID), fault.ErrNotFound)
	if c, _ := e.st.GetCredential(e.ctx, mine.ID); c.Status != store.StatusRemoved {
		t.Fatalf("status %s", c.Status)
	}
	if err := e.svc.CloseSession(e.ctx, sess); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.State(e.ctx, sess)
	wantErr(t, err, fault.ErrUnauthenticated)
	t.Run("session expires", func(t *testing.T) {
		s := e.session(u.ID)
		e.clock.add(15*time.Minute + time.Second)
		_, err := e.svc.State(e.ctx, s)
		wantErr(t, err, fault.ErrUnauthenticated)
	})
}

// TestOutOfTriesWithATryInFlight: a user whose tries are all charged but not yet settled (the last wrong
// passcode still being checked, so not yet locked) is refused as locked by every passcode check, with no
// further try charged: the reservation refuses at the maximum, not past it (concurrent requests must not
// get more guesses than tries; NIST SP 800-63B §5.2.2 rate limiting).
func TestOutOfTriesWithATryInFlight(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-inflight")
	// A ceremony begun while the operation was pending, finished after the bank canceled it.
	canceled := e.payment(u.ID, "1.00")
	late := e.prepare(canceled, d, txsign.Approve, testPasscode)
	if _, err := e.ops.Cancel(e.ctx, "bank", canceled.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateUserFrom(e.ctx, e.user(u.ID), func(x *store.User) error {
		x.PasscodeFailed = webauthn.DefaultPasscodeMaxFailures
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sess := e.session(u.ID)
	b, err := e.svc.BeginPasscodeChange(e.ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	err = e.svc.FinishPasscodeChange(e.ctx, sess, webauthn.PasscodeChange{CeremonyID: b.CeremonyID,
		Credential: d.assert(t, b.PublicKey), Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode),
		NewPasscode: seal(t, b.HPKE, webauthn.FieldNewPasscode, "975319")})
	wantErr(t, err, fault.ErrLocked)
	_, err = e.enroll(sess, newDevice(virtualwebauthn.AuthenticatorOptions{}), testPasscode)
	wantErr(t, err, fault.ErrLocked)
	// The store reserves no try for an operation no longer pending; the answer is the lock, not the
	// operation's state.
	_, err = e.svc.FinishApproval(e.ctx, canceled.ID, late.in)
	wantErr(t, err, fault.ErrLocked)
	_, err = e.approve(e.payment(u.ID, "2.00"), d, testPasscode)
	wantErr(t, err, fault.ErrLocked)
	if got := e.user(u.ID); got.PasscodeFailed != webauthn.DefaultPasscodeMaxFailures || len(e.passkeysOf(u.ID)) != 1 {
		t.Fatalf("after the refusals: %d tries charged, %d passkeys; want %d and 1", got.PasscodeFailed,
			len(e.passkeysOf(u.ID)), webauthn.DefaultPasscodeMaxFailures)
	}
}

func TestChangePasscode(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-change")
	sess := e.session(u.ID)
	change := func(oldPC, newPC string) error {
		b, err := e.svc.BeginPasscodeChange(e.ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		return e.svc.FinishPasscodeChange(e.ctx, sess, webauthn.PasscodeChange{CeremonyID: b.CeremonyID,
			Credential: d.assert(t, b.PublicKey), Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, oldPC),
			NewPasscode: seal(t, b.HPKE, webauthn.FieldNewPasscode, newPC)})
	}
	wantErr(t, change("000001", "975319"), fault.ErrUnauthenticated)
	if e.user(u.ID).PasscodeFailed != 1 {
		t.Fatal("wrong old passcode not counted")
	}
	var inv *fault.InvalidError
	if err := change(testPasscode, "111111"); !errors.As(err, &inv) || inv.Problems[0].Field != "new_passcode" {
		t.Fatalf("weak new passcode: %v", err)
	}
	if err := change(testPasscode, "975319"); err != nil {
		t.Fatal(err)
	}
	if e.user(u.ID).PasscodeFailed != 0 {
		t.Fatal("failures not reset")
	}
	// The change's verified assertion moved the passkey's signature counter (WebAuthn L3 §7.2 step 22), as
	// an approval's does.
	if got := e.passkey(u.ID).Counter; got != int64(d.cred.Counter) {
		t.Fatalf("passkey counter %d after the change, want the asserted %d", got, d.cred.Counter)
	}
	_, err := e.approve(e.payment(u.ID, "1.00"), d, testPasscode)
	wantErr(t, err, fault.ErrUnauthenticated)
	if _, err := e.approve(e.payment(u.ID, "1.00"), d, "975319"); err != nil {
		t.Fatal(err)
	}
	t.Run("old and new ciphertexts cannot be swapped", func(t *testing.T) {
		b, _ := e.svc.BeginPasscodeChange(e.ctx, sess)
		err := e.svc.FinishPasscodeChange(e.ctx, sess, webauthn.PasscodeChange{CeremonyID: b.CeremonyID,
			Credential: d.assert(t, b.PublicKey), Passcode: seal(t, b.HPKE, webauthn.FieldNewPasscode, "975319"),
			NewPasscode: seal(t, b.HPKE, webauthn.FieldPasscode, "246813")})
		wantErr(t, err, fault.ErrUnauthenticated)
	})
}

// A passcode change or reset refused for its new passcode names the problem on the new_passcode field
// with the reason the policy or the envelope parser gave (the page shows it next to that field), not the
// parser's own "passcode: …" text, and charges no passcode try.
func TestNewPasscodeRefusalNamesTheProblem(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("cust-new-invalid")
	sess := e.session(u.ID)
	sealed := func(pc string) func(*webauthn.HPKEParams) []byte {
		return func(hp *webauthn.HPKEParams) []byte { return seal(t, hp, webauthn.FieldNewPasscode, pc) }
	}
	raw := func(b string) func(*webauthn.HPKEParams) []byte {
		return func(*webauthn.HPKEParams) []byte { return []byte(b) }
	}
	change := func(newPC func(*webauthn.HPKEParams) []byte) error {
		b, err := e.svc.BeginPasscodeChange(e.ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		return e.svc.FinishPasscodeChange(e.ctx, sess, webauthn.PasscodeChange{CeremonyID: b.CeremonyID,
			Credential: d.assert(t, b.PublicKey), Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode),
			NewPasscode: newPC(b.HPKE)})
	}
	reset := func(newPC func(*webauthn.HPKEParams) []byte) error {
		rsess := e.resetSession(u.ID)
		b, err := e.svc.BeginPasscodeReset(e.ctx, rsess)
		if err != nil {
			t.Fatal(err)
		}
		return e.svc.FinishPasscodeReset(e.ctx, rsess, webauthn.PasscodeReset{CeremonyID: b.CeremonyID,
			Credential: d.assert(t, b.PublicKey), NewPasscode: newPC(b.HPKE)})
	}
	tests := []struct {
		name   string
		finish func(func(*webauthn.HPKEParams) []byte) error
		newPC  func(*webauthn.HPKEParams) []byte
		reason string
	}{
		{"change, same digit repeated", change, sealed("777777"), "must not be the same digit repeated"},
		{"change, descending run", change, sealed("987654"), "must not be a straight run of consecutive digits, ascending or descending"},
		{"change, too short (its ciphertext's length shows it)", change, sealed("4829"),
			"ct must be base64url of an AES-128-GCM ciphertext of 6 to 12 digits"},
		{"change, not an envelope", change, raw(`"482916"`), `must be an object {"enc","ct"} of base64url strings`},
		{"change, no new passcode", change, raw(""), "is required"},
		{"reset, ascending run", reset, sealed("0123456"), "must not be a straight run of consecutive digits, ascending or descending"},
		{"reset, letters", reset, sealed("48291a"), "must contain digits only"},
		{"reset, not an envelope", reset, raw(`{"enc":"AA"}`), "enc must be base64url of an uncompressed P-256 point (65 bytes)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.finish(tc.newPC)
			var inv *fault.InvalidError
			want := []fault.FieldProblem{{Field: "new_passcode", Reason: tc.reason}}
			if !errors.As(err, &inv) || !slices.Equal(inv.Problems, want) {
				t.Fatalf("refusal %v, want %v", err, want)
			}
			if got := e.user(u.ID); got.PasscodeFailed != 0 || got.PasscodeLocked {
				t.Fatalf("passcode tries charged %d, locked %v", got.PasscodeFailed, got.PasscodeLocked)
			}
		})
	}
	// The passcode is still the old one.
	if _, err := e.approve(e.payment(u.ID, "1.00"), d, testPasscode); err != nil {
		t.Fatal(err)
	}
}

func TestPasscodeKey(t *testing.T) {
	k1, k2 := newKEK(t), newKEK(t)
	ringA, _ := kek.New([][]byte{k1})
	e := newEnv(t, nil)
	svcA, err := webauthn.New(e.st, e.ops, e.audit, ringA, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	svcB, _ := webauthn.New(e.st, e.ops, e.audit, ringA, e.cfg)
	a, _ := svcA.PasscodeKey()
	b, _ := svcB.PasscodeKey()
	if a != b || a.KEMID != 0x10 || a.KDFID != 1 || a.AEADID != 1 {
		t.Fatalf("replicas disagree or wrong suite: %+v %+v", a, b)
	}
	pub, _ := base64.RawURLEncoding.DecodeString(a.PublicKey)
	if len(pub) != 65 || pub[0] != 4 {
		t.Fatalf("public key %x", pub)
	}

	t.Run("a ceremony begun before a KEK rotation still decrypts", func(t *testing.T) {
		u, d := e.enrolled("cust-rotate") // passcode verifier under e.ring's KEK
		op := e.payment(u.ID, "4.00")
		a := e.prepare(op, d, txsign.Approve, testPasscode)
		rotated, _ := kek.New([][]byte{k2, e.kek})
		svc, err := webauthn.New(e.st, e.ops, e.audit, rotated, e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.FinishApproval(e.ctx, op.ID, a.in); err != nil {
			t.Fatal(err)
		}
		// The verifier was re-keyed under the new first KEK on success.
		ringNew, _ := kek.New([][]byte{k2})
		svcNew, _ := webauthn.New(e.st, e.ops, e.audit, ringNew, e.cfg)
		op2 := e.payment(u.ID, "4.00")
		b, err := svcNew.BeginApproval(e.ctx, op2.ID, txsign.Approve)
		if err != nil {
			t.Fatal(err)
		}
		in := webauthn.ApprovalResult{CeremonyID: b.CeremonyID, Credential: d.assert(t, b.PublicKey),
			Passcode: seal(t, b.HPKE, webauthn.FieldPasscode, testPasscode)}
		if _, err := svcNew.FinishApproval(e.ctx, op2.ID, in); err != nil {
			t.Fatalf("after re-key: %v", err)
		}
	})
}

func TestPasscodePolicy(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"", false}, {"12345", false}, {"1234567890123", false}, {"12345a", false}, {"١٢٣٤٥٦", false},
		{" 482916", false}, {"482916\n", false},
		{"000000", false}, {"99999999", false}, {"123456", false}, {"654321", false}, {"0123456789", false},
		{"890123", false}, {"210987", false}, {"987654", false},
		{"482916", true}, {"112233", true}, {"123457", true}, {"000001", true}, {"135790", true}, {"246813579024", true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			_, err := webauthn.CheckPasscodePolicy([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
			var inv *fault.InvalidError
			if err != nil && (!errors.As(err, &inv) || strings.Contains(err.Error(), tc.in) && tc.in != "") {
				t.Fatalf("error %v must be a field problem that does not echo the passcode", err)
			}
		})
	}
}

func TestPasscodeNeverPrints(t *testing.T) {
	p, _ := webauthn.ParsePasscode([]byte(testPasscode))
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%v %s %+v %#v %q", p, p, p, p, p), p.LogValue().String()} {
		if strings.Contains(s, testPasscode) {
			t.Fatalf("passcode printed: %s", s)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	e := newEnv(t, nil)
	bad := []func(*webauthn.Config){
		func(c *webauthn.Config) { c.UserVerification = "sometimes" },
		func(c *webauthn.Config) { c.RPOrigins = []string{"http://localhost:8080/path"} },
		func(c *webauthn.Config) { c.OpenerOrigins = []string{"bank.example"} },
		func(c *webauthn.Config) { c.ReturnURLs = []string{"http://bank.example/cb"} },
		func(c *webauthn.Config) { c.Argon2 = webauthn.Argon2Params{MemoryKiB: 8, Time: 1, Threads: 1} },
		func(c *webauthn.Config) { c.PasscodeMaxFailures = -1 },
		func(c *webauthn.Config) { c.PasscodeMaxFailures = 11 },
		func(c *webauthn.Config) { c.PublicURL = "ftp://localhost:8080" },
		func(c *webauthn.Config) { c.RPOrigins = []string{"ftp://localhost:8080"} },
		func(c *webauthn.Config) { c.RPID = "127.0.0.1" },
	}
	for i, m := range bad {
		cfg := e.cfg
		m(&cfg)
		if _, err := webauthn.New(e.st, e.ops, e.audit, e.ring, cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	if d := webauthn.DefaultArgon2Params(); d.MemoryKiB != 19456 || d.Time != 2 || d.Threads != 1 {
		t.Fatalf("defaults %+v", d)
	}
	for _, pub := range []string{"https://signet.bank.example", "http://localhost:8080"} { // either scheme
		cfg := e.cfg
		cfg.PublicURL = pub
		if strings.HasPrefix(pub, "https:") {
			cfg.RPID, cfg.RPOrigins = "bank.example", []string{pub}
		}
		if _, err := webauthn.New(e.st, e.ops, e.audit, e.ring, cfg); err != nil {
			t.Errorf("PublicURL %s: %v", pub, err)
		}
	}
	for _, n := range []int{1, 10} { // the bounds of PasscodeMaxFailures, both accepted
		cfg := e.cfg
		cfg.PasscodeMaxFailures = n
		if _, err := webauthn.New(e.st, e.ops, e.audit, e.ring, cfg); err != nil {
			t.Errorf("PasscodeMaxFailures %d: %v", n, err)
		}
	}
	// The Argon2id bounds (memory 1024..4194304 KiB, time and threads 1..16) are inclusive; New only checks
	// them, so the largest values cost nothing here.
	for _, tc := range []struct {
		p  webauthn.Argon2Params
		ok bool
	}{
		{webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}, true},
		{webauthn.Argon2Params{MemoryKiB: 4 << 20, Time: 16, Threads: 16}, true},
		{webauthn.Argon2Params{MemoryKiB: 1023, Time: 1, Threads: 1}, false},
		{webauthn.Argon2Params{MemoryKiB: 4<<20 + 1, Time: 16, Threads: 16}, false},
		{webauthn.Argon2Params{MemoryKiB: 1024, Time: 0, Threads: 1}, false},
		{webauthn.Argon2Params{MemoryKiB: 1024, Time: 17, Threads: 1}, false},
		{webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 0}, false},
		{webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 17}, false},
	} {
		cfg := e.cfg
		cfg.Argon2 = tc.p
		if _, err := webauthn.New(e.st, e.ops, e.audit, e.ring, cfg); (err == nil) != tc.ok {
			t.Errorf("Argon2 %+v: %v, want accepted %v", tc.p, err, tc.ok)
		}
	}
}

func TestCheckReturnURL(t *testing.T) {
	allow := []string{"https://bank.example/sca/", "https://shop.example", "http://localhost:3000/done"}
	tests := []struct {
		in string
		ok bool
	}{
		{"https://bank.example/sca/", true},
		{"https://bank.example/sca/return?x=1", true},
		{"https://BANK.example/sca/cb", true},
		{"https://shop.example/anything", true},
		{"http://localhost:3000/done", true},
		{"http://localhost:3000/done/ok", true},
		{"http://localhost:3000/doneX", false},
		{"https://bank.example/scam", false},
		{"https://bank.example/sca/../admin", false},
		{"https://bank.example/sca/%2e%2e/admin", false},
		{"https://bank.example/sca/..%2fadmin", false},
		{"https://bank.example/sca\\..\\admin", false},
		{"http://bank.example/sca/", false},
		{"https://bank.example.evil/sca/", false},
		{"https://bank.example:444/sca/", false},
		{"https://user@bank.example/sca/", false},
		{"//bank.example/sca/", false},
		{"/sca/", false},
		{"javascript:alert(1)", false},
		{"https://evil.example/sca/", false},
		{"", false},
		// At most 2048 characters.
		{"https://bank.example/sca/" + strings.Repeat("a", 2048-len("https://bank.example/sca/")), true},
		{"https://bank.example/sca/" + strings.Repeat("a", 2049-len("https://bank.example/sca/")), false},
	}
	for _, tc := range tests {
		got, ok := webauthn.CheckReturnURL(allow, tc.in)
		if ok != tc.ok {
			t.Errorf("%q: ok=%v want %v (%q)", tc.in, ok, tc.ok, got)
		}
	}
}

func TestPasskeyRemovedDuringCeremony(t *testing.T) {
	e := newEnv(t, nil)
	u, d1 := e.enrolled("cust-two-keys")
	d2 := newDevice(virtualwebauthn.AuthenticatorOptions{})
	sess := e.session(u.ID)
	if _, err := e.enroll(sess, d2, testPasscode); err != nil {
		t.Fatal(err)
	}
	var first store.Credential
	for _, c := range e.passkeysOf(u.ID) {
		if c.LookupKey == base64.RawURLEncoding.EncodeToString(d1.cred.ID) {
			first = c
		}
	}
	opA, opB := e.payment(u.ID, "1.00"), e.payment(u.ID, "2.00")
	a := e.prepare(opA, d1, txsign.Approve, testPasscode)
	b := e.prepare(opB, d2, txsign.Approve, testPasscode)
	if err := e.svc.RemovePasskey(e.ctx, sess, first.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.FinishApproval(e.ctx, opA.ID, a.in)
	wantErr(t, err, fault.ErrUnauthenticated)
	if _, err := e.svc.FinishApproval(e.ctx, opB.ID, b.in); err != nil {
		t.Fatalf("the other passkey: %v", err)
	}
}
