package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/fault"
)

// Sentinel errors. Backends wrap nothing else across this boundary: callers
// compare with errors.Is and never see a driver or ORM error type.
var (
	ErrNotFound      = errors.New("store: not found")
	ErrAlreadyExists = errors.New("store: already exists")
	ErrConflict      = errors.New("store: concurrent update conflict")
	// ErrInvalidCursor: a pagination cursor this store did not issue.
	ErrInvalidCursor = errors.New("store: invalid cursor")
	// ErrUnavailable: the database could not be reached or refused to work
	// (connection lost, server shutting down, locked). The outcome of a write
	// is unknown; callers fail closed (503) and may retry. It is a
	// fault.ErrUnavailable (errors.Is), so an outage keeps its kind however a
	// service wraps it.
	ErrUnavailable error = unavailableError{}
)

type unavailableError struct{}

func (unavailableError) Error() string { return "store: database unavailable" }

// Is makes the store's outage the fault kind every route family answers 503 for.
func (unavailableError) Is(target error) bool { return target == fault.ErrUnavailable }

// ValidID reports whether id is a record id in the canonical form the store
// assigns: a UUID written as 36 characters. Callers check untrusted ids with it
// before any lookup.
func ValidID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// Store is the persistence contract. It is declared by the provider (see
// STYLE.md) and enforced by store/storetest against every implementation.
//
// Update* methods are read-modify-write through an updater closure backed by a
// version column: the closure receives a copy of the current record and may
// mutate it; returning an error aborts without writing and that error is
// returned as is. A concurrent writer makes the conditional UPDATE touch zero
// rows; the backend then re-reads and re-applies the closure a bounded number
// of times before returning ErrConflict. Closures must therefore be free of side
// effects other than on the record they receive.
type Store interface {
	// Users. CreateUser returns ErrAlreadyExists for a taken ExternalID.
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByExternalID(ctx context.Context, externalID string) (User, error)
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (User, error)
	// UpdateUserFrom is UpdateUser starting from cur (as UpdateCredentialFrom).
	UpdateUserFrom(ctx context.Context, cur User, fn func(*User) error) (User, error)

	// Credentials, all kinds. LookupKey, when set, is unique per kind across all
	// users (a WebAuthn credential id, an activation code); ErrAlreadyExists.
	CreateCredential(ctx context.Context, c *Credential) error
	GetCredential(ctx context.Context, id string) (Credential, error)
	GetCredentialByLookupKey(ctx context.Context, kind CredentialKind, key string) (Credential, error)
	ListCredentials(ctx context.Context, f CredentialFilter) ([]Credential, error)
	UpdateCredential(ctx context.Context, id string, fn func(*Credential) error) (Credential, error)
	// UpdateCredentialFrom is UpdateCredential starting from cur, a copy the
	// caller has just read: the first compare-and-swap uses cur's Version
	// without reading again; a lost race re-reads and re-applies fn.
	UpdateCredentialFrom(ctx context.Context, cur Credential, fn func(*Credential) error) (Credential, error)

	// Operations. IdempotencyKey, when set, is unique; ErrAlreadyExists.
	CreateOperation(ctx context.Context, o *Operation) error
	// CreateOperationWith is CreateOperation that writes also in the same
	// transaction (an operation is created with its audit event or not at all).
	CreateOperationWith(ctx context.Context, o *Operation, also Alongside) error
	GetOperation(ctx context.Context, id string) (Operation, error)
	// GetOperationWithCredential reads both in one round trip: ErrNotFound
	// when the operation does not exist, a zero Credential (ID "") when the
	// credential does not.
	GetOperationWithCredential(ctx context.Context, opID, credID string) (Operation, Credential, error)
	GetOperationByIdempotencyKey(ctx context.Context, key string) (Operation, error)
	// ReadApproval reads in one statement what a passkey approval starts
	// from: the operation (ErrNotFound when it or its user does not exist),
	// its user and the user's passkeys. With reserve set it also charges the
	// passcode try reserve describes, atomically with the read (the same
	// statement, or transaction).
	ReadApproval(ctx context.Context, opID string, reserve *PasscodeReservation) (Approval, error)
	ListOperations(ctx context.Context, f OperationFilter) ([]Operation, error)
	UpdateOperation(ctx context.Context, id string, fn func(*Operation) error) (Operation, error)
	// UpdateOperationFrom is UpdateOperation starting from cur (as
	// UpdateCredentialFrom).
	UpdateOperationFrom(ctx context.Context, cur Operation, fn func(*Operation) error) (Operation, error)
	// UpdateOperationWith is UpdateOperationFrom whose successful swap also
	// writes also, in the same transaction: a decision is committed together
	// with its audit event and the credential's use, or not at all. A lost
	// swap writes none of them before fn is retried.
	UpdateOperationWith(ctx context.Context, cur Operation, also Alongside, fn func(*Operation) error) (Operation, error)

	// Audit log, append-only: there is no update or delete. AppendAudit sets
	// Seq. ListAudit returns events in ascending Seq order and a cursor for the
	// next page ("" when there is none).
	AppendAudit(ctx context.Context, e *AuditEvent) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, string, error)

	// Signing keys for transaction tokens (private key encrypted by the caller).
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	UpdateSigningKey(ctx context.Context, id string, fn func(*SigningKey) error) (SigningKey, error)

	// Ceremony state: enrollment links, registration codes, WebAuthn sessions.
	// ConsumeCeremony atomically marks a ceremony used and returns it; a second
	// call, an unknown id or an expired ceremony gives ErrNotFound.
	CreateCeremony(ctx context.Context, c *Ceremony) error
	GetCeremony(ctx context.Context, id string) (Ceremony, error)
	GetCeremonyByLookupKey(ctx context.Context, kind, key string) (Ceremony, error)
	UpdateCeremony(ctx context.Context, id string, fn func(*Ceremony) error) (Ceremony, error)
	ConsumeCeremony(ctx context.Context, id string, now time.Time) (Ceremony, error)
	DeleteExpiredCeremonies(ctx context.Context, before time.Time) (int64, error)

	// PowerAuth applications. AppKey is unique (ErrAlreadyExists); the master
	// private key is encrypted by the caller.
	CreateApplication(ctx context.Context, a *Application) error
	GetApplication(ctx context.Context, id string) (Application, error)
	GetApplicationByKey(ctx context.Context, appKey string) (Application, error)
	// GetCredentialWithApplication reads a credential and the application
	// with appKey in one round trip (a PowerAuth signed request names both):
	// ErrNotFound when the credential does not exist, a zero Application (ID
	// "") when no application has appKey.
	GetCredentialWithApplication(ctx context.Context, credID, appKey string) (Credential, Application, error)
	ListApplications(ctx context.Context) ([]Application, error)
	UpdateApplication(ctx context.Context, id string, fn func(*Application) error) (Application, error)

	// PowerAuth recovery codes. (ApplicationID, LookupKey) is unique
	// (ErrAlreadyExists); PUK hashes are sealed by the caller.
	CreateRecoveryCode(ctx context.Context, r *RecoveryCode) error
	GetRecoveryCode(ctx context.Context, id string) (RecoveryCode, error)
	GetRecoveryCodeByLookupKey(ctx context.Context, applicationID, key string) (RecoveryCode, error)
	// ListRecoveryCodes returns the codes f selects (at least one of UserID and
	// ActivationID must be set), oldest first.
	ListRecoveryCodes(ctx context.Context, f RecoveryCodeFilter) ([]RecoveryCode, error)
	UpdateRecoveryCode(ctx context.Context, id string, fn func(*RecoveryCode) error) (RecoveryCode, error)

	// Webhook outbox. ClaimOutbox leases up to limit due, undelivered events
	// (NextAttemptAt <= now) by pushing their NextAttemptAt to now+lease, so two
	// replicas never deliver the same event at the same time.
	EnqueueOutbox(ctx context.Context, e *OutboxEvent) error
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxEvent, error)
	UpdateOutbox(ctx context.Context, id string, fn func(*OutboxEvent) error) (OutboxEvent, error)
	// PruneOutbox deletes up to limit (at most 1000) events created before
	// `before` that are finished: delivered, or parked (NextAttemptAt after
	// parkedAfter: the worker parks an event it gives up on). Events still
	// being retried stay. It reports how many it deleted, oldest first.
	PruneOutbox(ctx context.Context, before, parkedAfter time.Time, limit int) (int64, error)

	// Push tokens, one per credential (a PowerAuth activation's FCM or APNs
	// token). PutPushToken creates or replaces it (ErrNotFound when the
	// credential does not exist); a credential moving to REMOVED loses its token
	// in the same transaction. ListPushTokens returns the tokens of the user's
	// ACTIVE credentials only.
	PutPushToken(ctx context.Context, t *PushToken) error
	GetPushToken(ctx context.Context, credentialID string) (PushToken, error)
	ListPushTokens(ctx context.Context, userID string) ([]PushToken, error)

	// Inbox messages the bank posts to a user. ListInbox returns newest first;
	// MarkInboxRead stamps ReadAt once (an unknown id, or another user's,
	// gives ErrNotFound) and reports whether it changed anything;
	// MarkAllInboxRead reports how many it stamped.
	CreateInboxMessage(ctx context.Context, m *InboxMessage) error
	GetInboxMessage(ctx context.Context, userID, id string) (InboxMessage, error)
	ListInbox(ctx context.Context, f InboxFilter) ([]InboxMessage, error)
	CountUnreadInbox(ctx context.Context, userID string) (int64, error)
	MarkInboxRead(ctx context.Context, userID, id string, at time.Time) (bool, error)
	MarkAllInboxRead(ctx context.Context, userID string, at time.Time) (int64, error)

	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// PushToken is the platform push token of one credential.
