// Package audit writes Signet's append-only audit log: every attempt, good or
// bad, with the evidence needed to re-verify it later. Domain services record
// through a Log; the store keeps the events and refuses updates and deletes.
package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/store"
)

// Appender is the slice of the store the log needs.
type Appender interface {
	AppendAudit(ctx context.Context, e *store.AuditEvent) error
}

// Outcomes.
const (
	Success = "success"
	// Failure: refused after the signer proved possession of the credential
	// (a wrong passcode behind a valid passkey assertion, a wrong PowerAuth
	// PIN, signed data that differs); it counts towards the attempt limits.
	Failure = "failure"
	// Unverified: refused before anything about the signer was proven (a
	// signature that does not verify, an unknown or foreign credential). Anyone
	// who knows an operation id can cause one, so it counts towards nothing.
	Unverified = "unverified"
)

// Log records audit events.
type Log struct {
	store  Appender
	now    func() time.Time
	logger *slog.Logger
}

// New returns a Log over s. now may be nil (time.Now).
func New(s Appender, now func() time.Time, logger *slog.Logger) *Log {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{store: s, now: now, logger: logger}
}

// Event is what a caller records; Evidence is marshalled to JSON.
type Event struct {
	Type         string
	Outcome      string
	Reason       string
	Actor        string
	UserID       string
	OperationID  string
	CredentialID string
	Evidence     any
}

// Record appends e. A failure to audit is returned: a caller that must not act
// without an audit record (an approval) treats it as fatal for the request.
func (l *Log) Record(ctx context.Context, e Event) error {
	rec, err := l.Prepare(e)
	if err != nil {
		return err
	}
	if err := l.store.AppendAudit(ctx, rec); err != nil {
		l.logger.ErrorContext(ctx, "audit append failed", "type", e.Type, "err", err)
		return err
	}
	return nil
}

// Prepare returns the stored form of e, for a caller that appends it in the
// transaction of its own write (store.Alongside).
func (l *Log) Prepare(e Event) (*store.AuditEvent, error) {
	var ev []byte
	if e.Evidence != nil {
		b, err := json.Marshal(e.Evidence)
		if err != nil {
			return nil, err
		}
		ev = b
	}
	return &store.AuditEvent{
		ID: uuid.NewString(), Time: l.now().UTC(), Type: e.Type, Outcome: e.Outcome, Reason: e.Reason,
		Actor: e.Actor, UserID: e.UserID, OperationID: e.OperationID, CredentialID: e.CredentialID, Evidence: ev,
	}, nil
}
