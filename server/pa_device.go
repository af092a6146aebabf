package server

import (
	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/language"

	"github.com/signet-sca/signet/activation"
	"github.com/signet-sca/signet/powerauth"
)

// PowerAuth Standard RESTful API 3.x handlers. Request bodies are the exact bytes received: signatures
// cover them as they are (notes, Wire details item 8), and encrypted answers are not wrapped in
// status/responseObject (item 5).

func signedRequest(c *fiber.Ctx) activation.SignedRequest {
	return activation.SignedRequest{Method: c.Method(), Authorization: c.Get(powerauth.HeaderAuthorization), Body: c.Body()}
}

func (s *Server) paActivationCreate(c *fiber.Ctx) error {
	env, err := s.deps.Activation.KeyExchange(c.UserContext(), c.Get(powerauth.HeaderEncryption), c.Body())
	if err != nil {
		return err
	}
	return c.JSON(env)
}

// paServerStatus is the server's clock for the mobile SDK's time synchronisation (SDK 1.8 asks before every
// encrypted request, 1.9 after each cold start): GetServerStatusEndpoint (Android) and PA2GetServerStatusResponse
// (iOS) read only responseObject.serverTime, milliseconds since the Unix epoch. Public and unsigned; the SDKs
// send "{}" (JsonSerialization.serializeRequestObject of no object), and any JSON body is accepted.
func (s *Server) paServerStatus(c *fiber.Ctx) error {
	return paOK(c, fiber.Map{"serverTime": s.deps.Now().UnixMilli()})
}

// paUserInfo answers the SDK's fetchUserInfo: an activation-scope ECIES request (X-PowerAuth-Encryption names
// the activation), answered with the encrypted claims, not wrapped in status/responseObject.
func (s *Server) paUserInfo(c *fiber.Ctx) error {
	env, err := s.deps.Activation.UserInfo(c.UserContext(), c.Get(powerauth.HeaderEncryption), c.Body())
	if err != nil {
		return err
	}
	return c.JSON(env)
}

func (s *Server) paActivationStatus(c *fiber.Ctx) error {
	req, err := activation.ParseStatusRequest(c.Body())
	if err != nil {
		return err
	}
	resp, err := s.deps.Activation.Status(c.UserContext(), req)
	if err != nil {
		return err
	}
	return paOK(c, resp)
}

func (s *Server) paActivationRemove(c *fiber.Ctx) error {
	id, err := s.deps.Activation.RemoveActivation(c.UserContext(), signedRequest(c))
	if err != nil {
		return err
	}
	return paOK(c, fiber.Map{"activationId": id})
}

func (s *Server) paTokenRemove(c *fiber.Ctx) error {
	id, err := s.deps.Activation.RemoveToken(c.UserContext(), signedRequest(c))
	if err != nil {
		return err
	}
	return paOK(c, fiber.Map{"tokenId": id})
}

func (s *Server) paTokenCreate(c *fiber.Ctx) error {
	env, err := s.deps.Activation.CreateToken(c.UserContext(), signedRequest(c))
	if err != nil {
		return err
	}
	return c.JSON(env)
}

func (s *Server) paSignatureValidate(c *fiber.Ctx) error {
	if err := s.deps.Activation.ValidateSignature(c.UserContext(), signedRequest(c)); err != nil {
		return err
	}
	return c.JSON(paEnvelope{Status: "OK"})
}

func (s *Server) paVaultUnlock(c *fiber.Ctx) error {
	env, err := s.deps.Activation.UnlockVault(c.UserContext(), signedRequest(c))
	if err != nil {
		return err
	}
	return c.JSON(env)
}

func (s *Server) paKeystoreCreate(c *fiber.Ctx) error {
	jwt, err := activation.ParseKeystoreRequest(c.Body())
	if err != nil {
		return err
	}
	out, err := s.deps.Activation.CreateTemporaryKey(c.UserContext(), jwt)
	if err != nil {
		return err
	}
	return paOK(c, fiber.Map{"jwt": out})
}

// Mobile-token operations.

// mobileTimeFormat is how currentTimestamp and the inbox's timestampCreated are written: ISO 8601 to the
// second with a +hhmm offset ("2023-02-10T12:30:42+0000"), as the mobile-token SDKs' own fixtures have it
// (WultraMobileTokenSDKTests). The iOS SDK decodes dates with JSONDecoder's .iso8601, which refuses
// fractional seconds (an inbox message with them would not decode); Android's ZonedDateTimeDeserializer
// rewrites +hhmm to +hh:mm, and Gson's ISO8601Utils reads both.
const mobileTimeFormat = "2006-01-02T15:04:05-0700"

