package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/web"
	"github.com/signet-sca/signet/webauthn"
)

// webRoutes registers web-native signing (issue 5): the bank's private
// enrollment and unlock calls (API key per route), the browser API under
// /v1/web (public: a passkey, a passcode or an enrollment session proves the
// caller) and the hosted pages and SDK under /web.
func (s *Server) webRoutes() {
	app := s.app
	bank, admin := s.apiKey(config.ScopeBank), s.apiKey(config.ScopeAdmin)
	app.Post("/v1/users/:id/enrollments", bank, s.issueEnrollment)
	app.Post("/v1/users/:id/passcode/unlock", admin, s.unlockPasscode)
	app.Post("/v1/users/:id/passcode/reset", bank, s.issuePasscodeReset)

	// The operation routes need the operation's capability
	// (Authorization: Signet-Capability, from the approval URL's fragment),
	// checked before the per-operation limit so that nobody without it can
	// spend the operation's budget.
	capability := s.requireCapability
	app.Use("/v1/web", s.limitAddress, s.webAPIHeaders)
	app.Get("/v1/web/passcode-key", s.passcodeKey)
	app.Get("/v1/web/operations/:id", capability, s.webOperation)
	app.Post("/v1/web/operations/:id/approval/begin", capability, s.limitOperation, s.beginApproval)
	app.Post("/v1/web/operations/:id/approval/finish", capability, s.limitOperation, s.finishApproval)
	app.Post("/v1/web/enrollment/session", s.openEnrollmentSession)
	app.Get("/v1/web/enrollment/session", s.enrollmentState)
	app.Delete("/v1/web/enrollment/session", s.closeEnrollmentSession)
	app.Post("/v1/web/enrollment/passkeys/begin", s.beginPasskeyRegistration)
	app.Post("/v1/web/enrollment/passkeys/finish", s.finishPasskeyRegistration)
	app.Patch("/v1/web/enrollment/passkeys/:id", s.renamePasskey)
	app.Delete("/v1/web/enrollment/passkeys/:id", s.removePasskey)
	app.Post("/v1/web/enrollment/passcode/begin", s.beginPasscodeChange)
	app.Post("/v1/web/enrollment/passcode/finish", s.finishPasscodeChange)
	app.Post("/v1/web/enrollment/passcode/reset/begin", s.beginPasscodeReset)
	app.Post("/v1/web/enrollment/passcode/reset/finish", s.finishPasscodeReset)

	app.Use("/web", s.limitAddress, s.webPageHeaders)
	app.Get("/web/enroll", s.enrollPage)
	app.Get("/web/approve/:id", s.approvePage)
	app.Get("/web/static/:file", s.webAsset("static/"))
	app.Get("/web/sdk/:file", s.webAsset("sdk/"))
	app.Get("/web/i18n/:file", s.webAsset("i18n/"))
	app.Get("/web/brand.css", s.brandCSS)
	app.Get("/web/brand/logo", s.brandLogo)
}

// webAPIHeaders: no caching of anything the browser API returns, and CORS for
// the bank pages that embed the SDK. Only exact WebAuthn origins are allowed
// (a page outside them could not use the passkeys anyway); no cookies are
// involved, so credentials are never allowed.
func (s *Server) webAPIHeaders(c *fiber.Ctx) error {
	if !under(c.Path(), "/v1/web") { // fiber's Use matches plain prefixes
		return c.Next()
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Vary(fiber.HeaderOrigin)
	if origin := c.Get(fiber.HeaderOrigin); origin != "" && s.deps.Web.AllowedOrigin(origin) {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		if c.Method() == fiber.MethodOptions {
			c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST, PATCH, DELETE")
			// Authorization carries the enrollment session (Bearer) and the
			// operation capability (Signet-Capability).
			c.Set(fiber.HeaderAccessControlAllowHeaders, "Authorization, Content-Type")
			c.Set(fiber.HeaderAccessControlMaxAge, "600")
			return c.SendStatus(fiber.StatusNoContent)
		}
	}
	return c.Next()
}

// webPageHeaders: a strict Content-Security-Policy (web.ContentSecurityPolicy)
// and the usual hardening on every page and asset.
func (s *Server) webPageHeaders(c *fiber.Ctx) error {
	if !under(c.Path(), "/web") {
		return c.Next()
	}
	c.Set(fiber.HeaderContentSecurityPolicy, web.ContentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderPermissionsPolicy, "publickey-credentials-get=(self), publickey-credentials-create=(self), camera=(), microphone=(), geolocation=(), payment=(self)") // payment: Secure Payment Confirmation (spc.go) needs the Payment Request API
	return c.Next()
}

// under reports whether path is prefix or below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func (s *Server) webAsset(dir string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		b, ct, ok := web.Asset(dir + c.Params("file"))
		if !ok {
			return fiber.ErrNotFound
		}
		c.Set(fiber.HeaderContentType, ct)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		if dir == "sdk/" || dir == "i18n/" { // banks import the SDK (and its catalogues) cross-origin
			c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
			c.Set("Cross-Origin-Resource-Policy", "cross-origin")
		}
		return c.Send(b)
	}
}

