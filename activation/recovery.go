package activation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// Activation recovery: PowerAuth 3.x "Activation via Recovery Code" and "Recovery Postcard"
// (powerauth-crypto docs Activation-via-Recovery-Code.md, Recovery-Postcard.md), following Wultra's
// powerauth-server RecoveryServiceBehavior and ActivationServiceBehavior where the docs are silent.

// Recovery code statuses ("Recovery Code States").
const (
	RecoveryCreated = "CREATED" // issued, not confirmed yet (a postcard, or the code of a PENDING_COMMIT activation)
	RecoveryActive  = "ACTIVE"  // usable for a recovery activation
	RecoveryBlocked = "BLOCKED" // too many wrong PUKs; final
	RecoveryRevoked = "REVOKED" // revoked by the bank, or its activation was replaced by a recovery; final
)

// PUK statuses ("Recovery PUK States").
const (
	PUKValid   = "VALID"
	PUKUsed    = "USED"
	PUKInvalid = "INVALID"
)

// DefaultRecoveryMaxFailedAttempts is Wultra's default limit of wrong PUKs per recovery code
// (powerauth.service.recovery.maxFailedAttempts = 10); the code is BLOCKED when it is reached.
const DefaultRecoveryMaxFailedAttempts = 10

// MaxPostcardPUKs is the most PUKs one postcard may carry (RecoveryServiceBehavior.PUK_COUNT_MAX).
const MaxPostcardPUKs = 100

// PUK hashing: Argon2id (RFC 9106) with a random 16-byte salt per PUK, 3 passes over 32 MiB, 32-byte
// output. A PUK has only 10 digits (about 33 bits), so the hash must be slow: Wultra uses Argon2i with 3
// passes over 32 MiB; Argon2id is RFC 9106's recommended variant at the same cost. The passcode scheme's
// Argon2id verifier is keyed with a pepper per user record; here the whole list of hashes is in addition
// sealed under the KEK (AES-256-GCM, bound to the recovery code's id), so a database copy alone gives
// nothing to brute-force, and with the KEK each guess still costs one Argon2id evaluation.
const (
	pukArgonTime    = 3
	pukArgonMemory  = 32 * 1024 // KiB
	pukArgonThreads = 1
	pukHashLen      = 32
)

const adRecovery = "signet-powerauth-recovery:"
const adPostcardKey = "signet-powerauth-postcard-key:"

func pukHash(salt []byte, puk powerauth.PUK) []byte {
	return argon2.IDKey([]byte(puk), salt, pukArgonTime, pukArgonMemory, pukArgonThreads, pukHashLen)
}

// recoveryLookupKey is how a code is found without storing it: SHA-256 of the normalised code, hex.
func recoveryLookupKey(code powerauth.ActivationCode) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

// maskRecoveryCode hides all but the last group, as Wultra's RecoveryCodeEntity.getRecoveryCodeMasked.
func maskRecoveryCode(code powerauth.ActivationCode) string {
	return "XXXXX-XXXXX-XXXXX-" + string(code)[18:]
}

// pukState is the public state of one PUK (store.RecoveryCode.PUKs).
type pukState struct {
	Index     int        `json:"index"`
	Status    string     `json:"status"`
	ChangedAt *time.Time `json:"changed_at,omitempty"`
}

// pukSecret is the sealed hash of one PUK (store.RecoveryCode.Secret).
type pukSecret struct {
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
}

func readPUKs(r store.RecoveryCode) ([]pukState, error) {
	var p []pukState
	if err := json.Unmarshal(r.PUKs, &p); err != nil {
		return nil, fmt.Errorf("activation: stored PUK states of recovery code %s: %w", r.ID, err)
	}
	return p, nil
}

func writePUKs(r *store.RecoveryCode, p []pukState) {
	r.PUKs, _ = json.Marshal(p)
}

func (s *Service) openPUKs(r store.RecoveryCode) ([]pukSecret, error) {
	raw, err := s.sealer.Open(r.Secret, []byte(adRecovery+r.ID))
	if err != nil {
		return nil, fmt.Errorf("activation: open PUK hashes of recovery code %s: %w", r.ID, err)
	}
	var p []pukSecret
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("activation: stored PUK hashes: %w", err)
	}
	return p, nil
}

