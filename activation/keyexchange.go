package activation

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// KeyExchange answers /pa/v3/activation/create (PowerAuth 3.x, Activation via Activation Code; Standard
// RESTful API "Create activation"): two ECIES layers in application scope, level 1 with sh1
// /pa/generic/application carrying {type: CODE, identityAttributes.code, activationData}, level 2 with
// sh1 /pa/activation carrying the device public key. The activation must be CREATED and unexpired; a
// code that matches the indexed prefix but not the rest, or a wrong OTP checked at key exchange, is a
// failed attempt and removes the activation at its limit. On success the server key pair and CTR_DATA are
// generated and the activation becomes PENDING_COMMIT (ACTIVE for ON_KEY_EXCHANGE). It returns the level 1
// response envelope.
func (s *Service) KeyExchange(ctx context.Context, encryptionHeader string, body []byte) (*powerauth.Envelope, error) {
	fail := func(reason string, c *store.Credential, public error) (*powerauth.Envelope, error) {
		ev := audit.Event{Type: "powerauth.activation.key_exchange", Outcome: audit.Failure, Reason: reason, Actor: "device"}
		if c != nil {
			ev.UserID, ev.CredentialID = c.UserID, c.ID
		}
		if err := s.audit.Record(ctx, ev); err != nil {
			return nil, err
		}
		return nil, public
	}
	hdr, err := powerauth.ParseEncryptionHeader(encryptionHeader)
	if err != nil {
		return nil, fault.Invalid(powerauth.HeaderEncryption, "is missing or malformed")
	}
	if hdr.Version != powerauth.Version32 && hdr.Version != powerauth.Version33 {
		return nil, fault.Invalid(powerauth.HeaderEncryption, "protocol version %s is not supported; use 3.2 or 3.3", hdr.Version)
	}
	if hdr.Scope() != powerauth.ScopeApplication {
		return nil, fault.Invalid(powerauth.HeaderEncryption, "activation create is in application scope")
	}
	env, err := powerauth.ParseEnvelope(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncryption, err)
	}
	app, err := s.appByKey(ctx, hdr.ApplicationKey)
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown application key", nil, fmt.Errorf("%w: unknown application", ErrEncryption))
	}
	if err != nil {
		return nil, err
	}
	var master *powerauth.PrivateKey
	if hdr.Version == powerauth.Version32 {
		if master, err = s.masterKey(app); err != nil {
			return nil, err
		}
	}
	cfg1 := powerauth.EciesConfig{Version: hdr.Version, Scope: powerauth.ScopeApplication,
		SharedInfo1: powerauth.SharedInfo1ActivationLayer1, ApplicationKey: app.AppKey,
		ApplicationSecret: powerauth.ApplicationSecret(app.AppSecret)}
	plain1, sess1, err := s.openEnvelope(ctx, cfg1, env, master)
	if err != nil {
		return fail("level 1: "+err.Error(), nil, err)
	}
	l1, err := parseLayer1(plain1)
	if err != nil {
		return fail("level 1 payload: "+err.Error(), nil, err)
	}
	cfg2 := cfg1
	cfg2.SharedInfo1 = powerauth.SharedInfo1ActivationLayer2
	plain2, sess2, err := s.openEnvelope(ctx, cfg2, l1.ActivationData, master)
	if err != nil {
		return fail("level 2: "+err.Error(), nil, err)
	}
	l2, devicePub, err := parseLayer2(plain2)
	if err != nil {
		return fail("level 2 payload: "+err.Error(), nil, err)
	}

	in := exchange{app: app, hdr: hdr, l1: l1, l2: l2, devicePub: devicePub, sess1: sess1, sess2: sess2}
	switch l1.Type {
	case TypeRecovery:
		return s.recoverActivation(ctx, in)
	case TypeCustom:
		return s.customActivation(ctx, in)
	}
	// The activation: indexed by the first half of the code, the rest compared in constant time.
	c, err := s.store.GetCredentialByLookupKey(ctx, store.KindPowerAuth, lookupKey(l1.code))
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown activation code", nil, fault.ErrUnauthenticated)
	}
	if err != nil {
		return nil, err
	}
	if c, err = s.expireIfDue(ctx, c); err != nil {
		return nil, err
	}
	if c.Status != store.StatusCreated {
		return fail("activation is "+string(c.Status), &c, fault.ErrUnauthenticated)
	}
	d, err := readData(c)
	if err != nil {
		return nil, err
	}
	sec, err := s.openSecret(c)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(sec.Code), []byte(l1.code)) != 1 {
		if _, err := s.pendingFailure(ctx, c.ID, "powerauth.activation.key_exchange", "device", "wrong activation code"); err != nil {
			return nil, err
		}
		return nil, fault.ErrUnauthenticated
	}
	if d.ApplicationID != app.ID {
		return fail("activation belongs to another application", &c, fault.ErrUnauthenticated)
	}
	if d.OTPRequired && d.CommitPhase == CommitOnKeyExchange && !otpMatches(sec, l2.ActivationOtp) {
		if _, err := s.pendingFailure(ctx, c.ID, "powerauth.activation.key_exchange", "device", "wrong OTP"); err != nil {
			return nil, err
		}
		return nil, fault.ErrUnauthenticated
	}

	nk, err := newKeys(c.ID, devicePub)
	if err != nil {
		return nil, err
	}
	// Activation recovery (Activation-via-Recovery-Code.md): the code is ACTIVE when the activation is, else
	// CREATED until the commit (Wultra: createRecoveryCodeForActivation(activation, isActive)).
	var rec *issuedRecovery
	if app.RecoveryEnabled {
		if rec, err = s.issueForActivation(ctx, app, c.UserID, c.ID, d.CommitPhase == CommitOnKeyExchange); err != nil {
			return nil, err
		}
	}
	now := s.now()
	updated, err := s.store.UpdateCredential(ctx, c.ID, func(c *store.Credential) error {
		if c.Status != store.StatusCreated || pendingExpired(*c, now) {
			return fmt.Errorf("%w: activation is no longer CREATED", fault.ErrUnauthenticated)
		}
		d, err := readData(*c)
		if err != nil {
			return err
		}
		d.CodeSignature = ""
		if err := s.installKeys(c, &d, nk, l2); err != nil {
			return err
		}
		if d.CommitPhase == CommitOnKeyExchange {
			return s.activate(c, now)
		}
		return c.Transition(store.StatusPendingCommit, store.ReasonNone, now)
	})
	if err != nil {
		s.revokeIssued(ctx, rec)
		if errors.Is(err, fault.ErrUnauthenticated) {
			return fail("lost a race: "+err.Error(), &c, fault.ErrUnauthenticated)
		}
		return nil, err
	}
	return s.finishExchange(ctx, in, updated, nk, rec, nil)
}

