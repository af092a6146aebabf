package txsign

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/language"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign/verify"
)

// Store is the part of store.Store the operation and approval services use.
type Store interface {
	GetUser(ctx context.Context, id string) (store.User, error)
	CreateOperationWith(ctx context.Context, o *store.Operation, also store.Alongside) error
	GetOperation(ctx context.Context, id string) (store.Operation, error)
	GetOperationWithCredential(ctx context.Context, opID, credID string) (store.Operation, store.Credential, error)
	GetOperationByIdempotencyKey(ctx context.Context, key string) (store.Operation, error)
	ListOperations(ctx context.Context, f store.OperationFilter) ([]store.Operation, error)
	UpdateOperationFrom(ctx context.Context, cur store.Operation, fn func(*store.Operation) error) (store.Operation, error)
	UpdateOperationWith(ctx context.Context, cur store.Operation, also store.Alongside, fn func(*store.Operation) error) (store.Operation, error)
	GetCredential(ctx context.Context, id string) (store.Credential, error)
	UpdateCredentialFrom(ctx context.Context, cur store.Credential, fn func(*store.Credential) error) (store.Credential, error)
}

// Replay records minted token ids and consumes them (txsign/replay.Store
// satisfies it).
type Replay interface {
	Record(ctx context.Context, jti string, ttl time.Duration) error
	Consume(ctx context.Context, jti string) error
}

// Config configures operations and tokens.
type Config struct {
	Issuer      string
	Audience    string
	TokenTTL    time.Duration
	MaxFailures int    // bad signatures before FAILED (PSD2 RTS Art. 4(3)(a): at most 5)
	PublicURL   string // base of approval_url
	// Capabilities mints and checks operation capabilities; every replica
	// must derive it from the same KEK ring (NewCapabilities). nil: a key of
	// this process only (RandomCapabilities), for tests and tools.
	Capabilities *Capabilities
	// AttestedDeviceKeyTypes are the operation types ("*": all) a device key may approve only
	// when it was registered with a platform attestation (docs/device-keys.md).
	AttestedDeviceKeyTypes []string
	Now                    func() time.Time
}

// Service owns operations and the one approval path every factor uses.
type Service struct {
	store  Store
	audit  *audit.Log
	keys   *Keyring
	replay Replay
	cfg    Config
	caps   *Capabilities

	verifierOnce sync.Once
	verifier     *verify.Verifier
	verifierErr  error

	observers []Observer

	// subjects caches users' external ids (the token's sub), which never
	// change, so minting does not read the user on every approval.
	subjects     sync.Map // user id → external id
	subjectCount atomic.Int64
}

// Observer hears about operations: once when one is created (PENDING) and once
// when it reaches a terminal status. Observers run synchronously after the
// change is stored; they must be quick and must not fail the request (push
// notifications, webhook outbox, long-poll wake-ups). Webhook delivery that
// must survive a crash reconciles from the store, not from this call alone.
type Observer interface {
	OperationChanged(ctx context.Context, op store.Operation)
}

// Observe registers an observer. Call before serving.
func (s *Service) Observe(o Observer) { s.observers = append(s.observers, o) }

func (s *Service) notify(ctx context.Context, op store.Operation) {
	for _, o := range s.observers {
		o.OperationChanged(ctx, op)
	}
}

// NewService returns the operation service.
func NewService(s Store, a *audit.Log, keys *Keyring, r Replay, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 5
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 120 * time.Second
	}
	caps := cfg.Capabilities
	if caps == nil {
		caps = RandomCapabilities()
	}
	return &Service{store: s, audit: a, keys: keys, replay: r, cfg: cfg, caps: caps}
}

// Operation limits.
const (
	MinExpiry     = 30 * time.Second
	MaxExpiry     = time.Hour
	DefaultExpiry = 5 * time.Minute
)

var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// NewOperation is what the bank backend asks for.
type NewOperation struct {
	UserID         string
	Type           string
	PayeeAccount   string
	PayeeName      string
	Amount         string
	Currency       string
	Text           string
	ExpiresIn      time.Duration // 0: DefaultExpiry
	Factors        []string      // acceptable credential kinds; empty: any
	CallbackURL    string
	IdempotencyKey string
	// Locale is the customer's language for the approval page (BCP 47, e.g.
	// "de-AT"); display only, not part of the dynamic-linking inputs.
	Locale string
}

