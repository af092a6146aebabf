package activation

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/signet-sca/signet/internal/strictjson"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
)

// Parsers of untrusted device input: the /pa/v3 and mobile-token request bodies and the decrypted ECIES
// payloads. Each accepts exactly one JSON object; unknown members are ignored, as PowerAuth's own servers
// do, so that newer SDKs keep working; trailing data, wrong types and oversized input are refused.

// MaxRequestBytes bounds every body and decrypted payload these parsers accept.
const MaxRequestBytes = 64 << 10

func decodeObject(data []byte, dst any) error {
	if len(data) > MaxRequestBytes {
		return fault.Invalid("", "the request body is too large")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fault.Invalid("", "a JSON object is required")
	}
	// The same strict reading as every other body (duplicate members under encoding/json's folding,
	// invalid UTF-8): it covers the decrypted ECIES payloads too, which the HTTP layer never sees.
	if err := strictjson.Check(trimmed); err != nil {
		var se *strictjson.Error
		if errors.As(err, &se) {
			return fault.Invalid(se.Field, "%s", se.Reason)
		}
		return fault.Invalid("", "malformed JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fault.Invalid(te.Field, "has the wrong JSON type")
		}
		return fault.Invalid("", "malformed JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.Invalid("", "unexpected data after the JSON object")
	}
	return nil
}

// decodeRequestObject unwraps PowerAuth's {"requestObject": {...}} request envelope.
func decodeRequestObject(data []byte, dst any) error {
	var w struct {
		RequestObject json.RawMessage `json:"requestObject"`
	}
	if err := decodeObject(data, &w); err != nil {
		return err
	}
	if len(w.RequestObject) == 0 || bytes.Equal(w.RequestObject, []byte("null")) {
		return fault.Invalid("requestObject", "is required")
	}
	return decodeObject(w.RequestObject, dst)
}

func b64Exact(field, s string, n int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != n {
		return nil, fault.Invalid(field, "must be base64 of %d bytes", n)
	}
	return b, nil
}

func checkText(c *fault.Collector, field, v string, max int) {
	c.Check(utf8.ValidString(v) && len(v) <= max && !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7F }),
		field, "must be at most %d bytes of printable UTF-8", max)
}

// StatusRequest is the body of /pa/v3/activation/status: {"requestObject":{"activationId","challenge"}}.
type StatusRequest struct {
	ActivationID string
	Challenge    []byte // 16 bytes (protocol 3.1+)
}

// ParseStatusRequest parses and validates a status request.
func ParseStatusRequest(body []byte) (StatusRequest, error) {
	var r struct {
		ActivationID string `json:"activationId"`
		Challenge    string `json:"challenge"`
	}
	if err := decodeRequestObject(body, &r); err != nil {
		return StatusRequest{}, err
	}
	var c fault.Collector
	c.Check(powerauth.ValidUUID(r.ActivationID), "activationId", "must be a UUID")
	ch, err := b64Exact("challenge", r.Challenge, 16)
	c.Merge("challenge", err)
	if err := c.Err(); err != nil {
		return StatusRequest{}, err
	}
	return StatusRequest{ActivationID: strings.ToLower(r.ActivationID), Challenge: ch}, nil
}

// layer1Request is the decrypted level 1 of activation create (PowerAuth ActivationLayer1Request; the
// type member is "type", notes Wire details item 1).
type layer1Request struct {
	Type               string              `json:"type"`
	IdentityAttributes map[string]string   `json:"identityAttributes"`
	CustomAttributes   map[string]any      `json:"customAttributes"`
	ActivationData     *powerauth.Envelope `json:"activationData"`

	code         powerauth.ActivationCode // CODE
	recoveryCode powerauth.ActivationCode // RECOVERY
	puk          powerauth.PUK            // RECOVERY
}

// MaxIdentityAttributes bounds the identity attributes of a CUSTOM activation (count, and bytes per value).
const (
	MaxIdentityAttributes  = 16
	MaxIdentityValueLength = 1024
)

