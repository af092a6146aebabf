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
		args := operationsTable.appendValues(alongsideArgs(len(operationsTable.inserted)), &r, operationsTable.inserted)
		_, err = s.writeAlongside(ctx, op, opInsert, args, use, also.PasscodeRight, ev)
	} else {
		_, err = s.inTx(ctx, op, func(tx *gorm.DB) (bool, error) { return true, tx.Create(&r).Error }, use, also.PasscodeRight, ev)
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
// credential's use, settles a right passcode try and appends the audit event,
// atomically. On PostgreSQL the writes are one statement (data-modifying CTEs:
// one round trip, one commit, one WAL flush instead of one each); on SQLite
// one transaction.
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
				args := operationsTable.appendValues(alongsideArgs(len(operationsTable.swapped)+2), &r, operationsTable.swapped)
				return s.writeAlongside(ctx, op, opSwap, append(args, r.ID, old.Version), use, also.PasscodeRight, ev)
			}
			return s.inTx(ctx, op, func(tx *gorm.DB) (bool, error) {
				res := tx.Model(&r).Where("id = ? AND version = ?", r.ID, old.Version).Select("*").Omit(insertOnly...).Updates(&r)
				return res.RowsAffected == 1, res.Error
			}, use, also.PasscodeRight, ev)
		})
	if err == nil && ev != nil {
		*also.Audit = ev.record()
	}
	return got, err
}

// alongside fills in what the store assigns: the audit event's ID and Time
// (as AppendAudit) and the use's time (also the passcode settlement's).
func (s *Store) alongside(also store.Alongside) (store.CredentialUse, *auditRow) {
	use := also.CredentialUse
	use.At = s.stamp(use.At)
	if also.Audit == nil {
		return use, nil
	}
	r := s.newAuditRow(also.Audit)
	return use, &r
}

// credentialUseSQL stamps a use; failed attempts reset only on an ACTIVE
// credential (one blocked meanwhile keeps its count); the signature counter
// only moves forward (WebAuthn L3 §6.1.1), and the use's data moves with it
// or not at all (PowerAuth's CTR_DATA belongs to one counter position). Every
// CASE compares with the row's counter before this update (SQL evaluates SET
// expressions against the old row on both dialects), so data and counter
// take the same branch.
const credentialUseSQL = `UPDATE credentials SET last_used_at = ?,
	failed_attempts = CASE WHEN ? AND status = 'ACTIVE' THEN 0 ELSE failed_attempts END,
	data = CASE WHEN ? > counter AND ? THEN ? ELSE data END,
	counter = CASE WHEN ? > counter THEN ? ELSE counter END, version = version + 1
	WHERE id = ?`

// credentialUseArgs are credentialUseSQL's arguments; a use without data
// keeps the stored data.
func credentialUseArgs(use store.CredentialUse) []any {
	return []any{newTime(use.At), use.ResetFailures, use.Counter, len(use.Data) > 0, use.Data, use.Counter, use.Counter, use.ID}
}

// credentialUseArity is the number of credentialUseSQL's placeholders.
var credentialUseArity = len(credentialUseArgs(store.CredentialUse{}))

// passcodeRightArgs is the number of passcodeRightSQL's placeholders.
const passcodeRightArgs = 2

// passcodeRightSQL settles a passcode try that proved right
// (store.Alongside.PasscodeRight): the failed tries reset, a lock stays.
const passcodeRightSQL = `UPDATE users SET passcode_failed = 0, updated_at = ?, version = version + 1 WHERE id = ?`

// auditInsert is the columns and the placeholders of an audit event's insert
// (all but seq, which the database assigns), for AppendAudit's and
// writeAlongside's statements.
var auditInsert = struct{ columns, placeholders string }{
	auditTable.list("", auditTable.inserted), placeholders(len(auditTable.inserted)),
}

// opWrite is how a PostgreSQL statement of writeAlongside writes the operation.
type opWrite int

const (
	opInsert opWrite = iota // operationsTable.insertSQL
	opSwap                  // operationsTable.swapSQL
)

