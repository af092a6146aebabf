package activation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// TestActivationOTPPhase: the additional activation OTP (PowerAuth 3.x, "Additional Activation OTP";
// PowerAuth server ActivationOtpValidation ON_KEY_EXCHANGE / ON_COMMIT) is checked where the commit phase
// says and only there: with ON_KEY_EXCHANGE the device's OTP in level 2 of activation create is checked (a
// wrong one is a failed attempt, audited "wrong OTP") and the right one activates at once; with ON_COMMIT
// the device sends none, the key exchange leaves the activation PENDING_COMMIT and the bank's commit checks
// it. Kills keyexchange.go:201 claimCode's CommitPhase == CommitOnKeyExchange → !=.
func TestActivationOTPPhase(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	const otp = "123456"
	t.Run("ON_KEY_EXCHANGE", func(t *testing.T) {
		a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID, OTP: otp, CommitPhase: CommitOnKeyExchange})
		if err != nil {
			t.Fatal(err)
		}
		id := a.Credential.ID
		_, err = p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: "phone", OTP: "000000"})
		ev := p.wantRefused(t, err, "powerauth.activation.key_exchange", audit.Failure, "wrong OTP", id)
		wantNumber(t, ev, "failed_attempts", 1)
		if c := p.wantCounter(t, id, 0, 1); c.Status != store.StatusCreated {
			t.Fatalf("after a wrong OTP: %s, want CREATED", c.Status)
		}
		st, err := p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: "phone", OTP: otp})
		if err != nil {
			t.Fatalf("right OTP: %v", err)
		}
		if c := p.cred(t, st.ActivationID); c.Status != store.StatusActive {
			t.Fatalf("after the right OTP: %s, want ACTIVE", c.Status)
		}
	})
	t.Run("ON_COMMIT", func(t *testing.T) {
		a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID, OTP: otp, CommitPhase: CommitOnCommit})
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: "phone"})
		if err != nil {
			t.Fatalf("key exchange without the OTP: %v", err)
		}
		if c := p.wantCounter(t, st.ActivationID, 0, 0); c.Status != store.StatusPendingCommit {
			t.Fatalf("after the key exchange: %s, want PENDING_COMMIT", c.Status)
		}
		if got, err := p.s.Commit(ctx, "test", st.ActivationID, otp); err != nil || got.Credential.Status != store.StatusActive {
			t.Fatalf("commit with the OTP: %s, %v", got.Credential.Status, err)
		}
	})
}

// TestKeyExchangeAuditsRecoveryIssue: the key exchange's audit evidence says whether a recovery code was
// issued with the activation (PowerAuth 3.x, Activation Recovery: ActivationLayer2Response carries
// activationRecovery only when the application enables recovery), in step with what the device received.
// Kills keyexchange.go:276 "recovery_code_issued": rec != nil → ==.
func TestKeyExchangeAuditsRecoveryIssue(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	for _, enabled := range []bool{false, true} {
		if _, err := p.s.SetRecovery(ctx, "test", p.app.ID, RecoverySettings{Enabled: enabled}); err != nil {
			t.Fatal(err)
		}
		st := p.activate(t, p.user, 0)
		if st.HasRecoveryData() != enabled {
			t.Fatalf("recovery enabled %v: the device got recovery data %v", enabled, st.HasRecoveryData())
		}
		ev := keyExchangeEvent(t, p, st.ActivationID)
		if ev["recovery_code_issued"] != enabled {
			t.Fatalf("recovery enabled %v: evidence recovery_code_issued = %v", enabled, ev["recovery_code_issued"])
		}
	}
}

// keyExchangeEvent is the evidence of the successful key exchange of activation id.
func keyExchangeEvent(t *testing.T, p *paFixture, id string) map[string]any {
	t.Helper()
	evs, _, err := p.st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type == "powerauth.activation.key_exchange" && ev.Outcome == audit.Success && ev.CredentialID == id {
			var evidence map[string]any
			if err := json.Unmarshal(ev.Evidence, &evidence); err != nil {
				t.Fatal(err)
			}
			return evidence
		}
	}
	t.Fatalf("no key exchange of %s audited", id)
	return nil
}

// TestKeyExchangeCustomAttributes: level 1 of the answer (ActivationLayer1Response) carries customAttributes,
// the request's own when it sent some (powerauth-restful-integration ActivationService.createActivation
// answers the custom attributes it processed; Signet processes none, so they come back as sent) and an empty
// object, never null, when it sent none. The device here is written out by hand, as device.Client sends no
// customAttributes. Kills keyexchange.go:296 finishExchange's custom == nil → != (which would drop the sent
// attributes and answer null for none).
func TestKeyExchangeCustomAttributes(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	master, err := powerauth.ParsePublicKeyBase64(p.cfg.MasterPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, sent := range []map[string]any{nil, {"loyaltyCard": "A-17", "newsletter": true}} {
		a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID})
		if err != nil {
			t.Fatal(err)
		}
		cfg := powerauth.EciesConfig{Version: powerauth.Version32, Scope: powerauth.ScopeApplication,
			ApplicationKey: p.cfg.ApplicationKey, ApplicationSecret: powerauth.ApplicationSecret(p.cfg.ApplicationSecret)}
		devPriv, err := powerauth.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		l2, _ := json.Marshal(map[string]string{"devicePublicKey": base64.StdEncoding.EncodeToString(devPriv.PublicKey().Bytes()),
			"activationName": "phone"})
		cfg.SharedInfo1 = powerauth.SharedInfo1ActivationLayer2
		env2, _, err := cfg.SealRequest(master, l2, p.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		l1 := map[string]any{"type": TypeCode, "identityAttributes": map[string]string{"code": a.Code}, "activationData": env2}
		if sent != nil {
			l1["customAttributes"] = sent
		}
		raw1, _ := json.Marshal(l1)
		cfg.SharedInfo1 = powerauth.SharedInfo1ActivationLayer1
		env1, sess1, err := cfg.SealRequest(master, raw1, p.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(env1)
		answer, err := p.s.KeyExchange(ctx, `PowerAuth application_key="`+p.cfg.ApplicationKey+`", version="3.2"`, body)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := sess1.OpenResponse(answer)
		if err != nil {
			t.Fatal(err)
		}
		var layer1 struct {
			CustomAttributes json.RawMessage `json:"customAttributes"`
		}
		if err := json.Unmarshal(plain, &layer1); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(layer1.CustomAttributes, &got); err != nil || got == nil {
			t.Fatalf("sent %v: customAttributes %s, want an object", sent, layer1.CustomAttributes)
		}
		want := sent
		if want == nil {
			want = map[string]any{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("customAttributes %v, want %v", got, want)
		}
	}
}
