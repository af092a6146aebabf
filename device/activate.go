package device

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/signet-sca/signet/powerauth"
)

// ActivateOptions are the optional parts of an activation.
type ActivateOptions struct {
	Name string // activation name shown to the bank ("Jana's phone")
	OTP  string // additional activation OTP, when the bank issued one
}

// Activate runs the key exchange (PowerAuth 3.x, Activation via Activation Code; /pa/v3/activation/create):
// it accepts the typed code (corrected as the SDK does: lower case, 0 → O, 1 → I) or a scanned QR payload
// "CODE#signature" (verified with the master key), generates the device key pair, sends it inside two
// ECIES layers, and derives the key set from the server's answer. The knowledge key is stored encrypted
// under the PIN. The returned state must be saved by the caller.
func (c *Client) Activate(ctx context.Context, cfg AppConfig, code, pin string, opt ActivateOptions) (*State, error) {
	master, err := powerauth.ParsePublicKeyBase64(cfg.MasterPublicKey)
	if err != nil {
		return nil, err
	}
	var ac powerauth.ActivationCode
	if strings.Contains(code, "#") {
		if ac, err = powerauth.ParseActivationQRPayload(strings.TrimSpace(code), master); err != nil {
			return nil, fmt.Errorf("device: the QR code is not a valid signed activation code: %w", err)
		}
	} else if ac, err = powerauth.ValidateActivationCode(powerauth.CorrectActivationCode(code)); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	return c.activate(ctx, cfg, "CODE", map[string]string{"code": string(ac)}, pin, opt)
}

// ActivateWithRecoveryCode activates with a recovery code (typed, or the "R:" QR text) and its PUK
// (PowerAuth 3.x, Activation via Recovery Code; SDK createRecoveryActivation: type RECOVERY,
// identityAttributes {recoveryCode, puk}). The new activation is ACTIVE at once and replaces the one the code
// was issued with. After a wrong PUK the error is an *Error whose CurrentRecoveryPukIndex names the PUK to use.
func (c *Client) ActivateWithRecoveryCode(ctx context.Context, cfg AppConfig, code, puk, pin string, opt ActivateOptions) (*State, error) {
	rc, err := powerauth.ParseRecoveryCode(code)
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	p, err := powerauth.ValidatePUK(strings.TrimSpace(puk))
	if err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	return c.activate(ctx, cfg, "RECOVERY", map[string]string{"recoveryCode": string(rc), "puk": string(p)}, pin, opt)
}

// ActivateWithCustomCredentials activates with the bank's own credentials (PowerAuth 3.x, Activation via
// Custom Credentials; SDK createActivation with identity attributes: type CUSTOM), which the bank verifies.
func (c *Client) ActivateWithCustomCredentials(ctx context.Context, cfg AppConfig, identity map[string]string, pin string, opt ActivateOptions) (*State, error) {
	if len(identity) == 0 {
		return nil, errors.New("device: custom activation needs identity attributes")
	}
	return c.activate(ctx, cfg, "CUSTOM", identity, pin, opt)
}

