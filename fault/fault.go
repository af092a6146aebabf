// Package fault defines the kinds of error that domain services return, so
// that the HTTP layer's one error handler can map them to status codes without
// the services knowing about HTTP.
package fault

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds. Domain services wrap these (fmt.Errorf("%w: ...")) or return an
// *InvalidError; the server maps each kind to one status code.
var (
	// ErrUnauthenticated: the caller could not be authenticated. Every
	// authentication failure looks the same from outside, whatever its cause.
	ErrUnauthenticated = errors.New("authentication failed")
	ErrForbidden       = errors.New("forbidden")
	ErrNotFound        = errors.New("not found")
	// ErrConflict: the request is well-formed but the resource's state does
	// not allow it (already approved, removed credential, ...).
	ErrConflict = errors.New("conflict")
	// ErrGone: the resource existed but is no longer usable (expired, used).
	ErrGone = errors.New("gone")
	// ErrLocked: too many failures; an operator must unlock.
	ErrLocked = errors.New("locked")
	// ErrUnavailable: a dependency is down; fail closed.
	ErrUnavailable = errors.New("service unavailable")
	// ErrTooManyRequests: rate limited.
	ErrTooManyRequests = errors.New("too many requests")
)

// InvalidError reports bad input: every problem found, field by field.
type InvalidError struct {
	Problems []FieldProblem
}

// FieldProblem is one invalid field and why.
type FieldProblem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		if p.Field == "" {
			parts[i] = p.Reason
		} else {
			parts[i] = p.Field + ": " + p.Reason
		}
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Invalid returns an *InvalidError for one field.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Problems: []FieldProblem{{Field: field, Reason: fmt.Sprintf(format, args...)}}}
}

// Collector gathers field problems so that Validate methods report every
// problem at once.
type Collector struct{ problems []FieldProblem }

// Add records a problem.
func (c *Collector) Add(field, format string, args ...any) {
	c.problems = append(c.problems, FieldProblem{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// Check records a problem when ok is false.
func (c *Collector) Check(ok bool, field, format string, args ...any) {
	if !ok {
		c.Add(field, format, args...)
	}
}

// Merge adds the problems of err when it is an *InvalidError, or a generic
// problem on field otherwise. A nil err adds nothing.
func (c *Collector) Merge(field string, err error) {
	if err == nil {
		return
	}
	var ie *InvalidError
	if errors.As(err, &ie) {
		c.problems = append(c.problems, ie.Problems...)
		return
	}
	c.Add(field, "%s", err.Error())
}

// Err returns nil when nothing was added, else an *InvalidError.
func (c *Collector) Err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return &InvalidError{Problems: append([]FieldProblem(nil), c.problems...)}
}

// RetryAfterError is a refusal the client should retry after a delay (load
// shedding): the server answers its kind's status with a Retry-After header
// (RFC 9110 §10.2.3).
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }

// Unwrap returns the refusal, whose kind decides the status.
func (e *RetryAfterError) Unwrap() error { return e.Err }