// TypeCode, TypeRecovery and TypeCustom are the activation types of level 1 (ActivationType in the SDK).
const (
	TypeCode     = "CODE"
	TypeRecovery = "RECOVERY"
	TypeCustom   = "CUSTOM"
)

// exchange is a decrypted activation create request.
type exchange struct {
	app          store.Application
	hdr          powerauth.EncryptionHeader
	l1           layer1Request
	l2           layer2Request
	devicePub    *powerauth.PublicKey
	sess1, sess2 *powerauth.ServerSession
}

// newKeyset is the server side of a key exchange: KEY_SERVER_PRIVATE, CTR_DATA and the device key.
type newKeyset struct {
	serverPriv   *powerauth.PrivateKey
	ctr          powerauth.CounterData
	devDER       []byte
	devicePub    *powerauth.PublicKey
	fingerprint  string
	activationID string
}

func newKeys(activationID string, devicePub *powerauth.PublicKey) (newKeyset, error) {
	serverPriv, err := powerauth.GeneratePrivateKey()
	if err != nil {
		return newKeyset{}, err
	}
	ctr, err := powerauth.NewCounterData()
	if err != nil {
		return newKeyset{}, err
	}
	devDER, err := pkixFromPowerAuth(devicePub)
	if err != nil {
		return newKeyset{}, fault.Invalid("devicePublicKey", "is not a P-256 key")
	}
	return newKeyset{serverPriv: serverPriv, ctr: ctr, devDER: devDER, devicePub: devicePub, activationID: activationID,
		fingerprint: powerauth.ActivationFingerprint(devicePub, serverPriv.PublicKey(), activationID)}, nil
}

// installKeys writes the key exchange's results into c and d (d is written back to c).
func (s *Service) installKeys(c *store.Credential, d *activationData, nk newKeyset, l2 layer2Request) error {
	d.ServerPublicKey = base64.StdEncoding.EncodeToString(nk.serverPriv.PublicKey().Bytes())
	d.CtrData, d.Version, d.Fingerprint = base64.StdEncoding.EncodeToString(nk.ctr[:]), 3, nk.fingerprint
	if err := writeData(c, *d); err != nil {
		return err
	}
	sec, err := s.openSecret(*c)
	if err != nil {
		return err
	}
	sec.Code, sec.ServerPrivateKey = "", nk.serverPriv.Bytes()
	if err := s.sealSecret(c, sec); err != nil {
		return err
	}
	device, _ := json.Marshal(deviceInfo{Platform: l2.Platform, DeviceInfo: l2.DeviceInfo, Extras: l2.Extras})
	c.PublicKey, c.Counter, c.Label, c.Device = nk.devDER, 0, l2.ActivationName, device
	return nil
}

// finishExchange audits the key exchange and seals the answer: level 2 (ActivationLayer2Response, with
// activationRecovery when a recovery code was issued) inside level 1 (ActivationLayer1Response).
func (s *Service) finishExchange(ctx context.Context, in exchange, c store.Credential, nk newKeyset, rec *issuedRecovery, extra map[string]any) (*powerauth.Envelope, error) {
	ev := map[string]any{"status": c.Status, "type": in.l1.Type,
		"fingerprint": nk.fingerprint, "version": in.hdr.Version.String(), "platform": in.l2.Platform,
		"device_public_key": base64.StdEncoding.EncodeToString(nk.devicePub.Bytes()), "recovery_code_issued": rec != nil}
	for k, v := range extra {
		ev[k] = v
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.activation.key_exchange", Outcome: audit.Success, Actor: "device",
		UserID: c.UserID, CredentialID: c.ID, Evidence: ev}); err != nil {
		return nil, err
	}
	l2 := map[string]any{"activationId": c.ID,
		"serverPublicKey": base64.StdEncoding.EncodeToString(nk.serverPriv.PublicKey().Bytes()),
		"ctrData":         base64.StdEncoding.EncodeToString(nk.ctr[:])}
	if rec != nil {
		l2["activationRecovery"] = map[string]string{"recoveryCode": string(rec.code), "puk": string(rec.puk)}
	}
	r2, _ := json.Marshal(l2)
	env2, err := in.sess2.SealResponse(r2, s.now())
	if err != nil {
		return nil, err
	}
	custom := in.l1.CustomAttributes
	if custom == nil {
		custom = map[string]any{}
	}
	r1, err := json.Marshal(map[string]any{"activationData": env2, "customAttributes": custom})
	if err != nil {
		return nil, err
	}
	return in.sess1.SealResponse(r1, s.now())
}
