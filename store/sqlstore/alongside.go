package sqlstore

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/signet-sca/signet/store"
)

// CreateOperationWith is CreateOperation that also writes also, atomically
// (one statement on PostgreSQL, one transaction on SQLite). Every operation
// insert goes through it.
func (s *Store) CreateOperationWith(ctx context.Context, o *store.Operation, also store.Alongside) error {
	const op = "create operation"
	rec := *o
	s.fresh(&rec.ID, &rec.CreatedAt, &rec.Version)
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = rec.CreatedAt
	}
	r := toOperationRow(&rec)
	use, ev := s.alongside(also)
	var err error
	if s.dialect == DialectPostgres {
		var q strings.Builder
		q.WriteString("WITH op AS (INSERT INTO operations (id, created_at, " + strings.Join(operationColumns, ", ") + ") VALUES (?, ?")
		q.WriteString(strings.Repeat(", ?", len(operationColumns)) + ") RETURNING id)")
		_, err = s.writeAlongside(ctx, op, &q, append([]any{r.ID, r.CreatedAt}, r.values()...), use, ev)
	} else {
		_, err = s.inTx(ctx, op, func(tx *gorm.DB) (bool, error) { return true, tx.Create(&r).Error }, use, ev)
	}
	if err != nil {
		return err
	}
	*o = r.record()
	if ev != nil {
		*also.Audit = ev.record()
	}
	return nil
}

// UpdateOperationWith is UpdateOperationFrom whose swap also stamps the
// credential's use and appends the audit event, atomically. On PostgreSQL the
// three writes are one statement (data-modifying CTEs: one round trip, one
// commit, one WAL flush instead of three); on SQLite one transaction.
func (s *Store) UpdateOperationWith(ctx context.Context, cur store.Operation, also store.Alongside, fn func(*store.Operation) error) (store.Operation, error) {
	return s.updateOperation(ctx, cur.ID, &cur, also, fn)
}

// updateOperation is every operation update: a compare-and-swap loop from
// first (or a fresh read when nil) whose write carries also.
func (s *Store) updateOperation(ctx context.Context, id string, first *store.Operation, also store.Alongside, fn func(*store.Operation) error) (store.Operation, error) {
	const op = "update operation"
	use, ev := s.alongside(also)
	got, err := casLoop(ctx, s, op, first, fn,
		func(ctx context.Context) (store.Operation, error) { return s.GetOperation(ctx, id) },
		func(ctx context.Context, old store.Operation, next *store.Operation) (int64, error) {
			next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version+1
			if next.UpdatedAt.Equal(old.UpdatedAt) {
				next.UpdatedAt = s.now()
			}
			r := toOperationRow(next)
			*next = r.record()
			if s.dialect == DialectPostgres {
				var q strings.Builder
				q.WriteString("WITH op AS (UPDATE operations SET ")
				for i, c := range operationColumns {
					if i > 0 {
						q.WriteString(", ")
					}
					q.WriteString(c + " = ?")
				}
				q.WriteString(" WHERE id = ? AND version = ? RETURNING id)")
				return s.writeAlongside(ctx, op, &q, append(r.values(), r.ID, old.Version), use, ev)
			}
			return s.inTx(ctx, op, func(tx *gorm.DB) (bool, error) {
				res := tx.Model(&r).Where("id = ? AND version = ?", r.ID, old.Version).Select("*").Omit("id", "created_at").Updates(&r)
				return res.RowsAffected == 1, res.Error
			}, use, ev)
		})
	if err == nil && ev != nil {
		*also.Audit = ev.record()
	}
	return got, err
}

// alongside fills in what the store assigns: the audit event's ID and Time
// (as AppendAudit) and the use's time.
func (s *Store) alongside(also store.Alongside) (store.CredentialUse, *auditRow) {
	use := also.CredentialUse
	use.At = s.stamp(use.At)
	if also.Audit == nil {
		return use, nil
	}
	rec := *also.Audit
	if rec.ID == "" {
		rec.ID = newID()
	}
	rec.Time = s.stamp(rec.Time)
	r := toAuditRow(&rec)
	return use, &r
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

// writeAlongside completes q, a statement that starts with a CTE named op
// writing the operation and returning its id, with the credential use and the
// audit insert, and runs it. The later CTEs act only on the row op returned,
// so when op writes nothing (a lost swap) nothing is written. The audit insert
// takes the shared advisory lock as AppendAudit does. It reports the
// operation rows written (0 or 1) and sets ev.Seq.
func (s *Store) writeAlongside(ctx context.Context, op string, q *strings.Builder, args []any, use store.CredentialUse, ev *auditRow) (int64, error) {
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
	query, args := pgBind(q.String(), args)
	if err := s.sql.QueryRowContext(ctx, query, args...).Scan(&n, &seq); err != nil {
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

// errNotWritten rolls back inTx's transaction.
var errNotWritten = errors.New("operation not written")

// inTx runs write (which reports whether it wrote the operation), then the
// credential use and the audit insert, in one transaction; nothing is
// committed unless all of them are.
func (s *Store) inTx(ctx context.Context, op string, write func(tx *gorm.DB) (bool, error), use store.CredentialUse, ev *auditRow) (int64, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if ok, err := write(tx); err != nil {
			return err
		} else if !ok {
			return errNotWritten
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
	case errors.Is(err, errNotWritten):
		return 0, nil
	case err != nil:
		return 0, s.fail(ctx, op, err)
	}
	return 1, nil
}

// pgBind numbers the ? placeholders of q ($1, $2, ...) and turns dbTime
// arguments into what pgx takes, for statements sent through database/sql
// without gorm (whose statement building was 7 % of Signet's CPU in the
// device-key flow). q has
// no ? other than placeholders.
func pgBind(q string, args []any) (string, []any) {
	var b strings.Builder
	b.Grow(len(q) + len(args)*2)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	out := make([]any, len(args))
	for i, a := range args {
		if t, ok := a.(dbTime); ok {
			if t.Valid {
				a = utc(t.T)
			} else {
				a = nil
			}
		}
		out[i] = a
	}
	return b.String(), out
}
