package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/activation"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
)

// Activation recovery: the device's confirmation and the bank's API (PowerAuth 3.x, Activation via Recovery
// Code; Recovery Postcard).

func (s *Server) paRecoveryConfirm(c *fiber.Ctx) error {
	env, err := s.deps.Activation.ConfirmRecoveryCode(c.UserContext(), signedRequest(c))
	if err != nil {
		return err
	}
	return c.JSON(env)
}

type recoverySettingsRequest struct {
	Enabled          *bool  `json:"enabled"`
	PrinterPublicKey string `json:"printer_public_key"`
}

func (s *Server) setRecovery(c *fiber.Ctx) error {
	var req recoverySettingsRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return fault.Invalid("enabled", "is required")
	}
	a, err := s.deps.Activation.SetRecovery(c.UserContext(), actorOf(c), c.Params("id"),
		activation.RecoverySettings{Enabled: *req.Enabled, PrinterPublicKey: req.PrinterPublicKey})
	if err != nil {
		return err
	}
	return c.JSON(toApplication(a))
}

type pukResponse struct {
	Index     int        `json:"index"`
	Status    string     `json:"status"`
	ChangedAt *time.Time `json:"changed_at,omitempty"`
	// DerivationIndex is the 8 index bytes as a signed 64-bit integer, the Java long of Wultra's
	// RecoveryCodePuk.pukDerivationIndex, so a printing service written against Wultra's API reads it.
	DerivationIndex *int64 `json:"derivation_index,omitempty"`
}

type recoveryCodeResponse struct {
	ID                string        `json:"id"`
	ApplicationID     string        `json:"application_id"`
	UserID            string        `json:"user_id"`
	ActivationID      string        `json:"activation_id,omitempty"`
	CodeMasked        string        `json:"recovery_code_masked"`
	Status            string        `json:"status"`
	FailedAttempts    int           `json:"failed_attempts"`
	MaxFailedAttempts int           `json:"max_failed_attempts"`
	PUKs              []pukResponse `json:"puks"`
	CreatedAt         time.Time     `json:"created_at"`
	UpdatedAt         time.Time     `json:"updated_at"`
	// Nonce is set once, when a postcard is issued (with the PUKs' derivation indexes).
	Nonce []byte `json:"nonce,omitempty"`
}

func toRecoveryCode(r activation.RecoveryCode) recoveryCodeResponse {
	out := recoveryCodeResponse{ID: r.ID, ApplicationID: r.ApplicationID, UserID: r.UserID, ActivationID: r.ActivationID,
		CodeMasked: r.CodeMasked, Status: r.Status, FailedAttempts: r.FailedAttempts, MaxFailedAttempts: r.MaxFailedAttempts,
		PUKs: make([]pukResponse, len(r.PUKs)), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	for i, p := range r.PUKs {
		out.PUKs[i] = pukResponse{Index: p.Index, Status: p.Status, ChangedAt: p.ChangedAt}
	}
	return out
}

func (s *Server) listRecoveryCodes(c *fiber.Ctx) error {
	rs, err := s.deps.Activation.ListRecoveryCodes(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	out := make([]recoveryCodeResponse, len(rs))
	for i, r := range rs {
		out[i] = toRecoveryCode(r)
	}
	return c.JSON(fiber.Map{"recovery_codes": out})
}

type postcardRequest struct {
	UserID        string `json:"user_id"`
	ApplicationID string `json:"application_id"`
	PUKCount      int    `json:"puk_count"`
}

func (s *Server) issuePostcard(c *fiber.Ctx) error {
	var req postcardRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	p, err := s.deps.Activation.IssuePostcard(c.UserContext(), actorOf(c), req.ApplicationID, req.UserID, req.PUKCount)
	if err != nil {
		return err
	}
	out := toRecoveryCode(p.RecoveryCode)
	out.Nonce = p.Seed.Nonce
	for i := range out.PUKs {
		idx := int64(p.Seed.PUKDerivationIndexes[i])
		out.PUKs[i].DerivationIndex = &idx
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) revokeRecoveryCode(c *fiber.Ctx) error {
	r, err := s.deps.Activation.RevokeRecoveryCode(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toRecoveryCode(r))
}

// Activation upgrade (Activation-Upgrade.md): no activation has one today; see activation.StartUpgrade.

func (s *Server) paUpgradeStart(c *fiber.Ctx) error {
	env, err := s.deps.Activation.StartUpgrade(c.UserContext(), c.Get(powerauth.HeaderEncryption), c.Body())
	if err != nil {
		return err
	}
	return c.JSON(env)
}

func (s *Server) paUpgradeCommit(c *fiber.Ctx) error {
	if err := s.deps.Activation.CommitUpgrade(c.UserContext(), signedRequest(c)); err != nil {
		return err
	}
	return c.JSON(paEnvelope{Status: "OK"})
}
