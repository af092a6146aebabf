package webauthn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/ceremony"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// Store is the part of store.Store this package uses.
type Store interface {
	GetUser(ctx context.Context, id string) (store.User, error)
	UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error)
	UpdateUserFrom(ctx context.Context, cur store.User, fn func(*store.User) error) (store.User, error)
	CreateCredential(ctx context.Context, c *store.Credential) error
	GetCredential(ctx context.Context, id string) (store.Credential, error)
	GetCredentialByLookupKey(ctx context.Context, kind store.CredentialKind, key string) (store.Credential, error)
	ListCredentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error)
	ReadApproval(ctx context.Context, opID string, reserve *store.PasscodeReservation) (store.Approval, error)
	UpdateCredential(ctx context.Context, id string, fn func(*store.Credential) error) (store.Credential, error)
	UpdateCredentialFrom(ctx context.Context, cur store.Credential, fn func(*store.Credential) error) (store.Credential, error)
	CreateCeremony(ctx context.Context, c *store.Ceremony) error
	GetCeremonyByLookupKey(ctx context.Context, kind, key string) (store.Ceremony, error)
	ConsumeCeremony(ctx context.Context, id string, now time.Time) (store.Ceremony, error)
	DeleteExpiredCeremonies(ctx context.Context, before time.Time) (int64, error)
}

// Ceremonies holds the short-lived WebAuthn ceremonies (registration, approval, passcode change
// and reset challenges) between begin and finish: in process (ceremony.Memory, the embedded mode),
// in Redis shared by the replicas (ceremony.Redis) or in the database (ceremony.DB, PostgreSQL
// without Redis). Enrollment links and management sessions stay in the Store. ceremonytest holds
// the contract every implementation passes.
type Ceremonies interface {
	// Put keeps c until c.ExpiresAt.
	Put(ctx context.Context, c store.Ceremony) error
	// Get returns ceremony id, with ConsumedAt set once consumed; store.ErrNotFound when it is
	// not held (an expired one may be either).
	Get(ctx context.Context, id string) (store.Ceremony, error)
	// Consume marks ceremony id used: of any number of concurrent calls, on any replica, exactly
	// one returns nil; the others, and any call for an unknown, expired or used ceremony, return
	// store.ErrNotFound. An outage is fault.ErrUnavailable, never nil.
	Consume(ctx context.Context, id string) error
}

// Operations is the part of the operation service approvals go through:
// *txsign.Service satisfies it. Decide is the one exactly-once approval path.
type Operations interface {
	Get(ctx context.Context, id string) (store.Operation, error)
	ExpireIfDue(ctx context.Context, op store.Operation) (store.Operation, error)
	Decide(ctx context.Context, a txsign.Attempt) (txsign.Result, error)
}

// Keys derives purpose-bound subkeys from the key-encryption keys; *kek.Ring
// satisfies it. The 4-byte id names the KEK a subkey came from, so values keyed
// with it stay usable after the KEK list rotates. The keys must not change for
// the Service's life: the passcode keys derived from them are kept (Service.hpke).
type Keys interface {
	Derive(purpose string) ([]byte, [4]byte, error)
	DeriveWith(id [4]byte, purpose string) ([]byte, error)
}

// Config configures the relying party and the passcode factor.
type Config struct {
	RPID          string
	RPDisplayName string
	// RPOrigins are the exact origins (scheme://host[:port]) WebAuthn accepts.
	RPOrigins []string
	// PublicURL is the base of enrollment links (e.g. https://sca.bank.example).
	PublicURL string
	// UserVerification: "required", "preferred" (default) or "discouraged"
	// (WebAuthn L3 §5.8.6).
	UserVerification string
	// CeremonyTimeout bounds a WebAuthn ceremony, enforced on the server
	// (default 5 minutes).
	CeremonyTimeout time.Duration
	// Ceremonies holds the WebAuthn ceremonies (default: ceremony.NewMemory on Now, which
	// suits one process only; replicas need ceremony.Redis or ceremony.DB).
	Ceremonies Ceremonies
	// EnrollmentTTL is the lifetime of an enrollment link (default 15 minutes);
	// SessionTTL the lifetime of the management session it opens (default 15 minutes).
	EnrollmentTTL time.Duration
	SessionTTL    time.Duration
	// PasscodeMaxFailures locks the passcode after that many wrong tries (default 3).
	PasscodeMaxFailures int
	// Argon2 cost of new verifiers (default m=19 MiB, t=2, p=1).
	Argon2 Argon2Params
	// Argon2Gate bounds concurrent passcode hashing (default
	// NewArgon2Gate(0, DefaultArgon2Queue, Argon2): one hash per core).
	Argon2Gate *Argon2Gate
	// CredentialMaxFailures bounds bad signatures before a passkey is BLOCKED (default 5).
	CredentialMaxFailures int
	// ReturnURLs are allow-listed return_url prefixes; OpenerOrigins the origins
	// an approval page may postMessage its outcome to.
	ReturnURLs    []string
	OpenerOrigins []string
	// SPCInstrument is the bank's instrument the browser shows in a Secure
	// Payment Confirmation dialog (spc.go): a display name and an icon URL.
	// Approvals offer SPC, and enrollment registers payment credentials, when
	// both are set and UserVerification is "required".
	SPCInstrument SPCInstrument
	// PasskeyOnlyTypes are the operation types a passkey alone may approve,
	// without the passcode, when the assertion proves user verification and
	// Authenticators allows the passkey's authenticator model (policy.go).
	// Empty (the default): every approval needs the passkey and the passcode.
	PasskeyOnlyTypes []string
	Authenticators   AuthenticatorPolicy
	Now              func() time.Time
}