// RecoveryCode is the bank's view of a recovery code: never the code or a PUK.
type RecoveryCode struct {
	ID                string
	ApplicationID     string
	UserID            string
	ActivationID      string
	CodeMasked        string
	Status            string
	FailedAttempts    int
	MaxFailedAttempts int
	PUKs              []PUKStatus
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// PUKStatus is the state of one PUK of a recovery code.
type PUKStatus struct {
	Index     int
	Status    string
	ChangedAt *time.Time
}

func recoveryView(r store.RecoveryCode) (RecoveryCode, error) {
	p, err := readPUKs(r)
	if err != nil {
		return RecoveryCode{}, err
	}
	v := RecoveryCode{ID: r.ID, ApplicationID: r.ApplicationID, UserID: r.UserID, ActivationID: r.ActivationID,
		CodeMasked: r.CodeMasked, Status: r.Status, FailedAttempts: r.FailedAttempts, MaxFailedAttempts: r.MaxFailedAttempts,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	for _, x := range p {
		v.PUKs = append(v.PUKs, PUKStatus(x))
	}
	return v, nil
}

// newRecoveryRecord stores a recovery code with its PUKs hashed; activationID is "" for a postcard.
func (s *Service) newRecoveryRecord(ctx context.Context, app store.Application, userID, activationID, status string,
	info powerauth.RecoveryInfo) (store.RecoveryCode, error) {
	r := store.RecoveryCode{ID: uuid.NewString(), ApplicationID: app.ID, UserID: userID, ActivationID: activationID,
		LookupKey: recoveryLookupKey(info.Code), CodeMasked: maskRecoveryCode(info.Code), Status: status,
		MaxFailedAttempts: s.cfg.RecoveryMaxFailedAttempts, CreatedAt: s.now()}
	states := make([]pukState, len(info.PUKs))
	secrets := make([]pukSecret, len(info.PUKs))
	for i, p := range info.PUKs {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return r, err
		}
		states[i] = pukState{Index: i + 1, Status: PUKValid}
		secrets[i] = pukSecret{Salt: salt, Hash: pukHash(salt, p)}
	}
	writePUKs(&r, states)
	raw, _ := json.Marshal(secrets)
	sealed, err := s.sealer.Seal(raw, []byte(adRecovery+r.ID))
	if err != nil {
		return r, err
	}
	r.Secret = sealed
	return r, s.store.CreateRecoveryCode(ctx, &r)
}

// issuedRecovery is a recovery code and PUK just issued with an activation, sent once in its layer 2
// answer (ActivationLayer2Response.activationRecovery).
type issuedRecovery struct {
	id   string
	code powerauth.ActivationCode
	puk  powerauth.PUK
}

// issueForActivation creates the recovery code and single PUK of a new activation (Wultra
// createRecoveryCodeForActivation: a random secret, one PUK, ACTIVE when the activation is, else CREATED).
func (s *Service) issueForActivation(ctx context.Context, app store.Application, userID, activationID string, active bool) (*issuedRecovery, error) {
	status := RecoveryCreated
	if active {
		status = RecoveryActive
	}
	for attempt := 0; ; attempt++ {
		secret := make([]byte, 16)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		info, err := powerauth.GenerateRecovery(secret, 1)
		if err != nil {
			return nil, err
		}
		r, err := s.newRecoveryRecord(ctx, app, userID, activationID, status, info)
		if errors.Is(err, store.ErrAlreadyExists) && attempt < 4 {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.recovery.issue", Outcome: audit.Success, Actor: "system",
			UserID: userID, CredentialID: activationID, Evidence: map[string]any{"recovery_code_id": r.ID,
				"code_masked": r.CodeMasked, "status": status, "puks": 1}}); err != nil {
			return nil, err
		}
		return &issuedRecovery{id: r.ID, code: info.Code, puk: info.PUKs[0]}, nil
	}
}

// revokeIssued revokes a code issued for a key exchange that then failed (best effort: the code was never
// delivered, and a CREATED code cannot recover anything).
func (s *Service) revokeIssued(ctx context.Context, rec *issuedRecovery) {
	if rec != nil {
		_, _ = s.revoke(ctx, rec.id, "system", "key exchange failed")
	}
}