// canonical validates n and returns it canonicalised (amount in minor units,
// account normalised, names NFC), reporting every problem at once.
func (n NewOperation) canonical() (NewOperation, error) {
	var c fault.Collector
	c.Check(n.UserID != "", "user_id", "is required")
	if n.UserID != "" {
		if !store.ValidID(n.UserID) {
			c.Add("user_id", "is not a valid identifier")
		}
	}
	if !typePattern.MatchString(n.Type) {
		c.Add("type", "must be 1-64 characters of a-z, 0-9, '_', '.', '-' starting with a letter (e.g. payment, login)")
	}
	needsPayee := n.Type != "login"
	if n.PayeeAccount != "" || needsPayee {
		acct, err := NormalizeAccount(n.PayeeAccount)
		mergeValidation(&c, "payee.account", err)
		n.PayeeAccount = acct
		name, err := CanonicalPayeeName(n.PayeeName)
		mergeValidation(&c, "payee.name", err)
		n.PayeeName = name
	}
	if n.Amount != "" || n.Currency != "" || n.Type == "payment" {
		amt, err := CanonicalAmount(n.Amount, n.Currency)
		mergeValidation(&c, "amount", err)
		n.Amount = amt
	}
	if n.Text != "" {
		t, err := canonicalText(n.Text, "text", 500)
		mergeValidation(&c, "text", err)
		n.Text = t
	}
	if n.ExpiresIn == 0 {
		n.ExpiresIn = DefaultExpiry
	}
	c.Check(n.ExpiresIn >= MinExpiry && n.ExpiresIn <= MaxExpiry, "expires_in", "must be between 30 and 3600 seconds")
	for _, f := range n.Factors {
		c.Check(store.CredentialKind(f).Valid(), "factors", "%q is not one of passkey, powerauth, device_key", f)
	}
	if n.CallbackURL != "" {
		u, err := url.Parse(n.CallbackURL)
		okScheme := err == nil && (u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname())))
		c.Check(okScheme && u.Host != "" && u.User == nil, "callback_url", "must be an https URL (http only for localhost)")
	}
	if n.Locale != "" {
		// BCP 47 (RFC 5646) via golang.org/x/text/language; stored canonical ("de-at" → "de-AT").
		t, err := language.Parse(n.Locale)
		c.Check(err == nil && len(n.Locale) <= 35, "locale", "must be a BCP 47 language tag such as de or cs-CZ")
		if err == nil {
			n.Locale = t.String()
		}
	}
	c.Check(len(n.IdempotencyKey) <= 255, "Idempotency-Key", "must be at most 255 characters")
	return n, c.Err()
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func mergeValidation(c *fault.Collector, field string, err error) {
	var ve *ValidationError
	if errors.As(err, &ve) {
		c.Add(field, "%s", ve.Reason)
		return
	}
	c.Merge(field, err)
}

// Create creates a PENDING operation. With an idempotency key, a repeat of the
// same request returns the first operation (created=false); a different
// request under a used key is a conflict.
func (s *Service) Create(ctx context.Context, actor string, in NewOperation) (store.Operation, bool, error) {
	n, err := in.canonical()
	if err != nil {
		return store.Operation{}, false, err
	}
	if n.IdempotencyKey != "" {
		if op, err := s.store.GetOperationByIdempotencyKey(ctx, n.IdempotencyKey); err == nil {
			return s.sameRequest(ctx, op, n)
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Operation{}, false, err
		}
	}
	now := s.cfg.Now().UTC()
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	op := store.Operation{
		ID: uuid.NewString(), UserID: n.UserID, Type: n.Type, PayeeAccount: n.PayeeAccount, PayeeName: n.PayeeName,
		Amount: n.Amount, Currency: n.Currency, Text: n.Text, Nonce: base64.RawURLEncoding.EncodeToString(nonce),
		Status: store.OpPending, Factors: strings.Join(n.Factors, ","), CallbackURL: n.CallbackURL,
		IdempotencyKey: n.IdempotencyKey, MaxFailedAttempts: s.cfg.MaxFailures,
		// DL carries Unix seconds: expiry is whole seconds so the record and the digest agree.
		ExpiresAt: now.Add(n.ExpiresIn).Truncate(time.Second), CreatedAt: now, UpdatedAt: now,
	}
	if n.Locale != "" {
		op.Data, _ = json.Marshal(operationData{Locale: n.Locale})
	}
	dl := ComputeDL(dlInput(op))
	op.DL = dl[:]
	rec, err := s.audit.Prepare(audit.Event{Type: "operation.create", Outcome: audit.Success, Actor: actor,
		UserID: op.UserID, OperationID: op.ID, Evidence: map[string]any{"dl_inputs": dlInput(op), "dl": EncodeDigest(dl)}})
	if err != nil {
		return store.Operation{}, false, err
	}
	// The operation and its audit event are one write: none exists without the other.
	if err := s.store.CreateOperationWith(ctx, &op, store.Alongside{Audit: rec}); err != nil {
		if errors.Is(err, store.ErrNotFound) { // the foreign key to users: one round trip instead of a lookup first
			return store.Operation{}, false, fault.Invalid("user_id", "no such user")
		}
		if errors.Is(err, store.ErrAlreadyExists) && n.IdempotencyKey != "" { // raced with the same key
			if first, gerr := s.store.GetOperationByIdempotencyKey(ctx, n.IdempotencyKey); gerr == nil {
				return s.sameRequest(ctx, first, n)
			}
		}
		return store.Operation{}, false, err
	}
	s.notify(ctx, op)
	return op, true, nil
}