// mobileOK renders the mobile-token answer of list, detail and claim: {"status":"OK","currentTimestamp":...,
// "responseObject":...} (Wultra MobileTokenResponse; the SDKs use currentTimestamp to count down operation
// expiry on the server's clock, not the phone's).
func (s *Server) mobileOK(c *fiber.Ctx, obj any) error {
	return c.JSON(struct {
		Status           string `json:"status"`
		CurrentTimestamp string `json:"currentTimestamp"`
		ResponseObject   any    `json:"responseObject"`
	}{"OK", s.deps.Now().UTC().Format(mobileTimeFormat), obj})
}

// mobileLanguage is the display language of a mobile-token answer (Accept-Language; amounts are formatted in it).
func mobileLanguage(c *fiber.Ctx) language.Tag {
	return activation.ParseAcceptLanguage(c.Get(fiber.HeaderAcceptLanguage))
}

func (s *Server) mobileList(c *fiber.Ctx) error {
	if err := activation.ParseListRequest(c.Body()); err != nil {
		return err
	}
	ta, err := s.deps.Activation.AuthenticateToken(c.UserContext(), c.Get(powerauth.HeaderToken))
	if err != nil {
		return err
	}
	ops, err := s.deps.Activation.ListOperations(c.UserContext(), ta, mobileLanguage(c))
	if err != nil {
		return err
	}
	return s.mobileOK(c, ops)
}

// mobileHistory is signed (X-PowerAuth-Authorization, uriId /operation/history), not token-authenticated,
// and its answer has no currentTimestamp (Wultra MobileTokenController operationListAll).
func (s *Server) mobileHistory(c *fiber.Ctx) error {
	ops, err := s.deps.Activation.OperationHistory(c.UserContext(), signedRequest(c), mobileLanguage(c))
	if err != nil {
		return err
	}
	return paOK(c, ops)
}

func (s *Server) mobileDetail(c *fiber.Ctx) error {
	req, err := activation.ParseOperationRequest(c.Body())
	if err != nil {
		return err
	}
	ta, err := s.deps.Activation.AuthenticateToken(c.UserContext(), c.Get(powerauth.HeaderToken))
	if err != nil {
		return err
	}
	op, err := s.deps.Activation.OperationDetail(c.UserContext(), ta, req.ID, mobileLanguage(c))
	if err != nil {
		return err
	}
	return s.mobileOK(c, op)
}

func (s *Server) mobileClaim(c *fiber.Ctx) error {
	req, err := activation.ParseOperationRequest(c.Body())
	if err != nil {
		return err
	}
	ta, err := s.deps.Activation.AuthenticateToken(c.UserContext(), c.Get(powerauth.HeaderToken))
	if err != nil {
		return err
	}
	op, err := s.deps.Activation.ClaimOperation(c.UserContext(), ta, req.ID, mobileLanguage(c))
	if err != nil {
		return err
	}
	return s.mobileOK(c, op)
}

func (s *Server) mobileAuthorize(c *fiber.Ctx) error {
	if _, err := s.deps.Activation.Authorize(c.UserContext(), signedRequest(c)); err != nil {
		return err
	}
	return c.JSON(paEnvelope{Status: "OK"})
}

func (s *Server) mobileCancel(c *fiber.Ctx) error {
	if _, err := s.deps.Activation.Cancel(c.UserContext(), signedRequest(c)); err != nil {
		return err
	}
	return c.JSON(paEnvelope{Status: "OK"})
}

// Push registration and inbox (mobile-token SDK PushService and InboxService), X-PowerAuth-Token.

func (s *Server) pushRegister(c *fiber.Ctx) error {
	req, err := activation.ParsePushRegistration(c.Body())
	if err != nil {
		return err
	}
	ta, err := s.deps.Activation.AuthenticateToken(c.UserContext(), c.Get(powerauth.HeaderToken))
	if err != nil {
		return err
	}
	if err := s.deps.Activation.RegisterPushToken(c.UserContext(), ta, req); err != nil {
		return err
	}
	return c.JSON(paEnvelope{Status: "OK"})
}