// activateRecoveryCodes moves the CREATED codes of an activation to ACTIVE when the activation is committed
// (ActivationServiceBehavior.commitActivation).
func (s *Service) activateRecoveryCodes(ctx context.Context, activationID string) error {
	codes, err := s.store.ListRecoveryCodes(ctx, store.RecoveryCodeFilter{ActivationID: activationID})
	if err != nil {
		return err
	}
	for _, r := range codes {
		if r.Status != RecoveryCreated {
			continue
		}
		_, err := s.store.UpdateRecoveryCode(ctx, r.ID, func(r *store.RecoveryCode) error {
			if r.Status != RecoveryCreated {
				return errUnchanged
			}
			r.Status = RecoveryActive
			return nil
		})
		if err != nil && !errors.Is(err, errUnchanged) {
			return err
		}
	}
	return nil
}

// revoke moves a code to REVOKED and its VALID PUKs to INVALID (Wultra revokeRecoveryCodes).
func (s *Service) revoke(ctx context.Context, id, actor, reason string) (store.RecoveryCode, error) {
	now := s.now()
	r, err := s.store.UpdateRecoveryCode(ctx, id, func(r *store.RecoveryCode) error {
		if r.Status == RecoveryRevoked {
			return errUnchanged
		}
		p, err := readPUKs(*r)
		if err != nil {
			return err
		}
		for i := range p {
			if p[i].Status == PUKValid {
				p[i].Status, p[i].ChangedAt = PUKInvalid, &now
			}
		}
		writePUKs(r, p)
		r.Status = RecoveryRevoked
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return s.store.GetRecoveryCode(ctx, id)
	}
	if err != nil {
		return r, err
	}
	return r, s.audit.Record(ctx, audit.Event{Type: "powerauth.recovery.revoke", Outcome: audit.Success, Actor: actor,
		Reason: reason, UserID: r.UserID, CredentialID: r.ActivationID, Evidence: map[string]any{"recovery_code_id": r.ID}})
}

// revokeCodesOf revokes the recovery codes issued with an activation that is removed before it was ever
// committed: such a code was never usable, and must not become usable by a later confirmation (Wultra's
// removeActivationInternal revokes the codes of CREATED and PENDING_COMMIT activations).
func (s *Service) revokeCodesOf(ctx context.Context, activationID, reason string) error {
	codes, err := s.store.ListRecoveryCodes(ctx, store.RecoveryCodeFilter{ActivationID: activationID})
	if err != nil {
		return err
	}
	for _, r := range codes {
		if r.Status == RecoveryRevoked {
			continue
		}
		if _, err := s.revoke(ctx, r.ID, "system", reason); err != nil {
			return err
		}
	}
	return nil
}

// RecoveryPUKError refuses a recovery activation whose PUK is wrong while the code is still usable: it
// carries the index of the PUK to use (Wultra's RecoveryError.currentRecoveryPukIndex, code
// INVALID_RECOVERY_CODE), which the SDKs show the user.
type RecoveryPUKError struct {
	CurrentPUKIndex int
}

func (e *RecoveryPUKError) Error() string {
	return fmt.Sprintf("activation: wrong recovery PUK; the next PUK is number %d", e.CurrentPUKIndex)
}

// recoverActivation is activation create of type RECOVERY ("Activation Flow - Description" and Wultra's
// createActivationUsingRecoveryCode): the code must be ACTIVE; the PUK is checked against the first VALID
// PUK only; a wrong PUK counts against the code (BLOCKED, that PUK INVALID, at the limit) and the answer
// names the PUK index to use while the code is usable. The right PUK becomes USED, the failures are reset,
// the activation the code was issued with (if any) is REMOVED and its codes REVOKED, and a new activation
// is created ACTIVE for the code's user, with a fresh recovery code when the application enables recovery.
func (s *Service) recoverActivation(ctx context.Context, in exchange) (*powerauth.Envelope, error) {
	const event = "powerauth.activation.recovery"
	fail := func(reason string, r *store.RecoveryCode, public error) (*powerauth.Envelope, error) {
		ev := audit.Event{Type: event, Outcome: audit.Failure, Reason: reason, Actor: "device"}
		if r != nil {
			ev.UserID, ev.CredentialID = r.UserID, r.ActivationID
			ev.Evidence = map[string]any{"recovery_code_id": r.ID, "failed_attempts": r.FailedAttempts,
				"max_failed_attempts": r.MaxFailedAttempts, "status": r.Status}
		}
		if err := s.audit.Record(ctx, ev); err != nil {
			return nil, err
		}
		return nil, public
	}
	r, err := s.store.GetRecoveryCodeByLookupKey(ctx, in.app.ID, recoveryLookupKey(in.l1.recoveryCode))
	if errors.Is(err, store.ErrNotFound) {
		return fail("unknown recovery code", nil, fault.ErrUnauthenticated)
	}
	if err != nil {
		return nil, err
	}
	if r.Status != RecoveryActive {
		return fail("recovery code is "+r.Status, &r, fault.ErrUnauthenticated)
	}
	states, err := readPUKs(r)
	if err != nil {
		return nil, err
	}
	hashes, err := s.openPUKs(r)
	if err != nil {
		return nil, err
	}
	current := -1 // the first VALID PUK: the only one tried
	for i, p := range states {
		if p.Status == PUKValid {
			current = i
			break
		}
	}
	ok := current >= 0 && current < len(hashes) &&
		subtle.ConstantTimeCompare(pukHash(hashes[current].Salt, in.l1.puk), hashes[current].Hash) == 1
	now := s.now()
	if !ok {
		updated, err := s.store.UpdateRecoveryCode(ctx, r.ID, func(x *store.RecoveryCode) error {
			if x.Status != RecoveryActive {
				return errUnchanged
			}
			x.FailedAttempts++
			if x.FailedAttempts >= x.MaxFailedAttempts && current >= 0 {
				p, err := readPUKs(*x)
				if err != nil {
					return err
				}
				p[current].Status, p[current].ChangedAt = PUKInvalid, &now
				writePUKs(x, p)
				x.Status = RecoveryBlocked
			}
			return nil
		})
		if errors.Is(err, errUnchanged) {
			updated, err = s.store.GetRecoveryCode(ctx, r.ID)
		}
		if err != nil {
			return nil, err
		}
		public := fault.ErrUnauthenticated
		if updated.Status == RecoveryActive && current >= 0 {
			public = &RecoveryPUKError{CurrentPUKIndex: states[current].Index}
		}
		return fail("wrong recovery PUK", &updated, public)
	}
	nk, err := newKeys(uuid.NewString(), in.devicePub)
	if err != nil {
		return nil, err
	}
	// The PUK is spent first, by compare-and-swap on the version read above: two recoveries with the same
	// PUK cannot both pass.
	used, err := s.store.UpdateRecoveryCode(ctx, r.ID, func(x *store.RecoveryCode) error {
		if x.Version != r.Version || x.Status != RecoveryActive {
			return fault.New(fault.ErrUnauthenticated, "the recovery code changed")
		}
		p, err := readPUKs(*x)
		if err != nil {
			return err
		}
		p[current].Status, p[current].ChangedAt = PUKUsed, &now
		writePUKs(x, p)
		x.FailedAttempts = 0
		return nil
	})
	if err != nil {
		if errors.Is(err, fault.ErrUnauthenticated) {
			return fail("lost a race: "+err.Error(), &r, err)
		}
		return nil, err
	}
	// The original activation is removed and its recovery codes revoked (Wultra: removeActivation(activation,
	// null, true)), this code included when it was issued with that activation.
	if used.ActivationID != "" {
		if err := s.removeForRecovery(ctx, used.ActivationID); err != nil {
			return nil, err
		}
	}
	app := in.app
	id := nk.fingerprintID()
	c := store.Credential{ID: id, UserID: used.UserID, Kind: store.KindPowerAuth, Status: store.StatusActive,
		MaxFailedAttempts: s.cfg.MaxFailedAttempts, CreatedAt: now, ActivatedAt: &now}
	d := activationData{ApplicationID: app.ID, CommitPhase: CommitOnKeyExchange}
	if err := s.installKeys(&c, &d, nk, in.l2); err != nil {
		return nil, err
	}
	var rec *issuedRecovery
	if app.RecoveryEnabled {
		if rec, err = s.issueForActivation(ctx, app, used.UserID, id, true); err != nil {
			return nil, err
		}
	}
	if err := s.store.CreateCredential(ctx, &c); err != nil {
		s.revokeIssued(ctx, rec)
		return nil, err
	}
	return s.finishExchange(ctx, in, c, nk, rec, map[string]any{"recovery_code_id": used.ID, "puk_index": states[current].Index,
		"replaced_activation_id": used.ActivationID})
}

// fingerprintID is the activation id newKeys was given (the fingerprint binds it).
func (nk newKeyset) fingerprintID() string { return nk.activationID }

// removeForRecovery removes the activation a recovery replaces and revokes its recovery codes.
func (s *Service) removeForRecovery(ctx context.Context, activationID string) error {
	now := s.now()
	c, err := s.store.UpdateCredential(ctx, activationID, func(c *store.Credential) error {
		if c.Status == store.StatusRemoved {
			return errUnchanged
		}
		c.LookupKey = ""
		return c.Transition(store.StatusRemoved, store.ReasonNone, now)
	})
	switch {
	case errors.Is(err, errUnchanged), errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.activation.remove", Outcome: audit.Success, Actor: "system",
			Reason: "replaced by a recovery activation", UserID: c.UserID, CredentialID: c.ID}); err != nil {
			return err
		}
	}
	return s.revokeCodesOf(ctx, activationID, "activation replaced by a recovery")
}

