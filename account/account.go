// Package account manages users and the one list of their credentials of
// every kind: create users idempotently, list credentials, and block, unblock
// or remove any credential with the same calls. Every change is audited.
package account

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// Store is the part of store.Store this service uses.
type Store interface {
	CreateUser(ctx context.Context, u *store.User) error
	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByExternalID(ctx context.Context, externalID string) (store.User, error)
	UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error)
	GetCredential(ctx context.Context, id string) (store.Credential, error)
	ListCredentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error)
	UpdateCredential(ctx context.Context, id string, fn func(*store.Credential) error) (store.Credential, error)
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, string, error)
}

// Service is the account service.
type Service struct {
	store Store
	audit *audit.Log
	now   func() time.Time
}

// New returns a Service. now may be nil.
func New(s Store, a *audit.Log, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, audit: a, now: now}
}

// NewUser is the input of CreateUser.
type NewUser struct {
	ExternalID  string
	DisplayName string
}

// Validate reports every problem at once.
func (n NewUser) Validate() error {
	var c fault.Collector
	c.Check(n.ExternalID != "", "external_id", "is required")
	c.Check(utf8.RuneCountInString(n.ExternalID) <= 128, "external_id", "must be at most 128 characters")
	c.Check(!hasControl(n.ExternalID), "external_id", "must not contain control characters")
	c.Check(utf8.RuneCountInString(n.DisplayName) <= 200, "display_name", "must be at most 200 characters")
	c.Check(!hasControl(n.DisplayName), "display_name", "must not contain control characters")
	return c.Err()
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0 || !utf8.ValidString(s)
}

// CreateUser creates a user, or returns the existing one with the same
// external id (created=false): the call is idempotent.
func (s *Service) CreateUser(ctx context.Context, actor string, n NewUser) (store.User, bool, error) {
	if err := n.Validate(); err != nil {
		return store.User{}, false, err
	}
	if u, err := s.store.GetUserByExternalID(ctx, n.ExternalID); err == nil {
		return u, false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, false, err
	}
	now := s.now().UTC()
	u := store.User{ID: uuid.NewString(), ExternalID: n.ExternalID, DisplayName: n.DisplayName,
		WebAuthnID: randomHandle(), CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateUser(ctx, &u); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) { // lost a race with the same external id
			existing, gerr := s.store.GetUserByExternalID(ctx, n.ExternalID)
			return existing, false, gerr
		}
		return store.User{}, false, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "user.create", Outcome: audit.Success, Actor: actor, UserID: u.ID}); err != nil {
		return store.User{}, false, err
	}
	created, err := s.store.GetUser(ctx, u.ID)
	return created, true, err
}

// GetUser returns a user by id.
func (s *Service) GetUser(ctx context.Context, id string) (store.User, error) {
	if err := validID("id", id); err != nil {
		return store.User{}, err
	}
	u, err := s.store.GetUser(ctx, id)
	return u, notFound(err, "user")
}

// FindUser returns a user by the bank's external id.
func (s *Service) FindUser(ctx context.Context, externalID string) (store.User, error) {
	if externalID == "" {
		return store.User{}, fault.Invalid("external_id", "is required")
	}
	u, err := s.store.GetUserByExternalID(ctx, externalID)
	return u, notFound(err, "user")
}

// Credentials lists a user's credentials of every kind.
func (s *Service) Credentials(ctx context.Context, userID string) ([]store.Credential, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	return s.store.ListCredentials(ctx, store.CredentialFilter{UserID: userID})
}

// Block blocks any credential, whatever its kind.
func (s *Service) Block(ctx context.Context, actor, id string, reason store.BlockReason) (store.Credential, error) {
	if !reason.Valid() || reason == store.ReasonMaxFailedAttempts || reason == store.ReasonCloneSuspected {
		names := []string{}
		for _, r := range store.BlockReasons() {
			if r != store.ReasonMaxFailedAttempts && r != store.ReasonCloneSuspected {
				names = append(names, string(r))
			}
		}
		return store.Credential{}, fault.Invalid("reason", "must be one of %s", strings.Join(names, ", "))
	}
	return s.transition(ctx, actor, id, "credential.block", store.StatusBlocked, reason)
}

