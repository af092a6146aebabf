package server

import (
	"encoding/base64"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/activation"
	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// paRoutes registers the PowerAuth routes: the bank's /v1 activation API (API key, problem+json), the
// /pa/v3 device API and the mobile-token operation API (PowerAuth's error envelope, see paErrors).
// Blocking, unblocking and removing an activation use the generic /v1/credentials calls.
func (s *Server) paRoutes() {
	app := s.app
	bank, admin := s.apiKey(config.ScopeBank), s.apiKey(config.ScopeAdmin)
	app.Post("/v1/applications", admin, s.createApplication)
	app.Get("/v1/applications", bank, s.listApplications)
	app.Get("/v1/applications/:id", bank, s.getApplication)
	app.Post("/v1/activations", bank, s.createActivation)
	app.Get("/v1/activations/:id", bank, s.getActivation)
	app.Post("/v1/activations/:id/commit", bank, s.commitActivation)
	app.Post("/v1/applications/:id/recovery", admin, s.setRecovery)
	app.Get("/v1/users/:id/recovery-codes", bank, s.listRecoveryCodes)
	app.Post("/v1/recovery-codes", bank, s.issuePostcard)
	app.Post("/v1/recovery-codes/:id/revoke", bank, s.revokeRecoveryCode)
	app.Get("/v1/operations/:id/offline", bank, s.offlinePayload)
	app.Post("/v1/operations/:id/offline-verify", bank, s.offlineVerify)

	// Device API, PowerAuth Standard RESTful API 3.x.
	app.Post("/pa/v3/activation/create", s.pa(paActivation, s.paActivationCreate))
	app.Post("/pa/v3/status", s.pa(paActivationStatus, s.paServerStatus))
	app.Post("/pa/v3/activation/status", s.pa(paActivationStatus, s.paActivationStatus))
	app.Post("/pa/v3/activation/remove", s.pa(paActivationRemove, s.paActivationRemove))
	app.Post("/pa/v3/token/create", s.pa(paToken, s.paTokenCreate))
	app.Post("/pa/v3/token/remove", s.pa(paToken, s.paTokenRemove))
	app.Post("/pa/v3/signature/validate", s.pa(paSignature, s.paSignatureValidate))
	app.Post("/pa/v3/vault/unlock", s.pa(paVault, s.paVaultUnlock))
	app.Post("/pa/v3/keystore/create", s.pa(paKeystore, s.paKeystoreCreate))
	app.Post("/pa/v3/recovery/confirm", s.pa(paRecovery, s.paRecoveryConfirm))
	app.Post("/pa/v3/upgrade/start", s.pa(paUpgradeStart, s.paUpgradeStart))
	app.Post("/pa/v3/upgrade/commit", s.pa(paUpgradeCommit, s.paUpgradeCommit))
	app.Post("/pa/v3/user/info", s.pa(paUserInfo, s.paUserInfo))

	// Mobile-token operations (Wultra enrollment server API).
	app.Post("/api/auth/token/app/operation/list", s.pa(paMobile, s.mobileList))
	app.Post("/api/auth/token/app/operation/history", s.pa(paMobile, s.mobileHistory))
	app.Post("/api/auth/token/app/operation/detail", s.pa(paMobile, s.mobileDetail))
	app.Post("/api/auth/token/app/operation/detail/claim", s.pa(paMobile, s.mobileClaim))
	app.Post("/api/auth/token/app/operation/authorize", s.pa(paMobile, s.mobileAuthorize))
	app.Post("/api/auth/token/app/operation/cancel", s.pa(paMobile, s.mobileCancel))

	// Push registration (Wultra enrollment server PushRegistrationController).
	app.Post("/api/push/device/register/token", s.pa(paMobile, s.pushRegister))

	if s.deps.Inbox != nil {
		app.Post("/v1/users/:id/inbox", bank, s.postInboxMessage)
		app.Get("/v1/users/:id/inbox", bank, s.listInboxMessages)
		// Inbox (Wultra enrollment server InboxController), X-PowerAuth-Token.
		app.Post("/api/inbox/count", s.pa(paMobile, s.inboxCount))
		app.Post("/api/inbox/message/list", s.pa(paMobile, s.inboxList))
		app.Post("/api/inbox/message/detail", s.pa(paMobile, s.inboxDetail))
		app.Post("/api/inbox/message/read", s.pa(paMobile, s.inboxRead))
		app.Post("/api/inbox/message/read-all", s.pa(paMobile, s.inboxReadAll))
	}
}

// paErrors says how one route family renders errors in PowerAuth's envelope
// {"status":"ERROR","responseObject":{"code","message"}}.
type paErrors struct {
	fallback   string // bad input or state: 400
	auth       string // authentication failure
	authStatus int
	encryption string // activation.ErrEncryption: 400
	mobile     bool   // mobile-token codes for operation states and forbidden factors
}

var (
	// Activation create answers every client failure alike (PowerAuth's ERR_ACTIVATION, 400), so that a
	// wrong code, a wrong OTP and a broken envelope cannot be told apart.
	paActivation       = paErrors{fallback: "ERR_ACTIVATION", auth: "ERR_ACTIVATION", authStatus: 400, encryption: "ERR_ACTIVATION"}
	paActivationStatus = paErrors{fallback: "ERR_ACTIVATION", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_ENCRYPTION"}
	paActivationRemove = paErrors{fallback: "ERR_ACTIVATION", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_ENCRYPTION"}
	paToken            = paErrors{fallback: "ERR_ENCRYPTION", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_ENCRYPTION"}
	paSignature        = paErrors{fallback: "ERR_AUTHENTICATION", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_ENCRYPTION"}
	paVault            = paErrors{fallback: "ERR_SECURE_VAULT", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_ENCRYPTION"}
	paKeystore         = paErrors{fallback: "ERR_TEMPORARY_KEY", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_TEMPORARY_KEY"}
	// RecoveryController: PowerAuthRecoveryConfirmationException is an authentication failure (401).
	paRecovery = paErrors{fallback: "ERR_AUTHENTICATION", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_ENCRYPTION"}
	// UpgradeController: every failure of start is PowerAuthUpgradeException (400 ERR_UPGRADE); commit
	// answers a bad signature 401 ERR_AUTHENTICATION and every other failure ERR_UPGRADE.
	paUpgradeStart  = paErrors{fallback: "ERR_UPGRADE", auth: "ERR_UPGRADE", authStatus: 400, encryption: "ERR_UPGRADE"}
	paUpgradeCommit = paErrors{fallback: "ERR_UPGRADE", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_UPGRADE"}
	paUserInfo      = paErrors{fallback: "ERR_ENCRYPTION", auth: "ERR_AUTHENTICATION", authStatus: 401, encryption: "ERR_ENCRYPTION"}
	paMobile        = paErrors{fallback: "INVALID_REQUEST", auth: "POWERAUTH_AUTH_FAIL", authStatus: 401, encryption: "INVALID_REQUEST", mobile: true}
)

var paMessages = map[string]string{
	"ERR_ACTIVATION":             "Activation failed",
	"INVALID_RECOVERY_CODE":      "Invalid recovery code or PUK",
	"ERR_AUTHENTICATION":         "Authentication failed",
	"ERR_ENCRYPTION":             "Encryption error",
	"ERR_SECURE_VAULT":           "Secure vault error",
	"ERR_UPGRADE":                "Activation upgrade failed",
	"ERR_TEMPORARY_KEY":          "Temporary key error",
	"ERR_GENERIC":                "Internal error",
	"ERR_UNAVAILABLE":            "Service temporarily unavailable",
	"ERR_TOO_MANY_REQUESTS":      "Too many requests",
	"POWERAUTH_AUTH_FAIL":        "PowerAuth authentication failed",
	"INVALID_REQUEST":            "Invalid request",
	"INVALID_ACTIVATION":         "The activation may not perform this action",
	"OPERATION_ALREADY_FINISHED": "The operation is already finished",
	"OPERATION_ALREADY_FAILED":   "The operation already failed",
	"OPERATION_ALREADY_CANCELED": "The operation is already canceled",
	"OPERATION_EXPIRED":          "The operation expired",
}

type paErrorObject struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// CurrentRecoveryPukIndex is set when a recovery activation's PUK was wrong and the code is still usable
	// (restful-integration RecoveryError): the index of the PUK the user must type.
	CurrentRecoveryPukIndex *int `json:"currentRecoveryPukIndex,omitempty"`
}

type paEnvelope struct {
	Status         string `json:"status"`
	ResponseObject any    `json:"responseObject,omitempty"`
}

// classify maps an error to a status, a PowerAuth code and a public message by fault.Classify, as
// problemFor does for problem+json: an outage anywhere below the handler is 503 ERR_UNAVAILABLE whatever
// wraps it. Internals never reach the message; bad input keeps its field-level detail.
func (e paErrors) classify(err error) (int, string, string, bool) {
	var st *activation.OperationStateError
	var ferr *fiber.Error
	code := e.fallback
	face := fault.Classify(err)
	kind, public := face.Kind, face.Public
	switch {
	case kind == fault.ErrUnavailable:
		return 503, "ERR_UNAVAILABLE", paMessages["ERR_UNAVAILABLE"], true
	case kind == fault.ErrUnauthenticated:
		return e.authStatus, e.auth, paMessages[e.auth], true
	case errors.Is(err, activation.ErrEncryption):
		return 400, e.encryption, paMessages[e.encryption], true
	case errors.Is(err, activation.ErrUpgrade):
		return 400, "ERR_UPGRADE", paMessages["ERR_UPGRADE"], true
	case e.mobile && errors.As(err, &st):
		switch st.Status {
		case store.OpFailed:
			code = "OPERATION_ALREADY_FAILED"
		case store.OpCanceled:
			code = "OPERATION_ALREADY_CANCELED"
		case store.OpExpired:
			code = "OPERATION_EXPIRED"
		default:
			code = "OPERATION_ALREADY_FINISHED"
		}
		return 400, code, paMessages[code], true
	case e.mobile && kind == fault.ErrForbidden:
		return 400, "INVALID_ACTIVATION", paMessages["INVALID_ACTIVATION"], true
	case kind == fault.ErrInvalid:
		if e == paActivation || public == "" {
			return 400, code, paMessages[code], true
		}
		return 400, code, public, true
	case kind == fault.ErrNotFound, kind == fault.ErrConflict, kind == fault.ErrGone,
		kind == fault.ErrForbidden, kind == fault.ErrLocked:
		return 400, code, paMessages[code], true
	case kind == fault.ErrTooManyRequests:
		return 429, "ERR_TOO_MANY_REQUESTS", paMessages["ERR_TOO_MANY_REQUESTS"], true
	case errors.As(err, &ferr) && ferr.Code < 500:
		return ferr.Code, code, paMessages[code], true
	}
	return 500, "ERR_GENERIC", paMessages["ERR_GENERIC"], false
}

// pa wraps a PowerAuth handler so that its errors render in PowerAuth's envelope, not problem+json.
func (s *Server) pa(codes paErrors, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := s.checkAddress(c) // the device API's per-address limit, answered in its envelope
		if err == nil {
			err = checkRawJSON(c.Body()) // one strict reading of every device body (issue 13 §8)
		}
		if err == nil {
			err = h(c)
		}
		if err == nil {
			return nil
		}
		var puk *activation.RecoveryPUKError
		if errors.As(err, &puk) {
			// ActivationService.createActivation: PowerAuthRecoveryException("INVALID_RECOVERY_CODE", index), 400.
			idx := puk.CurrentPUKIndex
			return c.Status(400).JSON(paEnvelope{Status: "ERROR", ResponseObject: paErrorObject{Code: "INVALID_RECOVERY_CODE",
				Message: paMessages["INVALID_RECOVERY_CODE"], CurrentRecoveryPukIndex: &idx}})
		}
		status, code, msg, expected := codes.classify(err)
		if !expected {
			ctx := c.UserContext()
			loggerFrom(ctx, s.deps.Logger).ErrorContext(ctx, "request failed", "err", err, "route", c.Route().Path)
		}
		if status == 503 {
			c.Set(fiber.HeaderRetryAfter, retryAfterUnavailable)
		}
		return c.Status(status).JSON(paEnvelope{Status: "ERROR", ResponseObject: paErrorObject{Code: code, Message: msg}})
	}
}

// paOK renders {"status":"OK","responseObject":...}.
func paOK(c *fiber.Ctx, obj any) error {
	return c.JSON(paEnvelope{Status: "OK", ResponseObject: obj})
}

// Private API.

type createApplicationRequest struct {
	Name string `json:"name"`
}

type applicationResponse struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	ApplicationKey    string `json:"application_key"`
	ApplicationSecret string `json:"application_secret"`
	MasterPublicKey   string `json:"master_public_key"`
	MobileSDKConfig   string `json:"mobile_sdk_config"`
	Status            string `json:"status"`
	RecoveryEnabled   bool   `json:"recovery_enabled"`
	// PostcardPublicKey is the server's recovery postcard key, for the printing service's ECDH.
	PostcardPublicKey string    `json:"postcard_public_key,omitempty"`
	PrinterPublicKey  string    `json:"printer_public_key,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
}

func toApplication(a store.Application) applicationResponse {
	return applicationResponse{ID: a.ID, Name: a.Name, ApplicationKey: a.AppKey, ApplicationSecret: a.AppSecret,
		MasterPublicKey: base64.StdEncoding.EncodeToString(a.MasterPublicKey), MobileSDKConfig: activation.EncodeSDKConfig(a),
		Status: a.Status, RecoveryEnabled: a.RecoveryEnabled, PostcardPublicKey: b64orEmpty(a.PostcardPublicKey),
		PrinterPublicKey: b64orEmpty(a.PrinterPublicKey), CreatedAt: a.CreatedAt}
}

func b64orEmpty(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (s *Server) createApplication(c *fiber.Ctx) error {
	var req createApplicationRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	a, err := s.deps.Activation.CreateApplication(c.UserContext(), actorOf(c), req.Name)
	if err != nil {
		return err
	}
	c.Location("/v1/applications/" + a.ID)
	return c.Status(fiber.StatusCreated).JSON(toApplication(a))
}

func (s *Server) listApplications(c *fiber.Ctx) error {
	apps, err := s.deps.Activation.ListApplications(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]applicationResponse, len(apps))
	for i, a := range apps {
		out[i] = toApplication(a)
	}
	return c.JSON(fiber.Map{"applications": out})
}

func (s *Server) getApplication(c *fiber.Ctx) error {
	a, err := s.deps.Activation.GetApplication(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toApplication(a))
}

type createActivationRequest struct {
	UserID            string `json:"user_id"`
	ApplicationID     string `json:"application_id"`
	OTP               string `json:"otp"`
	CommitPhase       string `json:"commit_phase"`
	ExpiresIn         *int   `json:"expires_in"`
	MaxFailedAttempts *int   `json:"max_failed_attempts"`
}

func (r createActivationRequest) Validate() (activation.InitRequest, error) {
	in := activation.InitRequest{UserID: r.UserID, ApplicationID: r.ApplicationID, OTP: r.OTP, CommitPhase: r.CommitPhase}
	var col fault.Collector
	if r.ExpiresIn != nil { // absent: the configured activation TTL; 0 is refused, not defaulted
		d, err := seconds("expires_in", *r.ExpiresIn, activation.MinActivationTTL, activation.MaxActivationTTL)
		col.Merge("", err)
		in.ExpiresIn = d
	}
	if r.MaxFailedAttempts != nil {
		col.Check(*r.MaxFailedAttempts > 0, "max_failed_attempts", "must be positive")
		in.MaxFailedAttempts = *r.MaxFailedAttempts
	}
	return in, col.Err()
}

type activationResponse struct {
	ID                  string     `json:"id"` // also the credential id; PowerAuth's wire name activation_id is used only on /pa/v3
	UserID              string     `json:"user_id"`
	ApplicationID       string     `json:"application_id"`
	Status              string     `json:"status"`
	BlockReason         string     `json:"block_reason,omitempty"`
	CommitPhase         string     `json:"commit_phase"`
	ActivationCode      string     `json:"activation_code,omitempty"`
	ActivationSignature string     `json:"activation_signature,omitempty"`
	QRPayload           string     `json:"qr_payload,omitempty"`
	ActivationName      string     `json:"activation_name,omitempty"`
	Platform            string     `json:"platform,omitempty"`
	DeviceInfo          string     `json:"device_info,omitempty"`
	Fingerprint         string     `json:"fingerprint,omitempty"`
	FailedAttempts      int        `json:"failed_attempts"`
	MaxFailedAttempts   int        `json:"max_failed_attempts"`
	CreatedAt           time.Time  `json:"created_at"`
	ExpiresAt           *time.Time `json:"expires_at,omitempty"`
	ActivatedAt         *time.Time `json:"activated_at,omitempty"`
	LastUsedAt          *time.Time `json:"last_used_at,omitempty"`
	RemovedAt           *time.Time `json:"removed_at,omitempty"`
}

func toActivation(a activation.Activation) activationResponse {
	cr := a.Credential
	r := activationResponse{ID: cr.ID, UserID: cr.UserID, ApplicationID: a.Application, Status: string(cr.Status),
		BlockReason: string(cr.BlockReason), CommitPhase: a.CommitPhase, ActivationCode: a.Code, QRPayload: a.QRPayload,
		ActivationName: cr.Label, Platform: a.Platform, DeviceInfo: a.DeviceInfo, Fingerprint: a.Fingerprint,
		FailedAttempts: cr.FailedAttempts, MaxFailedAttempts: cr.MaxFailedAttempts, CreatedAt: cr.CreatedAt,
		ExpiresAt: cr.ExpiresAt, ActivatedAt: cr.ActivatedAt, LastUsedAt: cr.LastUsedAt, RemovedAt: cr.RemovedAt}
	if len(a.CodeSignature) > 0 {
		r.ActivationSignature = base64.StdEncoding.EncodeToString(a.CodeSignature)
	}
	return r
}

func (s *Server) createActivation(c *fiber.Ctx) error {
	var req createActivationRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	in, err := req.Validate()
	if err != nil {
		return err
	}
	a, err := s.deps.Activation.Init(c.UserContext(), actorOf(c), in)
	if err != nil {
		return err
	}
	c.Location("/v1/activations/" + a.Credential.ID)
	return c.Status(fiber.StatusCreated).JSON(toActivation(a))
}

func (s *Server) getActivation(c *fiber.Ctx) error {
	a, err := s.deps.Activation.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toActivation(a))
}

type commitRequest struct {
	OTP string `json:"otp"`
}

func (s *Server) commitActivation(c *fiber.Ctx) error {
	var req commitRequest
	if len(c.Body()) > 0 {
		if err := bind(c, &req); err != nil {
			return err
		}
	}
	a, err := s.deps.Activation.Commit(c.UserContext(), actorOf(c), c.Params("id"), req.OTP)
	if err != nil {
		return err
	}
	return c.JSON(toActivation(a))
}

func (s *Server) offlinePayload(c *fiber.Ctx) error {
	qr, err := s.deps.Activation.OfflinePayload(c.UserContext(), c.Params("id"), c.Query("credential_id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"operation_id": qr.OperationID, "credential_id": qr.ActivationID, "qr_payload": qr.Payload,
		"operation_data": qr.OperationData, "expires_at": qr.ExpiresAt})
}

type offlineVerifyRequest struct {
	CredentialID string `json:"credential_id"`
	Code         string `json:"code"`
}

func (s *Server) offlineVerify(c *fiber.Ctx) error {
	var req offlineVerifyRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	res, err := s.deps.Activation.VerifyOfflineCode(c.UserContext(), actorOf(c), c.Params("id"), req.CredentialID, req.Code)
	if err != nil {
		var st *activation.OperationStateError
		if errors.As(err, &st) {
			return st.Err
		}
		return err
	}
	out := fiber.Map{"id": res.Operation.ID, "status": res.Operation.Status}
	if res.Token != "" {
		out["token"], out["token_expires_at"] = res.Token, res.TokenExpiresAt
	}
	return c.JSON(out)
}