// parseLayer1 parses and validates level 1 and a level 2 envelope of the right shape. By type
// (ActivationService.createActivation in powerauth-restful-integration): CODE carries identityAttributes.code,
// a syntactically valid activation code; RECOVERY carries identityAttributes.recoveryCode (an activation-code
// shaped recovery code) and identityAttributes.puk (10 digits); CUSTOM carries the bank's own credentials,
// at most MaxIdentityAttributes printable members.
func parseLayer1(plain []byte) (layer1Request, error) {
	var r layer1Request
	if err := decodeObject(plain, &r); err != nil {
		return r, err
	}
	var err error
	switch r.Type {
	case TypeCode:
		if r.code, err = powerauth.ValidateActivationCode(r.IdentityAttributes["code"]); err != nil {
			return r, fault.Invalid("identityAttributes.code", "is not a valid activation code")
		}
	case TypeRecovery:
		if r.recoveryCode, err = powerauth.ParseRecoveryCode(r.IdentityAttributes["recoveryCode"]); err != nil {
			return r, fault.Invalid("identityAttributes.recoveryCode", "is not a valid recovery code")
		}
		if r.puk, err = powerauth.ValidatePUK(r.IdentityAttributes["puk"]); err != nil {
			return r, fault.Invalid("identityAttributes.puk", "is not a valid recovery PUK")
		}
	case TypeCustom:
		var c fault.Collector
		c.Check(len(r.IdentityAttributes) > 0 && len(r.IdentityAttributes) <= MaxIdentityAttributes, "identityAttributes",
			"must have 1 to %d members", MaxIdentityAttributes)
		for k, v := range r.IdentityAttributes {
			checkText(&c, "identityAttributes", k, 64)
			checkText(&c, "identityAttributes."+k, v, MaxIdentityValueLength)
		}
		if err := c.Err(); err != nil {
			return r, err
		}
	default:
		return r, fault.Invalid("type", "must be CODE, RECOVERY or CUSTOM")
	}
	if r.ActivationData == nil {
		return r, fault.Invalid("activationData", "is required")
	}
	raw, _ := json.Marshal(r.ActivationData)
	if _, err := powerauth.ParseEnvelope(raw); err != nil {
		return r, fault.Invalid("activationData", "is not an encrypted request")
	}
	return r, nil
}

// layer2Request is the decrypted level 2 (PowerAuth ActivationLayer2Request).
type layer2Request struct {
	DevicePublicKey string `json:"devicePublicKey"`
	ActivationName  string `json:"activationName"`
	Extras          string `json:"extras"`
	ActivationOtp   string `json:"activationOtp"`
	Platform        string `json:"platform"`
	DeviceInfo      string `json:"deviceInfo"`
}

func parseLayer2(plain []byte) (layer2Request, *powerauth.PublicKey, error) {
	var r layer2Request
	if err := decodeObject(plain, &r); err != nil {
		return r, nil, err
	}
	var c fault.Collector
	pub, err := powerauth.ParsePublicKeyBase64(r.DevicePublicKey)
	c.Check(err == nil, "devicePublicKey", "must be a base64 P-256 public key")
	checkText(&c, "activationName", r.ActivationName, 255)
	checkText(&c, "platform", r.Platform, 64)
	checkText(&c, "deviceInfo", r.DeviceInfo, 255)
	c.Check(len(r.Extras) <= 1024 && utf8.ValidString(r.Extras), "extras", "must be at most 1024 bytes of UTF-8")
	c.Check(len(r.ActivationOtp) <= 64, "activationOtp", "is too long")
	if err := c.Err(); err != nil {
		return r, nil, err
	}
	return r, pub, nil
}

// OperationRequest is the requestObject of the mobile-token detail, authorize and cancel calls.
type OperationRequest struct {
	ID     string
	Data   string
	Reason string
}

