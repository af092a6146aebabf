package server_test

import (
	"testing"

	"github.com/signet-sca/signet/webauthn"
)

// Past the passcode hashing queue the approval answers 503 with Retry-After
// before anything changed, and the same ceremony then approves (issue 17).
func TestWebApprovalBusyAnswers503WithRetryAfter(t *testing.T) {
	gate := webauthn.NewArgon2Gate(1, 0, webauthn.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1})
	e := newWebEnv(t, webEnvOpts{mutate: func(c *webauthn.Config) { c.Argon2Gate = gate }})
	uid := e.createUser("web-busy-1")
	d := newWebDevice(e.origin)
	e.enrollOverHTTP(t, uid, d, "482916")
	opID := e.payment(uid, "Alza.cz a.s.", "99.00")["id"].(string)
	begin := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/begin", e.capAuth(opID), map[string]any{"decision": "approve"})
	body := map[string]any{"ceremony_id": begin["ceremony_id"], "credential": d.sign(t, begin),
		"passcode": sealPasscode(t, begin["hpke"].(map[string]any), "passcode", "482916")}

	release, err := gate.Admit() // the one place in the hashing phase is taken
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), body)
	if r.status != 503 || r.header.Get("Retry-After") != "1" || r.json(t)["code"] != "unavailable" {
		t.Fatalf("busy: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if st := e.mustDo(200, "GET", "/v1/operations/"+opID, "", nil); st["status"] != "PENDING" {
		t.Fatalf("after the 503: %v", st["status"])
	}
	release()
	if res := e.mustDo(200, "POST", "/v1/web/operations/"+opID+"/approval/finish", e.capAuth(opID), body); res["status"] != "APPROVED" {
		t.Fatalf("retry of the same ceremony: %v", res)
	}
	if gate.Refused() != 1 || gate.Peak() != 1 {
		t.Fatalf("refused %d, peak %d", gate.Refused(), gate.Peak())
	}
}
