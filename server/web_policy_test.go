package server_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/mds"
	"github.com/signet-sca/signet/mds/mdstest"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/webauthn"
)

// TestWebPasskeyOnlyPolicy (issue 18 §2): for the operation types the bank
// names, a passkey whose assertion proves user verification, from an
// authenticator model its FIDO metadata BLOB allows, approves without the
// passcode; the token's amr/acr say so. Everything else still needs the passcode.
func TestWebPasskeyOnlyPolicy(t *testing.T) {
	const allowedAAGUID = "01020304-0506-0708-0102-030405060708"
	const uncertifiedAAGUID = "0a0b0c0d-0506-0708-0102-030405060708"
	ca := mdstest.New(t)
	root, err := mds.RootFromPEM(ca.RootPEM())
	if err != nil {
		t.Fatal(err)
	}
	next := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
	allow, err := mds.Load(ca.Blob(t, next,
		mdstest.Entry(allowedAAGUID, "Phone platform authenticator", []string{"FIDO_CERTIFIED_L1"}, "fingerprint_internal"),
		mdstest.Entry(uncertifiedAAGUID, "Uncertified key", []string{"NOT_FIDO_CERTIFIED"}, "passcode_internal")), root, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := newWebEnv(t, webEnvOpts{mutate: func(c *webauthn.Config) {
		c.PasskeyOnlyTypes = []string{"login"}
		c.Authenticators = allow
	}})
	device := func(aaguid string) *webDevice {
		d := newWebDevice(e.origin)
		id := uuid.MustParse(aaguid)
		copy(d.auth.Aaguid[:], id[:])
		return d
	}
	login := func(uid string) map[string]any {
		return e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "login", "text": "Sign in to internet banking"})
	}
	begin := func(op map[string]any) map[string]any {
		opID := op["id"].(string)
		return e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), map[string]any{"decision": "approve"})
	}
	finish := func(op map[string]any, body map[string]any) webResponse {
		opID := op["id"].(string)
		return e.do("POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), body)
	}
	lastAudit := func(opID string) string {
		evs, _, _ := e.st.ListAudit(t.Context(), store.AuditFilter{OperationID: opID, Limit: 1000})
		return evs[len(evs)-1].Outcome + ": " + evs[len(evs)-1].Reason
	}

	uid := e.createUser("policy-1")
	d := device(allowedAAGUID)
	e.enrollOverHTTP(t, uid, d, "482916")

	t.Run("refused: no user verification", func(t *testing.T) {
		d.auth.Options.UserNotVerified = true
		defer func() { d.auth.Options.UserNotVerified = false }()
		op := login(uid)
		b := begin(op)
		if b["passcode_optional"] != true || b["public_key"].(map[string]any)["publicKey"].(map[string]any)["userVerification"] != "required" {
			t.Fatalf("begin %v", b)
		}
		if r := finish(op, map[string]any{"ceremony_id": b["ceremony_id"], "credential": d.sign(t, b)}); r.status != 401 {
			t.Fatalf("finish %d %s", r.status, r.body)
		}
		if got := lastAudit(op["id"].(string)); !strings.Contains(got, "User verification required") {
			t.Fatalf("audit %q", got)
		}
	})

	t.Run("a payment still needs the passcode", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "10.00")
		b := begin(op)
		if b["passcode_optional"] != nil {
			t.Fatalf("begin %v", b)
		}
		if r := finish(op, map[string]any{"ceremony_id": b["ceremony_id"], "credential": d.sign(t, b)}); r.status != 400 || !strings.Contains(string(r.body), "passcode") {
			t.Fatalf("finish without passcode %d %s", r.status, r.body)
		}
	})

	t.Run("approved by the passkey alone; amr and acr say so", func(t *testing.T) {
		op := login(uid)
		b := begin(op)
		if r := finish(op, map[string]any{"ceremony_id": b["ceremony_id"], "credential": d.sign(t, b)}); r.status != 200 {
			t.Fatalf("finish %d %s", r.status, r.body)
		}
		tok := e.mustDo(200, "GET", "/v1/operations/"+op["id"].(string), "", nil)["token"].(string)
		if amr, acr := signettest.TokenAMR(t, tok); amr != "hwk,fpt,mfa" || acr != "urn:signet:acr:sca" {
			t.Fatalf("amr %q acr %q", amr, acr)
		}
		if got := lastAudit(op["id"].(string)); !strings.HasPrefix(got, "success") {
			t.Fatalf("audit %q", got)
		}
		if u := e.mustDo(200, "GET", "/v1/users/"+uid, "", nil); u["passcode_tries_left"] != float64(3) {
			t.Fatalf("tries left %v", u["passcode_tries_left"])
		}
	})

	t.Run("a passcode sent anyway is checked", func(t *testing.T) {
		op := login(uid)
		b := begin(op)
		body := map[string]any{"ceremony_id": b["ceremony_id"], "credential": d.sign(t, b),
			"passcode": sealPasscode(t, b["hpke"].(map[string]any), "passcode", "135790")}
		if r := finish(op, body); r.status != 401 {
			t.Fatalf("finish with a wrong passcode %d %s", r.status, r.body)
		}
		b = begin(op)
		body = map[string]any{"ceremony_id": b["ceremony_id"], "credential": d.sign(t, b),
			"passcode": sealPasscode(t, b["hpke"].(map[string]any), "passcode", "482916")}
		if r := finish(op, body); r.status != 200 {
			t.Fatalf("finish %d %s", r.status, r.body)
		}
		tok := e.mustDo(200, "GET", "/v1/operations/"+op["id"].(string), "", nil)["token"].(string)
		if amr, acr := signettest.TokenAMR(t, tok); amr != "hwk,pin,mfa" || acr != "urn:signet:acr:sca" {
			t.Fatalf("amr %q acr %q", amr, acr)
		}
	})

	t.Run("a model the metadata does not certify needs the passcode", func(t *testing.T) {
		uid := e.createUser("policy-2")
		d := device(uncertifiedAAGUID)
		e.enrollOverHTTP(t, uid, d, "482916")
		op := login(uid)
		b := begin(op)
		if b["passcode_optional"] != nil {
			t.Fatalf("begin %v", b)
		}
		if r := finish(op, map[string]any{"ceremony_id": b["ceremony_id"], "credential": d.sign(t, b)}); r.status != 400 {
			t.Fatalf("finish without passcode %d %s", r.status, r.body)
		}
	})

	t.Run("a user with both: only the allowed passkey is asked for", func(t *testing.T) {
		uid := e.createUser("policy-3")
		good, other := device(allowedAAGUID), device(uncertifiedAAGUID)
		bearer := e.enrollOverHTTP(t, uid, good, "482916")
		rb := e.mustDo(200, "POST", "/v1/web/enrollment/passkeys/begin", bearer, nil)
		e.mustDo(201, "POST", "/v1/web/enrollment/passkeys/finish", bearer, map[string]any{
			"ceremony_id": rb["ceremony_id"], "credential": other.register(t, rb),
			"passcode": sealPasscode(t, rb["hpke"].(map[string]any), "passcode", "482916"), "label": "Key"})
		op := login(uid)
		b := begin(op)
		allowed := b["public_key"].(map[string]any)["publicKey"].(map[string]any)["allowCredentials"].([]any)
		if len(allowed) != 1 || allowed[0].(map[string]any)["id"] != base64.RawURLEncoding.EncodeToString(good.cred.ID) {
			t.Fatalf("allowCredentials %v", allowed)
		}
	})
}
