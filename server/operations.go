package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/verify"
)

type payee struct {
	Account string `json:"account"`
	Name    string `json:"name"`
}

type createOperationRequest struct {
	UserID      string   `json:"user_id"`
	Type        string   `json:"type"`
	Payee       *payee   `json:"payee"`
	Amount      string   `json:"amount"`
	Currency    string   `json:"currency"`
	Text        string   `json:"text"`
	ExpiresIn   *int     `json:"expires_in"`
	Factors     []string `json:"factors"`
	CallbackURL string   `json:"callback_url"`
	Locale      string   `json:"locale"`
}

// operationResponse is the operation resource. signing-data uses the same
// field names so a device recomputes DL from exactly what the bank sees.
type operationResponse struct {
	ID             string     `json:"id"`
	UserID         string     `json:"user_id,omitempty"`
	Status         string     `json:"status"`
	Type           string     `json:"type"`
	Payee          *payee     `json:"payee,omitempty"` // omitted for operations without one (a login)
	Amount         string     `json:"amount,omitempty"`
	Currency       string     `json:"currency,omitempty"`
	Text           string     `json:"text,omitempty"`
	Nonce          string     `json:"nonce"`
	DL             string     `json:"dl"`
	ExpiresAt      time.Time  `json:"expires_at"`
	CreatedAt      *time.Time `json:"created_at,omitempty"`
	Factors        []string   `json:"factors,omitempty"`
	FailedAttempts *int       `json:"failed_attempts,omitempty"`
	CallbackURL    string     `json:"callback_url,omitempty"`
	Locale         string     `json:"locale,omitempty"`
	ApprovalURL    string     `json:"approval_url,omitempty"`
	Capability     string     `json:"capability,omitempty"`
	ApprovedBy     string     `json:"approved_credential_id,omitempty"`
	Token          string     `json:"token,omitempty"`
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty"`
}

func signingView(op store.Operation) operationResponse {
	r := operationResponse{ID: op.ID, Status: string(op.Status), Type: op.Type, Amount: op.Amount, Currency: op.Currency,
		Text: op.Text, Nonce: op.Nonce, DL: base64.RawURLEncoding.EncodeToString(op.DL), ExpiresAt: op.ExpiresAt}
	if op.PayeeAccount != "" || op.PayeeName != "" {
		r.Payee = &payee{Account: op.PayeeAccount, Name: op.PayeeName}
	}
	return r
}

func (s *Server) operationView(op store.Operation) operationResponse {
	r := signingView(op)
	created, failed := op.CreatedAt, op.FailedAttempts
	r.UserID, r.CreatedAt, r.FailedAttempts, r.CallbackURL = op.UserID, &created, &failed, op.CallbackURL
	r.Locale = txsign.Locale(op)
	// Private API only (signingView never carries these): the capability opens
	// the operation's public routes; the bank hands it to the user's browser
	// (in approval_url's fragment) or app (in its push), to nobody else.
	r.ApprovalURL, r.Capability = s.deps.Operations.ApprovalURL(op), s.deps.Operations.Capability(op.ID)
	r.ApprovedBy = op.ApprovedCredentialID
	if op.Factors != "" {
		r.Factors = strings.Split(op.Factors, ",")
	}
	r.Token, r.TokenExpiresAt = s.deps.Operations.TokenIfValid(op)
	return r
}

func (s *Server) createOperation(c *fiber.Ctx) error {
	var req createOperationRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	in := txsign.NewOperation{UserID: req.UserID, Type: req.Type, Amount: req.Amount, Currency: req.Currency,
		Text: req.Text, Factors: req.Factors, CallbackURL: req.CallbackURL, IdempotencyKey: c.Get("Idempotency-Key"),
		Locale: req.Locale}
	if req.Payee != nil {
		in.PayeeAccount, in.PayeeName = req.Payee.Account, req.Payee.Name
	}
	if req.ExpiresIn != nil { // absent: txsign.DefaultExpiry; 0 is refused, not defaulted
		var err error
		if in.ExpiresIn, err = seconds("expires_in", *req.ExpiresIn, txsign.MinExpiry, txsign.MaxExpiry); err != nil {
			return err
		}
	}
	op, created, err := s.deps.Operations.Create(c.UserContext(), actorOf(c), in)
	if err != nil {
		return err
	}
	if created {
		c.Status(fiber.StatusCreated)
		c.Location("/v1/operations/" + op.ID)
	}
	return c.JSON(s.operationView(op))
}

