package server_test

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/webauthn"
)

// spcSign turns an assertion of d over begin's options into what a browser
// returns from Secure Payment Confirmation: clientDataJSON of type
// "payment.get" with the payment member edit makes of the offered one, signed
// again by the same authenticator over the same authenticator data.
func (d *webDevice) spcSign(t *testing.T, begin map[string]any, typ string, edit func(p map[string]any)) json.RawMessage {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal(d.sign(t, begin), &a); err != nil {
		t.Fatal(err)
	}
	spc, _ := begin["spc"].(map[string]any)
	if spc == nil {
		spc = map[string]any{"payee_name": "x", "total": map[string]any{}, "instrument": map[string]any{}}
	}
	pk := begin["public_key"].(map[string]any)["publicKey"].(map[string]any)
	payment := map[string]any{"rpId": "localhost", "topOrigin": d.rp.Origin, "payeeName": spc["payee_name"],
		"paymentEntitiesLogos": []any{}, "total": spc["total"], "instrument": spc["instrument"]}
	edit(payment)
	cdj, _ := json.Marshal(map[string]any{"type": typ, "challenge": pk["challenge"], "origin": d.rp.Origin,
		"crossOrigin": false, "payment": payment})
	resp := a["response"].(map[string]any)
	authData, _ := base64.RawURLEncoding.DecodeString(resp["authenticatorData"].(string))
	h := sha256.Sum256(cdj)
	digest := crypto.SHA256.New()
	digest.Write(append(authData, h[:]...))
	sig, err := d.cred.Key.Sign(digest.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	resp["clientDataJSON"] = base64.RawURLEncoding.EncodeToString(cdj)
	resp["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	out, _ := json.Marshal(a)
	return out
}

// TestWebSPCOverHTTP: what the browser showed in its Secure Payment
// Confirmation dialog (the payment member of a payment.get clientDataJSON)
// must be the operation, field by field, on top of the passkey and passcode.
func TestWebSPCOverHTTP(t *testing.T) {
	instrument := webauthn.SPCInstrument{DisplayName: "Signet Bank current account", Icon: "http://localhost:8080/web/static/spc-icon.png"}
	e := newWebEnv(t, webEnvOpts{mutate: func(c *webauthn.Config) {
		c.UserVerification = "required"
		c.SPCInstrument = instrument
		c.CredentialMaxFailures = 100 // every refusal below with a verified assertion counts on the passkey
	}})
	uid := e.createUser("web-spc-1")
	d := newWebDevice(e.origin)
	bearer := e.enrollOverHTTP(t, uid, d, "482916")

	// Enrollment asks for a payment credential (SPC "payment" extension).
	begin := e.mustDo(200, "POST", "/v1/web/enrollment/passkeys/begin", bearer, nil)
	ext, _ := begin["public_key"].(map[string]any)["publicKey"].(map[string]any)["extensions"].(map[string]any)
	if p, _ := ext["payment"].(map[string]any); p["isPayment"] != true {
		t.Fatalf("registration extensions %v", ext)
	}

	approve := func(t *testing.T, op map[string]any, typ string, edit func(map[string]any)) (map[string]any, webResponse) {
		t.Helper()
		opID := op["id"].(string)
		begin := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), map[string]any{"decision": "approve"})
		body := map[string]any{"ceremony_id": begin["ceremony_id"], "credential": d.spcSign(t, begin, typ, edit),
			"passcode": sealPasscode(t, begin["hpke"].(map[string]any), "passcode", "482916")}
		return begin, e.do("POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), body)
	}
	lastReason := func(opID string) string {
		evs, _, _ := e.st.ListAudit(t.Context(), store.AuditFilter{OperationID: opID, Limit: 1000})
		return evs[len(evs)-1].Outcome + ": " + evs[len(evs)-1].Reason
	}
	set := func(k string, v any) func(map[string]any) { return func(p map[string]any) { p[k] = v } }

	for _, tc := range []struct {
		name, typ string
		edit      func(map[string]any)
		reason    string
	}{
		{"another amount", "payment.get", set("total", map[string]any{"currency": "CZK", "value": "1.00"}), "failure: secure payment confirmation: what the browser showed is not the operation: total differ"},
		{"another currency", "payment.get", set("total", map[string]any{"currency": "EUR", "value": "1250.00"}), "total differ"},
		{"the amount spelt otherwise", "payment.get", set("total", map[string]any{"currency": "CZK", "value": "1250.0"}), "total differ"},
		{"another payee", "payment.get", set("payeeName", "Mallory s.r.o."), "payeeName differ"},
		{"no payee name", "payment.get", func(p map[string]any) { delete(p, "payeeName") }, "payeeName differ"},
		{"a payee origin", "payment.get", set("payeeOrigin", "https://shop.example"), "payeeOrigin differ"},
		{"another instrument", "payment.get", set("instrument", map[string]any{"displayName": "Other card", "icon": instrument.Icon}), "instrument differ"},
		{"another icon", "payment.get", set("instrument", map[string]any{"displayName": instrument.DisplayName, "icon": "https://evil.example/i.png"}), "instrument differ"},
		{"another relying party", "payment.get", set("rpId", "bank.example"), "rpId differ"},
		{"a foreign top origin", "payment.get", set("topOrigin", "https://evil.example"), "topOrigin differ"},
		{"several at once", "payment.get", func(p map[string]any) {
			p["payeeName"] = "M"
			p["total"] = map[string]any{"currency": "CZK", "value": "2"}
		}, "payeeName, total differ"},
		{"no payment member", "payment.get", func(p map[string]any) { clear(p) }, "unverified: possession not proven: clientDataJSON has no complete payment member"},
		{"another type", "payment.create", func(map[string]any) {}, "unverified: possession not proven: assertion"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			op := e.payment(uid, "Alza.cz a.s.", "1250.00")
			begin, r := approve(t, op, tc.typ, tc.edit)
			spc := begin["spc"].(map[string]any)
			if spc["payee_name"] != "Alza.cz a.s." || spc["total"].(map[string]any)["value"] != "1250.00" || spc["challenge"] != begin["public_key"].(map[string]any)["publicKey"].(map[string]any)["challenge"] {
				t.Fatalf("offered %v", spc)
			}
			if r.status != 401 {
				t.Fatalf("finish: %d %s", r.status, r.body)
			}
			if got := lastReason(op["id"].(string)); !strings.Contains(got, tc.reason) {
				t.Fatalf("audit %q, want %q", got, tc.reason)
			}
			if s := e.operation(t, op["id"].(string)).Status; s != store.OpPending {
				t.Fatalf("operation %s", s)
			}
		})
	}

	t.Run("refused: an SPC assertion in a ceremony that offered none", func(t *testing.T) {
		op := e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "login", "text": "Sign in"})
		begin, r := approve(t, op, "payment.get", func(map[string]any) {})
		if begin["spc"] != nil || r.status != 401 {
			t.Fatalf("begin spc %v, finish %d %s", begin["spc"], r.status, r.body)
		}
		if got := lastReason(op["id"].(string)); !strings.Contains(got, "not started for Secure Payment Confirmation") {
			t.Fatalf("audit %q", got)
		}
	})

	t.Run("refused: no user verification", func(t *testing.T) {
		d.auth.Options.UserNotVerified = true
		defer func() { d.auth.Options.UserNotVerified = false }()
		op := e.payment(uid, "Alza.cz a.s.", "1250.00")
		if _, r := approve(t, op, "payment.get", func(map[string]any) {}); r.status != 401 {
			t.Fatalf("finish %d %s", r.status, r.body)
		}
		if got := lastReason(op["id"].(string)); !strings.Contains(got, "User verification required") {
			t.Fatalf("audit %q", got)
		}
	})

	t.Run("approved: exactly the operation", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "1250.00")
		if _, r := approve(t, op, "payment.get", func(map[string]any) {}); r.status != 200 {
			t.Fatalf("finish %d %s", r.status, r.body)
		}
		if got := lastReason(op["id"].(string)); !strings.HasPrefix(got, "success") {
			t.Fatalf("audit %q", got)
		}
	})

	t.Run("no SPC offered to reject", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "5.00")
		opID := op["id"].(string)
		if b := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), map[string]any{"decision": "reject"}); b["spc"] != nil {
			t.Fatalf("reject offered %v", b["spc"])
		}
	})
}

// TestWebSPCNotOffered: with user verification only preferred (the default)
// Signet offers no SPC and asks for no payment credential.
func TestWebSPCNotOffered(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{mutate: func(c *webauthn.Config) {
		c.SPCInstrument = webauthn.SPCInstrument{DisplayName: "Bank", Icon: "http://localhost:8080/web/static/spc-icon.png"}
	}})
	uid := e.createUser("web-spc-2")
	d := newWebDevice(e.origin)
	bearer := e.enrollOverHTTP(t, uid, d, "482916")
	begin := e.mustDo(200, "POST", "/v1/web/enrollment/passkeys/begin", bearer, nil)
	if ext := begin["public_key"].(map[string]any)["publicKey"].(map[string]any)["extensions"]; ext != nil {
		if _, ok := ext.(map[string]any)["payment"]; ok {
			t.Fatalf("registration extensions %v", ext)
		}
	}
	op := e.payment(uid, "Alza.cz a.s.", "1250.00")
	opID := op["id"].(string)
	if b := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), nil); b["spc"] != nil {
		t.Fatalf("offered %v", b["spc"])
	}
}
