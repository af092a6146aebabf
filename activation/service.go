package activation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// Store is the part of store.Store this package uses.
type Store interface {
	CreateApplication(ctx context.Context, a *store.Application) error
	GetApplication(ctx context.Context, id string) (store.Application, error)
	GetApplicationByKey(ctx context.Context, appKey string) (store.Application, error)
	GetCredentialWithApplication(ctx context.Context, credID, appKey string) (store.Credential, store.Application, error)
	ListApplications(ctx context.Context) ([]store.Application, error)
	UpdateApplication(ctx context.Context, id string, fn func(*store.Application) error) (store.Application, error)

	CreateRecoveryCode(ctx context.Context, r *store.RecoveryCode) error
	GetRecoveryCode(ctx context.Context, id string) (store.RecoveryCode, error)
	GetRecoveryCodeByLookupKey(ctx context.Context, applicationID, key string) (store.RecoveryCode, error)
	ListRecoveryCodes(ctx context.Context, f store.RecoveryCodeFilter) ([]store.RecoveryCode, error)
	UpdateRecoveryCode(ctx context.Context, id string, fn func(*store.RecoveryCode) error) (store.RecoveryCode, error)

	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByExternalID(ctx context.Context, externalID string) (store.User, error)
	CreateCredential(ctx context.Context, c *store.Credential) error
	GetCredential(ctx context.Context, id string) (store.Credential, error)
	GetCredentialByLookupKey(ctx context.Context, kind store.CredentialKind, key string) (store.Credential, error)
	ListCredentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error)
	UpdateCredential(ctx context.Context, id string, fn func(*store.Credential) error) (store.Credential, error)

	CreateCeremony(ctx context.Context, c *store.Ceremony) error
	GetCeremony(ctx context.Context, id string) (store.Ceremony, error)
	UpdateCeremony(ctx context.Context, id string, fn func(*store.Ceremony) error) (store.Ceremony, error)

	PutPushToken(ctx context.Context, t *store.PushToken) error
}

// Sealer encrypts secrets at rest (kek.Ring): master and server private keys, pending activation codes,
// OTP hashes, token secrets and temporary keys.
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// Replay remembers ECIES requests and MAC-token nonces across replicas (txsign/replay.Store satisfies it):
// Record returns replay.ErrExists for a key recorded before and still alive.
type Replay interface {
	Record(ctx context.Context, key string, ttl time.Duration) error
}

// Operations is the part of the operation service mobile-token and offline approvals go through;
// *txsign.Service satisfies it. Decide is the one exactly-once approval path: it mints the token.
type Operations interface {
	Get(ctx context.Context, id string) (store.Operation, error)
	List(ctx context.Context, userID, status string) ([]store.Operation, error)
	// Recent lists a user's latest operations of every status, newest first.
	Recent(ctx context.Context, userID string, limit int) ([]store.Operation, error)
	Decide(ctx context.Context, a txsign.Attempt) (txsign.Result, error)
	// Claim binds a PENDING operation of cred's user to cred (txsign.Service.Claim).
	Claim(ctx context.Context, id string, cred store.Credential) (store.Operation, error)
}

// Defaults (PowerAuth 3.x server defaults where PowerAuth has one).
const (
	DefaultActivationTTL     = 5 * time.Minute
	DefaultMaxFailedAttempts = 5
	DefaultLookahead         = 20
	DefaultEciesWindow       = 60 * time.Second
	DefaultTokenWindow       = 5 * time.Minute
	DefaultTokenTTL          = 30 * 24 * time.Hour
	DefaultTemporaryKeyTTL   = 5 * time.Minute

	MinActivationTTL = 30 * time.Second
	MaxActivationTTL = 7 * 24 * time.Hour
	// MaxFailedAttemptsLimit: PSD2 RTS Art. 4(3)(a) allows at most five consecutive failed attempts.
	MaxFailedAttemptsLimit = 5
)

