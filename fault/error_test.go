package fault_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/signet-sca/signet/fault"
)

func TestClassify(t *testing.T) {
	internal := errors.New("dial tcp 10.0.0.5:5432: connection refused")
	for _, tc := range []struct {
		name   string
		err    error
		kind   error
		public string
	}{
		{"nil", nil, nil, ""},
		{"unexpected error is internal", internal, nil, ""},
		{"public message of an Error", fault.New(fault.ErrConflict, "the operation is %s", "APPROVED"), fault.ErrConflict, "the operation is APPROVED"},
		{"Error found below other wrapping", fmt.Errorf("service: %w", fault.New(fault.ErrGone, "expired")), fault.ErrGone, "expired"},
		{"cause never public", fault.Wrap(fault.ErrConflict, internal, "cannot remove"), fault.ErrConflict, "cannot remove"},
		{"bare kind has no public message", fmt.Errorf("%w: secret detail", fault.ErrNotFound), fault.ErrNotFound, ""},
		{"outage wins over the kind that wraps it", fault.Wrap(fault.ErrConflict, fmt.Errorf("x: %w", fault.ErrUnavailable), "cannot remove"), fault.ErrUnavailable, ""},
		{"deadline is an outage", fmt.Errorf("%w: %w", fault.ErrUnauthenticated, context.DeadlineExceeded), fault.ErrUnavailable, ""},
		{"invalid input keeps its fields", fault.Invalid("amount", "must be positive"), fault.ErrInvalid, "invalid input: amount: must be positive"},
		{"Error without a kind is internal", &fault.Error{Public: "x", Cause: internal}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			face := fault.Classify(tc.err)
			if face.Kind != tc.kind || face.Public != tc.public || face.Cause != tc.err {
				t.Fatalf("Classify(%v) = %v %q (cause %v), want %v %q", tc.err, face.Kind, face.Public, face.Cause, tc.kind, tc.public)
			}
		})
	}
}

func TestErrorChain(t *testing.T) {
	cause := errors.New("pq: deadlock detected")
	err := fault.Wrap(fault.ErrConflict, cause, "the activation cannot be removed")
	if !errors.Is(err, fault.ErrConflict) || !errors.Is(err, cause) {
		t.Fatalf("%v loses its kind or cause", err)
	}
	if got, want := err.Error(), "conflict: the activation cannot be removed: pq: deadlock detected"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if got := fault.New(fault.ErrNotFound, "user").Error(); got != "not found: user" {
		t.Fatalf("Error() = %q", got)
	}
}
