package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/config"
)

func (s *Server) routes() {
	app := s.app
	app.Use(s.requestContext, s.observe)

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	// /metrics is served on the admin listener only (adminRoutes); here it is 404.

	// Private API for the bank backend: every route needs an API key of the
	// scope it names (consume < bank < admin). The middleware is attached per
	// route, never to the /v1 prefix, so public device and browser routes below
	// cannot inherit or lose it by accident.
	bank, admin, consume := s.apiKey(config.ScopeBank), s.apiKey(config.ScopeAdmin), s.apiKey(config.ScopeConsume)
	app.Post("/v1/users", bank, s.createUser)
	app.Get("/v1/users", bank, s.findUser)
	app.Get("/v1/users/:id", bank, s.getUser)
	app.Get("/v1/users/:id/credentials", bank, s.listCredentials)
	app.Post("/v1/credentials/:id/block", bank, s.blockCredential)
	app.Post("/v1/credentials/:id/unblock", admin, s.unblockCredential)
	app.Delete("/v1/credentials/:id", bank, s.removeCredential)
	app.Get("/v1/audit", admin, s.listAudit)
	if s.deps.Operations != nil {
		app.Post("/v1/operations", bank, s.createOperation)
		app.Get("/v1/operations", bank, s.listOperations)
		app.Get("/v1/operations/:id", bank, s.getOperation)
		app.Post("/v1/operations/:id/cancel", bank, s.cancelOperation)
		app.Post("/v1/users/:id/registration-codes", bank, s.issueRegistrationCode)
		app.Post("/v1/tokens/consume", consume, s.consumeToken)
		app.Get("/v1/operations/:id/events", bank, s.operationEvents)
		if s.deps.Evidence != nil {
			app.Get("/v1/operations/:id/evidence", bank, s.operationEvidence)
		}

		// Device API (public): the device proves itself by its signature. Rate
		// limited per client address (pub); the operation routes also need the
		// operation's capability (delivered with the push): without it an id
		// would tell anyone the payee and amount (signing-data) or the status
		// (approve answers 409 "the operation is APPROVED" before it looks at
		// the signature). The per-operation limit (op) comes after the
		// capability, so that nobody without it can spend the operation's budget
		// and lock its user out.
		pub, capability, op := s.limitAddress, s.requireCapability, s.limitOperation
		app.Post("/v1/devices", pub, s.registerDevice)
		app.Get("/v1/operations/:id/signing-data", pub, capability, op, s.signingData)
		app.Post("/v1/operations/:id/approve", pub, capability, op, s.approveWithDevice)
		app.Post("/v1/operations/:id/reject", pub, capability, op, s.rejectWithDevice)

		app.Get("/.well-known/jwks.json", s.limitJWKS, s.jwks)
	}
	if s.deps.Web != nil {
		s.webRoutes()
	}
	if s.deps.Activation != nil {
		s.paRoutes()
	}

	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}
