package device

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/signet-sca/signet/powerauth"
)

// Signed request URI identifiers (PowerAuth 3.x Standard RESTful API and mobile-token API).
const (
	uriActivationRemove   = "/pa/activation/remove"
	uriSignatureValidate  = "/pa/signature/validate"
	uriTokenCreate        = "/pa/token/create"
	uriTokenRemove        = "/pa/token/remove"
	uriVaultUnlock        = "/pa/vault/unlock"
	uriRecoveryConfirm    = "/pa/recovery/confirm"
	uriUpgradeCommit      = "/pa/upgrade/commit"
	uriOperationAuthorize = "/operation/authorize"
	uriOperationCancel    = "/operation/cancel"
	uriOperationHistory   = "/operation/history"
)

// SignatureHeader computes X-PowerAuth-Authorization for a request (PowerAuth 3.x, Computing and Validating
// Signatures): DATA over method, uriId, a fresh nonce and the exact body bytes, signed at the local counter,
// which then advances (and is persisted) before the request goes out.
func (c *Client) SignatureHeader(st *State, method, uriID string, body []byte, t powerauth.SignatureType, pin string) (string, error) {
	v, err := st.version()
	if err != nil {
		return "", err
	}
	keys, err := st.signatureKeys(t, pin, c.RememberPIN)
	if err != nil {
		return "", err
	}
	format, err := powerauth.OnlineSignatureFormat(v)
	if err != nil {
		return "", err
	}
	ctr, err := st.nextCounter()
	if err != nil {
		return "", err
	}
	if err := c.persist(st); err != nil {
		return "", err
	}
	nonce := randomBytes(16)
	data := powerauth.SignatureData(method, uriID, nonce, body, powerauth.ApplicationSecret(st.ApplicationSecret))
	sig, err := powerauth.ComputeSignature(data, keys, t, ctr, format)
	if err != nil {
		return "", err
	}
	return powerauth.AuthorizationHeader{Version: v, ActivationID: st.ActivationID, ApplicationKey: st.ApplicationKey,
		Nonce: nonce, SignatureType: t, Signature: sig}.HeaderValue(), nil
}

func (c *Client) signedPost(ctx context.Context, st *State, path, uriID string, body []byte, t powerauth.SignatureType, pin string, out any) error {
	hdr, err := c.SignatureHeader(st, "POST", uriID, body, t, pin)
	if err != nil {
		return err
	}
	return c.post(ctx, path, map[string]string{powerauth.HeaderAuthorization: hdr}, body, out)
}

// ValidateSignature calls /pa/v3/signature/validate with a signature of type t over body.
func (c *Client) ValidateSignature(ctx context.Context, st *State, t powerauth.SignatureType, pin string, body []byte) error {
	return c.signedPost(ctx, st, "/pa/v3/signature/validate", uriSignatureValidate, body, t, pin, nil)
}

// Remove removes the activation on the server (/pa/v3/activation/remove, possession + knowledge).
func (c *Client) Remove(ctx context.Context, st *State, pin string) error {
	return c.signedPost(ctx, st, "/pa/v3/activation/remove", uriActivationRemove, nil, powerauth.SignaturePossessionKnowledge, pin, nil)
}

// RemoveToken revokes the device's MAC token on the server (/pa/v3/token/remove, signed with a possession
// signature as the SDK's removeAccessToken does: PA2PrivateHttpTokenProvider removeTokenData, Android
// PowerAuthTokenStore with RemoveTokenEndpoint) and forgets it locally.
func (c *Client) RemoveToken(ctx context.Context, st *State) error {
	if st.Token == nil {
		return errors.New("device: no token to remove")
	}
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"tokenId": st.Token.ID}})
	if err := c.signedPost(ctx, st, "/pa/v3/token/remove", uriTokenRemove, body, powerauth.SignaturePossession, "", nil); err != nil {
		return err
	}
	st.Token = nil
	return c.persist(st)
}

