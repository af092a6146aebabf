package webauthn

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// errBadLink is the one answer for every way an enrollment link or session
// can be wrong: unknown, expired, used or closed.
var errBadLink = fault.New(fault.ErrUnauthenticated, "the enrollment link is invalid, expired or already used")

// Enrollment is a bank-issued, single-use enrollment link.
type Enrollment struct {
	URL       string
	ExpiresAt time.Time
}

// IssueEnrollment creates a single-use enrollment link for a user, valid for
// EnrollmentTTL (15 minutes). The secret travels in the URL fragment, so it
// reaches neither Signet's access logs nor a Referer header; only its SHA-256
// is stored.
func (s *Service) IssueEnrollment(ctx context.Context, actor, userID string) (Enrollment, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return Enrollment{}, err
	}
	if len(u.WebAuthnID) == 0 { // users created before passkeys existed
		handle := make([]byte, 32)
		if _, err := rand.Read(handle); err != nil {
			return Enrollment{}, err
		}
		if _, err := s.store.UpdateUser(ctx, u.ID, func(x *store.User) error {
			if len(x.WebAuthnID) == 0 {
				x.WebAuthnID = handle
				x.UpdatedAt = s.cfg.Now().UTC()
			}
			return nil
		}); err != nil {
			return Enrollment{}, err
		}
	}
	token, hash, err := newToken()
	if err != nil {
		return Enrollment{}, err
	}
	now := s.cfg.Now().UTC()
	c := store.Ceremony{ID: uuid.NewString(), Kind: kindEnrollment, LookupKey: hash, UserID: u.ID,
		ExpiresAt: now.Add(s.cfg.EnrollmentTTL), CreatedAt: now}
	if err := s.store.CreateCeremony(ctx, &c); err != nil {
		return Enrollment{}, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "enrollment.issue", Outcome: audit.Success, Actor: actor,
		UserID: u.ID, Evidence: map[string]any{"ceremony_id": c.ID, "expires_at": c.ExpiresAt}}); err != nil {
		return Enrollment{}, err
	}
	return Enrollment{URL: s.cfg.PublicURL + "/web/enroll#token=" + token, ExpiresAt: c.ExpiresAt}, nil
}

func (s *Service) user(ctx context.Context, id string) (store.User, error) {
	if !store.ValidID(id) {
		return store.User{}, fault.Invalid("id", "is not a valid identifier")
	}
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return u, fault.New(fault.ErrNotFound, "user")
	}
	return u, err
}

// Session is an open management session.
type Session struct {
	Token     string
	ExpiresAt time.Time
}

// OpenSession exchanges an enrollment link's secret for a management session
// (SessionTTL, 15 minutes), consuming the link exactly once.
func (s *Service) OpenSession(ctx context.Context, linkToken string) (Session, error) {
	ev := audit.Event{Type: "enrollment.open", Actor: "browser"}
	fail := func(reason string) (Session, error) {
		ev.Outcome, ev.Reason = audit.Failure, reason
		if err := s.audit.Record(ctx, ev); err != nil {
			return Session{}, err
		}
		return Session{}, errBadLink
	}
	// A malformed or unknown token names nothing real: not audited, counted by the server
	// (audit.UnrecordedError). A real link that expired or was used is audited below.
	t, ok := ParseToken(linkToken)
	if !ok {
		return Session{}, audit.Unrecorded(audit.UnknownEnrollmentToken, errBadLink)
	}
	link, err := s.store.GetCeremonyByLookupKey(ctx, kindEnrollment, tokenHash(t))
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, audit.Unrecorded(audit.UnknownEnrollmentToken, errBadLink)
	} else if err != nil {
		return Session{}, err
	}
	ev.UserID = link.UserID
	if _, err := s.store.ConsumeCeremony(ctx, link.ID, s.cfg.Now().UTC()); errors.Is(err, store.ErrNotFound) {
		return fail("enrollment link expired or already used")
	} else if err != nil {
		return Session{}, err
	}
	token, hash, err := newToken()
	if err != nil {
		return Session{}, err
	}
	now := s.cfg.Now().UTC()
	// The session keeps the link's purpose (a passcode reset: reset.go).
	sess := store.Ceremony{ID: uuid.NewString(), Kind: kindSession, LookupKey: hash, UserID: link.UserID, Data: link.Data,
		ExpiresAt: now.Add(s.cfg.SessionTTL), CreatedAt: now}
	if err := s.store.CreateCeremony(ctx, &sess); err != nil {
		return Session{}, err
	}
	ev.Outcome, ev.Evidence = audit.Success, map[string]any{"enrollment": link.ID, "session": sess.ID}
	if err := s.audit.Record(ctx, ev); err != nil {
		return Session{}, err
	}
	return Session{Token: token, ExpiresAt: sess.ExpiresAt}, nil
}