type PushToken struct {
	CredentialID string
	UserID       string
	Platform     string // fcm, apns, hms (the SDKs' android, ios, huawei are stored as these)
	Environment  string // APNs only: development or production; "" = the provider's default
	Token        string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// InboxMessage is one message of a user's inbox.
type InboxMessage struct {
	ID        string
	UserID    string
	Type      string // text or html
	Subject   string
	Summary   string
	Body      string
	ReadAt    *time.Time
	CreatedAt time.Time
}

// InboxFilter selects a page of a user's inbox, newest first.
type InboxFilter struct {
	UserID     string
	OnlyUnread bool
	Offset     int
	Limit      int // 0 = backend default (100)
}

// User is a bank customer, identified by the bank's own ExternalID.
type User struct {
	ID          string
	ExternalID  string
	DisplayName string
	// WebAuthnID is the random user handle given to authenticators (1–64 bytes).
	WebAuthnID []byte
	// Passcode verifier (Argon2id, peppered); nil when no passcode is set.
	PasscodeVerifier []byte
	PasscodeFailed   int
	PasscodeLocked   bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Version          int64
}

// CredentialKind names one of the three ways to sign.
type CredentialKind string

const (
	KindPasskey   CredentialKind = "passkey"
	KindPowerAuth CredentialKind = "powerauth"
	KindDeviceKey CredentialKind = "device_key"
)

// Valid reports whether k is a known kind.
func (k CredentialKind) Valid() bool {
	switch k {
	case KindPasskey, KindPowerAuth, KindDeviceKey:
		return true
	}
	return false
}

// Credential is any credential of any kind, with one lifecycle (lifecycle.go).
type Credential struct {
	ID                string
	UserID            string
	Kind              CredentialKind
	Status            Status
	BlockReason       BlockReason
	FailedAttempts    int
	MaxFailedAttempts int
	Label             string
	// LookupKey is a kind-specific unique handle: the WebAuthn credential id
	// (base64url) or the PowerAuth activation code while it is pending.
	LookupKey string
	// PublicKey is the credential's public key: COSE for passkeys, PKIX DER for
	// device keys and PowerAuth device keys.
	PublicKey []byte
	// Counter is the signature counter (WebAuthn sign count, PowerAuth CTR).
	Counter int64
	// Device holds device metadata (platform, model, OS and app version) as JSON.
	Device []byte
	// Data holds kind-specific public state as JSON.
	Data []byte
	// Secret holds kind-specific secrets, encrypted by the caller under the KEK.
	Secret []byte

	CreatedAt   time.Time
	ActivatedAt *time.Time
	LastUsedAt  *time.Time
	RemovedAt   *time.Time
	ExpiresAt   *time.Time
	Version     int64
}

// CredentialFilter selects credentials; zero fields do not filter.
type CredentialFilter struct {
	UserID string
	Kind   CredentialKind
	Status Status
}

// OperationStatus is the state of an operation.
type OperationStatus string

const (
	OpPending  OperationStatus = "PENDING"
	OpApproved OperationStatus = "APPROVED"
	OpRejected OperationStatus = "REJECTED"
	OpCanceled OperationStatus = "CANCELED"
	OpExpired  OperationStatus = "EXPIRED"
	OpFailed   OperationStatus = "FAILED"
)

// Valid reports whether s is a known operation status.
func (s OperationStatus) Valid() bool {
	switch s {
	case OpPending, OpApproved, OpRejected, OpCanceled, OpExpired, OpFailed:
		return true
	}
	return false
}

// Terminal reports whether no further transition is possible.
func (s OperationStatus) Terminal() bool { return s != OpPending && s.Valid() }

// Operation is what a user approves: a payment, a login, a beneficiary change.
type Operation struct {
	ID                string
	UserID            string
	Type              string
	PayeeAccount      string
	PayeeName         string
	Amount            string // canonical decimal string in the currency's minor units
	Currency          string
	Text              string
	Nonce             string // base64url, no padding
	DL                []byte // dynamic-linking digest, 32 bytes
	Status            OperationStatus
	Factors           string // comma-separated acceptable credential kinds; "" = any
	CallbackURL       string
	IdempotencyKey    string
	FailedAttempts    int
	MaxFailedAttempts int
	// Data holds extra JSON (e.g. PowerAuth operation data, return URLs).
	Data []byte

	ApprovedCredentialID string
	ApprovedAt           *time.Time
	// Token and its id while it is readable again by the bank.
	TokenJTI       string
	Token          string
	TokenExpiresAt *time.Time

	ExpiresAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// OperationFilter selects operations; zero fields do not filter.
type OperationFilter struct {
	UserID string
	Status OperationStatus
	// ExpiresBefore, when set, selects operations expiring before it.
	ExpiresBefore time.Time
	Limit         int // 0 = backend default (100)
	// Newest orders by creation time descending (default: ascending), so that Limit keeps the latest.
	Newest bool
}

// AuditEvent is one append-only audit record.
type AuditEvent struct {
	Seq          int64 // assigned by AppendAudit, strictly increasing
	ID           string
	Time         time.Time
	Type         string // e.g. "operation.approve", "credential.block"
	Outcome      string // "success", "failure" or "unverified" (audit package)
	Reason       string
	Actor        string // API key name, "device", "browser", "system"
	UserID       string
	OperationID  string
	CredentialID string
	// Evidence is JSON with what is needed to re-verify the event later.
	Evidence []byte
}

// AuditFilter selects audit events; zero fields do not filter.
type AuditFilter struct {
	UserID       string
	OperationID  string
	CredentialID string
	Since        time.Time
	Until        time.Time
	Cursor       string
	Limit        int // 0 = backend default (100), capped at 1000
}

// SigningKeyState is the rotation state of a token signing key.
type SigningKeyState string

const (
	KeyNext    SigningKeyState = "next"
	KeyActive  SigningKeyState = "active"
	KeyRetired SigningKeyState = "retired"
)

// SigningKey is an ES256 transaction-token key.
type SigningKey struct {
	ID          string // kid: RFC 7638 thumbprint
	State       SigningKeyState
	Algorithm   string
	PublicKey   []byte // PKIX DER
	PrivateKey  []byte // encrypted by the caller (AES-256-GCM under the KEK)
	CreatedAt   time.Time
	ActivatedAt *time.Time
	RetiredAt   *time.Time
	// PublishUntil: a retired key stays in the JWKS until then.
	PublishUntil *time.Time
	Version      int64
}

// Ceremony is single-use server-side state of a multi-step exchange.
type Ceremony struct {
	ID          string
	Kind        string // "enrollment", "registration_code", "webauthn_login", ...
	LookupKey   string // unique per kind when set (e.g. a hash of a code)
	UserID      string
	OperationID string
	Data        []byte
	Attempts    int
	ExpiresAt   time.Time
	CreatedAt   time.Time
	ConsumedAt  *time.Time
	Version     int64
}

// Application is a PowerAuth application: the mobile app a bank ships, with
// the APPLICATION_KEY and APPLICATION_SECRET built into it and the master key
// pair that signs activation codes and encrypts activation requests.
type Application struct {
	ID        string
	Name      string
	AppKey    string // base64 of 16 random bytes, unique
	AppSecret string // base64 of 16 random bytes (PowerAuth uses its text form)
	// MasterPrivateKey is KEY_SERVER_MASTER_PRIVATE, encrypted by the caller
	// under the KEK; MasterPublicKey is the SEC 1 uncompressed public key.
	MasterPrivateKey []byte
	MasterPublicKey  []byte
	Status           string // "ACTIVE"
	// RecoveryEnabled: activations of this application get a recovery code
	// and PUK (PowerAuth 3.x, Activation via Recovery Code).
	RecoveryEnabled bool
	// PostcardPrivateKey (sealed by the caller) and PostcardPublicKey are the
	// server's recovery postcard key pair; PrinterPublicKey is the printing
	// service's (Recovery-Postcard.md). All nil until postcards are set up.
	PostcardPrivateKey []byte
	PostcardPublicKey  []byte
	PrinterPublicKey   []byte
	CreatedAt          time.Time
	Version            int64
}

// RecoveryCode is a PowerAuth recovery code with its PUKs. The code itself is
// not stored: LookupKey is derived from it by the caller.
type RecoveryCode struct {
	ID            string
	ApplicationID string
	UserID        string
	// ActivationID is the activation the code was issued with; "" for a postcard.
	ActivationID string
	LookupKey    string
	CodeMasked   string // "XXXXX-XXXXX-XXXXX-" and the last group, for display
	Status       string // CREATED, ACTIVE, BLOCKED, REVOKED
	// FailedAttempts counts wrong PUKs since the last right one.
	FailedAttempts    int
	MaxFailedAttempts int
	// PUKs is the public state of each PUK (JSON, owned by the caller); Secret
	// holds their hashes, sealed by the caller.
	PUKs      []byte
	Secret    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// RecoveryCodeFilter selects recovery codes; empty fields match anything.
type RecoveryCodeFilter struct {
	UserID        string
	ActivationID  string
	ApplicationID string
}

// OutboxEvent is a webhook delivery waiting in the database.
type OutboxEvent struct {
	ID            string // stable event id, sent to the receiver
	Endpoint      string
	Type          string
	Payload       []byte
	Attempts      int
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	LastError     string
	CreatedAt     time.Time
	Version       int64
}

// Alongside is what CreateOperationWith and UpdateOperationWith write in the
// transaction of the operation's insert or swap.
type Alongside struct {
	// CredentialUse, when its ID is set, stamps the credential's LastUsedAt
	// and bumps its Version.
	CredentialUse CredentialUse
	// Audit, when set, is appended as by AppendAudit (Seq set on success).
	Audit *AuditEvent
	// PasscodeRight, when set, is the id of the user whose reserved passcode
	// try proved right: the user's failed tries reset to 0 (a lock set
	// meanwhile stays) and its Version is bumped.
	PasscodeRight string
}

// Approval is what a passkey approval starts from (ReadApproval).
type Approval struct {
	Operation Operation
	// User is the operation's user, as the reservation left it when Reserved.
	User User
	// Passkeys are the user's passkeys of every status, oldest first (as
	// ListCredentials).
	Passkeys []Credential
	// Reserved: the passcode try was charged.
	Reserved bool
}

// PasscodeReservation charges one passcode try (User.PasscodeFailed + 1, and
// UpdatedAt, Version) before the passcode is checked, so that concurrent
// attempts together never get more guesses than tries are left (OWASP ASVS
// V2.2.1, PSD2 RTS Art. 4(3)(d)). It is charged only when, as the statement
// finds them, the user has a passcode verifier, is not locked and has failed
// fewer than Max tries, the operation is PENDING, and LookupKey names one of
// the user's passkeys (any status): a request that would be refused before
// its passcode is checked never holds a try.
type PasscodeReservation struct {
	LookupKey string
	Max       int
	At        time.Time // the user's UpdatedAt
}

// CredentialUse is a successful use of a credential.
type CredentialUse struct {
	ID string
	At time.Time
	// ResetFailures sets FailedAttempts to 0 when the credential is still
	// ACTIVE (Credential.RecordSuccess).
	ResetFailures bool
	// Counter, when above the stored signature counter, replaces it (a
	// passkey's signCount, WebAuthn L3 §6.1.1), in the same statement.
	Counter int64
	// Data, when set, replaces the credential's Data under the same condition
	// as Counter, never otherwise: state that belongs to a counter position
	// (PowerAuth's CTR_DATA) is never stored with another position, whichever
	// of two concurrent uses commits first.
	Data []byte
}
