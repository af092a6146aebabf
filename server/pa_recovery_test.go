package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	padevice "github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// recoveryApp creates an application with recovery and postcards enabled; it returns the application, the
// SDK configuration and the printing service's private key.
func (e *paEnv) recoveryApp(t *testing.T) (map[string]any, padevice.AppConfig, *powerauth.PrivateKey) {
	t.Helper()
	status, app := e.bank("POST", "/v1/applications", map[string]any{"name": "Recovery " + nextUser()})
	if status != 201 {
		t.Fatalf("create application: %d %v", status, app)
	}
	printer, err := powerauth.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	status, app = e.bank("POST", "/v1/applications/"+app["id"].(string)+"/recovery", map[string]any{"enabled": true,
		"printer_public_key": base64.StdEncoding.EncodeToString(printer.PublicKey().Bytes())})
	if status != 200 || app["recovery_enabled"] != true || app["postcard_public_key"] == nil {
		t.Fatalf("enable recovery: %d %v", status, app)
	}
	cfg, err := padevice.ParseAppConfig(app["mobile_sdk_config"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return app, cfg, printer
}

func (e *paEnv) recoveryCodes(t *testing.T, userID string) []map[string]any {
	t.Helper()
	status, r := e.bank("GET", "/v1/users/"+userID+"/recovery-codes", nil)
	if status != 200 {
		t.Fatalf("list recovery codes: %d %v", status, r)
	}
	var out []map[string]any
	for _, x := range r["recovery_codes"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

// codeWhere returns the one listed code for which match is true.
func codeWhere(t *testing.T, codes []map[string]any, match func(map[string]any) bool) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, c := range codes {
		if match(c) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d codes match among %v", len(found), codes)
	}
	return found[0]
}

func ofActivation(id string) func(map[string]any) bool {
	return func(c map[string]any) bool { return c["activation_id"] == id }
}

func isPostcard(c map[string]any) bool { return c["activation_id"] == nil }

func pukStatuses(rc map[string]any) string {
	s := ""
	for _, p := range rc["puks"].([]any) {
		s += p.(map[string]any)["status"].(string) + " "
	}
	return s
}

// lastAudit is the newest audit event of type typ about the user.
func (e *paEnv) lastAudit(t *testing.T, userID, typ string) store.AuditEvent {
	t.Helper()
	evs, _, err := e.st.ListAudit(context.Background(), store.AuditFilter{UserID: userID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			return evs[i]
		}
	}
	t.Fatalf("no %s event for user %s", typ, userID)
	return store.AuditEvent{}
}

func wantPUKIndex(t *testing.T, err error, idx int) {
	t.Helper()
	var pe *padevice.Error
	if !errors.As(err, &pe) || pe.HTTPStatus != 400 || pe.Code != "INVALID_RECOVERY_CODE" || pe.CurrentRecoveryPukIndex != idx {
		t.Fatalf("got %#v (%v), want 400 INVALID_RECOVERY_CODE with currentRecoveryPukIndex %d", pe, err, idx)
	}
}

// testRecovery drives recovery with the device SDK over HTTP (PowerAuth 3.x, Activation via Recovery Code and
// Recovery Postcard): the code and PUK issued with an activation, confirmation, wrong PUKs, recovery that
// replaces the old activation, postcards rebuilt by a printing service, blocking at the limit, revocation.
func testRecovery(t *testing.T, e *paEnv, v powerauth.Version) {
	ctx := context.Background()
	app, cfg, printer := e.recoveryApp(t)
	userID := e.user(nextUser())
	status, a := e.bank("POST", "/v1/activations", map[string]any{"user_id": userID, "application_id": app["id"]})
	if status != 201 {
		t.Fatalf("init: %d %v", status, a)
	}
	c := e.client(v)
	st, err := c.Activate(ctx, cfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{Name: "old phone"})
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasRecoveryData() {
		t.Fatal("the activation answer of a recovery-enabled application carries no recovery data")
	}
	codes := e.recoveryCodes(t, userID)
	if len(codes) != 1 || codes[0]["status"] != "CREATED" || codes[0]["activation_id"] != st.ActivationID {
		t.Fatalf("before commit: %v", codes)
	}
	if status, r := e.bank("POST", "/v1/activations/"+st.ActivationID+"/commit", nil); status != 200 {
		t.Fatalf("commit: %d %v", status, r)
	}
	codes = e.recoveryCodes(t, userID)
	if codes[0]["status"] != "ACTIVE" || pukStatuses(codes[0]) != "VALID " {
		t.Fatalf("after commit: %v", codes)
	}
	rd, err := c.RecoveryData(ctx, st, paPIN)
	if err != nil {
		t.Fatal(err)
	}
	code, err := powerauth.ParseRecoveryCode(rd.RecoveryCode)
	if err != nil || len(rd.PUK) != 10 || codes[0]["recovery_code_masked"] != "XXXXX-XXXXX-XXXXX-"+string(code)[18:] {
		t.Fatalf("recovery data %q %q (%v), listed %v", rd.RecoveryCode, rd.PUK, err, codes[0])
	}

	t.Run("the bank's bad input is refused with the field named", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			body         map[string]any
			status       int
			field        string
		}{
			{"POST", "/v1/applications/" + app["id"].(string) + "/recovery", map[string]any{}, 400, "enabled"},
			{"POST", "/v1/applications/" + app["id"].(string) + "/recovery", map[string]any{"enabled": true, "printer_public_key": "AAAA"}, 400, "printer_public_key"},
			{"POST", "/v1/applications/00000000-0000-4000-8000-000000000000/recovery", map[string]any{"enabled": true}, 404, ""},
			{"POST", "/v1/recovery-codes", map[string]any{"user_id": userID, "application_id": app["id"], "puk_count": 101}, 400, "puk_count"},
			{"POST", "/v1/recovery-codes", map[string]any{"user_id": userID, "application_id": e.app["id"], "puk_count": 3}, 400, "application_id"},
			{"GET", "/v1/users/00000000-0000-4000-8000-000000000000/recovery-codes", nil, 404, ""},
		} {
			status, r := e.bank(tc.method, tc.path, tc.body)
			if status != tc.status || (tc.field != "" && !strings.Contains(fmt.Sprint(r), tc.field)) {
				t.Errorf("%s %s %v: %d %v; want %d naming %q", tc.method, tc.path, tc.body, status, r, tc.status, tc.field)
			}
		}
	})
	t.Run("confirming an active code answers alreadyConfirmed", func(t *testing.T) {
		already, err := c.ConfirmRecoveryCode(ctx, st, paPIN, powerauth.RecoveryQRPayload(code))
		if err != nil || !already {
			t.Fatalf("confirm = %v, %v", already, err)
		}
	})
	t.Run("another user's activation cannot confirm the code", func(t *testing.T) {
		other := e.user(nextUser())
		_, oa := e.bank("POST", "/v1/activations", map[string]any{"user_id": other, "application_id": app["id"], "commit_phase": "ON_KEY_EXCHANGE"})
		oc := e.client(v)
		ost, err := oc.Activate(ctx, cfg, oa["activation_code"].(string), paPIN, padevice.ActivateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = oc.ConfirmRecoveryCode(ctx, ost, paPIN, string(code))
		wantCode(t, err, 401, "ERR_AUTHENTICATION")
		if ev := e.lastAudit(t, other, "powerauth.recovery.confirm"); ev.Reason != "recovery code of another user" {
			t.Fatalf("audited %q", ev.Reason)
		}
		// Its own code was issued ACTIVE (committed on key exchange) and confirms.
		if already, err := oc.ConfirmRecoveryCode(ctx, ost, paPIN, mustRecoveryData(t, oc, ost).RecoveryCode); err != nil || !already {
			t.Fatalf("own code: %v %v", already, err)
		}
	})
	t.Run("an activation that expires uncommitted takes its code with it", func(t *testing.T) {
		u := e.user(nextUser())
		_, pa := e.bank("POST", "/v1/activations", map[string]any{"user_id": u, "application_id": app["id"], "expires_in": 60})
		pst, err := e.client(v).Activate(ctx, cfg, pa["activation_code"].(string), paPIN, padevice.ActivateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(61 * time.Second)
		if got := e.activation(pst.ActivationID); got["status"] != "REMOVED" {
			t.Fatalf("expired activation is %v", got["status"])
		}
		if c := e.recoveryCodes(t, u); len(c) != 1 || c[0]["status"] != "REVOKED" || pukStatuses(c[0]) != "INVALID " {
			t.Fatalf("the code of an expired activation: %v", c)
		}
	})

	var st2 *padevice.State
	t.Run("a wrong PUK counts and names the PUK to use; the right one replaces the activation", func(t *testing.T) {
		wrong := fmt.Sprintf("%010d", (atoi(rd.PUK)+1)%10_000_000_000)
		_, err := e.client(v).ActivateWithRecoveryCode(ctx, cfg, string(code), wrong, paPIN, padevice.ActivateOptions{})
		wantPUKIndex(t, err, 1)
		if ev := e.lastAudit(t, userID, "powerauth.activation.recovery"); ev.Reason != "wrong recovery PUK" || ev.Outcome != "failure" {
			t.Fatalf("audited %+v", ev)
		}
		if codes := e.recoveryCodes(t, userID); codes[0]["failed_attempts"] != float64(1) {
			t.Fatalf("after a wrong PUK: %v", codes[0])
		}
		c2 := e.client(v)
		st2, err = c2.ActivateWithRecoveryCode(ctx, cfg, rd.RecoveryCode, rd.PUK[:5]+"-"+rd.PUK[5:], paPIN, padevice.ActivateOptions{Name: "new phone"})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.activation(st2.ActivationID); got["status"] != "ACTIVE" || got["user_id"] != userID {
			t.Fatalf("recovered activation %v", got)
		}
		if got := e.activation(st.ActivationID); got["status"] != "REMOVED" {
			t.Fatalf("the replaced activation is %v", got["status"])
		}
		if err := c2.ValidateSignature(ctx, st2, powerauth.SignaturePossessionKnowledge, paPIN, []byte(`{}`)); err != nil {
			t.Fatalf("the recovered activation cannot sign: %v", err)
		}
		codes := e.recoveryCodes(t, userID)
		old, fresh := codeWhere(t, codes, ofActivation(st.ActivationID)), codeWhere(t, codes, ofActivation(st2.ActivationID))
		if len(codes) != 2 || old["status"] != "REVOKED" || pukStatuses(old) != "USED " || old["failed_attempts"] != float64(0) ||
			fresh["status"] != "ACTIVE" || !st2.HasRecoveryData() {
			t.Fatalf("after recovery: %v", codes)
		}
		_, err = e.client(v).ActivateWithRecoveryCode(ctx, cfg, rd.RecoveryCode, rd.PUK, paPIN, padevice.ActivateOptions{})
		wantCode(t, err, 400, "ERR_ACTIVATION")
		if ev := e.lastAudit(t, userID, "powerauth.activation.recovery"); ev.Reason != "recovery code is REVOKED" {
			t.Fatalf("reuse audited %q", ev.Reason)
		}
	})
	if st2 == nil {
		t.FailNow()
	}
	c2 := e.client(v)

	t.Run("postcard: rebuilt by the printing service, confirmed, used in order, blocked at the limit", func(t *testing.T) {
		status, rawPC := e.bankRaw("POST", "/v1/recovery-codes", map[string]any{"user_id": userID, "application_id": app["id"], "puk_count": 3})
		var pc map[string]any
		_ = json.Unmarshal(rawPC, &pc)
		if status != 201 || pc["status"] != "CREATED" || pc["activation_id"] != nil {
			t.Fatalf("issue postcard: %d %v", status, pc)
		}
		if status, r := e.bank("POST", "/v1/recovery-codes", map[string]any{"user_id": userID, "application_id": app["id"], "puk_count": 3}); status != 409 {
			t.Fatalf("second postcard: %d %v", status, r)
		}
		// The printing service: ECDH of its key with the application's postcard key, then the seed.
		postcardPub, err := powerauth.ParsePublicKeyBase64(app["postcard_public_key"].(string))
		if err != nil {
			t.Fatal(err)
		}
		secret, err := powerauth.PostcardKey(printer, postcardPub)
		if err != nil {
			t.Fatal(err)
		}
		nonce, _ := base64.StdEncoding.DecodeString(pc["nonce"].(string))
		seed := powerauth.RecoverySeed{Nonce: nonce}
		// The indexes are 64-bit integers: read them exactly (a float64 would round them).
		var exact struct {
			PUKs []struct {
				DerivationIndex json.Number `json:"derivation_index"`
			} `json:"puks"`
		}
		dec := json.NewDecoder(bytes.NewReader(rawPC))
		dec.UseNumber()
		if err := dec.Decode(&exact); err != nil || len(exact.PUKs) != 3 {
			t.Fatalf("postcard %s: %v", rawPC, err)
		}
		for _, p := range exact.PUKs {
			n, err := strconv.ParseInt(p.DerivationIndex.String(), 10, 64)
			if err != nil {
				t.Fatalf("derivation index %q: %v", p.DerivationIndex, err)
			}
			seed.PUKDerivationIndexes = append(seed.PUKDerivationIndexes, uint64(n))
		}
		card, err := powerauth.DeriveRecovery(secret, seed)
		if err != nil {
			t.Fatal(err)
		}
		if pc["recovery_code_masked"] != "XXXXX-XXXXX-XXXXX-"+string(card.Code)[18:] {
			t.Fatalf("the printing service rebuilt %s, the server masked %v", card.Code, pc["recovery_code_masked"])
		}
		if listed := codeWhere(t, e.recoveryCodes(t, userID), isPostcard); listed["nonce"] != nil ||
			listed["puks"].([]any)[0].(map[string]any)["derivation_index"] != nil {
			t.Fatalf("the seed is listed again: %v", listed)
		}
		// Not confirmed yet: refused.
		_, err = e.client(v).ActivateWithRecoveryCode(ctx, cfg, string(card.Code), string(card.PUKs[0]), paPIN, padevice.ActivateOptions{})
		wantCode(t, err, 400, "ERR_ACTIVATION")
		if ev := e.lastAudit(t, userID, "powerauth.activation.recovery"); ev.Reason != "recovery code is CREATED" {
			t.Fatalf("unconfirmed audited %q", ev.Reason)
		}
		already, err := c2.ConfirmRecoveryCode(ctx, st2, paPIN, "r:"+string(card.Code)) // typed: lower case corrected
		if err != nil || already {
			t.Fatalf("first confirmation = %v, %v", already, err)
		}
		// PUK 2 before PUK 1: wrong, the answer names PUK 1.
		_, err = e.client(v).ActivateWithRecoveryCode(ctx, cfg, string(card.Code), string(card.PUKs[1]), paPIN, padevice.ActivateOptions{})
		wantPUKIndex(t, err, 1)
		st3, err := e.client(v).ActivateWithRecoveryCode(ctx, cfg, string(card.Code), string(card.PUKs[0]), paPIN, padevice.ActivateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.activation(st2.ActivationID); got["status"] != "ACTIVE" {
			t.Fatalf("a postcard recovery removed activation %s: %v", st2.ActivationID, got["status"])
		}
		if got := e.activation(st3.ActivationID); got["status"] != "ACTIVE" {
			t.Fatalf("postcard activation %v", got)
		}
		pcNow := codeWhere(t, e.recoveryCodes(t, userID), isPostcard)
		if pcNow["status"] != "ACTIVE" || pukStatuses(pcNow) != "USED VALID VALID " {
			t.Fatalf("postcard after one recovery: %v", pcNow)
		}
		// Nine wrong PUKs each name PUK 2; the tenth blocks the code and invalidates PUK 2.
		for i := 1; i < 10; i++ {
			_, err = e.client(v).ActivateWithRecoveryCode(ctx, cfg, string(card.Code), "0000000000", paPIN, padevice.ActivateOptions{})
			wantPUKIndex(t, err, 2)
		}
		_, err = e.client(v).ActivateWithRecoveryCode(ctx, cfg, string(card.Code), "0000000000", paPIN, padevice.ActivateOptions{})
		wantCode(t, err, 400, "ERR_ACTIVATION")
		pcNow = codeWhere(t, e.recoveryCodes(t, userID), isPostcard)
		if pcNow["status"] != "BLOCKED" || pukStatuses(pcNow) != "USED INVALID VALID " || pcNow["failed_attempts"] != float64(10) {
			t.Fatalf("postcard after ten wrong PUKs: %v", pcNow)
		}
		_, err = e.client(v).ActivateWithRecoveryCode(ctx, cfg, string(card.Code), string(card.PUKs[1]), paPIN, padevice.ActivateOptions{})
		wantCode(t, err, 400, "ERR_ACTIVATION")
		if ev := e.lastAudit(t, userID, "powerauth.activation.recovery"); ev.Reason != "recovery code is BLOCKED" {
			t.Fatalf("blocked audited %q", ev.Reason)
		}
	})

	t.Run("one PUK recovers once, even when two devices race", func(t *testing.T) {
		u := e.user(nextUser())
		_, pa := e.bank("POST", "/v1/activations", map[string]any{"user_id": u, "application_id": app["id"], "commit_phase": "ON_KEY_EXCHANGE"})
		pc := e.client(v)
		pst, err := pc.Activate(ctx, cfg, pa["activation_code"].(string), paPIN, padevice.ActivateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		prd := mustRecoveryData(t, pc, pst)
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := e.client(v).ActivateWithRecoveryCode(ctx, cfg, prd.RecoveryCode, prd.PUK, paPIN, padevice.ActivateOptions{})
				errs <- err
			}()
		}
		ok := 0
		for range 2 {
			if err := <-errs; err == nil {
				ok++
			} else {
				wantCode(t, err, 400, "ERR_ACTIVATION")
			}
		}
		if ok != 1 {
			t.Fatalf("%d recoveries with one PUK succeeded", ok)
		}
		active := 0
		cs, _ := e.st.ListCredentials(ctx, store.CredentialFilter{UserID: u})
		for _, c := range cs {
			if c.Status == store.StatusActive {
				active++
			}
		}
		if active != 1 {
			t.Fatalf("%d ACTIVE activations after the race", active)
		}
	})
	t.Run("the bank revokes a code; it recovers nothing", func(t *testing.T) {
		rd2, err := c2.RecoveryData(ctx, st2, paPIN)
		if err != nil {
			t.Fatal(err)
		}
		id := codeWhere(t, e.recoveryCodes(t, userID), ofActivation(st2.ActivationID))["id"].(string)
		status, r := e.bank("POST", "/v1/recovery-codes/"+id+"/revoke", nil)
		if status != 200 || r["status"] != "REVOKED" || pukStatuses(r) != "INVALID " {
			t.Fatalf("revoke: %d %v", status, r)
		}
		_, err = e.client(v).ActivateWithRecoveryCode(ctx, cfg, rd2.RecoveryCode, rd2.PUK, paPIN, padevice.ActivateOptions{})
		wantCode(t, err, 400, "ERR_ACTIVATION")
		if got := e.activation(st2.ActivationID); got["status"] != "ACTIVE" {
			t.Fatalf("a refused recovery touched activation %s: %v", st2.ActivationID, got["status"])
		}
		if status, r := e.bank("POST", "/v1/recovery-codes/00000000-0000-4000-8000-000000000000/revoke", nil); status != 404 {
			t.Fatalf("revoke unknown: %d %v", status, r)
		}
	})
}

func (e *paEnv) bankRaw(method, path string, body any) (int, []byte) {
	e.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, e.url+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func mustRecoveryData(t *testing.T, c *padevice.Client, st *padevice.State) padevice.RecoveryData {
	t.Helper()
	rd, err := c.RecoveryData(context.Background(), st, paPIN)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
