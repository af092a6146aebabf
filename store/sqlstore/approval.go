package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/signet-sca/signet/store"
)

// A passkey approval reads the operation, its user and the user's passkeys in
// one statement, and charges the passcode try in that same statement
// (PostgreSQL: a data-modifying CTE) or transaction (SQLite), instead of a
// statement each (docs/performance.md, "Statements per approval").

// approvalQueries are ReadApproval's statements in one dialect.
type approvalQueries struct {
	// read: the operation, its user, whether a try was reserved (false) and
	// the user's passkeys, one row per passkey (one row with a NULL passkey
	// when there is none). Arguments: the operation's id.
	read string
	// reserve (SQLite): the reservation alone, before read in its
	// transaction. Arguments: at, the operation's id, max, lookup key.
	// PostgreSQL: the reservation and read in one statement. Arguments: the
	// operation's id, at, max, lookup key.
	reserve string
}

var approvalSQL = map[string]approvalQueries{
	DialectSQLite:   newApprovalQueries(DialectSQLite),
	DialectPostgres: newApprovalQueries(DialectPostgres),
}

// reservationSet charges the try; reservationWhere are its conditions but the
// operation's (store.PasscodeReservation).
const (
	reservationSet   = "UPDATE users SET passcode_failed = passcode_failed + 1, updated_at = ?, version = version + 1"
	reservationWhere = " AND passcode_verifier IS NOT NULL AND NOT passcode_locked AND passcode_failed < ?" +
		" AND EXISTS (SELECT 1 FROM credentials k WHERE k.user_id = users.id AND k.kind = '" + string(store.KindPasskey) +
		"' AND k.lookup_key = ?)"
)

func newApprovalQueries(dialect string) approvalQueries {
	passkeys := " LEFT JOIN credentials c ON c.user_id = o.user_id AND c.kind = '" + string(store.KindPasskey) + "'"
	order := " ORDER BY c.created_at, c.id" // as ListCredentials
	read := "SELECT " + operationsTable.list("o.", operationsTable.all()) + ", " + usersTable.list("u.", usersTable.all()) + ", false, " +
		strings.Join(outerCredentialColumns("c"), ", ") +
		" FROM operations o JOIN users u ON u.id = o.user_id" + passkeys + " WHERE o.id = ?" + order
	if dialect != DialectPostgres {
		return approvalQueries{read: read,
			reserve: reservationSet + " WHERE id = (SELECT user_id FROM operations WHERE id = ? AND status = '" +
				string(store.OpPending) + "')" + reservationWhere}
	}
	// The main query reads the snapshot the statement started from; the
	// reserved user is the one the UPDATE returns (its row re-checked under
	// the row lock, so concurrent reservations queue and each sees the count
	// the one before left).
	user := make([]string, len(usersTable.columns))
	for i, c := range usersTable.columns {
		user[i] = "CASE WHEN r.id IS NULL THEN u." + c + " ELSE r." + c + " END"
	}
	reserve := "WITH o AS (SELECT " + operationsTable.list("", operationsTable.all()) + " FROM operations WHERE id = ?)" +
		", r AS (" + reservationSet + " WHERE id = (SELECT user_id FROM o WHERE status = '" + string(store.OpPending) + "')" +
		reservationWhere + " RETURNING " + usersTable.list("", usersTable.all()) + ")" +
		" SELECT " + operationsTable.list("o.", operationsTable.all()) + ", " + strings.Join(user, ", ") + ", r.id IS NOT NULL, " +
		strings.Join(outerCredentialColumns("c"), ", ") +
		" FROM o JOIN users u ON u.id = o.user_id LEFT JOIN r ON true" + passkeys + order
	return approvalQueries{read: pgNumber(read), reserve: pgNumber(reserve)}
}

// ReadApproval reads an operation, its user and the user's passkeys in one
// statement; with reserve, the passcode try is charged in the same statement
// (PostgreSQL) or transaction (SQLite, whose one connection serialises it
// with every other write).
func (s *Store) ReadApproval(ctx context.Context, opID string, reserve *store.PasscodeReservation) (store.Approval, error) {
	const op = "read approval"
	q := approvalSQL[s.dialect]
	var a store.Approval
	var err error
	switch {
	case reserve == nil:
		a, err = scanApproval(s.sql.QueryContext(ctx, q.read, opID))
	case s.dialect == DialectPostgres:
		a, err = scanApproval(s.sql.QueryContext(ctx, q.reserve,
			pgArgs([]any{opID, newTime(s.stamp(reserve.At)), reserve.Max, reserve.LookupKey})...))
	default:
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Exec(q.reserve, newTime(s.stamp(reserve.At)), opID, reserve.Max, reserve.LookupKey)
			if res.Error != nil {
				return res.Error
			}
			var rerr error
			if a, rerr = scanApproval(tx.Raw(q.read, opID).Rows()); rerr != nil {
				return rerr
			}
			a.Reserved = res.RowsAffected == 1
			return nil
		})
	}
	if err != nil {
		return store.Approval{}, s.fail(ctx, op, err)
	}
	return a, nil
}

// scanApproval reads approvalQueries' rows: store.ErrNotFound when there is
// none (no such operation, or its user is gone).
func scanApproval(rows *sql.Rows, err error) (store.Approval, error) {
	if err != nil {
		return store.Approval{}, err
	}
	defer rows.Close()
	var a store.Approval
	found := false
	for rows.Next() {
		var o operationRow
		var u userRow
		var c credentialRow
		dst := make([]any, 0, len(operationsTable.columns)+len(usersTable.columns)+1+len(credentialsTable.columns))
		dst = append(usersTable.appendDests(operationsTable.appendDests(dst, &o), &u), &a.Reserved)
		if err := rows.Scan(credentialsTable.appendDests(dst, &c)...); err != nil {
			return store.Approval{}, err
		}
		if !found {
			a.Operation, a.User, found = o.record(), u.record(), true
		}
		if c.ID != "" {
			a.Passkeys = append(a.Passkeys, c.record())
		}
	}
	if err := rows.Err(); err != nil {
		return store.Approval{}, err
	}
	if !found {
		return store.Approval{}, fmt.Errorf("sqlstore: read approval: %w", store.ErrNotFound)
	}
	return a, nil
}