// session authenticates a management session token.
func (s *Service) session(ctx context.Context, token string) (store.Ceremony, store.User, error) {
	t, ok := ParseToken(token)
	if !ok {
		return store.Ceremony{}, store.User{}, errBadLink
	}
	c, err := s.store.GetCeremonyByLookupKey(ctx, kindSession, tokenHash(t))
	if errors.Is(err, store.ErrNotFound) {
		return c, store.User{}, errBadLink
	} else if err != nil {
		return c, store.User{}, err
	}
	if c.ConsumedAt != nil || !s.cfg.Now().Before(c.ExpiresAt) {
		return c, store.User{}, errBadLink
	}
	u, err := s.store.GetUser(ctx, c.UserID)
	if err != nil {
		return c, u, err
	}
	return c, u, nil
}

// SessionState is what the management page shows.
type SessionState struct {
	DisplayName    string `json:"display_name"`
	HasPasscode    bool   `json:"has_passcode"`
	PasscodeLocked bool   `json:"passcode_locked"`
	// Purpose is "passcode_reset" on a session opened by a reset link.
	Purpose   string        `json:"purpose,omitempty"`
	ExpiresAt time.Time     `json:"expires_at"`
	Passkeys  []PasskeyView `json:"passkeys"`
}

// State returns the session's user state and passkeys.
func (s *Service) State(ctx context.Context, token string) (SessionState, error) {
	c, u, err := s.session(ctx, token)
	if err != nil {
		return SessionState{}, err
	}
	keys, err := s.passkeys(ctx, u.ID, false)
	if err != nil {
		return SessionState{}, err
	}
	st := SessionState{DisplayName: u.DisplayName, HasPasscode: len(u.PasscodeVerifier) > 0,
		PasscodeLocked: u.PasscodeLocked, Purpose: purposeOf(c), ExpiresAt: c.ExpiresAt, Passkeys: []PasskeyView{}}
	for _, k := range keys {
		st.Passkeys = append(st.Passkeys, passkeyView(k))
	}
	return st, nil
}

// CloseSession ends a management session.
func (s *Service) CloseSession(ctx context.Context, token string) error {
	c, _, err := s.session(ctx, token)
	if err != nil {
		return err
	}
	return s.consumeSession(ctx, c.ID)
}

// passkeys lists a user's passkeys that are not REMOVED (only ACTIVE ones
// when activeOnly).
func (s *Service) passkeys(ctx context.Context, userID string, activeOnly bool) ([]store.Credential, error) {
	f := store.CredentialFilter{UserID: userID, Kind: store.KindPasskey}
	if activeOnly {
		f.Status = store.StatusActive
	}
	all, err := s.store.ListCredentials(ctx, f)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, c := range all {
		if c.Status != store.StatusRemoved {
			out = append(out, c)
		}
	}
	return out, nil
}

// ownedPasskeys lists every passkey the user ever had, REMOVED included: at
// finish, go-webauthn checks that the user owns each credential the ceremony
// allowed, and one may have been removed since. The approval path refuses any
// credential that is not ACTIVE.
func (s *Service) ownedPasskeys(ctx context.Context, userID string) ([]store.Credential, error) {
	return s.store.ListCredentials(ctx, store.CredentialFilter{UserID: userID, Kind: store.KindPasskey})
}

