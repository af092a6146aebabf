package server_test

import (
	"strings"
	"testing"

	"github.com/signet-sca/signet/store"
)

// TestWebPasscodeReset: a forgotten, locked passcode. The bank issues a reset
// link; its session (and only such a session) resets the passcode with a
// passkey assertion and no old passcode; the lock clears, every step is
// audited, and the link and its session work once.
func TestWebPasscodeReset(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("reset")
	phone := newWebDevice(e.origin)
	enrollment := e.enrollOverHTTP(t, uid, phone, "482916")

	// Refusals first.
	nobody := e.createUser("reset-no-passkey")
	if r := e.do("POST", "/v1/users/"+nobody+"/passcode/reset", "", nil); r.status != 409 || !strings.Contains(string(r.body), "no active passkey") {
		t.Fatalf("reset for a user without passkey: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/users/"+uid+"/passcode/reset", "-", nil); r.status != 401 {
		t.Fatalf("reset without API key: %d", r.status)
	}
	if r := e.do("POST", "/v1/web/enrollment/passcode/reset/begin", enrollment, nil); r.status != 403 || !strings.Contains(string(r.body), "does not reset") {
		t.Fatalf("an enrollment session resets: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v1/web/enrollment/passcode/reset/finish", enrollment, `{"ceremony_id":"x"}`); r.status != 400 {
		t.Fatalf("finish missing fields: %d %s", r.status, r.body)
	}

	// The passcode is forgotten and locked.
	if _, err := e.st.UpdateUser(t.Context(), uid, func(u *store.User) error { u.PasscodeFailed, u.PasscodeLocked = 3, true; return nil }); err != nil {
		t.Fatal(err)
	}
	link := e.mustDo(201, "POST", "/v1/users/"+uid+"/passcode/reset", "", nil)
	_, tok, _ := strings.Cut(link["url"].(string), "#token=")
	if !strings.HasPrefix(link["url"].(string), e.origin+"/web/enroll#token=") {
		t.Fatalf("link %v", link)
	}
	bearer := "Bearer " + e.mustDo(201, "POST", "/v1/web/enrollment/session", "-", map[string]any{"token": tok})["session"].(string)
	if st := e.mustDo(200, "GET", "/v1/web/enrollment/session", bearer, nil); st["purpose"] != "passcode_reset" || st["passcode_locked"] != true {
		t.Fatalf("reset session state %v", st)
	}

	begin := e.mustDo(200, "POST", "/v1/web/enrollment/passcode/reset/begin", bearer, nil)
	hp := begin["hpke"].(map[string]any)
	// A weak new passcode is refused before anything is spent.
	if r := e.do("POST", "/v1/web/enrollment/passcode/reset/finish", bearer, map[string]any{"ceremony_id": begin["ceremony_id"],
		"credential": phone.sign(t, begin), "new_passcode": sealPasscode(t, hp, "new_passcode", "123456")}); r.status != 400 {
		t.Fatalf("weak new passcode: %d %s", r.status, r.body)
	}
	// Another authenticator proves nothing.
	stranger := newWebDevice(e.origin)
	stranger.auth.Options.UserHandle = phone.auth.Options.UserHandle
	stranger.auth.AddCredential(stranger.cred)
	if r := e.do("POST", "/v1/web/enrollment/passcode/reset/finish", bearer, map[string]any{"ceremony_id": begin["ceremony_id"],
		"credential": stranger.sign(t, begin), "new_passcode": sealPasscode(t, hp, "new_passcode", "975319")}); r.status != 401 {
		t.Fatalf("a stranger's passkey: %d %s", r.status, r.body)
	}
	// The user's own passkey, but signing another ceremony's challenge: the assertion does not verify.
	other := e.mustDo(200, "POST", "/v1/web/enrollment/passcode/reset/begin", bearer, nil)
	if r := e.do("POST", "/v1/web/enrollment/passcode/reset/finish", bearer, map[string]any{"ceremony_id": other["ceremony_id"],
		"credential": phone.sign(t, begin), "new_passcode": sealPasscode(t, other["hpke"].(map[string]any), "new_passcode", "975319")}); r.status != 401 {
		t.Fatalf("an assertion over another challenge: %d %s", r.status, r.body)
	}
	if u := e.mustDo(200, "GET", "/v1/users/"+uid, "", nil); u["passcode_status"] != "LOCKED" {
		t.Fatalf("after the refused reset: %v", u)
	}

	begin = e.mustDo(200, "POST", "/v1/web/enrollment/passcode/reset/begin", bearer, nil)
	e.mustDo(204, "POST", "/v1/web/enrollment/passcode/reset/finish", bearer, map[string]any{"ceremony_id": begin["ceremony_id"],
		"credential": phone.sign(t, begin), "new_passcode": sealPasscode(t, begin["hpke"].(map[string]any), "new_passcode", "975319")})
	if u := e.mustDo(200, "GET", "/v1/users/"+uid, "", nil); u["passcode_status"] != "SET" || u["passcode_tries_left"] != float64(3) {
		t.Fatalf("after the reset: %v", u)
	}

	// The session ended with the reset; the link was used.
	if r := e.do("GET", "/v1/web/enrollment/session", bearer, nil); r.status != 401 {
		t.Fatalf("the reset session lives on: %d", r.status)
	}
	if r := e.do("POST", "/v1/web/enrollment/session", "-", map[string]any{"token": tok}); r.status != 401 {
		t.Fatalf("the reset link opens twice: %d", r.status)
	}

	// The new passcode approves; the old one is gone.
	op := e.payment(uid, "Alza.cz a.s.", "10.00")
	id := op["id"].(string)
	b := e.mustDo(200, "POST", "/v1/web/operations/"+id+"/approval/begin", e.capAuth(id), nil)
	e.mustDo(200, "POST", "/v1/web/operations/"+id+"/approval/finish", e.capAuth(id), map[string]any{"ceremony_id": b["ceremony_id"],
		"credential": phone.sign(t, b), "passcode": sealPasscode(t, b["hpke"].(map[string]any), "passcode", "975319")})

	evs, _, _ := e.st.ListAudit(t.Context(), store.AuditFilter{UserID: uid, Limit: 1000})
	var seen []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Type, "passcode.reset") {
			seen = append(seen, ev.Type+":"+string(ev.Outcome))
		}
	}
	if got := strings.Join(seen, " "); got != "passcode.reset.issue:success passcode.reset:failure passcode.reset:failure passcode.reset:success" {
		t.Fatalf("audited %q", got)
	}
}
