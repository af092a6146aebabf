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
	l1, code, err := parseLayer1(plain1)
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

	// The activation: indexed by the first half of the code, the rest compared in constant time.
	c, err := s.store.GetCredentialByLookupKey(ctx, store.KindPowerAuth, lookupKey(code))
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
	if subtle.ConstantTimeCompare([]byte(sec.Code), []byte(code)) != 1 {
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

	serverPriv, err := powerauth.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	ctr, err := powerauth.NewCounterData()
	if err != nil {
		return nil, err
	}
	devDER, err := pkixFromPowerAuth(devicePub)
	if err != nil {
		return nil, fault.Invalid("devicePublicKey", "is not a P-256 key")
	}
	fingerprint := powerauth.ActivationFingerprint(devicePub, serverPriv.PublicKey(), c.ID)
	device, _ := json.Marshal(deviceInfo{Platform: l2.Platform, DeviceInfo: l2.DeviceInfo, Extras: l2.Extras})
	now := s.now()
	updated, err := s.store.UpdateCredential(ctx, c.ID, func(c *store.Credential) error {
		if c.Status != store.StatusCreated || pendingExpired(*c, now) {
			return fmt.Errorf("%w: activation is no longer CREATED", fault.ErrUnauthenticated)
		}
		d, err := readData(*c)
		if err != nil {
			return err
		}
		d.CodeSignature, d.ServerPublicKey = "", base64.StdEncoding.EncodeToString(serverPriv.PublicKey().Bytes())
		d.CtrData, d.Version, d.Fingerprint = base64.StdEncoding.EncodeToString(ctr[:]), 3, fingerprint
		if err := writeData(c, d); err != nil {
			return err
		}
		sec, err := s.openSecret(*c)
		if err != nil {
			return err
		}
		sec.Code, sec.ServerPrivateKey = "", serverPriv.Bytes()
		if err := s.sealSecret(c, sec); err != nil {
			return err
		}
		c.PublicKey, c.Counter, c.Label, c.Device = devDER, 0, l2.ActivationName, device
		if d.CommitPhase == CommitOnKeyExchange {
			return s.activate(c, now)
		}
		return c.Transition(store.StatusPendingCommit, store.ReasonNone, now)
	})
	if err != nil {
		if errors.Is(err, fault.ErrUnauthenticated) {
			return fail("lost a race: "+err.Error(), &c, fault.ErrUnauthenticated)
		}
		return nil, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.activation.key_exchange", Outcome: audit.Success, Actor: "device",
		UserID: updated.UserID, CredentialID: updated.ID, Evidence: map[string]any{"status": updated.Status,
			"fingerprint": fingerprint, "version": hdr.Version.String(), "platform": l2.Platform,
			"device_public_key": base64.StdEncoding.EncodeToString(devicePub.Bytes())}}); err != nil {
		return nil, err
	}

	// Level 2 response (ActivationLayer2Response) inside level 1 (ActivationLayer1Response).
	r2, _ := json.Marshal(map[string]string{"activationId": updated.ID,
		"serverPublicKey": base64.StdEncoding.EncodeToString(serverPriv.PublicKey().Bytes()),
		"ctrData":         base64.StdEncoding.EncodeToString(ctr[:])})
	env2, err := sess2.SealResponse(r2, s.now())
	if err != nil {
		return nil, err
	}
	custom := l1.CustomAttributes
	if custom == nil {
		custom = map[string]any{}
	}
	r1, err := json.Marshal(map[string]any{"activationData": env2, "customAttributes": custom})
	if err != nil {
		return nil, err
	}
	return sess1.SealResponse(r1, s.now())
}