// CreateToken creates a MAC token (/pa/v3/token/create): a signed, activation-scope ECIES request. The
// token is stored in the state.
func (c *Client) CreateToken(ctx context.Context, st *State, t powerauth.SignatureType, pin string) (*Token, error) {
	v, err := st.version()
	if err != nil {
		return nil, err
	}
	target, err := st.activationTarget()
	if err != nil {
		return nil, err
	}
	env, sess, err := c.seal(ctx, v, target, powerauth.SharedInfo1CreateToken, []byte("{}"))
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(env)
	var resp powerauth.Envelope
	if err := c.signedPost(ctx, st, "/pa/v3/token/create", uriTokenCreate, body, t, pin, &resp); err != nil {
		return nil, err
	}
	plain, err := sess.OpenResponse(&resp)
	if err != nil {
		return nil, err
	}
	var tok struct {
		TokenID     string `json:"tokenId"`
		TokenSecret []byte `json:"tokenSecret"`
	}
	if err := json.Unmarshal(plain, &tok); err != nil || len(tok.TokenSecret) != 16 || !powerauth.ValidUUID(tok.TokenID) {
		return nil, errors.New("device: malformed token answer")
	}
	st.Token = &Token{ID: tok.TokenID, Secret: tok.TokenSecret, SignatureType: t.String()}
	return st.Token, c.persist(st)
}

// TokenHeader computes X-PowerAuth-Token (PowerAuth 3.x, MAC Token Based Authentication) with a fresh nonce
// and the device clock.
func (c *Client) TokenHeader(st *State) (string, error) {
	if st.Token == nil {
		return "", errors.New("device: no token")
	}
	v, err := st.version()
	if err != nil {
		return "", err
	}
	secret, err := powerauth.ParseTokenSecret(st.Token.Secret)
	if err != nil {
		return "", err
	}
	nonce := randomBytes(16)
	ts := c.now().UnixMilli()
	digest, err := powerauth.ComputeTokenDigest(secret, nonce, ts, v)
	if err != nil {
		return "", err
	}
	return powerauth.TokenHeader{TokenID: st.Token.ID, Digest: digest, Nonce: nonce, TimestampMs: ts, Version: v}.HeaderValue(), nil
}

// UnlockVault returns KEY_ENCRYPTION_VAULT (/pa/v3/vault/unlock, possession + knowledge).
func (c *Client) UnlockVault(ctx context.Context, st *State, pin string) (powerauth.VaultKey, error) {
	v, err := st.version()
	if err != nil {
		return powerauth.VaultKey{}, err
	}
	target, err := st.activationTarget()
	if err != nil {
		return powerauth.VaultKey{}, err
	}
	env, sess, err := c.seal(ctx, v, target, powerauth.SharedInfo1VaultUnlock, []byte(`{"reason":"SIGN_WITH_DEVICE_PRIVATE_KEY"}`))
	if err != nil {
		return powerauth.VaultKey{}, err
	}
	body, _ := json.Marshal(env)
	var resp powerauth.Envelope
	if err := c.signedPost(ctx, st, "/pa/v3/vault/unlock", uriVaultUnlock, body, powerauth.SignaturePossessionKnowledge, pin, &resp); err != nil {
		return powerauth.VaultKey{}, err
	}
	plain, err := sess.OpenResponse(&resp)
	if err != nil {
		return powerauth.VaultKey{}, err
	}
	var r struct {
		EncryptedVaultEncryptionKey []byte `json:"encryptedVaultEncryptionKey"`
	}
	if err := json.Unmarshal(plain, &r); err != nil {
		return powerauth.VaultKey{}, err
	}
	transport, err := st.transport()
	if err != nil {
		return powerauth.VaultKey{}, err
	}
	return powerauth.DecryptVaultKey(r.EncryptedVaultEncryptionKey, transport)
}

