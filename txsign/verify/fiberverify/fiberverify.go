// Package fiberverify is the txsign/verify middleware for gofiber/fiber v2, kept apart so that
// net/http gateways importing txsign/verify do not pull in fiber and fasthttp.
package fiberverify

import (
	"encoding/json"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/signet-sca/signet/txsign/verify"
	"github.com/signet-sca/signet/txsign/verify/internal/claimsctx"
)

// Option configures New.
type Option func(*config)

type config struct {
	consume bool
	acr     string
	binding func(*fiber.Ctx) (verify.Binding, error)
	onError func(*fiber.Ctx, error)
}

// VerifyOnly checks tokens without consuming them (see verify.VerifyOnly).
func VerifyOnly() Option { return func(c *config) { c.consume = false } }

// WithBinding checks the request against the token before consuming it (see
// verify.WithBinding). extract must copy what it keeps out of fiber's reused buffers.
func WithBinding(extract func(c *fiber.Ctx) (verify.Binding, error)) Option {
	return func(c *config) { c.binding = extract }
}

// WithACR sets the authentication the token must prove (see verify.WithACR).
func WithACR(acr string) Option { return func(c *config) { c.acr = acr } }

// WithErrorLog is called with every refusal's cause (never log the token itself).
func WithErrorLog(f func(c *fiber.Ctx, err error)) Option {
	return func(c *config) { c.onError = f }
}

type localsKey struct{}

// Claims returns the claims New verified for this request. They are also in
// c.UserContext() (verify.ClaimsFromContext).
func Claims(c *fiber.Ctx) (*verify.Claims, bool) {
	cl, ok := c.Locals(localsKey{}).(*verify.Claims)
	return cl, ok && cl != nil
}

// New returns a fiber handler with the behaviour of verify.Middleware: token from Txn-Token or
// Authorization: Bearer; 401 missing or invalid, 403 binding mismatch or insufficient
// authentication, 409 already used,
// 503 keys or replay store unavailable, as RFC 9457 problem+json; on success the claims go to
// Locals (Claims) and to the user context, and the next handler runs.
func New(v *verify.Verifier, opts ...Option) fiber.Handler {
	cfg := config{consume: true}
	for _, o := range opts {
		o(&cfg)
	}
	return func(c *fiber.Ctx) error {
		token := verify.TokenFromHeaders(
			utils.CopyString(c.Get(verify.HeaderTxnToken)),
			utils.CopyString(c.Get(fiber.HeaderAuthorization)))
		var binding func() (verify.Binding, error)
		if cfg.binding != nil {
			binding = func() (verify.Binding, error) { return cfg.binding(c) }
		}
		ctx := c.UserContext()
		claims, err := verify.Check(ctx, v, token, cfg.consume, cfg.acr, binding)
		if err != nil {
			if cfg.onError != nil {
				cfg.onError(c, err)
			}
			return writeProblem(c, verify.ProblemFor(err))
		}
		c.Locals(localsKey{}, claims)
		c.SetUserContext(claimsctx.With(ctx, claims))
		return c.Next()
	}
}

func writeProblem(c *fiber.Ctx, p verify.Problem) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	switch p.Status {
	case http.StatusUnauthorized:
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
	case http.StatusServiceUnavailable:
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(p.Status).Send(body)
}
