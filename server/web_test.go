package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
	"github.com/google/uuid"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/web"
)

// webDevice is a software authenticator (descope/virtualwebauthn) driving the
// browser API over HTTP, as a browser would.
type webDevice struct {
	rp   virtualwebauthn.RelyingParty
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newWebDevice(origin string) *webDevice {
	return &webDevice{rp: virtualwebauthn.RelyingParty{ID: "localhost", Name: "Signet", Origin: origin},
		auth: virtualwebauthn.NewAuthenticator(), cred: virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)}
}

func (d *webDevice) register(t *testing.T, begin map[string]any) json.RawMessage {
	t.Helper()
	raw, _ := json.Marshal(begin["public_key"])
	opts, err := virtualwebauthn.ParseAttestationOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	d.auth.Options.UserHandle = []byte(opts.UserID)
	d.auth.AddCredential(d.cred)
	return json.RawMessage(virtualwebauthn.CreateAttestationResponse(d.rp, d.auth, d.cred, *opts))
}

func (d *webDevice) sign(t *testing.T, begin map[string]any) json.RawMessage {
	t.Helper()
	raw, _ := json.Marshal(begin["public_key"])
	opts, err := virtualwebauthn.ParseAssertionOptions(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	d.cred.Counter++
	return json.RawMessage(virtualwebauthn.CreateAssertionResponse(d.rp, d.auth, d.cred, *opts))
}

// enrollOverHTTP runs the whole enrollment through the browser API.
func (e *webEnv) enrollOverHTTP(t *testing.T, userID string, d *webDevice, passcode string) string {
	t.Helper()
	_, tok := e.enrollmentToken(userID)
	sess := e.mustDo(201, "POST", "/v1/web/enrollment/session", "-", map[string]any{"token": tok})["session"].(string)
	bearer := "Bearer " + sess
	begin := e.mustDo(200, "POST", "/v1/web/enrollment/passkeys/begin", bearer, nil)
	if begin["passcode"] != "new" {
		t.Fatalf("begin %v", begin)
	}
	e.mustDo(201, "POST", "/v1/web/enrollment/passkeys/finish", bearer, map[string]any{
		"ceremony_id": begin["ceremony_id"], "credential": d.register(t, begin),
		"passcode": sealPasscode(t, begin["hpke"].(map[string]any), "passcode", passcode), "label": "Phone"})
	return bearer
}

// capAuth is the Authorization header with operation opID's capability, as
// the approval page sends it.
func (e *webEnv) capAuth(opID string) string { return "Signet-Capability " + e.ops.Capability(opID) }

func TestWebApprovalOverHTTP(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("web-http-1")
	d := newWebDevice(e.origin)
	bearer := e.enrollOverHTTP(t, uid, d, "482916")

	st := e.mustDo(200, "GET", "/v1/web/enrollment/session", bearer, nil)
	if st["has_passcode"] != true || len(st["passkeys"].([]any)) != 1 {
		t.Fatalf("state %v", st)
	}
	op := e.payment(uid, "Alza.cz a.s.", "1250.00")
	opID := op["id"].(string)
	if cp, _ := op["capability"].(string); len(cp) != 43 || op["approval_url"] != e.origin+"/web/approve/"+opID+"#c="+cp {
		t.Fatalf("approval_url %v, capability %v", op["approval_url"], op["capability"])
	}
	view := e.mustDo(200, "GET", "/v1/web/operations/"+opID, e.capAuth(opID), nil)
	if view["user_id"] != nil || view["nonce"] != nil || view["amount"] != "1250.00" {
		t.Fatalf("browser view %v", view)
	}
	begin := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), map[string]any{"decision": "approve"})
	pk := begin["public_key"].(map[string]any)["publicKey"].(map[string]any)
	// The challenge is DL ‖ 16 random bytes of this ceremony (docs/dynamic-linking.md §3).
	challenge, _ := base64.RawURLEncoding.DecodeString(pk["challenge"].(string))
	dl, _ := base64.RawURLEncoding.DecodeString(op["dl"].(string))
	if len(challenge) != 48 || !bytes.Equal(challenge[:32], dl) || len(pk["allowCredentials"].([]any)) != 1 {
		t.Fatalf("request options %v (dl %v)", pk, op["dl"])
	}
	body := map[string]any{"ceremony_id": begin["ceremony_id"], "credential": d.sign(t, begin),
		"passcode": sealPasscode(t, begin["hpke"].(map[string]any), "passcode", "482916")}
	res := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), body)
	if res["status"] != "APPROVED" || res["token"] != nil {
		t.Fatalf("finish %v (the browser must not get the token)", res)
	}
	if r := e.do("POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), body); r.status != 401 {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	tok := e.mustDo(200, "GET", "/v1/operations/"+opID, "", nil)["token"].(string)
	e.mustDo(200, "POST", "/v1/tokens/consume", "", map[string]any{"token": tok})
	if r := e.do("POST", "/v1/tokens/consume", "", map[string]any{"token": tok}); r.status < 400 {
		t.Fatalf("second consume: %d %s", r.status, r.body)
	}

	t.Run("passcode lock and unlock", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "10.00")
		opID := op["id"].(string)
		for i := 0; i < 3; i++ {
			b := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), nil)
			r := e.do("POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), map[string]any{"ceremony_id": b["ceremony_id"],
				"credential": d.sign(t, b), "passcode": sealPasscode(t, b["hpke"].(map[string]any), "passcode", "135790")})
			if r.status != 401 {
				t.Fatalf("wrong passcode %d: %d %s", i, r.status, r.body)
			}
		}
		if r := e.do("POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), nil); r.status != 423 || r.json(t)["code"] != "locked" {
			t.Fatalf("locked: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/users/"+uid+"/passcode/unlock", "-", nil); r.status != 401 {
			t.Fatalf("unlock without API key: %d", r.status)
		}
		m := e.mustDo(200, "POST", "/v1/users/"+uid+"/passcode/unlock", "", nil)
		if m["passcode_locked"] != false || m["passcode_set"] != true {
			t.Fatalf("unlock %v", m)
		}
		b := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), nil)
		e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), map[string]any{"ceremony_id": b["ceremony_id"],
			"credential": d.sign(t, b), "passcode": sealPasscode(t, b["hpke"].(map[string]any), "passcode", "482916")})
	})
	t.Run("reject", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "11.00")
		opID := op["id"].(string)
		b := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), map[string]any{"decision": "reject"})
		if b["hpke"] != nil {
			t.Fatal("reject asks for a passcode")
		}
		r := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), map[string]any{"ceremony_id": b["ceremony_id"], "credential": d.sign(t, b)})
		if r["status"] != "REJECTED" {
			t.Fatalf("%v", r)
		}
	})
	t.Run("manage passkeys", func(t *testing.T) {
		id := st["passkeys"].([]any)[0].(map[string]any)["id"].(string)
		if m := e.mustDo(200, "PATCH", "/v1/web/enrollment/passkeys/"+id, bearer, map[string]any{"label": "Work"}); m["label"] != "Work" {
			t.Fatalf("rename %v", m)
		}
		if r := e.do("PATCH", "/v1/web/enrollment/passkeys/"+id, "-", map[string]any{"label": "x"}); r.status != 401 {
			t.Fatalf("rename without session: %d", r.status)
		}
		e.mustDo(204, "DELETE", "/v1/web/enrollment/session", bearer, nil)
		if r := e.do("GET", "/v1/web/enrollment/session", bearer, nil); r.status != 401 {
			t.Fatalf("closed session: %d", r.status)
		}
	})
}

