package fault

import (
	"context"
	"errors"
	"fmt"
)

// ErrInvalid is the kind of bad input. An *InvalidError is of this kind (it
// carries its field problems); Classify reports it for either.
var ErrInvalid = errors.New("invalid input")

// Error is an error with a public face, after smallstep's errs.Error: a Kind
// that decides the status every route family answers, a Public message that is
// safe to show the client, and a private Cause for logs and audit. The cause is
// kept in the chain (errors.Is and errors.As see it) but never reaches a
// response body.
type Error struct {
	Kind   error  // one of the kinds of this package (ErrConflict, ErrNotFound, ...)
	Public string // shown to the client; "" shows only the kind's title
	Cause  error  // private; nil when the refusal has no underlying error
}

// New returns an error of kind with a public message and no cause.
func New(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Public: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind whose public message is the formatted text and
// whose cause is cause, kept in the chain for logs and errors.Is.
func Wrap(kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Public: fmt.Sprintf(format, args...), Cause: cause}
}

// Error is "kind: public: cause", for logs; responses use Classify.
func (e *Error) Error() string {
	s := "internal error"
	if e.Kind != nil {
		s = e.Kind.Error()
	}
	if e.Public != "" {
		s += ": " + e.Public
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// kinds in the order Classify tries them on errors that wrap a kind without an
// *Error (fmt.Errorf("%w ...", kind)).
var kinds = []error{ErrUnauthenticated, ErrForbidden, ErrNotFound, ErrConflict, ErrGone, ErrLocked, ErrTooManyRequests}

// Classify returns err's public face: an Error whose Kind decides the status
// and whose Public is the message the client may see (Cause is err). The one
// rule every route family follows:
//
//  1. An outage anywhere in the chain (ErrUnavailable, which the store's
//     ErrUnavailable is, or a context deadline) is ErrUnavailable, whatever
//     wraps it: a refusal that could not be recorded or decided fails closed.
//  2. Otherwise the first *Error in the chain gives its Kind and Public.
//  3. An *InvalidError is ErrInvalid with its field-by-field message.
//  4. An error that only wraps a kind (fmt.Errorf("%w: ...", ErrConflict))
//     gives that kind and no public message: text that was not written as
//     Public never reaches a client.
//  5. Anything else is unexpected: Kind nil (an internal error).
func Classify(err error) Error {
	face := Error{Cause: err}
	var fe *Error
	var inv *InvalidError
	switch {
	case err == nil:
	case IsUnavailable(err):
		face.Kind = ErrUnavailable
	case errors.As(err, &fe) && fe.Kind != nil:
		face.Kind, face.Public = fe.Kind, fe.Public
	case errors.As(err, &inv):
		face.Kind, face.Public = ErrInvalid, inv.Error()
	case errors.Is(err, ErrInvalid):
		face.Kind = ErrInvalid
	default:
		for _, k := range kinds {
			if errors.Is(err, k) {
				face.Kind = k
				break
			}
		}
	}
	return face
}

// IsUnavailable reports an outage anywhere in err's chain: ErrUnavailable or a
// context deadline.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
