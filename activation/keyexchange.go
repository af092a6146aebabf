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
	in, err := s.openExchange(ctx, encryptionHeader, body)
	if err != nil {
		return nil, err
	}
	switch in.l1.Type {
	case TypeRecovery:
		return s.recoverActivation(ctx, in)
	case TypeCustom:
		return s.customActivation(ctx, in)
	}
	return s.codeActivation(ctx, in)
}

// exchangeFailed audits a refused key exchange (of the activation c, when one was found) and returns public,
// the error the device is answered with.
func (s *Service) exchangeFailed(ctx context.Context, reason string, c *store.Credential, public error) (*powerauth.Envelope, error) {
	ev := audit.Event{Type: "powerauth.activation.key_exchange", Outcome: audit.Failure, Reason: reason, Actor: "device"}
	if c != nil {
		ev.UserID, ev.CredentialID = c.UserID, c.ID
	}
	if err := s.audit.Record(ctx, ev); err != nil {
		return nil, err
	}
	return nil, public
}

// openExchange reads the encryption header and opens both ECIES layers (application scope, sh1
// /pa/generic/application for level 1 and /pa/activation for level 2) into an exchange, whatever the
// activation type.
func (s *Service) openExchange(ctx context.Context, encryptionHeader string, body []byte) (exchange, error) {
	fail := func(reason string, public error) (exchange, error) {
		_, err := s.exchangeFailed(ctx, reason, nil, public)
		return exchange{}, err
	}
	hdr, err := powerauth.ParseEncryptionHeader(encryptionHeader)
	if err != nil {
		return exchange{}, fault.Invalid(powerauth.HeaderEncryption, "is missing or malformed")
	}
	if hdr.Version != powerauth.Version32 && hdr.Version != powerauth.Version33 {
		return exchange{}, fault.Invalid(powerauth.HeaderEncryption, "protocol version %s is not supported; use 3.2 or 3.3", hdr.Version)
	}
	if hdr.Scope() != powerauth.ScopeApplication {
		return exchange{}, fault.Invalid(powerauth.HeaderEncryption, "activation create is in application scope")
	}
	env, err := powerauth.ParseEnvelope(body)
	if err != nil {
		return exchange{}, fmt.Errorf("%w: %v", ErrEncryption, err)
	}
	app, err := s.appByKey(ctx, hdr.ApplicationKey)
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown application key", fmt.Errorf("%w: unknown application", ErrEncryption))
	}
	if err != nil {
		return exchange{}, err
	}
	var master *powerauth.PrivateKey
	if hdr.Version == powerauth.Version32 {
		if master, err = s.masterKey(app); err != nil {
			return exchange{}, err
		}
	}
	cfg1 := powerauth.EciesConfig{Version: hdr.Version, Scope: powerauth.ScopeApplication,
		SharedInfo1: powerauth.SharedInfo1ActivationLayer1, ApplicationKey: app.AppKey,
		ApplicationSecret: powerauth.ApplicationSecret(app.AppSecret)}
	plain1, sess1, err := s.openEnvelope(ctx, cfg1, env, master)
	if err != nil {
		return fail("level 1: "+err.Error(), err)
	}
	l1, err := parseLayer1(plain1)
	if err != nil {
		return fail("level 1 payload: "+err.Error(), err)
	}
	cfg2 := cfg1
	cfg2.SharedInfo1 = powerauth.SharedInfo1ActivationLayer2
	plain2, sess2, err := s.openEnvelope(ctx, cfg2, l1.ActivationData, master)
	if err != nil {
		return fail("level 2: "+err.Error(), err)
	}
	l2, devicePub, err := parseLayer2(plain2)
	if err != nil {
		return fail("level 2 payload: "+err.Error(), err)
	}
	return exchange{app: app, hdr: hdr, l1: l1, l2: l2, devicePub: devicePub, sess1: sess1, sess2: sess2}, nil
}

// codeActivation is the key exchange of an activation code (type CODE): the activation the code names
// (claimCode) gets its server key pair and CTR_DATA and becomes PENDING_COMMIT, or ACTIVE when it commits on
// key exchange.
func (s *Service) codeActivation(ctx context.Context, in exchange) (*powerauth.Envelope, error) {
	c, d, err := s.claimCode(ctx, in)
	if err != nil {
		return nil, err
	}
	nk, err := newKeys(c.ID, in.devicePub)
	if err != nil {
		return nil, err
	}
	// Activation recovery (Activation-via-Recovery-Code.md): the code is ACTIVE when the activation is, else
	// CREATED until the commit (Wultra: createRecoveryCodeForActivation(activation, isActive)).
	var rec *issuedRecovery
	if in.app.RecoveryEnabled {
		if rec, err = s.issueForActivation(ctx, in.app, c.UserID, c.ID, d.CommitPhase == CommitOnKeyExchange); err != nil {
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
		if err := s.installKeys(c, &d, nk, in.l2); err != nil {
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
			return s.exchangeFailed(ctx, "lost a race: "+err.Error(), &c, fault.ErrUnauthenticated)
		}
		return nil, err
	}
	return s.finishExchange(ctx, in, updated, nk, rec, nil)
}

// claimCode finds the CREATED activation an activation code names and checks the code, the application and
// the OTP (when it is checked at key exchange). A refusal is audited; a wrong code or OTP is a failed
// attempt, which removes the activation at its limit.
func (s *Service) claimCode(ctx context.Context, in exchange) (store.Credential, activationData, error) {
	refuse := func(reason string, c *store.Credential) (store.Credential, activationData, error) {
		_, err := s.exchangeFailed(ctx, reason, c, fault.ErrUnauthenticated)
		return store.Credential{}, activationData{}, err
	}
	failedAttempt := func(id, reason string) (store.Credential, activationData, error) {
		if _, err := s.pendingFailure(ctx, id, "powerauth.activation.key_exchange", "device", reason); err != nil {
			return store.Credential{}, activationData{}, err
		}
		return store.Credential{}, activationData{}, fault.ErrUnauthenticated
	}
	// The activation: indexed by the first half of the code, the rest compared in constant time.
	c, err := s.store.GetCredentialByLookupKey(ctx, store.KindPowerAuth, lookupKey(in.l1.code))
	if errors.Is(err, store.ErrNotFound) {
		return refuse("unknown activation code", nil)
	}
	if err != nil {
		return store.Credential{}, activationData{}, err
	}
	if c, err = s.expireIfDue(ctx, c); err != nil {
		return store.Credential{}, activationData{}, err
	}
	if c.Status != store.StatusCreated {
		return refuse("activation is "+string(c.Status), &c)
	}
	d, err := readData(c)
	if err != nil {
		return store.Credential{}, activationData{}, err
	}
	sec, err := s.openSecret(c)
	if err != nil {
		return store.Credential{}, activationData{}, err
	}
	if subtle.ConstantTimeCompare([]byte(sec.Code), []byte(in.l1.code)) != 1 {
		return failedAttempt(c.ID, "wrong activation code")
	}
	if d.ApplicationID != in.app.ID {
		return refuse("activation belongs to another application", &c)
	}
	if d.OTPRequired && d.CommitPhase == CommitOnKeyExchange && !otpMatches(sec, in.l2.ActivationOtp) {
		return failedAttempt(c.ID, "wrong OTP")
	}
	return c, d, nil
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
