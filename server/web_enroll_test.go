package server_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestWebDuplicatePasskeyAnswersLikeAnyRegistrationFailure (issue 13 item 10): registering a credential id
// that another user already has answers exactly what a bad attestation answers (status, type, title,
// detail: everything but the request id), so an enrollment link does not reveal that the credential
// exists elsewhere; the audit log names the real cause.
func TestWebDuplicatePasskeyAnswersLikeAnyRegistrationFailure(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	owner := newWebDevice(e.origin)
	e.enrollOverHTTP(t, e.createUser("web-dup-owner"), owner, "482916")

	register := func(userID string, d *webDevice) (response, string) {
		_, tok := e.enrollmentToken(userID)
		bearer := "Bearer " + e.mustDo(201, "POST", "/v1/web/enrollment/session", "-", map[string]any{"token": tok})["session"].(string)
		begin := e.mustDo(200, "POST", "/v1/web/enrollment/passkeys/begin", bearer, nil)
		r := e.do("POST", "/v1/web/enrollment/passkeys/finish", bearer, map[string]any{
			"ceremony_id": begin["ceremony_id"], "credential": d.register(t, begin),
			"passcode": sealPasscode(t, begin["hpke"].(map[string]any), "passcode", "482916"), "label": "Phone"})
		return r, userID
	}
	wrongOrigin := newWebDevice("http://evil.localhost:8080")
	bad, _ := register(e.createUser("web-dup-control"), wrongOrigin)
	dup, dupUser := register(e.createUser("web-dup-other"), owner)

	requestID := regexp.MustCompile(`"request_id":"[^"]*"`)
	normal := func(r response) string { return requestID.ReplaceAllString(string(r.body), `"request_id":""`) }
	if bad.status != 401 || dup.status != bad.status || normal(dup) != normal(bad) {
		t.Fatalf("duplicate credential id: %d %s\nbad attestation: %d %s", dup.status, dup.body, bad.status, bad.body)
	}
	evs := e.mustDo(200, "GET", "/v1/audit?user_id="+dupUser, "", nil)["events"].([]any)
	var reason string
	for _, ev := range evs {
		if m := ev.(map[string]any); m["type"] == "passkey.register" {
			reason, _ = m["reason"].(string)
		}
	}
	if !strings.HasPrefix(reason, "credential id already registered to another user") {
		t.Fatalf("audited reason %q", reason)
	}
	t.Run("positive control: a new passkey registers", func(t *testing.T) {
		if r, _ := register(e.createUser("web-dup-new"), newWebDevice(e.origin)); r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}
