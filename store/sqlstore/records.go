package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/signet-sca/signet/store"
)

// Users.

// CreateUser inserts u, assigning ID (UUIDv4 when empty), CreatedAt and
// UpdatedAt (when zero) and Version 1, and writes the stored form back to u.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	rec := *u
	s.fresh(&rec.ID, &rec.CreatedAt, &rec.Version)
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = rec.CreatedAt
	}
	r := toUserRow(&rec)
	if err := s.insert(ctx, "create user", &r); err != nil {
		return err
	}
	*u = r.record()
	return nil
}

// GetUser returns the user with id, or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	return take[userRow](ctx, s, "get user", "id = ?", id)
}

// GetUserByExternalID returns the user with the bank's externalID.
func (s *Store) GetUserByExternalID(ctx context.Context, externalID string) (store.User, error) {
	if externalID == "" {
		return store.User{}, fmt.Errorf("sqlstore: get user by external id: %w", store.ErrNotFound)
	}
	return take[userRow](ctx, s, "get user by external id", "external_id = ?", externalID)
}

// UpdateUser is a compare-and-swap read-modify-write of user id. ID,
// CreatedAt and Version are the store's; UpdatedAt is stamped unless fn set it.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	return s.updateUser(ctx, id, nil, fn)
}

// UpdateUserFrom is UpdateUser whose first compare-and-swap starts from cur,
// without reading the row again.
func (s *Store) UpdateUserFrom(ctx context.Context, cur store.User, fn func(*store.User) error) (store.User, error) {
	return s.updateUser(ctx, cur.ID, &cur, fn)
}

func (s *Store) updateUser(ctx context.Context, id string, first *store.User, fn func(*store.User) error) (store.User, error) {
	const op = "update user"
	return casLoop(ctx, s, op, first, fn,
		func(ctx context.Context) (store.User, error) { return s.GetUser(ctx, id) },
		func(ctx context.Context, old store.User, next *store.User) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			if next.UpdatedAt.Equal(old.UpdatedAt) {
				next.UpdatedAt = s.now()
			}
			r := toUserRow(next)
			*next = r.record()
			return s.swap(ctx, op, &r, old.ID, old.Version)
		})
}

// Credentials.

// CreateCredential inserts c (ID, CreatedAt and Version assigned as for
// CreateUser). A taken (Kind, LookupKey) gives store.ErrAlreadyExists; an
// unknown UserID gives store.ErrNotFound.
func (s *Store) CreateCredential(ctx context.Context, c *store.Credential) error {
	rec := *c
	s.fresh(&rec.ID, &rec.CreatedAt, &rec.Version)
	r := toCredentialRow(&rec)
	if err := s.insert(ctx, "create credential", &r); err != nil {
		return err
	}
	*c = r.record()
	return nil
}

// GetCredentialByLookupKey returns the credential of kind with key.
func (s *Store) GetCredentialByLookupKey(ctx context.Context, kind store.CredentialKind, key string) (store.Credential, error) {
	if key == "" {
		return store.Credential{}, fmt.Errorf("sqlstore: get credential by lookup key: %w", store.ErrNotFound)
	}
	return take[credentialRow](ctx, s, "get credential by lookup key", "kind = ? AND lookup_key = ?", string(kind), key)
}

// ListCredentials returns the credentials f selects, oldest first.
func (s *Store) ListCredentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error) {
	q := s.db.WithContext(ctx).Model(&credentialRow{})
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", string(f.Kind))
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	return find[credentialRow](ctx, s, "list credentials", q.Order("created_at, id"))
}

// UpdateCredential is a compare-and-swap read-modify-write of credential id.
func (s *Store) UpdateCredential(ctx context.Context, id string, fn func(*store.Credential) error) (store.Credential, error) {
	return s.updateCredential(ctx, id, nil, fn)
}

// UpdateCredentialFrom is UpdateCredential starting from the caller's copy.
func (s *Store) UpdateCredentialFrom(ctx context.Context, cur store.Credential, fn func(*store.Credential) error) (store.Credential, error) {
	return s.updateCredential(ctx, cur.ID, &cur, fn)
}

