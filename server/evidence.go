package server

import (
	"github.com/gofiber/fiber/v2"
)

// operationEvidence serves the sealed dispute-evidence bundle of an approved or rejected
// operation, byte for byte as built: `signet evidence verify` refuses any other encoding.
func (s *Server) operationEvidence(c *fiber.Ctx) error {
	id := c.Params("id")
	bundle, err := s.deps.Evidence.Build(c.UserContext(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="evidence-`+id+`.json"`)
	return c.Send(bundle)
}
