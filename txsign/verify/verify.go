// Package verify validates Signet transaction tokens where they are spent: in an API gateway
// or a payment service. It checks the ES256 signature against the issuer's JWKS, the claims,
// the request binding (amount, currency, payee) and consumes the token's JTI once, failing
// closed on every error. It depends only on the standard library, golang-jwt and txsign/replay.
package verify

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signet-sca/signet/txsign/replay"
)

// Sentinel errors, compared with errors.Is. Returned errors wrap one of them with a cause
// meant for logs, never for the client.
var (
	// ErrInvalidToken: malformed, wrongly signed, wrongly typed, expired, not yet valid, for
	// another issuer or audience, or missing a required claim. Answer 401.
	ErrInvalidToken = errors.New("verify: invalid transaction token")
	// ErrReplay: the token was already used, or was never recorded by the issuer (unknown
	// JTI). Answer 409. It wraps replay.ErrReplay.
	ErrReplay = fmt.Errorf("verify: transaction token already used: %w", replay.ErrReplay)
	// ErrUnavailable: the key set or the replay store could not be reached, so the token can
	// be neither accepted nor refused for good. Answer 503; never accept.
	ErrUnavailable = errors.New("verify: verification temporarily unavailable")
	// ErrBindingMismatch: the request's amount, currency or payee differ from what the user
	// approved (PSD2 RTS Art. 5(1)(c)). Answer 403.
	ErrBindingMismatch = errors.New("verify: request does not match the approved transaction")
)

// Limits.
const (
	DefaultLeeway      = 5 * time.Second
	MaxLeeway          = 60 * time.Second
	DefaultMaxLifetime = 300 * time.Second // exp - iat; Signet mints at most 300 s
	// MaxTokenSize bounds the token string before any decoding.
	MaxTokenSize = 16 << 10
	maxIDLen     = 256
)

// Consumer burns a JTI exactly once. replay.Store (Redis, memory) satisfies it, and so does a
// client of Signet's consume endpoint for gateways without access to the replay store.
// It returns nil once, then replay.ErrReplay; any other error means the outcome is unknown.
type Consumer interface {
	Consume(ctx context.Context, jti string) error
}

// Config configures a Verifier.
type Config struct {
	// Keys finds the issuer's verification keys: a *JWKS, or StaticKeys. Required.
	Keys KeySource
	// Issuer is the exact "iss" to accept. Required.
	Issuer string
	// Audience must be one of the token's "aud" values. Required.
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat: 0 means DefaultLeeway (5 s); more
	// than MaxLeeway (60 s) or negative is refused.
	Leeway time.Duration
	// MaxLifetime bounds exp - iat: 0 means DefaultMaxLifetime (300 s).
	MaxLifetime time.Duration
	// Replay consumes JTIs in VerifyAndConsume. Optional: nil means Verify only, and
	// VerifyAndConsume then fails with ErrUnavailable.
	Replay Consumer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verifier verifies transaction tokens. Safe for concurrent use.
type Verifier struct {
	keys        KeySource
	replay      Consumer
	maxLifetime time.Duration
	now         func() time.Time
	parser      *jwt.Parser
}

// New checks cfg, reporting every problem at once, and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	var errs []error
	if cfg.Keys == nil {
		errs = append(errs, errors.New("verify: Keys is required"))
	}
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("verify: Issuer is required"))
	}
	if cfg.Audience == "" {
		errs = append(errs, errors.New("verify: Audience is required"))
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0 || cfg.Leeway > MaxLeeway:
		errs = append(errs, fmt.Errorf("verify: Leeway must be between 0 and %s", MaxLeeway))
	}
	switch {
	case cfg.MaxLifetime == 0:
		cfg.MaxLifetime = DefaultMaxLifetime
	case cfg.MaxLifetime < 0:
		errs = append(errs, errors.New("verify: MaxLifetime must be positive"))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Verifier{
		keys:        cfg.Keys,
		replay:      cfg.Replay,
		maxLifetime: cfg.MaxLifetime,
		now:         cfg.Now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{Algorithm}), // RFC 8725 §3.1: never trust "alg"
			jwt.WithIssuer(cfg.Issuer),                // RFC 7519 §4.1.1, RFC 8725 §3.8
			jwt.WithAudience(cfg.Audience),            // RFC 7519 §4.1.3, RFC 8725 §3.9
			jwt.WithExpirationRequired(),              // RFC 7519 §4.1.4
			jwt.WithIssuedAt(),                        // iat not in the future (beyond leeway)
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(), // one encoding per token: no padding, canonical final bits
		),
	}, nil
}

