package activation

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// TestRecoveryCodeFollowsActivation: the recovery code issued with an activation (PowerAuth 3.x, Activation
// Recovery, "Recovery Code States") is CREATED while the activation waits for its commit, becomes ACTIVE
// with the commit (powerauth-server ActivationServiceBehavior.commitActivation), and is REVOKED, its PUKs
// INVALID, when the activation expires before it was committed (removeActivationInternal revokes the codes of
// CREATED and PENDING_COMMIT activations), the revocation audited by the system. A code that stayed CREATED
// could become usable by a later confirmation although its activation never existed. Kills recovery.go:232
// (activateRecoveryCodes' err != nil → ==: the code never ACTIVE) and :288 (revokeCodesOf's: never REVOKED).
func TestRecoveryCodeFollowsActivation(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	if _, err := p.s.SetRecovery(ctx, "test", p.app.ID, RecoverySettings{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	exchanged := func(t *testing.T) string {
		t.Helper()
		a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID})
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: "phone"})
		if err != nil || !st.HasRecoveryData() {
			t.Fatalf("key exchange: %v, recovery data %v", err, st.HasRecoveryData())
		}
		p.wantCode(t, st.ActivationID, RecoveryCreated, PUKValid)
		return st.ActivationID
	}
	t.Run("committed", func(t *testing.T) {
		id := exchanged(t)
		if _, err := p.s.Commit(ctx, "test", id, ""); err != nil {
			t.Fatal(err)
		}
		p.wantCode(t, id, RecoveryActive, PUKValid)
	})
	t.Run("expired before its commit", func(t *testing.T) {
		id := exchanged(t)
		p.clock.Advance(DefaultActivationTTL)
		if a, err := p.s.Get(ctx, id); err != nil || a.Credential.Status != store.StatusRemoved {
			t.Fatalf("got %s, %v; want REMOVED", a.Credential.Status, err)
		}
		r := p.wantCode(t, id, RecoveryRevoked, PUKInvalid)
		evs, _, err := p.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Type == "powerauth.recovery.revoke" && ev.CredentialID == id {
				var evidence map[string]any
				if err := json.Unmarshal(ev.Evidence, &evidence); err != nil {
					t.Fatal(err)
				}
				if ev.Outcome != audit.Success || ev.Actor != "system" || ev.Reason != "activation expired before it was committed" ||
					evidence["recovery_code_id"] != r.ID {
					t.Fatalf("revocation audited as %s %s by %s (%q), evidence %v", ev.Type, ev.Outcome, ev.Actor, ev.Reason, evidence)
				}
				return
			}
		}
		t.Fatal("revocation not audited")
	})
}

// wantCode checks that activation id has exactly one recovery code, in status, every PUK in puk.
func (p *paFixture) wantCode(t *testing.T, id, status, puk string) RecoveryCode {
	t.Helper()
	codes, err := p.s.ListRecoveryCodes(context.Background(), p.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	var mine []RecoveryCode
	var statuses []string
	for _, r := range codes {
		if r.ActivationID == id {
			mine, statuses = append(mine, r), append(statuses, r.Status)
		}
	}
	if len(mine) != 1 || mine[0].Status != status || len(mine[0].PUKs) == 0 {
		t.Fatalf("recovery codes of the activation %v, want one %s", statuses, status)
	}
	for _, k := range mine[0].PUKs {
		if k.Status != puk {
			t.Fatalf("PUK %d %s, want %s", k.Index, k.Status, puk)
		}
	}
	return mine[0]
}

// TestRevokeRecoveryCodeByBank: the bank's revocation (powerauth-server RecoveryServiceBehavior
// .revokeRecoveryCodes) answers the code REVOKED with its VALID PUKs INVALID, audited with the bank as actor;
// revoking it again changes nothing and answers it as it is; an unknown code is not found. Covers
// recovery.go:719 (the revocation's err != nil → ==, which answered an empty code), which no test reached.
func TestRevokeRecoveryCodeByBank(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	if _, err := p.s.SetRecovery(ctx, "test", p.app.ID, RecoverySettings{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	st := p.activate(t, p.user, 0)
	id := p.wantCode(t, st.ActivationID, RecoveryActive, PUKValid).ID
	if _, err := p.s.RevokeRecoveryCode(ctx, "bank", "6b1e1c52-0d6b-4f43-9f2e-8a4c3c1d2e3f"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("unknown code: got %v, want %v", err, fault.ErrNotFound)
	}
	for i := 0; i < 2; i++ {
		r, err := p.s.RevokeRecoveryCode(ctx, "bank", id)
		if err != nil || r.ID != id || r.Status != RecoveryRevoked || len(r.PUKs) == 0 {
			t.Fatalf("revocation %d: got %s %s (%d PUKs), %v; want %s REVOKED", i+1, r.ID, r.Status, len(r.PUKs), err, id)
		}
		for _, k := range r.PUKs {
			if k.Status != PUKInvalid {
				t.Fatalf("revocation %d: PUK %d %s, want INVALID", i+1, k.Index, k.Status)
			}
		}
	}
	p.wantCode(t, st.ActivationID, RecoveryRevoked, PUKInvalid)
	ev, evidence := p.lastEvent(t)
	if ev.Type != "powerauth.recovery.revoke" || ev.Outcome != audit.Success || ev.Actor != "bank" ||
		ev.Reason != "revoked by the bank" || evidence["recovery_code_id"] != id {
		t.Fatalf("audited %s %s by %s (%q), evidence %v", ev.Type, ev.Outcome, ev.Actor, ev.Reason, evidence)
	}
	evs, _, err := p.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "powerauth.recovery.revoke" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d revocations audited, want 1 (the second changed nothing)", n)
	}
}
