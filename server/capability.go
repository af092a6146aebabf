package server

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/txsign"
)

// capabilityScheme is the authentication scheme that carries an operation
// capability: "Authorization: Signet-Capability <capability>" (RFC 9110
// §11.6.2; scheme names are case-insensitive, §11.1). A header, never the
// query: URLs end up in access logs, proxies and browser history.
const capabilityScheme = "Signet-Capability"

// presentedCapability is the capability the request carries, or "".
func presentedCapability(c *fiber.Ctx) string {
	scheme, v, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, capabilityScheme) {
		return ""
	}
	return strings.TrimSpace(v)
}

// requireCapability guards a public route on operation :id: the operation id
// alone grants nothing (txsign.Capabilities). It runs before the operation
// is read, so a refusal is answered exactly like an unknown operation (404,
// same problem) at the same cost, and does not reveal whether the id exists.
// Refusals are not audited (anyone could fill the audit log with them); they
// are logged with their reason and counted.
func (s *Server) requireCapability(c *fiber.Ctx) error {
	id := c.Params("id")
	err := s.deps.Operations.CheckCapability(id, presentedCapability(c))
	var ce *txsign.CapabilityError
	if errors.As(err, &ce) {
		s.metrics.capabilityRefusals.WithLabelValues(refusalLabel(ce.Reason)).Inc()
		ctx := c.UserContext()
		loggerFrom(ctx, s.deps.Logger).InfoContext(ctx, "operation capability refused", "reason", ce.Reason,
			"operation_id", truncate(id, 64), "route", c.Route().Path)
	}
	if err != nil {
		return err
	}
	return c.Next()
}

func refusalLabel(reason string) string {
	switch {
	case strings.HasPrefix(reason, "missing"):
		return "missing"
	case strings.HasPrefix(reason, "malformed"):
		return "malformed"
	}
	return "mismatch"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
