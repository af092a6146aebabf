package sqlstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/signet-sca/signet/store"
)

// Audit log.

// AppendAudit inserts e and sets its Seq (and ID, a UUIDv4, when empty; Time,
// from the store's clock, when zero). There is no update or delete: the
// schema refuses both with a trigger.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	r := s.newAuditRow(e)
	if s.dialect == DialectPostgres {
		// Sequence values are handed out at insert but become visible at
		// commit, so concurrent appends can commit out of Seq order, and a
		// reader paging by cursor past a later-numbered event would skip the
		// earlier one for good. Writers therefore hold a shared advisory lock
		// (per schema) from before the seq default is drawn until they commit,
		// and ListAudit takes it exclusively for a moment to read a Seq
		// watermark below which every event is committed. Writers do not wait
		// for each other (their commits share WAL flushes). One statement,
		// one round trip. SQLite has a single writer.
		err := s.db.WithContext(ctx).Raw(`INSERT INTO audit_events (`+auditInsert.columns+`) SELECT `+auditInsert.placeholders+`
			FROM (SELECT pg_advisory_xact_lock_shared(`+auditLockKey+`)) AS serialise
			RETURNING seq`, auditTable.appendValues(nil, &r, auditTable.inserted)...).Scan(&r.Seq).Error
		if err != nil {
			return s.fail(ctx, "append audit event", err)
		}
	} else if err := s.insert(ctx, "append audit event", &r); err != nil {
		return err
	}
	if r.Seq == 0 {
		return errors.New("sqlstore: append audit event: database assigned no seq")
	}
	*e = r.record()
	return nil
}

// newAuditRow is the stored form of e: ID a UUIDv4 when empty, Time from the
// store's clock when zero (AppendAudit and the events written alongside).
func (s *Store) newAuditRow(e *store.AuditEvent) auditRow {
	rec := *e
	if rec.ID == "" {
		rec.ID = newID()
	}
	rec.Time = s.stamp(rec.Time)
	return toAuditRow(&rec)
}

// auditLockKey is the advisory lock between audit appends (shared) and audit
// reads (exclusive) on PostgreSQL, one per schema.
const auditLockKey = `hashtext('signet.audit.' || coalesce(current_schema(), ''))`

// auditCursorPrefix versions the cursor format.
const auditCursorPrefix = "seq:"

func encodeAuditCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(auditCursorPrefix + strconv.FormatInt(seq, 10)))
}

func decodeAuditCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), auditCursorPrefix) {
		return 0, fmt.Errorf("sqlstore: list audit events: %w", store.ErrInvalidCursor)
	}
	seq, err := strconv.ParseInt(strings.TrimPrefix(string(b), auditCursorPrefix), 10, 64)
	if err != nil || seq < 0 {
		return 0, fmt.Errorf("sqlstore: list audit events: %w", store.ErrInvalidCursor)
	}
	return seq, nil
}