func (s *Store) updateCredential(ctx context.Context, id string, first *store.Credential, fn func(*store.Credential) error) (store.Credential, error) {
	const op = "update credential"
	return casLoop(ctx, s, op, first, fn,
		func(ctx context.Context) (store.Credential, error) { return s.GetCredential(ctx, id) },
		func(ctx context.Context, old store.Credential, next *store.Credential) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			r := toCredentialRow(next)
			*next = r.record()
			if next.Status != store.StatusRemoved || old.Status == store.StatusRemoved {
				return s.swap(ctx, op, &r, old.ID, old.Version)
			}
			// Removal drops the credential's push token in the same transaction: a removed phone is
			// never pushed to again, whichever path removed it (device, bank, expiry, attempts).
			var n int64
			err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				res := tx.Model(&r).Where("id = ? AND version = ?", old.ID, old.Version).
					Select("*").Omit(insertOnly...).Updates(&r)
				if res.Error != nil || res.RowsAffected != 1 {
					return res.Error
				}
				n = 1
				return deletePushTokenTx(tx, old.ID)
			})
			if err != nil {
				return 0, s.fail(ctx, op, err)
			}
			return n, nil
		})
}

// Operations.

// CreateOperation inserts o (ID, CreatedAt, UpdatedAt and Version assigned as
// for CreateUser). A taken IdempotencyKey gives store.ErrAlreadyExists.
func (s *Store) CreateOperation(ctx context.Context, o *store.Operation) error {
	return s.CreateOperationWith(ctx, o, store.Alongside{})
}

// GetOperationByIdempotencyKey returns the operation created with key.
func (s *Store) GetOperationByIdempotencyKey(ctx context.Context, key string) (store.Operation, error) {
	if key == "" {
		return store.Operation{}, fmt.Errorf("sqlstore: get operation by idempotency key: %w", store.ErrNotFound)
	}
	return take[operationRow](ctx, s, "get operation by idempotency key", "idempotency_key = ?", key)
}

// ListOperations returns up to f.Limit (default 100, at most 1000) operations
// f selects, oldest first. ExpiresBefore selects ExpiresAt < ExpiresBefore.
func (s *Store) ListOperations(ctx context.Context, f store.OperationFilter) ([]store.Operation, error) {
	q := s.db.WithContext(ctx).Model(&operationRow{})
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if !f.ExpiresBefore.IsZero() {
		q = q.Where("expires_at < ?", newTime(f.ExpiresBefore))
	}
	order := "created_at, id"
	if f.Newest {
		order = "created_at DESC, id DESC"
	}
	return find[operationRow](ctx, s, "list operations", q.Order(order).Limit(clampLimit(f.Limit)))
}

// UpdateOperation is a compare-and-swap read-modify-write of operation id;
// UpdatedAt is stamped unless fn set it.
func (s *Store) UpdateOperation(ctx context.Context, id string, fn func(*store.Operation) error) (store.Operation, error) {
	return s.updateOperation(ctx, id, nil, store.Alongside{}, fn)
}

// UpdateOperationFrom is UpdateOperation starting from the caller's copy.
func (s *Store) UpdateOperationFrom(ctx context.Context, cur store.Operation, fn func(*store.Operation) error) (store.Operation, error) {
	return s.updateOperation(ctx, cur.ID, &cur, store.Alongside{}, fn)
}

// Signing keys.

// CreateSigningKey inserts k (CreatedAt and Version assigned; ID should be
// the key's RFC 7638 thumbprint, a UUIDv4 is assigned only when empty).
func (s *Store) CreateSigningKey(ctx context.Context, k *store.SigningKey) error {
	rec := *k
	s.fresh(&rec.ID, &rec.CreatedAt, &rec.Version)
	r := toSigningKeyRow(&rec)
	if err := s.insert(ctx, "create signing key", &r); err != nil {
		return err
	}
	*k = r.record()
	return nil
}

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	q := s.db.WithContext(ctx).Model(&signingKeyRow{}).Order("created_at, id")
	return find[signingKeyRow](ctx, s, "list signing keys", q)
}

// UpdateSigningKey is a compare-and-swap read-modify-write of key id.
func (s *Store) UpdateSigningKey(ctx context.Context, id string, fn func(*store.SigningKey) error) (store.SigningKey, error) {
	const op = "update signing key"
	return casLoop(ctx, s, op, nil, fn,
		func(ctx context.Context) (store.SigningKey, error) {
			return take[signingKeyRow](ctx, s, "get signing key", "id = ?", id)
		},
		func(ctx context.Context, old store.SigningKey, next *store.SigningKey) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			r := toSigningKeyRow(next)
			*next = r.record()
			return s.swap(ctx, op, &r, old.ID, old.Version)
		})
}

// PowerAuth applications.

// CreateApplication inserts a (ID, CreatedAt and Version assigned as for
// CreateSigningKey). A taken AppKey gives store.ErrAlreadyExists.
func (s *Store) CreateApplication(ctx context.Context, a *store.Application) error {
	rec := *a
	s.fresh(&rec.ID, &rec.CreatedAt, &rec.Version)
	r := toApplicationRow(&rec)
	if err := s.insert(ctx, "create application", &r); err != nil {
		return err
	}
	*a = r.record()
	return nil
}