func TestWebBadInputChangesNothing(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("web-bad")
	d := newWebDevice(e.origin)
	bearer := e.enrollOverHTTP(t, uid, d, "482916")
	op := e.payment(uid, "Alza.cz a.s.", "5.00")
	opID := op["id"].(string)
	before, _, _ := e.st.ListAudit(t.Context(), store.AuditFilter{Limit: 1000})
	unknown := uuid.NewString()
	ca := e.capAuth(opID)
	tests := []struct {
		name, method, path, auth string
		body                     any
		status                   int
	}{
		{"enrollment without API key", "POST", "/v1/users/" + uid + "/enrollments", "-", nil, 401},
		{"enrollment for unknown user", "POST", "/v1/users/" + unknown + "/enrollments", "", nil, 404},
		{"enrollment with bad id", "POST", "/v1/users/nope/enrollments", "", nil, 400},
		{"enrollment with unknown field", "POST", "/v1/users/" + uid + "/enrollments", "", `{"x":1}`, 400},
		{"unlock unknown user", "POST", "/v1/users/" + unknown + "/passcode/unlock", "", nil, 404},
		{"begin with bad decision", "POST", "/v1/web/operations/" + opID + "/approval/begin", ca, `{"decision":"maybe"}`, 400},
		{"begin with malformed json", "POST", "/v1/web/operations/" + opID + "/approval/begin", ca, `{"decision":`, 400},
		{"begin for unknown operation", "POST", "/v1/web/operations/" + unknown + "/approval/begin", "-", nil, 404},
		{"begin for unknown operation with its capability", "POST", "/v1/web/operations/" + unknown + "/approval/begin", e.capAuth(unknown), nil, 404},
		{"begin with bad operation id", "POST", "/v1/web/operations/x/approval/begin", "-", nil, 404},
		{"finish without ceremony", "POST", "/v1/web/operations/" + opID + "/approval/finish", ca, `{"credential":{}}`, 400},
		{"finish with garbage credential", "POST", "/v1/web/operations/" + opID + "/approval/finish", ca,
			map[string]any{"ceremony_id": unknown, "credential": map[string]any{"id": "x"}}, 400},
		{"finish with bad ceremony id", "POST", "/v1/web/operations/" + opID + "/approval/finish", ca,
			map[string]any{"ceremony_id": "x", "credential": json.RawMessage(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`)}, 400},
		{"finish with unknown field", "POST", "/v1/web/operations/" + opID + "/approval/finish", ca, `{"ceremony_id":"x","credential":{},"token":"t"}`, 400},
		{"finish not json", "POST", "/v1/web/operations/" + opID + "/approval/finish", ca, nil, 415},
		{"session with empty token", "POST", "/v1/web/enrollment/session", "-", `{"token":""}`, 400},
		{"state without session", "GET", "/v1/web/enrollment/session", "-", nil, 401},
		{"state with API key instead of session", "GET", "/v1/web/enrollment/session", "", nil, 401},
		{"rename with bad label", "PATCH", "/v1/web/enrollment/passkeys/" + unknown, bearer, `{"label":"a\u0000"}`, 400},
		{"rename unknown passkey", "PATCH", "/v1/web/enrollment/passkeys/" + unknown, bearer, `{"label":"a"}`, 404},
		{"passcode finish missing fields", "POST", "/v1/web/enrollment/passcode/finish", bearer, `{"ceremony_id":"x"}`, 400},
		{"operation view unknown", "GET", "/v1/web/operations/" + unknown, "-", nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.auth, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	after, _, _ := e.st.ListAudit(t.Context(), store.AuditFilter{Limit: 1000})
	if len(after) != len(before) {
		for _, ev := range after[len(before):] {
			t.Logf("new audit event %s %s %s", ev.Type, ev.Outcome, ev.Reason)
		}
		t.Fatalf("bad input wrote %d audit events", len(after)-len(before))
	}
	if o, _ := e.st.GetOperation(t.Context(), opID); o.Status != store.OpPending || o.FailedAttempts != 0 {
		t.Fatalf("operation changed: %s %d", o.Status, o.FailedAttempts)
	}
}

func TestWebPages(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("web-pages")
	op := e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "payment",
		"payee":  map[string]any{"account": "CZ6508000000192000145399", "name": `<script>alert("x")</script> & Co`},
		"amount": "99.5", "currency": "EUR", "text": "Invoice <b>42</b>"})
	opID := op["id"].(string)

	r := e.do("GET", "/web/approve/"+opID+"?amount=1&payee=Evil&return_url=https://bank.example/sca/back", "-", nil)
	page := string(r.body)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{`name="passcode"`, `type="submit"`, `name="reject"`, `role="status"`,
		`<label for="passcode" `, `data-return-url="https://bank.example/sca/back"`, `data-opener-origins="[&#34;https://bank.example&#34;]"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The page is a shell: the operation's data (payee, account, amount, text, status, type)
	// comes only through the browser API with the capability, so the URL alone shows none of it.
	for _, leak := range []string{"99.5", "EUR", "CZ6508000000192000145399", "CZ65 0800", "alert", "&amp; Co", "&lt;script", "Invoice", "PENDING", "payment", opID} {
		if strings.Contains(page, leak) {
			t.Errorf("the page shell contains %q", leak)
		}
	}
	if strings.Contains(page, "Evil") || strings.Contains(page, ">1<") {
		t.Error("page renders URL-supplied values")
	}
	if strings.Contains(page, "<script>") && !strings.Contains(page, `<script type="module" src="/web/static/approve.js"></script>`) {
		t.Error("inline script")
	}
	if other := e.do("GET", "/web/approve/"+uuid.NewString()+"?return_url=https://bank.example/sca/back", "-", nil); other.status != 200 || string(other.body) != page {
		t.Errorf("the shell of an unknown id differs from a real operation's (%d): the page reveals the id exists", other.status)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || r.header.Get("X-Frame-Options") != "DENY" ||
		r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.header)
	}
	if csp != web.ContentSecurityPolicy {
		t.Errorf("CSP differs from web.ContentSecurityPolicy")
	}

	t.Run("return_url outside the allow-list is dropped", func(t *testing.T) {
		for _, bad := range []string{"https://evil.example/sca/", "https://bank.example/scam", "javascript:alert(1)", "https://bank.example/sca/../x"} {
			r := e.do("GET", "/web/approve/"+opID+"?return_url="+bad, "-", nil)
			if strings.Contains(string(r.body), `data-return-url="`+"h") || strings.Contains(string(r.body), "evil") {
				t.Fatalf("%s kept: %s", bad, r.body)
			}
		}
	})
	t.Run("a canceled operation's status reaches only a capability holder", func(t *testing.T) {
		shell := e.do("GET", "/web/approve/"+opID, "-", nil).body
		e.mustDo(200, "POST", "/v1/operations/"+opID+"/cancel", "", nil)
		if r := e.do("GET", "/web/approve/"+opID, "-", nil); string(r.body) != string(shell) {
			t.Fatalf("the shell changed with the operation's status: %s", r.body)
		}
		if v := e.mustDo(200, "GET", "/v1/web/operations/"+opID, e.capAuth(opID), nil); v["status"] != "CANCELED" {
			t.Fatalf("view %v", v)
		}
	})
	t.Run("malformed approval id", func(t *testing.T) {
		r := e.do("GET", "/web/approve/not-an-id", "-", nil)
		if r.status != 404 || !strings.Contains(string(r.body), "not valid") || r.header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("enrollment page", func(t *testing.T) {
		r := e.do("GET", "/web/enroll", "-", nil)
		for _, want := range []string{`name="passcode"`, `name="passcode_confirm"`, `type="submit"`, `role="status"`, `<label for="passcode_confirm">`} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("enroll page lacks %q", want)
			}
		}
	})
	t.Run("assets", func(t *testing.T) {
		for _, p := range []string{"/web/static/app.css", "/web/static/approve.js", "/web/static/enroll.js", "/web/static/common.js", "/web/sdk/signet.js", "/web/sdk/hpke.js"} {
			r := e.do("GET", p, "-", nil)
			if r.status != 200 || r.header.Get("Content-Security-Policy") == "" || r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("%s: %d %v", p, r.status, r.header)
			}
			if strings.Contains(string(r.body), "http://") && strings.HasSuffix(p, ".js") {
				t.Errorf("%s references an absolute http URL", p)
			}
		}
		if r := e.do("GET", "/web/sdk/signet.js", "-", nil); r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Error("the SDK is not importable cross-origin")
		}
		for _, p := range []string{"/web/static/nope.js", "/web/static/..%2fweb.go", "/web/sdk/..%2f..%2fgo.mod"} {
			if r := e.do("GET", p, "-", nil); r.status != 404 {
				t.Errorf("%s: %d", p, r.status)
			}
		}
	})
	t.Run("headers stay under their prefixes", func(t *testing.T) {
		if r := e.do("GET", "/webhooks", "-", nil); r.header.Get("Content-Security-Policy") != "" {
			t.Fatal("/webhooks got the page headers")
		}
		if r := e.do("GET", "/v1/webhooks", "", nil, "Origin", e.origin); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatal("/v1/webhooks got CORS")
		}
	})
	t.Run("browser API CORS only for WebAuthn origins", func(t *testing.T) {
		r := e.do("OPTIONS", "/v1/web/passcode-key", "-", nil, "Origin", e.origin, "Access-Control-Request-Method", "POST")
		if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != e.origin {
			t.Fatalf("preflight %d %v", r.status, r.header)
		}
		r = e.do("GET", "/v1/web/passcode-key", "-", nil, "Origin", "https://evil.example")
		if r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("evil origin allowed: %v", r.header)
		}
		k := r.json(t)
		if k["kem_id"] != float64(16) || k["kdf_id"] != float64(1) || k["aead_id"] != float64(1) {
			t.Fatalf("key %v", k)
		}
	})
}