// Verify checks the token's signature and claims, without consuming it. It returns the
// claims, or an error wrapping ErrInvalidToken or ErrUnavailable.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if v == nil || v.parser == nil {
		return nil, fmt.Errorf("%w: verifier not configured (use verify.New)", ErrUnavailable)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", ErrInvalidToken)
	}
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: token larger than %d bytes", ErrInvalidToken, MaxTokenSize)
	}
	var keyErr error
	claims := new(Claims)
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// RFC 8725 §3.11: explicit typing keeps other JWTs from this issuer (ID tokens,
		// access tokens) from being accepted as transaction tokens. Media types are
		// case-insensitive and "application/" may be omitted (RFC 7515 §4.1.9).
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), TokenType) {
			return nil, fmt.Errorf("typ %q is not %s", typ, TokenType)
		}
		// RFC 7515 §4.1.11: extensions listed in "crit" must be understood; we use none.
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New(`unsupported "crit" header`)
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" || len(kid) > maxIDLen {
			return nil, errors.New(`missing or oversized "kid" header`)
		}
		k, err := v.keys.Key(ctx, kid)
		if err != nil {
			keyErr = err
			return nil, err
		}
		return k, nil
	})
	if err != nil {
		if keyErr != nil && !errors.Is(keyErr, ErrUnknownKey) {
			// Fail closed, but say it is our side: the JWKS could not be read.
			if errors.Is(keyErr, ErrUnavailable) {
				return nil, keyErr
			}
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, keyErr)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := v.checkClaims(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return claims, nil
}

// checkClaims checks what jwt/v5 does not: the claims a transaction token must carry.
func (v *Verifier) checkClaims(c *Claims) error {
	switch {
	case c.IssuedAt == nil:
		return errors.New("missing iat")
	case c.ID == "" || len(c.ID) > maxIDLen:
		return errors.New("missing or oversized jti")
	case c.Op == "":
		return errors.New("missing op")
	case c.ExpiresAt.Time.Sub(c.IssuedAt.Time) > v.maxLifetime:
		return fmt.Errorf("lifetime exceeds %s", v.maxLifetime)
	}
	// The dynamic-linking digest is 32 bytes of unpadded base64url (docs/dynamic-linking.md).
	if len(c.DL) != 43 {
		return errors.New("dl is not a SHA-256 digest")
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(c.DL); err != nil || len(b) != 32 {
		return errors.New("dl is not a SHA-256 digest")
	}
	return nil
}

// VerifyAndConsume verifies the token and then consumes its JTI, so that it is accepted once
// (PSD2 RTS Art. 4(3)). Errors wrap ErrInvalidToken, ErrReplay or ErrUnavailable; a replay
// store that cannot answer is ErrUnavailable, never success.
func (v *Verifier) VerifyAndConsume(ctx context.Context, token string) (*Claims, error) {
	claims, err := v.Verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := v.Consume(ctx, claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// Consume burns the JTI of claims that Verify returned. It lets a caller check more (the
// request binding) between Verify and Consume, so that a mismatching request does not burn
// the user's token.
func (v *Verifier) Consume(ctx context.Context, claims *Claims) error {
	if v == nil || v.replay == nil {
		return fmt.Errorf("%w: no replay store configured", ErrUnavailable)
	}
	if claims == nil || claims.ID == "" {
		return fmt.Errorf("%w: no jti", ErrInvalidToken)
	}
	switch err := v.replay.Consume(ctx, claims.ID); {
	case err == nil:
		return nil
	case errors.Is(err, replay.ErrReplay):
		return ErrReplay
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}
