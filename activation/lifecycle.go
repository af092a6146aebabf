package activation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// InitRequest is the bank's request for a new activation (PowerAuth 3.x server initActivation).
type InitRequest struct {
	UserID        string
	ApplicationID string
	// OTP is an optional second secret the user receives separately (SMS, letter).
	OTP string
	// CommitPhase is ON_COMMIT (default) or ON_KEY_EXCHANGE.
	CommitPhase string
	// ExpiresIn defaults to Config.ActivationTTL.
	ExpiresIn time.Duration
	// MaxFailedAttempts defaults to Config.MaxFailedAttempts.
	MaxFailedAttempts int
}

// Validate reports every problem at once and fills the defaults.
func (r *InitRequest) validate(cfg Config) error {
	var c fault.Collector
	c.Merge("user_id", validID("user_id", r.UserID))
	c.Merge("application_id", validID("application_id", r.ApplicationID))
	if r.CommitPhase == "" {
		r.CommitPhase = CommitOnCommit
	}
	c.Check(r.CommitPhase == CommitOnCommit || r.CommitPhase == CommitOnKeyExchange, "commit_phase", "must be ON_COMMIT or ON_KEY_EXCHANGE")
	if r.ExpiresIn == 0 {
		r.ExpiresIn = cfg.ActivationTTL
	}
	c.Check(r.ExpiresIn >= MinActivationTTL && r.ExpiresIn <= MaxActivationTTL, "expires_in",
		"must be between %d and %d seconds", int(MinActivationTTL.Seconds()), int(MaxActivationTTL.Seconds()))
	if r.MaxFailedAttempts == 0 {
		r.MaxFailedAttempts = cfg.MaxFailedAttempts
	}
	c.Check(r.MaxFailedAttempts >= 1 && r.MaxFailedAttempts <= MaxFailedAttemptsLimit, "max_failed_attempts",
		"must be between 1 and %d", MaxFailedAttemptsLimit)
	if r.OTP != "" {
		n := utf8.RuneCountInString(r.OTP)
		c.Check(n >= 4 && n <= 64 && utf8.ValidString(r.OTP) && strings.IndexFunc(r.OTP, unicode.IsControl) < 0,
			"otp", "must be 4 to 64 printable characters")
	}
	return c.Err()
}

// lookupKey is the part of an activation code the store indexes: the first two groups (50 random bits).
// The rest is compared in constant time with the sealed code, so a wrong guess with a known prefix is a
// failed attempt of that activation and removes it at the limit.
func lookupKey(code powerauth.ActivationCode) string { return string(code)[:11] }

// Init creates a CREATED activation with a fresh activation code signed by the application's master key
// (PowerAuth 3.x, Activation via Activation Code) and returns it with the code, the signature and the QR
// payload "CODE#signature". The code is unique among pending activations.
func (s *Service) Init(ctx context.Context, actor string, req InitRequest) (Activation, error) {
	if err := req.validate(s.cfg); err != nil {
		return Activation{}, err
	}
	if _, err := s.store.GetUser(ctx, req.UserID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Activation{}, fault.Invalid("user_id", "no such user")
		}
		return Activation{}, err
	}
	app, err := s.store.GetApplication(ctx, req.ApplicationID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Activation{}, fault.Invalid("application_id", "no such application")
		}
		return Activation{}, err
	}
	if app.Status != AppActive {
		return Activation{}, fault.Invalid("application_id", "the application is %s", app.Status)
	}
	master, err := s.masterKey(app)
	if err != nil {
		return Activation{}, err
	}
	now := s.now()
	exp := now.Add(req.ExpiresIn)
	for attempt := 0; ; attempt++ {
		code, err := powerauth.GenerateActivationCode()
		if err != nil {
			return Activation{}, err
		}
		sig, err := powerauth.SignActivationCode(master, code)
		if err != nil {
			return Activation{}, err
		}
		c := store.Credential{ID: uuid.NewString(), UserID: req.UserID, Kind: store.KindPowerAuth,
			Status: store.StatusCreated, MaxFailedAttempts: req.MaxFailedAttempts, LookupKey: lookupKey(code),
			CreatedAt: now, ExpiresAt: &exp}
		d := activationData{ApplicationID: app.ID, CommitPhase: req.CommitPhase, OTPRequired: req.OTP != "",
			CodeSignature: base64.StdEncoding.EncodeToString(sig)}
		if err := writeData(&c, d); err != nil {
			return Activation{}, err
		}
		sec := activationSecret{Code: string(code)}
		if req.OTP != "" {
			sec.OTPSalt = make([]byte, 16)
			_, _ = rand.Read(sec.OTPSalt)
			sec.OTPHash = otpHash(sec.OTPSalt, req.OTP)
		}
		if err := s.sealSecret(&c, sec); err != nil {
			return Activation{}, err
		}
		if err := s.store.CreateCredential(ctx, &c); err != nil {
			if errors.Is(err, store.ErrAlreadyExists) && attempt < 4 {
				continue // 50-bit prefix collision with a pending activation: draw again
			}
			return Activation{}, err
		}
		if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.activation.init", Outcome: audit.Success, Actor: actor,
			UserID: c.UserID, CredentialID: c.ID, Evidence: map[string]any{"application_id": app.ID,
				"commit_phase": req.CommitPhase, "otp": req.OTP != "", "expires_at": exp,
				"max_failed_attempts": req.MaxFailedAttempts}}); err != nil {
			return Activation{}, err
		}
		return Activation{Credential: c, Application: app.ID, CommitPhase: req.CommitPhase, Code: string(code),
			CodeSignature: sig, QRPayload: powerauth.ActivationQRPayload(code, sig)}, nil
	}
}