// Defaults.
const (
	DefaultCeremonyTimeout     = 5 * time.Minute
	DefaultEnrollmentTTL       = 15 * time.Minute
	DefaultSessionTTL          = 15 * time.Minute
	DefaultPasscodeMaxFailures = 3
	DefaultCredentialFailures  = 5
)

// Service runs passkey ceremonies, enrollment sessions and passcode checks.
type Service struct {
	store Store
	ops   Operations
	audit *audit.Log
	keys  Keys
	wa    *gowebauthn.WebAuthn
	uv    protocol.UserVerificationRequirement
	cfg   Config
	gate  *Argon2Gate
	// subkeys holds the subkeys derived so far (subkeyID -> []byte) and hpke
	// the passcode keys (KEK id -> *hpkeEntry): each derivation (HKDF, and for
	// HPKE RFC 9180 §7.1.3 DeriveKeyPair) is a pure function of the immutable
	// KEKs, and repeated at every begin and finish they were 8 % of an
	// approval's allocations.
	subkeys, hpke sync.Map
	// currentKEK is the id of the first KEK, the one new verifiers and
	// ceremonies use (nil until first asked).
	currentKEK atomic.Pointer[[4]byte]
}

// New validates cfg and returns the service.
func New(st Store, ops Operations, a *audit.Log, keys Keys, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UserVerification == "" {
		cfg.UserVerification = string(protocol.VerificationPreferred)
	}
	if cfg.CeremonyTimeout == 0 {
		cfg.CeremonyTimeout = DefaultCeremonyTimeout
	}
	if cfg.Ceremonies == nil {
		cfg.Ceremonies = ceremony.NewMemory(cfg.Now, 0)
	}
	if cfg.EnrollmentTTL == 0 {
		cfg.EnrollmentTTL = DefaultEnrollmentTTL
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.PasscodeMaxFailures == 0 {
		cfg.PasscodeMaxFailures = DefaultPasscodeMaxFailures
	}
	if cfg.CredentialMaxFailures == 0 {
		cfg.CredentialMaxFailures = DefaultCredentialFailures
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2Params()
	}
	if cfg.RPDisplayName == "" {
		cfg.RPDisplayName = "Signet"
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	var errs []error
	uv := protocol.UserVerificationRequirement(cfg.UserVerification)
	switch uv {
	case protocol.VerificationRequired, protocol.VerificationPreferred, protocol.VerificationDiscouraged:
	default:
		errs = append(errs, fmt.Errorf("user verification must be required, preferred or discouraged, got %q", cfg.UserVerification))
	}
	if err := cfg.Argon2.validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.PasscodeMaxFailures < 1 || cfg.PasscodeMaxFailures > 10 {
		errs = append(errs, errors.New("passcode max failures must be between 1 and 10"))
	}
	for _, o := range append(append([]string(nil), cfg.RPOrigins...), cfg.OpenerOrigins...) {
		if !isOrigin(o) {
			errs = append(errs, fmt.Errorf("%q is not an origin (scheme://host[:port])", o))
		}
	}
	for _, r := range cfg.ReturnURLs {
		if _, err := parseReturnPrefix(r); err != nil {
			errs = append(errs, err)
		}
	}
	if u, err := url.Parse(cfg.PublicURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		errs = append(errs, fmt.Errorf("public URL %q is not an absolute http(s) URL", cfg.PublicURL))
	}
	if len(cfg.PasskeyOnlyTypes) > 0 && cfg.Authenticators == nil {
		errs = append(errs, errors.New("operation types approved by a passkey alone need the authenticator models allowed (FIDO metadata)"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("webauthn: %w", errors.Join(errs...))
	}
	timeout := gowebauthn.TimeoutConfig{Enforce: true, Timeout: cfg.CeremonyTimeout, TimeoutUVD: cfg.CeremonyTimeout}
	wa, err := gowebauthn.New(&gowebauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPDisplayName,
		// Exact origins only: no cross-origin iframes, no top origins, no
		// opaque (app) origins. WebAuthn L3 §7.1 step 9, §7.2 step 13.
		RPOrigins:             append([]string(nil), cfg.RPOrigins...),
		RPAllowCrossOrigin:    false,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   uv,
		},
		// Enforce: without it go-webauthn leaves SessionData.Expires zero and
		// sessions never expire.
		Timeouts: gowebauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	gate := cfg.Argon2Gate
	if gate == nil {
		gate = NewArgon2Gate(0, DefaultArgon2Queue, cfg.Argon2)
	}
	return &Service{store: st, ops: ops, audit: a, keys: keys, wa: wa, uv: uv, cfg: cfg, gate: gate}, nil
}

// Sweep deletes the enrollment links and sessions that expired before now,
// and the WebAuthn ceremonies kept in the database (ceremony.DB); run it
// periodically. ceremony.Memory drops expired ceremonies itself, Redis
// expires them by TTL.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	return s.store.DeleteExpiredCeremonies(ctx, s.cfg.Now().UTC())
}

func isOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}