func (s *Server) sendPage(c *fiber.Ctx, status int, render func(*bytes.Buffer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// brandCSS is the brand's colours as a stylesheet (the CSP allows no inline style).
func (s *Server) brandCSS(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(s.opts.Brand.CSS())
}

// brandLogo serves the configured logo from Signet's origin, so the pages'
// img-src 'self' shows it; 404 when none is configured.
func (s *Server) brandLogo(c *fiber.Ctx) error {
	if len(s.opts.Brand.Logo) == 0 {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentType, s.opts.Brand.LogoType)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(s.opts.Brand.Logo)
}

// page is what every hosted page shares: the brand and the language, from
// ?lang= when it names a supported one, else the browser's Accept-Language
// (web.MatchLocale). fixed reports that ?lang= decided.
func (s *Server) page(c *fiber.Ctx) (p web.Page, fixed bool) {
	lang := c.Query("lang")
	c.Vary(fiber.HeaderAcceptLanguage)
	p = web.Page{Brand: s.opts.Brand, Lang: web.MatchLocale(lang, c.Get(fiber.HeaderAcceptLanguage))}
	return p, web.SupportsLocale(lang)
}

func (s *Server) enrollPage(c *fiber.Ctx) error {
	p, _ := s.page(c)
	return s.sendPage(c, fiber.StatusOK, func(b *bytes.Buffer) error { return web.RenderEnroll(b, web.Enroll{Page: p}) })
}

// approvePage serves the approval page's shell: the same bytes for every
// operation id, with no operation data (no payee, amount, status or passcode
// state), so the page URL alone reveals nothing. Its script reads the
// capability from the URL fragment and loads the operation through the
// browser API (GET /v1/web/operations/{id}), which requires it. Only
// return_url comes from the URL, and only when it matches the allow-list. A
// malformed id gets the plain "not valid" page (its format says nothing
// about any operation).
func (s *Server) approvePage(c *fiber.Ctx) error {
	p, fixed := s.page(c)
	if !store.ValidID(c.Params("id")) {
		return s.sendPage(c, fiber.StatusNotFound, func(b *bytes.Buffer) error {
			return web.RenderApproval(b, web.Approval{Page: p, NotFound: true})
		})
	}
	page := web.Approval{Page: p, LangFixed: fixed, OpenerOrigins: s.deps.Web.OpenerOrigins()}
	if ret, ok := s.deps.Web.ReturnURL(c.Query("return_url")); ok {
		page.ReturnURL = ret
	}
	return s.sendPage(c, fiber.StatusOK, func(b *bytes.Buffer) error { return web.RenderApproval(b, page) })
}

func (s *Server) issueEnrollment(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	e, err := s.deps.Web.IssueEnrollment(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"url": e.URL, "expires_at": e.ExpiresAt})
}

func (s *Server) unlockPasscode(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	u, err := s.deps.Web.UnlockPasscode(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"user_id": u.ID, "passcode_set": len(u.PasscodeVerifier) > 0,
		"passcode_locked": u.PasscodeLocked, "passcode_failed": u.PasscodeFailed})
}

func (s *Server) passcodeKey(c *fiber.Ctx) error {
	k, err := s.deps.Web.PasscodeKey()
	if err != nil {
		return err
	}
	return c.JSON(k)
}

