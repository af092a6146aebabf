package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/signet-sca/signet/powerauth"
)

// testUpgrade: /pa/v3/upgrade/start and /commit as the SDK calls them (Activation-Upgrade.md). Every activation
// is on protocol 3, so both answer 400 ERR_UPGRADE as Wultra's server does; the start envelope is opened first,
// so a request naming another activation proves nothing about it.
func testUpgrade(t *testing.T, e *paEnv, v powerauth.Version) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), v)
	lastReason := func(typ string) string {
		t.Helper()
		return e.lastAudit(t, userID, typ).Reason
	}

	_, err := c.StartUpgrade(ctx, st)
	wantCode(t, err, 400, "ERR_UPGRADE")
	if r := lastReason("powerauth.activation.upgrade_start"); r != "activation is on protocol version 3: no upgrade" {
		t.Fatalf("start audited %q", r)
	}
	err = c.CommitUpgrade(ctx, st)
	wantCode(t, err, 400, "ERR_UPGRADE")
	if r := lastReason("powerauth.activation.upgrade_commit"); r != "activation is on protocol version 3: no upgrade" {
		t.Fatalf("commit audited %q", r)
	}

	// A commit signed with another possession key: 401, counted nowhere.
	forged := *st
	forged.PossessionKey = make([]byte, 16)
	wantCode(t, c.CommitUpgrade(ctx, &forged), 401, "ERR_AUTHENTICATION")

	// A start naming another activation, encrypted with this device's keys: the envelope does not open.
	_, other, otherUser := e.activeDevice(nextUser(), v)
	probe := *st
	probe.ActivationID = other.ActivationID
	_, err = c.StartUpgrade(ctx, &probe)
	if v == powerauth.Version33 {
		// 3.3 needs a temporary key for the other activation first, and the keystore refuses it.
		wantCode(t, err, 400, "ERR_TEMPORARY_KEY")
	} else {
		wantCode(t, err, 400, "ERR_UPGRADE")
		if r := e.lastAudit(t, otherUser, "powerauth.activation.upgrade_start").Reason; !strings.HasPrefix(r, "envelope:") {
			t.Fatalf("probe audited %q", r)
		}
	}

	// A blocked activation has no upgrade either, and says why.
	if status, r := e.bank("POST", "/v1/credentials/"+st.ActivationID+"/block", map[string]any{"reason": "LOST_DEVICE"}); status != 200 {
		t.Fatalf("block: %d %v", status, r)
	}
	_, err = c.StartUpgrade(ctx, st)
	wantCode(t, err, 400, "ERR_UPGRADE")
	if r := lastReason("powerauth.activation.upgrade_start"); r != "activation is BLOCKED" {
		t.Fatalf("blocked start audited %q", r)
	}
}
