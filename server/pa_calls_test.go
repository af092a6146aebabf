package server_test

import (
	"context"
	"testing"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/storetest"
)

// TestPowerAuthApprovalStoreCalls counts the store calls of a mobile-token approval: the activation with its
// application (resolve, one join), the operation with the activation (Decide), and the decision's one
// statement, which also spends the signature counter (activation/mobile.go spendWithDecision). A read and
// compare-and-swap of the activation after the decision (the separate advance) is one call more, and so is
// reading the application apart from the activation.
func TestPowerAuthApprovalStoreCalls(t *testing.T) {
	const want = 3
	out := new(storetest.Outage)
	h := newHarnessWith(t, harnessOpts{wrap: func(s store.Store) store.Store { out.Store = s; return out }})
	e := &outageEnv{harness: h, out: out, rec: &lastResponse{next: testClient.Transport}}
	c, st, userID := e.paDevice()
	ctx := context.Background()
	for i := range 3 {
		id := e.createOp(userID, "12.50", "EUR", nil).ID
		op, err := c.OperationDetail(ctx, st, id)
		if err != nil {
			t.Fatal(err)
		}
		out.Heal()
		if err := c.Approve(ctx, st, op, paPIN); err != nil {
			t.Fatal(err)
		}
		// The first approval also loads the signing keys.
		if n := out.Calls(); i > 0 && n != want {
			t.Fatalf("approval %d made %d store calls, want %d", i, n, want)
		}
	}
}
