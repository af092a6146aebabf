package activation

import (
	"context"
	"errors"
	"fmt"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// Activation upgrade (PowerAuth 3.x, Activation-Upgrade.md; restful-integration UpgradeController, server
// UpgradeServiceBehavior): /pa/v3/upgrade/start and /pa/v3/upgrade/commit move an activation's keys to a newer
// protocol major version. Every activation Signet creates is on major version 3, the newest, so today no
// activation has an upgrade: both calls answer ERR_UPGRADE as Wultra's server does for an activation that is
// not on version 2 (ActivationContextValidator.validateVersion(version, 2)). The status blob says the same
// (currentVersion = upgradeVersion = 3), so the SDKs do not call them. upgradeFrom is where a future version
// plugs in.

// CurrentMajorVersion is the protocol major version of Signet's activations (activationData.Version).
const CurrentMajorVersion = 3

// ErrUpgrade refuses an upgrade: the activation has none, or is not ACTIVE. It renders as ERR_UPGRADE (400).
var ErrUpgrade = errors.New("activation: no upgrade for this activation")

// upgrader upgrades one activation from its stored major version to CurrentMajorVersion.
type upgrader interface {
	// start answers /pa/v3/upgrade/start with the plaintext of the encrypted answer (3.x: {ctrData}).
	start(ctx context.Context, c store.Credential, request []byte) ([]byte, error)
	// commit finishes the upgrade after the device signed with the new keys.
	commit(ctx context.Context, c store.Credential) error
}

// upgradeFrom returns how to upgrade an activation of major version v; nil when there is no upgrade. Today
// none: version 3 is current and Signet never created an older activation. A version 4 adds its case here.
func (s *Service) upgradeFrom(v int) upgrader {
	_ = v
	return nil
}

// StartUpgrade answers /pa/v3/upgrade/start: an activation-scope ECIES request (sh1 /pa/upgrade) under an
// X-PowerAuth-Encryption header naming the activation. The envelope is opened first (it proves the
// transport key, so nobody can probe an activation's state by id; Wultra checks the state first), then the
// activation must be ACTIVE and have an upgrade.
func (s *Service) StartUpgrade(ctx context.Context, encryptionHeader string, body []byte) (*powerauth.Envelope, error) {
	const event = "powerauth.activation.upgrade_start"
	hdr, err := powerauth.ParseEncryptionHeader(encryptionHeader)
	if err != nil || hdr.Scope() != powerauth.ScopeActivation {
		return nil, fault.Invalid(powerauth.HeaderEncryption, "is missing, malformed or not in activation scope")
	}
	if hdr.Version != powerauth.Version32 && hdr.Version != powerauth.Version33 {
		return nil, fault.Invalid(powerauth.HeaderEncryption, "protocol version %s is not supported; use 3.2 or 3.3", hdr.Version)
	}
	env, err := powerauth.ParseEnvelope(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncryption, err)
	}
	fail := func(reason string, c *store.Credential, public error) (*powerauth.Envelope, error) {
		ev := audit.Event{Type: event, Outcome: audit.Failure, Reason: reason, Actor: "device"}
		if c != nil {
			ev.UserID, ev.CredentialID = c.UserID, c.ID
		}
		if err := s.audit.Record(ctx, ev); err != nil {
			return nil, err
		}
		return nil, public
	}
	c, err := s.store.GetCredential(ctx, hdr.ActivationID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Kind != store.KindPowerAuth) {
		return fail("unknown activation", nil, ErrUpgrade)
	}
	if err != nil {
		return nil, err
	}
	k, err := s.loadKeys(c)
	if err != nil {
		return fail("activation without keys", &c, ErrUpgrade)
	}
	app, err := s.store.GetApplication(ctx, k.data.ApplicationID)
	if err != nil {
		return nil, err
	}
	if app.AppKey != hdr.ApplicationKey || app.Status != AppActive {
		return fail("application key is not the activation's", &c, ErrUpgrade)
	}
	cfg := powerauth.EciesConfig{Version: hdr.Version, Scope: powerauth.ScopeActivation, SharedInfo1: powerauth.SharedInfo1Upgrade,
		ApplicationKey: app.AppKey, ApplicationSecret: powerauth.ApplicationSecret(app.AppSecret),
		ActivationID: c.ID, TransportKey: k.derived.Transport}
	plain, sess, err := s.openEnvelope(ctx, cfg, env, k.serverPriv)
	if err != nil {
		return fail("envelope: "+err.Error(), &c, err)
	}
	if c.Status != store.StatusActive {
		return fail("activation is "+string(c.Status), &c, ErrUpgrade)
	}
	up := s.upgradeFrom(k.data.Version)
	if up == nil {
		return fail(fmt.Sprintf("activation is on protocol version %d: no upgrade", k.data.Version), &c, ErrUpgrade)
	}
	out, err := up.start(ctx, c, plain)
	if err != nil {
		return fail("upgrade start: "+err.Error(), &c, ErrUpgrade)
	}
	if err := s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Success, Actor: "device", UserID: c.UserID,
		CredentialID: c.ID, Evidence: map[string]any{"from_version": k.data.Version, "to_version": CurrentMajorVersion}}); err != nil {
		return nil, err
	}
	return sess.SealResponse(out, s.now())
}

// CommitUpgrade answers /pa/v3/upgrade/commit: a possession signature (uriId /pa/upgrade/commit, the SDK
// signs "{}" with the new keys; UpgradeService accepts POSSESSION only and refuses an empty body); then the
// activation must have an upgrade in progress.
func (s *Service) CommitUpgrade(ctx context.Context, req SignedRequest) error {
	const event = "powerauth.activation.upgrade_commit"
	if len(req.Body) == 0 {
		return fault.Invalid("", "the body must be {}")
	}
	req.URIID = URIUpgradeCommit
	v, err := s.Verify(ctx, event, req, possessionOnly)
	if err != nil {
		return err
	}
	up := s.upgradeFrom(v.keys.data.Version)
	if up == nil {
		if err := s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Failure, Actor: "device", UserID: v.Activation.UserID,
			CredentialID: v.Activation.ID, Reason: fmt.Sprintf("activation is on protocol version %d: no upgrade", v.keys.data.Version)}); err != nil {
			return err
		}
		return ErrUpgrade
	}
	return up.commit(ctx, v.Activation)
}
