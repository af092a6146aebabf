package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/ratelimit"
	"github.com/signet-sca/signet/store"
)

// RateLimiter decides one request for a key. ratelimit.Memory (one process) and
// redislimit.Limiter behind ratelimit.Fallback (every replica, through Redis) implement it.
type RateLimiter interface {
	Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error)
}

// RateLimits are the limits of the public (unauthenticated) endpoints; a zero Limit is none.
// The private API (API key) is not limited.
type RateLimits struct {
	// Address: every public endpoint together, per client address (IPv6: per /64).
	Address ratelimit.Limit
	// JWKS: the JWKS, per client address, apart from Address (gateways fetch it).
	JWKS ratelimit.Limit
	// Operation: per operation named by a public endpoint (signing data, approve, reject,
	// browser approval begin and finish share one budget per operation).
	Operation ratelimit.Limit
	// Code: per registration code and per enrollment link.
	Code ratelimit.Limit
	// TrustedProxies: peers whose X-Forwarded-For is believed (see clientAddr).
	TrustedProxies []netip.Prefix
}

// limitAddress is the middleware of the public route groups: the per-address limit.
func (s *Server) limitAddress(c *fiber.Ctx) error {
	if err := s.checkAddress(c); err != nil {
		return err
	}
	return c.Next()
}

// limitJWKS is the JWKS's per-address limit.
func (s *Server) limitJWKS(c *fiber.Ctx) error {
	if err := s.allow(c, "jwks", "jwks:"+addrKey(s.clientAddr(c)), s.opts.RateLimits.JWKS); err != nil {
		return err
	}
	return c.Next()
}

// limitOperation is the per-operation limit of a route whose :id names an operation (after
// the per-address limit of its group). A malformed id has no budget of its own (the handler
// refuses it).
func (s *Server) limitOperation(c *fiber.Ctx) error {
	if id := c.Params("id"); store.ValidID(id) {
		if err := s.allow(c, "operation", "op:"+id, s.opts.RateLimits.Operation); err != nil {
			return err
		}
	}
	return c.Next()
}

func (s *Server) checkAddress(c *fiber.Ctx) error {
	return s.allow(c, "address", "addr:"+addrKey(s.clientAddr(c)), s.opts.RateLimits.Address)
}

// limitCode is the per-code limit, checked by a handler once it has read the code from the
// body. The key is the code's public lookup part; a malformed code has no budget of its own.
func (s *Server) limitCode(c *fiber.Ctx, lookup string) error {
	if lookup == "" {
		return nil
	}
	return s.allow(c, "code", "code:"+lookup, s.opts.RateLimits.Code)
}

// limitLink is the per-enrollment-link limit; the key is a digest, never the secret itself.
func (s *Server) limitLink(c *fiber.Ctx, token string) error {
	if token == "" || len(token) > 256 {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	return s.allow(c, "code", "link:"+hex.EncodeToString(sum[:16]), s.opts.RateLimits.Code)
}

// allow asks the limiter about key. A refusal answers 429 with Retry-After in whole seconds,
// rounded up (RFC 9110 §10.2.3; RFC 6585 §4) and a problem body. The limiter Signet wires
// never fails (Redis errors fall back to per-replica limits); should one fail anyway the
// request passes: rate limiting is a secondary control, and the attempt counters that bound
// guessing live in the database and hold regardless.
func (s *Server) allow(c *fiber.Ctx, scope, key string, l ratelimit.Limit) error {
	if s.deps.Limiter == nil || l.Off() {
		return nil
	}
	r, err := s.deps.Limiter.Allow(c.UserContext(), key, l)
	if err != nil {
		s.metrics.limiterErrors.Inc()
		return nil
	}
	if r.Allowed {
		return nil
	}
	s.metrics.limited.WithLabelValues(scope).Inc()
	c.Set(fiber.HeaderRetryAfter, retryAfterSeconds(r.RetryAfter))
	return fmt.Errorf("%w: %s limit", fault.ErrTooManyRequests, scope)
}

func retryAfterSeconds(d time.Duration) string {
	secs := int64(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}

func (s *Server) clientAddr(c *fiber.Ctx) netip.Addr {
	remote, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	trusted := s.opts.RateLimits.TrustedProxies
	if len(trusted) == 0 {
		return remote.Unmap()
	}
	var xff []string
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		xff = append(xff, string(v))
	}
	return clientAddr(remote, xff, trusted)
}

// unrecordedReasons bounds the reason label of signet_unrecorded_refusals_total.
var unrecordedReasons = map[string]bool{audit.UnknownOperation: true, audit.UnknownRegistrationCode: true,
	audit.UnknownEnrollmentToken: true, audit.UnknownCeremony: true}

// countUnrecorded counts a refusal of a request that names nothing real (not audited, see
// audit.UnrecordedError) by route pattern and reason.
func (s *Server) countUnrecorded(c *fiber.Ctx, err error) {
	reason, ok := audit.UnrecordedReason(err)
	if !ok {
		return
	}
	if !unrecordedReasons[reason] {
		reason = "other"
	}
	s.metrics.unrecorded.WithLabelValues(c.Route().Path, reason).Inc()
}
