package store

import (
	"errors"
	"fmt"
	"time"
)

// Status is a credential's lifecycle state, with PowerAuth's names and status
// bytes (PowerAuth 3.x activation status: CREATED=1 ... REMOVED=5).
type Status string

const (
	StatusCreated       Status = "CREATED"
	StatusPendingCommit Status = "PENDING_COMMIT"
	StatusActive        Status = "ACTIVE"
	StatusBlocked       Status = "BLOCKED"
	StatusRemoved       Status = "REMOVED"
)

// Byte is the PowerAuth status-blob byte of s (0 when unknown).
func (s Status) Byte() byte {
	switch s {
	case StatusCreated:
		return 1
	case StatusPendingCommit:
		return 2
	case StatusActive:
		return 3
	case StatusBlocked:
		return 4
	case StatusRemoved:
		return 5
	}
	return 0
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s.Byte() != 0 }

// BlockReason says why a credential is BLOCKED.
type BlockReason string

const (
	ReasonNone              BlockReason = ""
	ReasonIssuer            BlockReason = "ISSUER"
	ReasonLostDevice        BlockReason = "LOST_DEVICE"
	ReasonStolenDevice      BlockReason = "STOLEN_DEVICE"
	ReasonFraudSuspected    BlockReason = "FRAUD_SUSPECTED"
	ReasonMaxFailedAttempts BlockReason = "MAX_FAILED_ATTEMPTS"
	ReasonCloneSuspected    BlockReason = "CLONE_SUSPECTED"
	ReasonUser              BlockReason = "USER"
)

// BlockReasons lists every reason a bank may give (validation, docs).
var blockReasons = []BlockReason{ReasonIssuer, ReasonLostDevice, ReasonStolenDevice,
	ReasonFraudSuspected, ReasonMaxFailedAttempts, ReasonCloneSuspected, ReasonUser}

// Valid reports whether r is a known, non-empty block reason.
func (r BlockReason) Valid() bool {
	for _, b := range blockReasons {
		if r == b {
			return true
		}
	}
	return false
}

// BlockReasons returns the known block reasons.
func BlockReasons() []BlockReason { return append([]BlockReason(nil), blockReasons...) }

// ErrInvalidTransition is returned for a lifecycle transition the state
// machine does not allow.
var ErrInvalidTransition = errors.New("credential: transition not allowed")

// transitions is the whole lifecycle: CREATED → PENDING_COMMIT → ACTIVE ⇄
// BLOCKED → REMOVED, with CREATED → ACTIVE for kinds without a commit step and
// REMOVED reachable from every non-terminal state. REMOVED is terminal.
var transitions = map[Status][]Status{
	StatusCreated:       {StatusPendingCommit, StatusActive, StatusRemoved},
	StatusPendingCommit: {StatusActive, StatusRemoved},
	StatusActive:        {StatusBlocked, StatusRemoved},
	StatusBlocked:       {StatusActive, StatusRemoved},
	StatusRemoved:       nil,
}

// CanTransition reports whether from → to is allowed.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Transition moves c to status to, enforcing the lifecycle. Blocking needs a
// valid reason; unblocking clears the reason and resets failed attempts (as
// PowerAuth does); activation and removal stamp their times.
func (c *Credential) Transition(to Status, reason BlockReason, now time.Time) error {
	if !CanTransition(c.Status, to) {
		return fmt.Errorf("%w: %s → %s", ErrInvalidTransition, c.Status, to)
	}
	if to == StatusBlocked && !reason.Valid() {
		return fmt.Errorf("%w: blocking needs a reason", ErrInvalidTransition)
	}
	from := c.Status
	c.Status = to
	c.BlockReason = ReasonNone
	switch to {
	case StatusBlocked:
		c.BlockReason = reason
	case StatusActive:
		if from == StatusBlocked {
			c.FailedAttempts = 0
		} else {
			t := now
			c.ActivatedAt = &t
		}
	case StatusRemoved:
		t := now
		c.RemovedAt = &t
	}
	return nil
}

// RecordFailure counts one failed signature attempt and blocks the credential
// with MAX_FAILED_ATTEMPTS when the maximum is reached. It reports whether the
// credential became BLOCKED.
func (c *Credential) RecordFailure(now time.Time) bool {
	if c.Status != StatusActive {
		return false
	}
	c.FailedAttempts++
	if c.MaxFailedAttempts > 0 && c.FailedAttempts >= c.MaxFailedAttempts {
		_ = c.Transition(StatusBlocked, ReasonMaxFailedAttempts, now)
		return true
	}
	return false
}

// RecordSuccess resets failed attempts and stamps LastUsedAt.
func (c *Credential) RecordSuccess(now time.Time) {
	c.FailedAttempts = 0
	t := now
	c.LastUsedAt = &t
}
