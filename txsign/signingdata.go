package txsign

import (
	"context"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// SigningData returns what a device must show and sign for an operation.
// Only an ACTIVE credential of the operation's own user may read it; every
// other case is the same authentication failure, with the cause audited.
func (s *Service) SigningData(ctx context.Context, opID, credID string) (store.Operation, error) {
	op, cred, err := s.getWithCredential(ctx, opID, credID)
	if err != nil {
		return store.Operation{}, err
	}
	reason := ""
	switch {
	case !store.ValidID(credID):
		reason = "malformed credential id"
	case cred.ID == "":
		reason = "unknown credential"
	case cred.UserID != op.UserID:
		reason = "credential belongs to another user"
	case cred.Status != store.StatusActive:
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
