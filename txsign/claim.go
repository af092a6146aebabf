package txsign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// operationExtra is the JSON kept in store.Operation.Data.
type operationExtra struct {
	// ClaimedBy is the credential that claimed the operation (mobile-token "operation claim": an operation
	// opened from a QR code or a deep link). Once set, only that credential may approve or reject it.
	ClaimedBy string `json:"claimed_by,omitempty"`
}

func readExtra(op store.Operation) (operationExtra, error) {
	var x operationExtra
	if len(op.Data) == 0 {
		return x, nil
	}
	if err := json.Unmarshal(op.Data, &x); err != nil {
		return x, fmt.Errorf("txsign: operation %s has unreadable data: %w", op.ID, err)
	}
	return x, nil
}

// ClaimedBy returns the credential that claimed op, or "" when no credential did.
func ClaimedBy(op store.Operation) string {
	x, _ := readExtra(op)
	return x.ClaimedBy
}

// ErrClaimedByOther refuses a claim, an approval or a rejection of an operation another credential claimed.
var ErrClaimedByOther = fault.New(fault.ErrForbidden, "the operation was claimed by another credential")

// Claim binds a PENDING operation to the credential that opened it (Wultra mobile-token API
// /operation/detail/claim, PowerAuth server operationClaim): the credential must be the operation's user's
// (another user's operation answers exactly like an unknown one, so a scanned id tells nothing); the first
// claim wins and is audited, a repeat by the same credential changes nothing, and a claim by another
// credential of the same user is refused with ErrClaimedByOther. From then on Decide accepts only the
// claiming credential. An operation no longer PENDING answers its state (409/410), as approval would.
func (s *Service) Claim(ctx context.Context, id string, cred store.Credential) (store.Operation, error) {
	op, err := s.Get(ctx, id)
	if err != nil {
		return op, err
	}
	if op.UserID != cred.UserID {
		return store.Operation{}, errNoOperation
	}
	if op.Status != store.OpPending {
		return op, stateError(op)
	}
	x, err := readExtra(op)
	if err != nil {
		return op, err
	}
	switch x.ClaimedBy {
	case cred.ID:
		return op, nil
	case "":
	default:
		return op, ErrClaimedByOther
	}
	if !FactorAllowed(op, cred.Kind) {
		return op, fault.New(fault.ErrForbidden, "this operation does not accept %s credentials", cred.Kind)
	}
	rec, err := s.audit.Prepare(audit.Event{Type: "operation.claim", Outcome: audit.Success, Actor: "mobile",
		UserID: op.UserID, OperationID: op.ID, CredentialID: cred.ID})
	if err != nil {
		return op, err
	}
	updated, err := s.store.UpdateOperationWith(ctx, op, store.Alongside{Audit: rec}, func(o *store.Operation) error {
		if o.Status != store.OpPending {
			return stateError(*o)
		}
		cur, err := readExtra(*o)
		if err != nil {
			return err
		}
		switch cur.ClaimedBy { // re-read on a lost swap
		case cred.ID:
			return errUnchanged
		case "":
		default:
			return ErrClaimedByOther
		}
		cur.ClaimedBy = cred.ID
		o.Data, _ = json.Marshal(cur)
		o.UpdatedAt = s.cfg.Now().UTC()
		return nil
	})
	if errors.Is(err, errUnchanged) { // the same credential claimed it concurrently
		return s.Get(ctx, id)
	}
	return updated, err
}