func (s *Service) sameRequest(ctx context.Context, op store.Operation, n NewOperation) (store.Operation, bool, error) {
	if op.UserID != n.UserID || op.Type != n.Type || op.PayeeAccount != n.PayeeAccount || op.PayeeName != n.PayeeName ||
		op.Amount != n.Amount || op.Currency != n.Currency || op.Text != n.Text || Locale(op) != n.Locale {
		return store.Operation{}, false, fault.New(fault.ErrConflict, "the Idempotency-Key was already used for a different operation")
	}
	op, err := s.expireIfDue(ctx, op)
	return op, false, err
}

// operationData is what an operation created here keeps in store.Operation.Data:
// display hints outside the dynamic-linking inputs.
type operationData struct {
	Locale string `json:"locale,omitempty"`
}

// Locale is the customer's language the bank gave the operation (BCP 47), or "".
func Locale(op store.Operation) string {
	var d operationData
	if len(op.Data) == 0 || json.Unmarshal(op.Data, &d) != nil {
		return ""
	}
	return d.Locale
}

func dlInput(op store.Operation) DLInput {
	return DLInput{ID: op.ID, Type: op.Type, PayeeAccount: op.PayeeAccount, PayeeName: op.PayeeName,
		Amount: op.Amount, Currency: op.Currency, Nonce: op.Nonce, ExpiresAt: op.ExpiresAt}
}

// DLInputs returns the dynamic-linking inputs of a stored operation.
func DLInputs(op store.Operation) DLInput { return dlInput(op) }

// Get returns an operation, applying expiry on read.
func (s *Service) Get(ctx context.Context, id string) (store.Operation, error) {
	if !store.ValidID(id) {
		return store.Operation{}, fault.Invalid("id", "is not a valid identifier")
	}
	op, err := s.store.GetOperation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Operation{}, errNoOperation
	}
	if err != nil {
		return store.Operation{}, err
	}
	return s.expireIfDue(ctx, op)
}

// errNoOperation answers a request naming an operation that does not exist. It is not
// audited (there is nothing for the record to be evidence about); the server counts it.
var errNoOperation = audit.Unrecorded(audit.UnknownOperation, fault.New(fault.ErrNotFound, "operation"))

// ExpireIfDue applies expiry to an operation read elsewhere (as Get does on
// its own read): a PENDING one past its expiry is EXPIRED, stored and audited.
func (s *Service) ExpireIfDue(ctx context.Context, op store.Operation) (store.Operation, error) {
	return s.expireIfDue(ctx, op)
}

// getWithCredential is Get that also reads credential credID in the same
// round trip when credID is well formed; an unknown or malformed one comes
// back as a zero Credential.
func (s *Service) getWithCredential(ctx context.Context, id, credID string) (store.Operation, store.Credential, error) {
	if !store.ValidID(credID) {
		op, err := s.Get(ctx, id)
		return op, store.Credential{}, err
	}
	if !store.ValidID(id) {
		return store.Operation{}, store.Credential{}, fault.Invalid("id", "is not a valid identifier")
	}
	op, cred, err := s.store.GetOperationWithCredential(ctx, id, credID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Operation{}, store.Credential{}, errNoOperation
	}
	if err != nil {
		return store.Operation{}, store.Credential{}, err
	}
	op, err = s.expireIfDue(ctx, op)
	return op, cred, err
}

// List lists operations of a user, optionally by status.
func (s *Service) List(ctx context.Context, userID, status string) ([]store.Operation, error) {
	var c fault.Collector
	if !store.ValidID(userID) {
		c.Add("user_id", "is required and must be a valid identifier")
	}
	c.Check(status == "" || store.OperationStatus(status).Valid(), "status", "must be one of PENDING, APPROVED, REJECTED, CANCELED, EXPIRED, FAILED")
	if err := c.Err(); err != nil {
		return nil, err
	}
	// Expiry on read, for this user's operations only (the sweeper does the rest).
	if _, err := s.expireDue(ctx, userID); err != nil {
		return nil, err
	}
	return s.store.ListOperations(ctx, store.OperationFilter{UserID: userID, Status: store.OperationStatus(status)})
}

