// Package replay records the JTI of every minted transaction token and consumes it exactly
// once (PSD2 RTS Art. 4: an authentication code is accepted only once). Store implementations
// live here (Memory) and in sub-packages (redisreplay); replaytest is their conformance suite.
package replay

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors, compared with errors.Is.
var (
	// ErrReplay: the JTI is unknown, expired or already consumed. The token must be refused.
	ErrReplay = errors.New("replay: token unknown or already used")
	// ErrUnavailable: the backend failed or the context ended before an answer. The outcome is
	// unknown, so the caller must refuse the request (503), never treat it as success.
	ErrUnavailable = errors.New("replay: store unavailable")
	// ErrExists: Record found the JTI already recorded; the caller minted a duplicate JTI.
	ErrExists = errors.New("replay: jti already recorded")
	// ErrInvalid: Record got an empty JTI or a non-positive TTL.
	ErrInvalid = errors.New("replay: invalid jti or ttl")
)

// Store is the replay store contract, declared here by its provider and enforced for every
// implementation by replaytest.Run.
type Store interface {
	// Record makes jti consumable once, for ttl (the token's lifetime). ErrExists if it is
	// already recorded, ErrInvalid for an empty jti or ttl <= 0, ErrUnavailable on failure.
	Record(ctx context.Context, jti string, ttl time.Duration) error
	// Consume atomically removes a recorded, unexpired jti. Exactly one of any number of
	// concurrent calls for the same jti returns nil; the others, and every call for an unknown
	// or expired jti, return ErrReplay. ErrUnavailable when the outcome is unknown.
	Consume(ctx context.Context, jti string) error
	// Ping reports whether the backend answers (readiness probes).
	Ping(ctx context.Context) error
}
