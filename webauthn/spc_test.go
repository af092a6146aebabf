package webauthn_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webauthn"
)

var spcInstrument = webauthn.SPCInstrument{DisplayName: "Signet Bank current account", Icon: testOrigin + "/web/static/spc-icon.png"}

// spcEnv is a service that offers Secure Payment Confirmation: user
// verification required and an instrument with a name and an icon.
func spcEnv(t *testing.T) *env {
	return newEnv(t, func(c *webauthn.Config) {
		c.UserVerification = "required"
		c.SPCInstrument = spcInstrument
		c.CredentialMaxFailures = 100 // every refusal below with a verified assertion counts on the passkey
	})
}

// spcSign is what a browser returns from Secure Payment Confirmation for
// begin: d's assertion over begin's options, its clientDataJSON replaced by
// one of type typ whose payment member is the offered one (SPC
// CollectedClientAdditionalPaymentData) as edit leaves it, signed again by d
// over the same authenticator data (WebAuthn L3 §6.3.3: the signature covers
// authenticatorData || SHA-256(clientDataJSON)).
func (d *device) spcSign(t *testing.T, begin webauthn.AssertionOptions, typ string, edit func(p map[string]any)) []byte {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal(d.assert(t, begin.PublicKey), &a); err != nil {
		t.Fatal(err)
	}
	payment := map[string]any{"rpId": "localhost", "topOrigin": testOrigin, "payeeName": "Alza.cz a.s.",
		"paymentEntitiesLogos": []any{}, "total": map[string]any{"currency": "CZK", "value": "1250.00"},
		"instrument": map[string]any{"displayName": spcInstrument.DisplayName, "icon": spcInstrument.Icon}}
	edit(payment)
	cdj, _ := json.Marshal(map[string]any{"type": typ, "challenge": begin.PublicKey.Response.Challenge.String(),
		"origin": testOrigin, "crossOrigin": false, "payment": payment})
	resp := a["response"].(map[string]any)
	authData, err := base64.RawURLEncoding.DecodeString(resp["authenticatorData"].(string))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(authData, h[:]...))
	sig, err := d.cred.Key.Sign(digest[:])
	if err != nil {
		t.Fatal(err)
	}
	resp["clientDataJSON"] = base64.RawURLEncoding.EncodeToString(cdj)
	resp["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	out, _ := json.Marshal(a)
	return out
}

// TestSPCOffer: an approval offers Secure Payment Confirmation (SPC
// "Authentication": a SecurePaymentConfirmationRequest) only when the service
// requires user verification (SPC credentials are user-verifying, SPC
// "payment" extension registration steps) and has an instrument with both a
// display name and an icon, only to approve (never to reject), and only for
// an operation with a payee name, an amount and a currency (SPC needs a payee
// and a total). The offer holds this relying party, the ceremony's challenge
// and allowed credentials, the operation's payee and total exactly, the
// configured instrument and the ceremony timeout.
func TestSPCOffer(t *testing.T) {
	payment := txsign.NewOperation{Type: "payment", PayeeAccount: "CZ6508000000192000145399", PayeeName: "Alza.cz a.s.",
		Amount: "1250.00", Currency: "CZK"}
	noAmount := txsign.NewOperation{Type: "consent", PayeeAccount: "CZ6508000000192000145399", PayeeName: "Alza.cz a.s."}
	noPayee := txsign.NewOperation{Type: "login", Amount: "1250.00", Currency: "CZK"}
	required := func(c *webauthn.Config) { c.UserVerification = "required" }
	instrument := func(i webauthn.SPCInstrument) func(*webauthn.Config) {
		return func(c *webauthn.Config) { c.SPCInstrument = i }
	}
	tests := []struct {
		name     string
		cfg      []func(*webauthn.Config)
		op       txsign.NewOperation
		decision txsign.Decision
		offered  bool
	}{
		{"user verification preferred", []func(*webauthn.Config){instrument(spcInstrument)}, payment, txsign.Approve, false},
		{"no instrument", []func(*webauthn.Config){required}, payment, txsign.Approve, false},
		{"instrument without display name", []func(*webauthn.Config){required, instrument(webauthn.SPCInstrument{Icon: spcInstrument.Icon})},
			payment, txsign.Approve, false},
		{"instrument without icon", []func(*webauthn.Config){required, instrument(webauthn.SPCInstrument{DisplayName: spcInstrument.DisplayName})},
			payment, txsign.Approve, false},
		{"to reject", []func(*webauthn.Config){required, instrument(spcInstrument)}, payment, txsign.Reject, false},
		{"an operation without amount", []func(*webauthn.Config){required, instrument(spcInstrument)}, noAmount, txsign.Approve, false},
		{"an operation without payee name", []func(*webauthn.Config){required, instrument(spcInstrument)}, noPayee, txsign.Approve, false},
		{"a payment, to approve, UV required, a full instrument", []func(*webauthn.Config){required, instrument(spcInstrument)},
			payment, txsign.Approve, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *webauthn.Config) {
				c.CeremonyTimeout = 90 * time.Second
				for _, f := range tc.cfg {
					f(c)
				}
			})
			u, d := e.enrolled("cust-spc-offer")
			second := newDevice(virtualwebauthn.AuthenticatorOptions{})
			if _, err := e.enroll(e.session(u.ID), second, testPasscode); err != nil {
				t.Fatal(err)
			}
			in := tc.op
			in.UserID = u.ID
			op, _, err := e.ops.Create(e.ctx, "bank", in)
			if err != nil {
				t.Fatal(err)
			}
			begin, err := e.svc.BeginApproval(e.ctx, op.ID, tc.decision)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.offered {
				if begin.SPC != nil {
					t.Fatalf("offered %+v", *begin.SPC)
				}
				return
			}
			if begin.SPC == nil {
				t.Fatal("no SPC offered")
			}
			got := *begin.SPC
			want := webauthn.SPCRequest{RPID: "localhost", CredentialIDs: allowed(begin),
				Challenge: begin.PublicKey.Response.Challenge.String(), PayeeName: "Alza.cz a.s.", Instrument: spcInstrument,
				Total: webauthn.SPCAmount{Currency: "CZK", Value: "1250.00"}, TimeoutMS: 90000}
			if !slices.Equal(got.CredentialIDs, want.CredentialIDs) || len(got.CredentialIDs) != 2 ||
				!slices.Contains(got.CredentialIDs, credID(d)) || !slices.Contains(got.CredentialIDs, credID(second)) {
				t.Fatalf("credential ids %v, want the two passkeys %v", got.CredentialIDs, want.CredentialIDs)
			}
			if !reflect.DeepEqual(got, want) || got.Challenge == "" {
				t.Fatalf("offered %+v, want %+v", got, want)
			}
		})
	}
}

