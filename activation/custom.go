package activation

import (
	"context"
	"errors"
	"sort"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// CredentialVerifier checks the credentials of a CUSTOM activation (PowerAuth 3.x, Activation via Custom
// Credentials) and names the user they belong to. webhook.CredentialHook is the bank's HTTPS hook.
type CredentialVerifier interface {
	VerifyCredentials(ctx context.Context, applicationID string, identity map[string]string) (CustomVerdict, error)
}

// CustomVerdict is an accepted credential check: the user, by Signet id or by the bank's external id
// (exactly one), and whether the activation is ACTIVE at once (else PENDING_COMMIT until the bank commits).
type CustomVerdict struct {
	UserID     string
	ExternalID string
	Commit     bool
}

// Errors of a CredentialVerifier.
var (
	// ErrCredentialsRefused: the bank does not accept the credentials. The device gets ERR_ACTIVATION.
	ErrCredentialsRefused = errors.New("activation: credentials refused")
	// ErrCredentialsUnavailable: the bank could not be asked (outage, timeout, unsigned answer). The device
	// gets 503 and nothing is activated.
	ErrCredentialsUnavailable = errors.New("activation: credential check unavailable")
)

// customActivation is activation create of type CUSTOM (Activation-via-Custom-Credentials.md; Wultra's
// restful-integration processCustomActivation): the identity attributes go to the bank's verifier before
// anything is stored; refused credentials refuse the activation, an unreachable verifier answers 503 and
// never activates. An accepted check creates the activation for the user the bank names, with fresh keys,
// PENDING_COMMIT (expiring like any pending activation) or ACTIVE when the bank says commit, and a recovery
// code when the application enables recovery.
func (s *Service) customActivation(ctx context.Context, in exchange) (*powerauth.Envelope, error) {
	const event = "powerauth.activation.custom"
	names := make([]string, 0, len(in.l1.IdentityAttributes))
	for k := range in.l1.IdentityAttributes {
		names = append(names, k)
	}
	sort.Strings(names)
	fail := func(reason, userID string, public error) (*powerauth.Envelope, error) {
		// The attribute names are audited, never their values (passwords, codes).
		if err := s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Failure, Reason: reason, Actor: "device",
			UserID: userID, Evidence: map[string]any{"application_id": in.app.ID, "identity_attributes": names}}); err != nil {
			return nil, err
		}
		return nil, public
	}
	if s.cfg.CustomCredentials == nil {
		return fail("custom credentials are not configured", "", fault.ErrUnauthenticated)
	}
	v, err := s.cfg.CustomCredentials.VerifyCredentials(ctx, in.app.ID, in.l1.IdentityAttributes)
	switch {
	case errors.Is(err, ErrCredentialsRefused):
		return fail("the bank refused the credentials", "", fault.ErrUnauthenticated)
	case err != nil:
		if _, aerr := fail("credential check unavailable: "+err.Error(), "", nil); aerr != nil {
			return nil, aerr
		}
		return nil, fault.Wrap(fault.ErrUnavailable, err, "the activation hook did not answer")
	}
	var user store.User
	switch {
	case v.UserID != "" && store.ValidID(v.UserID):
		user, err = s.store.GetUser(ctx, v.UserID)
	case v.ExternalID != "":
		user, err = s.store.GetUserByExternalID(ctx, v.ExternalID)
	default:
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		// The bank named a user Signet does not know: a misconfigured hook, not the device's fault.
		if _, aerr := fail("the bank named an unknown user", "", nil); aerr != nil {
			return nil, aerr
		}
		return nil, fault.New(fault.ErrUnavailable, "the credential hook named an unknown user")
	}
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	nk, err := newKeys(id, in.devicePub)
	if err != nil {
		return nil, err
	}
	now := s.now()
	c := store.Credential{ID: id, UserID: user.ID, Kind: store.KindPowerAuth, Status: store.StatusPendingCommit,
		MaxFailedAttempts: s.cfg.MaxFailedAttempts, CreatedAt: now}
	phase := CommitOnCommit
	if v.Commit {
		phase = CommitOnKeyExchange
		c.Status, c.ActivatedAt = store.StatusActive, &now
	} else {
		exp := now.Add(s.cfg.ActivationTTL)
		c.ExpiresAt = &exp
	}
	d := activationData{ApplicationID: in.app.ID, CommitPhase: phase}
	if err := s.installKeys(&c, &d, nk, in.l2); err != nil {
		return nil, err
	}
	var rec *issuedRecovery
	if in.app.RecoveryEnabled {
		if rec, err = s.issueForActivation(ctx, in.app, user.ID, id, v.Commit); err != nil {
			return nil, err
		}
	}
	if err := s.store.CreateCredential(ctx, &c); err != nil {
		s.revokeIssued(ctx, rec)
		return nil, err
	}
	return s.finishExchange(ctx, in, c, nk, rec, map[string]any{"identity_attributes": names})
}