type webOperationResponse struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Type      string    `json:"type"`
	Payee     *webPayee `json:"payee,omitempty"`
	Amount    string    `json:"amount,omitempty"`
	Currency  string    `json:"currency,omitempty"`
	Text      string    `json:"text,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	// Locale is the page language the operation's locale selects (one of
	// web.Locales), omitted when it has none or none matches.
	Locale string `json:"locale,omitempty"`
	// Passcode is the user's passcode state while the operation is PENDING:
	// the page shows the tries left, or the locked state instead of the form.
	Passcode *webauthn.PasscodeState `json:"passcode,omitempty"`
}

// webPayee is the payee as the payer sees it: account_display groups an IBAN in fours (display only;
// the account is what is signed).
type webPayee struct {
	Account        string `json:"account"`
	AccountDisplay string `json:"account_display"`
	Name           string `json:"name"`
}

// webOperation is what the payer sees: no user id, nonce, token or callback.
func (s *Server) webOperation(c *fiber.Ctx) error {
	op, err := s.deps.Web.Operation(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	r := webOperationResponse{ID: op.ID, Status: string(op.Status), Type: op.Type, Amount: op.Amount,
		Currency: op.Currency, Text: op.Text, ExpiresAt: op.ExpiresAt}
	if l := txsign.Locale(op); web.SupportsLocale(l) {
		r.Locale = web.MatchLocale(l)
	}
	if op.Status == store.OpPending {
		pc, err := s.deps.Web.OperationPasscode(c.UserContext(), op)
		if err != nil {
			return err
		}
		r.Passcode = &pc
	}
	if op.PayeeAccount != "" || op.PayeeName != "" {
		r.Payee = &webPayee{Account: op.PayeeAccount, AccountDisplay: web.AccountDisplay(op.PayeeAccount), Name: op.PayeeName}
	}
	return c.JSON(r)
}

type beginApprovalRequest struct {
	Decision string `json:"decision"`
}

func (r beginApprovalRequest) Validate() (txsign.Decision, error) {
	switch r.Decision {
	case "", "approve":
		return txsign.Approve, nil
	case "reject":
		return txsign.Reject, nil
	}
	return 0, fault.Invalid("decision", "must be approve or reject")
}

func (s *Server) beginApproval(c *fiber.Ctx) error {
	var req beginApprovalRequest
	if len(c.Body()) > 0 {
		if err := bind(c, &req); err != nil {
			return err
		}
	}
	d, err := req.Validate()
	if err != nil {
		return err
	}
	opts, err := s.deps.Web.BeginApproval(c.UserContext(), c.Params("id"), d)
	if err != nil {
		return err
	}
	return c.JSON(opts)
}

type finishApprovalRequest struct {
	CeremonyID string          `json:"ceremony_id"`
	Credential json.RawMessage `json:"credential"`
	Passcode   json.RawMessage `json:"passcode"`
}

func (r finishApprovalRequest) Validate() error {
	var col fault.Collector
	col.Check(r.CeremonyID != "", "ceremony_id", "is required")
	col.Check(len(r.Credential) > 0 && string(r.Credential) != "null", "credential", "is required (PublicKeyCredential.toJSON())")
	return col.Err()
}

// finishApproval answers the browser with the outcome only; the bank reads
// the transaction token through the private API.
func (s *Server) finishApproval(c *fiber.Ctx) error {
	var req finishApprovalRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	res, err := s.deps.Web.FinishApproval(c.UserContext(), c.Params("id"), webauthn.ApprovalResult{
		CeremonyID: req.CeremonyID, Credential: req.Credential, Passcode: nullToNil(req.Passcode)})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": res.Operation.ID, "status": res.Operation.Status})
}

func nullToNil(b json.RawMessage) []byte {
	if string(b) == "null" {
		return nil
	}
	return b
}

// sessionToken is the enrollment session from "Authorization: Bearer <token>".
func sessionToken(c *fiber.Ctx) string {
	scheme, tok, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

type openSessionRequest struct {
	Token string `json:"token"`
}

func (s *Server) openEnrollmentSession(c *fiber.Ctx) error {
	var req openSessionRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return fault.Invalid("token", "is required (the secret after #token= in the enrollment link)")
	}
	if err := s.limitLink(c, req.Token); err != nil {
		return err
	}
	sess, err := s.deps.Web.OpenSession(c.UserContext(), req.Token)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"session": sess.Token, "expires_at": sess.ExpiresAt})
}

func (s *Server) enrollmentState(c *fiber.Ctx) error {
	st, err := s.deps.Web.State(c.UserContext(), sessionToken(c))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) closeEnrollmentSession(c *fiber.Ctx) error {
	if err := s.deps.Web.CloseSession(c.UserContext(), sessionToken(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) beginPasskeyRegistration(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	opts, err := s.deps.Web.BeginRegistration(c.UserContext(), sessionToken(c))
	if err != nil {
		return err
	}
	return c.JSON(opts)
}

type finishRegistrationRequest struct {
	CeremonyID string          `json:"ceremony_id"`
	Credential json.RawMessage `json:"credential"`
	Passcode   json.RawMessage `json:"passcode"`
	Label      string          `json:"label"`
}

func (r finishRegistrationRequest) Validate() error {
	var col fault.Collector
	col.Check(r.CeremonyID != "", "ceremony_id", "is required")
	col.Check(len(r.Credential) > 0 && string(r.Credential) != "null", "credential", "is required (PublicKeyCredential.toJSON())")
	return col.Err()
}

func (s *Server) finishPasskeyRegistration(c *fiber.Ctx) error {
	var req finishRegistrationRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	view, err := s.deps.Web.FinishRegistration(c.UserContext(), sessionToken(c), webauthn.RegistrationResult{
		CeremonyID: req.CeremonyID, Credential: req.Credential, Passcode: nullToNil(req.Passcode), Label: req.Label})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(view)
}

type renamePasskeyRequest struct {
	Label string `json:"label"`
}

func (s *Server) renamePasskey(c *fiber.Ctx) error {
	var req renamePasskeyRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	view, err := s.deps.Web.RenamePasskey(c.UserContext(), sessionToken(c), c.Params("id"), req.Label)
	if err != nil {
		return err
	}
	return c.JSON(view)
}

func (s *Server) removePasskey(c *fiber.Ctx) error {
	if err := s.deps.Web.RemovePasskey(c.UserContext(), sessionToken(c), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) beginPasscodeChange(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	opts, err := s.deps.Web.BeginPasscodeChange(c.UserContext(), sessionToken(c))
	if err != nil {
		return err
	}
	return c.JSON(opts)
}

type finishPasscodeChangeRequest struct {
	CeremonyID  string          `json:"ceremony_id"`
	Credential  json.RawMessage `json:"credential"`
	Passcode    json.RawMessage `json:"passcode"`
	NewPasscode json.RawMessage `json:"new_passcode"`
}

func (r finishPasscodeChangeRequest) Validate() error {
	var col fault.Collector
	col.Check(r.CeremonyID != "", "ceremony_id", "is required")
	col.Check(len(r.Credential) > 0 && string(r.Credential) != "null", "credential", "is required (PublicKeyCredential.toJSON())")
	col.Check(len(r.Passcode) > 0 && string(r.Passcode) != "null", "passcode", "is required")
	col.Check(len(r.NewPasscode) > 0 && string(r.NewPasscode) != "null", "new_passcode", "is required")
	return col.Err()
}

func (s *Server) finishPasscodeChange(c *fiber.Ctx) error {
	var req finishPasscodeChangeRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	if err := s.deps.Web.FinishPasscodeChange(c.UserContext(), sessionToken(c), webauthn.PasscodeChange{
		CeremonyID: req.CeremonyID, Credential: req.Credential, Passcode: req.Passcode, NewPasscode: req.NewPasscode}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// issuePasscodeReset issues a passcode-reset link (webauthn/reset.go).
func (s *Server) issuePasscodeReset(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	e, err := s.deps.Web.IssuePasscodeReset(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"url": e.URL, "expires_at": e.ExpiresAt})
}

func (s *Server) beginPasscodeReset(c *fiber.Ctx) error {
	if err := bindOptional(c); err != nil {
		return err
	}
	opts, err := s.deps.Web.BeginPasscodeReset(c.UserContext(), sessionToken(c))
	if err != nil {
		return err
	}
	return c.JSON(opts)
}

type finishPasscodeResetRequest struct {
	CeremonyID  string          `json:"ceremony_id"`
	Credential  json.RawMessage `json:"credential"`
	NewPasscode json.RawMessage `json:"new_passcode"`
}

func (r finishPasscodeResetRequest) Validate() error {
	var col fault.Collector
	col.Check(r.CeremonyID != "", "ceremony_id", "is required")
	col.Check(len(r.Credential) > 0 && string(r.Credential) != "null", "credential", "is required (PublicKeyCredential.toJSON())")
	col.Check(len(r.NewPasscode) > 0 && string(r.NewPasscode) != "null", "new_passcode", "is required")
	return col.Err()
}

func (s *Server) finishPasscodeReset(c *fiber.Ctx) error {
	var req finishPasscodeResetRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	if err := s.deps.Web.FinishPasscodeReset(c.UserContext(), sessionToken(c), webauthn.PasscodeReset{
		CeremonyID: req.CeremonyID, Credential: req.Credential, NewPasscode: req.NewPasscode}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