// otpHash is SHA-256(salt ‖ otp). It is sealed with the rest of the activation secret, so the hash alone
// never reaches the database in clear.
func otpHash(salt []byte, otp string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(otp))
	return h.Sum(nil)
}

func otpMatches(sec activationSecret, otp string) bool {
	return subtle.ConstantTimeCompare(otpHash(sec.OTPSalt, otp), sec.OTPHash) == 1
}

// Activation is the bank's view of an activation.
type Activation struct {
	Credential  store.Credential
	Application string
	CommitPhase string
	Fingerprint string
	Platform    string
	DeviceInfo  string
	// Code, CodeSignature and QRPayload are set while the activation is CREATED.
	Code          string
	CodeSignature []byte
	QRPayload     string
}

// Get returns an activation, expiring it first when it is due.
func (s *Service) Get(ctx context.Context, id string) (Activation, error) {
	c, err := s.getActivation(ctx, id)
	if err != nil {
		return Activation{}, err
	}
	return s.view(c)
}

func (s *Service) getActivation(ctx context.Context, id string) (store.Credential, error) {
	if err := validID("id", id); err != nil {
		return store.Credential{}, err
	}
	c, err := s.store.GetCredential(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Kind != store.KindPowerAuth) {
		return store.Credential{}, fault.New(fault.ErrNotFound, "activation")
	}
	if err != nil {
		return store.Credential{}, err
	}
	return s.expireIfDue(ctx, c)
}

func (s *Service) view(c store.Credential) (Activation, error) {
	d, err := readData(c)
	if err != nil {
		return Activation{}, err
	}
	a := Activation{Credential: c, Application: d.ApplicationID, CommitPhase: d.CommitPhase, Fingerprint: d.Fingerprint}
	if len(c.Device) > 0 {
		var di deviceInfo
		_ = json.Unmarshal(c.Device, &di) // display only
		a.Platform, a.DeviceInfo = di.Platform, di.DeviceInfo
	}
	if c.Status == store.StatusCreated {
		sec, err := s.openSecret(c)
		if err != nil {
			return Activation{}, err
		}
		sig, _ := base64.StdEncoding.DecodeString(d.CodeSignature)
		a.Code, a.CodeSignature = sec.Code, sig
		if sec.Code != "" {
			a.QRPayload = powerauth.ActivationQRPayload(powerauth.ActivationCode(sec.Code), sig)
		}
	}
	return a, nil
}

// Commit moves a PENDING_COMMIT activation to ACTIVE (PowerAuth 3.x server commitActivation). When the
// activation has an OTP checked at commit, otp must match; a wrong OTP is a failed attempt and the
// activation is REMOVED at the limit.
func (s *Service) Commit(ctx context.Context, actor, id, otp string) (Activation, error) {
	c, err := s.getActivation(ctx, id)
	if err != nil {
		return Activation{}, err
	}
	if c.Status != store.StatusPendingCommit {
		return Activation{}, fault.New(fault.ErrConflict, "the activation is %s; only a PENDING_COMMIT activation can be committed", c.Status)
	}
	d, err := readData(c)
	if err != nil {
		return Activation{}, err
	}
	if d.OTPRequired && d.CommitPhase == CommitOnCommit {
		sec, err := s.openSecret(c)
		if err != nil {
			return Activation{}, err
		}
		if otp == "" || !otpMatches(sec, otp) {
			removed, err := s.pendingFailure(ctx, c.ID, "powerauth.activation.commit", actor, "wrong OTP")
			if err != nil {
				return Activation{}, err
			}
			if removed {
				return Activation{}, fault.New(fault.ErrGone, "the activation was removed after too many wrong OTPs")
			}
			return Activation{}, fault.Invalid("otp", "does not match")
		}
	}
	now := s.now()
	c, err = s.store.UpdateCredential(ctx, c.ID, func(c *store.Credential) error {
		if c.Status != store.StatusPendingCommit {
			return fault.New(fault.ErrConflict, "the activation is %s", c.Status)
		}
		return s.activate(c, now)
	})
	if err != nil {
		return Activation{}, err
	}
	if err := s.activateRecoveryCodes(ctx, c.ID); err != nil {
		return Activation{}, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.activation.commit", Outcome: audit.Success, Actor: actor,
		UserID: c.UserID, CredentialID: c.ID}); err != nil {
		return Activation{}, err
	}
	return s.view(c)
}

