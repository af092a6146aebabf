package audit

import "errors"

// Reasons of requests that name nothing real. They are the only values the HTTP layer puts in
// the reason label of its counter, so the label set stays bounded.
const (
	UnknownOperation        = "unknown_operation"
	UnknownRegistrationCode = "unknown_registration_code"
	UnknownEnrollmentToken  = "unknown_enrollment_token"
	UnknownCeremony         = "unknown_ceremony"
)

// UnrecordedError is the refusal of a request that names nothing that exists: an unknown
// operation id, registration code, enrollment link or ceremony. Such a refusal is not
// appended to the audit log: anyone can send random identifiers at any rate, there is no
// user, credential or operation for the record to be evidence about, and every row is kept
// for years (issue 13 item 5: one client appended ~1,450 rows/s). The HTTP layer counts these
// refusals by endpoint and Reason instead. A request that names something real — a real
// operation with a bad signature, a real code with a wrong secret — is still audited.
type UnrecordedError struct {
	Reason string // one of the constants above
	Err    error  // what the caller answers (a fault kind)
}

func (e *UnrecordedError) Error() string { return e.Err.Error() }
func (e *UnrecordedError) Unwrap() error { return e.Err }

// Unrecorded returns public marked as an unrecorded refusal for reason.
func Unrecorded(reason string, public error) error {
	return &UnrecordedError{Reason: reason, Err: public}
}

// UnrecordedReason returns the reason of an unrecorded refusal in err's chain.
func UnrecordedReason(err error) (string, bool) {
	var u *UnrecordedError
	if errors.As(err, &u) {
		return u.Reason, true
	}
	return "", false
}
