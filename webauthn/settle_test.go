package webauthn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webauthn"
)

// settleOutage fails the nth user update (UpdateUser or UpdateUserFrom, counted from 1): in
// FinishApproval the first is the reservation of the passcode try, the second its settlement.
type settleOutage struct {
	store.Store
	calls, failAt int
	failed        bool
}

func (s *settleOutage) fail() bool {
	s.calls++
	s.failed = s.failed || s.calls == s.failAt
	return s.calls == s.failAt
}

func (s *settleOutage) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	if s.fail() {
		return store.User{}, fmt.Errorf("sqlstore: update user: %w", store.ErrUnavailable)
	}
	return s.Store.UpdateUser(ctx, id, fn)
}

func (s *settleOutage) UpdateUserFrom(ctx context.Context, cur store.User, fn func(*store.User) error) (store.User, error) {
	if s.fail() {
		return store.User{}, fmt.Errorf("sqlstore: update user: %w", store.ErrUnavailable)
	}
	return s.Store.UpdateUserFrom(ctx, cur, fn)
}

// TestFinishApprovalSettleError: a settlement of the passcode try that fails is returned (an outage:
// 503), never dropped, whether the passcode was right (the approval itself is committed and stays so)
// or wrong.
func TestFinishApprovalSettleError(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name     string
		passcode string
		status   store.OperationStatus // the operation afterwards
	}{
		{"right passcode", testPasscode, store.OpApproved},
		{"wrong passcode", "000000", store.OpPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, d := e.enrolled("cust-settle-" + tc.name)
			op := e.payment(u.ID, "10.00")
			a := e.prepare(op, d, txsign.Approve, tc.passcode)
			flaky := &settleOutage{Store: e.st, failAt: 2}
			svc, err := webauthn.New(flaky, e.ops, e.audit, e.ring, e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = svc.FinishApproval(e.ctx, op.ID, a.in)
			if !flaky.failed {
				t.Fatalf("the settlement was never attempted (%d UpdateUser calls)", flaky.calls)
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("FinishApproval = %v, want the settlement's store.ErrUnavailable", err)
			}
			if got := e.op(op.ID).Status; got != tc.status {
				t.Fatalf("operation %s, want %s", got, tc.status)
			}
			// The try stays charged: the settlement's outcome is unknown, which errs on the locked side.
			if got := e.user(u.ID).PasscodeFailed; got != 1 {
				t.Fatalf("PasscodeFailed %d, want the reserved try (1)", got)
			}
		})
	}
}
