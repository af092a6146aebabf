package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// testUserInfo: the SDK's fetchUserInfo (activation-scope ECIES, sh1 /pa/generic/activation, unsigned) gets
// the claims of the activation's user, for 3.2 and 3.3; a replayed request, an activation that is not ACTIVE
// and a request naming another activation are refused with ERR_ENCRYPTION and audited.
func testUserInfo(t *testing.T, e *paEnv) {
	ctx := context.Background()
	for _, v := range []powerauth.Version{powerauth.Version32, powerauth.Version33} {
		t.Run(v.String(), func(t *testing.T) {
			ext := nextUser()
			c, st, _ := e.activeDevice(ext, v)
			claims, err := c.UserInfo(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if claims["sub"] != ext || claims["name"] != "Jana Nováková" || claims["updated_at"] == nil || len(claims) != 3 {
				t.Fatalf("claims %v", claims)
			}
		})
	}
	t.Run("replayed request", func(t *testing.T) {
		c, st, _ := e.activeDevice(nextUser(), powerauth.Version33)
		rec := &recorder{path: "/pa/v3/user/info"}
		c.HTTP = &http.Client{Transport: rec}
		if _, err := c.UserInfo(ctx, st); err != nil {
			t.Fatal(err)
		}
		if status, body := rec.replay(t, e.url); status != 400 || errCode(body) != "ERR_ENCRYPTION" {
			t.Fatalf("replay: %d %v", status, body)
		}
	})
	t.Run("blocked activation", func(t *testing.T) {
		c, st, _ := e.activeDevice(nextUser(), powerauth.Version33)
		if status, r := e.bank("POST", "/v1/credentials/"+st.ActivationID+"/block", map[string]any{"reason": "LOST_DEVICE"}); status != 200 {
			t.Fatalf("block: %d %v", status, r)
		}
		_, err := c.UserInfo(ctx, st)
		wantCode(t, err, 400, "ERR_ENCRYPTION")
		evs, _, err := e.st.ListAudit(ctx, store.AuditFilter{CredentialID: st.ActivationID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var audited bool
		for _, ev := range evs {
			audited = audited || (ev.Type == "powerauth.user.info" && strings.Contains(ev.Reason, "BLOCKED"))
		}
		if !audited {
			t.Fatal("the refusal is not audited")
		}
	})
	t.Run("another activation named in the header", func(t *testing.T) {
		c, st, _ := e.activeDevice(nextUser(), powerauth.Version32)
		_, other, _ := e.activeDevice(nextUser(), powerauth.Version32)
		forged := *st
		forged.ActivationID = other.ActivationID // encrypted with st's keys, claimed as other's
		_, err := c.UserInfo(ctx, &forged)
		wantCode(t, err, 400, "ERR_ENCRYPTION")
	})
}

func errCode(body map[string]any) string {
	ro, _ := body["responseObject"].(map[string]any)
	code, _ := ro["code"].(string)
	return code
}
