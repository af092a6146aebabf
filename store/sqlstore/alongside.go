package sqlstore

import (
	"context"
	"errors"
	"strings"

	"gorm.io/gorm"

	"github.com/signet-sca/signet/store"
)

// UpdateOperationWith is UpdateOperationFrom whose swap also stamps the
// credential's use and appends the audit event, atomically. On PostgreSQL the
// three writes are one statement (data-modifying CTEs: one round trip, one
// commit, one WAL flush instead of three); on SQLite one transaction.
func (s *Store) UpdateOperationWith(ctx context.Context, cur store.Operation, also store.Alongside, fn func(*store.Operation) error) (store.Operation, error) {
	const op = "update operation"
	var ev *auditRow
	if also.Audit != nil {
		rec := *also.Audit
		if rec.ID == "" {
			rec.ID = newID()
		}
		rec.Time = s.stamp(rec.Time)
		r := toAuditRow(&rec)
		ev = &r
	}
	use := also.CredentialUse
	use.At = s.stamp(use.At)
	id := cur.ID
	got, err := casLoop(ctx, s, op, &cur, fn,
		func(ctx context.Context) (store.Operation, error) { return s.GetOperation(ctx, id) },
		func(ctx context.Context, old store.Operation, next *store.Operation) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			if next.UpdatedAt.Equal(old.UpdatedAt) {
				next.UpdatedAt = s.now()
			}
			r := toOperationRow(next)
			*next = r.record()
			if s.dialect == DialectPostgres {
				return s.swapOperationPostgres(ctx, op, &r, old.Version, use, ev)
			}
			return s.swapOperationTx(ctx, op, &r, old.Version, use, ev)
		})
	if err == nil && ev != nil {
		*also.Audit = ev.record()
	}
	return got, err
}

// operationColumns are the columns a swap writes (all but id and created_at),
// in the order of operationRow.values.
var operationColumns = []string{"user_id", "type", "payee_account", "payee_name", "amount", "currency", "text", "nonce",
	"dl", "status", "factors", "callback_url", "idempotency_key", "failed_attempts", "max_failed_attempts", "data",
	"approved_credential_id", "approved_at", "token_jti", "token", "token_expires_at", "expires_at", "updated_at", "version"}

func (r *operationRow) values() []any {
	return []any{r.UserID, r.Type, r.PayeeAccount, r.PayeeName, r.Amount, r.Currency, r.Text, r.Nonce,
		r.DL, r.Status, r.Factors, r.CallbackURL, r.IdempotencyKey, r.FailedAttempts, r.MaxFailedAttempts, r.Data,
		r.ApprovedCredentialID, r.ApprovedAt, r.TokenJTI, r.Token, r.TokenExpiresAt, r.ExpiresAt, r.UpdatedAt, r.Version}
}

// credentialUseSQL stamps a use; failed attempts reset only on an ACTIVE
// credential (one blocked meanwhile keeps its count).
const credentialUseSQL = `UPDATE credentials SET last_used_at = ?,
	failed_attempts = CASE WHEN ? AND status = 'ACTIVE' THEN 0 ELSE failed_attempts END, version = version + 1
	WHERE id = ?`

const auditColumns = `id, time, type, outcome, reason, actor, user_id, operation_id, credential_id, evidence`

func (r *auditRow) values() []any {
	return []any{r.ID, r.Time, r.Type, r.Outcome, r.Reason, r.Actor, r.UserID, r.OperationID, r.CredentialID, r.Evidence}
}

// swapOperationPostgres: the swap, the credential stamp and the audit insert
// as one statement. The later CTEs act only on the row the swap returned, so
// a lost swap (0 rows) writes nothing. The audit insert takes the shared
// advisory lock as AppendAudit does.
func (s *Store) swapOperationPostgres(ctx context.Context, op string, r *operationRow, version int64, use store.CredentialUse, ev *auditRow) (int64, error) {
	var q strings.Builder
	args := make([]any, 0, len(operationColumns)+20)
	q.WriteString("WITH op AS (UPDATE operations SET ")
	for i, c := range operationColumns {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(c + " = ?")
	}
	q.WriteString(" WHERE id = ? AND version = ? RETURNING id)")
	args = append(append(args, r.values()...), r.ID, version)
	if use.ID != "" {
		q.WriteString(", used AS (" + credentialUseSQL + " AND EXISTS (SELECT 1 FROM op))")
		args = append(args, newTime(use.At), use.ResetFailures, use.ID)
	}
	if ev != nil {
		q.WriteString(", ev AS (INSERT INTO audit_events (" + auditColumns + ") SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? " +
			"FROM op, (SELECT pg_advisory_xact_lock_shared(" + auditLockKey + ")) AS serialise RETURNING seq)" +
			" SELECT (SELECT count(*) FROM op), coalesce((SELECT seq FROM ev), 0)")
		args = append(args, ev.values()...)
	} else {
		q.WriteString(" SELECT (SELECT count(*) FROM op), 0")
	}
	var n, seq int64
	if err := s.db.WithContext(ctx).Raw(q.String(), args...).Row().Scan(&n, &seq); err != nil {
		return 0, s.fail(ctx, op, err)
	}
	if n == 1 && ev != nil {
		if seq == 0 {
			return 0, errors.New("sqlstore: " + op + ": database assigned no audit seq")
		}
		ev.Seq = seq
	}
	return n, nil
}

// errLostSwap rolls back swapOperationTx's transaction.
var errLostSwap = errors.New("lost swap")

func (s *Store) swapOperationTx(ctx context.Context, op string, r *operationRow, version int64, use store.CredentialUse, ev *auditRow) (int64, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(r).Where("id = ? AND version = ?", r.ID, version).Select("*").Omit("id", "created_at").Updates(r)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errLostSwap
		}
		if use.ID != "" {
			if err := tx.Exec(credentialUseSQL, newTime(use.At), use.ResetFailures, use.ID).Error; err != nil {
				return err
			}
		}
		if ev != nil {
			row := *ev
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
			if row.Seq == 0 {
				return errors.New("database assigned no audit seq")
			}
			ev.Seq = row.Seq
		}
		return nil
	})
	switch {
	case errors.Is(err, errLostSwap):
		return 0, nil
	case err != nil:
		return 0, s.fail(ctx, op, err)
	}
	return 1, nil
}