func (c *Client) activate(ctx context.Context, cfg AppConfig, typ string, identity map[string]string, pin string, opt ActivateOptions) (*State, error) {
	if len(pin) < 4 {
		return nil, errors.New("device: the PIN must have at least 4 characters")
	}
	v := c.Version
	if v == 0 {
		v = powerauth.Version33
	}
	if v != powerauth.Version32 && v != powerauth.Version33 {
		return nil, fmt.Errorf("device: activation needs protocol 3.2 or 3.3, not %s", v)
	}
	master, err := powerauth.ParsePublicKeyBase64(cfg.MasterPublicKey)
	if err != nil {
		return nil, err
	}
	devPriv, err := powerauth.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	target := eciesTarget{appKey: cfg.ApplicationKey, appSecret: powerauth.ApplicationSecret(cfg.ApplicationSecret), master: master}
	l2, _ := json.Marshal(map[string]string{"devicePublicKey": base64.StdEncoding.EncodeToString(devPriv.PublicKey().Bytes()),
		"activationName": opt.Name, "activationOtp": opt.OTP, "platform": c.Platform, "deviceInfo": c.DeviceInfo})
	env2, sess2, err := c.seal(ctx, v, target, powerauth.SharedInfo1ActivationLayer2, l2)
	if err != nil {
		return nil, err
	}
	l1, _ := json.Marshal(map[string]any{"type": typ, "identityAttributes": identity, "activationData": env2})
	env1, sess1, err := c.seal(ctx, v, target, powerauth.SharedInfo1ActivationLayer1, l1)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(env1)
	hdr := fmt.Sprintf(`PowerAuth application_key="%s", version="%s"`, cfg.ApplicationKey, v)
	var r1 powerauth.Envelope
	if err := c.post(ctx, "/pa/v3/activation/create", map[string]string{powerauth.HeaderEncryption: hdr}, body, &r1); err != nil {
		return nil, err
	}
	p1, err := sess1.OpenResponse(&r1)
	if err != nil {
		return nil, err
	}
	var layer1 struct {
		ActivationData *powerauth.Envelope `json:"activationData"`
	}
	if err := json.Unmarshal(p1, &layer1); err != nil {
		return nil, err
	}
	p2, err := sess2.OpenResponse(layer1.ActivationData)
	if err != nil {
		return nil, err
	}
	var layer2 struct {
		ActivationID    string `json:"activationId"`
		ServerPublicKey string `json:"serverPublicKey"`
		CtrData         string `json:"ctrData"`
		// ActivationRecovery is present when the application enables recovery (ActivationLayer2Response).
		ActivationRecovery *RecoveryData `json:"activationRecovery"`
	}
	if err := json.Unmarshal(p2, &layer2); err != nil {
		return nil, err
	}
	serverPub, err := powerauth.ParsePublicKeyBase64(layer2.ServerPublicKey)
	if err != nil {
		return nil, err
	}
	ctrRaw, err := base64.StdEncoding.DecodeString(layer2.CtrData)
	if err != nil || len(ctrRaw) != 16 || !powerauth.ValidUUID(layer2.ActivationID) {
		return nil, errors.New("device: malformed activation answer")
	}
	ms, err := devPriv.MasterSecret(serverPub)
	if err != nil {
		return nil, err
	}
	keys := powerauth.DeriveKeys(ms)
	salt := randomBytes(powerauth.PINSaltSize)
	encKnowledge, err := powerauth.EncryptKnowledgeKey(keys.Knowledge, pin, salt)
	if err != nil {
		return nil, err
	}
	encPriv, err := sealWithVault(keys.Vault, devPriv.Bytes())
	if err != nil {
		return nil, err
	}
	var encRecovery []byte
	if layer2.ActivationRecovery != nil {
		raw, _ := json.Marshal(layer2.ActivationRecovery)
		if encRecovery, err = sealWithVault(keys.Vault, raw); err != nil {
			return nil, err
		}
	}
	return &State{EncryptedRecoveryData: encRecovery, FormatVersion: stateFormat, Server: c.BaseURL, Protocol: v.String(), ApplicationKey: cfg.ApplicationKey,
		ApplicationSecret: cfg.ApplicationSecret, MasterPublicKey: cfg.MasterPublicKey, ActivationID: layer2.ActivationID,
		Fingerprint:     powerauth.ActivationFingerprint(devPriv.PublicKey(), serverPub, layer2.ActivationID),
		ServerPublicKey: serverPub.Bytes(), DevicePublicKey: devPriv.PublicKey().Bytes(), EncryptedDevicePrivateKey: encPriv,
		PossessionKey: keys.Possession[:], EncryptedKnowledgeKey: encKnowledge[:], PINSalt: salt,
		BiometryKey: keys.Biometry[:], TransportKey: keys.Transport[:], Counter: 0, CounterData: ctrRaw}, nil
}

// Status is the decoded activation status blob.
type Status struct {
	State             string // CREATED, PENDING_COMMIT, ACTIVE, BLOCKED, REMOVED
	FailedAttempts    int
	MaxFailedAttempts int
	Lookahead         int
	// CounterSynced is false when the server's counter is neither at nor ahead of the local one within the
	// look-ahead: the device is ahead (lost requests) or out of sync.
	CounterSynced bool
}

var statusNames = map[powerauth.ActivationStatus]string{powerauth.StatusCreated: "CREATED",
	powerauth.StatusPendingCommit: "PENDING_COMMIT", powerauth.StatusActive: "ACTIVE",
	powerauth.StatusBlocked: "BLOCKED", powerauth.StatusRemoved: "REMOVED"}

