package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// UserInfo answers /pa/v3/user/info (the SDKs' fetchUserInfo: Android GetUserInfoEndpoint, iOS
// PowerAuthSDK.fetchUserInfo). The request is not signed; it is an activation-scope ECIES envelope with
// sh1 /pa/generic/activation (EciesEncryptorId.GENERIC_ACTIVATION_SCOPE) whose plaintext is empty or a JSON
// object, and X-PowerAuth-Encryption names the application and the activation. Only an ACTIVE activation of
// that application gets an answer: the encrypted JSON object of OpenID Connect Core §5.1 claims the SDKs
// model (UserInfo / PowerAuthUserInfo), from the user record: sub (the bank's user id, as the transaction
// token's sub), name (the display name, when set) and updated_at (seconds). Signet keeps no e-mail, phone,
// address or birth date, so those claims are absent (the SDK getters return null). Every refusal is
// ErrEncryption (ERR_ENCRYPTION), its cause audited.
func (s *Service) UserInfo(ctx context.Context, encryptionHeader string, body []byte) (*powerauth.Envelope, error) {
	fail := func(reason, credID, userID string) (*powerauth.Envelope, error) {
		if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.user.info", Outcome: audit.Unverified, Reason: reason,
			Actor: "device", CredentialID: credID, UserID: userID}); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s", ErrEncryption, reason)
	}
	hdr, err := powerauth.ParseEncryptionHeader(encryptionHeader)
	if err != nil {
		return fail("malformed "+powerauth.HeaderEncryption, "", "")
	}
	if hdr.ActivationID == "" {
		return fail("user info is in activation scope: no activation_id", "", "")
	}
	if hdr.Version != powerauth.Version32 && hdr.Version != powerauth.Version33 {
		return fail("end-to-end encryption needs protocol 3.2 or 3.3", "", "")
	}
	env, err := powerauth.ParseEnvelope(body)
	if err != nil {
		return fail("malformed envelope", "", "")
	}
	c, err := s.store.GetCredential(ctx, strings.ToLower(hdr.ActivationID))
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Kind != store.KindPowerAuth) {
		return fail("unknown activation", "", "")
	}
	if err != nil {
		return nil, err
	}
	if c.Status != store.StatusActive {
		return fail("activation is "+string(c.Status), c.ID, c.UserID)
	}
	k, err := s.loadKeys(c)
	if err != nil {
		return nil, err
	}
	app, err := s.appByKey(ctx, hdr.ApplicationKey)
	if errors.Is(err, store.ErrNotFound) || (err == nil && app.ID != k.data.ApplicationID) {
		return fail("application key does not match the activation", c.ID, c.UserID)
	}
	if err != nil {
		return nil, err
	}
	cfg := powerauth.EciesConfig{Version: hdr.Version, Scope: powerauth.ScopeActivation,
		SharedInfo1: powerauth.SharedInfo1ActivationGeneric, ApplicationKey: app.AppKey,
		ApplicationSecret: powerauth.ApplicationSecret(app.AppSecret), ActivationID: c.ID, TransportKey: k.derived.Transport}
	plain, sess, err := s.openEnvelope(ctx, cfg, env, k.serverPriv)
	if errors.Is(err, ErrEncryption) {
		return fail(err.Error(), c.ID, c.UserID)
	}
	if err != nil {
		return nil, err
	}
	if p := bytes.TrimSpace(plain); len(p) > 0 {
		var obj map[string]json.RawMessage
		if err := decodeObject(p, &obj); err != nil {
			return nil, fault.Invalid("body", "the decrypted request must be empty or a JSON object")
		}
	}
	u, err := s.store.GetUser(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	claims := map[string]any{"sub": u.ExternalID, "updated_at": u.UpdatedAt.Unix()}
	if u.DisplayName != "" {
		claims["name"] = u.DisplayName
	}
	out, _ := json.Marshal(claims)
	return sess.SealResponse(out, s.now())
}