// SignWithDeviceKey unlocks the vault and signs data with the device private key (ECDSA-SHA256, DER).
func (c *Client) SignWithDeviceKey(ctx context.Context, st *State, pin string, data []byte) ([]byte, error) {
	vault, err := c.UnlockVault(ctx, st, pin)
	if err != nil {
		return nil, err
	}
	raw, err := openWithVault(vault, st.EncryptedDevicePrivateKey)
	if err != nil {
		return nil, fmt.Errorf("device: cannot open the device key: %w", err)
	}
	priv, err := powerauth.ParsePrivateKey(raw)
	if err != nil {
		return nil, err
	}
	return priv.SignECDSA(data)
}

// StartUpgrade calls /pa/v3/upgrade/start (Activation-Upgrade.md): an activation-scope ECIES request (sh1
// /pa/upgrade) of {} under an X-PowerAuth-Encryption header naming the activation; the answer carries the
// initial CTR_DATA. The SDKs call it only when the status blob offers a newer version; Signet's activations
// are all on the newest (3), so the server answers ERR_UPGRADE.
func (c *Client) StartUpgrade(ctx context.Context, st *State) ([]byte, error) {
	v, err := st.version()
	if err != nil {
		return nil, err
	}
	target, err := st.activationTarget()
	if err != nil {
		return nil, err
	}
	env, sess, err := c.seal(ctx, v, target, powerauth.SharedInfo1Upgrade, []byte(`{}`))
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(env)
	hdr := fmt.Sprintf(`PowerAuth application_key="%s", activation_id="%s", version="%s"`, st.ApplicationKey, st.ActivationID, v)
	var resp powerauth.Envelope
	if err := c.post(ctx, "/pa/v3/upgrade/start", map[string]string{powerauth.HeaderEncryption: hdr}, body, &resp); err != nil {
		return nil, err
	}
	plain, err := sess.OpenResponse(&resp)
	if err != nil {
		return nil, err
	}
	var r struct {
		CtrData []byte `json:"ctrData"`
	}
	if err := json.Unmarshal(plain, &r); err != nil || len(r.CtrData) != 16 {
		return nil, errors.New("device: malformed upgrade answer")
	}
	return r.CtrData, nil
}

// CommitUpgrade calls /pa/v3/upgrade/commit: "{}" signed with possession (uriId /pa/upgrade/commit).
func (c *Client) CommitUpgrade(ctx context.Context, st *State) error {
	return c.signedPost(ctx, st, "/pa/v3/upgrade/commit", uriUpgradeCommit, []byte(`{}`), powerauth.SignaturePossession, "", nil)
}

// UserInfo fetches the user's claims (/pa/v3/user/info, the SDKs' fetchUserInfo): an unsigned request,
// encrypted in activation scope with sh1 /pa/generic/activation, the activation named in
// X-PowerAuth-Encryption (as the Android SDK's GetUserInfoEndpoint / GENERIC_ACTIVATION_SCOPE). The answer is
// the decrypted JSON object of OpenID Connect claims (sub, name, ...).
func (c *Client) UserInfo(ctx context.Context, st *State) (map[string]any, error) {
	v, err := st.version()
	if err != nil {
		return nil, err
	}
	target, err := st.activationTarget()
	if err != nil {
		return nil, err
	}
	env, sess, err := c.seal(ctx, v, target, powerauth.SharedInfo1ActivationGeneric, nil)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(env)
	hdr := fmt.Sprintf(`PowerAuth version="%s", application_key="%s", activation_id="%s"`, v, st.ApplicationKey, st.ActivationID)
	var resp powerauth.Envelope
	if err := c.post(ctx, "/pa/v3/user/info", map[string]string{powerauth.HeaderEncryption: hdr}, body, &resp); err != nil {
		return nil, err
	}
	plain, err := sess.OpenResponse(&resp)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(plain, &claims); err != nil || claims == nil {
		return nil, errors.New("device: malformed user info answer")
	}
	return claims, nil
}
