package webauthn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

// settleOutage fails the writes of the passcode try from the nth on (counted from 1): in FinishApproval
// the first is the try's reservation (ReadApproval), the second its settlement: with the approval itself
// for a right passcode (UpdateOperationWith carrying PasscodeRight, and the settlement retried after it
// failed), alone for a wrong one (UpdateUserFrom).
type settleOutage struct {
	store.Store
	calls, failAt int
	failed        bool
}

func (s *settleOutage) fail() bool {
	s.calls++
	s.failed = s.failed || s.calls == s.failAt
	return s.calls >= s.failAt
}

var errSettleOutage = fmt.Errorf("sqlstore: update user: %w", store.ErrUnavailable)

func (s *settleOutage) ReadApproval(ctx context.Context, opID string, reserve *store.PasscodeReservation) (store.Approval, error) {
	if reserve != nil && s.fail() {
		return store.Approval{}, errSettleOutage
	}
	return s.Store.ReadApproval(ctx, opID, reserve)
}

func (s *settleOutage) UpdateOperationWith(ctx context.Context, cur store.Operation, also store.Alongside, fn func(*store.Operation) error) (store.Operation, error) {
	if also.PasscodeRight != "" && s.fail() {
		return store.Operation{}, errSettleOutage
	}
	return s.Store.UpdateOperationWith(ctx, cur, also, fn)
}

func (s *settleOutage) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	if s.fail() {
		return store.User{}, errSettleOutage
	}
	return s.Store.UpdateUser(ctx, id, fn)
}

func (s *settleOutage) UpdateUserFrom(ctx context.Context, cur store.User, fn func(*store.User) error) (store.User, error) {
	if s.fail() {
		return store.User{}, errSettleOutage
	}
	return s.Store.UpdateUserFrom(ctx, cur, fn)
}

// TestFinishApprovalSettleError: a settlement of the passcode try that fails is returned (an outage:
// 503), never dropped. A right passcode's settlement is the approval's own statement: when it fails the
// operation is not approved either; a wrong one's is its own write, after the failure was counted.
func TestFinishApprovalSettleError(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ name, passcode string }{
		{"right passcode", testPasscode},
		{"wrong passcode", "000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, d := e.enrolled("cust-settle-" + tc.name)
			op := e.payment(u.ID, "10.00")
			a := e.prepare(op, d, txsign.Approve, tc.passcode)
			flaky := &settleOutage{Store: e.st, failAt: 2}
			_, err := e.on(flaky).FinishApproval(e.ctx, op.ID, a.in)
			if !flaky.failed {
				t.Fatalf("the settlement was never attempted (%d passcode writes)", flaky.calls)
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("FinishApproval = %v, want the settlement's store.ErrUnavailable", err)
			}
			if got := e.op(op.ID).Status; got != store.OpPending {
				t.Fatalf("operation %s, want it still PENDING", got)
			}
			// The try stays charged: the settlement's outcome is unknown, which errs on the locked side.
			if got := e.user(u.ID).PasscodeFailed; got != 1 {
				t.Fatalf("PasscodeFailed %d, want the reserved try (1)", got)
			}
		})
	}
}

// usersDown fails every user read while down is set, as a database that went away would.
type usersDown struct {
	store.Store
	down bool
}

func (s *usersDown) GetUser(ctx context.Context, id string) (store.User, error) {
	if s.down {
		return store.User{}, fmt.Errorf("sqlstore: get user: %w", store.ErrUnavailable)
	}
	return s.Store.GetUser(ctx, id)
}

// TestSessionWithoutItsUser: a management session whose user cannot be read answers the store's
// unavailability (503), never a session state of nobody.
func TestSessionWithoutItsUser(t *testing.T) {
	st := &usersDown{Store: sqltest.OpenSQLite(t)}
	e := newEnvOn(t, st, nil)
	u, _ := e.enrolled("cust-users-down")
	sess := e.session(u.ID)
	st.down = true
	if got, err := e.svc.State(e.ctx, sess); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("State while users cannot be read = %+v, %v; want the store's unavailability", got, err)
	}
}