// Config configures the activation service.
type Config struct {
	// ActivationTTL is how long a new activation stays CREATED or PENDING_COMMIT (default 5 minutes).
	ActivationTTL time.Duration
	// MaxFailedAttempts is the default limit of an activation (default 5).
	MaxFailedAttempts int
	// Lookahead is the signature counter window (default 20, at most 64: the SDKs refuse more).
	Lookahead int
	// EciesWindow bounds |now - timestamp| of ECIES requests and temporary-key JWTs (default 60 s).
	EciesWindow time.Duration
	// TokenWindow bounds |now - timestamp| of X-PowerAuth-Token headers (default 5 minutes).
	TokenWindow time.Duration
	// TokenTTL is the lifetime of a MAC token (default 30 days).
	TokenTTL time.Duration
	// TemporaryKeyTTL is the lifetime of a 3.3 temporary ECIES key (default 5 minutes).
	TemporaryKeyTTL time.Duration
	// RecoveryMaxFailedAttempts is the number of wrong PUKs after which a recovery code is BLOCKED
	// (default 10, Wultra's default).
	RecoveryMaxFailedAttempts int
	// CustomCredentials verifies the identity attributes of a CUSTOM activation; nil refuses them.
	CustomCredentials CredentialVerifier
	Now               func() time.Time
}

// Service owns PowerAuth applications and activations.
type Service struct {
	store  Store
	ops    Operations
	audit  *audit.Log
	sealer Sealer
	replay Replay
	cfg    Config
}

// New validates cfg and returns the service. ops may be nil when no operation service is wired (the
// mobile-token and offline methods then fail).
func New(st Store, ops Operations, a *audit.Log, sealer Sealer, rp Replay, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.ActivationTTL, DefaultActivationTTL)
	def(&cfg.EciesWindow, DefaultEciesWindow)
	def(&cfg.TokenWindow, DefaultTokenWindow)
	def(&cfg.TokenTTL, DefaultTokenTTL)
	def(&cfg.TemporaryKeyTTL, DefaultTemporaryKeyTTL)
	if cfg.MaxFailedAttempts == 0 {
		cfg.MaxFailedAttempts = DefaultMaxFailedAttempts
	}
	if cfg.Lookahead == 0 {
		cfg.Lookahead = DefaultLookahead
	}
	if cfg.RecoveryMaxFailedAttempts == 0 {
		cfg.RecoveryMaxFailedAttempts = DefaultRecoveryMaxFailedAttempts
	}
	var errs []error
	if cfg.ActivationTTL < MinActivationTTL || cfg.ActivationTTL > MaxActivationTTL {
		errs = append(errs, fmt.Errorf("activation TTL must be between %v and %v", MinActivationTTL, MaxActivationTTL))
	}
	if cfg.MaxFailedAttempts < 1 || cfg.MaxFailedAttempts > MaxFailedAttemptsLimit {
		errs = append(errs, fmt.Errorf("max failed attempts must be between 1 and %d", MaxFailedAttemptsLimit))
	}
	if cfg.RecoveryMaxFailedAttempts < 1 || cfg.RecoveryMaxFailedAttempts > 100 {
		errs = append(errs, errors.New("recovery max failed attempts must be between 1 and 100"))
	}
	if cfg.Lookahead < 1 || cfg.Lookahead > 64 {
		errs = append(errs, errors.New("counter look-ahead must be between 1 and 64"))
	}
	for name, d := range map[string]time.Duration{"ECIES window": cfg.EciesWindow, "token window": cfg.TokenWindow,
		"token TTL": cfg.TokenTTL, "temporary key TTL": cfg.TemporaryKeyTTL} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if st == nil || a == nil || sealer == nil || rp == nil {
		errs = append(errs, errors.New("store, audit log, sealer and replay store are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("activation: %w", err)
	}
	return &Service{store: st, ops: ops, audit: a, sealer: sealer, replay: rp, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// ErrEncryption is returned when an ECIES envelope or a temporary-key JWT is refused: bad MAC or padding,
// a timestamp outside the window, a replayed ephemeral key and nonce, an unknown or expired temporary key.
// It renders as PowerAuth's ERR_ENCRYPTION (or the endpoint's own code); the cause goes to the audit log.
var ErrEncryption = errors.New("powerauth: encryption error")

// errUnchanged aborts an updater closure without writing.
var errUnchanged = errors.New("unchanged")