// getOperation answers the operation; with ?wait=30s (at most 60s) a PENDING operation is
// answered as soon as its status changes, or as it is when the wait runs out (long-poll).
func (s *Server) getOperation(c *fiber.Ctx) error {
	wait, err := parseWait(c.Query("wait"))
	if err != nil {
		return err
	}
	op, err := s.deps.Operations.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	if wait > 0 && op.Status == store.OpPending {
		if op, err = s.waitForChange(c.UserContext(), op, wait); err != nil {
			return err
		}
	}
	return c.JSON(s.operationView(op))
}

func (s *Server) listOperations(c *fiber.Ctx) error {
	ops, err := s.deps.Operations.List(c.UserContext(), c.Query("user_id"), c.Query("status"))
	if err != nil {
		return err
	}
	out := make([]operationResponse, len(ops))
	for i, op := range ops {
		out[i] = s.operationView(op)
	}
	return c.JSON(fiber.Map{"operations": out})
}

func (s *Server) cancelOperation(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	op, err := s.deps.Operations.Cancel(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s.operationView(op))
}

func (s *Server) issueRegistrationCode(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	code, exp, err := s.deps.Devices.IssueCode(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"code": code, "expires_at": exp,
		"attestation_challenge": base64.RawURLEncoding.EncodeToString(devicekey.AttestationChallenge(code))})
}

type registerDeviceRequest struct {
	RegistrationCode string          `json:"registration_code"`
	PublicKey        json.RawMessage `json:"public_key"`
	Label            string          `json:"label"`
	Platform         string          `json:"platform"`
	Model            string          `json:"model"`
	OSVersion        string          `json:"os_version"`
	AppVersion       string          `json:"app_version"`
	Attestation      *struct {
		Format           string   `json:"format"`
		CertificateChain []string `json:"certificate_chain"`
		KeyID            string   `json:"key_id"`
		Object           string   `json:"object"`
	} `json:"attestation"`
}

// decodeB64 accepts standard or URL-safe base64, padded or not (Android's Base64.DEFAULT,
// Apple's base64EncodedString, base64url).
func decodeB64(s string) ([]byte, bool) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_", "\n", "", "\r", "").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	return b, err == nil
}

// Validate decodes the attestation's base64 members.
func (r registerDeviceRequest) Validate() (*devicekey.Attestation, error) {
	if r.Attestation == nil {
		return nil, nil
	}
	var col fault.Collector
	a := &devicekey.Attestation{Format: r.Attestation.Format}
	for i, c := range r.Attestation.CertificateChain {
		der, ok := decodeB64(c)
		col.Check(ok, fmt.Sprintf("attestation.certificate_chain[%d]", i), "must be base64 of a DER certificate")
		a.CertificateChain = append(a.CertificateChain, der)
	}
	var ok bool
	if r.Attestation.KeyID != "" {
		a.KeyID, ok = decodeB64(r.Attestation.KeyID)
		col.Check(ok, "attestation.key_id", "must be base64")
	}
	if r.Attestation.Object != "" {
		a.Object, ok = decodeB64(r.Attestation.Object)
		col.Check(ok, "attestation.object", "must be base64")
	}
	return a, col.Err()
}

