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
	var ac powerauth.ActivationCode
	if strings.Contains(code, "#") {
		if ac, err = powerauth.ParseActivationQRPayload(strings.TrimSpace(code), master); err != nil {
			return nil, fmt.Errorf("device: the QR code is not a valid signed activation code: %w", err)
		}
	} else if ac, err = powerauth.ValidateActivationCode(powerauth.CorrectActivationCode(code)); err != nil {
		return nil, fmt.Errorf("device: %w", err)
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
	l1, _ := json.Marshal(map[string]any{"type": "CODE", "identityAttributes": map[string]string{"code": string(ac)},
		"activationData": env2})
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
	return &State{FormatVersion: stateFormat, Server: c.BaseURL, Protocol: v.String(), ApplicationKey: cfg.ApplicationKey,
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
