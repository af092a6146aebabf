package webauthn

import (
	"context"

	"github.com/signet-sca/signet/store"
)

// Passcode statuses: the bank reads them on the user resource, the approval
// page on the operation it shows.
const (
	PasscodeNotSet = "NOT_SET"
	PasscodeSet    = "SET"
	PasscodeLocked = "LOCKED"
)

// PasscodeState is a user's passcode as the customer and the bank see it:
// NOT_SET, SET or LOCKED, and the wrong tries left before it locks (0 unless
// SET). Tries still in flight count as spent (reserved before the check), so the
// number never promises a try that a concurrent attempt already took.
type PasscodeState struct {
	Status    string `json:"status"`
	TriesLeft int    `json:"tries_left"`
}

// PasscodeStateOf is u's passcode state under this service's maximum.
func (s *Service) PasscodeStateOf(u store.User) PasscodeState {
	switch {
	case len(u.PasscodeVerifier) == 0:
		return PasscodeState{Status: PasscodeNotSet}
	case u.PasscodeLocked || u.PasscodeFailed >= s.cfg.PasscodeMaxFailures:
		return PasscodeState{Status: PasscodeLocked}
	}
	return PasscodeState{Status: PasscodeSet, TriesLeft: s.cfg.PasscodeMaxFailures - u.PasscodeFailed}
}

// OperationPasscode is the passcode state of the user an operation belongs to,
// for the approval page (which shows tries left, or the locked state, before
// the customer types).
func (s *Service) OperationPasscode(ctx context.Context, op store.Operation) (PasscodeState, error) {
	u, err := s.store.GetUser(ctx, op.UserID)
	if err != nil {
		return PasscodeState{}, err
	}
	return s.PasscodeStateOf(u), nil
}