func (s *Server) registerDevice(c *fiber.Ctx) error {
	var req registerDeviceRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	att, err := req.Validate()
	if err != nil {
		return err
	}
	lookup, _ := devicekey.CodeLookup(req.RegistrationCode)
	if err := s.limitCode(c, lookup); err != nil {
		return err
	}
	cred, err := s.deps.Devices.Register(c.UserContext(), devicekey.Registration{Code: req.RegistrationCode,
		PublicKey: req.PublicKey, Label: req.Label, Platform: req.Platform, Model: req.Model,
		OSVersion: req.OSVersion, AppVersion: req.AppVersion, Attestation: att})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"credential_id": cred.ID, "user_id": cred.UserID, "status": cred.Status,
		"assurance": devicekey.DecodeData(cred.Data).Assurance})
}

func (s *Server) signingData(c *fiber.Ctx) error {
	op, err := s.deps.Operations.SigningData(c.UserContext(), c.Params("id"), c.Query("credential_id"))
	if err != nil {
		return err
	}
	return c.JSON(signingView(op))
}

type deviceSignatureRequest struct {
	CredentialID string `json:"credential_id"`
	Signature    string `json:"signature"`
	AppAssertion string `json:"app_assertion"`
}

func (r deviceSignatureRequest) Validate() ([]byte, []byte, error) {
	var col fault.Collector
	col.Check(r.CredentialID != "", "credential_id", "is required")
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(r.Signature, "="))
	col.Check(err == nil && len(sig) >= 8 && len(sig) <= 80, "signature", "must be a base64url ASN.1 DER ECDSA signature")
	var as []byte
	if r.AppAssertion != "" {
		var ok bool
		as, ok = decodeB64(r.AppAssertion)
		col.Check(ok && len(as) <= 4096, "app_assertion", "must be base64 of an App Attest assertion (CBOR, at most 4096 bytes)")
	}
	return sig, as, col.Err()
}

func (s *Server) approveWithDevice(c *fiber.Ctx) error { return s.deviceDecision(c, txsign.Approve) }
func (s *Server) rejectWithDevice(c *fiber.Ctx) error  { return s.deviceDecision(c, txsign.Reject) }

func (s *Server) deviceDecision(c *fiber.Ctx, d txsign.Decision) error {
	var req deviceSignatureRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	sig, as, err := req.Validate()
	if err != nil {
		return err
	}
	res, err := s.deps.Operations.Decide(c.UserContext(), txsign.Attempt{OperationID: c.Params("id"),
		CredentialID: req.CredentialID, Decision: d, Actor: "device",
		Verify: txsign.VerifyDeviceSignatureWith(sig, d, as)})
	if err != nil {
		return err
	}
	out := fiber.Map{"id": res.Operation.ID, "status": res.Operation.Status}
	if res.Token != "" {
		out["token"], out["token_expires_at"] = res.Token, res.TokenExpiresAt
	}
	return c.JSON(out)
}

type consumeRequest struct {
	Token string `json:"token"`
	// RequireACR: "sca" or "1fa" (or the URNs); a weaker approval is refused 403 before its JTI is consumed.
	RequireACR string `json:"require_acr"`
}

func (s *Server) consumeToken(c *fiber.Ctx) error {
	var req consumeRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return fault.Invalid("token", "is required")
	}
	var acr string
	if req.RequireACR != "" {
		var err error
		if acr, err = verify.ParseACR(req.RequireACR); err != nil {
			return fault.Invalid("require_acr", "must be sca or 1fa")
		}
	}
	claims, err := s.deps.Operations.Consume(c.UserContext(), req.Token, acr)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"claims": claims})
}

func (s *Server) jwks(c *fiber.Ctx) error {
	keys, err := s.deps.Operations.JWKS(c.UserContext())
	if err != nil {
		return err
	}
	// Short cache: a next key is published well before it signs, and gateways
	// refresh on an unknown kid anyway.
	c.Set(fiber.HeaderCacheControl, "public, max-age="+strconv.Itoa(60))
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	return c.JSON(fiber.Map{"keys": keys}, "application/jwk-set+json")
}