// TestSPCApproval: an SPC assertion (clientDataJSON of type "payment.get"
// with a payment member, signed by the passkey) approves when what the
// browser showed is the operation, and its evidence records what was shown;
// SPC "Verifying an Authentication Assertion": the relying party checks
// payment.rpId, topOrigin, payeeName/payeeOrigin, total and instrument. Each
// difference is refused as a failed attempt naming every differing field (a
// verified signature over something else than the operation); a payment
// member that is missing or incomplete proves nothing (unverified).
func TestSPCApproval(t *testing.T) {
	e := spcEnv(t)
	u, d := e.enrolled("cust-spc")
	const mismatch = "secure payment confirmation: what the browser showed is not the operation: "
	set := func(k string, v any) func(map[string]any) { return func(p map[string]any) { p[k] = v } }
	del := func(k string) func(map[string]any) { return func(p map[string]any) { delete(p, k) } }
	tests := []struct {
		name            string
		edit            func(map[string]any)
		outcome, reason string
	}{
		{"no payment member", func(p map[string]any) { clear(p) }, "unverified",
			"possession not proven: clientDataJSON has no complete payment member"},
		{"no rpId", del("rpId"), "unverified", "possession not proven: clientDataJSON has no complete payment member"},
		{"no topOrigin", del("topOrigin"), "unverified", "possession not proven: clientDataJSON has no complete payment member"},
		{"no total", del("total"), "unverified", "possession not proven: clientDataJSON has no complete payment member"},
		{"no instrument", del("instrument"), "unverified", "possession not proven: clientDataJSON has no complete payment member"},
		{"another relying party", set("rpId", "bank.example"), "failure", mismatch + "rpId differ"},
		{"a foreign top origin", set("topOrigin", "https://evil.example"), "failure", mismatch + "topOrigin differ"},
		{"another payee", set("payeeName", "Mallory s.r.o."), "failure", mismatch + "payeeName differ"},
		{"no payee name", del("payeeName"), "failure", mismatch + "payeeName differ"},
		{"a payee origin", set("payeeOrigin", "https://shop.example"), "failure", mismatch + "payeeOrigin differ"},
		{"another amount", set("total", map[string]any{"currency": "CZK", "value": "1.00"}), "failure", mismatch + "total differ"},
		{"another currency", set("total", map[string]any{"currency": "EUR", "value": "1250.00"}), "failure", mismatch + "total differ"},
		{"another instrument", set("instrument", map[string]any{"displayName": "Other card", "icon": spcInstrument.Icon}),
			"failure", mismatch + "instrument differ"},
		{"another icon", set("instrument", map[string]any{"displayName": spcInstrument.DisplayName, "icon": "https://evil.example/i.png"}),
			"failure", mismatch + "instrument differ"},
		{"everything at once", func(p map[string]any) {
			p["rpId"], p["topOrigin"], p["payeeName"], p["payeeOrigin"] = "bank.example", "https://evil.example", "M", "https://shop.example"
			p["total"] = map[string]any{"currency": "CZK", "value": "2.00"}
			p["instrument"] = map[string]any{"displayName": "Other card", "icon": spcInstrument.Icon}
		}, "failure", mismatch + "rpId, topOrigin, payeeName, payeeOrigin, total, instrument differ"},
		{"control: exactly the operation", func(map[string]any) {}, "success", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := e.payment(u.ID, "1250.00")
			begin, err := e.svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
			if err != nil || begin.SPC == nil {
				t.Fatalf("begin: SPC %v, %v", begin.SPC, err)
			}
			_, err = e.svc.FinishApproval(e.ctx, op.ID, webauthn.ApprovalResult{CeremonyID: begin.CeremonyID,
				Credential: d.spcSign(t, begin, "payment.get", tc.edit), Passcode: seal(t, begin.HPKE, webauthn.FieldPasscode, testPasscode)})
			ev := e.lastAudit(op.ID)
			if ev.Type != "operation.approve" || ev.Outcome != tc.outcome || ev.Reason != tc.reason {
				t.Fatalf("audited %s %s %q, want %s %q (error %v)", ev.Type, ev.Outcome, ev.Reason, tc.outcome, tc.reason, err)
			}
			got := e.op(op.ID)
			if tc.outcome == "success" {
				if err != nil || got.Status != store.OpApproved || got.Token == "" {
					t.Fatalf("control: %v, operation %s token %q", err, got.Status, got.Token)
				}
				shown, _ := evidenceExtra(t, ev)["spc"].(map[string]any)
				total, _ := shown["total"].(map[string]any)
				if shown["payee_name"] != "Alza.cz a.s." || total["currency"] != "CZK" || total["value"] != "1250.00" ||
					shown["instrument"] != spcInstrument.DisplayName || shown["top_origin"] != testOrigin || len(shown) != 4 {
					t.Fatalf("evidence spc %v", shown)
				}
				return
			}
			wantErr(t, err, fault.ErrUnauthenticated)
			if got.Status != store.OpPending || got.Token != "" {
				t.Fatalf("operation %s token %q", got.Status, got.Token)
			}
			if want := map[string]int{"unverified": 0, "failure": 1}[tc.outcome]; got.FailedAttempts != want {
				t.Fatalf("operation failed attempts %d, want %d", got.FailedAttempts, want)
			}
		})
	}
}

