package sqlstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/signet-sca/signet/store"
)

type pushTokenRow struct {
	CredentialID string `gorm:"column:credential_id;primaryKey"`
	UserID       string `gorm:"column:user_id"`
	Platform     string `gorm:"column:platform"`
	Environment  string `gorm:"column:environment"`
	Token        string `gorm:"column:token"`
	CreatedAt    dbTime `gorm:"column:created_at"`
	UpdatedAt    dbTime `gorm:"column:updated_at"`
}

func (pushTokenRow) TableName() string { return "push_tokens" }

func (r pushTokenRow) record() store.PushToken {
	return store.PushToken{CredentialID: r.CredentialID, UserID: r.UserID, Platform: r.Platform, Environment: r.Environment,
		Token: r.Token, CreatedAt: r.CreatedAt.time(), UpdatedAt: r.UpdatedAt.time()}
}

// PutPushToken creates or replaces the push token of t.CredentialID (UserID is taken from the credential).
// CreatedAt is kept on a replacement; UpdatedAt is stamped.
func (s *Store) PutPushToken(ctx context.Context, t *store.PushToken) error {
	const op = "put push token"
	now := s.stamp(t.UpdatedAt) // now when zero
	var rows []pushTokenRow
	err := s.db.WithContext(ctx).Raw(`INSERT INTO push_tokens (credential_id, user_id, platform, environment, token, created_at, updated_at)
		SELECT id, user_id, ?, ?, ?, ?, ? FROM credentials WHERE id = ?
		ON CONFLICT (credential_id) DO UPDATE SET platform = excluded.platform, environment = excluded.environment,
			token = excluded.token, updated_at = excluded.updated_at
		RETURNING *`, t.Platform, t.Environment, t.Token, newTime(now), newTime(now), t.CredentialID).Scan(&rows).Error
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("sqlstore: %s: credential: %w", op, store.ErrNotFound)
	}
	*t = rows[0].record()
	return nil
}

// GetPushToken returns the push token of a credential.
func (s *Store) GetPushToken(ctx context.Context, credentialID string) (store.PushToken, error) {
	return take[pushTokenRow](ctx, s, "get push token", "credential_id = ?", credentialID)
}

// ListPushTokens returns the push tokens of the user's ACTIVE credentials.
func (s *Store) ListPushTokens(ctx context.Context, userID string) ([]store.PushToken, error) {
	q := s.db.WithContext(ctx).Model(&pushTokenRow{}).
		Where("user_id = ? AND credential_id IN (SELECT id FROM credentials WHERE user_id = ? AND status = ?)",
			userID, userID, string(store.StatusActive)).
		Order("created_at, credential_id")
	return find[pushTokenRow](ctx, s, "list push tokens", q)
}

// deletePushTokenTx drops a credential's push token inside tx (the credential was removed).
func deletePushTokenTx(tx *gorm.DB, credentialID string) error {
	return tx.Exec(`DELETE FROM push_tokens WHERE credential_id = ?`, credentialID).Error
}

type inboxRow struct {
	ID        string `gorm:"column:id;primaryKey"`
	UserID    string `gorm:"column:user_id"`
	Type      string `gorm:"column:type"`
	Subject   string `gorm:"column:subject"`
	Summary   string `gorm:"column:summary"`
	Body      string `gorm:"column:body"`
	ReadAt    dbTime `gorm:"column:read_at"`
	CreatedAt dbTime `gorm:"column:created_at"`
}

func (inboxRow) TableName() string { return "inbox_messages" }

func (r inboxRow) record() store.InboxMessage {
	return store.InboxMessage{ID: r.ID, UserID: r.UserID, Type: r.Type, Subject: r.Subject, Summary: r.Summary, Body: r.Body,
		ReadAt: r.ReadAt.ptr(), CreatedAt: r.CreatedAt.time()}
}

// CreateInboxMessage inserts m (ID and CreatedAt assigned when empty). An unknown user gives ErrNotFound.
func (s *Store) CreateInboxMessage(ctx context.Context, m *store.InboxMessage) error {
	rec := *m
	var version int64
	s.fresh(&rec.ID, &rec.CreatedAt, &version)
	r := inboxRow{ID: rec.ID, UserID: rec.UserID, Type: rec.Type, Subject: rec.Subject, Summary: rec.Summary, Body: rec.Body,
		ReadAt: newTimePtr(rec.ReadAt), CreatedAt: newTime(rec.CreatedAt)}
	if err := s.insert(ctx, "create inbox message", &r); err != nil {
		return err
	}
	*m = r.record()
	return nil
}

// GetInboxMessage returns message id of user userID.
func (s *Store) GetInboxMessage(ctx context.Context, userID, id string) (store.InboxMessage, error) {
	return take[inboxRow](ctx, s, "get inbox message", "id = ? AND user_id = ?", id, userID)
}

// ListInbox returns a page of a user's messages, newest first.
func (s *Store) ListInbox(ctx context.Context, f store.InboxFilter) ([]store.InboxMessage, error) {
	q := s.db.WithContext(ctx).Model(&inboxRow{}).Where("user_id = ?", f.UserID)
	if f.OnlyUnread {
		q = q.Where("read_at IS NULL")
	}
	q = q.Order("created_at DESC, id DESC").Limit(clampLimit(f.Limit))
	if f.Offset > 0 {
		q = q.Offset(f.Offset)
	}
	return find[inboxRow](ctx, s, "list inbox", q)
}

// CountUnreadInbox counts a user's unread messages.
func (s *Store) CountUnreadInbox(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&inboxRow{}).Where("user_id = ? AND read_at IS NULL", userID).Count(&n).Error
	return n, s.fail(ctx, "count unread inbox", err)
}

// MarkInboxRead stamps ReadAt of one unread message of the user; it reports false for a message read before.
func (s *Store) MarkInboxRead(ctx context.Context, userID, id string, at time.Time) (bool, error) {
	const op = "mark inbox read"
	res := s.db.WithContext(ctx).Exec(`UPDATE inbox_messages SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL`,
		newTime(s.stamp(at)), id, userID)
	if res.Error != nil {
		return false, s.fail(ctx, op, res.Error)
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	if _, err := s.GetInboxMessage(ctx, userID, id); err != nil {
		return false, err
	}
	return false, nil
}

// MarkAllInboxRead stamps ReadAt of every unread message of the user.
func (s *Store) MarkAllInboxRead(ctx context.Context, userID string, at time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Exec(`UPDATE inbox_messages SET read_at = ? WHERE user_id = ? AND read_at IS NULL`,
		newTime(s.stamp(at)), userID)
	return res.RowsAffected, s.fail(ctx, "mark all inbox read", res.Error)
}