// activate moves c to ACTIVE: the code and OTP are spent, the expiry no longer applies and the failed
// attempts of the enrolment phase are forgotten.
func (s *Service) activate(c *store.Credential, now time.Time) error {
	if err := c.Transition(store.StatusActive, store.ReasonNone, now); err != nil {
		return fault.Wrap(fault.ErrConflict, err, "the activation is %s", c.Status)
	}
	c.LookupKey, c.ExpiresAt, c.FailedAttempts = "", nil, 0
	sec, err := s.openSecret(*c)
	if err != nil {
		return err
	}
	sec.Code, sec.OTPHash, sec.OTPSalt = "", nil, nil
	return s.sealSecret(c, sec)
}

// pendingFailure counts a failed attempt (wrong code or OTP) against a CREATED or PENDING_COMMIT activation
// and REMOVES it at its maximum (PowerAuth 3.x: "wrong OTP: failed++, REMOVED at max").
func (s *Service) pendingFailure(ctx context.Context, id, event, actor, reason string) (removed bool, err error) {
	now := s.now()
	c, err := s.store.UpdateCredential(ctx, id, func(c *store.Credential) error {
		if c.Status != store.StatusCreated && c.Status != store.StatusPendingCommit {
			return errUnchanged
		}
		c.FailedAttempts++
		if c.MaxFailedAttempts > 0 && c.FailedAttempts >= c.MaxFailedAttempts {
			c.LookupKey = ""
			return c.Transition(store.StatusRemoved, store.ReasonNone, now)
		}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		c, err = s.store.GetCredential(ctx, id)
	}
	if err != nil {
		return false, err
	}
	removed = c.Status == store.StatusRemoved
	if removed {
		if err := s.revokeCodesOf(ctx, c.ID, "activation removed before it was committed"); err != nil {
			return removed, err
		}
	}
	if err := s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Failure, Reason: reason, Actor: actor,
		UserID: c.UserID, CredentialID: c.ID, Evidence: map[string]any{"failed_attempts": c.FailedAttempts,
			"max_failed_attempts": c.MaxFailedAttempts, "removed": removed}}); err != nil {
		return removed, err
	}
	return removed, nil
}

// expireIfDue turns a CREATED or PENDING_COMMIT activation past its expiry into REMOVED.
func (s *Service) expireIfDue(ctx context.Context, c store.Credential) (store.Credential, error) {
	now := s.now()
	if !pendingExpired(c, now) {
		return c, nil
	}
	updated, err := s.store.UpdateCredential(ctx, c.ID, func(c *store.Credential) error {
		if !pendingExpired(*c, now) {
			return errUnchanged
		}
		c.LookupKey = ""
		return c.Transition(store.StatusRemoved, store.ReasonNone, now)
	})
	if errors.Is(err, errUnchanged) {
		return s.store.GetCredential(ctx, c.ID)
	}
	if err != nil {
		return c, err
	}
	if err := s.revokeCodesOf(ctx, c.ID, "activation expired before it was committed"); err != nil {
		return updated, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.activation.expire", Outcome: audit.Success, Actor: "system",
		UserID: c.UserID, CredentialID: c.ID, Evidence: map[string]any{"from": c.Status, "expires_at": c.ExpiresAt}}); err != nil {
		return updated, err
	}
	return updated, nil
}

func pendingExpired(c store.Credential, now time.Time) bool {
	return c.Kind == store.KindPowerAuth && (c.Status == store.StatusCreated || c.Status == store.StatusPendingCommit) &&
		c.ExpiresAt != nil && !now.Before(*c.ExpiresAt)
}

// ExpireDue removes every CREATED or PENDING_COMMIT activation past its expiry (the periodic sweep; reads
// expire on their own as well). It returns how many it removed.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	n := 0
	now := s.now()
	for _, st := range []store.Status{store.StatusCreated, store.StatusPendingCommit} {
		cs, err := s.store.ListCredentials(ctx, store.CredentialFilter{Kind: store.KindPowerAuth, Status: st})
		if err != nil {
			return n, err
		}
		for _, c := range cs {
			if !pendingExpired(c, now) {
				continue
			}
			updated, err := s.expireIfDue(ctx, c)
			if err != nil {
				return n, err
			}
			if updated.Status == store.StatusRemoved {
				n++
			}
		}
	}
	return n, nil
}