// Status fetches and decrypts the status blob (/pa/v3/activation/status, PowerAuth 3.1+ with challenge) and
// catches the local counter up when the server is ahead.
func (c *Client) Status(ctx context.Context, st *State) (Status, error) {
	transport, err := st.transport()
	if err != nil {
		return Status{}, err
	}
	challenge := randomBytes(16)
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"activationId": st.ActivationID,
		"challenge": base64.StdEncoding.EncodeToString(challenge)}})
	var resp okResponse[struct {
		EncryptedStatusBlob []byte `json:"encryptedStatusBlob"`
		Nonce               []byte `json:"nonce"`
	}]
	if err := c.post(ctx, "/pa/v3/activation/status", nil, body, &resp); err != nil {
		return Status{}, err
	}
	blob, err := powerauth.DecryptStatusBlob(transport, challenge, resp.ResponseObject.Nonce, resp.ResponseObject.EncryptedStatusBlob)
	if err != nil {
		return Status{}, err
	}
	s := Status{State: statusNames[blob.Status], FailedAttempts: int(blob.FailedAttempts),
		MaxFailedAttempts: int(blob.MaxFailedAttempts), Lookahead: int(blob.CtrLookahead)}
	local, err := st.counterData()
	if err != nil {
		return s, err
	}
	if d, ok := blob.CounterDistance(local, transport, int(blob.CtrLookahead)); ok {
		s.CounterSynced = true
		if d > 0 {
			if err := st.AdvanceCounter(d); err != nil {
				return s, err
			}
			if err := c.persist(st); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

// RecoveryData is a recovery code and PUK (ActivationRecovery of the SDKs).
type RecoveryData struct {
	RecoveryCode string `json:"recoveryCode"`
	PUK          string `json:"puk"`
}

// HasRecoveryData reports whether the server sent recovery data with the activation.
func (st *State) HasRecoveryData() bool { return len(st.EncryptedRecoveryData) > 0 }

// RecoveryData unlocks the vault (possession + knowledge) and returns the recovery code and PUK the server
// sent with the activation (SDK activationRecoveryData, which also needs the vault key).
func (c *Client) RecoveryData(ctx context.Context, st *State, pin string) (RecoveryData, error) {
	if !st.HasRecoveryData() {
		return RecoveryData{}, errors.New("device: the activation has no recovery data")
	}
	vault, err := c.UnlockVault(ctx, st, pin)
	if err != nil {
		return RecoveryData{}, err
	}
	raw, err := openWithVault(vault, st.EncryptedRecoveryData)
	if err != nil {
		return RecoveryData{}, fmt.Errorf("device: cannot open the recovery data: %w", err)
	}
	var r RecoveryData
	return r, json.Unmarshal(raw, &r)
}

// ConfirmRecoveryCode confirms a recovery code received on a postcard (/pa/v3/recovery/confirm; SDK
// confirmRecoveryCode): ECIES in activation scope (sh1 /pa/recovery/confirm) under a possession + knowledge
// signature (uriId /pa/recovery/confirm). It reports whether the code had been confirmed before.
func (c *Client) ConfirmRecoveryCode(ctx context.Context, st *State, pin, code string) (alreadyConfirmed bool, err error) {
	rc, err := powerauth.ParseRecoveryCode(code)
	if err != nil {
		return false, fmt.Errorf("device: %w", err)
	}
	v, err := st.version()
	if err != nil {
		return false, err
	}
	target, err := st.activationTarget()
	if err != nil {
		return false, err
	}
	plain, _ := json.Marshal(map[string]string{"recoveryCode": string(rc)})
	env, sess, err := c.seal(ctx, v, target, powerauth.SharedInfo1ConfirmRecovery, plain)
	if err != nil {
		return false, err
	}
	body, _ := json.Marshal(env)
	var resp powerauth.Envelope
	if err := c.signedPost(ctx, st, "/pa/v3/recovery/confirm", uriRecoveryConfirm, body, powerauth.SignaturePossessionKnowledge, pin, &resp); err != nil {
		return false, err
	}
	out, err := sess.OpenResponse(&resp)
	if err != nil {
		return false, err
	}
	var r struct {
		AlreadyConfirmed bool `json:"alreadyConfirmed"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return false, err
	}
	return r.AlreadyConfirmed, nil
}
