package txsign_test

import (
	"context"
	"errors"
	"testing"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// TestSigningDataRefusals: only an ACTIVE credential of the operation's own user reads what to sign; every
// other credential gets the same 401, and the cause is audited for the bank.
func TestSigningDataRefusals(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc, u, _ := approvalFixture(t, clk, st)
	ctx := context.Background()
	op, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	blocked, _ := deviceKey(t, st, u.ID)
	blocked, _ = st.UpdateCredentialFrom(ctx, blocked, func(c *store.Credential) error { c.Status = store.StatusBlocked; return nil })
	stranger := newUser(t, clk, st)
	theirs, _ := deviceKey(t, st, stranger.ID)
	for _, tc := range []struct{ credID, reason string }{
		{blocked.ID, "credential is BLOCKED"},
		{theirs.ID, "credential belongs to another user"},
		{"not-an-id", "malformed credential id"},
	} {
		got, err := svc.SigningData(ctx, op.ID, tc.credID)
		if !errors.Is(err, fault.ErrUnauthenticated) || got.ID != "" {
			t.Fatalf("SigningData(%s) = %q, %v; want the uniform 401 and nothing to sign", tc.reason, got.ID, err)
		}
		ev := lastAudit(t, st, op.ID)
		if ev.Type != "operation.signing_data" || ev.Outcome != "failure" || ev.Reason != tc.reason || ev.CredentialID != tc.credID {
			t.Fatalf("SigningData(%s) audited %+v", tc.reason, ev)
		}
	}
}