// Recent lists the latest limit operations of a user, of every status, newest first (a mobile app's history).
func (s *Service) Recent(ctx context.Context, userID string, limit int) ([]store.Operation, error) {
	if !store.ValidID(userID) {
		return nil, fault.Invalid("user_id", "is required and must be a valid identifier")
	}
	if _, err := s.expireDue(ctx, userID); err != nil {
		return nil, err
	}
	return s.store.ListOperations(ctx, store.OperationFilter{UserID: userID, Limit: limit, Newest: true})
}

// Cancel cancels a PENDING operation.
func (s *Service) Cancel(ctx context.Context, actor, id string) (store.Operation, error) {
	op, err := s.Get(ctx, id)
	if err != nil {
		return op, err
	}
	// The cancellation and its audit record are one transaction: a cancellation that could not be audited
	// did not happen (503), and the bank's retry can make it, instead of finding it CANCELED (409).
	ev := audit.Event{Type: "operation.cancel", Outcome: audit.Success, Actor: actor, UserID: op.UserID, OperationID: id}
	rec, err := s.audit.Prepare(ev)
	if err != nil {
		return op, err
	}
	op, err = s.store.UpdateOperationWith(ctx, op, store.Alongside{Audit: rec}, func(o *store.Operation) error {
		if o.Status != store.OpPending {
			return stateError(*o)
		}
		o.Status = store.OpCanceled
		o.UpdatedAt = s.cfg.Now().UTC()
		return nil
	})
	if err != nil {
		// A refusal keeps its own answer whatever happens to its audit record.
		ev.Outcome, ev.Reason = audit.Failure, err.Error()
		_ = s.audit.Record(ctx, ev)
		return op, err
	}
	s.notify(ctx, op)
	return op, nil
}

// stateError explains why an operation cannot change: 410 for expired, 409
// otherwise.
func stateError(op store.Operation) error {
	if op.Status == store.OpExpired {
		return fault.New(fault.ErrGone, "the operation expired")
	}
	return fault.New(fault.ErrConflict, "the operation is %s", op.Status)
}

// expireIfDue moves a PENDING operation past its expiry to EXPIRED.
func (s *Service) expireIfDue(ctx context.Context, op store.Operation) (store.Operation, error) {
	if op.Status != store.OpPending || s.cfg.Now().Before(op.ExpiresAt) {
		return op, nil
	}
	updated, err := s.store.UpdateOperationFrom(ctx, op, func(o *store.Operation) error {
		if o.Status != store.OpPending {
			return errUnchanged
		}
		o.Status = store.OpExpired
		o.UpdatedAt = s.cfg.Now().UTC()
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return s.store.GetOperation(ctx, op.ID)
	}
	if err != nil {
		return op, err
	}
	_ = s.audit.Record(ctx, audit.Event{Type: "operation.expire", Outcome: audit.Success, Actor: "system",
		UserID: op.UserID, OperationID: op.ID})
	s.notify(ctx, updated)
	return updated, nil
}

var errUnchanged = errors.New("unchanged")

// ExpireDue expires every PENDING operation past its expiry (the sweeper).
func (s *Service) ExpireDue(ctx context.Context) (int, error) { return s.expireDue(ctx, "") }

// expireDue expires PENDING operations past their expiry, of one user or ("")
// of everyone.
func (s *Service) expireDue(ctx context.Context, userID string) (int, error) {
	ops, err := s.store.ListOperations(ctx, store.OperationFilter{UserID: userID, Status: store.OpPending,
		ExpiresBefore: s.cfg.Now(), Limit: 500})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, op := range ops {
		updated, err := s.expireIfDue(ctx, op)
		if err != nil {
			return n, err
		}
		if updated.Status == store.OpExpired {
			n++
		}
	}
	return n, nil
}

// FactorAllowed reports whether credentials of kind may approve op.
func FactorAllowed(op store.Operation, kind store.CredentialKind) bool {
	return op.Factors == "" || slices.Contains(strings.Split(op.Factors, ","), string(kind))
}

// TokenIfValid returns the operation's token while it is still valid.
func (s *Service) TokenIfValid(op store.Operation) (string, *time.Time) {
	if op.Status == store.OpApproved && op.Token != "" && op.TokenExpiresAt != nil && s.cfg.Now().Before(*op.TokenExpiresAt) {
		return op.Token, op.TokenExpiresAt
	}
	return "", nil
}

// ApprovalURL is where the user approves op in a browser. The capability is
// in the fragment, which browsers never send (RFC 3986 §3.5): it reaches
// neither an access log nor a Referer header; the page's script reads it and
// sends it with each browser API call.
func (s *Service) ApprovalURL(op store.Operation) string {
	return s.cfg.PublicURL + "/web/approve/" + op.ID + "#c=" + s.Capability(op.ID)
}
