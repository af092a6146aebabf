package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/store"
)

// TestOperationIDAloneGrantsNothing is the attacker's view of every public
// route on an operation: knowing the id, and anything short of the
// operation's own capability, gets exactly the answer an unknown id gets and
// learns nothing (payee, amount, status, passcode state, existence). The
// refusal's reason is counted (signet_operation_capability_refusals_total);
// nothing is audited or counted against the operation.
func TestOperationIDAloneGrantsNothing(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("cap-1")
	e.enrollOverHTTP(t, uid, newWebDevice(e.origin), "482916")
	credID := e.registerDeviceKey(uid)
	op := e.payment(uid, "Alza.cz a.s.", "1250.00")
	opID, capability := op["id"].(string), op["capability"].(string)
	other := e.payment(uid, "Other Payee s.r.o.", "7.00")
	unknown := uuid.NewString()
	if len(capability) != 43 || op["approval_url"] != e.origin+"/web/approve/"+opID+"#c="+capability {
		t.Fatalf("capability %q, approval_url %v", capability, op["approval_url"])
	}
	raw, _ := base64.RawURLEncoding.DecodeString(capability)
	flipped := append([]byte(nil), raw...)
	flipped[31] ^= 0x01
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	b64 := base64.RawURLEncoding.EncodeToString

	type endpoint struct {
		name, method, path string // path has {id} and may have a query
		body               any
		pass               int // status with the right capability
	}
	endpoints := []endpoint{
		{"page data", "GET", "/v1/web/operations/{id}", nil, 200},
		{"approval begin", "POST", "/v1/web/operations/{id}/approval/begin", map[string]any{"decision": "approve"}, 200},
		{"approval finish", "POST", "/v1/web/operations/{id}/approval/finish", map[string]any{"ceremony_id": uuid.NewString(),
			"credential": json.RawMessage(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`)}, 400},
		{"device signing-data", "GET", "/v1/operations/{id}/signing-data?credential_id=" + credID, nil, 200},
		// A body that fails validation: past the capability, but no signature is checked or counted.
		{"device approve", "POST", "/v1/operations/{id}/approve", map[string]any{"credential_id": credID, "signature": "!"}, 400},
		{"device reject", "POST", "/v1/operations/{id}/reject", map[string]any{"credential_id": credID, "signature": "!"}, 400},
	}
	attacks := []struct {
		name    string
		auth    string   // Authorization header ("-": none)
		query   string   // appended to the query
		headers []string // extra headers
		reason  string   // refusal counted; "" = must pass
	}{
		{"no capability", "-", "", nil, "missing"},
		{"random capability", "Signet-Capability " + b64(random), "", nil, "mismatch"},
		{"another operation's capability", "Signet-Capability " + other["capability"].(string), "", nil, "mismatch"},
		{"one bit flipped", "Signet-Capability " + b64(flipped), "", nil, "mismatch"},
		{"truncated", "Signet-Capability " + capability[:42], "", nil, "malformed"},
		{"truncated to 16 bytes", "Signet-Capability " + b64(raw[:16]), "", nil, "malformed"},
		{"the operation id as capability", "Signet-Capability " + opID, "", nil, "malformed"},
		{"in the query instead of the header", "-", "c=" + capability + "&capability=" + capability, nil, "missing"},
		{"as a Bearer token", "Bearer " + capability, "", nil, "missing"},
		{"in a header of its own", "-", "", []string{"Signet-Capability", capability}, "missing"},
		{"scheme without a value", "Signet-Capability", "", nil, "missing"},
		{"right capability, scheme in lower case", "signet-capability " + capability, "", nil, ""},
	}
	withQuery := func(path, q string) string {
		if q == "" {
			return path
		}
		if strings.Contains(path, "?") {
			return path + "&" + q
		}
		return path + "?" + q
	}
	// unknownAnswer: what a request for an operation that does not exist gets.
	unknownAnswer := func(t *testing.T, ep endpoint, auth string) map[string]any {
		t.Helper()
		path := strings.ReplaceAll(ep.path, "{id}", unknown)
		r := e.do(ep.method, path, auth, ep.body)
		if r.status != 404 {
			t.Fatalf("unknown operation: %d %s", r.status, r.body)
		}
		return normalProblem(t, r, path)
	}
	auditBefore, _, _ := e.st.ListAudit(t.Context(), store.AuditFilter{Limit: 1000})
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			// The genuine "no such operation" (with a well-formed capability of that id where
			// the route reads the operation before anything else) and the refusal must agree.
			want := unknownAnswer(t, ep, "-")
			if ep.pass == 200 {
				if got := unknownAnswer(t, ep, e.capAuth(unknown)); !maps.Equal(got, want) {
					t.Fatalf("an unknown operation answers %v, a refused capability %v", got, want)
				}
			}
			for _, a := range attacks {
				t.Run(a.name, func(t *testing.T) {
					path := withQuery(strings.ReplaceAll(ep.path, "{id}", opID), a.query)
					before := e.refusals(t)
					r := e.do(ep.method, path, a.auth, ep.body, a.headers...)
					after := e.refusals(t)
					if a.reason == "" {
						if r.status != ep.pass || !maps.Equal(after, before) {
							t.Fatalf("positive control: %d %s, want %d (refusals %v → %v)", r.status, r.body, ep.pass, before, after)
						}
						return
					}
					if r.status != 404 {
						t.Fatalf("status %d %s, want 404 as for an unknown operation", r.status, r.body)
					}
					got := normalProblem(t, r, path)
					if !maps.Equal(got, want) {
						t.Fatalf("refusal %v differs from an unknown operation's %v", got, want)
					}
					// The body without its random request id and the path it echoes (both may hold any digits).
					visible, _ := json.Marshal(got)
					for _, leak := range []string{"Alza", "1250", "CZK", "CZ6508", "PENDING", "passcode", "locked", "payment"} {
						if strings.Contains(string(visible), leak) {
							t.Fatalf("the refusal reveals %q: %s", leak, r.body)
						}
					}
					if r.header.Get("WWW-Authenticate") != "" {
						t.Fatal("a refusal must not ask for credentials: an unknown operation does not")
					}
					if after[a.reason] != before[a.reason]+1 {
						t.Fatalf("refusal reasons %v → %v, want one more %q", before, after, a.reason)
					}
				})
			}
		})
	}
	// Refusals write nothing: no audit event, no failed attempt on the operation.
	auditAfter, _, _ := e.st.ListAudit(t.Context(), store.AuditFilter{Limit: 1000})
	for _, ev := range auditAfter[len(auditBefore):] {
		if ev.Outcome == "failure" && ev.Reason != "unknown, expired or used approval ceremony" {
			t.Errorf("audited %s %s %q", ev.Type, ev.Outcome, ev.Reason)
		}
	}
	if o, _ := e.st.GetOperation(t.Context(), opID); o.Status != store.OpPending || o.FailedAttempts != 0 {
		t.Fatalf("operation changed: %s, %d failed attempts", o.Status, o.FailedAttempts)
	}
}

// normalProblem is a problem response without what differs per request (the
// request id; the instance, checked to be the request path).
func normalProblem(t *testing.T, r webResponse, path string) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q: %s", ct, r.body)
	}
	p := r.json(t)
	if inst, _ := p["instance"].(string); inst != strings.SplitN(path, "?", 2)[0] {
		t.Fatalf("instance %q for %s", inst, path)
	}
	delete(p, "request_id")
	delete(p, "instance")
	return p
}

// refusals reads the capability refusals counted so far, by reason.
func (e *webEnv) refusals(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, reason := range []string{"missing", "malformed", "mismatch"} {
		if n := metricValue(t, e.reg, "signet_operation_capability_refusals_total", map[string]string{"reason": reason}); n > 0 {
			out[reason] = int(n)
		}
	}
	return out
}

// registerDeviceKey registers a device key for userID and returns its credential id.
func (e *webEnv) registerDeviceKey(userID string) string {
	e.t.Helper()
	code := e.mustDo(201, "POST", "/v1/users/"+userID+"/registration-codes", "", nil)["code"].(string)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return e.mustDo(201, "POST", "/v1/devices", "-", map[string]any{"registration_code": code,
		"public_key": jwkOf(&key.PublicKey), "label": "Pixel"})["credential_id"].(string)
}
