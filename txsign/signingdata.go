package txsign

import (
	"context"
	"errors"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// SigningData returns what a device must show and sign for an operation.
// Only an ACTIVE credential of the operation's own user may read it; every
// other case is the same authentication failure, with the cause audited.
func (s *Service) SigningData(ctx context.Context, opID, credID string) (store.Operation, error) {
	op, err := s.Get(ctx, opID)
	if err != nil {
		return store.Operation{}, err
	}
	reason := ""
	if !store.ValidID(credID) {
		reason = "malformed credential id"
	} else if cred, cerr := s.store.GetCredential(ctx, credID); errors.Is(cerr, store.ErrNotFound) {
		reason = "unknown credential"
	} else if cerr != nil {
		return store.Operation{}, cerr
	} else if cred.UserID != op.UserID {
		reason = "credential belongs to another user"
	} else if cred.Status != store.StatusActive {
		reason = "credential is " + string(cred.Status)
	}
	if reason != "" {
		if err := s.audit.Record(ctx, audit.Event{Type: "operation.signing_data", Outcome: audit.Failure, Reason: reason,
			Actor: "device", UserID: op.UserID, OperationID: op.ID, CredentialID: credID}); err != nil {
			return store.Operation{}, err
		}
		return store.Operation{}, fault.ErrUnauthenticated
	}
	return op, nil
}

// JWKS returns the published token keys.
func (s *Service) JWKS(ctx context.Context) ([]JWK, error) { return s.keys.JWKS(ctx) }