// alongsideArgs is room for the arguments of a writeAlongside statement whose
// operation write takes n, and those of the credential use and the audit event
// that may follow.
func alongsideArgs(n int) []any {
	return make([]any, 0, n+credentialUseArity+passcodeRightArgs+len(auditTable.inserted))
}

// alongsideQueries are writeAlongside's statements, numbered for PostgreSQL
// once: [opWrite][credential use?][passcode right?][audit event?].
var alongsideQueries = func() (q [2][2][2][2]string) {
	heads := [2]string{
		opInsert: "WITH op AS (" + operationsTable.insertSQL() + " RETURNING id)",
		opSwap:   "WITH op AS (" + operationsTable.swapSQL() + " RETURNING id)",
	}
	for w, head := range heads {
		for _, use := range []int{0, 1} {
			for _, right := range []int{0, 1} {
				for _, ev := range []int{0, 1} {
					text := head
					if use == 1 {
						text += ", used AS (" + credentialUseSQL + " AND EXISTS (SELECT 1 FROM op))"
					}
					if right == 1 {
						text += ", passcode AS (" + passcodeRightSQL + " AND EXISTS (SELECT 1 FROM op))"
					}
					if ev == 1 {
						text += ", ev AS (INSERT INTO audit_events (" + auditInsert.columns + ") SELECT " + auditInsert.placeholders +
							" FROM op, (SELECT pg_advisory_xact_lock_shared(" + auditLockKey + ")) AS serialise RETURNING seq)" +
							" SELECT (SELECT count(*) FROM op), coalesce((SELECT seq FROM ev), 0)"
					} else {
						text += " SELECT (SELECT count(*) FROM op), 0"
					}
					q[w][use][right][ev] = pgNumber(text)
				}
			}
		}
	}
	return q
}()

// writeAlongside runs, on PostgreSQL, one statement, built once from the
// declarations (alongsideQueries) and sent through database/sql rather than
// gorm (whose statement building cost 7 % of Signet's CPU in the device-key
// flow): a CTE named op writing the operation as w says and returning its id,
// then the credential use, the passcode settlement of user right (when
// set) and the audit insert. The later CTEs act only on the
// row op returned, so when op writes nothing (a lost swap) nothing is written.
// The audit insert takes the shared advisory lock as AppendAudit does. args
// are op's; it reports the operation rows written (0 or 1) and sets ev.Seq.
func (s *Store) writeAlongside(ctx context.Context, op string, w opWrite, args []any, use store.CredentialUse, right string, ev *auditRow) (int64, error) {
	withUse, withRight, withEv := 0, 0, 0
	if use.ID != "" {
		withUse = 1
		args = append(args, credentialUseArgs(use)...)
	}
	if right != "" {
		withRight = 1
		args = append(args, newTime(use.At), right)
	}
	if ev != nil {
		withEv = 1
		args = auditTable.appendValues(args, ev, auditTable.inserted)
	}
	var n, seq int64
	if err := s.sql.QueryRowContext(ctx, alongsideQueries[w][withUse][withRight][withEv], pgArgs(args)...).Scan(&n, &seq); err != nil {
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
// credential use, the passcode settlement of user right (when set) and the
// audit insert, in one transaction; nothing is committed unless all of them
// are.
func (s *Store) inTx(ctx context.Context, op string, write func(tx *gorm.DB) (bool, error), use store.CredentialUse, right string, ev *auditRow) (int64, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if ok, err := write(tx); err != nil {
			return err
		} else if !ok {
			return errNotWritten
		}
		if use.ID != "" {
			if err := tx.Exec(credentialUseSQL, credentialUseArgs(use)...).Error; err != nil {
				return err
			}
		}
		if right != "" {
			if err := tx.Exec(passcodeRightSQL, newTime(use.At), right).Error; err != nil {
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

// pgNumber numbers the ? placeholders of q ($1, $2, ...), for statements sent
// through database/sql without gorm (whose statement building was 7 % of
// Signet's CPU in the device-key flow). q has no ? other than placeholders.
func pgNumber(q string) string {
	var b strings.Builder
	b.Grow(len(q) + len(q)/8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	return b.String()
}

// pgArgs turns dbTime arguments into what pgx takes.
func pgArgs(args []any) []any {
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
	return out
}
