package server

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

type createUserRequest struct {
	ExternalID  string `json:"external_id"`
	DisplayName string `json:"display_name"`
}

type userResponse struct {
	ID          string    `json:"id"`
	ExternalID  string    `json:"external_id"`
	DisplayName string    `json:"display_name"`
	CreatedAt   time.Time `json:"created_at"`
	// PasscodeStatus (NOT_SET, SET, LOCKED) and PasscodeTriesLeft: the web
	// passcode as the bank's support sees it (absent without web signing).
	PasscodeStatus    string `json:"passcode_status,omitempty"`
	PasscodeTriesLeft *int   `json:"passcode_tries_left,omitempty"`
}

func (s *Server) toUser(u store.User) userResponse {
	r := userResponse{ID: u.ID, ExternalID: u.ExternalID, DisplayName: u.DisplayName, CreatedAt: u.CreatedAt}
	if s.deps.Web != nil {
		pc := s.deps.Web.PasscodeStateOf(u)
		r.PasscodeStatus, r.PasscodeTriesLeft = pc.Status, &pc.TriesLeft
	}
	return r
}

func (s *Server) createUser(c *fiber.Ctx) error {
	var req createUserRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	u, created, err := s.deps.Accounts.CreateUser(c.UserContext(), actorOf(c),
		account.NewUser{ExternalID: req.ExternalID, DisplayName: req.DisplayName})
	if err != nil {
		return err
	}
	if created {
		c.Status(fiber.StatusCreated)
		c.Location("/v1/users/" + u.ID)
	}
	return c.JSON(s.toUser(u))
}

func (s *Server) getUser(c *fiber.Ctx) error {
	u, err := s.deps.Accounts.GetUser(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s.toUser(u))
}

func (s *Server) findUser(c *fiber.Ctx) error {
	ext := c.Query("external_id")
	if ext == "" {
		return fault.Invalid("external_id", "query parameter is required")
	}
	u, err := s.deps.Accounts.FindUser(c.UserContext(), ext)
	if err != nil {
		return err
	}
	return c.JSON(s.toUser(u))
}

type credentialResponse struct {
	ID                string          `json:"id"`
	UserID            string          `json:"user_id"`
	Kind              string          `json:"kind"`
	Status            string          `json:"status"`
	Label             string          `json:"label"`
	BlockReason       string          `json:"block_reason,omitempty"`
	FailedAttempts    int             `json:"failed_attempts"`
	MaxFailedAttempts int             `json:"max_failed_attempts"`
	Device            json.RawMessage `json:"device,omitempty"`
	// Assurance: what a device key's platform attestation proved (device keys only).
	Assurance   *attest.Assurance `json:"assurance,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	ActivatedAt *time.Time        `json:"activated_at,omitempty"`
	LastUsedAt  *time.Time        `json:"last_used_at"`
	RemovedAt   *time.Time        `json:"removed_at,omitempty"`
	ExpiresAt   *time.Time        `json:"expires_at,omitempty"`
}

func toCredential(cr store.Credential) credentialResponse {
	r := credentialResponse{ID: cr.ID, UserID: cr.UserID, Kind: string(cr.Kind), Status: string(cr.Status),
		Label: cr.Label, BlockReason: string(cr.BlockReason), FailedAttempts: cr.FailedAttempts,
		MaxFailedAttempts: cr.MaxFailedAttempts, CreatedAt: cr.CreatedAt, ActivatedAt: cr.ActivatedAt,
		LastUsedAt: cr.LastUsedAt, RemovedAt: cr.RemovedAt, ExpiresAt: cr.ExpiresAt}
	if json.Valid(cr.Device) && len(cr.Device) > 0 {
		r.Device = cr.Device
	}
	if cr.Kind == store.KindDeviceKey {
		a := devicekey.DecodeData(cr.Data).Assurance
		r.Assurance = &a
	}
	return r
}

func (s *Server) listCredentials(c *fiber.Ctx) error {
	creds, err := s.deps.Accounts.Credentials(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	out := make([]credentialResponse, len(creds))
	for i, cr := range creds {
		out[i] = toCredential(cr)
	}
	return c.JSON(fiber.Map{"credentials": out})
}

type blockRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) blockCredential(c *fiber.Ctx) error {
	var req blockRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	cr, err := s.deps.Accounts.Block(c.UserContext(), actorOf(c), c.Params("id"), store.BlockReason(req.Reason))
	if err != nil {
		return err
	}
	return c.JSON(toCredential(cr))
}

func (s *Server) unblockCredential(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	cr, err := s.deps.Accounts.Unblock(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toCredential(cr))
}

func (s *Server) removeCredential(c *fiber.Ctx) error {
	cr, err := s.deps.Accounts.Remove(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toCredential(cr))
}

// bindOptional accepts an empty body or an empty JSON object.
func bindOptional(c *fiber.Ctx) error {
	if len(c.Body()) == 0 {
		return nil
	}
	var empty struct{}
	return bind(c, &empty)
}

type auditEventResponse struct {
	Seq          int64           `json:"seq"`
	ID           string          `json:"id"`
	Time         time.Time       `json:"time"`
	Type         string          `json:"type"`
	Outcome      string          `json:"outcome"`
	Reason       string          `json:"reason,omitempty"`
	Actor        string          `json:"actor,omitempty"`
	UserID       string          `json:"user_id,omitempty"`
	OperationID  string          `json:"operation_id,omitempty"`
	CredentialID string          `json:"credential_id,omitempty"`
	Evidence     json.RawMessage `json:"evidence,omitempty"`
}

func (s *Server) listAudit(c *fiber.Ctx) error {
	var col fault.Collector
	q := account.AuditQuery{UserID: c.Query("user_id"), OperationID: c.Query("operation_id"),
		CredentialID: c.Query("credential_id"), Cursor: c.Query("cursor")}
	q.Since = queryTime(&col, c, "since")
	q.Until = queryTime(&col, c, "until")
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		col.Check(err == nil && n > 0, "limit", "must be a positive integer")
		q.Limit = n
	}
	if err := col.Err(); err != nil {
		return err
	}
	evs, next, err := s.deps.Accounts.Audit(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := make([]auditEventResponse, len(evs))
	for i, e := range evs {
		out[i] = auditEventResponse{Seq: e.Seq, ID: e.ID, Time: e.Time, Type: e.Type, Outcome: e.Outcome,
			Reason: e.Reason, Actor: e.Actor, UserID: e.UserID, OperationID: e.OperationID, CredentialID: e.CredentialID}
		if len(e.Evidence) > 0 && json.Valid(e.Evidence) {
			out[i].Evidence = e.Evidence
		}
	}
	resp := fiber.Map{"events": out}
	if next != "" {
		resp["next_cursor"] = next
	}
	return c.JSON(resp)
}

func queryTime(col *fault.Collector, c *fiber.Ctx, name string) time.Time {
	v := c.Query(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	col.Check(err == nil, name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	return t
}