// ConfirmRecoveryCode answers /pa/v3/recovery/confirm (PowerAuth 3.x "Recovery Code Confirmation"; SDK
// confirmRecoveryCode; restful-integration RecoveryController): a possession + knowledge signature (uriId
// /pa/recovery/confirm) over an activation-scope ECIES envelope (sh1 /pa/recovery/confirm) carrying
// {recoveryCode}. The code must belong to the activation's user in the same application and be CREATED
// (it becomes ACTIVE) or ACTIVE (already confirmed). The answer is {alreadyConfirmed}.
func (s *Service) ConfirmRecoveryCode(ctx context.Context, req SignedRequest) (*powerauth.Envelope, error) {
	const event = "powerauth.recovery.confirm"
	req.URIID = URIRecoveryConfirm
	env, err := powerauth.ParseEnvelope(req.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncryption, err)
	}
	v, err := s.Verify(ctx, event, req, possessionKnowledge)
	if err != nil {
		return nil, err
	}
	plain, sess, err := s.openActivationEnvelope(ctx, v, powerauth.SharedInfo1ConfirmRecovery, env)
	if err != nil {
		return nil, err
	}
	code, err := parseConfirmRecovery(plain)
	if err != nil {
		return nil, err
	}
	refuse := func(reason string) (*powerauth.Envelope, error) {
		if err := s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Failure, Reason: reason, Actor: "device",
			UserID: v.Activation.UserID, CredentialID: v.Activation.ID}); err != nil {
			return nil, err
		}
		return nil, fault.ErrUnauthenticated
	}
	r, err := s.store.GetRecoveryCodeByLookupKey(ctx, v.Application.ID, recoveryLookupKey(code))
	if errors.Is(err, store.ErrNotFound) {
		return refuse("unknown recovery code")
	}
	if err != nil {
		return nil, err
	}
	if r.UserID != v.Activation.UserID {
		return refuse("recovery code of another user")
	}
	already := r.Status == RecoveryActive
	if !already {
		r, err = s.store.UpdateRecoveryCode(ctx, r.ID, func(x *store.RecoveryCode) error {
			if x.Status == RecoveryActive {
				already = true
				return errUnchanged
			}
			if x.Status != RecoveryCreated {
				return fault.New(fault.ErrUnauthenticated, "recovery code is %s", x.Status)
			}
			x.Status = RecoveryActive
			return nil
		})
		if errors.Is(err, errUnchanged) {
			err = nil
		}
		if errors.Is(err, fault.ErrUnauthenticated) {
			return refuse(err.Error())
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Success, Actor: "device",
		UserID: v.Activation.UserID, CredentialID: v.Activation.ID,
		Evidence: map[string]any{"recovery_code_id": r.ID, "already_confirmed": already}}); err != nil {
		return nil, err
	}
	out, _ := json.Marshal(map[string]bool{"alreadyConfirmed": already})
	return sess.SealResponse(out, s.now())
}