// Cancel reasons (mobile-token API "Operation Rejection Reasons").
var cancelReasons = map[string]bool{"UNKNOWN": true, "INCORRECT_DATA": true, "UNEXPECTED_OPERATION": true}

// ParseOperationRequest parses {"requestObject":{"id","data"?,"reason"?}}. data is compared with the
// stored operation data after this decoding (notes, Wire details item 8); the signature covers the raw body.
func ParseOperationRequest(body []byte) (OperationRequest, error) {
	var r struct {
		ID     string `json:"id"`
		Data   string `json:"data"`
		Reason string `json:"reason"`
	}
	if err := decodeRequestObject(body, &r); err != nil {
		return OperationRequest{}, err
	}
	var c fault.Collector
	c.Merge("id", validID("id", r.ID))
	c.Check(len(r.Data) <= 4096, "data", "is too long")
	c.Check(r.Reason == "" || cancelReasons[r.Reason], "reason", "must be UNKNOWN, INCORRECT_DATA or UNEXPECTED_OPERATION")
	if err := c.Err(); err != nil {
		return OperationRequest{}, err
	}
	return OperationRequest{ID: strings.ToLower(r.ID), Data: r.Data, Reason: r.Reason}, nil
}

// ParseListRequest accepts the operation list body: empty, {} or {"requestObject":{...}} (notes, Wire
// details item 7).
func ParseListRequest(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var r struct {
		RequestObject json.RawMessage `json:"requestObject"`
	}
	if err := decodeObject(body, &r); err != nil {
		return err
	}
	if len(r.RequestObject) > 0 && !bytes.Equal(r.RequestObject, []byte("null")) {
		var obj map[string]json.RawMessage
		return decodeObject(r.RequestObject, &obj)
	}
	return nil
}

// ParseKeystoreRequest parses {"requestObject":{"jwt":"..."}} of /pa/v3/keystore/create.
func ParseKeystoreRequest(body []byte) (string, error) {
	var r struct {
		JWT string `json:"jwt"`
	}
	if err := decodeRequestObject(body, &r); err != nil {
		return "", err
	}
	if r.JWT == "" || len(r.JWT) > 8192 {
		return "", fault.Invalid("jwt", "is required")
	}
	return r.JWT, nil
}

// parseConfirmRecovery parses the decrypted /pa/v3/recovery/confirm payload {"recoveryCode":"..."}
// (ConfirmRecoveryRequestPayload); the code may carry the QR code's "R:" prefix.
func parseConfirmRecovery(plain []byte) (powerauth.ActivationCode, error) {
	var r struct {
		RecoveryCode string `json:"recoveryCode"`
	}
	if err := decodeObject(plain, &r); err != nil {
		return "", err
	}
	code, err := powerauth.ParseRecoveryCode(r.RecoveryCode)
	if err != nil {
		return "", fault.Invalid("recoveryCode", "is not a valid recovery code")
	}
	return code, nil
}

// parseVaultRequest parses the decrypted vault unlock payload ({} or {"reason":"..."}).
func parseVaultRequest(plain []byte) (string, error) {
	if len(bytes.TrimSpace(plain)) == 0 {
		return "", nil
	}
	var r struct {
		Reason string `json:"reason"`
	}
	if err := decodeObject(plain, &r); err != nil {
		return "", err
	}
	var c fault.Collector
	checkText(&c, "reason", r.Reason, 255)
	return r.Reason, c.Err()
}

// ValidateOfflineCode checks the shape of an offline code typed by the user: one or two groups of 4–8
// digits of equal length joined by '-' (PowerAuth 3.x, Offline Signatures).
func ValidateOfflineCode(code string) error {
	parts := strings.Split(code, "-")
	bad := fault.Invalid("code", "must be groups of 4 to 8 digits joined by '-'")
	if len(parts) < 1 || len(parts) > 2 {
		return bad
	}
	for _, p := range parts {
		if len(p) < 4 || len(p) > 8 || len(p) != len(parts[0]) {
			return bad
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return bad
			}
		}
	}
	return nil
}
