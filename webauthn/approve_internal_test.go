package webauthn

import (
	"errors"
	"fmt"
	"testing"

	"github.com/signet-sca/signet/fault"
)

// invalidReason is the reason a refused new passcode shows on its own field: the first problem's reason of
// an *fault.InvalidError (wrapped or not), else the error's text. An InvalidError without problems gives
// its text rather than an index panic; no caller makes one today (ParseEnvelope and CheckPasscodePolicy
// always report one problem), so only this test reaches that case.
func TestInvalidReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no problems", &fault.InvalidError{}, "invalid input: "},
		{"not an InvalidError", errors.New("passcode ciphertext does not decrypt"), "passcode ciphertext does not decrypt"},
		{"one problem", fault.Invalid("passcode", "must contain digits only"), "must contain digits only"},
		{"wrapped, two problems", fmt.Errorf("new: %w", &fault.InvalidError{Problems: []fault.FieldProblem{
			{Field: "passcode", Reason: "is required"}, {Field: "x", Reason: "other"}}}), "is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := invalidReason(tc.err); got != tc.want {
				t.Fatalf("invalidReason(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