// Unblock returns a BLOCKED credential to ACTIVE and resets its failures.
func (s *Service) Unblock(ctx context.Context, actor, id string) (store.Credential, error) {
	return s.transition(ctx, actor, id, "credential.unblock", store.StatusActive, store.ReasonNone)
}

// Remove moves a credential to the terminal REMOVED state.
func (s *Service) Remove(ctx context.Context, actor, id string) (store.Credential, error) {
	return s.transition(ctx, actor, id, "credential.remove", store.StatusRemoved, store.ReasonNone)
}

func (s *Service) transition(ctx context.Context, actor, id, event string, to store.Status, reason store.BlockReason) (store.Credential, error) {
	if err := validID("id", id); err != nil {
		return store.Credential{}, err
	}
	var from store.Status
	c, err := s.store.UpdateCredential(ctx, id, func(c *store.Credential) error {
		from = c.Status
		if to == store.StatusActive && c.Status != store.StatusBlocked {
			return fault.New(fault.ErrConflict, "credential is %s, only a BLOCKED credential can be unblocked", c.Status)
		}
		if err := c.Transition(to, reason, s.now().UTC()); err != nil {
			return fault.New(fault.ErrConflict, "credential is %s and cannot become %s", c.Status, to)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Credential{}, notFound(err, "credential")
		}
		if errors.Is(err, fault.ErrConflict) {
			cur, _ := s.store.GetCredential(ctx, id)
			_ = s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Failure, Reason: "invalid transition",
				Actor: actor, UserID: cur.UserID, CredentialID: id, Evidence: map[string]any{"from": from, "to": to}})
		}
		return store.Credential{}, err
	}
	err = s.audit.Record(ctx, audit.Event{Type: event, Outcome: audit.Success, Reason: string(reason), Actor: actor,
		UserID: c.UserID, CredentialID: c.ID, Evidence: map[string]any{"from": from, "to": to, "kind": c.Kind}})
	return c, err
}

// AuditQuery is the input of Audit.
type AuditQuery struct {
	UserID, OperationID, CredentialID string
	Since, Until                      time.Time
	Cursor                            string
	Limit                             int
}

// Audit lists audit events, paginated.
func (s *Service) Audit(ctx context.Context, q AuditQuery) ([]store.AuditEvent, string, error) {
	var c fault.Collector
	for field, v := range map[string]string{"user_id": q.UserID, "operation_id": q.OperationID, "credential_id": q.CredentialID} {
		if v != "" {
			c.Merge(field, validID(field, v))
		}
	}
	c.Check(q.Limit >= 0 && q.Limit <= 1000, "limit", "must be between 1 and 1000")
	c.Check(q.Since.IsZero() || q.Until.IsZero() || !q.Until.Before(q.Since), "until", "must not be before since")
	if err := c.Err(); err != nil {
		return nil, "", err
	}
	evs, next, err := s.store.ListAudit(ctx, store.AuditFilter{UserID: q.UserID, OperationID: q.OperationID,
		CredentialID: q.CredentialID, Since: q.Since, Until: q.Until, Cursor: q.Cursor, Limit: q.Limit})
	if errors.Is(err, store.ErrInvalidCursor) {
		return nil, "", fault.Invalid("cursor", "is not a cursor this server issued")
	}
	return evs, next, err
}

// validID checks that id is a well-formed record id.
func validID(field, id string) error {
	if !store.ValidID(id) {
		return fault.Invalid(field, "is not a valid identifier")
	}
	return nil
}

func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fault.New(fault.ErrNotFound, "%s", what)
	}
	return err
}