// TestSPCAssertionNotOffered: an SPC assertion is accepted only in a ceremony
// that offered SPC (SPC "Verifying an Authentication Assertion": the relying
// party expects payment.get only where it asked for it): in a ceremony that
// offered none (an operation without payee and amount, or a rejection) it
// proves no possession, whatever it signs, and counts nothing.
func TestSPCAssertionNotOffered(t *testing.T) {
	e := spcEnv(t)
	u, d := e.enrolled("cust-spc-not-offered")
	login, _, err := e.ops.Create(e.ctx, "bank", txsign.NewOperation{UserID: u.ID, Type: "login", Text: "Sign in"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		op       store.Operation
		decision txsign.Decision
	}{
		{"approving an operation without payee and amount", login, txsign.Approve},
		{"rejecting a payment", e.payment(u.ID, "1250.00"), txsign.Reject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			begin, err := e.svc.BeginApproval(e.ctx, tc.op.ID, tc.decision)
			if err != nil || begin.SPC != nil {
				t.Fatalf("begin: SPC %v, %v", begin.SPC, err)
			}
			in := webauthn.ApprovalResult{CeremonyID: begin.CeremonyID, Credential: d.spcSign(t, begin, "payment.get", func(map[string]any) {})}
			if tc.decision == txsign.Approve {
				in.Passcode = seal(t, begin.HPKE, webauthn.FieldPasscode, testPasscode)
			}
			_, err = e.svc.FinishApproval(e.ctx, tc.op.ID, in)
			wantErr(t, err, fault.ErrUnauthenticated)
			ev := e.lastAudit(tc.op.ID)
			if want := "possession not proven: authentication failed: this approval was not started for Secure Payment Confirmation"; ev.Outcome != "unverified" || ev.Reason != want {
				t.Fatalf("audited %s %q, want unverified %q", ev.Outcome, ev.Reason, want)
			}
			if got := e.op(tc.op.ID); got.Status != store.OpPending || got.FailedAttempts != 0 {
				t.Fatalf("operation %s, %d failed attempts", got.Status, got.FailedAttempts)
			}
		})
	}
}
