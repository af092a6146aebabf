package txsign_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

// TestClaimUnderRace: two activations of one user claim the same operation at once, several times each:
// exactly one wins, every call of the winner succeeds, every call of the other is ErrClaimedByOther, and the
// claim is audited once.
func TestClaimUnderRace(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc, u, _ := approvalFixture(t, clk, st)
	ctx := context.Background()
	var creds [2]store.Credential
	for i := range creds {
		creds[i] = store.Credential{ID: uuid.NewString(), UserID: u.ID, Kind: store.KindPowerAuth, Status: store.StatusActive,
			MaxFailedAttempts: 5, CreatedAt: clk.now()}
		if err := st.CreateCredential(ctx, &creds[i]); err != nil {
			t.Fatal(err)
		}
	}
	op, _, err := svc.Create(ctx, "bank", payment(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string][]error{}
	for i := 0; i < 10; i++ {
		for _, c := range creds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := svc.Claim(ctx, op.ID, c)
				mu.Lock()
				results[c.ID] = append(results[c.ID], err)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	got, _ := st.GetOperation(ctx, op.ID)
	winner := txsign.ClaimedBy(got)
	if winner != creds[0].ID && winner != creds[1].ID {
		t.Fatalf("claimed by %q", winner)
	}
	for id, errs := range results {
		for _, err := range errs {
			if (id == winner) != (err == nil) || (id != winner && !errors.Is(err, txsign.ErrClaimedByOther)) {
				t.Fatalf("credential %s (winner %v): %v", id, id == winner, err)
			}
		}
	}
	evs, _, err := st.ListAudit(ctx, store.AuditFilter{OperationID: op.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == "operation.claim" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d claim events, want 1", n)
	}

	t.Run("another user's operation looks unknown", func(t *testing.T) {
		other := store.User{ID: uuid.NewString(), ExternalID: "other", CreatedAt: clk.now()}
		if err := st.CreateUser(ctx, &other); err != nil {
			t.Fatal(err)
		}
		op2, _, err := svc.Create(ctx, "bank", payment(other.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Claim(ctx, op2.ID, creds[0]); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("got %v, want not found", err)
		}
		if got, _ := st.GetOperation(ctx, op2.ID); txsign.ClaimedBy(got) != "" {
			t.Fatal("another user's operation was claimed")
		}
	})
}
