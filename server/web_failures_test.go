package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/store"
)

// corruptAssertion flips one bit of a PublicKeyCredential.toJSON() assertion's signature.
func corruptAssertion(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	resp := m["response"].(map[string]any)
	sig, _ := base64.RawURLEncoding.DecodeString(resp["signature"].(string))
	sig[len(sig)/2] ^= 0x01
	resp["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	out, _ := json.Marshal(m)
	return out
}

// TestWebForgedFinishesCountNothing (issue 13 item 2) over HTTP: approval/begin is public and lists the
// user's passkeys, so anyone who knows an operation id can post finishes. Twenty forged ones leave the
// operation PENDING with 0 failed attempts, the passkey ACTIVE and the passcode unspent; the audit API
// shows each as unverified; the user then approves.
func TestWebForgedFinishesCountNothing(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("web-victim")
	d := newWebDevice(e.origin)
	e.enrollOverHTTP(t, uid, d, "482916")
	mallory := newWebDevice(e.origin)
	e.enrollOverHTTP(t, e.createUser("web-mallory"), mallory, "193755")
	impostor := newWebDevice(e.origin) // another key claiming the victim's credential id
	impostor.cred.ID = d.cred.ID
	impostor.auth.Options.UserHandle = d.auth.Options.UserHandle
	impostor.auth.AddCredential(impostor.cred)
	stranger := newWebDevice(e.origin) // a credential Signet never registered
	stranger.auth.Options.UserHandle = d.auth.Options.UserHandle
	stranger.auth.AddCredential(stranger.cred)

	opID := e.payment(uid, "Alza.cz a.s.", "7500.00")["id"].(string)
	path := "/v1/web/operations/" + opID + "/approval/"
	// reason is the start of the audited reason: each forgery is refused for its own cause.
	const badSignature = "possession not proven: assertion: Error validating the assertion signature"
	forgeries := []struct {
		name   string
		forge  func(begin map[string]any) json.RawMessage
		reason string
	}{
		{"corrupted signature", func(b map[string]any) json.RawMessage { return corruptAssertion(t, d.sign(t, b)) }, badSignature},
		{"another key claiming the victim's credential id", func(b map[string]any) json.RawMessage { return impostor.sign(t, b) }, badSignature},
		{"another user's valid passkey", func(b map[string]any) json.RawMessage { return mallory.sign(t, b) }, "credential belongs to another user"},
		// A browser never offers this one (allowCredentials lists the user's passkeys, so the
		// authenticator has nothing to sign with): the server itself must refuse it.
		{"a credential the user never enrolled", func(b map[string]any) json.RawMessage { return stranger.sign(t, b) }, "unknown passkey "},
	}
	for i := range 20 {
		f := forgeries[i%len(forgeries)]
		b := e.mustDo(200, "POST", path+"begin", e.capAuth(opID), map[string]any{"decision": "approve"})
		r := e.do("POST", path+"finish", e.capAuth(opID), map[string]any{"ceremony_id": b["ceremony_id"], "credential": f.forge(b),
			"passcode": sealPasscode(t, b["hpke"].(map[string]any), "passcode", "135790")})
		if r.status != 401 {
			t.Fatalf("%s: %d %s", f.name, r.status, r.body)
		}
		evs, _, _ := e.st.ListAudit(context.Background(), store.AuditFilter{OperationID: opID, Limit: 1000})
		if last := evs[len(evs)-1]; last.Type != "operation.approve" || last.Outcome != "unverified" || !strings.HasPrefix(last.Reason, f.reason) {
			t.Fatalf("%s: audited %s %s %q, want unverified %q", f.name, last.Type, last.Outcome, last.Reason, f.reason)
		}
	}
	op := e.mustDo(200, "GET", "/v1/operations/"+opID, "", nil)
	if op["status"] != "PENDING" || op["failed_attempts"] != float64(0) {
		t.Fatalf("after 20 forged finishes: %v with %v failed attempts, want PENDING with 0", op["status"], op["failed_attempts"])
	}
	ctx := context.Background()
	creds, _ := e.st.ListCredentials(ctx, store.CredentialFilter{UserID: uid, Kind: store.KindPasskey})
	u, _ := e.st.GetUser(ctx, uid)
	if len(creds) != 1 || creds[0].Status != store.StatusActive || creds[0].FailedAttempts != 0 || u.PasscodeFailed != 0 || u.PasscodeLocked {
		t.Fatalf("passkey %+v, passcode failed %d locked %v after forgeries", creds, u.PasscodeFailed, u.PasscodeLocked)
	}
	unverified := 0
	for _, ev := range e.mustDo(200, "GET", "/v1/audit?operation_id="+opID, "", nil)["events"].([]any) {
		m := ev.(map[string]any)
		if m["type"] != "operation.approve" {
			continue
		}
		if m["outcome"] != "unverified" || m["reason"] == "" {
			t.Fatalf("forged finish audited %v %q", m["outcome"], m["reason"])
		}
		unverified++
	}
	if unverified != 20 {
		t.Fatalf("%d unverified finishes in the audit API, want 20", unverified)
	}
	b := e.mustDo(200, "POST", path+"begin", e.capAuth(opID), map[string]any{"decision": "approve"})
	res := e.mustDo(200, "POST", path+"finish", e.capAuth(opID), map[string]any{"ceremony_id": b["ceremony_id"], "credential": d.sign(t, b),
		"passcode": sealPasscode(t, b["hpke"].(map[string]any), "passcode", "482916")})
	if res["status"] != "APPROVED" {
		t.Fatalf("the genuine user after forgeries: %v", res)
	}
	// The dispute evidence re-verifies the assertion offline: its challenge is DL ‖ 16 random bytes (item 7).
	r := e.do("GET", "/v1/operations/"+opID+"/evidence", "", nil)
	if r.status != 200 {
		t.Fatalf("evidence: %d %s", r.status, r.body)
	}
	rep := evidence.Verify(r.body, evidence.VerifyOptions{})
	for _, c := range rep.Checks {
		if c.Name == "signature" && (c.Result != evidence.Pass || !strings.Contains(c.Detail, "16 random bytes")) ||
			c.Name == "audit-trail" && !strings.Contains(c.Detail, "20 unverified") {
			t.Fatalf("evidence check %s: %s %s", c.Name, c.Result, c.Detail)
		}
	}
	if !rep.OK() {
		t.Fatalf("evidence of the passkey approval: %+v", rep.Checks)
	}
}