// HPKEParams tell the browser how to encrypt passcodes for one ceremony: the
// recipient key and, per field, the exact HPKE info (base64url) to use.
type HPKEParams struct {
	PasscodeKey
	Info map[string]string `json:"info"`
}

func (s *Service) hpkeParams(ceremonyID string, kekID [4]byte, challenge []byte, fields ...string) (*HPKEParams, error) {
	k, err := s.hpkeKey(kekID)
	if err != nil {
		return nil, err
	}
	p := &HPKEParams{PasscodeKey: PasscodeKey{KEMID: HPKEKEMID, KDFID: HPKEKDFID, AEADID: HPKEAEADID,
		PublicKey: base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), KeyID: kekIDString(kekID)}, Info: map[string]string{}}
	for _, f := range fields {
		p.Info[f] = base64.RawURLEncoding.EncodeToString(PasscodeInfo(ceremonyID, challenge, f))
	}
	return p, nil
}

// RegistrationOptions start a passkey registration.
type RegistrationOptions struct {
	CeremonyID string                       `json:"ceremony_id"`
	PublicKey  *protocol.CredentialCreation `json:"public_key"`
	// Passcode says what the finish call needs: "new" (the user has none yet:
	// choose one) or "current" (adding a passkey needs the passcode already set).
	Passcode  string      `json:"passcode"`
	HPKE      *HPKEParams `json:"hpke"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// BeginRegistration starts registering a discoverable passkey (ES256, EdDSA,
// RS256; UV per configuration; the user's existing passkeys excluded).
func (s *Service) BeginRegistration(ctx context.Context, token string) (RegistrationOptions, error) {
	sess, u, err := s.session(ctx, token)
	if err != nil {
		return RegistrationOptions{}, err
	}
	if u.PasscodeLocked {
		return RegistrationOptions{}, errLocked
	}
	existing, err := s.passkeys(ctx, u.ID, false)
	if err != nil {
		return RegistrationOptions{}, err
	}
	wu := newWAUser(u, existing)
	opts := []gowebauthn.RegistrationOption{
		gowebauthn.WithCredentialParameters(registrationParameters()),
		gowebauthn.WithExclusions(wu.descriptors()),
		gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(), ResidentKey: protocol.ResidentKeyRequirementRequired,
			UserVerification: s.uv}),
		gowebauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	}
	if s.spcEnabled() {
		// SPC "payment" extension (registration): the passkey may later be
		// used through Secure Payment Confirmation. A browser without SPC
		// ignores an unknown extension (WebAuthn L3 §9).
		opts = append(opts, gowebauthn.WithExtensions(gowebauthn.WithExtension("payment", map[string]any{"isPayment": true})))
	}
	creation, sd, err := s.wa.BeginRegistration(wu, opts...)
	if err != nil {
		return RegistrationOptions{}, fmt.Errorf("begin registration: %w", err)
	}
	_, kid, err := s.currentPasscodeKey()
	if err != nil {
		return RegistrationOptions{}, err
	}
	cer, err := s.createCeremony(ctx, kindRegistration, u.ID, "", ceremonyData{Session: *sd, KEKID: kekIDString(kid), WebSession: sess.ID})
	if err != nil {
		return RegistrationOptions{}, err
	}
	hp, err := s.hpkeParams(cer.ID, kid, creation.Response.Challenge, FieldPasscode)
	if err != nil {
		return RegistrationOptions{}, err
	}
	need := "current"
	if len(u.PasscodeVerifier) == 0 {
		need = "new"
	}
	return RegistrationOptions{CeremonyID: cer.ID, PublicKey: creation, Passcode: need, HPKE: hp, ExpiresAt: cer.ExpiresAt}, nil
}

// RegistrationResult finishes a registration: the credential JSON from
// credential.toJSON() and the passcode encrypted for this ceremony: the new
// one for a user without a passcode, else the current one.
type RegistrationResult struct {
	CeremonyID string
	Credential []byte
	Passcode   []byte // envelope JSON
	Label      string
}

// FinishRegistration verifies the attestation (WebAuthn L3 §7.1) and stores
// the passkey as an ACTIVE credential. A user without a passcode sets it here;
// a user with one must give it (counted like any try), so that an enrollment
// link alone, forwarded or phished, cannot add a device that signs.
func (s *Service) FinishRegistration(ctx context.Context, token string, in RegistrationResult) (PasskeyView, error) {
	sess, u, err := s.session(ctx, token)
	if err != nil {
		return PasskeyView{}, err
	}
	label, err := checkLabel(in.Label)
	if err != nil {
		return PasskeyView{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		return PasskeyView{}, fault.Invalid("credential", "is not a WebAuthn registration response (PublicKeyCredential.toJSON())")
	}
	if len(in.Passcode) == 0 || string(in.Passcode) == "null" {
		if len(u.PasscodeVerifier) == 0 {
			return PasskeyView{}, fault.Invalid("passcode", "is required: choose a passcode of 6 to 12 digits")
		}
		return PasskeyView{}, fault.Invalid("passcode", "is required: enter your current passcode to add a passkey")
	}
	env, err := ParseEnvelope(in.Passcode)
	if err != nil {
		return PasskeyView{}, err
	}
	cer, d, err := s.loadCeremony(ctx, in.CeremonyID, kindRegistration, u.ID, "")
	if err != nil {
		return PasskeyView{}, err
	}
	if d.WebSession != sess.ID {
		return PasskeyView{}, errCeremony
	}
	leave, err := s.gate.Admit() // before anything changes: a 503 leaves the ceremony usable
	if err != nil {
		return PasskeyView{}, err
	}
	defer leave()
	ev := audit.Event{Type: "passkey.register", Actor: "browser", UserID: u.ID}
	fail := func(reason string, public error) (PasskeyView, error) {
		ev.Outcome, ev.Reason = audit.Failure, reason
		if err := s.audit.Record(ctx, ev); err != nil {
			return PasskeyView{}, err
		}
		return PasskeyView{}, public
	}
	kid, err := parseKEKID(d.KEKID)
	if err != nil {
		return PasskeyView{}, err
	}
	challenge, _ := base64.RawURLEncoding.DecodeString(d.Session.Challenge)
	info := PasscodeInfo(cer.ID, challenge, FieldPasscode)
	var newPasscode Passcode
	if len(u.PasscodeVerifier) == 0 {
		pt, err := s.openPasscode(kid, info, env)
		if err != nil {
			_ = s.consume(ctx, cer.ID)
			return fail(err.Error(), fault.ErrUnauthenticated)
		}
		// A policy failure leaves the ceremony usable: nothing was verified yet.
		if newPasscode, err = CheckPasscodePolicy(pt); err != nil {
			return PasskeyView{}, err
		}
	}
	if err := s.consume(ctx, cer.ID); err != nil {
		return fail("registration ceremony replayed or expired", err)
	}
	wc, err := s.wa.CreateCredential(newWAUser(u, nil), d.Session, parsed)
	if err != nil {
		return fail("attestation: "+protocolDetail(err), errRegistration)
	}
	if newPasscode == nil { // adding a passkey: prove the passcode already set
		if u, err = s.reservePasscodeTry(ctx, u); err != nil {
			if errors.Is(err, fault.ErrLocked) || errors.Is(err, fault.ErrConflict) {
				return fail(err.Error(), err)
			}
			return PasskeyView{}, err
		}
		var (
			outcome passcodeOutcome
			rehash  bool
			current Passcode
			cerr    error
		)
		if err := s.withSlot(ctx, func() { outcome, rehash, current, cerr = s.checkPasscode(u, kid, info, env) }); err != nil {
			return PasskeyView{}, s.refundUnchecked(ctx, u, err)
		}
		if err := s.settlePasscode(ctx, u, outcome, current, rehash); err != nil {
			return PasskeyView{}, err
		}
		if cerr != nil {
			return fail(cerr.Error(), errRegistration)
		}
	}
	now := s.cfg.Now().UTC()
	flags := parsed.Response.AttestationObject.AuthData.Flags
	data := passkeyData{AAGUID: aaguidString(wc.Authenticator.AAGUID), Algorithm: coseAlgorithm(wc.PublicKey),
		AttestationType: wc.AttestationType, AttestationFormat: wc.AttestationFormat, Attachment: string(wc.Authenticator.Attachment),
		BackupEligible: flags.HasBackupEligible(), BackupState: flags.HasBackupState(), UserVerifiedAtRegistration: flags.HasUserVerified(),
		Discoverable: wc.Extensions.RK}
	for _, t := range wc.Transport {
		data.Transports = append(data.Transports, string(t))
	}
	raw, _ := json.Marshal(data)
	if label == "" {
		label = "Passkey " + now.Format("2006-01-02")
	}
	cred := store.Credential{ID: uuid.NewString(), UserID: u.ID, Kind: store.KindPasskey, Status: store.StatusCreated,
		MaxFailedAttempts: s.cfg.CredentialMaxFailures, Label: label, LookupKey: lookupKey(wc.ID), PublicKey: wc.PublicKey,
		Counter: int64(wc.Authenticator.SignCount), Data: raw, CreatedAt: now}
	if err := cred.Transition(store.StatusActive, store.ReasonNone, now); err != nil {
		return PasskeyView{}, err
	}
	if err := s.store.CreateCredential(ctx, &cred); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			// The same answer as any other bad attestation: a distinct one
			// would tell whoever holds an enrollment link that a credential id
			// is registered, perhaps to another user. The audit says which.
			return fail(s.duplicateReason(ctx, u.ID, cred.LookupKey), errRegistration)
		}
		return PasskeyView{}, err
	}
	ev.Outcome, ev.CredentialID = audit.Success, cred.ID
	ev.Evidence = map[string]any{"credential_id": cred.LookupKey, "public_key": base64.RawURLEncoding.EncodeToString(wc.PublicKey),
		"alg": data.Algorithm, "aaguid": data.AAGUID, "attestation_format": data.AttestationFormat,
		"backup_eligible": data.BackupEligible, "backup_state": data.BackupState, "uv": data.UserVerifiedAtRegistration,
		"client_data_json": base64.RawURLEncoding.EncodeToString(parsed.Raw.AttestationResponse.ClientDataJSON)}
	if err := s.audit.Record(ctx, ev); err != nil {
		return PasskeyView{}, err
	}
	if newPasscode != nil {
		if err := s.setPasscode(ctx, u.ID, newPasscode, "passcode.set"); err != nil {
			return PasskeyView{}, err
		}
	}
	return passkeyView(cred), nil
}

// errRegistration is the one answer to a registration whose credential is
// refused: a bad attestation, a wrong current passcode or a credential id
// already registered (to this user or another).
var errRegistration = fault.ErrUnauthenticated

// duplicateReason names, for the audit log only, whose credential a refused
// registration duplicated.
func (s *Service) duplicateReason(ctx context.Context, userID, key string) string {
	existing, err := s.store.GetCredentialByLookupKey(ctx, store.KindPasskey, key)
	switch {
	case err != nil:
		return "credential id already registered"
	case existing.UserID == userID:
		return "credential id already registered to this user (credential " + existing.ID + ")"
	}
	return "credential id already registered to another user (user " + existing.UserID + ", credential " + existing.ID + ")"
}

// setPasscode stores a fresh verifier and clears failures and the lock.
func (s *Service) setPasscode(ctx context.Context, userID string, p Passcode, event string) error {
	var v []byte
	var err error
	if werr := s.withSlot(ctx, func() { v, err = s.newVerifier(p) }); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if _, err := s.store.UpdateUser(ctx, userID, func(u *store.User) error {
		u.PasscodeVerifier, u.PasscodeFailed, u.PasscodeLocked = v, 0, false
		u.UpdatedAt = s.cfg.Now().UTC()
		return nil
	}); err != nil {
		return err
	}
	return s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Success, Actor: "browser", UserID: userID})
}

// ownPasskey loads a passkey of the session's user (404 for anyone else's).
func (s *Service) ownPasskey(ctx context.Context, userID, id string) (store.Credential, error) {
	if !store.ValidID(id) {
		return store.Credential{}, fault.Invalid("id", "is not a valid identifier")
	}
	c, err := s.store.GetCredential(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (c.UserID != userID || c.Kind != store.KindPasskey || c.Status == store.StatusRemoved)) {
		return store.Credential{}, fault.New(fault.ErrNotFound, "passkey")
	}
	return c, err
}

// RenamePasskey changes the label of one of the session user's passkeys.
func (s *Service) RenamePasskey(ctx context.Context, token, id, label string) (PasskeyView, error) {
	_, u, err := s.session(ctx, token)
	if err != nil {
		return PasskeyView{}, err
	}
	label, err = checkLabel(label)
	if err != nil {
		return PasskeyView{}, err
	}
	if label == "" {
		return PasskeyView{}, fault.Invalid("label", "is required")
	}
	if _, err := s.ownPasskey(ctx, u.ID, id); err != nil {
		return PasskeyView{}, err
	}
	c, err := s.store.UpdateCredential(ctx, id, func(c *store.Credential) error {
		if c.Status == store.StatusRemoved {
			return fault.New(fault.ErrNotFound, "passkey")
		}
		c.Label = label
		return nil
	})
	if err != nil {
		return PasskeyView{}, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "passkey.rename", Outcome: audit.Success, Actor: "browser",
		UserID: u.ID, CredentialID: id}); err != nil {
		return PasskeyView{}, err
	}
	return passkeyView(c), nil
}

// RemovePasskey removes one of the session user's passkeys (terminal).
func (s *Service) RemovePasskey(ctx context.Context, token, id string) error {
	_, u, err := s.session(ctx, token)
	if err != nil {
		return err
	}
	if _, err := s.ownPasskey(ctx, u.ID, id); err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	if _, err := s.store.UpdateCredential(ctx, id, func(c *store.Credential) error {
		return c.Transition(store.StatusRemoved, store.ReasonNone, now)
	}); err != nil {
		if errors.Is(err, store.ErrInvalidTransition) {
			return fault.New(fault.ErrNotFound, "passkey")
		}
		return err
	}
	return s.audit.Record(ctx, audit.Event{Type: "passkey.remove", Outcome: audit.Success, Actor: "browser",
		UserID: u.ID, CredentialID: id})
}

// UnlockPasscode clears a user's passcode lock and failure count (private API).
func (s *Service) UnlockPasscode(ctx context.Context, actor, userID string) (store.User, error) {
	if _, err := s.user(ctx, userID); err != nil {
		return store.User{}, err
	}
	u, err := s.store.UpdateUser(ctx, userID, func(u *store.User) error {
		u.PasscodeFailed, u.PasscodeLocked = 0, false
		u.UpdatedAt = s.cfg.Now().UTC()
		return nil
	})
	if err != nil {
		return u, err
	}
	return u, s.audit.Record(ctx, audit.Event{Type: "passcode.unlock", Outcome: audit.Success, Actor: actor, UserID: userID})
}

func aaguidString(b []byte) string {
	u, err := uuid.FromBytes(b)
	if err != nil {
		return ""
	}
	return u.String()
}

// protocolDetail is the developer detail of a go-webauthn error, for the audit
// log only.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.DevInfo != "" {
			return pe.Details + ": " + pe.DevInfo
		}
		return pe.Details
	}
	return err.Error()
}