// ListAudit returns up to f.Limit (default 100, at most 1000) events f
// selects in ascending Seq order, and the cursor of the next page ("" after
// the last). Since is inclusive, Until exclusive.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, string, error) {
	const op = "list audit events"
	after := int64(-1)
	if f.Cursor != "" {
		var err error
		if after, err = decodeAuditCursor(f.Cursor); err != nil {
			return nil, "", err
		}
	}
	watermark := int64(-1)
	if s.dialect == DialectPostgres {
		// Wait for the appends in flight (AppendAudit holds the lock shared
		// until it commits), then take the highest Seq: every event at or
		// below it is committed, and every later append draws a higher Seq.
		// The lock is held for that index lookup only, never for the page.
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(` + auditLockKey + `)`).Error; err != nil {
				return err
			}
			return tx.Raw(`SELECT coalesce(max(seq), 0) FROM audit_events`).Scan(&watermark).Error
		})
		if err != nil {
			return nil, "", s.fail(ctx, op, err)
		}
	}
	limit := clampLimit(f.Limit)
	q := s.db.WithContext(ctx).Model(&auditRow{})
	if watermark >= 0 {
		q = q.Where("seq <= ?", watermark)
	}
	if after >= 0 {
		q = q.Where("seq > ?", after)
	}
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.OperationID != "" {
		q = q.Where("operation_id = ?", f.OperationID)
	}
	if f.CredentialID != "" {
		q = q.Where("credential_id = ?", f.CredentialID)
	}
	if !f.Since.IsZero() {
		q = q.Where(`"time" >= ?`, newTime(f.Since))
	}
	if !f.Until.IsZero() {
		q = q.Where(`"time" < ?`, newTime(f.Until))
	}
	// One row more than asked tells whether there is a next page.
	events, err := find[auditRow](ctx, s, op, q.Order("seq").Limit(limit+1))
	if err != nil {
		return nil, "", err
	}
	if len(events) <= limit {
		return events, "", nil
	}
	events = events[:limit]
	return events, encodeAuditCursor(events[limit-1].Seq), nil
}

// Ceremonies.

// CreateCeremony inserts c (ID, CreatedAt and Version assigned as for
// CreateUser). A taken (Kind, LookupKey) gives store.ErrAlreadyExists.
func (s *Store) CreateCeremony(ctx context.Context, c *store.Ceremony) error {
	rec := *c
	s.fresh(&rec.ID, &rec.CreatedAt, &rec.Version)
	r := toCeremonyRow(&rec)
	if err := s.insert(ctx, "create ceremony", &r); err != nil {
		return err
	}
	*c = r.record()
	return nil
}

// GetCeremony returns the ceremony with id, consumed or not, expired or not.
func (s *Store) GetCeremony(ctx context.Context, id string) (store.Ceremony, error) {
	return take[ceremonyRow](ctx, s, "get ceremony", "id = ?", id)
}

// GetCeremonyByLookupKey returns the ceremony of kind with key.
func (s *Store) GetCeremonyByLookupKey(ctx context.Context, kind, key string) (store.Ceremony, error) {
	if key == "" {
		return store.Ceremony{}, fmt.Errorf("sqlstore: get ceremony by lookup key: %w", store.ErrNotFound)
	}
	return take[ceremonyRow](ctx, s, "get ceremony by lookup key", "kind = ? AND lookup_key = ?", kind, key)
}

// UpdateCeremony is a compare-and-swap read-modify-write of ceremony id.
func (s *Store) UpdateCeremony(ctx context.Context, id string, fn func(*store.Ceremony) error) (store.Ceremony, error) {
	const op = "update ceremony"
	return casLoop(ctx, s, op, nil, fn,
		func(ctx context.Context) (store.Ceremony, error) { return s.GetCeremony(ctx, id) },
		func(ctx context.Context, old store.Ceremony, next *store.Ceremony) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			r := toCeremonyRow(next)
			*next = r.record()
			return s.swap(ctx, op, &r, old.ID, old.Version)
		})
}

// ConsumeCeremony marks ceremony id consumed at now and returns it, in one
// conditional UPDATE: of any number of concurrent calls exactly one wins. A
// consumed, expired (ExpiresAt <= now) or unknown ceremony gives
// store.ErrNotFound.
func (s *Store) ConsumeCeremony(ctx context.Context, id string, now time.Time) (store.Ceremony, error) {
	const op = "consume ceremony"
	now = s.stamp(now)
	var rows []ceremonyRow
	err := s.db.WithContext(ctx).Raw(`UPDATE ceremonies SET consumed_at = ?, version = version + 1
		WHERE id = ? AND consumed_at IS NULL AND expires_at > ?
		RETURNING *`, newTime(now), id, newTime(now)).Scan(&rows).Error
	if err != nil {
		return store.Ceremony{}, s.fail(ctx, op, err)
	}
	if len(rows) != 1 {
		return store.Ceremony{}, fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	return rows[0].record(), nil
}

// DeleteExpiredCeremonies deletes ceremonies with ExpiresAt < before,
// consumed or not, and reports how many.
func (s *Store) DeleteExpiredCeremonies(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at < ?", newTime(before)).Delete(&ceremonyRow{})
	if res.Error != nil {
		return 0, s.fail(ctx, "delete expired ceremonies", res.Error)
	}
	return res.RowsAffected, nil
}

// Webhook outbox.

// PruneOutbox deletes up to limit finished events created before `before`,
// oldest first (outbox_events_created_at_idx).
func (s *Store) PruneOutbox(ctx context.Context, before, parkedAfter time.Time, limit int) (int64, error) {
	res := s.db.WithContext(ctx).Exec(`DELETE FROM outbox_events WHERE id IN (
			SELECT id FROM outbox_events
			WHERE created_at < ? AND (delivered_at IS NOT NULL OR next_attempt_at > ?)
			ORDER BY created_at, id
			LIMIT ?)`, newTime(before), newTime(parkedAfter), clampLimit(limit))
	if res.Error != nil {
		return 0, s.fail(ctx, "prune outbox events", res.Error)
	}
	return res.RowsAffected, nil
}

// EnqueueOutbox inserts e (ID, CreatedAt and Version assigned as for
// CreateUser; a zero NextAttemptAt means due at once, at CreatedAt).
func (s *Store) EnqueueOutbox(ctx context.Context, e *store.OutboxEvent) error {
	rec := *e
	s.fresh(&rec.ID, &rec.CreatedAt, &rec.Version)
	if rec.NextAttemptAt.IsZero() {
		rec.NextAttemptAt = rec.CreatedAt
	}
	r := toOutboxRow(&rec)
	if err := s.insert(ctx, "enqueue outbox event", &r); err != nil {
		return err
	}
	*e = r.record()
	return nil
}

// ClaimOutbox leases up to limit (default 100, at most 1000) undelivered
// events due at now, oldest due first, by moving their NextAttemptAt to
// now+lease in a single conditional UPDATE; on PostgreSQL the candidate rows
// are locked with FOR UPDATE SKIP LOCKED, on SQLite the statement holds the
// database's write lock. Either way two replicas never claim the same event
// before its lease runs out. Events come back in (CreatedAt, ID) order.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEvent, error) {
	const op = "claim outbox events"
	now = s.stamp(now)
	due, until, n := newTime(now), newTime(now.Add(lease)), clampLimit(limit)
	var (
		rows []outboxRow
		err  error
	)
	if s.dialect == DialectPostgres {
		// The candidates are picked once, in a materialised CTE: in an
		// "id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)" form PostgreSQL
		// may rescan the subquery, skip the rows this very statement has just
		// updated, and claim more than n.
		err = s.db.WithContext(ctx).Raw(`WITH due AS MATERIALIZED (
				SELECT id FROM outbox_events
				WHERE delivered_at IS NULL AND next_attempt_at <= ?
				ORDER BY next_attempt_at, id
				LIMIT ?
				FOR UPDATE SKIP LOCKED)
			UPDATE outbox_events AS o SET next_attempt_at = ?, version = o.version + 1
			FROM due WHERE o.id = due.id
			RETURNING o.*`, due, n, until).Scan(&rows).Error
	} else {
		// One statement under SQLite's single write lock.
		err = s.db.WithContext(ctx).Raw(`UPDATE outbox_events SET next_attempt_at = ?, version = version + 1
			WHERE id IN (
				SELECT id FROM outbox_events
				WHERE delivered_at IS NULL AND next_attempt_at <= ?
				ORDER BY next_attempt_at, id
				LIMIT ?)
			RETURNING *`, until, due, n).Scan(&rows).Error
	}
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	out := make([]store.OutboxEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.record())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// UpdateOutbox is a compare-and-swap read-modify-write of event id.
func (s *Store) UpdateOutbox(ctx context.Context, id string, fn func(*store.OutboxEvent) error) (store.OutboxEvent, error) {
	const op = "update outbox event"
	return casLoop(ctx, s, op, nil, fn,
		func(ctx context.Context) (store.OutboxEvent, error) {
			return take[outboxRow](ctx, s, "get outbox event", "id = ?", id)
		},
		func(ctx context.Context, old store.OutboxEvent, next *store.OutboxEvent) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			r := toOutboxRow(next)
			*next = r.record()
			return s.swap(ctx, op, &r, old.ID, old.Version)
		})
}