// GetApplication returns the application with id, or store.ErrNotFound.
func (s *Store) GetApplication(ctx context.Context, id string) (store.Application, error) {
	return take[applicationRow](ctx, s, "get application", "id = ?", id)
}

// GetApplicationByKey returns the application with appKey.
func (s *Store) GetApplicationByKey(ctx context.Context, appKey string) (store.Application, error) {
	if appKey == "" {
		return store.Application{}, fmt.Errorf("sqlstore: get application by key: %w", store.ErrNotFound)
	}
	return take[applicationRow](ctx, s, "get application by key", "app_key = ?", appKey)
}

// UpdateApplication is a compare-and-swap read-modify-write of application id.
func (s *Store) UpdateApplication(ctx context.Context, id string, fn func(*store.Application) error) (store.Application, error) {
	const op = "update application"
	return casLoop(ctx, s, op, nil, fn,
		func(ctx context.Context) (store.Application, error) { return s.GetApplication(ctx, id) },
		func(ctx context.Context, old store.Application, next *store.Application) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			r := toApplicationRow(next)
			*next = r.record()
			return s.swap(ctx, op, &r, old.ID, old.Version)
		})
}

// PowerAuth recovery codes.

// CreateRecoveryCode inserts r (ID, CreatedAt and Version assigned as for
// CreateApplication; UpdatedAt = CreatedAt). A taken (ApplicationID,
// LookupKey) gives store.ErrAlreadyExists.
func (s *Store) CreateRecoveryCode(ctx context.Context, r *store.RecoveryCode) error {
	rec := *r
	s.fresh(&rec.ID, &rec.CreatedAt, &rec.Version)
	rec.UpdatedAt = rec.CreatedAt
	row := toRecoveryCodeRow(&rec)
	if err := s.insert(ctx, "create recovery code", &row); err != nil {
		return err
	}
	*r = row.record()
	return nil
}

// GetRecoveryCode returns the recovery code with id, or store.ErrNotFound.
func (s *Store) GetRecoveryCode(ctx context.Context, id string) (store.RecoveryCode, error) {
	return take[recoveryCodeRow](ctx, s, "get recovery code", "id = ?", id)
}

// GetRecoveryCodeByLookupKey returns the application's recovery code with key.
func (s *Store) GetRecoveryCodeByLookupKey(ctx context.Context, applicationID, key string) (store.RecoveryCode, error) {
	if key == "" {
		return store.RecoveryCode{}, fmt.Errorf("sqlstore: get recovery code by lookup key: %w", store.ErrNotFound)
	}
	return take[recoveryCodeRow](ctx, s, "get recovery code by lookup key", "application_id = ? AND lookup_key = ?", applicationID, key)
}

// ListRecoveryCodes returns the codes f selects, oldest first. A filter
// without UserID and ActivationID is refused (it would list every code).
func (s *Store) ListRecoveryCodes(ctx context.Context, f store.RecoveryCodeFilter) ([]store.RecoveryCode, error) {
	if f.UserID == "" && f.ActivationID == "" {
		return nil, errors.New("sqlstore: list recovery codes: a user or an activation is required")
	}
	q := s.db.WithContext(ctx).Model(&recoveryCodeRow{})
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.ActivationID != "" {
		q = q.Where("activation_id = ?", f.ActivationID)
	}
	if f.ApplicationID != "" {
		q = q.Where("application_id = ?", f.ApplicationID)
	}
	return find[recoveryCodeRow](ctx, s, "list recovery codes", q.Order("created_at, id"))
}

// UpdateRecoveryCode is a compare-and-swap read-modify-write of recovery code
// id; UpdatedAt is stamped unless fn set it.
func (s *Store) UpdateRecoveryCode(ctx context.Context, id string, fn func(*store.RecoveryCode) error) (store.RecoveryCode, error) {
	const op = "update recovery code"
	return casLoop(ctx, s, op, nil, fn,
		func(ctx context.Context) (store.RecoveryCode, error) { return s.GetRecoveryCode(ctx, id) },
		func(ctx context.Context, old store.RecoveryCode, next *store.RecoveryCode) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			if next.UpdatedAt.Equal(old.UpdatedAt) {
				next.UpdatedAt = s.stamp(time.Time{})
			}
			r := toRecoveryCodeRow(next)
			*next = r.record()
			return s.swap(ctx, op, &r, old.ID, old.Version)
		})
}

// ListApplications returns every application, oldest first.
func (s *Store) ListApplications(ctx context.Context) ([]store.Application, error) {
	q := s.db.WithContext(ctx).Model(&applicationRow{}).Order("created_at, id")
	return find[applicationRow](ctx, s, "list applications", q)
}