// RecoverySettings is the bank's recovery configuration of an application.
type RecoverySettings struct {
	// Enabled: new activations get a recovery code and PUK, and recovery activations are possible.
	Enabled bool
	// PrinterPublicKey is the postcard printing service's P-256 public key (SEC 1, base64); it enables
	// postcards. Empty keeps the current key; setting it the first time creates the server's postcard key pair.
	PrinterPublicKey string
}

// SetRecovery changes an application's recovery settings (Wultra updateRecoveryConfig).
func (s *Service) SetRecovery(ctx context.Context, actor, appID string, set RecoverySettings) (store.Application, error) {
	if err := validID("id", appID); err != nil {
		return store.Application{}, err
	}
	var printer *powerauth.PublicKey
	if set.PrinterPublicKey != "" {
		var err error
		if printer, err = powerauth.ParsePublicKeyBase64(set.PrinterPublicKey); err != nil {
			return store.Application{}, fault.Invalid("printer_public_key", "must be a base64 P-256 public key")
		}
	}
	var postcardPriv *powerauth.PrivateKey
	app, err := s.store.UpdateApplication(ctx, appID, func(a *store.Application) error {
		a.RecoveryEnabled = set.Enabled
		if printer != nil {
			a.PrinterPublicKey = printer.Bytes()
			if len(a.PostcardPrivateKey) == 0 {
				if postcardPriv == nil {
					k, err := powerauth.GeneratePrivateKey()
					if err != nil {
						return err
					}
					postcardPriv = k
				}
				sealed, err := s.sealer.Seal(postcardPriv.Bytes(), []byte(adPostcardKey+a.ID))
				if err != nil {
					return err
				}
				a.PostcardPrivateKey, a.PostcardPublicKey = sealed, postcardPriv.PublicKey().Bytes()
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return app, fault.New(fault.ErrNotFound, "application")
	}
	if err != nil {
		return app, err
	}
	return app, s.audit.Record(ctx, audit.Event{Type: "powerauth.application.recovery", Outcome: audit.Success, Actor: actor,
		Evidence: map[string]any{"application_id": app.ID, "enabled": app.RecoveryEnabled,
			"printer_public_key": base64.StdEncoding.EncodeToString(app.PrinterPublicKey)}})
}

// Postcard is a recovery postcard just issued: what the printing service needs (Recovery-Postcard.md,
// "Printing Order": the NONCE and the PUK derivation indexes, from which it rebuilds the code and PUKs with
// its shared secret), returned once and never stored.
type Postcard struct {
	RecoveryCode RecoveryCode
	Seed         powerauth.RecoverySeed
}

// IssuePostcard creates a recovery code with pukCount PUKs for a user, in CREATED state until the user
// confirms it from an activated app (RecoveryServiceBehavior.createRecoveryCode). The application needs
// recovery enabled and a printing service key; a user holds at most one postcard that is CREATED or ACTIVE
// (Wultra's default, allowMultipleRecoveryCodes false): revoke the old one first.
func (s *Service) IssuePostcard(ctx context.Context, actor, appID, userID string, pukCount int) (Postcard, error) {
	var c fault.Collector
	c.Merge("application_id", validID("application_id", appID))
	c.Merge("user_id", validID("user_id", userID))
	c.Check(pukCount >= 1 && pukCount <= MaxPostcardPUKs, "puk_count", "must be between 1 and %d", MaxPostcardPUKs)
	if err := c.Err(); err != nil {
		return Postcard{}, err
	}
	if _, err := s.store.GetUser(ctx, userID); errors.Is(err, store.ErrNotFound) {
		return Postcard{}, fault.Invalid("user_id", "no such user")
	} else if err != nil {
		return Postcard{}, err
	}
	app, err := s.store.GetApplication(ctx, appID)
	if errors.Is(err, store.ErrNotFound) {
		return Postcard{}, fault.Invalid("application_id", "no such application")
	}
	if err != nil {
		return Postcard{}, err
	}
	if !app.RecoveryEnabled || len(app.PostcardPrivateKey) == 0 || len(app.PrinterPublicKey) == 0 {
		return Postcard{}, fault.Invalid("application_id", "recovery postcards are not set up for this application")
	}
	existing, err := s.store.ListRecoveryCodes(ctx, store.RecoveryCodeFilter{UserID: userID, ApplicationID: appID})
	if err != nil {
		return Postcard{}, err
	}
	for _, r := range existing {
		if r.ActivationID == "" && (r.Status == RecoveryCreated || r.Status == RecoveryActive) {
			return Postcard{}, fault.New(fault.ErrConflict, "the user already has postcard %s (%s); revoke it first", r.ID, r.Status)
		}
	}
	secret, err := s.postcardSecret(app)
	if err != nil {
		return Postcard{}, err
	}
	for attempt := 0; ; attempt++ {
		info, err := powerauth.GenerateRecovery(secret, pukCount)
		if err != nil {
			return Postcard{}, err
		}
		r, err := s.newRecoveryRecord(ctx, app, userID, "", RecoveryCreated, info)
		if errors.Is(err, store.ErrAlreadyExists) && attempt < 4 {
			continue
		}
		if err != nil {
			return Postcard{}, err
		}
		if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.recovery.postcard", Outcome: audit.Success, Actor: actor,
			UserID: userID, Evidence: map[string]any{"recovery_code_id": r.ID, "code_masked": r.CodeMasked,
				"puks": pukCount, "application_id": app.ID}}); err != nil {
			return Postcard{}, err
		}
		view, err := recoveryView(r)
		return Postcard{RecoveryCode: view, Seed: info.Seed}, err
	}
}

// postcardSecret is RPPS_MASTER_SHARED_SECRET for an application.
func (s *Service) postcardSecret(app store.Application) ([]byte, error) {
	raw, err := s.sealer.Open(app.PostcardPrivateKey, []byte(adPostcardKey+app.ID))
	if err != nil {
		return nil, fmt.Errorf("activation: open postcard key of application %s: %w", app.ID, err)
	}
	priv, err := powerauth.ParsePrivateKey(raw)
	if err != nil {
		return nil, err
	}
	printer, err := powerauth.ParsePublicKey(app.PrinterPublicKey)
	if err != nil {
		return nil, err
	}
	return powerauth.PostcardKey(priv, printer)
}

// ListRecoveryCodes lists a user's recovery codes, oldest first (RecoveryServiceBehavior.lookupRecoveryCodes).
func (s *Service) ListRecoveryCodes(ctx context.Context, userID string) ([]RecoveryCode, error) {
	if err := validID("id", userID); err != nil {
		return nil, err
	}
	if _, err := s.store.GetUser(ctx, userID); errors.Is(err, store.ErrNotFound) {
		return nil, fault.New(fault.ErrNotFound, "user")
	} else if err != nil {
		return nil, err
	}
	rs, err := s.store.ListRecoveryCodes(ctx, store.RecoveryCodeFilter{UserID: userID})
	if err != nil {
		return nil, err
	}
	out := make([]RecoveryCode, 0, len(rs))
	for _, r := range rs {
		v, err := recoveryView(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// RevokeRecoveryCode revokes a recovery code for the bank (RecoveryServiceBehavior.revokeRecoveryCodes):
// REVOKED, its VALID PUKs INVALID. Revoking a revoked code changes nothing.
func (s *Service) RevokeRecoveryCode(ctx context.Context, actor, id string) (RecoveryCode, error) {
	if err := validID("id", id); err != nil {
		return RecoveryCode{}, err
	}
	r, err := s.revoke(ctx, id, actor, "revoked by the bank")
	if errors.Is(err, store.ErrNotFound) {
		return RecoveryCode{}, fault.New(fault.ErrNotFound, "recovery code")
	}
	if err != nil {
		return RecoveryCode{}, err
	}
	return recoveryView(r)
}
